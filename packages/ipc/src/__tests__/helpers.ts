// Test helpers (never exported): real Unix sockets on temporary paths.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TempDir {
  path: string;
  [Symbol.dispose](): void;
}

export function tempDir(prefix = 'se-ipc-'): TempDir {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, [Symbol.dispose]: () => rmSync(path, { recursive: true, force: true }) };
}

/** Two connected AF_UNIX stream sockets (through a listener on a temporary path). */
export async function socketPair(): Promise<[Socket, Socket]> {
  const dir = tempDir();
  const path = join(dir.path, 's.sock');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(path, resolve));
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  const { connect } = await import('node:net');
  const client = connect(path);
  await new Promise<void>((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
  });
  const serverSide = await accepted;
  server.close();
  dir[Symbol.dispose]();
  return [client, serverSide];
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves when `fn` returns true, polling; rejects after `timeoutMs`. */
export async function waitFor(fn: () => boolean, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!fn()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await delay(5);
  }
}

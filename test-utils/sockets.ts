// Real Unix sockets for tests, shared by the package suites.
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Two connected AF_UNIX stream sockets (through a listener on a temporary path, removed at once). */
export async function socketPair(): Promise<[client: Socket, server: Socket]> {
  const dir = mkdtempSync(join(tmpdir(), 'se-pair-'));
  const path = join(dir, 's.sock');
  const server = createServer();
  try {
    await new Promise<void>((resolve) => server.listen(path, resolve));
    const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
    const client = connect(path);
    await new Promise<void>((resolve, reject) => {
      client.once('connect', resolve);
      client.once('error', reject);
    });
    return [client, await accepted];
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

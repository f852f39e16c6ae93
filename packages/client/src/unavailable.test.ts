// Issue 12 item 8: an engine that cannot take a connection (its accept backlog is full: EAGAIN)
// is retried briefly, then reported as EngineUnavailableError; an engine that dies while a request
// is in progress is EngineUnavailableError too, never a generic error. Real processes and sockets.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnCaptured, waitFor } from '@secrets-engine/test-utils/process.js';
import { describe, expect, it, onTestFinished } from 'vitest';
import { createClient, EngineError, EngineUnavailableError } from './index.js';

const ENGINE_FIXTURE = fileURLToPath(new URL('./__tests__/fixtures/engine.mjs', import.meta.url));

function tempSocket(): string {
  const dir = mkdtempSync(join(tmpdir(), 'se-client-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'engine.sock');
}

/**
 * An HTTP server answering every request as GetVersion, with a backlog of 1, then stopped (SIGSTOP) and its backlog
 * filled until connect(2) says EAGAIN. `resume()` lets it accept again.
 */
async function stoppedListener(socketPath: string): Promise<{ resume(): void }> {
  const child = spawn(process.execPath, [
    '-e',
    `require('node:http').createServer((req, res) => {
       // health.v1.GetVersionResponse { version: "v9.9.9" } in the binary format.
       res.writeHead(200, { 'content-type': 'application/proto' });
       res.end(Buffer.concat([Buffer.from([0x0a, 6]), Buffer.from('v9.9.9')]));
     }).listen({ path: ${JSON.stringify(socketPath)}, backlog: 1 }, () => console.log('up'))`,
  ]);
  onTestFinished(() => {
    child.kill('SIGKILL');
  });
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  process.kill(child.pid!, 'SIGSTOP');
  const held: Socket[] = [];
  onTestFinished(() => {
    for (const h of held) h.destroy();
  });
  let full = false;
  for (let i = 0; i < 256 && !full; i++) {
    const code = await new Promise<string | undefined>((resolve) => {
      const c = connect(socketPath);
      held.push(c);
      c.once('connect', () => resolve(undefined));
      c.once('error', (e: NodeJS.ErrnoException) => resolve(e.code));
    });
    full = code === 'EAGAIN';
  }
  expect(full, 'the backlog of a stopped listener fills up').toBe(true);
  return { resume: () => process.kill(child.pid!, 'SIGCONT') };
}

describe.skipIf(process.platform !== 'linux')('a full accept backlog (EAGAIN)', () => {
  it('is retried for connectRetryMs, then EngineUnavailableError naming the socket and why', async () => {
    const socketPath = tempSocket();
    await stoppedListener(socketPath);
    using client = createClient({ socketPath, connectRetryMs: 200 });
    const err = await client.version().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineUnavailableError);
    expect((err as EngineUnavailableError).socketPath).toBe(socketPath);
    expect((err as Error).message).toBe(
      `secrets engine is not available at ${socketPath}: the engine is not accepting connections (its accept backlog is full: is it overloaded or stopped?)`,
    );
  });

  it('a call made while the backlog is full succeeds once the engine accepts again', async () => {
    const socketPath = tempSocket();
    const listener = await stoppedListener(socketPath);
    using client = createClient({ socketPath, connectRetryMs: 30_000 });
    const call = client.version();
    // Resume only after the first attempt has failed with EAGAIN at least once.
    setTimeout(() => listener.resume(), 100);
    expect((await call).version).toBe('v9.9.9');
  });

  it('stops retrying when the call is aborted: canceled, not unavailable', async () => {
    const socketPath = tempSocket();
    await stoppedListener(socketPath);
    using client = createClient({ socketPath, connectRetryMs: 60_000 });
    const err = await client.version({ signal: AbortSignal.timeout(100) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect(err).not.toBeInstanceOf(EngineUnavailableError);
    expect((err as EngineError).code).toBe('canceled');
  });

  it('with connectRetryMs 0, one attempt only', async () => {
    const socketPath = tempSocket();
    await stoppedListener(socketPath);
    using client = createClient({ socketPath, connectRetryMs: 0 });
    await expect(client.version()).rejects.toBeInstanceOf(EngineUnavailableError);
  });

  it('refuses a bad connectRetryMs', () => {
    expect(() => createClient({ socketPath: '/x', connectRetryMs: -1 })).toThrow(
      'createClient: connectRetryMs must be a non-negative number of ms, got -1',
    );
  });
});

describe('an engine that dies while a request is in progress', () => {
  it('is EngineUnavailableError: "the connection closed before the engine answered"', async () => {
    const socketPath = tempSocket();
    const engine = spawnCaptured(process.execPath, [ENGINE_FIXTURE], {
      env: { PATH: process.env.PATH ?? '', CLIENT_TEST_SOCKET: socketPath },
    });
    onTestFinished(async () => {
      engine.child.kill('SIGKILL');
      await engine.closed;
    });
    await waitFor('the engine to be ready', () => engine.stdout().includes('ready\n'), {
      timeoutMs: 15_000,
    });
    using client = createClient({ socketPath });
    const call = client.getSecrets('slow/x').catch((e: unknown) => e);
    await waitFor('the request to reach the plugin', () => engine.stdout().includes('asked slow/x'), {
      timeoutMs: 10_000,
    });
    engine.child.kill('SIGKILL');
    const err = await call;
    expect(err).toBeInstanceOf(EngineUnavailableError);
    expect((err as Error).message).toBe(
      `secrets engine is not available at ${socketPath}: the connection closed before the engine answered (did it stop, or is it overloaded?)`,
    );
  });
});

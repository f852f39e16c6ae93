// Issue 12 item 8 through the CLI: an engine whose accept backlog is full (EAGAIN) and an engine
// that dies while it answers are both "engine not available" (exit 3), never a generic error.
import { type ChildProcess, spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { expectNoStack, runCli, tempDir, useCli } from './__tests__/cli.js';

useCli();

const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const fn of cleanup.splice(0)) fn();
});

/** A node process listening on `socketPath` with `script` (given `server`), ready when it prints "up". */
async function listener(socketPath: string, script: string, backlog = 511): Promise<ChildProcess> {
  const child = spawn(process.execPath, [
    '-e',
    `const server = require('node:http').createServer(); ${script};
     server.listen({ path: ${JSON.stringify(socketPath)}, backlog: ${backlog} }, () => console.log('up'))`,
  ]);
  cleanup.push(() => child.kill('SIGKILL'));
  await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
  return child;
}

describe.skipIf(process.platform !== 'linux')('get: the engine cannot take the connection', () => {
  it('a full accept backlog (EAGAIN) is retried, then exit 3 naming the socket and why', async () => {
    const socket = join(tempDir(), 'engine.sock');
    const child = await listener(socket, '', 1);
    process.kill(child.pid!, 'SIGSTOP');
    const held: Socket[] = [];
    cleanup.push(() => {
      for (const h of held) h.destroy();
    });
    let full = false;
    for (let i = 0; i < 256 && !full; i++) {
      const code = await new Promise<string | undefined>((resolve) => {
        const c = connect(socket);
        held.push(c);
        c.once('connect', () => resolve(undefined));
        c.once('error', (e: NodeJS.ErrnoException) => resolve(e.code));
      });
      full = code === 'EAGAIN';
    }
    expect(full).toBe(true);
    const r = await runCli(['get', 'x/**', '--socket', socket]);
    expect(r.code).toBe(3);
    expect(r.stderr).toBe(
      `secrets-engine: secrets engine is not available at ${socket}: the engine is not accepting connections (its accept backlog is full: is it overloaded or stopped?)\n`,
    );
  });
});

describe('get: the engine dies while it answers', () => {
  it('exit 3, "the connection closed before the engine answered", no stack', async () => {
    const socket = join(tempDir(), 'engine.sock');
    // Reads the request, then dies without a word (SIGKILL: no response, no FIN first).
    await listener(socket, `server.on('request', () => process.kill(process.pid, 'SIGKILL'))`);
    const r = await runCli(['get', 'x/**', '--socket', socket]);
    expect(r.code).toBe(3);
    expect(r.stderr).toBe(
      `secrets-engine: secrets engine is not available at ${socket}: the connection closed before the engine answered (did it stop, or is it overloaded?)\n`,
    );
    expectNoStack(r.stderr);
  });
});

describe('fromClientError', () => {
  it('an engine over its request limit (resource_exhausted) is exit 3, with the engine message', async () => {
    const { EngineError } = await import('@secrets-engine/client');
    const { fromClientError } = await import('./engine-client.js');
    const busy = fromClientError(
      new EngineError(
        'the secrets engine is busy: 2048 requests in progress, its limit (limits.maxRequestsInFlight 2048); try again later',
        'resource_exhausted',
      ),
    );
    expect([busy.exitCode, busy.message]).toEqual([
      3,
      'the secrets engine is busy: 2048 requests in progress, its limit (limits.maxRequestsInFlight 2048); try again later',
    ]);
    expect(fromClientError(new EngineError('boom', 'internal')).exitCode).toBe(1);
  });
});

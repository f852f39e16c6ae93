// Issue 12 item 2: a same-user client fills the engine's descriptor table with connections that
// never finish a request (silent, slow headers, slow bodies) or idle, while a plugin restarts.
// Under `ulimit -n 256` the engine keeps limits.fdReserve descriptors free: it refuses the
// connections beyond that (503, at once), restarts the killed plugin, closes the slow ones by its
// timeouts, and answers requests again — it never exits and never gives up on the plugin.
import { connect, type Socket } from 'node:net';
import { createClient } from '@secrets-engine/client';
import { describe, expect, it, onTestFinished } from 'vitest';
import { ENGINE_FIXTURE, isAlive, useE2E, waitFor, waitForJsonLine } from './support/e2e.js';

interface Held {
  socket: Socket;
  data: string;
  closed: boolean;
}

function hold(socketPath: string, first: string | undefined): Promise<Held> {
  return new Promise((resolve) => {
    const socket = connect(socketPath);
    const held: Held = { socket, data: '', closed: false };
    socket.setEncoding('latin1').on('data', (d: string) => {
      held.data += d;
    });
    socket.on('error', () => {});
    socket.once('close', () => {
      held.closed = true;
      resolve(held);
    });
    socket.once('connect', () => {
      if (first !== undefined) socket.write(first);
      resolve(held);
    });
  });
}

describe.skipIf(process.platform !== 'linux')('under a low descriptor limit', () => {
  const e2e = useE2E();

  it('a connection flood neither takes the descriptors a plugin restart needs nor keeps the engine down', async () => {
    e2e.addPlugin('vault');
    const limits = { headersTimeoutMs: 1_500, bodyTimeoutMs: 1_500, idleTimeoutMs: 1_500, fdReserve: 64 };
    const engine = e2e.spawn(
      '/bin/sh',
      ['-c', 'ulimit -n 256 && exec "$0" "$1"', process.execPath, ENGINE_FIXTURE],
      {
        PATH: process.env.PATH ?? '',
        E2E_SOCKET: e2e.socketPath,
        E2E_PLUGINS_DIR: e2e.pluginsDir,
        E2E_LIMITS: JSON.stringify(limits),
        E2E_LOG: '1',
        ...e2e.fixtureEnv(),
      },
    );
    const ready = await waitForJsonLine<{ pid: number; plugins: { name: string; pid: number }[] }>(
      engine,
      'the engine to be ready',
      { timeoutMs: 15_000 },
    );
    const limitsText = await import('node:fs').then((fs) =>
      fs.readFileSync(`/proc/${ready.pid}/limits`, 'utf8'),
    );
    expect(limitsText).toMatch(/^Max open files\s+256\s+256\s/m);
    const oldPid = ready.plugins[0]!.pid;

    // 400 connections, more than the table holds: silent ones, slow headers, slow bodies, and
    // keep-alive connections left idle after one request.
    const flood: Held[] = [];
    onTestFinished(() => {
      for (const h of flood) h.socket.destroy();
    });
    const firsts = [
      undefined,
      'GET /health HTTP/1.1\r\nHost: un',
      'POST /resolver.v1.ResolverService/GetSecrets HTTP/1.1\r\nHost: unix\r\nContent-Type: application/proto\r\nContent-Length: 1000\r\n\r\n\x0a',
      'GET /health HTTP/1.1\r\nHost: unix\r\n\r\n',
    ];
    for (let i = 0; i < 400; i++) flood.push(await hold(e2e.socketPath, firsts[i % firsts.length]));
    await waitFor(
      'the refused connections to be closed',
      () => flood.some((h) => h.closed && h.data.startsWith('HTTP/1.1 503 ')) || undefined,
    );
    const refused = flood.filter((h) => h.data.startsWith('HTTP/1.1 503 '));
    expect(refused[0]!.data).toContain(
      'its open file descriptors are within limits.fdReserve (64) of their limit 256',
    );

    // The plugin dies while the flood holds every connection the engine lets in.
    process.kill(oldPid, 'SIGKILL');
    const newPid = await waitFor(
      'the plugin to be started again',
      () => e2e.recordedPids().find((pid) => pid !== oldPid && isAlive(pid)),
      { timeoutMs: 10_000 },
    );
    await waitFor('the restarted plugin to register', () =>
      engine.stderr().includes(`"pid":${newPid}`) ? true : undefined,
    );

    // Every connection of the flood ends by the engine's own timeouts; the test closes none.
    await waitFor(
      'the engine to close every slow connection',
      () => flood.every((h) => h.closed) || undefined,
      {
        timeoutMs: 15_000,
      },
    );
    expect(flood.filter((h) => h.data.startsWith('HTTP/1.1 408 ')).length).toBeGreaterThan(0);

    using client = createClient({ socketPath: e2e.socketPath, timeoutMs: 10_000 });
    const secret = await client.getSecret('vault/token');
    expect(secret.revealText()).toBe('secret-for-vault/token');
    expect(secret.metadata.pid).toBe(String(newPid));
    expect(isAlive(ready.pid)).toBe(true);
    expect(engine.stderr()).not.toMatch(/EMFILE|spawn .* failed|retries exceeded/i);
  });
});

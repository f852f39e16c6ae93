// Scenario 7: SIGKILL of the engine process. The engine cannot clean up, so the plugins must exit by
// themselves: the SDK ends serve() when the launch channel closes and a launched plugin never
// outlives its engine (protocol.md §0 "No orphans", §7.5). The engine runs in a child process
// (fixtures/engine.mjs); its plugins are in their own process groups and are reparented to init
// when the engine dies, so they are watched through /proc, not waited for.

import { chmodSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConnectError } from '@connectrpc/connect';
import { describe, expect, it } from 'vitest';
import {
  baseEnv,
  type E2EContext,
  ENGINE_FIXTURE,
  engineClients,
  isAlive,
  PLUGIN_FIXTURE,
  type SpawnedProcess,
  useE2E,
  waitFor,
  waitForJsonLine,
  waitGone,
} from './support/e2e.js';

/** The pids the fixture recorded with `role` (FIXTURE_PID_DIR files hold "<name> <role>"). */
function pidsWithRole(e2e: E2EContext, role: string): number[] {
  return readdirSync(e2e.pidDir)
    .filter((f) => readFileSync(join(e2e.pidDir, f), 'utf8').trim().endsWith(` ${role}`))
    .map(Number);
}

interface Ready {
  ready: true;
  pid: number;
  plugins: { name: string; pid: number; status: string }[];
}

/** Starts fixtures/engine.mjs on the test's socket and plugins folder; resolves once it is ready. */
async function startEngineProcess(
  e2e: E2EContext,
  fixture: Record<string, string> = {},
): Promise<{ engine: SpawnedProcess; ready: Ready }> {
  const engine = e2e.spawn(ENGINE_FIXTURE, [], {
    ...baseEnv(),
    ...e2e.fixtureEnv(fixture),
    E2E_SOCKET: e2e.socketPath,
    E2E_PLUGINS_DIR: e2e.pluginsDir,
  });
  const ready = await waitForJsonLine<Ready>(engine, 'the engine process to report ready', {
    timeoutMs: 20_000,
  });
  return { engine, ready };
}

describe('engine process death', () => {
  const e2e = useE2E();

  it('SIGKILL: every launched plugin exits by itself (one of them mid-request)', async () => {
    const names = ['p1', 'p2', 'p3'];
    for (const name of names) e2e.addPlugin(name);
    // p3 hangs on a request whose pattern contains "hang": it is busy when the engine dies.
    const { engine, ready } = await startEngineProcess(e2e, { FIXTURE_MODE_P3: 'hang' });
    expect(ready.plugins.map((p) => [p.name, p.status])).toEqual(names.map((n) => [n, 'running']));
    const pids = ready.plugins.map((p) => p.pid);
    expect(pids.every(isAlive)).toBe(true);
    expect(e2e.recordedPids().sort()).toEqual([...pids].sort());

    const clients = engineClients(e2e.socketPath);
    expect((await clients.resolver.getSecrets({ pattern: 'p1/a' })).envelopes).toHaveLength(1);
    const inFlight = clients.resolver
      .getSecrets({ pattern: 'p3/hang' })
      .catch((e: unknown) => ConnectError.from(e));
    await new Promise((r) => setTimeout(r, 100));

    engine.child.kill('SIGKILL');
    // Nobody stops them: the SDK's orphan exit (1 s at the latest; its delay is tested in
    // packages/plugin-sdk) does. The bound only guards against a hang.
    await waitGone(pids, { timeoutMs: 5_000 });
    expect((await engine.exited).signal).toBe('SIGKILL');
    expect(await inFlight).toBeInstanceOf(ConnectError);
  });

  it('SIGTERM: graceful close, every plugin stopped and reaped, exit 0', async () => {
    for (const name of ['q1', 'q2']) e2e.addPlugin(name);
    const { engine, ready } = await startEngineProcess(e2e);
    const pids = ready.plugins.map((p) => p.pid);
    engine.child.kill('SIGTERM');
    expect(await engine.exited).toEqual({ code: 0, signal: null });
    // The engine stops its plugins before it exits (§7.4 stop).
    for (const pid of pids) expect(isAlive(pid), `plugin ${pid}`).toBe(false);
  });

  it('SIGKILL: a plugin writing after the engine died is not killed by a broken pipe (issue 13 item 1)', async () => {
    // A plugin whose cleanup writes to stdout and stderr after the engine is gone, as Docker's Go
    // SDK logs its last line: through a pipe into a dead engine, the first write kills a shell
    // (and Go) with SIGPIPE before the cleanup ends. Its output goes to a file now.
    const marker = join(e2e.dir, 'cleanup-done');
    const script = join(e2e.pluginsDir, 'writer');
    writeFileSync(
      script,
      [
        '#!/bin/sh',
        `"${process.execPath}" "${PLUGIN_FIXTURE}"`,
        'status=$?',
        'i=0',
        'while [ $i -lt 20 ]; do echo "cleanup line $i"; echo "cleanup error $i" >&2; i=$((i+1)); sleep 0.02; done',
        `echo "$status" > "${marker}"`,
        '',
      ].join('\n'),
    );
    chmodSync(script, 0o755);
    const { engine, ready } = await startEngineProcess(e2e);
    expect(ready.plugins.map((p) => [p.name, p.status])).toEqual([['writer', 'running']]);
    const [shellPid] = ready.plugins.map((p) => p.pid);
    engine.child.kill('SIGKILL');
    await engine.exited;
    await waitGone([shellPid!], { timeoutMs: 10_000 });
    await waitFor('the plugin cleanup to finish', () => {
      try {
        return readFileSync(marker, 'utf8');
      } catch {
        return undefined;
      }
    });
    // The SDK plugin exited 0 (its orphan exit), and the shell lived to write it down.
    expect(readFileSync(marker, 'utf8').trim()).toBe('0');
    // Everything it wrote is in its log file, beside the socket.
    const log = readFileSync(join(`${e2e.socketPath}.state`, 'logs', 'writer.log'), 'utf8');
    expect(log).toContain('cleanup line 19');
    expect(log).toContain('cleanup error 19');
  });

  it("SIGKILL: a plugin's helpers go with it, and what ignores SIGTERM is ended by the next engine (issue 13 item 2)", async () => {
    e2e.addPlugin('h1');
    e2e.addPlugin('s1');
    const first = await startEngineProcess(e2e, { FIXTURE_MODE_H1: 'helper', FIXTURE_MODE_S1: 'stubborn' });
    expect(first.ready.plugins.map((p) => p.status)).toEqual(['running', 'running']);
    const [helper] = pidsWithRole(e2e, 'helper');
    const [stubbornHelper] = pidsWithRole(e2e, 'stubborn-helper');
    expect(helper !== undefined && isAlive(helper)).toBe(true);
    expect(stubbornHelper !== undefined && isAlive(stubbornHelper)).toBe(true);

    first.engine.child.kill('SIGKILL');
    await first.engine.exited;
    // The SDK ends its own process group when it loses the engine: the plain helper goes.
    await waitGone([helper!], { timeoutMs: 10_000 });
    // The stubborn helper ignores SIGTERM and is still there, reparented to init...
    expect(isAlive(stubbornHelper!)).toBe(true);
    // ...until an engine starts on the same socket: it ends the groups its predecessor recorded.
    const second = await startEngineProcess(e2e, { FIXTURE_MODE_H1: 'helper', FIXTURE_MODE_S1: 'ok' });
    await waitGone([stubbornHelper!], { timeoutMs: 10_000 });
    second.engine.child.kill('SIGTERM');
    expect(await second.engine.exited).toEqual({ code: 0, signal: null });
  });
});

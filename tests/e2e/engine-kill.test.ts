// Scenario 7: SIGKILL of the engine process. The engine cannot clean up, so the plugins must exit by
// themselves: the SDK ends serve() when the launch channel closes and a launched plugin never
// outlives its engine (protocol.md §0 "No orphans", §7.5). The engine runs in a child process
// (fixtures/engine.mjs); its plugins are in their own process groups and are reparented to init
// when the engine dies, so they are watched through /proc, not waited for.
import { ConnectError } from '@connectrpc/connect';
import { describe, expect, it } from 'vitest';
import {
  baseEnv,
  type E2EContext,
  ENGINE_FIXTURE,
  engineClients,
  isAlive,
  type SpawnedProcess,
  useE2E,
  waitForJsonLine,
  waitGone,
} from './support/e2e.js';

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
});

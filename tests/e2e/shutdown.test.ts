// Scenario 8: engine close leaves no process behind (protocol.md §0 "No orphans", §7.1, §7.4), even a
// plugin that ignores SIGINT and SIGTERM, does not exit after the Shutdown RPC, and has a child of
// its own that ignores them too: the engine escalates to SIGKILL of the plugin's process group.
import { describe, expect, it } from 'vitest';
import { engineClients, isAlive, listByName, useE2E, waitFor, waitGone } from './support/e2e.js';

describe('engine close', () => {
  const e2e = useE2E();

  it('leaves no child process, escalating to SIGKILL of the group for a plugin that ignores signals', async () => {
    for (const name of ['calm', 'stubborn', 'zeta']) e2e.addPlugin(name);
    const engine = e2e.engine({
      shutdownTimeoutMs: 300,
      fixture: { FIXTURE_MODE_STUBBORN: 'stubborn' },
    });
    await engine.start();
    const plugins = engine.listPlugins();
    expect(plugins.map((p) => [p.name, p.status])).toEqual([
      ['calm', 'running'],
      ['stubborn', 'running'],
      ['zeta', 'running'],
    ]);
    // The stubborn plugin's helper child (same process group) tells its pid in the metadata.
    const res = await engineClients(e2e.socketPath).resolver.getSecrets({ pattern: 'stubborn/x' });
    const helperPid = Number(res.envelopes[0]!.metadata.helper);
    const pluginPids = plugins.map((p) => p.pid!);
    // A plugin started by hand is asked to shut down too (§7.1: Shutdown RPC, then IPC close).
    const clients = engineClients(e2e.socketPath);
    const visitor = e2e.startExternalPlugin('visitor');
    await waitFor('the visitor to register', async () => (await listByName(clients)).get('visitor'));
    const all = [...pluginPids, helperPid, visitor.pid];
    expect(all.every(isAlive)).toBe(true);
    expect(e2e.recordedPids().sort()).toEqual([...all].sort());

    const started = Date.now();
    await engine.close();
    const tookMs = Date.now() - started;
    // The plugins were our (the engine's) children: reaped by the time close() resolves.
    for (const pid of pluginPids) expect(isAlive(pid), `plugin ${pid}`).toBe(false);
    // The helper was the stubborn plugin's child: killed with its group, reaped by init.
    await waitGone([helperPid], { timeoutMs: 1_000 });
    // The external plugin left on the engine's Shutdown request and exited by itself.
    expect(await visitor.exited).toEqual({ code: 0, signal: null });
    expect(visitor.stderr()).toContain('fixture plugin stopped: shutdown');
    // Shutdown RPC (bounded) → drain → SIGTERM (ignored) → SIGKILL, each step ≤ 300 ms.
    const escalation = e2e.logs.filter((l) => l.includes('plugin=stubborn') && /SIGTERM|killing it/.test(l));
    expect(escalation).toEqual([
      expect.stringContaining('plugin did not exit after shutdown, sending SIGTERM'),
      expect.stringContaining('plugin did not shut down after timeout, killing it'),
    ]);
    // The well-behaved plugins exited on the Shutdown RPC, without signals.
    expect(e2e.logs.filter((l) => /plugin=(calm|zeta) .*(SIGTERM|killing it)/.test(l))).toEqual([]);
    expect(tookMs).toBeLessThan(5_000);
    expect(engine.listPlugins().map((p) => [p.name, p.status])).toEqual([
      ['calm', 'stopped'],
      ['stubborn', 'stopped'],
      ['zeta', 'stopped'],
    ]);
  });
});

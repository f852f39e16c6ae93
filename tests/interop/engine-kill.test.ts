// The engine dies (SIGKILL, no Shutdown RPC): Go plugins must notice the closed socket and exit by
// themselves, with code 0 (protocol.md §7.5; §0 "No orphans"). Launched plugins run in their own
// process group, so nothing else would stop them; a plugin started by hand sees its hijacked
// connection close. Their output must not be able to kill them once the engine is gone (issue 13
// item 1: under Docker's engine their output goes to /dev/null; a pipe into a dead engine is a
// SIGPIPE on the last log line), and what they started must not outlive a crash for good: the engine
// that starts next ends the process groups its crashed predecessor left (issue 13 item 2).
import { createClient } from '@secrets-engine/client';
import { describe, expect, it } from 'vitest';
import {
  ENGINE_FIXTURE,
  goBinary,
  isAlive,
  pluginEnv,
  pluginPeers,
  useInterop,
  waitFor,
  waitForJsonLine,
} from './support/interop.js';

describe.each(pluginPeers())('$id when the engine is killed', (peer) => {
  const t = useInterop();

  it('launched and hand-started plugins exit by themselves (no orphans)', async () => {
    const bin = goBinary(peer.binary);
    t.addPlugin('go-a', bin);
    t.addPlugin('go-b', bin);
    const engine = t.spawn(process.execPath, [ENGINE_FIXTURE], {
      PATH: process.env.PATH ?? '',
      INTEROP_ENGINE_SOCKET: t.socketPath,
      INTEROP_PLUGINS_DIR: t.pluginsDir,
      INTEROP_PLUGIN_ENV: JSON.stringify(pluginEnv(peer, t.pidDir)),
    });
    const ready = await waitForJsonLine<{ plugins: { name: string; pid: number; status: string }[] }>(
      engine,
      'the engine to be ready',
    );
    expect(ready.plugins.map((p) => [p.name, p.status])).toEqual([
      ['go-a', 'running'],
      ['go-b', 'running'],
    ]);
    const byHand = t.startByHand(peer, 'go-by-hand');
    using client = createClient({ socketPath: t.socketPath, timeoutMs: 5_000 });
    await waitFor('the hand-started plugin to register', async () =>
      (await client.listPlugins()).some((p) => p.name === 'go-by-hand' && p.runStatus === 'running'),
    );
    client.close();

    engine.child.kill('SIGKILL');
    await engine.exited;
    const launched = ready.plugins.map((p) => p.pid);
    await waitFor(
      'every Go plugin to exit by itself',
      () => [...launched, byHand.pid].every((pid) => !isAlive(pid)),
      {
        timeoutMs: 5_000,
      },
    );
    // Each one ran its own exit path (only that writes the markers) and got past its last output
    // line: EOF on the socket, or a reset when the killed engine still had unread bytes from that
    // plugin (the kernel's choice, not a protocol difference; see docs/compatibility.md).
    for (const pid of [...launched, byHand.pid]) {
      // Both tiers: the plugin also survived its last output line (issue 13 item 1).
      const state = t.exitState(pid);
      expect(
        state === `0 ${peer.engineGoneReason}` || /^\d+ .*connection reset by peer/.test(state),
        state,
      ).toBe(true);
    }
    expect((await byHand.exited).signal).toBeNull();
  });

  it('the engine that starts next ends the helpers a launched plugin left when its engine was killed', async () => {
    t.addPlugin('go-a', goBinary(peer.binary));
    const startEngine = async (extra: Record<string, string>) => {
      const engine = t.spawn(process.execPath, [ENGINE_FIXTURE], {
        PATH: process.env.PATH ?? '',
        INTEROP_ENGINE_SOCKET: t.socketPath,
        INTEROP_PLUGINS_DIR: t.pluginsDir,
        INTEROP_PLUGIN_ENV: JSON.stringify(pluginEnv(peer, t.pidDir, extra)),
      });
      const ready = await waitForJsonLine<{ plugins: { name: string; pid: number; status: string }[] }>(
        engine,
        'the engine to be ready',
      );
      return { engine, ready };
    };
    const helpers: number[] = [];
    try {
      const first = await startEngine({ INTEROP_HELPER: '1' });
      const pid = first.ready.plugins[0]!.pid;
      helpers.push(await waitFor('the plugin to start its helper', () => t.helperPid(pid)));
      first.engine.child.kill('SIGKILL');
      await first.engine.exited;
      await waitFor('the plugin to exit by itself', () => !isAlive(pid), { timeoutMs: 5_000 });
      // What Docker's plugins do too: the plugin is gone, the helper it started is not (it is in
      // the plugin's process group, which nothing signalled).
      const orphaned = helpers.filter(isAlive);

      const second = await startEngine({});
      expect(second.ready.plugins.map((p) => [p.name, p.status])).toEqual([['go-a', 'running']]);
      await waitFor(
        'the restarted engine to end the process group the killed engine’s plugin left ' +
          `(helper ${orphaned.join(', ') || '(already gone)'} still running: issue 13 item 2)`,
        () => helpers.every((h) => !isAlive(h)),
        { timeoutMs: 10_000 },
      );
      second.engine.child.kill('SIGTERM');
      expect((await second.engine.exited).code).toBe(0);
    } finally {
      for (const h of helpers.filter(isAlive)) process.kill(h, 'SIGKILL');
    }
  });
});

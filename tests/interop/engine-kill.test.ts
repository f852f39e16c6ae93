// The engine dies (SIGKILL, no Shutdown RPC): Go plugins must notice the closed socket and exit by
// themselves (protocol.md §7.5; §0 "No orphans"). Launched plugins run in their own process group,
// so nothing else would stop them; a plugin started by hand sees its hijacked connection close.
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
    // Each one ran its own exit path (only that writes the marker): EOF on the socket, or a reset
    // when the killed engine still had unread bytes from that plugin (the kernel's choice, not a
    // protocol difference; see docs/compatibility.md).
    for (const pid of [...launched, byHand.pid]) {
      const marker = t.exitMarker(pid) ?? '(no exit marker: killed?)';
      expect(marker === `0 ${peer.engineGoneReason}` || /connection reset by peer/.test(marker), marker).toBe(
        true,
      );
    }
    expect((await byHand.exited).signal).toBeNull();
  });
});

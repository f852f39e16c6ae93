// The engine's answer cache (issue 15 item 6) with a launched plugin, over the engine socket:
// answers from the cache say so in the audit record, `Cache-Control: no-cache` (the client's
// `noCache`, `get --no-cache`) asks the plugin, and a plugin that restarts never has its dead
// instance's answers served (the fixture's metadata carries its pid).
import { createClient } from '@secrets-engine/client';
import type { AuditRecord } from '@secrets-engine/runtime';
import { describe, expect, it } from 'vitest';
import { isAlive, useE2E, waitFor } from './support/e2e.js';

describe('the answer cache over the engine socket', () => {
  const e2e = useE2E();

  it('hits are audited as cached, no-cache asks the plugin, a restart drops the cache', async () => {
    e2e.addPlugin('victim');
    const records: AuditRecord[] = [];
    const engine = e2e.engine({
      cache: { victim: { ttlMs: 600_000 } },
      restart: { initialDelayMs: 300 },
      audit: { write: (r) => void records.push(r), close: async () => {} },
    });
    await engine.start();
    using client = createClient({ socketPath: e2e.socketPath });
    const pidOf = async (noCache = false) => {
      const [env] = await client.getSecrets('victim/key', noCache ? { noCache } : {});
      expect(env!.revealText()).toBe('secret-for-victim/key');
      return env!.metadata.pid;
    };
    const lastCached = () => records.at(-1)?.plugins?.cached;

    const first = await pidOf();
    expect(lastCached()).toBeUndefined();
    expect(await pidOf()).toBe(first);
    expect(lastCached()).toEqual(['victim']);
    expect(records.at(-1)?.plugins).toMatchObject({ asked: ['victim'], answered: ['victim'] });
    // Bypassed: the plugin was asked (not audited as cached).
    expect(await pidOf(true)).toBe(first);
    expect(lastCached()).toBeUndefined();
    expect(await pidOf()).toBe(first);
    expect(lastCached()).toEqual(['victim']);

    // A restarted plugin: its old instance's answers are gone with it.
    process.kill(Number(first), 'SIGKILL');
    await waitFor('the old plugin gone', () => !isAlive(Number(first)));
    await waitFor(
      'victim running again',
      () => {
        const info = engine.listPlugins()[0]!;
        return info.status === 'running' && info.pid !== Number(first);
      },
      { timeoutMs: 30_000 },
    );
    const second = await pidOf();
    expect(second).not.toBe(first);
    expect(lastCached()).toBeUndefined();
    expect(await pidOf()).toBe(second);
    expect(lastCached()).toEqual(['victim']);
  }, 90_000);
});

// Scenario 9: 20 plugins start in parallel (protocol.md §7.4): start() resolves once each was tried,
// all are RUNNING, and one request over `**` returns one envelope per plugin, ordered by provider
// name (§6.4 step 2).
import { pluginsv1 } from '@secrets-engine/proto';
import { describe, expect, it } from 'vitest';
import { engineClients, isAlive, listByName, useE2E } from './support/e2e.js';

describe('parallel start', () => {
  const e2e = useE2E();

  it('20 plugins: all RUNNING, one request over ** returns 20 envelopes ordered by provider', async () => {
    // Created in an order that is not the name order; names sort as strings (p-00 … p-19).
    const names = Array.from({ length: 20 }, (_, i) => `p-${String(i).padStart(2, '0')}`);
    for (const name of [...names].reverse()) e2e.addPlugin(name);
    const engine = e2e.engine({ registrationTimeoutMs: 30_000 });
    await engine.start();

    const clients = engineClients(e2e.socketPath);
    const listed = await listByName(clients);
    expect([...listed.keys()]).toEqual(names);
    for (const p of listed.values()) {
      expect(p.runStatus, p.name).toBe(pluginsv1.RunStatus.RUNNING);
    }
    const pids = engine.listPlugins().map((p) => p.pid!);
    expect(new Set(pids).size).toBe(20);
    expect(pids.every(isAlive)).toBe(true);

    const res = await clients.resolver.getSecrets({ pattern: '**' });
    expect(res.envelopes.map((e) => e.provider)).toEqual(names);
    expect(res.envelopes.map((e) => e.id)).toEqual(names.map((n) => `${n}/x`));
  });
});

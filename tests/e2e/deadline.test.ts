// Scenario 6: a plugin that hangs in getSecrets costs one request its deadline and nothing more
// (protocol.md §0 "Requests", unlike Go's engine where a hung plugin blocks the fan-out, §5.1 step 8):
// the good plugin's secrets come back after about the deadline, and the hanging plugin stays
// RUNNING and answers the next request.
import { pluginsv1 } from '@secrets-engine/proto';
import { describe, expect, it } from 'vitest';
import { engineClients, listByName, useE2E, waitGone } from './support/e2e.js';

describe('a plugin that hangs in getSecrets', () => {
  const e2e = useE2E();

  it('costs the request its deadline, not its result, and is still serving afterwards', async () => {
    e2e.addPlugin('good');
    e2e.addPlugin('slow');
    const engine = e2e.engine({
      requestTimeoutMs: 300,
      fixture: { FIXTURE_PATTERN: 'shared/**', FIXTURE_MODE_SLOW: 'hang' },
    });
    await engine.start();
    const clients = engineClients(e2e.socketPath);
    const pids = new Map(engine.listPlugins().map((p) => [p.name, p.pid]));

    // "shared/hang/**" covers both plugins; "slow" hangs on it.
    const started = Date.now();
    const res = await clients.resolver.getSecrets({ pattern: 'shared/hang/**' });
    const tookMs = Date.now() - started;
    expect(res.envelopes.map((e) => [e.id, e.provider])).toEqual([['shared/hang/x', 'good']]);
    // Only a lower bound: without the deadline the call would hang (the test's own timeout).
    expect(tookMs).toBeGreaterThanOrEqual(290);

    // The hanging plugin was not punished: still RUNNING, same process, and it answers.
    const slow = (await listByName(clients)).get('slow');
    expect(slow).toMatchObject({ runStatus: pluginsv1.RunStatus.RUNNING, statusMessage: '' });
    expect(engine.listPlugins().find((p) => p.name === 'slow')).toMatchObject({
      pid: pids.get('slow'),
      restarts: 0,
    });
    const next = await clients.resolver.getSecrets({ pattern: 'shared/ok' });
    // Ordered by plugin name (§6.4 step 2), concatenated, not de-duplicated (step 6).
    expect(next.envelopes.map((e) => [e.id, e.provider, e.metadata.pid])).toEqual([
      ['shared/ok', 'good', String(pids.get('good'))],
      ['shared/ok', 'slow', String(pids.get('slow'))],
    ]);

    // Concurrent requests: each hanging call costs only its own deadline.
    const results = await Promise.all(
      [1, 2, 3].map((i) => clients.resolver.getSecrets({ pattern: `shared/hang/${i}` })),
    );
    expect(results.map((r) => r.envelopes.map((e) => e.provider))).toEqual([['good'], ['good'], ['good']]);
    expect((await listByName(clients)).get('slow')?.runStatus).toBe(pluginsv1.RunStatus.RUNNING);
  });

  it('a plugin that dies in the middle of a request costs nothing: the others answer at once', async () => {
    e2e.addPlugin('crashy');
    e2e.addPlugin('good');
    // A deadline far beyond the test's own timeout: only the lost transport can end crashy's part.
    const engine = e2e.engine({
      requestTimeoutMs: 600_000,
      restart: { initialDelayMs: 50 },
      fixture: { FIXTURE_PATTERN: 'shared/**', FIXTURE_MODE_CRASHY: 'crash' },
    });
    await engine.start();
    const clients = engineClients(e2e.socketPath);
    const crashyPid = engine.listPlugins()[0]!.pid!;
    // The lost transport fails crashy's part at once (§6.4 step 4); waiting for the deadline would
    // fail the test by its timeout.
    const res = await clients.resolver.getSecrets({ pattern: 'shared/a' });
    expect(res.envelopes.map((e) => e.provider)).toEqual(['good']);
    await waitGone([crashyPid], { timeoutMs: 10_000 });
  });
});

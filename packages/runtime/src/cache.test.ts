// The opt-in answer cache (issue 15 item 6) on a real engine with a builtin provider that counts
// the calls it gets: what is kept, what never is, expiry, bypass, disable, bounds, configuration.
import { Code, ConnectError } from '@connectrpc/connect';
import { describe, expect, it } from 'vitest';
import { builtin, connectError, startedEngine } from './__tests__/helpers.js';
import { createEngine, EngineConfigError } from './index.js';

/** A builtin provider under `b/**` that counts its calls per pattern. */
function counting() {
  const calls = new Map<string, number>();
  const failOnce = new Set(['b/flaky']);
  const expiresIn = { ms: 0 };
  const plugin = builtin('b', 'b/**', (pattern) => {
    calls.set(pattern, (calls.get(pattern) ?? 0) + 1);
    if (pattern === 'b/flaky' && failOnce.delete(pattern)) throw new Error('backend down');
    if (pattern === 'b/broken') throw new ConnectError('denied by the backend', Code.PermissionDenied);
    if (pattern === 'b/missing') return [];
    const n = calls.get(pattern);
    if (pattern.startsWith('b/expiring')) {
      return [{ id: pattern, value: `v${n}`, expiresAt: new Date(Date.now() + expiresIn.ms) }];
    }
    return [{ id: pattern, value: `v${n}` }];
  });
  return { plugin, calls: (p: string) => calls.get(p) ?? 0, expiresIn };
}

const value = async (engine: Awaited<ReturnType<typeof startedEngine>>, id: string, noCache = false) => {
  const [env] = await engine.getSecrets(id, noCache ? { noCache } : {});
  return env!.revealText();
};

describe('the answer cache', () => {
  it('answers again from the cache within the TTL, and the plugin is not asked', async () => {
    const b = counting();
    const engine = await startedEngine({ plugins: [b.plugin], cache: { b: { ttlMs: 60_000 } } });
    expect(await value(engine, 'b/ok')).toBe('v1');
    expect(await value(engine, 'b/ok')).toBe('v1');
    expect(b.calls('b/ok')).toBe(1);
    // Another pattern is another entry.
    expect(await value(engine, 'b/other')).toBe('v1');
    expect(b.calls('b/other')).toBe(1);
  });

  it('plugins without a cache are always asked', async () => {
    const b = counting();
    const engine = await startedEngine({ plugins: [b.plugin], cache: { someone_else: { ttlMs: 60_000 } } });
    await value(engine, 'b/ok');
    await value(engine, 'b/ok');
    expect(b.calls('b/ok')).toBe(2);
  });

  it('never keeps an error or a not-found', async () => {
    const b = counting();
    const engine = await startedEngine({ plugins: [b.plugin], cache: { b: { ttlMs: 60_000 } } });
    expect((await connectError(engine.getSecrets('b/flaky'))).code).toBe(Code.Unavailable);
    expect(await value(engine, 'b/flaky')).toBe('v2');
    expect(await value(engine, 'b/flaky')).toBe('v2');
    expect(b.calls('b/flaky')).toBe(2);
    for (let i = 0; i < 2; i++) {
      // The plugin's failure, named (unavailable: the resolver's code for a request no plugin answered).
      const broken = await connectError(engine.getSecrets('b/broken'));
      expect(broken.code).toBe(Code.Unavailable);
      expect(broken.rawMessage).toMatch(/denied by the backend/);
      expect((await connectError(engine.getSecrets('b/missing'))).code).toBe(Code.NotFound);
    }
    expect(b.calls('b/broken')).toBe(2);
    expect(b.calls('b/missing')).toBe(2);
  });

  it('never serves an envelope past its expires_at, whatever the TTL', async () => {
    const b = counting();
    b.expiresIn.ms = 300;
    const engine = await startedEngine({ plugins: [b.plugin], cache: { b: { ttlMs: 60_000 } } });
    const [first] = await engine.getSecrets('b/expiring');
    const expiry = first!.expiresAt!.getTime();
    const again = await engine.getSecrets('b/expiring');
    if (Date.now() < expiry) {
      // Still valid: from the cache (the same value, the plugin asked once).
      expect(again[0]!.revealText()).toBe('v1');
    }
    while (Date.now() <= expiry) await new Promise((r) => setTimeout(r, 20));
    const [later] = await engine.getSecrets('b/expiring');
    expect(later!.expiresAt!.getTime()).toBeGreaterThan(expiry);
    expect(b.calls('b/expiring')).toBeGreaterThanOrEqual(2);
    // An answer that has already expired is not kept at all.
    b.expiresIn.ms = -1_000;
    await engine.getSecrets('b/expiring-already');
    await engine.getSecrets('b/expiring-already');
    expect(b.calls('b/expiring-already')).toBe(2);
  });

  it('an entry goes when its TTL is over', async () => {
    const b = counting();
    const engine = await startedEngine({ plugins: [b.plugin], cache: { b: { ttlMs: 200 } } });
    const started = Date.now();
    expect(await value(engine, 'b/ok')).toBe('v1');
    while (Date.now() - started <= 250) await new Promise((r) => setTimeout(r, 20));
    expect(await value(engine, 'b/ok')).toBe('v2');
  });

  it('noCache asks the plugin, and its fresh answer is what the cache keeps', async () => {
    const b = counting();
    const engine = await startedEngine({ plugins: [b.plugin], cache: { b: { ttlMs: 60_000 } } });
    expect(await value(engine, 'b/ok')).toBe('v1');
    expect(await value(engine, 'b/ok', true)).toBe('v2');
    expect(await value(engine, 'b/ok')).toBe('v2');
    expect(b.calls('b/ok')).toBe(2);
  });

  it('is dropped when the plugin is disabled', async () => {
    const b = counting();
    const engine = await startedEngine({ plugins: [b.plugin], cache: { b: { ttlMs: 60_000 } } });
    expect(await value(engine, 'b/ok')).toBe('v1');
    await engine.disablePlugin('b');
    await engine.enablePlugin('b');
    expect(await value(engine, 'b/ok')).toBe('v2');
  });

  it('keeps at most maxEntries per plugin, the oldest out first', async () => {
    const b = counting();
    const engine = await startedEngine({
      plugins: [b.plugin],
      cache: { b: { ttlMs: 60_000, maxEntries: 2 } },
    });
    for (const id of ['b/1', 'b/2', 'b/3']) await value(engine, id);
    await value(engine, 'b/3');
    await value(engine, 'b/2');
    expect([b.calls('b/1'), b.calls('b/2'), b.calls('b/3')]).toEqual([1, 1, 1]);
    await value(engine, 'b/1');
    expect(b.calls('b/1')).toBe(2);
  });

  it('keeps at most maxBytes of values per plugin, and never an answer larger than that', async () => {
    const b = counting();
    const engine = await startedEngine({ plugins: [b.plugin], cache: { b: { ttlMs: 60_000, maxBytes: 4 } } });
    // Values of 2 bytes ("v1"): two fit, a third pushes the oldest out.
    for (const id of ['b/1', 'b/2', 'b/3']) await value(engine, id);
    await value(engine, 'b/2');
    await value(engine, 'b/3');
    expect([b.calls('b/2'), b.calls('b/3')]).toEqual([1, 1]);
    await value(engine, 'b/1');
    expect(b.calls('b/1')).toBe(2);
    const big = builtin('big', 'big/**', (p) => [{ id: p, value: 'x'.repeat(10) }]);
    let asked = 0;
    const counted = {
      ...big,
      getSecrets: (p: never, o: never) => {
        asked++;
        return big.getSecrets(p, o);
      },
    };
    const other = await startedEngine({ plugins: [counted], cache: { big: { ttlMs: 60_000, maxBytes: 4 } } });
    await other.getSecrets('big/a');
    await other.getSecrets('big/a');
    expect(asked).toBe(2);
  });

  it('is configured per plugin, with errors naming the plugin and the field', () => {
    const bad = (cache: unknown) => () => createEngine({ socketPath: '/tmp/x.sock', cache: cache as never });
    expect(bad({ vault: { ttlMs: 0 } })).toThrow(
      new EngineConfigError(
        'createEngine: cache["vault"].ttlMs must be a whole number from 1 to 86400000, got 0',
      ),
    );
    expect(bad({ vault: { ttlMs: 1.5 } })).toThrow(/cache\["vault"\]\.ttlMs must be a whole number/);
    expect(bad({ vault: { ttl: 5 } })).toThrow(
      'createEngine: cache["vault"]: unknown option "ttl" (allowed: ttlMs, maxEntries, maxBytes)',
    );
    expect(bad({ vault: { ttlMs: 5, maxEntries: -1 } })).toThrow(/cache\["vault"\]\.maxEntries must be/);
    expect(bad({ vault: null })).toThrow(
      'createEngine: cache["vault"] must be an object such as { ttlMs: 30000 }',
    );
    expect(bad([])).toThrow('createEngine: cache must be an object of plugin name → { ttlMs }');
  });
});

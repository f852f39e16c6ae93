// GetSecrets fan-out (protocol.md §6.4, and §0 "where we deliberately do better"): narrowing,
// concurrency, ordering, envelope fix-ups, and per-plugin failure isolation.
import { getEventListeners } from 'node:events';
import { create } from '@bufbuild/protobuf';
import { TimestampSchema } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError } from '@connectrpc/connect';
import { GO_ZERO_TIMESTAMP, isGoZeroTime, parsePattern, parseVersion } from '@secrets-engine/secrets';
import { describe, expect, it } from 'vitest';
import { captureLogger, connectError, dec, envelope, type ProtoEnvelope } from './__tests__/helpers.js';
import type { Provider } from './provider.js';
import { resolveSecrets } from './resolver.js';

interface FakeProvider extends Provider {
  calls: string[];
}

function provider(
  name: string,
  pattern: string,
  answer: (pattern: string, signal: AbortSignal) => ProtoEnvelope[] | Promise<ProtoEnvelope[]>,
): FakeProvider {
  const calls: string[] = [];
  return {
    name,
    version: parseVersion('v1'),
    pattern: parsePattern(pattern),
    calls,
    async getSecrets(p, options) {
      calls.push(p);
      return answer(p, options.signal);
    },
  };
}

/** Answers one envelope per call, id = the pattern with globs replaced. */
function echo(name: string, pattern: string): FakeProvider {
  return provider(name, pattern, (p) => [envelope(p.replace(/\*\*?/g, 'x'), `${name}:${p}`)]);
}

const opts = () => ({ requestTimeoutMs: 2_000, logger: captureLogger() });

describe('resolveSecrets', () => {
  it('refuses an invalid pattern with invalid_argument `invalid pattern "<p>": …`', async () => {
    for (const p of ['*a*', '', '/a', 'a//b', 'a b']) {
      const err = await connectError(resolveSecrets(p, [echo('a', '**')], opts()));
      expect(err.code).toBe(Code.InvalidArgument);
      expect(err.rawMessage.startsWith(`invalid pattern ${JSON.stringify(p)}: `)).toBe(true);
      // Said once, with the reason (Go says `invalid pattern "<p>": invalid pattern`).
      expect(err.rawMessage.split('invalid pattern')).toHaveLength(2);
      expect(err.rawMessage.length).toBeGreaterThan(`invalid pattern ${JSON.stringify(p)}: `.length);
    }
  });

  it('calls only overlapping providers, each with the narrowed pattern (Go TestResolver)', async () => {
    const sub1 = echo('sub1', 'base/sub1/*');
    const sub2 = echo('sub2', 'base/sub2/*');
    const other = echo('other', 'elsewhere/**');
    const all = await resolveSecrets('base/**', [sub1, sub2, other], opts());
    expect(sub1.calls).toEqual(['base/sub1/*']);
    expect(sub2.calls).toEqual(['base/sub2/*']);
    expect(other.calls).toEqual([]);
    expect(all.map((e) => e.id)).toEqual(['base/sub1/x', 'base/sub2/x']);

    const one = await resolveSecrets('base/sub2/baz', [sub1, sub2, other], opts());
    expect(sub1.calls).toEqual(['base/sub1/*']);
    expect(sub2.calls).toEqual(['base/sub2/*', 'base/sub2/baz']);
    expect(one.map((e) => e.id)).toEqual(['base/sub2/baz']);
  });

  it('calls providers concurrently: a slow one does not hold back the start of the others', async () => {
    const started: string[] = [];
    let releaseSlow!: () => void;
    const slowMayFinish = new Promise<void>((resolve) => {
      releaseSlow = resolve;
    });
    // "a" is first in order and only finishes once "c" has been called: sequential calls deadlock.
    const a = provider('a', '**', async () => {
      started.push('a');
      await slowMayFinish;
      return [envelope('a/1', 'A')];
    });
    const b = provider('b', '**', () => {
      started.push('b');
      return [envelope('b/1', 'B')];
    });
    const c = provider('c', '**', () => {
      started.push('c');
      releaseSlow();
      return [envelope('c/1', 'C')];
    });
    const result = await resolveSecrets('**', [c, a, b], opts());
    expect(started).toEqual(['a', 'b', 'c']);
    // Results keep the provider-name order whatever order they finished in.
    expect(result.map((e) => e.provider)).toEqual(['a', 'b', 'c']);
  });

  it('orders results by provider name and does not de-duplicate (Go "non-unique secrets")', async () => {
    const foo = provider('plugin-foo', '**', () => [
      envelope('same/id', 'from-foo'),
      envelope('foo/2', 'f2'),
    ]);
    const bar = provider('plugin-bar', '**', () => [envelope('same/id', 'from-bar')]);
    const result = await resolveSecrets('**', [foo, bar], opts());
    expect(result.map((e) => [e.id, e.provider, dec(e.value)])).toEqual([
      ['same/id', 'plugin-bar', 'from-bar'],
      ['same/id', 'plugin-foo', 'from-foo'],
      ['foo/2', 'plugin-foo', 'f2'],
    ]);
  });

  it('drops envelopes with an invalid ID (logged) and overwrites provider with the registered name', async () => {
    const logger = captureLogger();
    const p = provider('real-name', '**', () => [
      envelope('bad id', 'x', { provider: 'spoofed' }),
      envelope('', 'x'),
      envelope('a//b', 'x'),
      envelope('good/id', 'v', { provider: 'spoofed' }),
    ]);
    const result = await resolveSecrets('**', [p], { requestTimeoutMs: 1_000, logger });
    expect(result.map((e) => [e.id, e.provider])).toEqual([['good/id', 'real-name']]);
    const drops = logger.entries.filter((e) => e.message === 'dropping an envelope with an invalid ID');
    expect(drops.map((e) => e.attributes.id)).toEqual(['bad id', '', 'a//b']);
    expect(drops.every((e) => e.attributes.plugin === 'real-name')).toBe(true);
  });

  it('passes value, metadata, version and set times through', async () => {
    const created = create(TimestampSchema, { seconds: 1_700_000_000n, nanos: 123 });
    const expires = create(TimestampSchema, { seconds: 1_800_000_000n, nanos: 0 });
    const p = provider('p', 'a/**', () => [
      envelope('a/b', 'v', {
        version: '7',
        metadata: { k: 'v', other: '' },
        createdAt: created,
        expiresAt: expires,
      }),
    ]);
    const [e] = await resolveSecrets('a/**', [p], opts());
    expect(e?.id).toBe('a/b');
    expect(dec(e!.value)).toBe('v');
    expect(e?.version).toBe('7');
    expect(e?.metadata).toEqual({ k: 'v', other: '' });
    expect(e?.createdAt).toEqual(created);
    expect(e?.expiresAt).toEqual(expires);
  });

  it('fills resolved_at when unset or Go-zero, keeps it otherwise; writes unset created/expires as Go zero', async () => {
    const kept = create(TimestampSchema, { seconds: 1_600_000_000n, nanos: 5 });
    const epoch = create(TimestampSchema, { seconds: 0n, nanos: 0 });
    const p = provider('p', '**', () => [
      envelope('unset', 'v'),
      envelope('go-zero', 'v', { resolvedAt: create(TimestampSchema, GO_ZERO_TIMESTAMP) }),
      envelope('kept', 'v', { resolvedAt: kept }),
      envelope('epoch', 'v', { resolvedAt: epoch }),
    ]);
    const before = BigInt(Math.floor(Date.now() / 1000));
    const result = await resolveSecrets('**', [p], opts());
    const after = BigInt(Math.ceil(Date.now() / 1000));
    const byId = Object.fromEntries(result.map((e) => [e.id, e]));
    for (const id of ['unset', 'go-zero']) {
      const at = byId[id]!.resolvedAt!;
      expect(at.seconds >= before && at.seconds <= after).toBe(true);
    }
    expect(byId.kept!.resolvedAt).toEqual(kept);
    // Only the Go zero time means "unset" (§4.4); 1970 is a real time.
    expect(byId.epoch!.resolvedAt).toEqual(epoch);
    for (const e of result) {
      expect(isGoZeroTime(e.createdAt)).toBe(true);
      expect(isGoZeroTime(e.expiresAt)).toBe(true);
    }
  });

  it('stamps resolved_at with sub-millisecond precision, as Go time.Now() does (issue 13 item 5)', async () => {
    const p = provider('p', '**', () => [envelope('unset', 'v')]);
    const nanos: number[] = [];
    for (let i = 0; i < 50; i++) nanos.push((await resolveSecrets('**', [p], opts()))[0]!.resolvedAt!.nanos);
    // 50 stamps all on whole milliseconds would mean Date.now() precision.
    expect(nanos.some((n) => n % 1_000_000 !== 0)).toBe(true);
  });

  it('does not mutate the messages a provider returned', async () => {
    const mine = envelope('a', 'v', { provider: 'mine' });
    const p = provider('p', '**', () => [mine]);
    const [out] = await resolveSecrets('**', [p], opts());
    expect(out?.provider).toBe('p');
    expect(mine.provider).toBe('mine');
    expect(mine.resolvedAt).toBeUndefined();
    expect(mine.createdAt).toBeUndefined();
  });

  it('skips not_found silently, and other errors with a log line, without failing the request', async () => {
    const logger = captureLogger();
    const missing = provider('a-missing', '**', () => {
      throw new ConnectError('secret not found', Code.NotFound);
    });
    const broken = provider('b-broken', '**', () => {
      throw new ConnectError('backend down', Code.Internal);
    });
    const gone = provider('c-gone', '**', () => {
      throw new ConnectError('transport: session closed', Code.Unavailable);
    });
    const plain = provider('d-plain', '**', () => {
      throw new TypeError('oops');
    });
    const ok = echo('e-ok', '**');
    const result = await resolveSecrets('**', [ok, plain, gone, broken, missing], {
      requestTimeoutMs: 1_000,
      logger,
    });
    expect(result.map((e) => e.provider)).toEqual(['e-ok']);
    const failed = logger.entries.filter((e) => e.message === 'plugin failed');
    expect(failed.map((e) => [e.attributes.plugin, e.attributes.code])).toEqual([
      ['b-broken', 'Internal'],
      ['c-gone', 'Unavailable'],
      ['d-plain', 'Unknown'],
    ]);
    expect(logger.entries.some((e) => e.attributes.plugin === 'a-missing')).toBe(false);
  });

  it('answers not_found "secret not found" when every plugin asked answered and none had a match', async () => {
    const cases: Provider[][] = [
      [],
      [echo('x', 'other/**')],
      [provider('a', '**', () => [])],
      [
        provider('a', '**', () => {
          throw new ConnectError('secret not found', Code.NotFound);
        }),
        provider('c', '**', () => [envelope('bad id', 'x')]),
        // An answer outside the request is no answer (never a near-match).
        provider('d', '**', () => [envelope('elsewhere/x', 'x')]),
      ],
    ];
    for (const providers of cases) {
      const err = await connectError(resolveSecrets('base/**', providers, opts()));
      expect(err.code).toBe(Code.NotFound);
      expect(err.rawMessage).toBe('secret not found');
    }
  });

  it('drops envelopes outside the request or the narrowed pattern, logs the plugin and the count', async () => {
    const logger = captureLogger();
    const liar = provider('liar', 'cli/**', () => [
      envelope('cli/token', 'wrong'),
      envelope('cli/nothing', 'right'),
      envelope('other/x', 'outside its own pattern'),
    ]);
    const result = await resolveSecrets('cli/nothing', [liar], { requestTimeoutMs: 1_000, logger });
    expect(result.map((e) => [e.id, dec(e.value)])).toEqual([['cli/nothing', 'right']]);
    const err = await connectError(resolveSecrets('cli/none', [liar], { requestTimeoutMs: 1_000, logger }));
    expect(err.code).toBe(Code.NotFound);
    const lines = logger.entries.filter((e) => e.message === 'dropping envelopes outside the request');
    expect(lines.map((l) => l.attributes)).toEqual([
      { plugin: 'liar', count: 2, pattern: 'cli/nothing' },
      { plugin: 'liar', count: 3, pattern: 'cli/none' },
    ]);
    // Never a value in the log.
    expect(logger.lines().join('\n')).not.toMatch(/wrong|right|outside its own/);
  });

  it('nothing found and a plugin failed: unavailable, naming each plugin and why (never not_found)', async () => {
    const providers = [
      provider('a', '**', () => {
        throw new ConnectError('secret not found', Code.NotFound);
      }),
      provider('b', '**', () => {
        throw new Error('boom');
      }),
      provider('c', '**', () => new Promise<ProtoEnvelope[]>(() => {})),
    ];
    const err = await connectError(
      resolveSecrets('base/**', providers, { requestTimeoutMs: 50, logger: captureLogger() }),
    );
    expect(err.code).toBe(Code.Unavailable);
    expect(err.rawMessage).toBe(
      'no secret found for "base/**", but 2 plugins could not answer: plugin "b" failed (unknown: boom); plugin "c" missed its deadline (50 ms)',
    );
  });

  it('a partial answer returns what was found and reports the failed plugins', async () => {
    const partial: unknown[] = [];
    const providers = [
      provider('a', '**', () => [envelope('base/x', 'v')]),
      provider('b', '**', () => {
        throw new ConnectError('locked', Code.PermissionDenied);
      }),
    ];
    const result = await resolveSecrets('base/**', providers, {
      ...opts(),
      onPartial: (failures) => partial.push(...failures),
    });
    expect(result.map((e) => e.id)).toEqual(['base/x']);
    expect(partial).toEqual([
      { plugin: 'b', code: Code.PermissionDenied, message: 'failed (permission_denied: locked)' },
    ]);
  });

  it('skips a provider that misses its deadline, even one that ignores its signal', async () => {
    const logger = captureLogger();
    let sawAbort = false;
    const polite = provider('a-polite', '**', (_p, signal) => {
      return new Promise<ProtoEnvelope[]>((_resolve, reject) => {
        signal.addEventListener('abort', () => {
          sawAbort = true;
          reject(signal.reason);
        });
      });
    });
    const deaf = provider('b-deaf', '**', () => new Promise<ProtoEnvelope[]>(() => {}));
    const ok = echo('c-ok', '**');
    const started = Date.now();
    const result = await resolveSecrets('**', [deaf, polite, ok], { requestTimeoutMs: 150, logger });
    const elapsed = Date.now() - started;
    expect(result.map((e) => e.provider)).toEqual(['c-ok']);
    expect(sawAbort).toBe(true);
    expect(elapsed).toBeGreaterThanOrEqual(140);
    expect(elapsed).toBeLessThan(2_000);
    const missed = logger.entries.filter((e) => e.message === 'plugin missed its deadline');
    expect(missed.map((e) => e.attributes.plugin).sort()).toEqual(['a-polite', 'b-deaf']);
  });

  it('with only deaf providers, answers deadline_exceeded once the deadline passes', async () => {
    const deaf = provider('deaf', '**', () => new Promise<ProtoEnvelope[]>(() => {}));
    const started = Date.now();
    const err = await connectError(
      resolveSecrets('**', [deaf], { requestTimeoutMs: 100, logger: captureLogger() }),
    );
    expect(err.code).toBe(Code.DeadlineExceeded);
    expect(err.rawMessage).toContain('plugin "deaf" missed its deadline (100 ms)');
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('passes the deadline to each provider and has none with requestTimeoutMs 0', async () => {
    const seen: number[] = [];
    const p: Provider = {
      name: 'p',
      version: parseVersion('v1'),
      pattern: parsePattern('**'),
      async getSecrets(_pattern, options) {
        seen.push(options.timeoutMs);
        return [envelope('a', 'v')];
      },
    };
    await resolveSecrets('**', [p], { requestTimeoutMs: 1234, logger: captureLogger() });
    await resolveSecrets('**', [p], { requestTimeoutMs: 0, logger: captureLogger() });
    expect(seen).toEqual([1234, 0]);
  });

  it('stops waiting when the caller aborts, without logging plugin failures', async () => {
    const logger = captureLogger();
    const hang = provider('hang', '**', () => new Promise<ProtoEnvelope[]>(() => {}));
    const controller = new AbortController();
    const pending = resolveSecrets('**', [hang], { requestTimeoutMs: 0, logger, signal: controller.signal });
    setTimeout(() => controller.abort(new Error('client went away')), 20);
    await expect(pending).rejects.toThrow('client went away');
    expect(logger.entries.filter((e) => e.level !== 'debug')).toEqual([]);
  });

  it('one signal per request, ended by the caller or the shutdown signal, and no listener left behind', async () => {
    const shutdown = new AbortController();
    const caller = new AbortController();
    const seen = new Set<AbortSignal>();
    const many = Array.from({ length: 20 }, (_, i) =>
      provider(`p${String(i).padStart(2, '0')}`, '**', (p, signal) => {
        seen.add(signal);
        return [envelope(`${p.replace(/\*\*?/g, 'x')}`, 'v')];
      }),
    );
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      for (let i = 0; i < 30; i++) {
        await resolveSecrets('**', many, {
          ...opts(),
          signal: caller.signal,
          shutdownSignal: shutdown.signal,
        });
      }
      // And 30 at once, as on a busy engine: each holds one listener on the shared shutdown signal.
      await Promise.all(
        Array.from({ length: 30 }, () =>
          resolveSecrets('**', many, {
            ...opts(),
            signal: new AbortController().signal,
            shutdownSignal: shutdown.signal,
          }),
        ),
      );
      // A warning is emitted on a later tick: wait for it before looking.
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    // Every plugin of a request gets the same signal; a new one per request.
    expect(seen.size).toBe(60);
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0);
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0);
    expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    // The shutdown signal ends a request in flight with its reason.
    const hang = provider('hang', '**', () => new Promise<ProtoEnvelope[]>(() => {}));
    const pending = resolveSecrets('**', [hang], { ...opts(), shutdownSignal: shutdown.signal });
    shutdown.abort(new ConnectError('engine stopping', Code.Unavailable));
    await expect(pending).rejects.toThrow('engine stopping');
  });

  it("fills a session provider's envelopes in place and copies a builtin provider's", async () => {
    const kept = envelope('a', 'v');
    const builtin = provider('builtin', 'a', () => [kept]);
    const [fromBuiltin] = await resolveSecrets('a', [builtin], opts());
    expect(fromBuiltin).not.toBe(kept);
    expect(kept.provider).toBe('');
    const own = envelope('a', 'v');
    const session: Provider = { ...provider('session', 'a', () => [own]), freshEnvelopes: true };
    const [fromSession] = await resolveSecrets('a', [session], opts());
    expect(fromSession).toBe(own);
    expect(own.provider).toBe('session');
  });
});

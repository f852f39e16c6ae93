// How getSecrets results and failures reach the engine (protocol.md §6.4, §11 fact 6): the codes
// and messages a Go engine acts on, the handler's abort signal, and invalid envelopes.
import { Code, ConnectError } from '@connectrpc/connect';
import { envelopeFromProto } from '@secrets-engine/secrets';
import { describe, expect, it } from 'vitest';
import { recordingLogger, startHijackEngine } from './__tests__/engine.js';
import {
  createEnvelope,
  createPlugin,
  type GetSecretsHandler,
  NotFoundError,
  type PluginOptions,
} from './index.js';
import { startPluginHarness } from './testing/index.js';

function options(getSecrets: GetSecretsHandler, extra: Partial<PluginOptions> = {}): PluginOptions {
  return { name: 'errs', version: 'v1.0.0', pattern: 'errs/**', getSecrets, ...extra };
}

async function failure(p: Promise<unknown>): Promise<ConnectError> {
  const err = await p.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConnectError);
  return err as ConnectError;
}

describe('not found', () => {
  it.each([
    ['NotFoundError', () => Promise.reject(new NotFoundError())],
    ['NotFoundError with its own message', () => Promise.reject(new NotFoundError('nothing in the vault'))],
    ['an empty list', () => []],
    ['an empty iterable', () => new Set()],
    ['undefined', () => undefined as never],
  ])('%s → not_found "secret not found"', async (_what, handler) => {
    await using h = await startPluginHarness(options(handler as GetSecretsHandler));
    const err = await failure(h.getSecrets('errs/x'));
    expect([err.code, err.rawMessage]).toEqual([Code.NotFound, 'secret not found']);
  });
});

describe('invalid request pattern', () => {
  it.each(['a*b', '', '/x', 'x//y', 'errs/***'])(
    '%j → invalid_argument, the handler is not called',
    async (p) => {
      const calls: string[] = [];
      await using h = await startPluginHarness(
        options((pattern) => {
          calls.push(pattern);
          return [];
        }),
      );
      const err = await failure(h.getSecrets(p));
      expect(err.code).toBe(Code.InvalidArgument);
      expect(err.rawMessage).toMatch(/invalid pattern/);
      expect(calls).toEqual([]);
    },
  );
});

describe('handler errors', () => {
  it('a thrown Error → internal `failed to get secret "<p>": <message>`, without a stack trace', async () => {
    const logger = recordingLogger();
    await using h = await startPluginHarness(
      options(
        () => {
          throw new Error('backend down');
        },
        { logger },
      ),
    );
    const err = await failure(h.getSecrets('errs/**'));
    expect([err.code, err.rawMessage]).toEqual([
      Code.Internal,
      'failed to get secret "errs/**": backend down',
    ]);
    expect(err.rawMessage).not.toMatch(/\n|\bat .*:\d+|errors\.test/);
    // Logged too (message only, no stack).
    const line = logger.lines.find((l) => l.includes('getSecrets failed'));
    expect(JSON.parse(line!)).toMatchObject({ level: 'warn', pattern: 'errs/**', error: 'backend down' });
    expect(line).not.toMatch(/\bat .*:\d+/);
  });

  it('an async rejection and a non-Error value are mapped the same way', async () => {
    await using h = await startPluginHarness(
      options(async (pattern) => {
        if (pattern === 'errs/str') throw 'plain string';
        await Promise.resolve();
        throw new TypeError('bad thing');
      }),
    );
    const a = await failure(h.getSecrets('errs/str'));
    expect([a.code, a.rawMessage]).toEqual([Code.Internal, 'failed to get secret "errs/str": plain string']);
    const b = await failure(h.getSecrets('errs/x'));
    expect([b.code, b.rawMessage]).toEqual([Code.Internal, 'failed to get secret "errs/x": bad thing']);
  });

  it('a ConnectError thrown by the handler passes through unchanged', async () => {
    await using h = await startPluginHarness(
      options((pattern) => {
        if (pattern === 'errs/denied') throw new ConnectError('ask the admin', Code.PermissionDenied);
        throw new ConnectError('vault sealed', Code.Unavailable);
      }),
    );
    const a = await failure(h.getSecrets('errs/denied'));
    expect([a.code, a.rawMessage]).toEqual([Code.PermissionDenied, 'ask the admin']);
    const b = await failure(h.getSecrets('errs/x'));
    expect([b.code, b.rawMessage]).toEqual([Code.Unavailable, 'vault sealed']);
  });

  it('a result that is not iterable → internal', async () => {
    await using h = await startPluginHarness(options(() => ({ id: 'errs/a', value: 'x' }) as never));
    const err = await failure(h.getSecrets('errs/a'));
    expect([err.code, err.rawMessage]).toEqual([
      Code.Internal,
      'failed to get secret "errs/a": getSecrets must return an iterable of envelopes',
    ]);
  });
});

describe("the handler's signal", () => {
  function hanging() {
    let started!: () => void;
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });
    let aborted!: (reason: unknown) => void;
    const abort = new Promise<unknown>((resolve) => {
      aborted = resolve;
    });
    const handler: GetSecretsHandler = (_pattern, { signal }) => {
      started();
      return new Promise((_resolve, reject) => {
        signal.addEventListener('abort', () => {
          aborted(signal.reason);
          reject(signal.reason);
        });
      });
    };
    return { handler, running, abort };
  }

  it('is aborted when the engine cancels the call', async () => {
    const { handler, running, abort } = hanging();
    await using h = await startPluginHarness(options(handler));
    const controller = new AbortController();
    const call = failure(h.getSecrets('errs/slow', { signal: controller.signal }));
    await running;
    controller.abort();
    expect((await call).code).toBe(Code.Canceled);
    expect(await abort).toBeInstanceOf(ConnectError);
  });

  it('is aborted when the deadline passes', async () => {
    const { handler, running, abort } = hanging();
    await using h = await startPluginHarness(options(handler));
    const call = failure(h.getSecrets('errs/slow', { timeoutMs: 200 }));
    await running;
    const started = Date.now();
    expect((await call).code).toBe(Code.DeadlineExceeded);
    // The engine's deadline (connect-timeout-ms) or the engine dropping the stream at that deadline,
    // whichever the plugin sees first.
    expect([Code.DeadlineExceeded, Code.Canceled]).toContain(((await abort) as ConnectError).code);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('is aborted when the plugin shuts down (after the 2 s drain of §2.4)', async () => {
    const { handler, running, abort } = hanging();
    const h = await startPluginHarness(options(handler));
    const call = h.getSecrets('errs/slow').catch((e: unknown) => e);
    await running;
    await h.close();
    await abort;
    expect(await call).toBeInstanceOf(ConnectError);
  });
});

describe('envelopes', () => {
  it('invalid entries are dropped and logged (without the value); valid ones are returned', async () => {
    const logger = recordingLogger();
    await using h = await startPluginHarness(
      options(
        () => [
          { id: 'errs/ok', value: 'ok-value' },
          { id: 'errs//bad', value: 'DROPPED-VALUE-1' },
          { id: 'errs/bad*', value: 'DROPPED-VALUE-2' },
          { id: 'errs/num', value: 42 as never },
          null as never,
          createEnvelope({ id: 'errs/made', value: 'made-value', metadata: { k: 'v' } }),
        ],
        { logger },
      ),
    );
    const envelopes = await h.getSecrets('errs/**');
    expect(envelopes.map((e) => [e.id, e.revealText()])).toEqual([
      ['errs/ok', 'ok-value'],
      ['errs/made', 'made-value'],
    ]);
    expect(envelopes[1]?.metadata).toEqual({ k: 'v' });
    const dropped = logger.lines.filter((l) => l.includes('dropping an invalid envelope'));
    expect(dropped).toHaveLength(4);
    expect(dropped.join('\n')).toContain('errs//bad');
    for (const line of logger.lines) expect(line).not.toMatch(/DROPPED-VALUE|42/);
  });

  it('only invalid entries → not_found', async () => {
    await using h = await startPluginHarness(options(() => [{ id: 'errs//bad', value: 'v' }]));
    const err = await failure(h.getSecrets('errs/**'));
    expect([err.code, err.rawMessage]).toEqual([Code.NotFound, 'secret not found']);
  });

  it('all fields travel; unset times arrive unset, set ones exact to the ms', async () => {
    const created = new Date('2026-01-02T03:04:05.678Z');
    // What crosses the socket, read by a raw engine (the harness stamps as the engine does, below).
    const engine = await startHijackEngine();
    const plugin = createPlugin({
      ...options(() => [
        {
          id: 'errs/full',
          value: new Uint8Array([0, 1, 2, 255]),
          provider: 'mine',
          version: '7',
          createdAt: created,
          metadata: { a: '1' },
        },
      ]),
      env: { SECRETS_ENGINE_SOCKET: engine.socketPath },
    });
    const serving = plugin.serve({ handleSignals: false });
    serving.catch(() => {});
    try {
      const connection = await engine.nextConnection();
      await connection.registration;
      const res = await connection.resolver.getSecrets({ pattern: 'errs/full' });
      const env = envelopeFromProto(res.envelopes[0]!);
      expect(env).toMatchObject({
        id: 'errs/full',
        provider: 'mine',
        version: '7',
        createdAt: created,
        resolvedAt: undefined,
        expiresAt: undefined,
        metadata: { a: '1' },
      });
      expect([...env.revealValue()]).toEqual([0, 1, 2, 255]);
    } finally {
      await plugin.close();
      await engine.close();
    }
  });

  it('the harness stamps as the engine does: provider is the plugin, resolved_at filled when unset', async () => {
    const resolved = new Date('2026-03-04T05:06:07.890Z');
    const before = Date.now();
    await using h = await startPluginHarness(
      options(() => [{ id: 'errs/unset', value: 'x', provider: 'mine' }]),
    );
    const [unset] = await h.getSecrets('errs/unset');
    expect(unset!.provider).toBe('errs');
    expect(unset!.resolvedAt!.getTime()).toBeGreaterThanOrEqual(before - 1);
    expect(unset!.resolvedAt!.getTime()).toBeLessThanOrEqual(Date.now() + 1);
    await using h2 = await startPluginHarness(
      options(() => [{ id: 'errs/set', value: 'x', resolvedAt: resolved }]),
    );
    const [set] = await h2.getSecrets('errs/set');
    expect(set).toMatchObject({ provider: 'errs', resolvedAt: resolved });
  });

  it('the handler receives the parsed pattern (IDs with ":" are valid at HEAD)', async () => {
    const seen: string[] = [];
    await using h = await startPluginHarness(
      options((pattern) => {
        seen.push(pattern);
        return [{ id: 'errs/a:b', value: 'x' }];
      }),
    );
    expect((await h.getSecrets('errs/a:b')).map((e) => e.id)).toEqual(['errs/a:b']);
    expect(seen).toEqual(['errs/a:b']);
  });
});

// The engine with builtin plugins only (no processes, protocol.md §7.6, §7.7): option validation,
// failure isolation of builtins, listing, enable/disable, events.
import { Code } from '@connectrpc/connect';
import { NotFoundError } from '@secrets-engine/secrets';
import { describe, expect, it, onTestFinished } from 'vitest';
import { builtin, captureLogger, tempSocketPath } from './__tests__/helpers.js';
import {
  type BuiltinPlugin,
  createEngine,
  ENGINE_VERSION,
  type Engine,
  EngineConfigError,
  type EngineOptions,
  type PluginInfo,
  PluginNotFoundError,
  RuntimeError,
} from './index.js';

function engine(options: EngineOptions = {}): Engine {
  const e = createEngine({ socketPath: tempSocketPath(), ...options });
  onTestFinished(() => e.close());
  return e;
}

function configError(options: EngineOptions): EngineConfigError {
  try {
    createEngine({ socketPath: '/nonexistent/never-used.sock', ...options });
  } catch (err) {
    expect(err).toBeInstanceOf(EngineConfigError);
    expect(err).toBeInstanceOf(RuntimeError);
    expect((err as Error).name).toBe('EngineConfigError');
    return err as EngineConfigError;
  }
  throw new Error('expected createEngine to throw');
}

const ok = (name = 'ok', pattern = '**'): BuiltinPlugin =>
  builtin(name, pattern, () => [{ id: `${name}/secret`, value: `value-of-${name}` }]);

describe('createEngine: option validation (EngineConfigError)', () => {
  it('refuses a bad engine version', () => {
    expect(configError({ version: '1.0.0' }).message).toBe(
      `createEngine: version: parsing version: missing version prefix ("1.0.0" must start with 'v')`,
    );
    expect(configError({ version: '' }).message).toContain('empty version');
    expect(configError({ version: 'v01' }).message).toContain('invalid version');
  });

  it('refuses a builtin with a bad name, version, pattern or getSecrets', () => {
    expect(configError({ plugins: [builtin('', '**', () => [])] }).message).toBe(
      'createEngine: builtin plugin "": parsing name: empty name',
    );
    expect(configError({ plugins: [builtin('b', '**', () => [], '1')] }).message).toMatch(
      /^createEngine: builtin plugin "b": parsing version: missing version prefix/,
    );
    expect(configError({ plugins: [builtin('b', '*a*', () => [])] }).message).toMatch(
      /^createEngine: builtin plugin "b": invalid pattern "\*a\*": /,
    );
    const noFn = { name: 'b', version: 'v1', pattern: '**' } as unknown as BuiltinPlugin;
    expect(configError({ plugins: [noFn] }).message).toBe(
      'createEngine: builtin plugin "b": getSecrets must be a function',
    );
  });

  it('refuses plugin-session limits the sessions could not run with, naming the option', () => {
    expect(configError({ pluginSession: { keepAliveTimeoutMs: 0 } }).message).toBe(
      'createEngine: pluginSession: createMuxSession: keepAliveTimeoutMs must be a number of ms from 1 to 2147483647, got 0',
    );
    expect(configError({ pluginSession: { maxBufferedBytes: 1024 } }).message).toBe(
      'createEngine: pluginSession: createMuxSession: maxBufferedBytes must be an integer from 8388608 to 9007199254740991 (at least twice maxStreamWindowSize), got 1024',
    );
    expect(configError({ pluginSession: { role: 'client' } as never }).message).toBe(
      'createEngine: pluginSession does not take "role" (allowed: keepAliveIntervalMs, keepAliveTimeoutMs, writeTimeoutMs, maxBufferedBytes)',
    );
    expect(configError({ pluginSession: 5 as never }).message).toBe(
      'createEngine: pluginSession must be an object, got number',
    );
  });

  it('refuses two builtins with the same name', () => {
    expect(configError({ plugins: [ok('twin'), ok('other'), ok('twin')] }).message).toBe(
      'createEngine: two builtin plugins are named "twin"',
    );
  });

  it.each([
    [{ registrationTimeoutMs: 0 }, 'registrationTimeoutMs must be a positive number of ms, got 0'],
    [{ registrationTimeoutMs: -1 }, 'registrationTimeoutMs must be a positive number of ms, got -1'],
    [{ registrationTimeoutMs: Number.NaN }, 'registrationTimeoutMs must be a positive number of ms, got NaN'],
    [{ shutdownTimeoutMs: 0 }, 'shutdownTimeoutMs must be a positive number of ms, got 0'],
    [{ shutdownTimeoutMs: Number.POSITIVE_INFINITY }, 'shutdownTimeoutMs must be a positive number'],
    [{ requestTimeoutMs: -5 }, 'requestTimeoutMs must be a non-negative number of ms, got -5'],
    [{ requestTimeoutMs: '100' as unknown as number }, 'requestTimeoutMs must be a non-negative number'],
  ] as [EngineOptions, string][])('refuses the timeout %j', (options, message) => {
    expect(configError(options).message).toContain(message);
  });

  it('accepts requestTimeoutMs 0 (no deadline)', () => {
    expect(() => engine({ requestTimeoutMs: 0 })).not.toThrow();
  });

  it.each([
    [{ multiplier: 0.5 }, 'restart.multiplier must be >= 1, got 0.5'],
    [{ multiplier: Number.NaN }, 'restart.multiplier must be >= 1, got NaN'],
    [{ maxRetries: -1 }, 'restart.maxRetries must be a whole number >= 0, got -1'],
    [{ maxRetries: 1.5 }, 'restart.maxRetries must be a whole number >= 0, got 1.5'],
    [{ initialDelayMs: -1 }, 'restart.initialDelayMs must be a non-negative number of ms, got -1'],
    [{ maxDelayMs: Number.NaN }, 'restart.maxDelayMs must be a non-negative number of ms, got NaN'],
    [{ healthyAfterMs: -10 }, 'restart.healthyAfterMs must be a non-negative number of ms, got -10'],
  ] as [NonNullable<EngineOptions['restart']>, string][])(
    'refuses the restart policy %j',
    (restart, message) => {
      expect(configError({ restart }).message).toBe(`createEngine: ${message}`);
    },
  );
});

describe('builtin plugins', () => {
  it('resolve through engine.getSecrets with the provider set and resolvedAt filled', async () => {
    const created = new Date('2024-01-02T03:04:05.678Z');
    const e = engine({
      plugins: [
        builtin('vault', 'db/**', () => [
          {
            id: 'db/password',
            value: 'hunter2',
            metadata: { owner: 'ops' },
            createdAt: created,
            version: '3',
          },
        ]),
      ],
    });
    const before = Date.now();
    const [env, ...rest] = await e.getSecrets('db/password');
    expect(rest).toEqual([]);
    expect(env?.id).toBe('db/password');
    expect(env?.revealText()).toBe('hunter2');
    expect(env?.provider).toBe('vault');
    expect(env?.version).toBe('3');
    expect(env?.metadata).toEqual({ owner: 'ops' });
    expect(env?.createdAt).toEqual(created);
    expect(env?.expiresAt).toBeUndefined();
    expect(env!.resolvedAt!.getTime()).toBeGreaterThanOrEqual(before - 1_000);
  });

  it('get the narrowed pattern, parsed', async () => {
    const seen: string[] = [];
    const e = engine({
      plugins: [
        builtin('a', 'base/sub1/*', (p) => {
          seen.push(p);
          return [{ id: 'base/sub1/x', value: 'v' }];
        }),
      ],
    });
    await e.getSecrets('base/**');
    await e.getSecrets('base/sub1/x');
    expect(seen).toEqual(['base/sub1/*', 'base/sub1/x']);
  });

  it('a builtin that throws, rejects, returns garbage or invalid envelopes costs only its own part', async () => {
    const logger = captureLogger();
    const plugins: BuiltinPlugin[] = [
      builtin('a-throws', '**', () => {
        throw new Error('sync boom');
      }),
      builtin('b-rejects', '**', async () => {
        throw new Error('async boom');
      }),
      builtin('c-throws-string', '**', () => {
        throw 'a string';
      }),
      builtin('d-throws-null', '**', () => {
        throw null;
      }),
      builtin('e-number', '**', () => 42 as unknown as []),
      builtin('f-object', '**', () => ({}) as unknown as []),
      builtin('g-null', '**', () => null as unknown as []),
      builtin(
        'h-bad-items',
        '**',
        () =>
          [
            null,
            42,
            'str',
            { id: 'bad id', value: 'x' },
            { id: 'ok/meta', value: 'x', metadata: { n: 1 } },
            { id: 'ok/value', value: 17 },
            { id: 'ok/date', value: 'x', createdAt: 'yesterday' },
          ] as unknown as [],
      ),
      builtin('i-iterator-throws', '**', function* () {
        yield { id: 'i/1', value: 'x' };
        throw new Error('iterator boom');
      }),
      builtin('z-good', '**', () => [{ id: 'z/1', value: 'fine' }]),
    ];
    const e = engine({ plugins, logger });
    const result = await e.getSecrets('**');
    expect(result.map((x) => `${x.provider}:${x.id}`)).toEqual(['z-good:z/1']);
    const failed = logger.entries
      .filter((x) => x.message === 'plugin failed')
      .map((x) => x.attributes.plugin);
    expect(failed).toEqual(
      expect.arrayContaining([
        'a-throws',
        'b-rejects',
        'c-throws-string',
        'd-throws-null',
        'e-number',
        'f-object',
        'i-iterator-throws',
      ]),
    );
    const dropped = logger.entries.filter((x) => x.message === 'dropping an invalid envelope');
    expect(dropped.length).toBe(7);
    expect(dropped.every((x) => x.attributes.plugin === 'h-bad-items')).toBe(true);
    // The engine still works afterwards.
    expect((await e.getSecrets('**')).length).toBe(1);
  });

  it('a builtin error is internal `failed to get secret "<p>": <why>` in the log', async () => {
    const logger = captureLogger();
    const e = engine({
      logger,
      plugins: [
        builtin('x', '**', () => {
          throw new Error('backend down');
        }),
      ],
    });
    await expect(e.getSecrets('a/b')).rejects.toThrow(
      'plugin "x" failed (internal: failed to get secret "a/b": backend down)',
    );
    const [line] = logger.entries.filter((x) => x.message === 'plugin failed');
    expect(line?.attributes).toMatchObject({
      plugin: 'x',
      code: 'Internal',
      error: 'failed to get secret "a/b": backend down',
    });
  });

  it('NotFoundError from a builtin is a miss, not a failure', async () => {
    const logger = captureLogger();
    const e = engine({
      logger,
      plugins: [
        builtin('a', '**', () => {
          throw new NotFoundError();
        }),
        builtin('b', '**', () => []),
      ],
    });
    const err = await e.getSecrets('x').catch((x: unknown) => x);
    expect(err).toMatchObject({ rawMessage: 'secret not found' });
    expect(logger.entries.filter((x) => x.level === 'warn' || x.level === 'error')).toEqual([]);
  });

  it('a builtin that never answers costs only its own part, bounded by requestTimeoutMs', async () => {
    const e = engine({
      requestTimeoutMs: 100,
      plugins: [builtin('hang', '**', () => new Promise(() => {})), ok('z')],
    });
    const started = Date.now();
    expect((await e.getSecrets('**')).map((x) => x.provider)).toEqual(['z']);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('an aborted getSecrets rejects with the abort reason', async () => {
    const e = engine({ requestTimeoutMs: 0, plugins: [builtin('hang', '**', () => new Promise(() => {}))] });
    const controller = new AbortController();
    const pending = e.getSecrets('**', { signal: controller.signal });
    controller.abort(new Error('caller gave up'));
    await expect(pending).rejects.toThrow('caller gave up');
  });

  it('an invalid request pattern is refused', async () => {
    const e = engine({ plugins: [ok()] });
    await expect(e.getSecrets('a*')).rejects.toMatchObject({
      rawMessage: expect.stringContaining('invalid pattern'),
    });
  });
});

describe('listPlugins, enable/disable, events', () => {
  it('lists builtins sorted by name with their fields', () => {
    const e = engine({ plugins: [ok('zeta', 'z/**'), ok('alpha', 'a/*')] });
    expect(e.listPlugins()).toEqual([
      {
        name: 'alpha',
        kind: 'builtin',
        version: 'v1.0.0',
        role: 'secrets-provider',
        pattern: 'a/*',
        disabled: false,
        status: 'running',
        statusMessage: '',
        restarts: 0,
        pid: undefined,
      },
      {
        name: 'zeta',
        kind: 'builtin',
        version: 'v1.0.0',
        role: 'secrets-provider',
        pattern: 'z/**',
        disabled: false,
        status: 'running',
        statusMessage: '',
        restarts: 0,
        pid: undefined,
      },
    ] as PluginInfo[]);
  });

  it('disable excludes a plugin from resolution (stopped, "disabled"); enable brings it back', async () => {
    const e = engine({ plugins: [ok('a'), ok('b')] });
    const changes: PluginInfo[] = [];
    e.on('change', (p) => changes.push(p));

    await e.disablePlugin('a');
    expect(e.listPlugins().find((p) => p.name === 'a')).toMatchObject({
      disabled: true,
      status: 'stopped',
      statusMessage: 'disabled',
    });
    expect((await e.getSecrets('**')).map((x) => x.provider)).toEqual(['b']);

    // Idempotent, no event.
    await e.disablePlugin('a');
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({ name: 'a', disabled: true, status: 'stopped' });

    await e.enablePlugin('a');
    expect(e.listPlugins().find((p) => p.name === 'a')).toMatchObject({
      disabled: false,
      status: 'running',
      statusMessage: '',
    });
    expect((await e.getSecrets('**')).map((x) => x.provider)).toEqual(['a', 'b']);
    await e.enablePlugin('a');
    expect(changes.map((c) => [c.name, c.disabled, c.status])).toEqual([
      ['a', true, 'stopped'],
      ['a', false, 'running'],
    ]);
  });

  it('off() removes a listener', async () => {
    const e = engine({ plugins: [ok('a')] });
    const seen: string[] = [];
    const listener = (p: PluginInfo) => seen.push(p.name);
    e.on('change', listener);
    await e.disablePlugin('a');
    e.off('change', listener);
    await e.enablePlugin('a');
    expect(seen).toEqual(['a']);
  });

  it('unknown names are PluginNotFoundError', async () => {
    const e = engine({ plugins: [ok('a')] });
    for (const op of [e.enablePlugin('nope'), e.disablePlugin('nope')]) {
      const err = await op.catch((x: unknown) => x);
      expect(err).toBeInstanceOf(PluginNotFoundError);
      expect(err).toMatchObject({ pluginName: 'nope', message: 'plugin "nope" not found' });
    }
  });

  it('disabling every plugin leaves nothing to resolve', async () => {
    const e = engine({ plugins: [ok('a')] });
    await e.disablePlugin('a');
    await expect(e.getSecrets('**')).rejects.toMatchObject({ rawMessage: 'secret not found' });
  });
});

describe('lifecycle', () => {
  it('start() emits ready, a second start() is refused, close() is idempotent', async () => {
    const e = engine({ plugins: [ok()] });
    let ready = 0;
    e.on('ready', () => ready++);
    await e.start();
    expect(ready).toBe(1);
    await expect(e.start()).rejects.toThrow('start(): the engine is running');
    const first = e.close();
    expect(e.close()).toBe(first);
    await first;
    await e.close();
    await expect(e.start()).rejects.toThrow(RuntimeError);
  });

  it('after close(), nothing answers: unavailable, the engine is shutting down', async () => {
    const e = engine({ plugins: [ok()] });
    await e.start();
    await e.close();
    await expect(e.getSecrets('**')).rejects.toMatchObject({
      code: Code.Unavailable,
      rawMessage: 'the secrets engine is shutting down',
    });
  });

  it('start() with an already-aborted signal is refused and leaves the engine startable', async () => {
    const e = engine({ plugins: [ok()] });
    const controller = new AbortController();
    controller.abort(new Error('never mind'));
    await expect(e.start({ signal: controller.signal })).rejects.toThrow('never mind');
    // Nothing was consumed: the engine can still start.
    await e.start();
    expect((await e.getSecrets('**')).length).toBe(1);
  });

  it('reports its version', () => {
    expect(ENGINE_VERSION).toMatch(/^v\d+\.\d+\.\d+/);
  });
});

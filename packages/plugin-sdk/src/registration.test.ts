// Registration, the gate on data calls, and how serve() ends (protocol.md §5.1, §7.1, §7.5; §8.2
// Test_setup, TestResolverService_GetSecret, TestSetupInterceptor), against a raw engine that
// controls when RegisterPlugin is answered.
import { connect } from 'node:net';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createSessionTransport } from '@secrets-engine/ipc';
import { resolverv1 } from '@secrets-engine/proto';
import { describe, expect, it } from 'vitest';
import { delay, type EngineOptions, startHijackEngine } from './__tests__/engine.js';
import { createPlugin, type PluginOptions, RegistrationError } from './index.js';

function options(calls: string[] = []): PluginOptions {
  return {
    name: 'reg',
    version: 'v1.0.0',
    pattern: 'reg/**',
    getSecrets: (pattern) => {
      calls.push(pattern);
      return [{ id: 'reg/a', value: 'value-a' }];
    },
  };
}

/** A plugin joined to a fresh raw engine; `serving` is serve()'s promise. */
async function start(engineOptions: EngineOptions = {}, pluginOptions: Partial<PluginOptions> = {}) {
  const engine = await startHijackEngine(engineOptions);
  const calls: string[] = [];
  const plugin = createPlugin({
    ...options(calls),
    ...pluginOptions,
    env: { SECRETS_ENGINE_SOCKET: engine.socketPath },
  });
  const serving = plugin.serve({ handleSignals: false });
  serving.catch(() => {});
  const connection = await engine.nextConnection();
  return {
    engine,
    plugin,
    serving,
    connection,
    calls,
    async [Symbol.asyncDispose]() {
      await plugin.close();
      await engine.close();
    },
  };
}

describe('registration', () => {
  it('answers the engine, then serves GetSecrets', async () => {
    await using t = await start();
    expect(await t.connection.registration).toEqual({
      name: 'reg',
      version: 'v1.0.0',
      pattern: 'reg/**',
      metadata: 'secretsProvider',
      protocol: 'plugins.v1',
      timeoutMs: expect.any(Number),
    });
    const res = await t.connection.resolver.getSecrets({ pattern: 'reg/a' });
    expect(res.envelopes.map((e) => e.id)).toEqual(['reg/a']);
  });

  it('refused (already_exists): serve() rejects with RegistrationError naming the code and message', async () => {
    await using t = await start({
      onRegister: () => {
        throw new ConnectError('plugin "reg" already exists', Code.AlreadyExists);
      },
    });
    const err = await t.serving.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistrationError);
    expect((err as Error).message).toBe(
      'engine rejected the registration (already_exists): plugin "reg" already exists',
    );
    expect(((err as Error).cause as ConnectError).code).toBe(Code.AlreadyExists);
    // The plugin closed its side.
    expect((await t.connection.session.closed).kind).toBe('peer');
  });

  it('an invalid-pattern refusal is reported the same way (invalid_argument)', async () => {
    await using t = await start({
      onRegister: () => {
        throw new ConnectError('invalid pattern', Code.InvalidArgument);
      },
    });
    await expect(t.serving).rejects.toThrow(
      'engine rejected the registration (invalid_argument): invalid pattern',
    );
  });

  it('times out: RegistrationError "registration timed out"', async () => {
    await using t = await start({ onRegister: () => new Promise(() => {}) }, { registrationTimeoutMs: 300 });
    const started = Date.now();
    const err = await t.serving.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistrationError);
    expect((err as Error).message).toBe('registration timed out after 300ms');
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('falls back to the OLD resolver.v1.RegisterService (pattern in field 3) on an old engine', async () => {
    await using t = await start({ serves: 'resolver.v1' });
    // Decoded with the OLD schema (field 3 = string pattern): the HEAD form (field 3 = a
    // SecretsProvider message) would decode as "\n\x06reg/**", not "reg/**".

    expect(await t.connection.registration).toMatchObject({
      name: 'reg',
      version: 'v1.0.0',
      pattern: 'reg/**',
      protocol: 'resolver.v1',
    });
    const res = await t.connection.resolver.getSecrets({ pattern: 'reg/**' });
    expect(res.envelopes).toHaveLength(1);
    // The OLD engine shuts plugins down through resolver.v1.PluginService (§4.1).
    await createClient(resolverv1.PluginService, createSessionTransport(t.connection.session)).shutdown({});
    expect(await t.serving).toEqual({ reason: 'shutdown', mode: 'external' });
  });

  it('does not fall back when the engine refuses on plugins.v1', async () => {
    await using t = await start({
      serves: 'both',
      onRegister: (reg) => {
        if (reg.protocol === 'plugins.v1') throw new ConnectError('nope', Code.PermissionDenied);
      },
    });
    await expect(t.serving).rejects.toThrow('(permission_denied): nope');
    expect(t.engine.connections).toHaveLength(1);
  });
});

describe('gating: data calls wait for registration (§5.1 step 7)', () => {
  it('a GetSecrets that arrives before registration completes waits, then succeeds', async () => {
    let answered = false;
    let call: Promise<{ answeredFirst: boolean; ids: string[] }> | undefined;
    await using t = await start({
      onRegister: async (_reg, _ctx, connection) => {
        call = connection.resolver
          .getSecrets({ pattern: 'reg/a' })
          .then((res) => ({ answeredFirst: answered, ids: res.envelopes.map((e) => e.id) }));
        await delay(300);
        expect(t.calls).toEqual([]);
        answered = true;
      },
    });
    await t.connection.registration;
    expect(await call).toEqual({ answeredFirst: true, ids: ['reg/a'] });
    expect(t.calls).toEqual(['reg/a']);
  });

  it('registration never completes: deadline_exceeded "registration incomplete (timeout after …)"', async () => {
    let call: Promise<unknown> | undefined;
    await using t = await start(
      {
        onRegister: (_reg, _ctx, connection) => {
          call = connection.resolver.getSecrets({ pattern: 'reg/a' }).catch((e: unknown) => e);
          return new Promise(() => {});
        },
      },
      { registrationTimeoutMs: 400 },
    );
    await t.connection.registration;
    const err = (await call) as ConnectError;
    expect(err).toBeInstanceOf(ConnectError);
    expect([err.code, err.rawMessage]).toEqual([
      Code.DeadlineExceeded,
      'registration incomplete (timeout after 400ms)',
    ]);
    await expect(t.serving).rejects.toThrow('registration timed out after 400ms');
    expect(t.calls).toEqual([]);
  });

  it('the request is cancelled first: internal "context cancelled while waiting for registration"', async () => {
    let calls: Promise<unknown[]> | undefined;
    let release!: () => void;
    await using t = await start(
      {
        onRegister: (_reg, _ctx, connection) => {
          // The deadline travels in connect-timeout-ms; this client does not enforce it itself, so
          // it reads what the plugin answers when the request's context ends. Several calls, with
          // different deadlines, so a race between the plugin's answer and the server's own
          // deadline reply would show.
          calls = Promise.all(
            [120, 150, 150, 151, 180].map((ms) =>
              connection.resolver
                .getSecrets({ pattern: 'reg/a' }, { headers: { 'connect-timeout-ms': String(ms) } })
                .catch((e: unknown) => e),
            ),
          );
          return new Promise<void>((resolve) => {
            release = resolve;
          });
        },
      },
      { registrationTimeoutMs: 3_000 },
    );
    await t.connection.registration;
    while (calls === undefined) await delay(5);
    for (const err of (await calls) as ConnectError[]) {
      expect(err).toBeInstanceOf(ConnectError);
      expect([err.code, err.rawMessage]).toEqual([
        Code.Internal,
        'context cancelled while waiting for registration',
      ]);
    }
    release();
    // Registration then completes and later calls go through.
    const res = await t.connection.resolver.getSecrets({ pattern: 'reg/a' });
    expect(res.envelopes).toHaveLength(1);
    expect(t.calls).toEqual(['reg/a']);
  });

  it('once registered, calls are not gated (fast path)', async () => {
    await using t = await start();
    await t.connection.registration;
    await t.connection.resolver.getSecrets({ pattern: 'reg/a' });
    const started = Date.now();
    await Promise.all(
      Array.from({ length: 20 }, () => t.connection.resolver.getSecrets({ pattern: 'reg/a' })),
    );
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(t.calls).toHaveLength(21);
  });
});

describe('how serve() ends', () => {
  it('Shutdown RPC: serve() resolves {reason: shutdown} and the engine sees EOF (Test_setup)', async () => {
    await using t = await start();
    await t.connection.registration;
    await t.connection.shutdown();
    expect(await t.serving).toEqual({ reason: 'shutdown', mode: 'external' });
    expect(await t.connection.session.closed).toEqual({ kind: 'peer', goAwayCode: 0 });
  });

  it('the engine closes the connection: serve() resolves {reason: engine-closed}', async () => {
    await using t = await start();
    await t.connection.registration;
    await delay(20);
    await t.connection.session.close();
    expect(await t.serving).toEqual({ reason: 'engine-closed', mode: 'external' });
  });

  it('the engine connection breaks: serve() resolves {reason: engine-closed}', async () => {
    await using t = await start();
    await t.connection.registration;
    await delay(20);
    t.connection.session.abort();
    expect(await t.serving).toEqual({ reason: 'engine-closed', mode: 'external' });
  });

  it('close(): serve() resolves {reason: local} and the engine sees EOF; close() is idempotent', async () => {
    await using t = await start();
    await t.connection.registration;
    await delay(20);
    await Promise.all([t.plugin.close(), t.plugin.close()]);
    expect(await t.serving).toEqual({ reason: 'local', mode: 'external' });
    expect((await t.connection.session.closed).kind).toBe('peer');
    await t.plugin.close();
  });

  it('aborting ServeOptions.signal: serve() resolves {reason: local}', async () => {
    await using engine = await startHijackEngine();
    const plugin = createPlugin({ ...options(), env: { SECRETS_ENGINE_SOCKET: engine.socketPath } });
    const abort = new AbortController();
    const serving = plugin.serve({ handleSignals: false, signal: abort.signal });
    await (await engine.nextConnection()).registration;
    await delay(20);
    abort.abort();
    expect(await serving).toEqual({ reason: 'local', mode: 'external' });
  });

  it('close() while registration is in flight: serve() resolves {reason: local}, not a failure', async () => {
    await using t = await start({ onRegister: () => new Promise(() => {}) });
    await t.connection.registration;
    await t.plugin.close();
    expect(await t.serving).toEqual({ reason: 'local', mode: 'external' });
  });

  it('close() before the connection is up: serve() resolves {reason: local} without registering', async () => {
    await using engine = await startHijackEngine();
    const plugin = createPlugin({ ...options(), env: { SECRETS_ENGINE_SOCKET: engine.socketPath } });
    const serving = plugin.serve({ handleSignals: false });
    await plugin.close();
    expect(await serving).toEqual({ reason: 'local', mode: 'external' });
    await delay(50);
    expect(engine.connections.every((c) => c.session.status !== 'open')).toBe(true);
  });

  it('serve() twice rejects; an already aborted signal rejects', async () => {
    await using t = await start();
    await expect(t.plugin.serve()).rejects.toThrow('serve() was already called');
    const fresh = createPlugin({ ...options(), env: {} });
    await expect(fresh.serve({ signal: AbortSignal.abort(new Error('stop')) })).rejects.toThrow('stop');
  });

  it('serve({connection}) upgrades the given, not yet upgraded, connection', async () => {
    await using engine = await startHijackEngine();
    const plugin = createPlugin({ ...options(), env: {} });
    const serving = plugin.serve({ handleSignals: false, connection: connect(engine.socketPath) });
    const connection = await engine.nextConnection();
    expect((await connection.registration).name).toBe('reg');
    await connection.shutdown();
    expect(await serving).toEqual({ reason: 'shutdown', mode: 'external' });
  });
});

describe('no debugger while serving (issue 12 item 1)', () => {
  it('serve() ignores SIGUSR1 (Node would open its inspector on it) and lets go of it once stopped; handleSignals: false leaves it alone', async () => {
    const before = process.listenerCount('SIGUSR1');
    const engine = await startHijackEngine();
    const plugin = createPlugin({ ...options([]), env: { SECRETS_ENGINE_SOCKET: engine.socketPath } });
    const serving = plugin.serve();
    await engine.nextConnection();
    for (let i = 0; i < 200 && process.listenerCount('SIGUSR1') === before; i++) await delay(10);
    expect(process.listenerCount('SIGUSR1')).toBe(before + 1);
    await plugin.close();
    await serving;
    expect(process.listenerCount('SIGUSR1')).toBe(before);
    await engine.close();
    await using s = await start();
    expect(process.listenerCount('SIGUSR1')).toBe(before); // handleSignals: false
    expect(s.plugin.name).toBeDefined();
  });
});

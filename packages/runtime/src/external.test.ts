// External plugins in-process (protocol.md §3.3, §3.4, §5.1, §7.1): a plugin made of the ipc pieces
// (dialAndUpgrade + yamux client + serveConnect + RegisterPlugin) joins a real engine on a temp
// socket through /hijack.
import { create } from '@bufbuild/protobuf';
import { TimestampSchema } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError } from '@connectrpc/connect';
import { dialAndUpgrade, UpgradeError } from '@secrets-engine/ipc';
import { pluginsv1 } from '@secrets-engine/proto';
import { describe, expect, it } from 'vitest';
import {
  builtin,
  captureLogger,
  connectError,
  dec,
  engineClients,
  envelope,
  joinEngine,
  sleep,
  startedEngine,
  waitFor,
} from './__tests__/helpers.js';
import { ENGINE_VERSION, type PluginInfo } from './index.js';

describe('external plugins', () => {
  it('a registered plugin is listed (external), resolves with the narrowed pattern, and emits change', async () => {
    const engine = await startedEngine();
    const changes: PluginInfo[] = [];
    engine.on('change', (p) => changes.push(p));
    const plugin = await joinEngine(engine.socketPath);
    const res = await plugin.register({ name: 'ext', version: 'v2.0.0', pattern: 'ext/**' });
    expect(res.engineName).toBe('secrets-engine');
    expect(res.engineVersion).toBe(ENGINE_VERSION);
    await waitFor('change event', () => changes.length > 0, { timeoutMs: 2_000 });
    expect(changes[0]).toMatchObject({ name: 'ext', kind: 'external', status: 'running' });
    expect(engine.listPlugins()).toEqual([
      {
        name: 'ext',
        kind: 'external',
        version: 'v2.0.0',
        role: 'secrets-provider',
        pattern: 'ext/**',
        disabled: false,
        status: 'running',
        statusMessage: '',
        restarts: 0,
        pid: undefined,
      },
    ]);

    const [env] = await engine.getSecrets('**');
    expect(env?.id).toBe('ext/x');
    expect(env?.provider).toBe('ext');
    expect(env?.revealText()).toBe('value-of-ext/**');
    expect(plugin.calls).toEqual(['ext/**']);

    const clients = engineClients(engine.socketPath);
    const wire = await clients.resolver.getSecrets({ pattern: 'ext/a/b' });
    expect(wire.envelopes.map((e) => [e.id, e.provider, dec(e.value)])).toEqual([
      ['ext/a/b', 'ext', 'value-of-ext/a/b'],
    ]);
    const listed = (await clients.management.listPlugins({})).plugins[0]!;
    expect(listed).toMatchObject({
      name: 'ext',
      version: 'v2.0.0',
      external: true,
      configurable: false,
      disabled: false,
      runStatus: pluginsv1.RunStatus.RUNNING,
    });
    expect(listed.metadata).toMatchObject({ case: 'secretsProvider', value: { pattern: 'ext/**' } });
    const old = await clients.oldList.listPlugins({});
    expect(old.plugins.map((p) => [p.name, p.external, p.pattern])).toEqual([['ext', true, 'ext/**']]);
  });

  it('resolves alongside builtins, in name order', async () => {
    const engine = await startedEngine({
      plugins: [builtin('zz-builtin', '**', () => [{ id: 'shared/id', value: 'b' }])],
    });
    const plugin = await joinEngine(engine.socketPath, { getSecrets: () => [envelope('shared/id', 'e')] });
    await plugin.register({ name: 'aa-external', pattern: '**' });
    const result = await engine.getSecrets('shared/id');
    expect(result.map((e) => [e.provider, e.revealText()])).toEqual([
      ['aa-external', 'e'],
      ['zz-builtin', 'b'],
    ]);
  });

  it('refuses a duplicate name with already_exists; the first plugin keeps working', async () => {
    const engine = await startedEngine({
      plugins: [builtin('taken', 'taken/**', () => [{ id: 'taken/t', value: 't' }])],
    });
    const first = await joinEngine(engine.socketPath);
    await first.register({ name: 'ext', pattern: 'ext/**' });

    const second = await joinEngine(engine.socketPath);
    const err = await connectError(second.register({ name: 'ext', pattern: 'ext/**' }));
    expect(err.code).toBe(Code.AlreadyExists);
    expect(err.rawMessage).toBe('plugin "ext" already exists');

    const third = await joinEngine(engine.socketPath);
    const vsBuiltin = await connectError(third.register({ name: 'taken', pattern: '**' }, 'resolver.v1'));
    expect(vsBuiltin.code).toBe(Code.AlreadyExists);

    expect(engine.listPlugins().map((p) => [p.name, p.kind])).toEqual([
      ['ext', 'external'],
      ['taken', 'builtin'],
    ]);
    expect((await engine.getSecrets('ext/one')).map((e) => e.provider)).toEqual(['ext']);
    expect(second.calls).toEqual([]);
  });

  it('disconnects a plugin that never registers after registrationTimeoutMs', async () => {
    const logger = captureLogger();
    const engine = await startedEngine({ registrationTimeoutMs: 150, logger });
    const plugin = await joinEngine(engine.socketPath);
    const started_ = Date.now();
    const reason = await plugin.session.closed;
    expect(reason.kind).toBe('peer');
    expect(Date.now() - started_).toBeGreaterThanOrEqual(100);
    expect(Date.now() - started_).toBeLessThan(3_000);
    expect(engine.listPlugins()).toEqual([]);
    expect(logger.entries.some((e) => e.message.includes('did not register in time'))).toBe(true);
  });

  it('a registered plugin is not disconnected by the registration timer', async () => {
    const engine = await startedEngine({ registrationTimeoutMs: 100 });
    const plugin = await joinEngine(engine.socketPath);
    await plugin.register({ name: 'ext' });
    await sleep(250);
    expect(plugin.session.status).toBe('open');
    expect(engine.listPlugins().map((p) => p.name)).toEqual(['ext']);
  });

  it('leaves the registry when its connection ends; the name can then be used again', async () => {
    const engine = await startedEngine();
    const changes: PluginInfo[] = [];
    engine.on('change', (p) => changes.push(p));
    const plugin = await joinEngine(engine.socketPath);
    await plugin.register({ name: 'ext', pattern: 'ext/**' });
    await plugin.close();
    await waitFor('the plugin to leave', () => engine.listPlugins().length === 0, { timeoutMs: 3_000 });
    await waitFor('change event', () => changes.some((c) => c.status === 'stopped'), { timeoutMs: 2_000 });
    expect(changes.at(-1)).toMatchObject({ name: 'ext', status: 'stopped', statusMessage: 'disconnected' });
    await expect(engine.getSecrets('ext/x')).rejects.toMatchObject({ rawMessage: 'secret not found' });

    const again = await joinEngine(engine.socketPath);
    await again.register({ name: 'ext', pattern: 'ext/**' });
    expect((await engine.getSecrets('ext/x')).map((e) => e.provider)).toEqual(['ext']);
  });

  it('an abruptly dropped connection also leaves the registry', async () => {
    const engine = await startedEngine();
    const plugin = await joinEngine(engine.socketPath);
    await plugin.register({ name: 'ext' });
    plugin.session.abort();
    await waitFor('the plugin to leave', () => engine.listPlugins().length === 0, { timeoutMs: 3_000 });
  });

  it('is refused with 404 when externalPlugins is false', async () => {
    const engine = await startedEngine({ externalPlugins: false });
    const err = await joinEngine(engine.socketPath).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpgradeError);
    expect((err as Error).message).toContain('404 page not found');
    expect(engine.listPlugins()).toEqual([]);
  });

  it('can be disabled and enabled like any plugin', async () => {
    const engine = await startedEngine();
    const plugin = await joinEngine(engine.socketPath);
    await plugin.register({ name: 'ext' });
    await engine.disablePlugin('ext');
    expect(engine.listPlugins()[0]).toMatchObject({ name: 'ext', disabled: true });
    await expect(engine.getSecrets('a')).rejects.toMatchObject({ rawMessage: 'secret not found' });
    expect(plugin.calls).toEqual([]);
    await engine.enablePlugin('ext');
    expect((await engine.getSecrets('a')).map((e) => e.provider)).toEqual(['ext']);
  });

  it('plugin errors and misses cost only its own part; a hung plugin is bounded by requestTimeoutMs', async () => {
    const engine = await startedEngine({
      requestTimeoutMs: 150,
      plugins: [builtin('zz', '**', () => [{ id: 'z', value: 'z' }])],
    });
    const missing = await joinEngine(engine.socketPath, {
      getSecrets: () => {
        throw new ConnectError('secret not found', Code.NotFound);
      },
    });
    await missing.register({ name: 'a-missing' });
    const failing = await joinEngine(engine.socketPath, {
      getSecrets: () => {
        throw new ConnectError('backend down', Code.Internal);
      },
    });
    await failing.register({ name: 'b-failing' });
    const hung = await joinEngine(engine.socketPath, {
      getSecrets: (_p, ctx) =>
        new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', reject)),
    });
    await hung.register({ name: 'c-hung' });
    const began = Date.now();
    expect((await engine.getSecrets('z')).map((e) => e.provider)).toEqual(['zz']);
    expect(Date.now() - began).toBeLessThan(2_000);
    expect([missing.calls, failing.calls, hung.calls]).toEqual([['z'], ['z'], ['z']]);
  });

  it('a plugin sending a time no Date can hold costs only its own envelope in engine.getSecrets', async () => {
    const engine = await startedEngine({ plugins: [builtin('zz', '**', () => [{ id: 'z', value: 'z' }])] });
    const plugin = await joinEngine(engine.socketPath, {
      getSecrets: () => [
        envelope('huge', 'h', { createdAt: create(TimestampSchema, { seconds: 10n ** 15n, nanos: 0 }) }),
        envelope('fine', 'f'),
      ],
    });
    await plugin.register({ name: 'aa' });
    expect((await engine.getSecrets('**')).map((e) => `${e.provider}:${e.id}`)).toEqual(['aa:fine', 'zz:z']);
    // The socket passes it through unchanged, as Go does.
    const wire = await engineClients(engine.socketPath).resolver.getSecrets({ pattern: '**' });
    expect(wire.envelopes.map((e) => e.id)).toEqual(['huge', 'fine', 'z']);
  });

  it('engine close() sends Shutdown on the schema the plugin registered with, then closes the connection', async () => {
    const engine = await startedEngine();
    const heads = await joinEngine(engine.socketPath);
    await heads.register({ name: 'heads' });
    const old = await joinEngine(engine.socketPath);
    await old.register({ name: 'old' }, 'resolver.v1');
    const idle = await joinEngine(engine.socketPath);
    await engine.close();
    expect(heads.shutdowns).toEqual({ 'plugins.v1': 1, 'resolver.v1': 0 });
    expect(old.shutdowns).toEqual({ 'plugins.v1': 0, 'resolver.v1': 1 });
    for (const p of [heads, old, idle]) {
      await Promise.race([p.session.closed, sleep(3_000)]);
      expect(p.session.status).toBe('closed');
    }
    expect(idle.shutdowns).toEqual({ 'plugins.v1': 0, 'resolver.v1': 0 });
  });

  it('hijacking a closed engine fails', async () => {
    const engine = await startedEngine();
    const path = engine.socketPath;
    await engine.close();
    await expect(dialAndUpgrade(path, { timeoutMs: 500 })).rejects.toThrow();
  });
});

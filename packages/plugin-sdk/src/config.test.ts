// Configuration of a plugin: defaults and options for a plugin started by hand, and the launch
// variable of an engine-launched one (protocol.md §1.3, §3.1, §3.2, §5.1; §8.2
// Test_newCfgForManualLaunch, Test_restoreConfig).
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DialError, LaunchConfigError } from '@secrets-engine/ipc';
import { LAUNCH_ENV } from '@secrets-engine/ipc/internal';
import { defaultSocketPath, isUnsafeSocketPathError } from '@secrets-engine/secrets';
import { afterEach, describe, expect, it, onTestFinished } from 'vitest';
import { delay, startHijackEngine } from './__tests__/engine.js';
import { createPlugin, PluginConfigError, type PluginOptions } from './index.js';

const base: PluginOptions = {
  name: 'cfg',
  version: 'v1.0.0',
  pattern: 'cfg/**',
  getSecrets: () => [{ id: 'cfg/a', value: 'a' }],
};

describe('createPlugin: name', () => {
  const argv = process.argv;
  afterEach(() => {
    process.argv = argv;
  });

  it.each([
    ['/opt/plugins/my-plugin.mjs', 'my-plugin'],
    ['/usr/local/bin/vault-provider', 'vault-provider'],
    ['C:/plugins/pass.exe', 'pass'],
    ['./relative/dir/plugin.v2.js', 'plugin.v2'],
  ])('defaults to the base name of argv[1] %s → %s (Go: filepath.Base(os.Args[0]))', (program, name) => {
    process.argv = [argv[0]!, program];
    const { name: _, ...withoutName } = base;
    expect(createPlugin(withoutName).name).toBe(name);
  });

  it('takes the name option over the program name', () => {
    process.argv = [argv[0]!, '/opt/plugins/ignored.mjs'];
    expect(createPlugin({ ...base, name: 'chosen' }).name).toBe('chosen');
  });

  it('refuses an invalid name with PluginConfigError', () => {
    expect(() => createPlugin({ ...base, name: '' })).toThrow(PluginConfigError);
    expect(() => createPlugin({ ...base, name: 'a/b' })).toThrow(/name/);
  });
});

describe('createPlugin: validation', () => {
  it.each([
    [{ version: '1.0.0' }, /version/],
    [{ version: '' }, /version/],
    [{ pattern: 'a*' }, /pattern/],
    [{ pattern: '' }, /pattern/],
    [{ getSecrets: undefined }, /getSecrets must be a function/],
    [{ registrationTimeoutMs: 0 }, /registrationTimeoutMs/],
    [{ registrationTimeoutMs: -1 }, /registrationTimeoutMs/],
    [{ registrationTimeoutMs: Number.NaN }, /registrationTimeoutMs/],
  ])('%o → PluginConfigError %s', (override, message) => {
    const create = () => createPlugin({ ...base, ...(override as Partial<PluginOptions>) });
    expect(create).toThrow(PluginConfigError);
    expect(create).toThrow(message);
  });

  it('exposes the validated name, version and pattern', () => {
    const plugin = createPlugin({ ...base, version: 'v1.2.3-rc.1', pattern: 'cfg/*/x:y' });
    expect([plugin.name, plugin.version, plugin.pattern]).toEqual(['cfg', 'v1.2.3-rc.1', 'cfg/*/x:y']);
  });
});

describe('started by hand', () => {
  it('registers with a 5 s timeout by default', async () => {
    await using engine = await startHijackEngine();
    const plugin = createPlugin({ ...base, env: { SECRETS_ENGINE_SOCKET: engine.socketPath } });
    const serving = plugin.serve({ handleSignals: false });
    const reg = await (await engine.nextConnection()).registration;
    expect(reg).toMatchObject({ name: 'cfg', version: 'v1.0.0', pattern: 'cfg/**', protocol: 'plugins.v1' });
    expect(reg.timeoutMs).toBeGreaterThan(4_000);
    expect(reg.timeoutMs).toBeLessThanOrEqual(5_000);
    await plugin.close();
    expect(await serving).toEqual({ reason: 'local', mode: 'external' });
  });

  it('uses registrationTimeoutMs', async () => {
    await using engine = await startHijackEngine();
    const plugin = createPlugin({
      ...base,
      registrationTimeoutMs: 1_500,
      env: { SECRETS_ENGINE_SOCKET: engine.socketPath },
    });
    const serving = plugin.serve({ handleSignals: false });
    const reg = await (await engine.nextConnection()).registration;
    expect(reg.timeoutMs).toBeGreaterThan(1_000);
    expect(reg.timeoutMs).toBeLessThanOrEqual(1_500);
    await plugin.close();
    await serving;
  });

  it('dials the default socket path when nothing overrides it', async () => {
    const env = (dir: string) => ({ XDG_RUNTIME_DIR: dir, XDG_CACHE_HOME: dir, HOME: dir });
    await using engine = await startHijackEngine({ socketPath: (dir) => defaultSocketPath(env(dir)) });
    expect(engine.socketPath.startsWith(engine.dir)).toBe(true);
    const plugin = createPlugin({ ...base, env: env(engine.dir) });
    const serving = plugin.serve({ handleSignals: false });
    expect((await (await engine.nextConnection()).registration).name).toBe('cfg');
    await plugin.close();
    await serving;
  });

  it('dials $SECRETS_ENGINE_SOCKET', async () => {
    await using engine = await startHijackEngine();
    const plugin = createPlugin({
      ...base,
      env: { SECRETS_ENGINE_SOCKET: engine.socketPath, XDG_RUNTIME_DIR: '/nonexistent' },
    });
    const serving = plugin.serve({ handleSignals: false });
    expect((await (await engine.nextConnection()).registration).name).toBe('cfg');
    await plugin.close();
    await serving;
  });

  it('takes the socketPath option over $SECRETS_ENGINE_SOCKET', async () => {
    await using engine = await startHijackEngine();
    const plugin = createPlugin({
      ...base,
      socketPath: engine.socketPath,
      env: { SECRETS_ENGINE_SOCKET: '/nonexistent/engine.sock' },
    });
    const serving = plugin.serve({ handleSignals: false });
    expect((await (await engine.nextConnection()).registration).name).toBe('cfg');
    await plugin.close();
    await serving;
  });

  it('rejects with DialError when no engine listens', async () => {
    const plugin = createPlugin({ ...base, socketPath: '/nonexistent/secrets-engine/engine.sock', env: {} });
    const err = await plugin.serve({ handleSignals: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DialError);
    expect((err as Error).message).toMatch(/cannot reach the secrets engine at \/nonexistent/);
  });
});

describe('a socket folder others could have set up (issue 12 item 5a)', () => {
  it('refuses to dial through it: DialError naming the folder and why, and the listener there hears nothing', async () => {
    const loose = mkdtempSync(join(tmpdir(), 'se-sdk-loose-'));
    onTestFinished(() => rmSync(loose, { recursive: true, force: true }));
    chmodSync(loose, 0o777);
    let connections = 0;
    const trap = createServer((s) => {
      connections++;
      s.destroy();
    });
    await new Promise<void>((resolve) => trap.listen(join(loose, 'engine.sock'), resolve));
    onTestFinished(() => new Promise<void>((resolve) => trap.close(() => resolve())));
    const plugin = createPlugin({ ...base, env: { SECRETS_ENGINE_SOCKET: join(loose, 'engine.sock') } });
    const err = await plugin.serve({ handleSignals: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DialError);
    expect((err as Error).message).toMatch(
      new RegExp(
        `^refusing the engine socket ${loose}/engine.sock: ${loose} has mode 0777 \\(writable by its group and others\\); `,
      ),
    );
    expect(isUnsafeSocketPathError((err as Error).cause)).toBe(true);
    expect(connections).toBe(0);
  });
});

describe('restored from the launch variable', () => {
  it.each([
    ['not json', /not valid JSON/],
    ['{"name":"","timeout":5000000000,"fd":3}', /plugin name is required/],
    ['{"name":"x","timeout":0,"fd":3}', /plugin registration timeout is required/],
    ['{"name":"x","timeout":5000000000,"fd":2}', /invalid file descriptor for plugin connection/],
    ['{"name":"x","timeout":5000000000}', /invalid file descriptor for plugin connection/],
  ])('%s → LaunchConfigError %s, and no fallback to a manual launch', async (value, message) => {
    await using engine = await startHijackEngine();
    const plugin = createPlugin({
      ...base,
      env: { [LAUNCH_ENV]: value, SECRETS_ENGINE_SOCKET: engine.socketPath },
    });
    const err = await plugin.serve({ handleSignals: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LaunchConfigError);
    expect((err as Error).message).toMatch(message);
    await delay(50);
    expect(engine.connections).toHaveLength(0);
  });
  it('no launch variable: started by hand (mode external)', async () => {
    await using engine = await startHijackEngine();
    const plugin = createPlugin({ ...base, env: { SECRETS_ENGINE_SOCKET: engine.socketPath } });
    const serving = plugin.serve({ handleSignals: false });
    await (await engine.nextConnection()).shutdown().catch(() => {});
    await plugin.close();
    expect((await serving).mode).toBe('external');
  });
  // A valid launch variable with a working fd 3 is covered by process.test.ts (a real child).
});

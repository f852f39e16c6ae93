// The one launched plugin of this package's suite (crash/restart/kill scenarios live in tests/e2e):
// the environment a launched plugin gets (protocol.md §0 "Environment", §1.3) and its output
// forwarded to the engine logger tagged with its name and stream.
import { mkdirSync, readdirSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LAUNCH_ENV, parseLaunchConfig } from '@secrets-engine/ipc/internal';
import { expect, it, onTestFinished, vi } from 'vitest';
import { captureLogger, tempDir, waitFor } from './__tests__/helpers.js';
import { createEngine } from './index.js';

const fixture = fileURLToPath(new URL('./__tests__/fixtures/sdk-plugin.mjs', import.meta.url));

it('a launched plugin gets PATH/HOME/USER/LANG/TMPDIR/XDG_*/DBUS_SESSION_BUS_ADDRESS + pluginEnv + the launch variable, nothing else', async () => {
  const dir = tempDir();
  const pluginsDir = join(dir, 'plugins');
  mkdirSync(pluginsDir);
  symlinkSync(fixture, join(pluginsDir, 'alpha'));

  vi.stubEnv('USER', 'se-test-user');
  vi.stubEnv('LANG', 'C.UTF-8');
  vi.stubEnv('TMPDIR', dir);
  vi.stubEnv('DBUS_SESSION_BUS_ADDRESS', 'unix:path=/run/user/0/bus');
  vi.stubEnv('XDG_SE_TEST_DIR', '/xdg/test');
  vi.stubEnv('SE_TEST_ENGINE_TOKEN', 'must-not-reach-the-plugin');
  vi.stubEnv('PATHOLOGICAL', 'prefix of PATH, not PATH');
  vi.stubEnv('HOMEBREW_SE_TEST', 'prefix of HOME, not HOME');
  onTestFinished(() => {
    vi.unstubAllEnvs();
  });
  const expected: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined) continue;
    if (
      ['PATH', 'HOME', 'USER', 'LANG', 'TMPDIR', 'DBUS_SESSION_BUS_ADDRESS'].includes(key) ||
      key.startsWith('XDG_')
    )
      expected[key] = value;
  }

  const logger = captureLogger();
  const engine = createEngine({
    socketPath: join(dir, 'engine.sock'),
    pluginsDir,
    registrationTimeoutMs: 5_000,
    shutdownTimeoutMs: 1_000,
    // The launch variable cannot be overridden.
    pluginEnv: { FIXTURE_PATTERN: 'alpha/**', EXTRA_SETTING: 'on', [LAUNCH_ENV]: 'overridden?' },
    logger,
  });
  onTestFinished(() => engine.close());
  await engine.start();
  expect(engine.listPlugins()).toMatchObject([
    { name: 'alpha', kind: 'launched', status: 'running', version: 'v1.2.3', pattern: 'alpha/**' },
  ]);
  expect(engine.listPlugins()[0]?.pid).toBeTypeOf('number');

  const [secret] = await engine.getSecrets('alpha/env');
  const env = JSON.parse(secret!.revealText()) as Record<string, string>;
  const launch = env[LAUNCH_ENV];
  delete env[LAUNCH_ENV];
  expect(env).toEqual({ ...expected, FIXTURE_PATTERN: 'alpha/**', EXTRA_SETTING: 'on' });
  expect(env.SE_TEST_ENGINE_TOKEN).toBeUndefined();
  expect(env.XDG_SE_TEST_DIR).toBe('/xdg/test');
  expect(parseLaunchConfig(launch!)).toMatchObject({ name: 'alpha', timeoutMs: 5_000, fd: 3 });

  // Its stderr reaches the logger through its log file, tagged with its name (issue 13 item 1).
  await engine.close();
  await waitFor(
    'the plugin stderr line',
    () => logger.entries.some((e) => e.message.startsWith('fixture plugin stopped')),
    { timeoutMs: 3_000 },
  );
  const line = logger.entries.find((e) => e.message.startsWith('fixture plugin stopped'))!;
  expect(line).toMatchObject({
    level: 'info',
    message: 'fixture plugin stopped: shutdown',
    attributes: { plugin: 'alpha', stream: 'output' },
  });
  // The file is the plugin's own, in the engine's state folder, 0600.
  const log = join(dir, 'engine.sock.state', 'logs', 'alpha.log');
  expect(readFileSync(log, 'utf8')).toContain('fixture plugin stopped: shutdown');
  expect(statSync(log).mode & 0o777).toBe(0o600);
  expect(statSync(join(dir, 'engine.sock.state')).mode & 0o777).toBe(0o700);
  // The process-group record is gone once the plugin is reaped.
  expect(readdirSync(join(dir, 'engine.sock.state', 'groups'))).toEqual([]);
});

// EngineOptions.disabledPlugins (issue 15 item 3): plugins that start disabled — a builtin listed
// disabled, a launched one not launched, an external one refused at registration — and
// enablePlugin/disablePlugin/setDisabledPlugins at runtime.
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Code } from '@connectrpc/connect';
import { expect, it } from 'vitest';
import {
  builtin,
  captureLogger,
  connectError,
  joinEngine,
  startedEngine,
  tempDir,
  waitFor,
} from './__tests__/helpers.js';
import { createEngine, EngineConfigError, PluginNotFoundError } from './index.js';

const fixture = fileURLToPath(new URL('./__tests__/fixtures/sdk-plugin.mjs', import.meta.url));
const value = () => [{ id: 'b/x', value: 'v' }];

it('a disabled builtin is listed disabled and not asked; a disabled launched plugin is not launched', async () => {
  const pluginsDir = join(tempDir(), 'plugins');
  mkdirSync(pluginsDir);
  symlinkSync(fixture, join(pluginsDir, 'off'));
  symlinkSync(fixture, join(pluginsDir, 'on'));
  const engine = await startedEngine({
    pluginsDir,
    plugins: [builtin('b', 'b/**', value)],
    disabledPlugins: ['b', 'off', 'absent'],
    logger: captureLogger(),
  });
  const info = new Map(engine.listPlugins().map((p) => [p.name, p]));
  expect(info.get('b')).toMatchObject({ disabled: true, status: 'stopped' });
  expect(info.get('off')).toMatchObject({ disabled: true, pid: undefined });
  expect(info.get('on')).toMatchObject({ disabled: false, status: 'running' });
  expect(info.has('absent')).toBe(false);
  await expect(engine.getSecrets('b/x')).rejects.toThrow();
  expect(engine.disabledPlugins()).toEqual(['absent', 'b', 'off']);

  await engine.enablePlugin('off');
  await waitFor(
    'off running',
    () => engine.listPlugins().find((p) => p.name === 'off')?.status === 'running',
    {
      timeoutMs: 20_000,
    },
  );
  await engine.enablePlugin('b');
  expect((await engine.getSecrets('b/x')).map((e) => e.id)).toEqual(['b/x']);
  // A name no plugin has but that was disabled: enabling it only forgets it.
  await engine.enablePlugin('absent');
  await expect(engine.enablePlugin('absent')).rejects.toBeInstanceOf(PluginNotFoundError);
  expect(engine.disabledPlugins()).toEqual([]);
}, 60_000);

it('an external plugin with a disabled name is refused at registration until enabled', async () => {
  const engine = await startedEngine({ disabledPlugins: ['ext'] });
  const first = await joinEngine(engine.socketPath);
  const err = await connectError(first.register({ name: 'ext', pattern: 'ext/**' }));
  expect(err.code).toBe(Code.FailedPrecondition);
  expect(err.rawMessage).toMatch(/plugin "ext" is disabled/);
  expect(engine.listPlugins()).toEqual([]);

  await engine.enablePlugin('ext');
  const second = await joinEngine(engine.socketPath);
  await second.register({ name: 'ext', pattern: 'ext/**' });
  expect(engine.listPlugins().map((p) => [p.name, p.disabled])).toEqual([['ext', false]]);
  // Disabled at runtime: the name is remembered, so it is refused again after it leaves.
  await engine.disablePlugin('ext');
  expect(engine.disabledPlugins()).toEqual(['ext']);
});

it('setDisabledPlugins disables the names given and enables those no longer given', async () => {
  const engine = await startedEngine({
    plugins: [builtin('a', 'a/**', value), builtin('b', 'b/**', value), builtin('c', 'c/**', value)],
    disabledPlugins: ['a', 'b'],
  });
  const result = await engine.setDisabledPlugins(['b', 'c', 'later']);
  expect(result).toEqual({ disabled: ['c'], enabled: ['a'] });
  expect(engine.listPlugins().map((p) => [p.name, p.disabled])).toEqual([
    ['a', false],
    ['b', true],
    ['c', true],
  ]);
  expect(engine.disabledPlugins()).toEqual(['b', 'c', 'later']);
  await expect(engine.setDisabledPlugins([3 as unknown as string])).rejects.toBeInstanceOf(EngineConfigError);
});

it('createEngine refuses a disabledPlugins that is not a list of names', () => {
  expect(() => createEngine({ disabledPlugins: 'a' as unknown as string[] })).toThrow(
    /disabledPlugins must be an array of plugin names/,
  );
  expect(() => createEngine({ disabledPlugins: [''] })).toThrow(/non-empty plugin names/);
});

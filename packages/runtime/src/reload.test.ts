// reloadPlugins() (issue 16 item 4: what `serve` does on SIGHUP): the plugins folder read again,
// new plugins launched, removed ones stopped, changed ones restarted, unchanged ones untouched.
import { appendFileSync, chmodSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isAlive } from '@secrets-engine/test-utils/process.js';
import { expect, it } from 'vitest';
import { captureLogger, startedEngine, tempDir, waitFor } from './__tests__/helpers.js';

const fixture = fileURLToPath(new URL('./__tests__/fixtures/sdk-plugin.mjs', import.meta.url));

/** A plugin executable that is a file of its own (a script starting the fixture), so it can change. */
function wrapper(path: string): void {
  writeFileSync(path, `#!/bin/sh\nexec '${process.execPath}' '${fixture}'\n`);
  chmodSync(path, 0o755);
}

it('launches added plugins, stops removed ones, restarts changed ones, leaves the rest alone', async () => {
  const dir = tempDir();
  const pluginsDir = join(dir, 'plugins');
  mkdirSync(pluginsDir);
  wrapper(join(pluginsDir, 'changed'));
  symlinkSync(fixture, join(pluginsDir, 'removed'));
  symlinkSync(fixture, join(pluginsDir, 'same'));
  wrapper(join(pluginsDir, 'paused'));
  const engine = await startedEngine({ pluginsDir, logger: captureLogger() });
  await engine.disablePlugin('paused');
  const pid = (name: string) => engine.listPlugins().find((p) => p.name === name)?.pid;
  const before = { changed: pid('changed')!, removed: pid('removed')!, same: pid('same')! };
  expect(Object.values(before).every((p) => p !== undefined && isAlive(p))).toBe(true);

  symlinkSync(fixture, join(pluginsDir, 'added'));
  rmSync(join(pluginsDir, 'removed'));
  appendFileSync(join(pluginsDir, 'changed'), '# a new version\n');
  appendFileSync(join(pluginsDir, 'paused'), '# a new version\n');
  const result = await engine.reloadPlugins();
  expect(result).toEqual({
    started: ['added'],
    stopped: ['removed'],
    restarted: ['changed', 'paused'],
    unchanged: ['same'],
  });
  // Resolved once the new ones were tried; the restarted one comes back on its own.
  await waitFor(
    'changed running again',
    () => engine.listPlugins().find((p) => p.name === 'changed')?.status === 'running',
    { timeoutMs: 30_000 },
  );
  const list = new Map(engine.listPlugins().map((p) => [p.name, p]));
  expect([...list.keys()].sort()).toEqual(['added', 'changed', 'paused', 'same']);
  expect(list.get('added')).toMatchObject({ status: 'running', kind: 'launched' });
  expect(list.get('same')?.pid).toBe(before.same);
  expect(list.get('changed')?.pid).not.toBe(before.changed);
  expect(list.get('paused')).toMatchObject({ disabled: true, status: 'stopped' });
  await waitFor(
    'the removed and replaced processes gone',
    () => !isAlive(before.removed) && !isAlive(before.changed),
    { timeoutMs: 30_000 },
  );
  // And they answer: the added one, the restarted one, not the removed one.
  const providers = (await engine.getSecrets('fixture/k')).map((e) => e.provider).sort();
  expect(providers).toEqual(['added', 'changed', 'same']);

  // Nothing changed: nothing happens.
  const again = await engine.reloadPlugins();
  expect(again).toEqual({
    started: [],
    stopped: [],
    restarted: [],
    unchanged: ['added', 'changed', 'paused', 'same'],
  });
  expect(pid('same')).toBe(before.same);
}, 90_000);

it('reloads run one at a time, and only on a running engine', async () => {
  const dir = tempDir();
  const pluginsDir = join(dir, 'plugins');
  mkdirSync(pluginsDir);
  const engine = await startedEngine({ pluginsDir });
  symlinkSync(fixture, join(pluginsDir, 'one'));
  const [a, b] = await Promise.all([engine.reloadPlugins(), engine.reloadPlugins()]);
  expect(a.started).toEqual(['one']);
  expect(b).toEqual({ started: [], stopped: [], restarted: [], unchanged: ['one'] });
  await engine.close();
  await expect(engine.reloadPlugins()).rejects.toThrow('reloadPlugins(): the engine is closed');
});

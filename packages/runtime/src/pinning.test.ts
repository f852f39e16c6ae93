// Pinning, engine side: with a pin file beside the plugins folder, only plugins whose executable
// hashes to their pin are launched, at start and at every restart; a refused plugin is `stopped`
// with a status message saying why (also on the wire), launches nothing, and runs once it is pinned
// again and enabled. A pin file that does not parse launches nothing and says so; the engine runs.
import {
  appendFileSync,
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pluginsv1 } from '@secrets-engine/proto';
import { expect, it, onTestFinished } from 'vitest';
import { builtin, captureLogger, engineClients, tempDir, waitFor } from './__tests__/helpers.js';
import { createEngine, type EngineOptions, pinFilePath, pinPlugins } from './index.js';

const fixture = fileURLToPath(new URL('./__tests__/fixtures/sdk-plugin.mjs', import.meta.url));

/** A plugins folder whose plugins are shell scripts that note each run, then exec the fixture. */
function setup(names: string[]) {
  const dir = tempDir();
  const pluginsDir = join(dir, 'plugins');
  const runs = join(dir, 'runs');
  mkdirSync(pluginsDir);
  mkdirSync(runs);
  const paths: Record<string, string> = {};
  for (const name of names) {
    const path = join(pluginsDir, name);
    writeFileSync(
      path,
      `#!/bin/sh\necho run >> '${join(runs, name)}'\nexec '${process.execPath}' '${fixture}'\n`,
    );
    chmodSync(path, 0o755);
    paths[name] = path;
  }
  return {
    dir,
    pluginsDir,
    pinFile: pinFilePath(pluginsDir),
    paths,
    /** How many times plugin `name` was executed. */
    runs: (name: string) =>
      existsSync(join(runs, name)) ? readFileSync(join(runs, name), 'utf8').split('\n').length - 1 : 0,
  };
}

async function started(pluginsDir: string, options: EngineOptions = {}) {
  const logger = captureLogger();
  const engine = createEngine({
    socketPath: join(tempDir(), 'engine.sock'),
    pluginsDir,
    shutdownTimeoutMs: 1_000,
    logger,
    ...options,
  });
  onTestFinished(() => engine.close());
  await engine.start();
  const info = (name: string) => engine.listPlugins().find((p) => p.name === name);
  return { engine, logger, info };
}

const sha256Hex = /[0-9a-f]{64}/;

it('a pinned plugin runs; a tampered one is not launched, says why, and runs once pinned again and enabled', async () => {
  const s = setup(['alpha', 'beta']);
  const pinned = await pinPlugins(s.pluginsDir);
  const betaPin = pinned.pins.find((p) => p.name === 'beta')!.sha256.slice('sha256:'.length);
  appendFileSync(s.paths.beta!, '# tampered\n');

  const { engine, logger, info } = await started(s.pluginsDir, {
    pluginEnv: { FIXTURE_PATTERN: 'pinned/**' },
  });
  expect(info('alpha')).toMatchObject({ status: 'running', version: 'v1.2.3', pattern: 'pinned/**' });
  expect((await engine.getSecrets('pinned/x')).map((e) => e.provider)).toEqual(['alpha']);

  const beta = info('beta')!;
  expect(beta).toMatchObject({
    kind: 'launched',
    status: 'stopped',
    pid: undefined,
    restarts: 0,
    version: undefined,
  });
  expect(beta.statusMessage).toMatch(
    new RegExp(
      `^not launched: SHA-256 of ${s.paths.beta} is ${sha256Hex.source}, the pin file ${s.pinFile} pins ${betaPin} for "beta"; pin it again if this file is genuine$`,
    ),
  );
  expect(beta.statusMessage).not.toContain(`is ${betaPin}`);
  expect(s.runs('alpha')).toBe(1);
  expect(s.runs('beta')).toBe(0); // never executed
  expect(logger.lines().join('\n')).toContain(`plugin pinning is on {"pinFile":"${s.pinFile}"}`);
  expect(logger.entries).toContainEqual(
    expect.objectContaining({
      level: 'error',
      message: 'plugin not launched',
      attributes: expect.objectContaining({ plugin: 'beta' }),
    }),
  );

  // On the wire (what `secrets-engine plugins` prints): STOPPED with the same message.
  const { management } = engineClients(engine.socketPath);
  const listed = (await management.listPlugins({})).plugins.find((p) => p.name === 'beta')!;
  expect(listed.runStatus).toBe(pluginsv1.RunStatus.STOPPED);
  expect(listed.statusMessage).toBe(beta.statusMessage);
  expect(listed.version).toBe('');

  // Not restarted by itself; pinned again and enabled, it runs.
  await new Promise((r) => setTimeout(r, 300));
  expect(s.runs('beta')).toBe(0);
  expect((await pinPlugins(s.pluginsDir)).pins.find((p) => p.name === 'beta')?.change).toBe('changed');
  await engine.enablePlugin('beta');
  await waitFor('beta to run', () => info('beta')?.status === 'running', { timeoutMs: 5_000 });
  expect(s.runs('beta')).toBe(1);
});

it('a plugin without a pin is refused', async () => {
  const s = setup(['alpha']);
  await pinPlugins(s.pluginsDir);
  const gamma = join(s.pluginsDir, 'gamma');
  writeFileSync(gamma, readFileSync(s.paths.alpha!, 'utf8').replace(/runs\/alpha/, 'runs/gamma'));
  chmodSync(gamma, 0o755);
  const { info } = await started(s.pluginsDir);
  expect(info('alpha')?.status).toBe('running');
  expect(info('gamma')).toMatchObject({
    status: 'stopped',
    statusMessage: `not launched: no pin for "gamma" in the pin file ${s.pinFile}; while that file exists, every plugin needs one ("gamma": "sha256:<64 hex digits>")`,
  });
  expect(s.runs('gamma')).toBe(0);
});

it('a pin file that does not parse: the engine runs, launches no plugin, and each says why', async () => {
  const s = setup(['alpha', 'beta']);
  await pinPlugins(s.pluginsDir);
  writeFileSync(s.pinFile, '{"version":1,"pins":{"alpha":"sha256:0123","beta":"sha256:0123"}}');
  const { engine, info } = await started(s.pluginsDir, {
    plugins: [builtin('memory', 'mem/**', () => [{ id: 'mem/a', value: 'x' }])],
  });
  for (const name of ['alpha', 'beta']) {
    expect(info(name)).toMatchObject({ status: 'stopped', pid: undefined });
  }
  // The first bad entry, naming the file and what is allowed.
  expect(info('alpha')?.statusMessage).toBe(
    `not launched: pin file ${s.pinFile}: pins["alpha"]: expected "sha256:" and 64 lowercase hex digits, got "sha256:0123"`,
  );
  expect(s.runs('alpha') + s.runs('beta')).toBe(0);
  // The rest of the engine works.
  expect((await engine.getSecrets('mem/*')).map((e) => e.id)).toEqual(['mem/a']);

  writeFileSync(s.pinFile, 'pins: alpha');
  await engine.enablePlugin('alpha');
  expect(info('alpha')?.statusMessage).toMatch(
    new RegExp(`^not launched: pin file ${s.pinFile} is not valid JSON \\(.+\\); expected \\{"version":1,`),
  );
  expect(s.runs('alpha')).toBe(0);
});

it('the supervisor hashes again before every restart: a file swapped while the plugin ran is not restarted', async () => {
  const s = setup(['alpha']);
  await pinPlugins(s.pluginsDir);
  const { engine, info } = await started(s.pluginsDir, {
    pluginEnv: { FIXTURE_PATTERN: 'alpha/**' },
    restart: { initialDelayMs: 100, maxRetries: 0 },
  });
  expect(info('alpha')?.status).toBe('running');
  appendFileSync(s.paths.alpha!, '# swapped while running\n');
  // The plugin kills itself on this request: a crash, then a restart attempt.
  await engine.getSecrets('alpha/crash').catch(() => {});
  const refused = await waitFor(
    'the restart to be refused',
    () => {
      const p = info('alpha');
      return p?.status === 'stopped' && p.statusMessage.startsWith('not launched: ') ? p : undefined;
    },
    { timeoutMs: 10_000 },
  );
  expect(refused.statusMessage).toMatch(/^not launched: SHA-256 of .+alpha is [0-9a-f]{64}, the pin file /);
  expect(refused.restarts).toBe(1);
  expect(s.runs('alpha')).toBe(1);
  // And a pin file removed while the engine runs does not turn pinning off.
  await pinPlugins(s.pluginsDir);
  rmSync(s.pinFile);
  await engine.enablePlugin('alpha');
  expect(info('alpha')?.statusMessage).toBe(
    `not launched: the pin file ${s.pinFile} existed and is gone; pinning stays on until the engine restarts without it (pin the plugins again to launch them)`,
  );
  expect(s.runs('alpha')).toBe(1);
});

it('without a pin file nothing is checked (pinning off)', async () => {
  const s = setup(['alpha']);
  const { info, logger } = await started(s.pluginsDir);
  expect(info('alpha')?.status).toBe('running');
  expect(logger.entries.map((e) => e.message)).not.toContain('plugin pinning is on');
});

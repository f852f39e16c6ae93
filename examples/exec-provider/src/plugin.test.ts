// The built executable (dist/exec-provider.mjs, `pnpm build`), launched as an engine launches it,
// bridging to the fake credential helper.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkPluginConformance } from '@secrets-engine/plugin-sdk/testing';
import { createEngine, type Logger } from '@secrets-engine/runtime';
import { beforeAll, expect, it } from 'vitest';
import { installFakeHelper, isAlive, STORE, waitUntil } from './__tests__/helpers.js';

const executable = fileURLToPath(new URL('../dist/exec-provider.mjs', import.meta.url));

beforeAll(() => {
  if (!existsSync(executable)) throw new Error(`${executable} is missing: run \`pnpm build\` first`);
});

it('passes the SDK conformance suite (helper from $CREDENTIAL_HELPER, as pluginEnv gives it)', async () => {
  using helper = installFakeHelper();
  const report = await checkPluginConformance({
    command: executable,
    env: { ...helper.env(), HOME: helper.dir, CREDENTIAL_HELPER: helper.path },
    found: ['docker-credentials/**', 'docker-credentials/ghcr.io', 'docker-credentials/index.docker.io/*'],
    missing: 'docker-credentials/nope.example.com',
  });
  expect(report.ok).toBe(true);
});

it('runs under the engine from a plugins folder, configured by <name>.json beside it', async () => {
  using helper = installFakeHelper();
  const plugins = join(helper.dir, 'plugins');
  mkdirSync(plugins);
  symlinkSync(executable, join(plugins, 'registry-auth'));
  writeFileSync(
    join(plugins, 'registry-auth.json'),
    JSON.stringify({ helper: '../docker-credential-fake.mjs', pattern: 'registry/**', timeoutMs: 5_000 }),
  );
  const lines: string[] = [];
  const logger = (attributes: Record<string, unknown> = {}): Logger => ({
    debug: () => {},
    info: (m, a) => lines.push(`${m} ${JSON.stringify({ ...attributes, ...a })}`),
    warn: (m, a) => lines.push(`${m} ${JSON.stringify({ ...attributes, ...a })}`),
    error: (m, a) => lines.push(`${m} ${JSON.stringify({ ...attributes, ...a })}`),
    child: (a) => logger({ ...attributes, ...a }),
  });
  const engine = createEngine({
    socketPath: join(helper.dir, 'engine.sock'),
    pluginsDir: plugins,
    externalPlugins: false,
    logger: logger(),
  });
  try {
    await engine.start();
    expect(engine.listPlugins().map((p) => [p.name, p.kind, p.status, p.pattern])).toEqual([
      ['registry-auth', 'launched', 'running', 'registry/**'],
    ]);
    const secrets = await engine.getSecrets('registry/**');
    expect(secrets.map((s) => [s.id, s.provider, s.revealText()])).toEqual([
      ['registry/ghcr.io', 'registry-auth', 'ghp-SECRET-2'],
      ['registry/index.docker.io/v1', 'registry-auth', 'hub-SECRET-1'],
      ['registry/registry.example.com:5000', 'registry-auth', 'reg-SECRET-3'],
    ]);
    await engine.getSecrets('registry/*');
  } finally {
    await engine.close();
  }
  const output = lines.filter((l) => l.includes('"stream":"output"'));
  expect(output.filter((l) => l.startsWith('warn: skipping credential helper key'))).toEqual([
    expect.stringContaining('key=http://localhost:5000'),
  ]);
  const all = lines.join('\n');
  for (const { Secret } of Object.values(STORE)) expect(all).not.toContain(Secret);
});

it('engine shutdown during a hanging helper run: the plugin exits promptly and the helper dies', async () => {
  using helper = installFakeHelper();
  const plugins = join(helper.dir, 'plugins');
  mkdirSync(plugins);
  symlinkSync(executable, join(plugins, 'exec-provider'));
  const engine = createEngine({
    socketPath: join(helper.dir, 'engine.sock'),
    pluginsDir: plugins,
    externalPlugins: false,
    pluginEnv: {
      CREDENTIAL_HELPER: helper.path,
      FAKE_HELPER_MODE: 'hang-get',
      FAKE_HELPER_LOG: helper.logFile,
    },
  });
  await engine.start();
  const pending = engine.getSecrets('docker-credentials/ghcr.io').catch((e: unknown) => e);
  expect(await waitUntil(() => helper.log().includes('get ghcr.io'), 5_000)).toBe(true);
  // The plugin drains the in-flight request for up to the engine's shutdown step (2 s) before the
  // stream is reset, its handler aborted and the helper killed; then it exits.
  const started = Date.now();
  await engine.close();
  expect(Date.now() - started).toBeLessThan(6_000);
  await pending;
  const pids = helper
    .log()
    .filter((l) => l.startsWith('pid '))
    .map((l) => Number(l.slice(4)));
  expect(await waitUntil(() => pids.every((pid) => !isAlive(pid)))).toBe(true);
});

it('without a configuration it exits with 2 and says what to set', async () => {
  using helper = installFakeHelper();
  const child = spawn(executable, [], {
    env: { PATH: process.env.PATH ?? '', HOME: helper.dir },
    stdio: 'pipe',
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const code = await new Promise((resolve) => child.once('exit', resolve));
  expect(code).toBe(2);
  expect(stderr).toContain('error: exec-provider: no configuration: set $CREDENTIAL_HELPER');
});

// The bin (dist/plugin-exec.mjs, `pnpm build`) as users run it, bridging to the fake credential
// helper: launched by a real engine from a plugins folder and asked through the client, started
// by hand with flags, and its command line.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, NotFoundError, ProviderFailedError } from '@secrets-engine/client';
import { checkPluginConformance } from '@secrets-engine/plugin-sdk/testing';
import { createEngine, type Logger } from '@secrets-engine/runtime';
import { beforeAll, expect, it } from 'vitest';
import { installFakeHelper, isAlive, STORE, waitUntil } from './__tests__/helpers.js';

const executable = fileURLToPath(new URL('../dist/plugin-exec.mjs', import.meta.url));

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
    const client = createClient({ socketPath: join(helper.dir, 'engine.sock'), timeoutMs: 20_000 });
    const secrets = await client.getSecrets('registry/**');
    expect(secrets.map((s) => [s.id, s.provider, s.revealText()])).toEqual([
      ['registry/ghcr.io', 'registry-auth', 'ghp-SECRET-2'],
      ['registry/index.docker.io/v1', 'registry-auth', 'hub-SECRET-1'],
      ['registry/registry.example.com:5000', 'registry-auth', 'reg-SECRET-3'],
    ]);
    await client.getSecrets('registry/*');
    expect(await client.getSecret('registry/nope.example.com').catch((e: unknown) => e)).toBeInstanceOf(
      NotFoundError,
    );
    client.close();
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
  await engine.close();
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
  expect(stderr).toContain('error: exec: no configuration: pass --helper, set $CREDENTIAL_HELPER');
});

it('started by hand with flags it joins a running engine; a failing helper is a failure, not "not found"', async () => {
  using helper = installFakeHelper();
  const socketPath = join(helper.dir, 'run', 'engine.sock');
  const engine = createEngine({ socketPath });
  await engine.start();
  const client = createClient({ socketPath, timeoutMs: 20_000 });
  const start = (mode: string, name: string) => {
    const child = spawn(
      executable,
      [
        '--helper',
        helper.path,
        '--pattern',
        `${name}/**`,
        '--timeout-ms',
        '5000',
        '--name',
        name,
        '--socket',
        socketPath,
      ],
      { env: { ...helper.env(mode), HOME: helper.dir }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    return { exited: new Promise((resolve) => child.once('exit', resolve)), stderr: () => stderr };
  };
  const good = start('', 'registry');
  const broken = start('fail-get', 'broken');
  try {
    expect(
      await waitUntil(
        () =>
          engine.listPlugins().filter((p) => p.kind === 'external' && p.status === 'running').length === 2,
        15_000,
      ),
    ).toBe(true);
    expect((await client.getSecret('registry/ghcr.io')).revealText()).toBe('ghp-SECRET-2');
    const err = await client.getSecret('broken/ghcr.io').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderFailedError);
    expect((err as ProviderFailedError).failures[0]?.message).toContain(
      'credential helper "get" failed for broken/ghcr.io (exit code 1)',
    );
  } finally {
    client.close();
    await engine.close();
  }
  expect(await good.exited).toBe(0);
  expect(await broken.exited).toBe(0);
  expect(good.stderr()).toContain(
    `info: configuration source=--helper helper=${helper.path} pattern=registry/**`,
  );
  for (const { Secret } of Object.values(STORE))
    expect(`${good.stderr()}${broken.stderr()}`).not.toContain(Secret);
});

it('--help, --version, a bad flag (64)', async () => {
  const run = (args: string[]) =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(executable, args, { env: { PATH: process.env.PATH ?? '' }, stdio: 'pipe' });
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.once('close', (code) => resolve({ code, out }));
    });
  const help = await run(['--help']);
  expect(help.code).toBe(0);
  expect(help.out).toMatch(/^Usage: secrets-engine-plugin-exec /);
  expect((await run(['--version'])).out).toMatch(/^secrets-engine-plugin-exec v\d+\.\d+\.\d+/);
  const bad = await run(['--helpr', 'x']);
  expect(bad.code).toBe(64);
  expect(bad.out).toContain("Unknown option '--helpr'");
});

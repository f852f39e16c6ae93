// The bin (dist/plugin-env.mjs, `pnpm build`) as users run it: launched by a real engine from a
// plugins folder and asked through the client, started by hand in a CI job's environment, and its
// command line; no value in any log.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, NotFoundError, ProviderFailedError } from '@secrets-engine/client';
import { checkPluginConformance } from '@secrets-engine/plugin-sdk/testing';
import { createEngine, type EngineOptions } from '@secrets-engine/runtime';
import { captureLogger } from '@secrets-engine/test-utils/process.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { type TempDir, tempDir, until, write } from './__tests__/helpers.js';

const bin = fileURLToPath(new URL('../dist/plugin-env.mjs', import.meta.url));

beforeAll(() => {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run \`pnpm build\` first`);
});

async function startEngine(tmp: TempDir, options: Partial<EngineOptions> = {}) {
  const lines: string[] = [];
  const socketPath = tmp.path('run', 'engine.sock');
  const stateDir = tmp.path('run', 'state');
  const engine = createEngine({
    socketPath,
    stateDir,
    logger: captureLogger(lines, 'PLUGIN_ENV_TEST_VERBOSE'),
    ...options,
  });
  await engine.start();
  const client = createClient({ socketPath, timeoutMs: 20_000 });
  return {
    engine,
    client,
    socketPath,
    lines,
    /** Every line the engine logged and every plugin log file, joined. */
    everything() {
      const logs = join(stateDir, 'logs');
      const files = existsSync(logs) ? readdirSync(logs).map((f) => readFileSync(join(logs, f), 'utf8')) : [];
      return [...lines, ...files].join('\n');
    },
    async [Symbol.asyncDispose]() {
      client.close();
      await engine.close();
    },
  };
}

function pluginsFolder(tmp: TempDir, name: string): string {
  const plugins = tmp.path('plugins');
  mkdirSync(plugins, { mode: 0o700 });
  symlinkSync(bin, join(plugins, name));
  return plugins;
}

const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e as Error,
  );

it('passes the SDK conformance suite', async () => {
  using tmp = tempDir();
  const report = await checkPluginConformance({
    command: bin,
    env: { PATH: process.env.PATH ?? '', HOME: tmp.dir, SE_SECRET_DB__PASSWORD: 'pw', SE_SECRET_API: 'a' },
    found: ['env/**', 'env/db/*', 'env/api'],
    missing: 'env/nope/**',
  });
  expect(report.ok).toBe(true);
});

describe('launched by an engine, asked through the client', () => {
  it('the variables the engine gives it (pluginEnv), with the pattern of its config file', async () => {
    using tmp = tempDir();
    const plugins = pluginsFolder(tmp, 'ci');
    write(join(plugins, 'ci.json'), JSON.stringify({ pattern: '**' }));
    await using run = await startEngine(tmp, {
      pluginsDir: plugins,
      pluginEnv: {
        SE_SECRET_DB__PASSWORD: 'pw-VALUE',
        SE_SECRET_NPM_TOKEN: 'npm-VALUE',
        SE_SECRET_UNSET: '',
      },
    });
    expect(run.engine.listPlugins().map((p) => [p.name, p.kind, p.status, p.pattern])).toEqual([
      ['ci', 'launched', 'running', '**'],
    ]);
    const secret = await run.client.getSecret('db/password');
    expect([secret.id, secret.provider, secret.revealText(), secret.metadata]).toEqual([
      'db/password',
      'ci',
      'pw-VALUE',
      { variable: 'SE_SECRET_DB__PASSWORD' },
    ]);
    expect((await run.client.getSecret('npm_token')).revealText()).toBe('npm-VALUE');
    // An empty variable is a refusal with its reason, not "not found"; an unknown ID is not found.
    const empty = await failure(run.client.getSecret('unset'));
    expect(empty).toBeInstanceOf(ProviderFailedError);
    expect((empty as ProviderFailedError).failures[0]?.message).toContain(
      'cannot serve unset: $SE_SECRET_UNSET is set but empty',
    );
    expect(await failure(run.client.getSecret('nope'))).toBeInstanceOf(NotFoundError);
    await until('the startup lines', () => run.everything().includes('serving environment variables'));
    expect(run.everything()).toContain('served=2 refused=1');
    expect(run.everything()).not.toMatch(/-VALUE/);
  });

  it("the engine's own variables with the prefix, through an allowlist that names it", async () => {
    using tmp = tempDir();
    const plugins = pluginsFolder(tmp, 'env');
    process.env.SE_SECRET_FROM_ENGINE = 'engine-VALUE';
    try {
      await using run = await startEngine(tmp, {
        pluginsDir: plugins,
        // The default list, plus the prefix (envAllowlist replaces the default).
        envAllowlist: ['PATH', 'HOME', 'USER', 'LANG', 'TMPDIR', 'XDG_*', 'SE_SECRET_*'],
      });
      expect((await run.client.getSecret('env/from_engine')).revealText()).toBe('engine-VALUE');
    } finally {
      delete process.env.SE_SECRET_FROM_ENGINE;
    }
  });

  it('without the allowlist it has nothing, and says why', async () => {
    using tmp = tempDir();
    const plugins = pluginsFolder(tmp, 'env');
    process.env.SE_SECRET_HIDDEN = 'hidden-VALUE';
    try {
      await using run = await startEngine(tmp, { pluginsDir: plugins });
      expect(await failure(run.client.getSecret('env/hidden'))).toBeInstanceOf(NotFoundError);
      await until('the warning', () => run.everything().includes('no variable starts with SE_SECRET_'));
      expect(run.everything()).toContain(
        "a plugin launched by an engine sees only the engine's allowlisted environment",
      );
    } finally {
      delete process.env.SE_SECRET_HIDDEN;
    }
  });
});

describe('the command line', () => {
  const runBin = (args: string[], env: Record<string, string>) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(bin, args, { env: { PATH: process.env.PATH ?? '', ...env }, stdio: 'pipe' });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      child.once('close', (code) => resolve({ code, stdout, stderr }));
    });

  it("started by hand in a CI job's environment, it joins the engine and serves that environment", async () => {
    using tmp = tempDir();
    await using run = await startEngine(tmp, {});
    const child = spawn(bin, ['--prefix', 'CI_SECRET_', '--pattern', 'ci/**', '--socket', run.socketPath], {
      env: { PATH: process.env.PATH ?? '', HOME: tmp.dir, CI_SECRET_DEPLOY__KEY: 'deploy-VALUE', OTHER: 'x' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      await until('the plugin to register', () =>
        run.engine.listPlugins().some((p) => p.name === 'env' && p.status === 'running'),
      );
      expect(run.engine.listPlugins().find((p) => p.name === 'env')?.kind).toBe('external');
      expect((await run.client.getSecret('ci/deploy/key')).revealText()).toBe('deploy-VALUE');
      expect(await failure(run.client.getSecret('ci/other'))).toBeInstanceOf(NotFoundError);
    } finally {
      await run.engine.close();
      expect(await exited).toBe(0);
    }
    expect(stderr).toContain('info: serving environment variables prefix=CI_SECRET_ pattern=ci/** served=1');
    expect(stderr).not.toContain('deploy-VALUE');
  });

  it('--help, --version, a bad flag (64), a bad prefix or config file (2)', async () => {
    using tmp = tempDir();
    const help = await runBin(['--help'], {});
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: secrets-engine-plugin-env /);
    expect((await runBin(['--version'], {})).stdout).toMatch(/^secrets-engine-plugin-env v\d+\.\d+\.\d+/);
    const bad = await runBin(['--prefx', 'X_'], {});
    expect(bad.code).toBe(64);
    expect(bad.stderr).toContain("Unknown option '--prefx'");
    const empty = await runBin([], { HOME: tmp.dir, SECRETS_ENV_PREFIX: '1X' });
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain(
      'error: env: createEnvProvider: prefix "1X" must be a non-empty variable name prefix',
    );
    write(
      tmp.path('.config', 'secrets-engine', 'plugin-env.json'),
      JSON.stringify({ prefix: 'A_', lowercase: 'no' }),
    );
    const typo = await runBin([], { HOME: tmp.dir });
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain(
      `${tmp.path('.config', 'secrets-engine', 'plugin-env.json')}: "lowercase" must be true or false`,
    );
  });
});

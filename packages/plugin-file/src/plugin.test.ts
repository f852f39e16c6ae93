// The bin (dist/plugin-file.mjs, `pnpm build`) as users run it: launched by a real engine from a
// plugins folder and asked through the client, started by hand, and its command line.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, NotFoundError, ProviderFailedError } from '@secrets-engine/client';
import { checkPluginConformance } from '@secrets-engine/plugin-sdk/testing';
import { createEngine, type Engine } from '@secrets-engine/runtime';
import { captureLogger } from '@secrets-engine/test-utils/process.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { replace, type TempDir, tempDir, until, write } from './__tests__/helpers.js';

const bin = fileURLToPath(new URL('../dist/plugin-file.mjs', import.meta.url));

beforeAll(() => {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run \`pnpm build\` first`);
});

interface Running extends AsyncDisposable {
  engine: Engine;
  client: ReturnType<typeof createClient>;
  socketPath: string;
  lines: string[];
  /** Every line the engine logged and every plugin log file, joined. */
  everything(): string;
}

async function startEngine(
  tmp: TempDir,
  options: { pluginsDir?: string; pluginEnv?: Record<string, string> },
) {
  const lines: string[] = [];
  const socketPath = tmp.path('run', 'engine.sock');
  const stateDir = tmp.path('run', 'state');
  const engine = createEngine({
    socketPath,
    stateDir,
    ...(options.pluginsDir === undefined ? {} : { pluginsDir: options.pluginsDir }),
    ...(options.pluginEnv === undefined ? {} : { pluginEnv: options.pluginEnv }),
    logger: captureLogger(lines, 'PLUGIN_FILE_TEST_VERBOSE'),
  });
  await engine.start();
  const client = createClient({ socketPath, timeoutMs: 20_000 });
  const running: Running = {
    engine,
    client,
    socketPath,
    lines,
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
  return running;
}

const reveal = async (client: Running['client'], pattern: string) =>
  Object.fromEntries((await client.getSecrets(pattern)).map((s) => [s.id, s.revealText()]));

const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e as Error,
  );

it('passes the SDK conformance suite (configured by $SECRETS_FILE, as pluginEnv gives it)', async () => {
  using tmp = tempDir();
  const file = write(tmp.path('conformance.json'), JSON.stringify({ 'api-token': 'x', 'db/password': 'y' }));
  const report = await checkPluginConformance({
    command: bin,
    env: { PATH: process.env.PATH ?? '', HOME: tmp.dir, SECRETS_FILE: file },
    found: ['file/**', 'file/db/*', 'file/api-token'],
    missing: 'file/nope/**',
  });
  expect(report.ok).toBe(true);
});

describe('launched by an engine from a plugins folder, asked through the client', () => {
  it('serves the file, picks up edits, keeps the last good version over a broken edit, never logs a value', async () => {
    using tmp = tempDir();
    const plugins = tmp.path('plugins');
    const secrets = write(tmp.path('home', 'secrets.json'), JSON.stringify({ 'db/password': 'pw-VALUE-1' }));
    write(join(plugins, 'home.json'), JSON.stringify({ file: '../home/secrets.json', pattern: 'home/**' }));
    // Installed as the README says: the bin linked under the plugin's name, its config beside it.
    symlinkSync(bin, join(plugins, 'home'));
    await using run = await startEngine(tmp, { pluginsDir: plugins });
    expect(run.engine.listPlugins().map((p) => [p.name, p.kind, p.status, p.pattern])).toEqual([
      ['home', 'launched', 'running', 'home/**'],
    ]);
    expect(await reveal(run.client, 'home/**')).toEqual({ 'home/db/password': 'pw-VALUE-1' });

    // An edit (write-and-rename) is served without a restart.
    replace(secrets, JSON.stringify({ 'db/password': 'pw-VALUE-2', 'api/token': 'tok-VALUE-3' }));
    await until(
      'the edit',
      async () => (await reveal(run.client, 'home/db/password'))['home/db/password'] === 'pw-VALUE-2',
    );
    expect(await reveal(run.client, 'home/**')).toEqual({
      'home/api/token': 'tok-VALUE-3',
      'home/db/password': 'pw-VALUE-2',
    });

    // A broken edit: the plugin says so at level error — and the engine's log keeps that level
    // (issue 15 item 5) — and the last good version is still served.
    replace(secrets, '{"db/password": "pw-VALUE-4", ');
    await until('the broken-edit line', () => run.lines.some((l) => l.includes('still serving the version')));
    const line = run.lines.find((l) => l.includes('still serving the version'));
    expect(line).toMatch(
      /^error plugin=home error: secrets file .*secrets\.json: not valid JSON \(line 1, column \d+\); still serving/,
    );
    expect(await reveal(run.client, 'home/db/password')).toEqual({ 'home/db/password': 'pw-VALUE-2' });
    expect(run.engine.listPlugins()[0]?.restarts).toBe(0);

    expect(run.everything()).toContain('loaded secrets');
    expect(run.everything()).not.toMatch(/VALUE-\d/);
  });

  it.runIf(process.platform !== 'win32')(
    'a secrets file others can read is refused: the client gets the reason (chmod 600), never "not found"',
    async () => {
      using tmp = tempDir();
      const plugins = tmp.path('plugins');
      const secrets = write(tmp.path('s.env'), 'TOKEN=VALUE-open\n', 0o644);
      mkdirSync(plugins, { mode: 0o700 });
      symlinkSync(bin, join(plugins, 'file'));
      await using run = await startEngine(tmp, { pluginsDir: plugins, pluginEnv: { SECRETS_FILE: secrets } });
      const err = await failure(run.client.getSecret('file/TOKEN'));
      expect(err).toBeInstanceOf(ProviderFailedError);
      expect(err).not.toBeInstanceOf(NotFoundError);
      const [only] = (err as ProviderFailedError).failures;
      expect(only?.plugin).toBe('file');
      expect(only?.message).toContain(
        `refusing secrets file ${secrets}: mode 0644 lets other users read it; allowed: no permission for group and others (fix: chmod 600 ${secrets})`,
      );
      // Fixed by the command the message gives: served without a restart.
      chmodSync(secrets, 0o600);
      await until(
        'served after chmod 600',
        async () => (await failure(run.client.getSecret('file/TOKEN'))) === undefined,
      );
      expect((await run.client.getSecret('file/TOKEN')).revealText()).toBe('VALUE-open');
      expect(run.everything()).not.toContain('VALUE-open');
    },
  );

  it('a folder with one file per secret (format dir from its config file)', async () => {
    using tmp = tempDir();
    const plugins = tmp.path('plugins');
    write(tmp.path('vault', 'github', 'token'), 'ghp-VALUE\n');
    write(tmp.path('vault', 'npm'), 'npm-VALUE');
    write(
      join(plugins, 'vault.json'),
      JSON.stringify({ file: tmp.path('vault'), pattern: '**', format: 'dir' }),
    );
    symlinkSync(bin, join(plugins, 'vault'));
    await using run = await startEngine(tmp, { pluginsDir: plugins });
    expect(await reveal(run.client, '**')).toEqual({ 'github/token': 'ghp-VALUE', npm: 'npm-VALUE' });
    write(tmp.path('vault', 'github', 'app-key'), 'key-VALUE');
    await until('the new file', async () => 'github/app-key' in (await reveal(run.client, 'github/*')));
    expect(run.everything()).not.toMatch(/-VALUE/);
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

  it('started by hand with flags it joins a running engine as an external plugin', async () => {
    using tmp = tempDir();
    const file = write(tmp.path('ci.env'), 'NPM_TOKEN=npm-VALUE\n');
    await using run = await startEngine(tmp, {});
    const child = spawn(
      bin,
      ['--file', file, '--pattern', 'ci/**', '--name', 'ci-file', '--socket', run.socketPath],
      {
        env: { PATH: process.env.PATH ?? '', HOME: tmp.dir },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      await until('the plugin to register', () =>
        run.engine.listPlugins().some((p) => p.name === 'ci-file' && p.status === 'running'),
      );
      expect(run.engine.listPlugins().find((p) => p.name === 'ci-file')?.kind).toBe('external');
      expect((await run.client.getSecret('ci/NPM_TOKEN')).revealText()).toBe('npm-VALUE');
    } finally {
      await run.engine.close();
      expect(await exited).toBe(0);
    }
    expect(stderr).toContain(`info: configuration source=--file file=${file} format=auto pattern=ci/**`);
    expect(stderr).not.toContain('npm-VALUE');
  });

  it('--help, --version, a bad flag (64), no or a bad configuration (2)', async () => {
    using tmp = tempDir();
    const help = await runBin(['--help'], {});
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: secrets-engine-plugin-file /);
    const version = await runBin(['--version'], {});
    expect(version.stdout).toMatch(/^secrets-engine-plugin-file v\d+\.\d+\.\d+/);
    const bad = await runBin(['--fiel', 'x'], {});
    expect(bad.code).toBe(64);
    expect(bad.stderr).toContain("Unknown option '--fiel'");
    const none = await runBin([], { HOME: tmp.dir });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('error: file: no secrets file: pass --file PATH, set $SECRETS_FILE');
    const badFormat = await runBin(['--file', 'x.json', '--format', 'yaml'], { HOME: tmp.dir });
    expect(badFormat.code).toBe(2);
    expect(badFormat.stderr).toContain(
      'error: file: --format: format "yaml" is not one of auto, json, env, dir',
    );
    // The config file is named after the executable (here dist/plugin-file.mjs), not --name.
    write(
      tmp.path('.config', 'secrets-engine', 'plugin-file.json'),
      JSON.stringify({ file: 'x', patern: 'a/**' }),
    );
    const typo = await runBin([], { HOME: tmp.dir });
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain(
      `${tmp.path('.config', 'secrets-engine', 'plugin-file.json')}: unknown field(s) "patern"; allowed: "file", "pattern", "format"`,
    );
  });
});

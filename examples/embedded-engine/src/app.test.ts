import { execFile, spawn } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type EnvelopeInit, parsePattern } from '@secrets-engine/secrets';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createAppProvider, runApp } from './app.js';

const fixture = fileURLToPath(new URL('./__tests__/fixtures/team-vault.mjs', import.meta.url));
const main = fileURLToPath(new URL('../dist/main.js', import.meta.url));
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'embedded-test-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const alive = (pid: number | undefined) => {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

it('the builtin provider: a generated session key and APP_SECRET_* variables', async () => {
  const provider = createAppProvider({ APP_SECRET_DB_PASSWORD: 'pw', OTHER: 'x', APP_SECRET_: 'no name' });
  const all = [
    ...(await provider.getSecrets(parsePattern('app/**'), { signal: new AbortController().signal })),
  ];
  expect(all.map((e) => [e.id, e.metadata])).toEqual([
    ['app/session-key', { source: 'generated' }],
    ['app/env/db-password', { source: 'env:APP_SECRET_DB_PASSWORD' }],
  ]);
  expect(String((all[0] as EnvelopeInit).value)).toMatch(/^[0-9a-f]{64}$/);
});

it('embeds an engine on a temporary socket, reads through the client, prints no value, cleans up', async () => {
  const printed: string[] = [];
  const report = await runApp({
    env: { APP_SECRET_DB_PASSWORD: 'VALUE-db' },
    print: (line) => printed.push(line),
  });
  expect(printed).toEqual([
    `engine listening on ${report.socketPath}`,
    'plugin app-local (builtin, running) serves app/**',
    'resolved app/session-key from app-local',
    'resolved app/env/db-password from app-local',
    'engine stopped',
  ]);
  expect(report.missing).toEqual([]);
  expect(printed.join('\n')).not.toMatch(/VALUE-db|[0-9a-f]{64}/);
  // Its own temporary folder, socket included, is gone.
  expect(existsSync(dirname(report.socketPath))).toBe(false);
});

it('with a plugins folder: launched plugins answer too, and none outlives the app', async () => {
  const plugins = join(dir, 'plugins');
  mkdirSync(plugins);
  chmodSync(fixture, 0o755); // discovery launches executable files only, whatever git kept of the mode
  symlinkSync(fixture, join(plugins, 'team-vault'));
  const printed: string[] = [];
  const socketPath = join(dir, 'app.sock');
  const report = await runApp({
    socketPath,
    pluginsDir: plugins,
    pluginEnv: { TEAM_VAULT_VALUE: 'VALUE-team' },
    patterns: ['team/**', 'app/session-key', 'nope/**'],
    env: {},
    print: (line) => printed.push(line),
  });
  expect(report.resolved).toEqual([
    { pattern: 'team/**', id: 'team/deploy-key', provider: 'team-vault' },
    { pattern: 'app/session-key', id: 'app/session-key', provider: 'app-local' },
  ]);
  expect(report.missing).toEqual(['nope/**']);
  expect(printed).toContain('plugin team-vault (launched, running) serves team/**');
  expect(printed).toContain('nothing matches nope/**');
  expect(printed.join('\n')).not.toContain('VALUE-team');
  const pid = report.plugins.find((p) => p.name === 'team-vault')?.pid;
  expect(pid).toBeGreaterThan(0);
  expect(alive(pid)).toBe(false);
  // A socket it was given is removed; the folder is the caller's and stays.
  expect(existsSync(socketPath)).toBe(false);
  expect(existsSync(dir)).toBe(true);
});

it('the program: `node dist/main.js --socket S PATTERN...` exits 0 after a clean shutdown', async () => {
  if (!existsSync(main)) throw new Error(`${main} is missing: run \`pnpm build\` first`);
  const socket = join(dir, 'e.sock');
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [main, '--socket', socket, 'app/*', 'x/**'],
    {
      env: { PATH: process.env.PATH ?? '', APP_SECRET_TOKEN: 'VALUE-token' },
    },
  );
  expect(stdout.trim().split('\n')).toEqual([
    `engine listening on ${socket}`,
    'plugin app-local (builtin, running) serves app/**',
    'resolved app/session-key from app-local',
    'nothing matches x/**',
    'engine stopped',
  ]);
  expect(existsSync(socket)).toBe(false);
  const bad = await promisify(execFile)(process.execPath, [main, '--plugin-env', 'oops']).catch(
    (e: unknown) => e,
  );
  expect((bad as { code?: number }).code).toBe(64);
});

it('the program, interrupted while a plugin is still starting: stops it, removes the socket, exits 130', async () => {
  if (!existsSync(main)) throw new Error(`${main} is missing: run \`pnpm build\` first`);
  const plugins = join(dir, 'plugins');
  mkdirSync(plugins);
  // A plugin that never registers (CommonJS: no package.json up the tree): the engine would wait
  // for it until the registration timeout.
  const stuck = join(plugins, 'stuck');
  writeFileSync(
    stuck,
    "#!/usr/bin/env node\nrequire('node:fs').writeFileSync(process.argv[1] + '.pid', String(process.pid));\nsetInterval(() => {}, 1000);\n",
  );
  chmodSync(stuck, 0o755);
  const socket = join(dir, 'e.sock');
  const child = spawn(process.execPath, [main, '--socket', socket, '--plugins-dir', plugins], {
    env: { PATH: process.env.PATH ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const deadline = Date.now() + 5_000;
  while (!existsSync(`${stuck}.pid`) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  child.kill('SIGINT');
  expect(await exited).toBe(130);
  expect(stdout).toBe('engine stopped\n');
  expect(existsSync(socket)).toBe(false);
  expect(alive(Number(readFileSync(`${stuck}.pid`, 'utf8')))).toBe(false);
});

#!/usr/bin/env node
// The demo: an engine with the example plugins, driven through the `secrets-engine` CLI.
// Run by `pnpm demo` after the build. Leaves no process and no file behind, exits 0 on success.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'packages/cli/dist/bin.js');
const { createClient } = await import(join(root, 'packages/client/dist/index.js'));

const tty = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code) => (s) => (tty ? `\x1b[${code}m${s}\x1b[0m` : s);
const bold = paint('1');
const dim = paint('2');
const green = paint('32');
const cyan = paint('36');
const red = paint('31');
const say = (s = '') => process.stdout.write(`${s}\n`);
const indent = (text) =>
  text
    .trimEnd()
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
let stepNo = 0;
const TOTAL = 7;
const step = (title) => say(`\n${bold(cyan(`[${++stepNo}/${TOTAL}]`))} ${bold(title)}`);
const show = (cmd) => say(`  ${dim('$')} ${cmd}`);

const work = mkdtempSync(join(tmpdir(), 'secrets-engine-demo-'));
const socket = join(work, 'engine.sock');
const pluginsDir = join(work, 'plugins');
let engine;
const pids = new Set();

/** Runs the CLI on the demo's socket; throws unless it exits with `expect`. Returns { stdout, stderr, status }. */
function secretsEngine(args, options = {}) {
  // --socket goes right after the command (for `run`, everything after `--` is the child's).
  const res = spawnSync(process.execPath, [cli, args[0], '--socket', socket, ...args.slice(1)], {
    encoding: 'utf8',
    env: { ...process.env, ...(options.env ?? {}) },
  });
  if (res.status !== (options.expect ?? 0)) {
    throw new Error(`secrets-engine ${args.join(' ')} exited ${res.status}: ${res.stderr.trim()}`);
  }
  return res;
}

/** Process ids whose parent is `ppid`, with their command lines (Linux and macOS). */
function childrenOf(ppid) {
  const out = execFileSync('ps', ['-A', '-o', 'pid=,ppid=,args='], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((l) => l.trim().match(/^(\d+)\s+(\d+)\s+(.*)$/))
    .filter((m) => m !== null && Number(m[2]) === ppid)
    .map((m) => ({ pid: Number(m[1]), args: m[3] }));
}

function alive(pid) {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const ps = spawnSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' });
  return ps.status === 0 && !ps.stdout.trim().startsWith('Z');
}

async function waitFor(what, fn, timeoutMs = 15_000) {
  const start = Date.now();
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function main() {
  say(bold('secrets-engine demo'));
  say(dim(`  working in ${work}`));

  // The example plugins, installed as an engine expects: executables named after the plugin, each
  // with its config beside it (discovery launches only executables).
  mkdirSync(pluginsDir, { mode: 0o700 });
  const secretsFile = join(work, 'secrets.json');
  writeFileSync(
    secretsFile,
    JSON.stringify(
      {
        // IDs are relative to the plugin's pattern: `db/password` is served as `demo/db/password`.
        'db/password': 'correct-horse-battery-staple',
        'api/token': { value: 'tok_5up3r53cr3t', metadata: { owner: 'payments' } },
        'smtp/password': 'mail-pa55',
      },
      null,
      2,
    ),
    { mode: 0o600 },
  );
  symlinkSync(join(root, 'examples/file-provider/dist/file-provider.mjs'), join(pluginsDir, 'file-provider'));
  writeFileSync(
    join(pluginsDir, 'file-provider.json'),
    JSON.stringify({ file: secretsFile, pattern: 'demo/**' }),
  );
  const helper = join(work, 'docker-credential-demo');
  copyFileSync(
    join(root, 'examples/exec-provider/src/__tests__/fixtures/fake-credential-helper.mjs'),
    helper,
  );
  chmodSync(helper, 0o755);
  writeFileSync(
    `${helper}.store.json`,
    JSON.stringify({ 'ghcr.io': { Username: 'octocat', Secret: 'ghp_demo_token' } }),
    { mode: 0o600 },
  );
  symlinkSync(join(root, 'examples/exec-provider/dist/exec-provider.mjs'), join(pluginsDir, 'registry-auth'));
  writeFileSync(join(pluginsDir, 'registry-auth.json'), JSON.stringify({ helper }));

  step('Start the engine with two plugins from a plugins folder');
  show(`secrets-engine serve --socket ${socket} --plugins-dir ${pluginsDir}`);
  const started = Date.now();
  engine = spawn(
    process.execPath,
    [cli, 'serve', '--socket', socket, '--plugins-dir', pluginsDir, '--log-level', 'warn'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  pids.add(engine.pid);
  let engineLog = '';
  engine.stdout.on('data', (d) => (engineLog += d));
  engine.stderr.on('data', (d) => (engineLog += d));
  const client = createClient({ socketPath: socket, timeoutMs: 5_000 });
  await waitFor('the engine and its plugins', async () => {
    if (engine.exitCode !== null) throw new Error(`the engine exited early:\n${engineLog}`);
    const plugins = await client.listPlugins().catch(() => []);
    return plugins.length === 2 && plugins.every((p) => p.runStatus === 'running');
  });
  for (const c of childrenOf(engine.pid)) pids.add(c.pid);
  say(`  ${green('✓')} engine (pid ${engine.pid}) ready with both plugins in ${Date.now() - started} ms`);

  step('List the plugins');
  show('secrets-engine plugins');
  say(indent(secretsEngine(['plugins']).stdout));

  step('Resolve secrets by pattern (values stay hidden unless asked for)');
  show("secrets-engine get 'demo/**'");
  say(indent(secretsEngine(['get', 'demo/**']).stdout));
  show("secrets-engine get 'docker-credentials/*' --json");
  say(indent(secretsEngine(['get', 'docker-credentials/*', '--json']).stdout));
  show("secrets-engine get 'nothing/here'");
  const miss = secretsEngine(['get', 'nothing/here'], { expect: 2 });
  say(indent(`${miss.stderr.trim()}\n${dim(`exit code ${miss.status}`)}`));

  step('Inject a secret into a child process');
  const expected = createHash('sha256').update('correct-horse-battery-staple').digest('hex').slice(0, 12);
  const probe =
    "const v = process.env.DB_PASSWORD; console.log('child sees DB_PASSWORD: ' + v.length + ' characters, sha256 ' + require('node:crypto').createHash('sha256').update(v).digest('hex').slice(0, 12))";
  show(`DB_PASSWORD=se://demo/db/password secrets-engine run -- node -e "<print a hash of DB_PASSWORD>"`);
  const ran = secretsEngine(['run', '--', process.execPath, '-e', probe], {
    env: { DB_PASSWORD: 'se://demo/db/password' },
  }).stdout;
  say(indent(ran));
  if (!ran.includes(expected)) throw new Error('the child did not see the secret from the file');
  say(`  ${green('✓')} same hash as the value in ${secretsFile}: ${expected}`);
  show('API_TOKEN=se://demo/api/missing secrets-engine run -- node -e "…"');
  const refused = secretsEngine(['run', '--', process.execPath, '-e', 'process.exit(0)'], {
    env: { API_TOKEN: 'se://demo/api/missing' },
    expect: 1,
  });
  say(indent(`${refused.stderr.trim()}\n${dim(`exit code ${refused.status}: the command never started`)}`));

  step('Kill a plugin: the engine restarts it');
  const victim = await waitFor('the file-provider process', () =>
    childrenOf(engine.pid).find((c) => c.args.includes('file-provider')),
  );
  show(`kill -9 ${victim.pid}   ${dim('# file-provider')}`);
  process.kill(victim.pid, 'SIGKILL');
  const killedAt = Date.now();
  const crashed = await waitFor('the crash to be noticed', async () => {
    const p = (await client.listPlugins()).find((x) => x.name === 'file-provider');
    return p !== undefined && p.runStatus !== 'running' ? p : undefined;
  });
  say(`  status: ${red(crashed.runStatus)} — ${crashed.statusMessage}`);
  await waitFor('the restart', async () => {
    const p = (await client.listPlugins()).find((x) => x.name === 'file-provider');
    return p?.runStatus === 'running';
  });
  const restarted = childrenOf(engine.pid).find((c) => c.args.includes('file-provider'));
  if (restarted !== undefined) pids.add(restarted.pid);
  say(
    `  ${green('✓')} running again as pid ${restarted?.pid ?? '?'}, ${Date.now() - killedAt} ms after the kill`,
  );
  show('secrets-engine plugins');
  say(indent(secretsEngine(['plugins']).stdout));
  show("secrets-engine get 'demo/db/*'");
  say(indent(secretsEngine(['get', 'demo/db/*']).stdout));
  client.close();

  step('Shut down');
  for (const c of childrenOf(engine.pid)) pids.add(c.pid);
  show(`kill -TERM ${engine.pid}`);
  const exited = new Promise((resolve) => engine.once('exit', (code, signal) => resolve({ code, signal })));
  engine.kill('SIGTERM');
  const { code } = await exited;
  if (code !== 0) throw new Error(`the engine exited with ${code}:\n${engineLog}`);
  say(`  ${green('✓')} engine exited 0`);

  step('Check that nothing is left behind');
  await waitFor('every process to be gone', () => [...pids].every((pid) => !alive(pid)), 5_000);
  say(`  ${green('✓')} no process left (checked pids ${[...pids].join(', ')})`);
  say(`\n${green(bold('Demo complete.'))}`);
}

try {
  await main();
} catch (err) {
  say(`\n${red(bold('Demo failed:'))} ${err.message}`);
  process.exitCode = 1;
} finally {
  if (engine !== undefined && engine.exitCode === null) engine.kill('SIGKILL');
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
  rmSync(work, { recursive: true, force: true });
}

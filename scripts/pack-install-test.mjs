#!/usr/bin/env node
// Pack-and-install test of the published packages: `pnpm pack` each one, install the tarballs with
// plain npm into scratch projects outside the workspace (no workspace links), and run a small
// program per package, then follow docs/plugin-authors-guide.md from an empty folder with its own
// code blocks (scenario e). Assumes `pnpm build` ran. Prints one PASS/FAIL line per scenario, leaves no
// process and no file behind, exits non-zero on failure.
//
// @secrets-engine/* packages come only from the tarballs: the scope's registry is pointed at a
// closed port, so a dependency missing from a tarball set fails the install instead of silently
// coming from the public registry. (npm still asks the registry about a scoped dependency that a
// tarball on the command line satisfies; the scope's registry is a local server that answers 404
// at once, so that costs nothing.) Third-party dependencies come from the npm registry.
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PUBLISHED } from './published.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const SCOPE = '@secrets-engine';

// The registry of the @secrets-engine scope: 404 for everything.
const scopeRequests = new Set();
const scopeRegistry = createServer((req, res) => {
  scopeRequests.add(decodeURIComponent(req.url ?? ''));
  res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
});
await new Promise((resolve) => scopeRegistry.listen(0, '127.0.0.1', resolve));
const NO_REGISTRY = `--${SCOPE}:registry=http://127.0.0.1:${scopeRegistry.address().port}/`;
const NPM_FLAGS = ['--no-audit', '--no-fund', '--loglevel=error', '--no-update-notifier', NO_REGISTRY];

const work = mkdtempSync(join(tmpdir(), 'se-pack-install-'));
const children = new Set();
const t0 = Date.now();
const secs = (since) => `${((Date.now() - since) / 1000).toFixed(1)}s`;
const log = (s) => process.stdout.write(`${s}\n`);

/**
 * Spawns a command with its output captured; it is SIGKILLed by cleanup() if still running. `closed`
 * resolves once it has exited and its output is complete: { code, signal, stdout, stderr, error }.
 */
function start(cmd, args, { cwd = work, env } = {}) {
  const child = spawn(cmd, args, {
    cwd,
    env: { ...process.env, npm_config_update_notifier: 'false', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const closed = new Promise((resolve) => {
    const done = (result) => {
      children.delete(child);
      resolve({ stdout, stderr, ...result });
    };
    child.on('error', (error) => done({ code: null, signal: null, error }));
    child.on('close', (code, signal) => done({ code, signal }));
  });
  return { child, closed, output: () => ({ stdout, stderr }) };
}

/** Runs a command; resolves with { code, signal, stdout, stderr } (never rejects on exit status). */
async function run(cmd, args, { timeoutMs = 120_000, ...options } = {}) {
  const proc = start(cmd, args, options);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    proc.child.kill('SIGKILL');
  }, timeoutMs);
  const res = await proc.closed;
  clearTimeout(timer);
  if (res.error) throw res.error;
  return timedOut ? { ...res, stderr: `${res.stderr}\n[timed out after ${timeoutMs} ms]` } : res;
}

/** Like run, but throws (with the output) unless the exit code is `expect`. */
async function check(what, cmd, args, options = {}) {
  const res = await run(cmd, args, options);
  const expect = options.expect ?? 0;
  if (res.code !== expect) {
    throw new Error(
      `${what}: exit ${res.code ?? res.signal}, expected ${expect}\n--- stdout\n${res.stdout.trim()}\n--- stderr\n${res.stderr.trim()}`,
    );
  }
  return res;
}

/** Starts a long-running process (see start) and resolves once a stdout line matches `ready`. */
function startUntil(what, cmd, args, ready, { timeoutMs = 30_000, ...options } = {}) {
  const proc = start(cmd, args, options);
  return new Promise((resolve, reject) => {
    const fail = (why) => {
      clearTimeout(timer);
      proc.child.kill('SIGKILL');
      const { stdout, stderr } = proc.output();
      reject(new Error(`${what}: ${why}\n--- stdout\n${stdout.trim()}\n--- stderr\n${stderr.trim()}`));
    };
    const timer = setTimeout(() => fail(`no ready line within ${timeoutMs} ms`), timeoutMs);
    const onData = () => {
      const line = proc
        .output()
        .stdout.split('\n')
        .find((l) => ready.test(l));
      if (line === undefined) return;
      clearTimeout(timer);
      proc.child.stdout.off('data', onData);
      resolve({ ...proc, line });
    };
    proc.child.stdout.on('data', onData);
    // After the ready line this settles nothing: the promise is resolved already.
    proc.closed.then((res) => fail(res.error?.message ?? `exited early (${res.code ?? res.signal})`));
  });
}

/** Sends `signal` and resolves with the exit code (or signal name). */
function stop(child, signal = 'SIGTERM', timeoutMs = 10_000) {
  if (child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve(child.exitCode ?? child.signalCode);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve(`timeout (killed after ${timeoutMs} ms)`);
    }, timeoutMs);
    child.once('exit', (code, sig) => {
      clearTimeout(timer);
      resolve(code ?? sig);
    });
    child.kill(signal);
  });
}

// ---------------------------------------------------------------------------------------------
// Packing

const manifests = new Map(
  PUBLISHED.map((p) => [p, JSON.parse(readFileSync(join(root, 'packages', p, 'package.json'), 'utf8'))]),
);
const shortName = (name) => name.slice(SCOPE.length + 1);

/** The published package plus its @secrets-engine runtime dependencies, transitively. */
function closure(pkg) {
  const seen = new Set();
  const visit = (p) => {
    if (seen.has(p)) return;
    seen.add(p);
    for (const dep of Object.keys(manifests.get(p).dependencies ?? {})) {
      if (dep.startsWith(`${SCOPE}/`)) visit(shortName(dep));
    }
  };
  visit(pkg);
  return [...seen];
}

const tarballDir = join(work, 'tarballs');
const tarballs = new Map();

async function packAll() {
  mkdirSync(tarballDir);
  await Promise.all(
    PUBLISHED.map(async (p) => {
      const dir = join(tarballDir, p);
      mkdirSync(dir);
      await check(`pnpm pack (${p})`, 'pnpm', ['pack', '--pack-destination', dir], {
        cwd: join(root, 'packages', p),
      });
      const files = readdirSync(dir).filter((f) => f.endsWith('.tgz'));
      if (files.length !== 1) throw new Error(`pnpm pack (${p}) produced ${files.length} tarballs`);
      tarballs.set(p, join(dir, files[0]));
    }),
  );
  // `workspace:^` must be rewritten to real versions in every packed manifest.
  for (const p of PUBLISHED) {
    const res = await check(`tar (${p})`, 'tar', ['-xzOf', tarballs.get(p), 'package/package.json']);
    const packed = JSON.parse(res.stdout);
    for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
      for (const [dep, range] of Object.entries(packed[field] ?? {})) {
        if (String(range).startsWith('workspace:')) {
          throw new Error(`packed ${packed.name}: ${field}.${dep} is still "${range}"`);
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Scratch projects

/** A fresh npm project outside the workspace with `pkgs` (and their closures) installed from tarballs. */
async function scratchProject(name, pkgs) {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(
    join(dir, 'package.json'),
    `${JSON.stringify({ name: `scratch-${name}`, version: '0.0.0', private: true, type: 'module' }, null, 2)}\n`,
  );
  const wanted = [...new Set(pkgs.flatMap(closure))];
  await check(
    `npm install (${name})`,
    'npm',
    ['install', ...NPM_FLAGS, ...wanted.map((p) => tarballs.get(p))],
    {
      cwd: dir,
    },
  );
  assertFromTarballs(dir, name);
  return { dir, installed: wanted };
}

/** Every @secrets-engine package in the lockfile must come from a local tarball. */
function assertFromTarballs(dir, what) {
  const lock = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8'));
  for (const [path, entry] of Object.entries(lock.packages ?? {})) {
    if (path.includes(`node_modules/${SCOPE}/`) && !String(entry.resolved ?? '').startsWith('file:')) {
      throw new Error(`${what}: ${path} was not installed from a tarball (resolved: ${entry.resolved})`);
    }
  }
}

/** Names of every @secrets-engine package in `npm ls --all --json` of `dir`. */
async function scopeClosure(dir) {
  const res = await run('npm', ['ls', '--all', '--json', NO_REGISTRY], { cwd: dir });
  if (res.code !== 0) throw new Error(`npm ls: exit ${res.code}\n${res.stdout}\n${res.stderr}`);
  const names = new Set();
  const walk = (deps) => {
    for (const [name, info] of Object.entries(deps ?? {})) {
      names.add(name);
      walk(info.dependencies);
    }
  };
  walk(JSON.parse(res.stdout).dependencies);
  return names;
}

function assertAbsent(dir, pkgs, why) {
  for (const p of pkgs) {
    if (existsSync(join(dir, 'node_modules', SCOPE, p))) {
      throw new Error(`node_modules/${SCOPE}/${p} exists: ${why}`);
    }
  }
}

const runNode = (dir, file, source, what) => {
  writeFileSync(join(dir, file), source);
  return check(what, process.execPath, [file], { cwd: dir, timeoutMs: 30_000 });
};

function expectLine(res, line, what) {
  if (!res.stdout.split('\n').includes(line)) {
    throw new Error(
      `${what}: expected the line "${line}"\n--- stdout\n${res.stdout.trim()}\n--- stderr\n${res.stderr}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Scenarios

const PLUGIN_PROGRAM = `
import { createPlugin, match, NotFoundError } from '@secrets-engine/plugin-sdk';
import { startPluginHarness } from '@secrets-engine/plugin-sdk/testing';

const store = { 'demo/db/password': 'hunter2', 'demo/api/token': 'tok-123' };
const plugin = createPlugin({
  name: 'demo',
  version: 'v1.0.0',
  pattern: 'demo/**',
  getSecrets(pattern) {
    const found = Object.entries(store)
      .filter(([id]) => match(pattern, id))
      .map(([id, value]) => ({ id, value }));
    if (found.length === 0) throw new NotFoundError();
    return found;
  },
});
const harness = await startPluginHarness(plugin);
try {
  for (const s of await harness.getSecrets('demo/db/*')) console.log('resolved ' + s.id + '=' + s.revealText());
} finally {
  await harness.close();
}
`;

// Also the engine of scenario (c): started with a socket path, it prints a ready line and serves
// until SIGTERM.
const ENGINE_PROGRAM = `
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEngine } from '@secrets-engine/runtime';

const serve = process.argv[2];
const dir = serve ? undefined : mkdtempSync(join(tmpdir(), 'se-rt-'));
const engine = createEngine({
  socketPath: serve ?? join(dir, 'engine.sock'),
  plugins: [
    {
      name: 'memory',
      version: 'v1.0.0',
      pattern: 'mem/**',
      getSecrets: (pattern) =>
        pattern === 'mem/db/password' || pattern === 'mem/db/*' || pattern === 'mem/**'
          ? [{ id: 'mem/db/password', value: 'hunter2' }]
          : [],
    },
  ],
});
await engine.start();
if (serve) {
  console.log('engine ready');
  process.once('SIGTERM', () => engine.close().then(() => process.exit(0)));
} else {
  try {
    for (const s of await engine.getSecrets('mem/db/*')) console.log('resolved ' + s.id + '=' + s.revealText() + ' by ' + s.provider);
  } finally {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log('closed');
}
`;

const CLIENT_PROGRAM = `
import { createClient, NotFoundError } from '@secrets-engine/client';

const client = createClient({ socketPath: process.argv[2], timeoutMs: 5_000 });
try {
  const [secret] = await client.getSecrets('mem/db/*');
  console.log('resolved ' + secret?.id + '=' + secret?.revealText() + ' by ' + secret?.provider);
  try {
    await client.getSecrets('nothing/here');
    console.log('miss: no error');
  } catch (err) {
    console.log('miss: ' + (err instanceof NotFoundError ? 'NotFoundError' : String(err)));
  }
} finally {
  client.close();
}
`;

async function pluginSdkAlone() {
  const { dir } = await scratchProject('plugin-sdk', ['plugin-sdk']);
  assertAbsent(dir, ['runtime', 'client', 'cli'], "a plugin author's install must not pull in the runtime");
  if ((await scopeClosure(dir)).has(`${SCOPE}/runtime`)) {
    throw new Error(`npm ls: ${SCOPE}/runtime is in the plugin-sdk's dependency tree`);
  }
  const res = await runNode(dir, 'plugin.mjs', PLUGIN_PROGRAM, 'plugin program');
  expectLine(res, 'resolved demo/db/password=hunter2', 'plugin program');
  return 'createPlugin + startPluginHarness resolved demo/db/password; no runtime installed';
}

let runtimeProject;
async function runtimeAlone() {
  runtimeProject = scratchProject('runtime', ['runtime']);
  const { dir } = await runtimeProject;
  assertAbsent(dir, ['plugin-sdk', 'client', 'cli'], 'not a dependency of the runtime');
  const res = await runNode(dir, 'engine.mjs', ENGINE_PROGRAM, 'engine program');
  expectLine(res, 'resolved mem/db/password=hunter2 by memory', 'engine program');
  expectLine(res, 'closed', 'engine program');
  return 'createEngine with a builtin plugin started, resolved via engine.getSecrets, closed';
}

async function clientAlone() {
  const { dir } = await scratchProject('client', ['client']);
  const forbidden = ['ipc', 'runtime', 'plugin-sdk', 'cli'];
  assertAbsent(dir, forbidden, 'an application that only reads secrets must not pull it in');
  const names = await scopeClosure(dir);
  for (const p of forbidden) {
    if (names.has(`${SCOPE}/${p}`))
      throw new Error(`npm ls: ${SCOPE}/${p} is in the client's dependency tree`);
  }
  if (names.has('@chainsafe/libp2p-yamux'))
    throw new Error("npm ls: the yamux stack is in the client's tree");
  const scope = [...names].filter((n) => n.startsWith(`${SCOPE}/`)).sort();

  // The engine runs in another process, from the runtime project of scenario (b).
  writeFileSync(join(dir, 'client.mjs'), CLIENT_PROGRAM);
  const rt = await runtimeProject.catch(() => {
    throw new Error('the runtime project of scenario (b) did not install; no engine to read from');
  });
  const socket = join(mkdtempSync(join(work, 'c-')), 'engine.sock');
  const engineFile = join(rt.dir, 'engine.mjs');
  writeFileSync(engineFile, ENGINE_PROGRAM);
  const engine = await startUntil(
    'engine process',
    process.execPath,
    [engineFile, socket],
    /^engine ready$/,
    {
      cwd: rt.dir,
    },
  );
  let res;
  let code;
  try {
    res = await check('client program', process.execPath, ['client.mjs', socket], {
      cwd: dir,
      timeoutMs: 30_000,
    });
  } finally {
    code = await stop(engine.child);
  }
  expectLine(res, 'resolved mem/db/password=hunter2 by memory', 'client program');
  expectLine(res, 'miss: NotFoundError', 'client program');
  if (code !== 0) throw new Error(`engine process: exit ${code} after SIGTERM`);
  return `read mem/db/password from an engine in another process; tree: ${scope.join(', ')} (no ipc, runtime, yamux)`;
}

/** Installs the CLI globally into a scratch prefix; resolves with the path of `secrets-engine`. */
async function installCli() {
  const prefix = join(work, 'cli-prefix');
  mkdirSync(prefix);
  const wanted = closure('cli');
  await check(
    'npm install -g',
    'npm',
    ['install', '-g', '--prefix', prefix, ...NPM_FLAGS, ...wanted.map((p) => tarballs.get(p))],
    { cwd: prefix },
  );
  const bin = join(prefix, 'bin', 'secrets-engine');
  if (!existsSync(bin)) throw new Error(`${bin} was not created`);
  return { bin, count: wanted.length };
}

let cliInstall;
async function cliGlobal() {
  cliInstall ??= installCli();
  const { bin, count } = await cliInstall;
  const help = await check('secrets-engine --help', bin, ['--help']);
  if (!/serve/.test(help.stdout))
    throw new Error(`secrets-engine --help does not mention serve:\n${help.stdout}`);

  const socket = join(mkdtempSync(join(work, 'd-')), 's.sock');
  const engine = await startUntil('secrets-engine serve', bin, ['serve', '--socket', socket], /ready on /);
  let code;
  try {
    await check('secrets-engine get x', bin, ['get', 'x', '--socket', socket], {
      expect: 2,
      timeoutMs: 30_000,
    });
  } finally {
    code = await stop(engine.child);
  }
  if (code !== 0)
    throw new Error(
      `secrets-engine serve: exit ${code} after SIGTERM, expected 0\n${engine.output().stderr}`,
    );
  return `installed globally (${count} tarballs); --help 0, serve ready, get x → 2, SIGTERM → 0`;
}

// (e) The plugin author's guide (docs/plugin-authors-guide.md), followed from an empty folder with
// its own code blocks: step 1's commands, step 2's src/main.ts and config, the tsconfig, step 5's
// bundle script, step 6's tests (harness + conformance suite, run with vitest), steps 3 and 4 with
// the globally installed CLI of (d), and step 7's package.json packed with npm. Deviations, all
// forced by a hermetic CI: the SDK comes from the tarballs instead of the registry, the dev tools
// are pinned to the workspace's versions, and the "secret service" the guide's plugin fetches from
// is a local HTTP server named in its config file.
const GUIDE = join(root, 'docs', 'plugin-authors-guide.md');
const GUIDE_SECRETS = [
  { id: 'myorg/db/password', value: 'guide-pw-1', owner: 'team-db' },
  { id: 'myorg/api/token', value: 'guide-tok-2', owner: 'team-api', expires: '2031-01-01T00:00:00Z' },
  { id: 'other/thing', value: 'not-mine', owner: 'nobody' },
];
const GUIDE_TOKEN = 'guide-token';

/** The first ```lang block after the first occurrence of `anchor` in the guide. */
function guideBlock(text, anchor, lang) {
  const at = text.indexOf(anchor);
  if (at < 0) throw new Error(`docs/plugin-authors-guide.md: "${anchor}" not found`);
  const open = text.indexOf(`\`\`\`${lang}\n`, at);
  if (open < 0) throw new Error(`docs/plugin-authors-guide.md: no \`\`\`${lang} block after "${anchor}"`);
  const start = open + lang.length + 4;
  return text.slice(start, text.indexOf('\n```', start) + 1);
}

/** Polls `fn` until it returns a truthy value; throws `what` with the last value after `timeoutMs`. */
async function waitFor(what, fn, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last?.ok) return last;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms\n${last?.why ?? ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function pluginAuthorsGuide() {
  const guide = readFileSync(GUIDE, 'utf8');
  const service = createServer((req, res) => {
    if (req.url !== '/list' || req.headers.authorization !== `Bearer ${GUIDE_TOKEN}`) {
      res.writeHead(req.url === '/list' ? 401 : 404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(GUIDE_SECRETS));
  });
  await new Promise((resolve) => service.listen(0, '127.0.0.1', resolve));
  const serviceUrl = `http://127.0.0.1:${service.address().port}/`;
  try {
    return await followGuide(guide, serviceUrl);
  } finally {
    service.close();
    service.closeAllConnections();
  }
}

async function followGuide(guide, serviceUrl) {
  const dir = join(work, 'guide', 'my-plugin');
  mkdirSync(dir, { recursive: true });
  const sh = (what, line, options = {}) => check(what, 'bash', ['-c', line], { cwd: dir, ...options });
  const pinned = {
    typescript: rootDevVersion('typescript'),
    '@types/node': rootDevVersion('@types/node'),
    vitest: rootDevVersion('vitest'),
    esbuild: JSON.parse(readFileSync(join(root, 'examples/file-provider/package.json'), 'utf8'))
      .devDependencies.esbuild,
  };

  // Step 1.
  const step1 = guideBlock(guide, '## 1. Create the package', 'sh');
  for (const line of step1.split('\n').map((l) => l.replace(/\s+#.*$/, '').trim())) {
    if (line === '' || line.startsWith('mkdir')) continue;
    if (line === 'npm install @secrets-engine/plugin-sdk') {
      await check(
        'step 1: npm install the SDK',
        'npm',
        ['install', ...NPM_FLAGS, ...closure('plugin-sdk').map((p) => tarballs.get(p))],
        { cwd: dir },
      );
    } else if (line.startsWith('npm install -D ')) {
      const tools = line.slice('npm install -D '.length).split(/\s+/);
      const missing = tools.filter((t) => !(t in pinned));
      if (missing.length > 0)
        throw new Error(`step 1 installs ${missing.join(', ')}: pin its version in this scenario`);
      await check(
        'step 1: npm install -D',
        'npm',
        ['install', '-D', ...NPM_FLAGS, ...tools.map((t) => `${t}@${pinned[t]}`)],
        { cwd: dir, timeoutMs: 300_000 },
      );
    } else if (/^npm (install|i|add)\b/.test(line)) {
      // Anything else would reach the public registry: teach this scenario the new line.
      throw new Error(`step 1: this scenario does not know how to run "${line}" hermetically`);
    } else {
      await sh(`step 1: ${line}`, line);
    }
  }
  assertFromTarballs(dir, 'guide');
  assertAbsent(dir, ['runtime', 'client', 'cli'], "a plugin author's install must not pull in the runtime");

  // Step 2: the plugin, its configuration, the tsconfig; build.
  mkdirSync(join(dir, 'src'));
  mkdirSync(join(dir, 'scripts'));
  mkdirSync(join(dir, 'test'));
  writeFileSync(join(dir, 'src', 'main.ts'), guideBlock(guide, '`src/main.ts`', 'ts'));
  const config = JSON.parse(guideBlock(guide, '`my-plugin.json`', 'json'));
  if (typeof config.url !== 'string' || typeof config.token !== 'string')
    throw new Error(`the guide's my-plugin.json has no url/token: ${JSON.stringify(config)}`);
  const ours = `${JSON.stringify({ ...config, url: serviceUrl, token: GUIDE_TOKEN })}\n`;
  writeFileSync(join(dir, 'my-plugin.json'), ours, { mode: 0o600 });
  writeFileSync(join(dir, 'test', 'config.json'), ours, { mode: 0o600 });
  writeFileSync(join(dir, 'tsconfig.json'), guideBlock(guide, '`tsconfig.json`:', 'json'));

  // Step 5: bundle (the guide's own command line).
  writeFileSync(join(dir, 'scripts', 'bundle.mjs'), guideBlock(guide, '`scripts/bundle.mjs`', 'js'));
  const step5 = guideBlock(guide, 'chmodSync(', 'sh').trim();
  await sh(`step 5: ${step5}`, step5, { timeoutMs: 120_000 });
  if (!readFileSync(join(dir, 'dist', 'main.js'), 'utf8').startsWith('#!/usr/bin/env node'))
    throw new Error('step 2: dist/main.js lost its shebang');
  if ((statSync(join(dir, 'dist', 'my-plugin.mjs')).mode & 0o111) === 0)
    throw new Error('step 5: dist/my-plugin.mjs is not executable');

  // Step 6: the guide's tests, with vitest.
  writeFileSync(join(dir, 'test', 'plugin.test.ts'), guideBlock(guide, '`test/plugin.test.ts`', 'ts'));
  const tests = await check('step 6: npx vitest run', 'npx', ['vitest', 'run'], {
    env: { NO_COLOR: '1', FORCE_COLOR: '0' },
    cwd: dir,
    timeoutMs: 120_000,
  });
  if (!/Tests\s+2 passed/.test(tests.stdout))
    throw new Error(`step 6: expected 2 passed tests\n${tests.stdout}`);

  // Steps 3 and 4 need the CLI of scenario (d).
  cliInstall ??= installCli();
  const { bin } = await cliInstall;
  const cli = (args, env) => run(bin, args, { cwd: dir, env, timeoutMs: 30_000 });

  // Step 3: an engine, and the plugin started by hand with its config.
  const sockDir = mkdtempSync(join(work, 'e-'));
  const socket = join(sockDir, 'dev', 'engine.sock');
  const env = { SECRETS_ENGINE_SOCKET: socket };
  const engine = await startUntil('step 3: secrets-engine serve', bin, ['serve'], /ready on /, {
    cwd: dir,
    env,
  });
  const plugin = start(process.execPath, ['dist/main.js'], {
    cwd: dir,
    env: { ...env, MY_PLUGIN_CONFIG: 'my-plugin.json' },
  });
  const pluginStderr = () => plugin.output().stderr;
  const pluginExit = plugin.closed.then((r) => r.error?.message ?? r.code ?? r.signal);
  let engineCode;
  let pluginCode;
  try {
    await waitFor('step 3: my-plugin in `secrets-engine plugins`', async () => {
      const res = await cli(['plugins'], env);
      return {
        ok: /^my-plugin\s+v1\.0\.0\s+myorg\/\*\*\s+external\s+running/m.test(res.stdout),
        why: `${res.stdout}${res.stderr}--- plugin stderr\n${pluginStderr()}`,
      };
    });
    const all = await cli(['get', 'myorg/**'], env);
    const listedIds = ['myorg/db/password', 'myorg/api/token'].every((id) => all.stdout.includes(id));
    if (
      all.code !== 0 ||
      !listedIds ||
      all.stdout.includes('other/thing') ||
      all.stdout.includes('guide-pw-1')
    )
      throw new Error(
        `step 3: secrets-engine get 'myorg/**' (exit ${all.code})\n${all.stdout}\n${all.stderr}`,
      );
    const one = await cli(['get', 'myorg/db/password', '--reveal'], env);
    if (one.code !== 0 || !one.stdout.includes('guide-pw-1'))
      throw new Error(
        `step 3: secrets-engine get myorg/db/password --reveal (exit ${one.code})\n${one.stdout}\n${one.stderr}`,
      );
  } finally {
    engineCode = await stop(engine.child);
    // The engine's shutdown stops the plugin too: it must exit by itself, with 0.
    pluginCode = await Promise.race([pluginExit, new Promise((r) => setTimeout(r, 5_000, 'still running'))]);
    if (pluginCode === 'still running') await stop(plugin.child, 'SIGKILL');
  }
  if (engineCode !== 0) throw new Error(`step 3: secrets-engine serve exited ${engineCode} after SIGTERM`);
  if (pluginCode !== 0)
    throw new Error(`step 3: after the engine stopped, the plugin: ${pluginCode}\n${pluginStderr()}`);
  if (!pluginStderr().includes('stopped: shutdown'))
    throw new Error(`step 3: the plugin did not print "stopped: shutdown"\n${pluginStderr()}`);
  const step3 = "by hand: listed external/running, get, --reveal, exits 0 on the engine's Shutdown";

  // Step 4: installed into a plugins folder (its cp/install lines, with the folder moved into the
  // scratch area), launched by the engine.
  const pluginsDir = join(work, 'guide', 'plugins');
  const step4 = guideBlock(guide, '## 4. Install it into a plugins folder', 'sh')
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter((l) => /^(mkdir|cp|install) /.test(l))
    .map((l) => l.replaceAll('~/.local/lib/secrets-engine/plugins', pluginsDir));
  for (const line of step4) await sh(`step 4: ${line}`, line);
  const socket4 = join(sockDir, 'engine4.sock');
  const engine4 = await startUntil(
    'step 4: secrets-engine serve --plugins-dir',
    bin,
    ['serve', '--socket', socket4, '--plugins-dir', pluginsDir],
    /ready on /,
    { cwd: dir },
  );
  let engine4Code;
  try {
    await waitFor('step 4: my-plugin launched and running', async () => {
      const res = await cli(['plugins', '--socket', socket4]);
      return {
        ok: /^my-plugin\s+v1\.0\.0\s+myorg\/\*\*\s+launched\s+running/m.test(res.stdout),
        why: `${res.stdout}${res.stderr}--- engine stderr\n${engine4.output().stderr}`,
      };
    });
    const one = await cli(['get', 'myorg/api/token', '--reveal', '--socket', socket4]);
    if (one.code !== 0 || !one.stdout.includes('guide-tok-2'))
      throw new Error(
        `step 4: secrets-engine get myorg/api/token --reveal (exit ${one.code})\n${one.stdout}\n${one.stderr}`,
      );
  } finally {
    engine4Code = await stop(engine4.child);
  }
  if (engine4Code !== 0) throw new Error(`step 4: secrets-engine serve exited ${engine4Code} after SIGTERM`);

  // Step 7: the package.json fields of the guide, packed.
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const guideManifest = JSON.parse(
    guideBlock(guide, 'A plugin package ships the bundle as its executable', 'json'),
  );
  const sdkRange = guideManifest.dependencies?.['@secrets-engine/plugin-sdk'];
  const sdkVersion = manifests.get('plugin-sdk').version;
  if (sdkRange !== `^${sdkVersion}`)
    throw new Error(
      `step 7: the guide depends on @secrets-engine/plugin-sdk "${sdkRange}"; the SDK is ${sdkVersion}`,
    );
  writeFileSync(
    join(dir, 'package.json'),
    `${JSON.stringify({ ...manifest, ...guideManifest, devDependencies: manifest.devDependencies }, null, 2)}\n`,
  );
  const packed = await check(
    'step 7: npm pack --dry-run',
    'npm',
    ['pack', '--dry-run', '--json', ...NPM_FLAGS],
    { cwd: dir },
  );
  const files = JSON.parse(packed.stdout)[0]
    .files.map((f) => f.path)
    .sort();
  if (JSON.stringify(files) !== JSON.stringify(['dist/my-plugin.mjs', 'package.json']))
    throw new Error(`step 7: the package would ship ${files.join(', ')}`);
  return `steps 1–7: built, bundled, 2 vitest tests (harness + conformance), ${step3}; launched from a plugins folder; packs ${files.join(' + ')}`;
}

function rootDevVersion(name) {
  const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).devDependencies?.[name];
  if (!version) throw new Error(`root package.json has no devDependency ${name}`);
  return version;
}

const SCENARIOS = [
  ['a', 'plugin-sdk alone (plugin + testing harness, no runtime)', pluginSdkAlone],
  ['b', 'runtime alone (createEngine + builtin plugin)', runtimeAlone],
  ['c', 'client alone (+proto, secrets; no ipc/runtime) against an engine process', clientAlone],
  ['d', 'CLI installed globally from its tarball', cliGlobal],
  ['e', "the plugin author's guide, steps 1–7, with its own code blocks", pluginAuthorsGuide],
];

// PACK_SCENARIOS=a,e runs a subset (for local iteration; CI runs all).
// biome-ignore lint/suspicious/noUndeclaredEnvVars: a local switch; this script is not run through turbo
const ONLY = process.env.PACK_SCENARIOS?.split(',');

// ---------------------------------------------------------------------------------------------

function cleanup() {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
  scopeRegistry.close();
  rmSync(work, { recursive: true, force: true });
}
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    cleanup();
    process.exit(130);
  });
}

let failed = 0;
try {
  log(`pack-install test in ${work}`);
  const packStart = Date.now();
  await packAll();
  log(`packed ${PUBLISHED.length} packages in ${secs(packStart)}`);

  // Independent scratch projects, installed and run concurrently; (c) waits for (b)'s install.
  const results = await Promise.all(
    SCENARIOS.filter(([id]) => ONLY === undefined || ONLY.includes(id)).map(async ([id, title, fn]) => {
      const start = Date.now();
      try {
        const detail = await fn();
        return { id, title, ok: true, detail, time: secs(start) };
      } catch (err) {
        return {
          id,
          title,
          ok: false,
          detail: err instanceof Error ? err.message : String(err),
          time: secs(start),
        };
      }
    }),
  );
  for (const r of results) {
    log(`${r.ok ? 'PASS' : 'FAIL'} (${r.id}) ${r.title} [${r.time}]`);
    log(`     ${r.detail.split('\n').join('\n     ')}`);
    if (!r.ok) failed++;
  }
} catch (err) {
  failed++;
  log(`FAIL packing: ${err instanceof Error ? err.message : String(err)}`);
} finally {
  cleanup();
}
log(`${failed === 0 ? 'PASS' : 'FAIL'}: pack-install test, ${failed} failed, ${secs(t0)}`);
process.exit(failed === 0 ? 0 : 1);

// `secrets-engine plugins install|uninstall`, spawning the built binary with the real npm, hermetic:
// npm's registry is a local server that has the fixture package and answers 404 to everything
// else, npm's cache and user config are in a temp folder, so nothing can come from the network. The plugin package is the fixture provider
// bundled into one file (as our providers bundle theirs) with no dependencies, packed with npm pack;
// the real providers with their dependencies are installed by tests/packages scenario (h).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectNoStack,
  FIXTURE,
  isAlive,
  runCli,
  serve,
  startCli,
  tempDir,
  useCli,
  waitFor,
} from './__tests__/cli.js';

useCli();

const npmMissing = spawnSync('npm', ['--version'], { stdio: 'ignore' }).status !== 0;

let registry: Server;
let env: Record<string, string>;
/** A package folder: the bundled fixture as its one bin, secrets-engine-plugin-fixture. */
let pkgDir: string;
/** That folder packed by npm pack. */
let tarball: string;
let bundleSha: string;

function packageFolder(name: string, manifest: Record<string, unknown>, files: Record<string, string> = {}) {
  const dir = join(tempDir('se-install-pkg-'), name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version: '1.2.3', ...manifest }));
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text, { mode: 0o755 });
  return dir;
}

beforeAll(async () => {
  if (npmMissing) return;
  // The fixture package by name (one packument, its tarball); 404 for everything else.
  registry = createServer((req, res) => {
    const base = `http://127.0.0.1:${(registry.address() as AddressInfo).port}`;
    if (req.url === '/se-fixture-plugin') {
      const bytes = readFileSync(tarball);
      const manifest = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { version: string };
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          name: 'se-fixture-plugin',
          'dist-tags': { latest: manifest.version },
          versions: {
            [manifest.version]: {
              ...manifest,
              dist: {
                tarball: `${base}/se-fixture-plugin.tgz`,
                integrity: `sha512-${createHash('sha512').update(bytes).digest('base64')}`,
              },
            },
          },
        }),
      );
    } else if (req.url === '/se-fixture-plugin.tgz') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(readFileSync(tarball));
    } else {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"Not found"}');
    }
  });
  await new Promise<void>((done) => registry.listen(0, '127.0.0.1', done));
  const npmHome = tempDir('se-install-npm-');
  writeFileSync(join(npmHome, 'npmrc'), '');
  env = {
    npm_config_registry: `http://127.0.0.1:${(registry.address() as AddressInfo).port}/`,
    npm_config_cache: join(npmHome, 'cache'),
    npm_config_userconfig: join(npmHome, 'npmrc'),
    npm_config_update_notifier: 'false',
    npm_config_fetch_retries: '0',
  };
  pkgDir = packageFolder('se-fixture-plugin', {
    type: 'module',
    bin: { 'secrets-engine-plugin-fixture': './bin.mjs' },
  });
  await build({
    entryPoints: [FIXTURE],
    outfile: join(pkgDir, 'bin.mjs'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'warning',
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
    },
  });
  bundleSha = `sha256:${createHash('sha256')
    .update(readFileSync(join(pkgDir, 'bin.mjs')))
    .digest('hex')}`;
  const out = tempDir('se-install-tgz-');
  const packed = spawnSync('npm', ['pack', '--pack-destination', out, '--json'], {
    cwd: pkgDir,
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
  if (packed.status !== 0) throw new Error(`npm pack failed: ${packed.stderr}`);
  tarball = join(out, (JSON.parse(packed.stdout) as { filename: string }[])[0]!.filename);
}, 60_000);

afterAll(() => {
  registry?.close();
  registry?.closeAllConnections();
});

const cli = (args: string[], extra: Record<string, string | undefined> = {}) =>
  runCli(args, { env: { ...env, ...extra }, timeoutMs: 60_000 });

/** Everything under `dir`, relative, sorted (symlinks not followed). */
function tree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return (readdirSync(dir, { recursive: true }) as string[]).sort();
}

async function readThrough(socket: string) {
  return runCli(['read', 'se://fixture/api-key', '--socket', socket]);
}

const T = 90_000;

describe.skipIf(npmMissing)('plugins install and uninstall (npm on PATH)', () => {
  it(
    'from a tarball: DIR/NAME links to the bin in DIR/.packages/NAME; serve launches it; uninstall leaves nothing',
    async () => {
      const dir = join(tempDir(), 'plugins');
      const r = await cli(['plugins', 'install', tarball, '--plugins-dir', dir]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const target = '.packages/fixture/node_modules/se-fixture-plugin/bin.mjs';
      expect(r.stdout).toBe(
        [
          'installed plugin "fixture": se-fixture-plugin 1.2.3, its bin "secrets-engine-plugin-fixture"',
          `  ${join(dir, 'fixture')} -> ${target}`,
          "a running engine picks this up when it reloads its plugins folder: kill -HUP <pid of 'secrets-engine serve'>, or restart it",
          '',
        ].join('\n'),
      );
      expect(readlinkSync(join(dir, 'fixture'))).toBe(target);
      expect(readdirSync(dir).sort()).toEqual(['.packages', 'fixture']);
      expect(readdirSync(join(dir, '.packages')), 'no staging folder left').toEqual(['fixture']);
      expect(lstatSync(dir).mode & 0o077, 'a new plugins folder is private').toBe(0);

      const pidDir = tempDir();
      const engine = await serve({ reuse: { pluginsDir: dir, pidDir } });
      try {
        expect(engine.ready).toContain('plugins started: fixture');
        const read = await readThrough(engine.socket);
        expect(read.stderr).toBe('');
        expect(read.stdout).toBe('api-key-value');
      } finally {
        await engine.stop();
      }

      const u = await cli(['plugins', 'uninstall', 'fixture', '-d', dir]);
      expect(u.stderr).toBe('');
      expect(u.code).toBe(0);
      expect(u.stdout).toBe(
        [
          `uninstalled plugin "fixture": removed ${join(dir, 'fixture')} and ${join(dir, '.packages', 'fixture')}`,
          "a running engine picks this up when it reloads its plugins folder: kill -HUP <pid of 'secrets-engine serve'>, or restart it",
          '',
        ].join('\n'),
      );
      expect(tree(dir), 'nothing left in the plugins folder').toEqual([]);
    },
    T,
  );

  it(
    "removes the staging folder of an install that was killed (its pid is gone), not a live one's",
    async () => {
      const dir = join(tempDir(), 'plugins');
      const dead = join(dir, '.packages', '.staging-2147483646-abcdef');
      const live = join(dir, '.packages', `.staging-${process.pid}-abcdef`);
      for (const folder of [dead, live]) mkdirSync(join(folder, 'node_modules'), { recursive: true });
      const r = await cli(['plugins', 'install', tarball, '--plugins-dir', dir]);
      expect(r.code, r.stderr).toBe(0);
      expect(readdirSync(join(dir, '.packages')).sort()).toEqual([
        `.staging-${process.pid}-abcdef`,
        'fixture',
      ]);
    },
    T,
  );

  it(
    "without --plugins-dir: the configuration's pluginsDir, else the XDG data folder; a broken --config installs nothing",
    async () => {
      const root = tempDir();
      const configured = join(root, 'configured');
      const config = join(root, 'config.json');
      writeFileSync(config, JSON.stringify({ pluginsDir: configured }));
      const viaConfig = await cli(['plugins', 'install', tarball, '--config', config]);
      expect(viaConfig.stderr).toBe('');
      expect(viaConfig.code).toBe(0);
      expect(readdirSync(configured).sort()).toEqual(['.packages', 'fixture']);

      const data = join(root, 'data');
      const viaXdg = await cli(['plugins', 'install', tarball], { XDG_DATA_HOME: data });
      expect(viaXdg.code).toBe(0);
      expect(readdirSync(join(data, 'secrets-engine', 'plugins')).sort()).toEqual(['.packages', 'fixture']);
      const gone = await cli(['plugins', 'uninstall', 'fixture'], { XDG_DATA_HOME: data });
      expect(gone.code).toBe(0);
      expect(tree(join(data, 'secrets-engine', 'plugins'))).toEqual([]);

      const broken = join(root, 'broken.json');
      writeFileSync(broken, '{"pluginsDir": 3}');
      const refused = await cli(['plugins', 'install', tarball, '--config', broken]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/broken\.json:1:16: key "pluginsDir": must be/);
      expect(existsSync(join(root, 'secrets-engine'))).toBe(false);
    },
    T,
  );

  it(
    'from a folder, pinning on: pinned (the bin file), serve launches it; a clash needs --force; uninstall drops the pin',
    async () => {
      const dir = join(tempDir(), 'plugins');
      const pinFile = `${dir}.pins.json`;
      mkdirSync(dir);
      symlinkSync(FIXTURE, join(dir, 'byhand'));
      const stale = `sha256:${'a'.repeat(64)}`;
      writeFileSync(pinFile, JSON.stringify({ version: 1, pins: { byhand: stale } }));

      const r = await cli(['plugins', 'install', pkgDir, '--plugins-dir', dir, '--name', 'alpha', '--json']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const packageDir = join(dir, '.packages', 'alpha');
      const real = join(packageDir, 'node_modules', 'se-fixture-plugin', 'bin.mjs');
      expect(JSON.parse(r.stdout)).toEqual({
        name: 'alpha',
        package: 'se-fixture-plugin',
        version: '1.2.3',
        bin: 'secrets-engine-plugin-fixture',
        path: join(dir, 'alpha'),
        target: '.packages/alpha/node_modules/se-fixture-plugin/bin.mjs',
        packageDir,
        replaced: false,
        pin: { pinFile, sha256: bundleSha, change: 'new' },
      });
      // A copy, not a link to the source folder (npm --install-links).
      expect(realpathSync(join(dir, 'alpha'))).toBe(real);
      // Only alpha was pinned: the stale pin of byhand is not refreshed by an install.
      expect(JSON.parse(readFileSync(pinFile, 'utf8'))).toEqual({
        version: 1,
        pins: { alpha: bundleSha, byhand: stale },
      });

      const pidDir = tempDir();
      const engine = await serve({ reuse: { pluginsDir: dir, pidDir } });
      try {
        await waitFor('alpha running, byhand refused', async () => {
          const ls = await runCli(['plugins', '--socket', engine.socket]);
          return (
            /^alpha\s+v1\.2\.3\s+\S+\s+launched\s+running/m.test(ls.stdout) &&
            /^byhand\s.*stopped\s+not launched: SHA-256/m.test(ls.stdout)
          );
        });
        expect((await readThrough(engine.socket)).stdout).toBe('api-key-value');
      } finally {
        await engine.stop();
      }

      const clash = await cli(['plugins', 'install', pkgDir, '-d', dir, '--name', 'alpha']);
      expect(clash.code).toBe(1);
      expect(clash.stderr).toMatch(
        /^secrets-engine: plugins install: plugin "alpha" already exists in .*; pass --force to replace it/,
      );
      expectNoStack(clash.stderr);
      const byHand = await cli(['plugins', 'install', tarball, '-d', dir, '--name', 'byhand']);
      expect(byHand.code).toBe(1);
      expect(byHand.stderr).toContain(`plugin "byhand" already exists in ${dir} (${join(dir, 'byhand')})`);
      expect(readlinkSync(join(dir, 'byhand')), 'the hand-placed plugin is untouched').toBe(FIXTURE);

      const forced = await cli(['plugins', 'install', tarball, '-d', dir, '--name', 'alpha', '--force']);
      expect(forced.stderr).toBe('');
      expect(forced.code).toBe(0);
      expect(forced.stdout).toMatch(/^replaced plugin "alpha": se-fixture-plugin 1\.2\.3/);
      expect(forced.stdout).toContain(
        `pinned "alpha" in ${pinFile} (${bundleSha}, unchanged); the pin covers ${real} only, not the other files of ${packageDir}\n`,
      );
      expect(readdirSync(join(dir, '.packages')), 'the old install is gone').toEqual(['alpha']);

      const u = await cli(['plugins', 'uninstall', 'alpha', '-d', dir]);
      expect(u.code).toBe(0);
      expect(u.stdout).toContain(`dropped its pin from ${pinFile}\n`);
      expect(JSON.parse(readFileSync(pinFile, 'utf8'))).toEqual({ version: 1, pins: { byhand: stale } });
      expect(readdirSync(dir)).toEqual(['byhand']);
    },
    T,
  );

  it(
    'refuses a package with no bin, and picks one of several bins only with --bin',
    async () => {
      const dir = join(tempDir(), 'plugins');
      const noBin = packageFolder('se-no-bin', {}, { 'index.js': '' });
      const r = await cli(['plugins', 'install', noBin, '-d', dir]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        /^secrets-engine: plugins install: se-no-bin declares no executable \(no "bin" in its package\.json\)/,
      );
      expectNoStack(r.stderr);
      expect(existsSync(dir), 'the plugins folder it created is removed again').toBe(false);

      const two = packageFolder(
        'se-two-bins',
        { bin: { 'secrets-engine-plugin-one': './one.sh', tool: './tool.sh' } },
        { 'one.sh': '#!/bin/sh\nexit 0\n', 'tool.sh': '#!/bin/sh\nexit 0\n' },
      );
      const many = await cli(['plugins', 'install', two, '-d', dir]);
      expect(many.code).toBe(1);
      expect(many.stderr).toContain(
        'se-two-bins declares 2 executables ("secrets-engine-plugin-one", "tool"); choose the plugin with --bin BIN',
      );
      const picked = await cli(['plugins', 'install', two, '-d', dir, '--bin', 'secrets-engine-plugin-one']);
      expect(picked.stderr).toBe('');
      expect(picked.code).toBe(0);
      expect(readlinkSync(join(dir, 'one'))).toBe('.packages/one/node_modules/se-two-bins/one.sh');
    },
    T,
  );

  it(
    'npm failing: exit 1 with its last lines (a package the registry does not have, a corrupt tarball)',
    async () => {
      const dir = join(tempDir(), 'plugins');
      mkdirSync(dir);
      const r = await cli(['plugins', 'install', 'se-no-such-package-anywhere', '-d', dir]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        /^secrets-engine: plugins install: npm install se-no-such-package-anywhere failed \(exit code \d+\); nothing was installed\. npm's last lines:\n {2}npm error/,
      );
      expect(r.stderr).toContain('404');
      expectNoStack(r.stderr);
      const bad = join(tempDir(), 'bad.tgz');
      writeFileSync(bad, 'not a tarball');
      const c = await cli(['plugins', 'install', bad, '-d', dir]);
      expect(c.code).toBe(1);
      expect(c.stderr).toMatch(/npm install .*bad\.tgz failed \(exit code \d+\)[^\n]*\n {2}npm /);
      expect(c.stderr).toContain('  npm error code TAR_BAD_ARCHIVE\n');
      expect(tree(dir), 'no staging folder left').toEqual([]);
    },
    T,
  );

  it(
    'bad input before npm runs: a missing path, a bad --name, no npm on PATH, an unknown uninstall',
    async () => {
      const dir = join(tempDir(), 'plugins');
      const missing = await cli(['plugins', 'install', './nope.tgz', '-d', dir]);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(
        /^secrets-engine: plugins install: \.\/nope\.tgz: no such file or folder \(expected a package name/,
      );
      const hidden = await cli(['plugins', 'install', tarball, '-d', dir, '--name', '.sneaky']);
      expect(hidden.code).toBe(64);
      expect(hidden.stderr).toMatch(
        /^secrets-engine: --name: "\.sneaky" cannot be installed: a plugin name here may not start with "\."/,
      );
      const slash = await cli(['plugins', 'install', tarball, '-d', dir, '--name', 'a/b']);
      expect(slash.code).toBe(64);
      expect(slash.stderr).toMatch(/^secrets-engine: --name: not a plugin name: parsing name: .*'\/'/);
      const noNpm = await cli(['plugins', 'install', tarball, '-d', dir], { PATH: tempDir() });
      expect(noNpm.code).toBe(1);
      expect(noNpm.stderr).toMatch(/^secrets-engine: plugins install needs npm, and there is no npm on PATH/);
      expectNoStack(noNpm.stderr);
      expect(existsSync(dir)).toBe(false);

      mkdirSync(join(dir, '.packages', 'one'), { recursive: true });
      mkdirSync(join(dir, '.packages', 'two'));
      symlinkSync(FIXTURE, join(dir, 'byhand'));
      const unknown = await cli(['plugins', 'uninstall', 'nope', '-d', dir]);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toBe(
        `secrets-engine: plugins uninstall: no plugin "nope" was installed in ${dir}; installed: "one", "two"\n`,
      );
      const notOurs = await cli(['plugins', 'uninstall', 'byhand', '-d', dir]);
      expect(notOurs.code).toBe(2);
      expect(notOurs.stderr).toContain(
        `(${join(dir, 'byhand')} exists, but 'plugins install' did not put it there`,
      );
      expect(readlinkSync(join(dir, 'byhand'))).toBe(FIXTURE);
      const socket = await cli(['plugins', 'install', tarball, '--socket', '/tmp/x.sock']);
      expect(socket.code).toBe(64);
      expect(socket.stderr).toMatch(/^secrets-engine: plugins install does not use --socket/);
      const force = await cli(['plugins', 'ls', '--force']);
      expect(force.code).toBe(64);
      expect(force.stderr).toMatch(/^secrets-engine: --force is for plugins install only, not plugins ls/);
    },
    T,
  );

  it(
    'Ctrl-C while npm runs: npm is stopped, nothing is left, exit 130; npm got the documented flags',
    async () => {
      const bin = tempDir();
      const mark = join(tempDir(), 'npm-ran');
      // A stand-in npm that records its arguments and pid, then hangs until it is killed.
      writeFileSync(
        join(bin, 'npm'),
        `#!/bin/sh\nprintf '%s\\n' "$@" > "${mark}.args"\necho $$ > "${mark}.tmp"\nmv "${mark}.tmp" "${mark}.pid"\nexec sleep 30\n`,
        { mode: 0o755 },
      );
      const dir = join(tempDir(), 'plugins');
      const proc = startCli(['plugins', 'install', tarball, '-d', dir], {
        env: { ...env, PATH: `${bin}:${process.env.PATH ?? ''}` },
      });
      const pid = await waitFor('the stand-in npm to start', () =>
        existsSync(`${mark}.pid`) ? Number(readFileSync(`${mark}.pid`, 'utf8')) : undefined,
      );
      const args = readFileSync(`${mark}.args`, 'utf8').trimEnd().split('\n');
      expect(args.slice(0, 2)).toEqual(['install', '--prefix']);
      expect(args[2]?.startsWith(`${join(dir, '.packages', '.staging-')}`), args[2]).toBe(true);
      expect(args.slice(3)).toEqual([
        '--omit=dev',
        '--no-audit',
        '--no-fund',
        '--no-update-notifier',
        '--ignore-scripts',
        '--install-links',
        '--save',
        tarball,
      ]);
      proc.child.kill('SIGINT');
      const result = await proc.exited;
      expect(result.code).toBe(130);
      expect(result.stderr).toBe('secrets-engine: plugins install: interrupted; nothing was installed\n');
      await waitFor('the stand-in npm to be gone', () => (isAlive(pid) ? undefined : true));
      expect(existsSync(dir), 'the staging folder and the folders it created are removed').toBe(false);
    },
    T,
  );

  it(
    'by package name (name@version, from the registry npm is configured with), into the XDG plugins folder by default',
    async () => {
      const data = tempDir();
      const r = await cli(['plugins', 'install', 'se-fixture-plugin@1.2.3'], { XDG_DATA_HOME: data });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const dir = join(data, 'secrets-engine', 'plugins');
      expect(readlinkSync(join(dir, 'fixture'))).toBe(
        '.packages/fixture/node_modules/se-fixture-plugin/bin.mjs',
      );
      const u = await cli(['plugins', 'uninstall', 'fixture'], { XDG_DATA_HOME: data });
      expect(u.code).toBe(0);
      expect(tree(dir)).toEqual([]);
    },
    T,
  );
});

if (npmMissing) {
  it.skip('NOT RUN: npm is not on PATH here, so plugins install/uninstall were not tested', () => {});
}

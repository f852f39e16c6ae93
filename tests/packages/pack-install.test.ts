// Pack-and-install test of the published packages: `pnpm pack` each one, install the tarballs with
// plain npm into scratch projects outside the workspace (no workspace links), and run a small
// program per package, then follow docs/plugin-authors-guide.md from an empty folder with its own
// code blocks (scenario e), the root README's new user's path with the keychain provider against
// a real keyring (scenario g), and `secrets-engine plugins install` of the providers (scenario h).
// Needs the published packages built (turbo's `^build` of the `test:packages` task). The scenarios run concurrently; (c) reuses (b)'s install as its engine
// and (e) reuses (d)'s CLI, each installed once whichever test asks first.
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { keyringUnavailable, startKeyringSession } from '@secrets-engine/test-utils/keyring.js';
import { describe, it } from 'vitest';
import { GUIDE_TOKEN, guideBlock, readGuide, shellLines, startGuideService } from './support/guide.js';
import {
  manifests,
  PUBLISHED,
  ROOT,
  readManifest,
  rootDevVersion,
  SCOPE,
  workspaceRanges,
} from './support/packing.js';
import { check, describeOutput, run, start, startUntil, stop, waitFor } from './support/processes.js';
import { CLIENT_PROGRAM, ENGINE_PROGRAM, PLUGIN_PROGRAM } from './support/programs.js';
import { installedOf, lines, notFromTarballs, usePackInstall } from './support/scratch.js';
import { startTarballRegistry } from './support/tarball-registry.js';

const pack = usePackInstall();

describe.concurrent('published packages, packed and installed with npm outside the workspace', () => {
  it('packs every published package, with no workspace: range left in a packed manifest', async ({
    expect,
  }) => {
    expect([...pack.tarballs.keys()].sort()).toEqual([...PUBLISHED].sort());
    const left = (
      await Promise.all(PUBLISHED.map((p) => workspaceRanges(pack.tarballs.get(p)!, pack.work)))
    ).flat();
    expect(left, '`workspace:^` must be rewritten to real versions in every packed manifest').toEqual([]);
  });

  it('(a) plugin-sdk alone (plugin + testing harness, no runtime)', async ({ expect }) => {
    const { dir } = await pack.scratchProject('plugin-sdk', ['plugin-sdk']);
    expect(notFromTarballs(dir), 'installed from the registry instead of a tarball').toEqual([]);
    expect(
      installedOf(dir, ['runtime', 'client', 'cli']),
      "a plugin author's install must not pull in the runtime",
    ).toEqual([]);
    expect(
      [...(await pack.dependencyTree(dir))].filter((n) => n === `${SCOPE}/runtime`),
      "npm ls: the runtime is in the plugin-sdk's dependency tree",
    ).toEqual([]);

    // createPlugin + startPluginHarness resolve demo/db/password.
    const res = await pack.runNode(dir, 'plugin.mjs', PLUGIN_PROGRAM, 'plugin program');
    expect(lines(res), `plugin program${describeOutput(res)}`).toContain('resolved demo/db/password=hunter2');
  });

  it('(b) runtime alone (createEngine + builtin plugin)', async ({ expect }) => {
    const { dir } = await pack.runtimeProject();
    expect(notFromTarballs(dir), 'installed from the registry instead of a tarball').toEqual([]);
    expect(installedOf(dir, ['plugin-sdk', 'client', 'cli']), 'not a dependency of the runtime').toEqual([]);

    // createEngine with a builtin plugin: started, resolved via engine.getSecrets, closed.
    const res = await pack.runNode(dir, 'engine.mjs', ENGINE_PROGRAM, 'engine program');
    expect(lines(res), `engine program${describeOutput(res)}`).toContain(
      'resolved mem/db/password=hunter2 by memory',
    );
    expect(lines(res), `engine program${describeOutput(res)}`).toContain('closed');
  });

  it('(c) client alone (+proto, secrets; no ipc/runtime) against an engine process', async ({ expect }) => {
    const { dir } = await pack.scratchProject('client', ['client']);
    expect(notFromTarballs(dir), 'installed from the registry instead of a tarball').toEqual([]);
    const forbidden = ['ipc', 'runtime', 'plugin-sdk', 'cli'];
    expect(installedOf(dir, forbidden), 'an application that only reads secrets must not pull it in').toEqual(
      [],
    );
    const names = await pack.dependencyTree(dir);
    expect(
      forbidden.map((p) => `${SCOPE}/${p}`).filter((n) => names.has(n)),
      "npm ls: in the client's dependency tree",
    ).toEqual([]);
    expect(names.has('@chainsafe/libp2p-yamux'), "npm ls: the yamux stack is in the client's tree").toBe(
      false,
    );

    // The engine runs in another process, from the runtime project of scenario (b).
    writeFileSync(join(dir, 'client.mjs'), CLIENT_PROGRAM);
    const rt = await pack.runtimeProject().catch(() => {
      throw new Error('the runtime project of scenario (b) did not install; no engine to read from');
    });
    const socket = join(mkdtempSync(join(pack.work, 'c-')), 'engine.sock');
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
    let res: Awaited<ReturnType<typeof check>>;
    let code: number | string;
    try {
      res = await check('client program', process.execPath, ['client.mjs', socket], {
        cwd: dir,
        timeoutMs: 30_000,
      });
    } finally {
      code = await stop(engine.child);
    }
    expect(lines(res), `client program${describeOutput(res)}`).toContain(
      'resolved mem/db/password=hunter2 by memory',
    );
    expect(lines(res), `client program${describeOutput(res)}`).toContain('miss: NotFoundError');
    expect(code, 'engine process: exit after SIGTERM').toBe(0);
  });

  it('(d) CLI installed globally from its tarball', async ({ expect }) => {
    const { bin } = await pack.cliInstall();
    const help = await check('secrets-engine --help', bin, ['--help'], { cwd: pack.work });
    expect(help.stdout, 'secrets-engine --help mentions serve').toMatch(/serve/);

    // `run --env-file` is the CLI's, not Node's (Node 20 reads a script argument spelled
    // --env-file itself): a NODE_OPTIONS in the file reaches the command only, never the CLI, and
    // dotenv (a dependency of the CLI) is installed with it.
    const envDir = mkdtempSync(join(pack.work, 'd-env-'));
    const marker = join(envDir, 'ran-in-a-node-process');
    writeFileSync(join(envDir, 'hook.cjs'), `require('fs').writeFileSync(${JSON.stringify(marker)}, '')`);
    writeFileSync(
      join(envDir, 'f.env'),
      `NODE_OPTIONS="--require ${join(envDir, 'hook.cjs')}"\nFOO=from-file\n`,
    );
    const envRun = await check(
      'secrets-engine run --env-file',
      bin,
      ['run', '--env-file', join(envDir, 'f.env'), '--', 'sh', '-c', 'echo "FOO=$FOO"'],
      { cwd: pack.work },
    );
    expect(envRun.stdout, `secrets-engine run --env-file${describeOutput(envRun)}`).toBe('FOO=from-file\n');
    expect(statSafe(marker), 'a module from the env file ran inside the CLI').toBe(false);

    // serve is ready, `get x` (no such secret) exits 2, SIGTERM exits 0.
    const socket = join(mkdtempSync(join(pack.work, 'd-')), 's.sock');
    const engine = await startUntil('secrets-engine serve', bin, ['serve', '--socket', socket], /ready on /, {
      cwd: pack.work,
    });
    let code: number | string;
    try {
      await check('secrets-engine get x', bin, ['get', 'x', '--socket', socket], {
        cwd: pack.work,
        expect: 2,
        timeoutMs: 30_000,
      });
    } finally {
      code = await stop(engine.child);
    }
    expect(code, `secrets-engine serve: exit after SIGTERM\n${engine.output().stderr}`).toBe(0);
  });

  // (f) The provider plugins as a user installs them: `npm install -g` from their tarballs, each bin
  // linked into a plugins folder under the plugin's name with its config beside it (as their
  // READMEs say), launched by (d)'s CLI; every secret read with `get --reveal`.
  it('(f) plugin-file, plugin-env and plugin-exec installed globally, launched by the CLI', async ({
    expect,
  }) => {
    const prefix = join(pack.work, 'plugins-prefix');
    mkdirSync(prefix);
    await check(
      'npm install -g (plugins)',
      'npm',
      [
        'install',
        '-g',
        '--prefix',
        prefix,
        ...pack.npmFlags,
        ...pack.tarballsOf(['plugin-file', 'plugin-env', 'plugin-exec']),
      ],
      { cwd: prefix },
    );
    const dir = mkdtempSync(join(pack.work, 'f-'));
    const plugins = join(dir, 'plugins');
    mkdirSync(plugins, { mode: 0o700 });
    const link = (bin: string, name: string) => {
      const target = join(prefix, 'bin', bin);
      expect(statSync(target).mode & 0o111, `${target} is executable`).not.toBe(0);
      symlinkSync(target, join(plugins, name));
    };
    const secrets = join(dir, 'secrets.json');
    writeFileSync(secrets, JSON.stringify({ 'db/password': 'file-pw-1' }), { mode: 0o600 });
    link('secrets-engine-plugin-file', 'home');
    writeFileSync(join(plugins, 'home.json'), JSON.stringify({ file: secrets, pattern: 'home/**' }));
    link('secrets-engine-plugin-env', 'ci');
    const helper = join(dir, 'docker-credential-f');
    writeFileSync(
      helper,
      `#!/bin/sh\ncase "$1" in\n  list) echo '{"ghcr.io": "octocat"}' ;;\n  get) read -r key; echo '{"ServerURL": "ghcr.io", "Username": "octocat", "Secret": "exec-tok-2"}' ;;\nesac\n`,
      { mode: 0o755 },
    );
    link('secrets-engine-plugin-exec', 'registry');
    writeFileSync(join(plugins, 'registry.json'), JSON.stringify({ helper, pattern: 'registry/**' }));

    const { bin } = await pack.cliInstall();
    const socket = join(dir, 's.sock');
    const engine = await startUntil(
      'secrets-engine serve (plugins)',
      bin,
      [
        'serve',
        '--socket',
        socket,
        '--plugins-dir',
        plugins,
        '--plugin-env',
        'SE_SECRET_NPM__TOKEN=env-tok-3',
      ],
      /ready on /,
      { cwd: dir },
    );
    const cli = (args: string[]) => run(bin, [...args, '--socket', socket], { cwd: dir, timeoutMs: 30_000 });
    let code: number | string;
    try {
      await waitFor('three plugins running', async () => {
        const res = await cli(['plugins']);
        return {
          ok: ['home', 'ci', 'registry'].every((n) =>
            new RegExp(`^${n}\\s+v\\S+\\s+\\S+\\s+launched\\s+running`, 'm').test(res.stdout),
          ),
          why: `${res.stdout}${res.stderr}--- engine stderr\n${engine.output().stderr}`,
        };
      });
      for (const [id, value] of [
        ['home/db/password', 'file-pw-1'],
        ['env/npm/token', 'env-tok-3'],
        ['registry/ghcr.io', 'exec-tok-2'],
      ]) {
        const res = await cli(['get', id!, '--reveal']);
        expect(res.code, `get ${id}${describeOutput(res)}`).toBe(0);
        expect(res.stdout, `get ${id}${describeOutput(res)}`).toContain(value);
      }
    } finally {
      code = await stop(engine.child);
    }
    expect(code, 'secrets-engine serve: exit after SIGTERM').toBe(0);
    expect(engine.output().stderr, 'no value in the engine log').not.toMatch(
      /file-pw-1|env-tok-3|exec-tok-2/,
    );
  });

  // (h) `secrets-engine plugins install` of the real providers from their tarballs, as a user who
  // downloaded them would: npm finds their @secrets-engine dependencies in a local registry of the
  // tarballs (support/tarball-registry.ts; third-party ones in the public registry), each plugin in
  // its own prefix under plugins/.packages, pinned (pinning on), launched by (d)'s CLI, read with
  // `get --reveal`, then uninstalled with nothing left but the configuration file.
  it('(h) plugin-env and plugin-file installed by `plugins install`, pinned, launched, uninstalled', async ({
    expect,
  }) => {
    const registry = await startTarballRegistry([...pack.tarballs.values()], SCOPE, pack.work);
    try {
      const { bin } = await pack.cliInstall();
      const dir = mkdtempSync(join(pack.work, 'h-'));
      const plugins = join(dir, 'plugins');
      mkdirSync(plugins, { mode: 0o700 });
      const cli = (args: string[]) =>
        run(bin, args, {
          cwd: dir,
          env: { ...registry.env, npm_config_loglevel: 'error' },
          timeoutMs: 180_000,
        });
      // Pinning on: the empty folder pinned first, so every install must add its own pin.
      const pinned = await cli(['plugins', 'pin', '--plugins-dir', plugins]);
      expect(pinned.code, `plugins pin${describeOutput(pinned)}`).toBe(0);
      const installs: [string, string[]][] = [
        ['env', [pack.tarballs.get('plugin-env')!]],
        ['home', [pack.tarballs.get('plugin-file')!, '--name', 'home']],
      ];
      for (const [name, args] of installs) {
        const res = await cli(['plugins', 'install', ...args, '--plugins-dir', plugins]);
        expect(res.code, `plugins install ${name}${describeOutput(res)}`).toBe(0);
        expect(res.stdout, `plugins install ${name}${describeOutput(res)}`).toMatch(
          new RegExp(`^installed plugin "${name}": @secrets-engine/plugin-`),
        );
        expect(res.stdout, `plugins install ${name}`).toContain(`pinned "${name}" in ${plugins}.pins.json`);
        // Every @secrets-engine package of the prefix is one of the tarballs (the one named, or its
        // integrity is that of the tarball the local registry served), none from the public registry.
        const lock = JSON.parse(
          readFileSync(join(plugins, '.packages', name, 'package-lock.json'), 'utf8'),
        ) as {
          packages: Record<string, { resolved?: string; integrity?: string }>;
        };
        const scoped = Object.entries(lock.packages).filter(([path]) =>
          path.includes(`node_modules/${SCOPE}/`),
        );
        expect(scoped.length, `${name}: its @secrets-engine packages in package-lock.json`).toBeGreaterThan(
          3,
        );
        const elsewhere = scoped
          .filter(([path, e]) => {
            const pkg = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
            return !e.resolved?.startsWith('file:') && e.integrity !== registry.integrity.get(pkg);
          })
          .map(([path, e]) => `${path} (${e.resolved ?? e.integrity})`);
        expect(elsewhere, `${name}: @secrets-engine packages not from the tarballs`).toEqual([]);
      }
      const pins = (
        JSON.parse(readFileSync(`${plugins}.pins.json`, 'utf8')) as { pins: Record<string, string> }
      ).pins;
      expect(Object.keys(pins).sort()).toEqual(['env', 'home']);
      const secrets = join(dir, 'secrets.json');
      writeFileSync(secrets, JSON.stringify({ 'db/password': 'file-pw-8' }), { mode: 0o600 });
      writeFileSync(join(plugins, 'home.json'), JSON.stringify({ file: secrets, pattern: 'home/**' }));

      const socket = join(dir, 's.sock');
      const engine = await startUntil(
        'secrets-engine serve (installed plugins)',
        bin,
        [
          'serve',
          '--socket',
          socket,
          '--plugins-dir',
          plugins,
          '--plugin-env',
          'SE_SECRET_NPM__TOKEN=env-tok-9',
        ],
        /ready on /,
        { cwd: dir },
      );
      let code: number | string;
      try {
        const get = (args: string[]) =>
          run(bin, [...args, '--socket', socket], { cwd: dir, timeoutMs: 30_000 });
        await waitFor('both installed plugins running', async () => {
          const res = await get(['plugins']);
          return {
            ok: ['env', 'home'].every((n) =>
              new RegExp(`^${n}\\s+v\\S+\\s+\\S+\\s+launched\\s+running`, 'm').test(res.stdout),
            ),
            why: `${res.stdout}${res.stderr}--- engine stderr\n${engine.output().stderr}`,
          };
        });
        for (const [id, value] of [
          ['home/db/password', 'file-pw-8'],
          ['env/npm/token', 'env-tok-9'],
        ] as const) {
          const res = await get(['get', id, '--reveal']);
          expect(res.code, `get ${id}${describeOutput(res)}`).toBe(0);
          expect(res.stdout, `get ${id}${describeOutput(res)}`).toContain(value);
        }
      } finally {
        code = await stop(engine.child);
      }
      expect(code, 'secrets-engine serve: exit after SIGTERM').toBe(0);

      for (const name of ['env', 'home']) {
        const res = await cli(['plugins', 'uninstall', name, '--plugins-dir', plugins]);
        expect(res.code, `plugins uninstall ${name}${describeOutput(res)}`).toBe(0);
      }
      expect(readdirSync(plugins), 'only the configuration file is left').toEqual(['home.json']);
      expect(JSON.parse(readFileSync(`${plugins}.pins.json`, 'utf8'))).toEqual({ version: 1, pins: {} });
    } finally {
      registry.close();
    }
  });

  // (g) The README's new user's path with the keychain provider, against a REAL Secret Service
  // (gnome-keyring-daemon on a private D-Bus session bus, test-utils/keyring.ts): the CLI and
  // plugin-keychain installed globally from their tarballs in one command, the bin linked into a
  // plugins folder, `serve`, a secret stored with the provider's `set` (stdin), read with `get`,
  // injected with `run`; listed with `list`, removed with `rm`. No value in the engine's log.
  it("(g) the README's new user's path: CLI + plugin-keychain, serve, set, get, run", async ({
    expect,
    skip,
  }) => {
    const unavailable = keyringUnavailable();
    if (unavailable !== undefined && process.env.CI) throw new Error(unavailable);
    if (unavailable !== undefined) skip(`scenario (g) did not run: ${unavailable}`);
    await using session = await startKeyringSession();
    const prefix = join(pack.work, 'keychain-prefix');
    mkdirSync(prefix);
    await check(
      'npm install -g @secrets-engine/cli @secrets-engine/plugin-keychain',
      'npm',
      ['install', '-g', '--prefix', prefix, ...pack.npmFlags, ...pack.tarballsOf(['cli', 'plugin-keychain'])],
      { cwd: prefix },
    );
    const bin = join(prefix, 'bin', 'secrets-engine');
    const keychain = join(prefix, 'bin', 'secrets-engine-plugin-keychain');
    const dir = mkdtempSync(join(pack.work, 'g-'));
    const plugins = join(dir, 'plugins');
    mkdirSync(plugins, { mode: 0o700 });
    symlinkSync(keychain, join(plugins, 'keychain'));
    // The user's session: its bus at $XDG_RUNTIME_DIR/bus (the engine's socket goes there too).
    const env = { ...session.env, SECRETS_ENGINE_SOCKET: join(dir, 's.sock') };

    const value = 'gh-tok-VALUE-7';
    const stored = await run(keychain, ['set', 'github/token'], { cwd: dir, env, input: `${value}\n` });
    expect(stored.code, `keychain set${describeOutput(stored)}`).toBe(0);
    const listed = await run(keychain, ['list'], { cwd: dir, env });
    expect([listed.code, listed.stdout], `keychain list${describeOutput(listed)}`).toEqual([
      0,
      'github/token\n',
    ]);

    const engine = await startUntil(
      'secrets-engine serve (keychain)',
      bin,
      // Debug logging on, the engine's and the plugin's: still no value in the log.
      [
        'serve',
        '--plugins-dir',
        plugins,
        '--log-level',
        'debug',
        '--plugin-env',
        'SECRETS_KEYCHAIN_LOG_LEVEL=debug',
      ],
      /ready on /,
      {
        cwd: dir,
        env,
      },
    );
    const cli = (args: string[], extra: Record<string, string> = {}) =>
      run(bin, args, { cwd: dir, env: { ...env, ...extra }, timeoutMs: 30_000 });
    let code: number | string;
    try {
      await waitFor('the keychain plugin running', async () => {
        const res = await cli(['plugins']);
        return {
          ok: /^keychain\s+v\S+\s+\S+\s+launched\s+running/m.test(res.stdout),
          why: `${res.stdout}${res.stderr}--- engine stderr\n${engine.output().stderr}`,
        };
      });
      const got = await cli(['get', 'github/token']);
      expect(got.code, `get${describeOutput(got)}`).toBe(0);
      expect(got.stdout, `get${describeOutput(got)}`).toContain('github/token');
      expect(got.stdout, 'get redacts the value').not.toContain(value);
      const revealed = await cli(['get', 'github/token', '--reveal']);
      expect(revealed.stdout, `get --reveal${describeOutput(revealed)}`).toContain(value);
      // The command gets the value; what it prints of it is masked (run's default).
      const injected = await cli(
        [
          'run',
          '--',
          process.execPath,
          '-e',
          `process.stdout.write("token=" + process.env.GH_TOKEN + " same=" + (process.env.GH_TOKEN === ${JSON.stringify(value)}))`,
        ],
        { GH_TOKEN: 'se://github/token' },
      );
      expect([injected.code, injected.stdout], `run${describeOutput(injected)}`).toEqual([
        0,
        'token=<concealed by secrets-engine> same=true',
      ]);

      const removed = await run(keychain, ['rm', 'github/token'], { cwd: dir, env });
      expect(removed.code, `keychain rm${describeOutput(removed)}`).toBe(0);
      const gone = await cli(['get', 'github/token']);
      expect(gone.code, `get after rm: not found${describeOutput(gone)}`).toBe(2);
    } finally {
      code = await stop(engine.child);
    }
    expect(code, 'secrets-engine serve: exit after SIGTERM').toBe(0);
    expect(engine.output().stderr, 'the plugin logged at debug level').toContain('get by ID');
    expect(engine.output().stderr, 'no value in the engine log').not.toContain(value);
  });

  // (e) The plugin author's guide (docs/plugin-authors-guide.md), followed from an empty folder with
  // its own code blocks: step 1's commands, step 2's src/main.ts and config, the tsconfig, step 5's
  // bundle script, step 6's tests (harness + conformance suite, run with vitest), steps 3 and 4 with
  // the globally installed CLI of (d), and step 7's package.json packed with npm. Deviations, all
  // forced by a hermetic CI: the SDK comes from the tarballs instead of the registry, the dev tools
  // are pinned to the workspace's versions, and the "secret service" the guide's plugin fetches from
  // is a local HTTP server named in its config file.
  it("(e) the plugin author's guide, steps 1–7, with its own code blocks", async ({
    expect,
    onTestFinished,
  }) => {
    const guide = readGuide();
    const service = await startGuideService();
    onTestFinished(() => service.close());

    const dir = join(pack.work, 'guide', 'my-plugin');
    mkdirSync(dir, { recursive: true });
    const sh = (what: string, line: string, options: { timeoutMs?: number } = {}) =>
      check(what, 'bash', ['-c', line], { cwd: dir, ...options });
    const pinned: Record<string, string | undefined> = {
      typescript: rootDevVersion('typescript'),
      '@types/node': rootDevVersion('@types/node'),
      vitest: rootDevVersion('vitest'),
      esbuild: readManifest(join(ROOT, 'examples/file-provider')).devDependencies?.esbuild,
    };

    // Step 1.
    for (const line of shellLines(guideBlock(guide, '## 1. Create the package', 'sh'))) {
      if (line === '' || line.startsWith('mkdir')) continue;
      if (line === 'npm install @secrets-engine/plugin-sdk') {
        await check(
          'step 1: npm install the SDK',
          'npm',
          ['install', ...pack.npmFlags, ...pack.tarballsOf(['plugin-sdk'])],
          {
            cwd: dir,
          },
        );
      } else if (line.startsWith('npm install -D ')) {
        const tools = line.slice('npm install -D '.length).split(/\s+/);
        expect(
          tools.filter((t) => pinned[t] === undefined),
          'step 1 installs these: pin their versions in this scenario',
        ).toEqual([]);
        await check(
          'step 1: npm install -D',
          'npm',
          ['install', '-D', ...pack.npmFlags, ...tools.map((t) => `${t}@${pinned[t]}`)],
          { cwd: dir, timeoutMs: 300_000 },
        );
      } else if (/^npm (install|i|add)\b/.test(line)) {
        // Anything else would reach the public registry: teach this scenario the new line.
        throw new Error(`step 1: this scenario does not know how to run "${line}" hermetically`);
      } else {
        await sh(`step 1: ${line}`, line);
      }
    }
    expect(notFromTarballs(dir), 'guide: installed from the registry instead of a tarball').toEqual([]);
    expect(
      installedOf(dir, ['runtime', 'client', 'cli']),
      "a plugin author's install must not pull in the runtime",
    ).toEqual([]);

    // Step 2: the plugin, its configuration, the tsconfig; build.
    mkdirSync(join(dir, 'src'));
    mkdirSync(join(dir, 'scripts'));
    mkdirSync(join(dir, 'test'));
    writeFileSync(join(dir, 'src', 'main.ts'), guideBlock(guide, '`src/main.ts`', 'ts'));
    const config = JSON.parse(guideBlock(guide, '`my-plugin.json`', 'json')) as Record<string, unknown>;
    expect(typeof config.url, "the guide's my-plugin.json has a url").toBe('string');
    expect(typeof config.token, "the guide's my-plugin.json has a token").toBe('string');
    const ours = `${JSON.stringify({ ...config, url: service.url, token: GUIDE_TOKEN })}\n`;
    writeFileSync(join(dir, 'my-plugin.json'), ours, { mode: 0o600 });
    writeFileSync(join(dir, 'test', 'config.json'), ours, { mode: 0o600 });
    writeFileSync(join(dir, 'tsconfig.json'), guideBlock(guide, '`tsconfig.json`:', 'json'));

    // Step 5: bundle (the guide's own command line).
    writeFileSync(join(dir, 'scripts', 'bundle.mjs'), guideBlock(guide, '`scripts/bundle.mjs`', 'js'));
    const step5 = guideBlock(guide, 'chmodSync(', 'sh').trim();
    await sh(`step 5: ${step5}`, step5, { timeoutMs: 120_000 });
    expect(
      readFileSync(join(dir, 'dist', 'main.js'), 'utf8').startsWith('#!/usr/bin/env node'),
      'step 2: dist/main.js keeps its shebang',
    ).toBe(true);
    expect(
      statSync(join(dir, 'dist', 'my-plugin.mjs')).mode & 0o111,
      'step 5: dist/my-plugin.mjs is executable',
    ).not.toBe(0);

    // Step 6: the guide's tests, with vitest.
    writeFileSync(join(dir, 'test', 'plugin.test.ts'), guideBlock(guide, '`test/plugin.test.ts`', 'ts'));
    const tests = await check('step 6: npx vitest run', 'npx', ['vitest', 'run'], {
      env: { NO_COLOR: '1', FORCE_COLOR: '0' },
      cwd: dir,
      timeoutMs: 120_000,
    });
    expect(tests.stdout, 'step 6: 2 passed tests').toMatch(/Tests\s+2 passed/);

    // Steps 3 and 4 need the CLI of scenario (d).
    const { bin } = await pack.cliInstall();
    const cli = (args: string[], env?: Record<string, string>) =>
      run(bin, args, { cwd: dir, ...(env ? { env } : {}), timeoutMs: 30_000 });

    // Step 3: an engine, and the plugin started by hand with its config.
    const sockDir = mkdtempSync(join(pack.work, 'e-'));
    const env = { SECRETS_ENGINE_SOCKET: join(sockDir, 'dev', 'engine.sock') };
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
    let engineCode: number | string;
    let pluginCode: number | string | null;
    try {
      await waitFor('step 3: my-plugin in `secrets-engine plugins`', async () => {
        const res = await cli(['plugins'], env);
        return {
          ok: /^my-plugin\s+v1\.0\.0\s+myorg\/\*\*\s+external\s+running/m.test(res.stdout),
          why: `${res.stdout}${res.stderr}--- plugin stderr\n${pluginStderr()}`,
        };
      });
      const all = await cli(['get', 'myorg/**'], env);
      const allWhat = `step 3: secrets-engine get 'myorg/**'${describeOutput(all)}`;
      expect(all.code, allWhat).toBe(0);
      expect(all.stdout, allWhat).toContain('myorg/db/password');
      expect(all.stdout, allWhat).toContain('myorg/api/token');
      expect(all.stdout, allWhat).not.toContain('other/thing');
      expect(all.stdout, `${allWhat}\n(a value is shown without --reveal)`).not.toContain('guide-pw-1');
      const one = await cli(['get', 'myorg/db/password', '--reveal'], env);
      const oneWhat = `step 3: secrets-engine get myorg/db/password --reveal${describeOutput(one)}`;
      expect(one.code, oneWhat).toBe(0);
      expect(one.stdout, oneWhat).toContain('guide-pw-1');
    } finally {
      engineCode = await stop(engine.child);
      // The engine's shutdown stops the plugin too: it must exit by itself, with 0.
      pluginCode = await Promise.race([
        pluginExit,
        new Promise<string>((r) => setTimeout(r, 5_000, 'still running')),
      ]);
      if (pluginCode === 'still running') await stop(plugin.child, 'SIGKILL');
    }
    expect(engineCode, 'step 3: secrets-engine serve: exit after SIGTERM').toBe(0);
    expect(pluginCode, `step 3: after the engine stopped, the plugin's exit\n${pluginStderr()}`).toBe(0);
    expect(pluginStderr(), 'step 3: the plugin prints "stopped: shutdown"').toContain('stopped: shutdown');

    // Step 4: installed into a plugins folder (its cp/install lines, with the folder moved into the
    // scratch area), launched by the engine.
    const pluginsDir = join(pack.work, 'guide', 'plugins');
    const step4 = shellLines(guideBlock(guide, '## 4. Install it into a plugins folder', 'sh'))
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
    let engine4Code: number | string;
    try {
      await waitFor('step 4: my-plugin launched and running', async () => {
        const res = await cli(['plugins', '--socket', socket4]);
        return {
          ok: /^my-plugin\s+v1\.0\.0\s+myorg\/\*\*\s+launched\s+running/m.test(res.stdout),
          why: `${res.stdout}${res.stderr}--- engine stderr\n${engine4.output().stderr}`,
        };
      });
      const one = await cli(['get', 'myorg/api/token', '--reveal', '--socket', socket4]);
      const oneWhat = `step 4: secrets-engine get myorg/api/token --reveal${describeOutput(one)}`;
      expect(one.code, oneWhat).toBe(0);
      expect(one.stdout, oneWhat).toContain('guide-tok-2');
    } finally {
      engine4Code = await stop(engine4.child);
    }
    expect(engine4Code, 'step 4: secrets-engine serve: exit after SIGTERM').toBe(0);

    // Step 7: the package.json fields of the guide, packed.
    const manifest = readManifest(dir);
    const guideManifest = JSON.parse(
      guideBlock(guide, 'A plugin package ships the bundle as its executable', 'json'),
    ) as { dependencies?: Record<string, string> };
    expect(
      guideManifest.dependencies?.['@secrets-engine/plugin-sdk'],
      'step 7: the guide depends on the current @secrets-engine/plugin-sdk',
    ).toBe(`^${manifests.get('plugin-sdk')?.version}`);
    writeFileSync(
      join(dir, 'package.json'),
      `${JSON.stringify({ ...manifest, ...guideManifest, devDependencies: manifest.devDependencies }, null, 2)}\n`,
    );
    const packed = await check(
      'step 7: npm pack --dry-run',
      'npm',
      ['pack', '--dry-run', '--json', ...pack.npmFlags],
      {
        cwd: dir,
      },
    );
    const files = (JSON.parse(packed.stdout) as { files: { path: string }[] }[])[0]!.files
      .map((f) => f.path)
      .sort();
    expect(files, 'step 7: what the package would ship').toEqual(['dist/my-plugin.mjs', 'package.json']);
  });
});

function statSafe(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

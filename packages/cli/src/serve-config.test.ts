// `serve --config` (issue 15 item 3, docs/configuration.md), through the built binary: builtin
// providers in the engine's own process, errors naming FILE:LINE:COL and the key, flags over the
// file, `plugins enable/disable` persisting into disabledPlugins, and SIGHUP re-reading the file
// (issue 16 item 4).
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { keyringUnavailable, startKeyringSession } from '@secrets-engine/test-utils/keyring.js';
import { describe, expect, it } from 'vitest';
import {
  type CliProcess,
  expectNoStack,
  FIXTURE,
  PACKAGE_DIR,
  recordedPids,
  runCli,
  serve,
  startCli,
  tempDir,
  useCli,
  waitFor,
} from './__tests__/cli.js';

useCli();

/** The pids whose parent is `pid` (Linux /proc). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid …: comm may hold spaces and parentheses, so from the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function writeConfig(dir: string, config: unknown, name = 'config.json'): string {
  const file = join(dir, name);
  writeFileSync(file, typeof config === 'string' ? config : `${JSON.stringify(config, null, 2)}\n`);
  return file;
}

async function ready(proc: CliProcess): Promise<string> {
  const [line] = await proc.waitFor(/^secrets-engine ready on .*$/m, 'stdout', 15_000);
  return line;
}

async function stop(proc: CliProcess): Promise<void> {
  proc.child.kill('SIGINT');
  const r = await proc.exited;
  expect(r.code).toBe(0);
}

describe('serve --config', () => {
  it('serves a file builtin and an env builtin in its own process, no child process launched', async () => {
    const dir = tempDir();
    const secrets = join(dir, 'secrets.json');
    writeFileSync(secrets, JSON.stringify({ 'db/password': 'file-VALUE-1' }), { mode: 0o600 });
    // The default file: $XDG_CONFIG_HOME/secrets-engine/config.json, paths relative to its folder.
    const configHome = join(dir, 'xdg');
    mkdirSync(join(configHome, 'secrets-engine'), { recursive: true });
    writeConfig(join(configHome, 'secrets-engine'), {
      socket: '../../engine.sock',
      pluginsDir: '../../plugins',
      builtins: { file: { path: '../../secrets.json', pattern: 'app/**' }, env: { prefix: 'MY_SECRET_' } },
    });
    mkdirSync(join(dir, 'plugins'));
    const socket = join(dir, 'engine.sock');
    const proc = startCli(['serve'], {
      env: { XDG_CONFIG_HOME: configHome, MY_SECRET_TOKEN: 'env-VALUE-2' },
    });
    expect(await ready(proc)).toBe(`secrets-engine ready on ${socket}; plugins started: env, file`);
    expect(childrenOf(proc.pid)).toEqual([]);

    const got = await runCli(['get', '**', '--socket', socket, '--json', '--reveal']);
    expect(got.code).toBe(0);
    expect(
      (JSON.parse(got.stdout) as { id: string; provider: string; value: string }[]).map((e) => [
        e.id,
        e.provider,
        e.value,
      ]),
    ).toEqual([
      ['app/db/password', 'file', 'file-VALUE-1'],
      ['env/token', 'env', 'env-VALUE-2'],
    ]);
    const list = await runCli(['plugins', '--socket', socket, '--json']);
    expect(
      (JSON.parse(list.stdout) as { name: string; kind: string }[]).map((p) => [p.name, p.kind]),
    ).toEqual([
      ['env', 'builtin'],
      ['file', 'builtin'],
    ]);
    expect(childrenOf(proc.pid)).toEqual([]);
    await stop(proc);
    expect(proc.stderr()).toContain(
      `configuration read file=${join(configHome, 'secrets-engine', 'config.json')}`,
    );
    expect(proc.stderr()).not.toMatch(/VALUE-/);
  }, 60_000);

  it('flags override the file', async () => {
    const dir = tempDir();
    const config = writeConfig(dir, {
      socket: 'from-file.sock',
      logLevel: 'error',
      requestTimeoutMs: 5,
      builtins: { env: true },
    });
    const socket = join(dir, 'from-flag.sock');
    const proc = startCli(['serve', '--config', config, '--socket', socket, '--log-level', 'info']);
    expect(await ready(proc)).toBe(`secrets-engine ready on ${socket}; plugins started: env`);
    expect(existsSync(join(dir, 'from-file.sock'))).toBe(false);
    expect(proc.stderr()).toMatch(/INFO {2}engine listening/);
    await stop(proc);
  }, 30_000);

  it('without a configuration file and without the default plugins folder it serves, and says so', async () => {
    const dir = tempDir();
    const proc = startCli(['serve', '--socket', join(dir, 'e.sock')], {
      env: { XDG_CONFIG_HOME: join(dir, 'nothing'), XDG_DATA_HOME: join(dir, 'no-data') },
    });
    expect(await ready(proc)).toMatch(/plugins started: none$/);
    expect(proc.stderr()).not.toContain('configuration read');
    expect(proc.stderr()).toContain(
      `no plugins folder; no plugins are launched pluginsDir=${join(dir, 'no-data', 'secrets-engine', 'plugins')}`,
    );
    await stop(proc);
  }, 30_000);

  it.each([
    ['a syntax error', '{\n  "socket": "x",\n}\n', ':3:1: not valid JSON: trailing comma before "}"'],
    [
      'a wrong type',
      '{\n  "builtins": {\n    "file": { "path": 3 }\n  }\n}\n',
      ':3:23: key "builtins.file.path": must be a string, got 3',
    ],
    [
      'an unknown key',
      '{\n  "socket": "x",\n  "sokcet": "y"\n}\n',
      ':3:3: key "sokcet": unknown key (allowed: socket, pluginsDir,',
    ],
    [
      'an unknown builtin',
      '{"builtins": {"vault": {}}}',
      ':1:15: key "builtins.vault": unknown key (allowed in "builtins": file, env, keychain)',
    ],
    [
      'a missing configured plugins folder',
      '{\n  "pluginsDir": "nowhere"\n}',
      ':2:17: key "pluginsDir": plugins folder ',
    ],
    [
      'a bad provider option',
      '{"builtins": {"env": {"prefix": "9X"}}}',
      ':1:14: key "builtins.env": createEnvProvider: prefix "9X" must be',
    ],
  ])('refuses %s with FILE:LINE:COL and the key (exit 1)', async (_what, text, expected) => {
    const dir = tempDir();
    const config = writeConfig(dir, text);
    const r = await runCli(['serve', '--config', config, '--socket', join(dir, 'e.sock')]);
    expect(r.code).toBe(1);
    // Log lines may come first (the file was read); the error is the last line, and the only one.
    const lines = r.stderr.trim().split('\n');
    expect(lines.at(-1)!.startsWith(`secrets-engine: ${config}${expected}`), r.stderr).toBe(true);
    expect(lines.filter((l) => l.startsWith('secrets-engine:'))).toHaveLength(1);
    expectNoStack(r.stderr);
    expect(existsSync(join(dir, 'e.sock'))).toBe(false);
  });

  it('refuses a --config file that does not exist', async () => {
    const dir = tempDir();
    const r = await runCli(['serve', '--config', join(dir, 'nope.json'), '--socket', join(dir, 'e.sock')]);
    expect([r.code, r.stderr]).toEqual([1, `secrets-engine: ${join(dir, 'nope.json')}: no such file\n`]);
  });

  it('refuses a builtin with the name of a plugin in the plugins folder', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'plugins'));
    symlinkSync(FIXTURE, join(dir, 'plugins', 'env'));
    const config = writeConfig(dir, '{\n  "pluginsDir": "plugins",\n  "builtins": {"env": true}\n}');
    const r = await runCli(['serve', '--config', config, '--socket', join(dir, 'e.sock')]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n').at(-1)).toBe(
      `secrets-engine: ${config}:3:15: the builtin plugin "env" has the name of the plugin ${join(dir, 'plugins', 'env')}; give the builtin another "name" or remove that plugin`,
    );
  });
});

const keyring = keyringUnavailable();
describe('serve --config with the keychain builtin', () => {
  it.skipIf(keyring !== undefined)(
    `serves the OS keychain in-process${keyring === undefined ? '' : ` — NOT RUN: ${keyring}`}`,
    async () => {
      await using session = await startKeyringSession();
      const bin = join(PACKAGE_DIR, '..', 'plugin-keychain', 'dist', 'plugin-keychain.mjs');
      const env = { ...session.env, SECRETS_KEYCHAIN_SERVICE: 'se-cli-config' };
      const set = spawnSync(process.execPath, [bin, 'set', 'kc/api'], {
        env: { ...process.env, ...env },
        input: 'kc-VALUE-3\n',
      });
      expect(set.status, set.stderr.toString()).toBe(0);
      const dir = tempDir();
      const config = writeConfig(dir, {
        builtins: { keychain: { service: 'se-cli-config', pattern: 'kc/**' } },
      });
      const socket = join(dir, 'e.sock');
      const proc = startCli(['serve', '--config', config, '--socket', socket], { env: session.env });
      expect(await ready(proc)).toMatch(/plugins started: keychain$/);
      expect(childrenOf(proc.pid)).toEqual([]);
      const got = await runCli(['read', 'kc/api', '--socket', socket]);
      expect([got.code, got.stdout]).toEqual([0, 'kc-VALUE-3']);
      await stop(proc);
      expect(proc.stderr()).not.toContain('kc-VALUE-3');
    },
    60_000,
  );
});

describe('plugins enable/disable persist into the configuration file', () => {
  it('with an engine running: the engine changes and the file records it (0600, other keys kept)', async () => {
    const engine = await serve({ plugins: ['fixture', 'other'] });
    const config = join(engine.dir, 'conf', 'config.json');
    const disable = await runCli([
      'plugins',
      'disable',
      'fixture',
      '--socket',
      engine.socket,
      '--config',
      config,
    ]);
    expect([disable.code, disable.stderr]).toEqual([0, '']);
    expect(disable.stdout).toBe(
      `plugin "fixture" disabled\n"fixture" added to disabledPlugins in ${config} (created)\n`,
    );
    expect(statSync(config).mode & 0o777).toBe(0o600);
    expect(statSync(join(engine.dir, 'conf')).mode & 0o777).toBe(0o700);
    expect(JSON.parse(readFileSync(config, 'utf8'))).toEqual({ disabledPlugins: ['fixture'] });
    expect((await runCli(['plugins', '--socket', engine.socket])).stdout).toMatch(/^fixture .* disabled/m);

    writeFileSync(config, '{"logLevel": "info", "disabledPlugins": ["fixture"], "socket": "x.sock"}');
    await runCli(['plugins', 'disable', 'other', '--socket', engine.socket, '--config', config]);
    const enable = await runCli([
      'plugins',
      'enable',
      'fixture',
      '--socket',
      engine.socket,
      '--config',
      config,
    ]);
    expect(enable.code).toBe(0);
    expect(readFileSync(config, 'utf8')).toBe(
      '{\n  "logLevel": "info",\n  "disabledPlugins": ["other"],\n  "socket": "x.sock"\n}\n',
    );

    // --no-persist: the engine only.
    const before = readFileSync(config, 'utf8');
    const only = await runCli(['plugins', 'enable', 'other', '--socket', engine.socket, '--no-persist']);
    expect([only.code, only.stdout]).toEqual([0, 'plugin "other" enabled\n']);
    expect(readFileSync(config, 'utf8')).toBe(before);
    const unknown = await runCli(['plugins', 'disable', 'nope', '--socket', engine.socket, '--no-persist']);
    expect(unknown.code).toBe(2);
    const r = await engine.stop();
    expect(r.code).toBe(0);
  }, 60_000);

  it('with no engine running the file is still written, and stderr says so; the next serve starts with it', async () => {
    const dir = tempDir();
    const socket = join(dir, 'e.sock');
    const configHome = join(dir, 'xdg');
    const file = join(configHome, 'secrets-engine', 'config.json');
    const r = await runCli(['plugins', 'disable', 'env', '--socket', socket], {
      env: { XDG_CONFIG_HOME: configHome },
    });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(
      `secrets-engine: no engine is running on its socket; "env" is disabled from the next start (${file})\n`,
    );
    expect(r.stdout).toBe(`"env" added to disabledPlugins in ${file} (created)\n`);
    expect(statSync(file).mode & 0o777).toBe(0o600);

    const text = readFileSync(file, 'utf8').replace('{', '{\n  "builtins": {"env": true},');
    writeFileSync(file, text);
    const proc = startCli(['serve', '--socket', socket], { env: { XDG_CONFIG_HOME: configHome } });
    expect(await ready(proc)).toMatch(/plugins started: none$/);
    const list = await runCli(['plugins', '--socket', socket, '--json']);
    expect(
      (JSON.parse(list.stdout) as { name: string; status: string }[]).map((p) => [p.name, p.status]),
    ).toEqual([['env', 'disabled']]);
    // Enabled on the running engine and in the file.
    const enable = await runCli(['plugins', 'enable', 'env', '--socket', socket], {
      env: { XDG_CONFIG_HOME: configHome },
    });
    expect(enable.code).toBe(0);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ builtins: { env: true }, disabledPlugins: [] });
    await stop(proc);
  }, 60_000);

  it('a configuration file with an error is not rewritten and the engine is not changed', async () => {
    const engine = await serve();
    const config = writeConfig(engine.dir, '{\n  "disabledPlugins": [1]\n}');
    const r = await runCli(['plugins', 'disable', 'fixture', '--socket', engine.socket, '--config', config]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `secrets-engine: ${config}:2:23: key "disabledPlugins[0]": must be a string, got 1 (fix it, or use --no-persist)\n`,
    );
    expect(readFileSync(config, 'utf8')).toBe('{\n  "disabledPlugins": [1]\n}');
    expect((await runCli(['plugins', '--socket', engine.socket])).stdout).toMatch(/^fixture .* running/m);
    expect((await engine.stop()).code).toBe(0);
  }, 30_000);
});

describe('SIGHUP re-reads the configuration file', () => {
  it('applies a disabledPlugins change, says which keys need a restart, and keeps the old configuration on a bad edit', async () => {
    const dir = tempDir();
    const config = writeConfig(dir, { disabledPlugins: [], builtins: { env: true }, requestTimeoutMs: 1000 });
    const engine = await serve({ plugins: ['fixture', 'other'], args: ['--config', config] });
    const status = async () =>
      new Map(
        (
          JSON.parse((await runCli(['plugins', '--socket', engine.socket, '--json'])).stdout) as {
            name: string;
            status: string;
          }[]
        ).map((p) => [p.name, p.status]),
      );
    expect(await status()).toEqual(
      new Map([
        ['env', 'running'],
        ['fixture', 'running'],
        ['other', 'running'],
      ]),
    );

    writeConfig(dir, {
      disabledPlugins: ['fixture', 'env'],
      builtins: { env: { prefix: 'X_' } },
      requestTimeoutMs: 9,
      stateDir: 'st',
    });
    engine.proc.child.kill('SIGHUP');
    await waitFor(
      'fixture and env disabled',
      async () => {
        const s = await status();
        return s.get('fixture') === 'disabled' && s.get('env') === 'disabled';
      },
      { intervalMs: 100, timeoutMs: 30_000 },
    );
    await engine.proc.waitFor(/configuration reloaded/, 'stderr');
    const log = engine.proc.stderr();
    expect(log).toMatch(/INFO {2}disabled plugins applied disabled=env,fixture enabled=-$/m);
    for (const key of ['stateDir', 'requestTimeoutMs', 'builtins'])
      expect(log).toMatch(new RegExp(`WARN {2}needs a restart: ${key}$`, 'm'));
    expect(log).not.toMatch(/needs a restart: disabledPlugins/);
    const fixturePids = recordedPids(engine.pidDir);
    expect(fixturePids.length).toBeGreaterThan(0);

    // A bad edit: logged with FILE:LINE:COL, nothing changes, the engine serves on.
    writeConfig(dir, '{\n  "disabledPlugins": ["other"],\n  "nope": true\n}');
    engine.proc.child.kill('SIGHUP');
    await engine.proc.waitFor(/configuration not reloaded/, 'stderr');
    expect(engine.proc.stderr()).toContain(
      `ERROR configuration not reloaded, the running one is kept error="${config}:3:3: key \\"nope\\": unknown key`,
    );
    await engine.proc.waitFor(/plugins folder reloaded(.|\n)*plugins folder reloaded/, 'stderr');
    expect(await status()).toEqual(
      new Map([
        ['env', 'disabled'],
        ['fixture', 'disabled'],
        ['other', 'running'],
      ]),
    );

    // Fixed: only the difference to the configuration applied last is applied; the keys that need
    // a restart are compared with what runs (requestTimeoutMs undone: no longer reported).
    writeConfig(dir, {
      disabledPlugins: ['env'],
      builtins: { env: { prefix: 'X_' } },
      requestTimeoutMs: 1000,
      stateDir: 'st',
    });
    engine.proc.child.kill('SIGHUP');
    await waitFor('fixture running again', async () => (await status()).get('fixture') === 'running', {
      intervalMs: 100,
      timeoutMs: 30_000,
    });
    expect(await status()).toEqual(
      new Map([
        ['env', 'disabled'],
        ['fixture', 'running'],
        ['other', 'running'],
      ]),
    );
    expect(engine.proc.stderr()).toMatch(/disabled plugins applied disabled=- enabled=fixture$/m);
    await engine.proc.waitFor(/configuration reloaded(.|\n)*configuration reloaded/, 'stderr');
    const count = (key: string) =>
      engine.proc.stderr().match(new RegExp(`WARN {2}needs a restart: ${key}$`, 'gm'))?.length ?? 0;
    expect([count('stateDir'), count('builtins'), count('requestTimeoutMs')]).toEqual([2, 2, 1]);
    expect(engine.proc.child.exitCode).toBeNull();
    expect((await engine.stop()).code).toBe(0);
  }, 90_000);
});

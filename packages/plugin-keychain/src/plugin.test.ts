// The bin (dist/plugin-keychain.mjs, `pnpm build`) as users run it, against a REAL Secret Service
// (gnome-keyring-daemon on a private D-Bus session bus): its set/rm/list commands, launched by a
// real engine from a plugins folder and asked through the client; without a bus and with a
// locked keyring it says so and how to fix it (unavailable, never not found); no value in any log.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, NotFoundError, ProviderFailedError } from '@secrets-engine/client';
import { checkPluginConformance } from '@secrets-engine/plugin-sdk/testing';
import { createEngine, type EngineOptions } from '@secrets-engine/runtime';
import {
  type KeyringSession,
  keyringUnavailable,
  onPath,
  startKeyringSession,
} from '@secrets-engine/test-utils/keyring.js';
import { captureLogger } from '@secrets-engine/test-utils/process.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TempDir, tempDir, until, write } from './__tests__/helpers.js';

const bin = fileURLToPath(new URL('../dist/plugin-keychain.mjs', import.meta.url));
const unavailable = keyringUnavailable();
if (unavailable !== undefined && process.env.CI) throw new Error(unavailable);

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
    logger: captureLogger(lines, 'PLUGIN_KEYCHAIN_TEST_VERBOSE'),
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

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}
/** Runs the bin with exactly `env` (plus PATH) and `input` on stdin (a pipe: not a terminal). */
const runBin = (args: string[], env: Record<string, string>, input = '') =>
  new Promise<Run>((resolve, reject) => {
    const child = spawn(bin, args, { env: { PATH: process.env.PATH ?? '', ...env }, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });

// Said loudly where they cannot run (a skip with the reason), and only there.
if (unavailable !== undefined) {
  it('real-keyring tests', (ctx) => {
    ctx.skip(`the real-keyring tests did not run: ${unavailable}`);
  });
}

describe.skipIf(unavailable !== undefined)('against a real Secret Service (gnome-keyring-daemon)', () => {
  let session: KeyringSession;
  beforeAll(async () => {
    session = await startKeyringSession();
  });
  afterAll(async () => {
    await session?.[Symbol.asyncDispose]();
  });

  it('passes the SDK conformance suite', async () => {
    const env = { ...session.env, SECRETS_KEYCHAIN_SERVICE: 'se-conformance' };
    for (const id of ['conf/a', 'conf/b/c'])
      expect((await runBin(['set', id], env, `${id}-value\n`)).code).toBe(0);
    const report = await checkPluginConformance({
      command: bin,
      env: { PATH: process.env.PATH ?? '', ...env },
      found: ['**', 'conf/*', 'conf/b/c'],
      missing: 'nope/**',
    });
    expect(report.ok).toBe(true);
  });

  it('set (stdin), list, rm; launched by an engine it serves them to the client; no value in any log', async () => {
    using tmp = tempDir();
    const env = session.env;
    // One trailing newline is dropped (echo adds it); the rest is the value.
    const set = await runBin(['set', 'app/db/password'], env, 'db-VALUE-1\n');
    expect([set.code, set.stderr]).toEqual([
      0,
      'stored app/db/password in the keychain (service secrets-engine)\n',
    ]);
    expect((await runBin(['set', 'app/api-token'], env, 'api-VALUE-2\r\n')).code).toBe(0);
    expect((await runBin(['set', 'other/x'], env, '  spaced VALUE-3  ')).code).toBe(0);
    const list = await runBin(['list'], env);
    expect([list.code, list.stdout]).toEqual([0, 'app/api-token\napp/db/password\nother/x\n']);
    expect((await runBin(['list', 'app/**'], env)).stdout).toBe('app/api-token\napp/db/password\n');

    // Launched by the engine (no arguments), it finds the bus at $XDG_RUNTIME_DIR/bus, as in a
    // systemd user session (XDG_* is in the engine's default allowlist); debug logging on.
    const plugins = pluginsFolder(tmp, 'keychain');
    await using run = await startEngine(tmp, {
      pluginsDir: plugins,
      pluginEnv: { XDG_RUNTIME_DIR: session.runtimeDir, SECRETS_KEYCHAIN_LOG_LEVEL: 'debug' },
    });
    expect(run.engine.listPlugins().map((p) => [p.name, p.kind, p.status, p.pattern])).toEqual([
      ['keychain', 'launched', 'running', '**'],
    ]);
    const secret = await run.client.getSecret('app/db/password');
    expect([secret.id, secret.provider, secret.revealText(), secret.metadata]).toEqual([
      'app/db/password',
      'keychain',
      'db-VALUE-1',
      { service: 'secrets-engine' },
    ]);
    expect((await run.client.getSecret('app/api-token')).revealText()).toBe('api-VALUE-2');
    expect((await run.client.getSecret('other/x')).revealText()).toBe('  spaced VALUE-3  ');
    const all = await run.client.getSecrets('app/**');
    expect(all.map((s) => s.id).sort()).toEqual(['app/api-token', 'app/db/password']);
    expect(await failure(run.client.getSecret('app/db'))).toBeInstanceOf(NotFoundError);

    const rm = await runBin(['rm', 'app/db/password'], env);
    expect([rm.code, rm.stderr]).toEqual([0, 'removed app/db/password\n']);
    expect(await failure(run.client.getSecret('app/db/password'))).toBeInstanceOf(NotFoundError);
    const again = await runBin(['rm', 'app/db/password'], env);
    expect([again.code, again.stderr]).toEqual([
      1,
      'secrets-engine-plugin-keychain: app/db/password: no such secret in the keychain (service secrets-engine)\n',
    ]);

    await until('the debug lines', () => run.everything().includes('get by ID'));
    const logged = [run.everything(), set.stderr, list.stderr, rm.stderr].join('\n');
    expect(logged).toContain('serving the keychain service=secrets-engine pattern=**');
    expect(logged).not.toMatch(/VALUE/);
  });

  it("a link with a config file beside it: the engine launches it with that service and pattern, and the link's own commands use them", async () => {
    using tmp = tempDir();
    const plugins = pluginsFolder(tmp, 'work');
    write(join(plugins, 'work.json'), JSON.stringify({ service: 'se-work', pattern: 'work/**' }));
    const link = join(plugins, 'work');
    const runLink = (args: string[], input = '') =>
      new Promise<Run>((resolve) => {
        const child = spawn(link, args, { env: { PATH: process.env.PATH ?? '', ...session.env } });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString();
        });
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
        });
        child.once('close', (code) => resolve({ code, stdout, stderr }));
        child.stdin.end(input);
      });
    expect(await runLink(['set', 'work/vpn'], 'vpn-VALUE')).toMatchObject({
      code: 0,
      stderr: 'stored work/vpn in the keychain (service se-work)\n',
    });
    const outside = await runLink(['set', 'home/x'], 'v');
    expect([outside.code, outside.stderr]).toEqual([
      2,
      "secrets-engine-plugin-keychain: cannot set home/x: outside this provider's pattern work/**\n",
    ]);
    // The default service does not have it.
    expect((await runBin(['list'], session.env)).stdout).not.toContain('work/vpn');
    await using run = await startEngine(tmp, { pluginsDir: plugins, pluginEnv: session.env });
    expect(run.engine.listPlugins().map((p) => [p.name, p.pattern])).toEqual([['work', 'work/**']]);
    expect((await run.client.getSecret('work/vpn')).metadata).toEqual({ service: 'se-work' });
    await until('the startup line', () => run.everything().includes('serving the keychain'));
    expect(run.everything()).toContain(
      `serving the keychain service=se-work pattern=work/** configFile=${join(plugins, 'work.json')}`,
    );

    write(join(plugins, 'work.json'), JSON.stringify({ service: 'se-work', patern: 'x' }));
    const bad = await runLink(['list']);
    expect([bad.code, bad.stderr]).toEqual([
      2,
      `error: work: ${join(plugins, 'work.json')}: unknown field(s) "patern"; allowed: "service", "pattern"\n`,
    ]);
  });

  it('set never takes a value from argv, and refuses bad IDs and empty or non-UTF-8 input', async () => {
    const env = session.env;
    const extra = await runBin(['set', 'app/x', 'the-VALUE'], env, 'ignored');
    expect(extra.code).toBe(64);
    expect(extra.stderr).toContain(
      'set takes one argument, the ID; got 2. The value is never taken from the command line (ps and shell history would show it)',
    );
    expect(extra.stderr).not.toContain('the-VALUE');
    expect((await runBin(['set'], env)).stderr).toContain('set needs the ID');
    const badId = await runBin(['set', 'a//b'], env, 'v');
    expect([badId.code, badId.stderr]).toEqual([
      2,
      expect.stringMatching(
        /^secrets-engine-plugin-keychain: cannot set "a\/\/b": invalid identifier: .*empty/,
      ),
    ]);
    const empty = await runBin(['set', 'app/empty'], env, '\n');
    expect([empty.code, empty.stderr]).toEqual([
      2,
      expect.stringContaining('the value on stdin is empty (an empty secret is refused'),
    ]);
    const binary = await runBin(['set', 'app/bin'], env, '\u00ff');
    expect(binary.code).toBe(0); // valid UTF-8 (ÿ)
    const notUtf8 = await new Promise<Run>((resolve) => {
      const child = spawn(bin, ['set', 'app/bin2'], { env: { PATH: process.env.PATH ?? '', ...env } });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      child.once('close', (code) => resolve({ code, stdout: '', stderr }));
      child.stdin.end(Buffer.from([0xff, 0xfe, 0x00]));
    });
    expect([notUtf8.code, notUtf8.stderr]).toEqual([2, expect.stringContaining('is not UTF-8 text')]);
    const serving = await runBin(['list', '--socket', '/tmp/x.sock'], env);
    expect([serving.code, serving.stderr]).toEqual([
      64,
      expect.stringContaining('--socket and --name are for serving; list talks to the keychain directly'),
    ]);
    const unknown = await runBin(['get', 'app/x'], env);
    expect([unknown.code, unknown.stderr]).toEqual([64, expect.stringContaining('unknown command "get"')]);
    expect((await runBin(['list'], env)).stdout).not.toContain('app/bin2');
  });
  it('in a terminal set prompts twice without echo; two different entries store nothing', async (ctx) => {
    if (!onPath('python3'))
      ctx.skip('python3 (its pty module makes the terminal) is not installed: the prompt was not tested');
    // A real pseudo-terminal (python3's pty module): the bin sees a TTY on stdin.
    const typeInto = (args: string[], answers: string[]) =>
      new Promise<Run>((resolve, reject) => {
        const script = [
          'import os, pty, sys, json',
          'answers = json.loads(sys.argv[1]); cmd = sys.argv[2:]',
          'pid, fd = pty.fork()',
          'if pid == 0: os.execvp(cmd[0], cmd)',
          'out = b""',
          'while True:',
          '    try: chunk = os.read(fd, 1024)',
          '    except OSError: break',
          '    if not chunk: break',
          '    out += chunk',
          '    if answers and out.rstrip().endswith(b":"):',
          '        os.write(fd, answers.pop(0).encode() + b"\\r"); out += b"<typed>"',
          '_, status = os.waitpid(pid, 0)',
          'sys.stdout.write(out.decode("utf8", "replace")); sys.exit(os.waitstatus_to_exitcode(status))',
        ].join('\n');
        const child = spawn('python3', ['-c', script, JSON.stringify(answers), bin, ...args], {
          env: { PATH: process.env.PATH ?? '', ...session.env },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString();
        });
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
        });
        child.once('error', reject);
        child.once('close', (code) => resolve({ code, stdout, stderr }));
      });
    const typed = await typeInto(['set', 'tty/token'], ['tty-VALUE', 'tty-VALUE']);
    expect([typed.code, typed.stderr]).toEqual([0, '']);
    expect(typed.stdout).toContain('Value for tty/token: <typed>');
    expect(typed.stdout).toContain('Again, to confirm: <typed>');
    expect(typed.stdout).toContain('stored tty/token in the keychain');
    expect(typed.stdout).not.toContain('tty-VALUE'); // not echoed
    const stored = execFileSync(
      'secret-tool',
      ['lookup', 'service', 'secrets-engine', 'username', 'tty/token'],
      {
        env: { PATH: process.env.PATH ?? '', ...session.env },
      },
    ).toString();
    expect(stored).toBe('tty-VALUE');

    const differ = await typeInto(['set', 'tty/other'], ['one-VALUE', 'two-VALUE']);
    expect(differ.code).toBe(2);
    expect(differ.stdout).toContain('the two entries differ: nothing stored');
    expect(differ.stdout).not.toMatch(/VALUE/);
    // Both entries in one write (a paste, or typed ahead of the second prompt): nothing is lost.
    const pasted = await typeInto(['set', 'tty/pasted'], ['paste-VALUE\rpaste-VALUE']);
    expect([pasted.code, pasted.stdout.includes('stored tty/pasted')], pasted.stdout).toEqual([0, true]);
    expect(pasted.stdout).not.toMatch(/VALUE/);
    expect((await runBin(['list', 'tty/**'], session.env)).stdout).toBe('tty/pasted\ntty/token\n');
  });
});

describe.skipIf(unavailable !== undefined)('where the Secret Service cannot be used', () => {
  it('no D-Bus session bus: the commands and a launched plugin say so and how to fix it', async () => {
    using tmp = tempDir();
    const env = { HOME: tmp.dir }; // no DBUS_SESSION_BUS_ADDRESS, no XDG_RUNTIME_DIR
    const list = await runBin(['list'], env);
    expect(list.code).toBe(1);
    expect(list.stderr).toContain(
      'no D-Bus session bus, so no Secret Service (GNOME Keyring, KWallet) to keep secrets in: $DBUS_SESSION_BUS_ADDRESS is not set and $XDG_RUNTIME_DIR is not set',
    );
    expect(list.stderr).toContain('--plugin-env DBUS_SESSION_BUS_ADDRESS=');
    const set = await runBin(['set', 'x'], { ...env, XDG_RUNTIME_DIR: tmp.path('nothing') }, 'v');
    expect(set.code).toBe(1);
    expect(set.stderr).toContain(`${tmp.path('nothing', 'bus')} does not exist`);

    const plugins = pluginsFolder(tmp, 'keychain');
    await using run = await startEngine(tmp, {
      pluginsDir: plugins,
      pluginEnv: { XDG_RUNTIME_DIR: tmp.path('nothing') },
    });
    const err = await failure(run.client.getSecret('app/x'));
    expect(err).toBeInstanceOf(ProviderFailedError);
    expect((err as ProviderFailedError).failures).toEqual([
      { plugin: 'keychain', code: 'unavailable', message: expect.stringContaining('no D-Bus session bus') },
    ]);
  });

  it('a bus without a Secret Service, and a keyring daemon with no keyring: each says so', async () => {
    {
      await using bare = await startKeyringSession({ keyring: false });
      const list = await runBin(['list'], bare.env);
      expect([list.code, list.stderr]).toEqual([
        1,
        expect.stringContaining(
          'no program provides the Secret Service (org.freedesktop.secrets) on the session bus: install and start GNOME Keyring or KWallet',
        ),
      ]);
      const set = await runBin(['set', 'x'], bare.env, 'v');
      expect([set.code, set.stderr]).toEqual([
        1,
        expect.stringContaining('no program provides the Secret Service'),
      ]);
    }
    {
      // A fresh home and no --unlock: no "login" keyring, and no prompt to create one.
      await using empty = await startKeyringSession({ unlock: false });
      const set = await runBin(['set', 'x'], empty.env, 'v');
      expect([set.code, set.stderr]).toEqual([
        1,
        expect.stringContaining('the Secret Service has no default keyring to store new items in'),
      ]);
      // Nothing is stored anywhere: "not found" is the truth here.
      expect(await runBin(['list'], empty.env)).toMatchObject({ code: 0, stdout: '' });
    }
  });

  it('a keyring daemon started locked: unavailable with the fix, by ID and by pattern, never not found', async () => {
    using tmp = tempDir();
    await using session = await startKeyringSession();
    const env = session.env;
    expect((await runBin(['set', 'app/kept'], env, 'kept-VALUE')).code).toBe(0);
    // Restarted without --unlock: the login keyring exists and stays locked (no prompt here).
    await session.stopKeyring();
    await session.startKeyring(false);
    const list = await runBin(['list'], env);
    expect(list.code).toBe(1);
    expect(list.stderr).toContain('the keyring is locked and no unlock prompt could be shown: unlock it');
    const set = await runBin(['set', 'app/new'], env, 'v');
    expect([set.code, set.stderr]).toEqual([1, expect.stringContaining('the keyring is locked')]);

    const plugins = pluginsFolder(tmp, 'keychain');
    await using run = await startEngine(tmp, { pluginsDir: plugins, pluginEnv: session.env });
    for (const pattern of ['app/kept', 'app/**']) {
      const err = await failure(run.client.getSecrets(pattern));
      expect(err).toBeInstanceOf(ProviderFailedError);
      expect((err as ProviderFailedError).failures).toEqual([
        {
          plugin: 'keychain',
          code: 'unavailable',
          message: expect.stringContaining('the keyring is locked'),
        },
      ]);
    }
    expect(run.everything()).not.toContain('kept-VALUE');
  });
});

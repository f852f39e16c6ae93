// The default socket cannot be taken by another uid (issue 12 item 5a). With XDG_RUNTIME_DIR
// unset, the socket used to fall back to a shared `/tmp/secrets-engine/`, trusted whoever owned
// it: another uid pre-created it, put its own socket there, captured a plugin started by hand and
// read its secret. Now the fallback is `${TMPDIR}/secrets-engine-<uid>/`, and serve, every client
// command and the plugin SDK check its owner, mode and kind before listening or dialling. A real
// second user plays the attacker: it pre-creates the folder, or swaps in a symbolic link, with a
// trap socket listening there; nothing of ours may ever connect to it.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE, runCli, startCli, useCli } from './__tests__/cli.js';

useCli();

const isRoot = process.getuid?.() === 0;
const me = process.getuid?.() ?? 0;

// The attacker's trap: makes `folder` (a folder, or a symbolic link to a folder of its own), a
// socket in it open to all, and prints one line per connection it gets.
const TRAP = `
const net = require('node:net');
const fs = require('node:fs');
const [folder, mode, own] = process.argv.slice(2);
if (mode === 'symlink') { fs.mkdirSync(own, { mode: 0o777 }); fs.symlinkSync(own, folder); }
else fs.mkdirSync(folder, { mode: 0o777 });
fs.chmodSync(mode === 'symlink' ? own : folder, 0o777);
const socketPath = folder + '/engine.sock';
const server = net.createServer((s) => { console.log('connection'); s.destroy(); });
server.listen(socketPath, () => { fs.chmodSync(socketPath, 0o777); console.log('ready'); });
process.stdin.resume();
process.stdin.once('end', () => server.close(() => process.exit(0)));
`;

describe.skipIf(!isRoot)('a socket folder set up by another uid (a real second user)', () => {
  const USER = `se-trap-${process.pid}`;
  let uid = -1;
  let gid = -1;
  let scratch = '';
  beforeAll(() => {
    execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', USER]);
    uid = Number(execFileSync('id', ['-u', USER], { encoding: 'utf8' }).trim());
    gid = Number(execFileSync('id', ['-g', USER], { encoding: 'utf8' }).trim());
    scratch = mkdtempSync('/tmp/se-trap-');
    chmodSync(scratch, 0o755);
    writeFileSync(join(scratch, 'trap.cjs'), TRAP, { mode: 0o644 });
  });
  afterAll(() => {
    rmSync(scratch, { recursive: true, force: true });
    try {
      execFileSync('userdel', [USER]);
    } catch {
      // already gone
    }
  });

  /** A shared temporary folder like /tmp (root, 1777): our TMPDIR, where the attacker plays. */
  function sharedTmp(name: string): string {
    const tmp = join(scratch, name);
    execFileSync('mkdir', ['-m', '1777', tmp]);
    return tmp;
  }

  /** Starts the trap as the other user; resolves once it listens. */
  async function trap(folder: string, mode: 'folder' | 'symlink', own = '') {
    const child = spawn(process.execPath, [join(scratch, 'trap.cjs'), folder, mode, own], {
      uid,
      gid,
      cwd: scratch,
      env: { PATH: '/usr/bin:/bin' },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', () => out.includes('ready') && resolve());
      child.once('exit', (code) => reject(new Error(`the trap exited ${code}: ${out}`)));
    });
    return {
      async connections(): Promise<number> {
        child.stdin.end();
        await new Promise((resolve) => child.once('close', resolve));
        return out.split('\n').filter((l) => l === 'connection').length;
      },
    };
  }

  /** The environment of a user without XDG_RUNTIME_DIR: the default socket is under TMPDIR. */
  const defaults = (tmp: string) => ({
    TMPDIR: tmp,
    XDG_RUNTIME_DIR: undefined,
    SECRETS_ENGINE_SOCKET: undefined,
  });

  /** The SDK fixture plugin started by hand on the default socket; resolves with its exit. */
  function handStartedPlugin(tmp: string): Promise<{ code: number | null; stderr: string }> {
    const env: Record<string, string> = { PATH: process.env.PATH ?? '', TMPDIR: tmp, FIXTURE_NAME: 'byhand' };
    const child = spawn(process.execPath, [FIXTURE], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    return new Promise((resolve) =>
      child.once('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stderr });
      }),
    );
  }

  for (const mode of ['folder', 'symlink'] as const) {
    it(`${mode === 'folder' ? 'a pre-created folder' : 'a symbolic link swapped in'}: serve, get, run and a hand-started plugin refuse it and never connect`, async () => {
      const tmp = sharedTmp(mode);
      const folder = join(tmp, `secrets-engine-${me}`);
      const own = join(tmp, 'mallory');
      const t = await trap(folder, mode, own);
      const socket = join(folder, 'engine.sock');
      const reason = mode === 'folder' ? `is owned by uid ${uid}` : `is a symbolic link to ${own}`;
      const rule =
        "the socket's folder must be a folder (not a symbolic link) owned by root and writable by no one else (mode 0700)";

      const served = await runCli(['serve', '--no-launch'], { env: defaults(tmp) });
      expect(served.code).toBe(1);
      expect(served.stderr).toBe(
        `secrets-engine: refusing the engine socket ${socket}: ${folder} ${reason}; ${rule}\n`,
      );

      const got = await runCli(['get', 'fixture/api-key'], { env: defaults(tmp) });
      expect(got.code).toBe(3);
      expect(got.stderr).toBe(
        `secrets-engine: secrets engine is not available at ${socket}: refusing to connect: ${folder} ${reason}; ${rule}\n`,
      );

      const ran = await runCli(['run', '--', process.execPath, '-e', '0'], {
        env: { ...defaults(tmp), TOKEN: 'se://fixture/api-key' },
      });
      expect(ran.code).toBe(1);
      expect(ran.stderr).toContain('TOKEN="se://fixture/api-key" (engine not available)');
      expect(ran.stderr).toContain(`refusing to connect: ${folder} ${reason}`);

      const plugin = await handStartedPlugin(tmp);
      expect(plugin.code).not.toBe(0);
      expect(plugin.stderr).toContain(`DialError: refusing the engine socket ${socket}: ${folder} ${reason}`);

      expect(await t.connections()).toBe(0);
    });
  }

  it('with nothing planted, serve makes its own 0700 folder there and the others find it', async () => {
    const tmp = sharedTmp('clean');
    const folder = join(tmp, `secrets-engine-${me}`);
    const engine = startCli(['serve', '--no-launch'], { env: defaults(tmp) });
    await engine.waitFor(/^secrets-engine ready on .*$/m);
    expect(statSync(folder).mode & 0o7777).toBe(0o700);
    expect(existsSync(join(folder, 'engine.sock.lock'))).toBe(true);
    const ls = await runCli(['plugins'], { env: defaults(tmp) });
    expect(ls.code).toBe(0);
    engine.child.kill('SIGTERM');
    expect((await engine.exited).code).toBe(0);
    expect(existsSync(join(folder, 'engine.sock'))).toBe(false);
    expect(existsSync(join(folder, 'engine.sock.lock'))).toBe(false);
  });
});

describe.skipIf(isRoot)('a socket folder set up by another uid', () => {
  it('needs root to create a second user', (ctx) => {
    console.warn(
      'socket-takeover.test.ts: NOT ROOT, the attacks by a second uid did not run (CI runs them as root)',
    );
    ctx.skip('creating a second user needs root; the socket takeover tests did not run');
  });
});

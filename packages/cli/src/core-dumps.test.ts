// No core dump of serve or run holds a secret (issue 12 item 8: a crashed engine's core held 23
// copies of one). Seen from outside, on the real processes: /proc/<pid>/limits ("Max core file
// size" 0), and non-dumpable, which makes the kernel give /proc/<pid>/status to root (visible
// when the process is not root itself: serve then runs as a real second user).
import { execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, PACKAGE_DIR, recordedPids, serve, startCli, tempDir, useCli } from './__tests__/cli.js';

useCli();

const isRoot = process.getuid?.() === 0;

function coreLimits(pid: number): { soft: string; hard: string } {
  const line = readFileSync(`/proc/${pid}/limits`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max core file size'));
  const [soft, hard] = line!.replace('Max core file size', '').trim().split(/\s+/);
  return { soft: soft!, hard: hard! };
}

describe.skipIf(process.platform !== 'linux')('core dumps', () => {
  it('serve: core limit 0, soft and hard, for the engine and the plugins it launches', async () => {
    const engine = await serve();
    expect(coreLimits(engine.proc.pid)).toEqual({ soft: '0', hard: '0' });
    const [plugin] = recordedPids(engine.pidDir);
    expect(coreLimits(plugin!)).toEqual({ soft: '0', hard: '0' });
    expect((await engine.stop()).code).toBe(0);
  });

  it('run: core limit 0 while the command runs; the command inherits the soft limit only', async () => {
    const engine = await serve();
    const dir = tempDir();
    const hard = coreLimits(process.pid).hard;
    // The command prints its own limits, then waits for a file named stop.
    const run = startCli(
      [
        'run',
        '--socket',
        engine.socket,
        '--',
        process.execPath,
        '-e',
        `const fs=require('node:fs');console.log(fs.readFileSync('/proc/self/limits','utf8').split('\\n').find((l)=>l.startsWith('Max core')));setInterval(()=>fs.existsSync('stop')&&process.exit(0),20)`,
      ],
      { env: { TOKEN: 'se://fixture/api-key' }, cwd: dir },
    );
    const [line] = await run.waitFor(/^Max core file size.*$/m);
    expect(coreLimits(run.pid)).toEqual({ soft: '0', hard });
    expect(line!.replace('Max core file size', '').trim().split(/\s+/).slice(0, 2)).toEqual(['0', hard]);
    writeFileSync(join(dir, 'stop'), '');
    expect((await run.exited).code).toBe(0);
    expect((await engine.stop()).code).toBe(0);
  });
});

describe.skipIf(process.platform !== 'linux' || !isRoot)('serve as a real second user', () => {
  const USER = `se-dump-${process.pid}`;
  let uid = -1;
  let gid = -1;
  let scratch = '';
  beforeAll(() => {
    execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', USER]);
    uid = Number(execFileSync('id', ['-u', USER], { encoding: 'utf8' }).trim());
    gid = Number(execFileSync('id', ['-g', USER], { encoding: 'utf8' }).trim());
    scratch = mkdtempSync('/tmp/se-dump-');
    chmodSync(scratch, 0o755);
  });
  afterAll(() => {
    rmSync(scratch, { recursive: true, force: true });
    try {
      execFileSync('userdel', [USER]);
    } catch {
      // already gone
    }
  });

  it('is non-dumpable: /proc/<pid>/status belongs to root, not to its uid', async () => {
    const dir = join(scratch, 'home');
    mkdirSync(dir, { mode: 0o700 });
    chownSync(dir, uid, gid);
    const child = spawn(
      process.execPath,
      [BIN, 'serve', '--socket', join(dir, 'engine.sock'), '--no-launch'],
      {
        uid,
        gid,
        cwd: PACKAGE_DIR,
        env: { PATH: '/usr/bin:/bin' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d));
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', () => out.includes('ready on') && resolve());
      void exited.then((code) => reject(new Error(`serve exited ${code}: ${err}`)));
    });
    expect(statSync(`/proc/${child.pid}`).uid).toBe(uid);
    expect(statSync(`/proc/${child.pid}/status`).uid).toBe(0);
    expect(coreLimits(child.pid!)).toEqual({ soft: '0', hard: '0' });
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(err).not.toContain('core dumps not disabled');
  });
});

describe.skipIf(isRoot)('serve as a real second user', () => {
  it('needs root to create a second user', (ctx) => {
    console.warn(
      'core-dumps.test.ts: NOT ROOT, the non-dumpable check of serve did not run (CI runs it as root)',
    );
    ctx.skip('creating a second user needs root; the non-dumpable check did not run');
  });
});

// No secret in a core dump (issue 12 item 8): RLIMIT_CORE 0 and, on Linux, non-dumpable, seen
// from outside the process: its /proc/<pid>/limits, and the owner of /proc/<pid>/status, which the
// kernel makes root for a non-dumpable process (visible when the process is not root itself, so
// that part runs as a real second user).
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
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { tempDir } from './__tests__/helpers.js';

const RUNTIME = new URL('../dist/index.js', import.meta.url).href;
const isRoot = process.getuid?.() === 0;

/** The soft and hard core limits of `pid` ("unlimited" or a number of bytes). */
function coreLimits(pid: number): { soft: string; hard: string } {
  const line = readFileSync(`/proc/${pid}/limits`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max core file size'));
  const [soft, hard] = line!.replace('Max core file size', '').trim().split(/\s+/);
  return { soft: soft!, hard: hard! };
}

// Runs `body` (ESM, with `runtime` imported), prints one JSON line, then waits for stdin to close.
const HOLDER = (body: string) => `
const runtime = await import(process.env.RUNTIME_URL);
const out = await (async () => { ${body} })();
console.log(JSON.stringify(out ?? {}));
process.stdin.resume();
process.stdin.once('end', () => process.exit(0));
`;

interface Held {
  pid: number;
  out: Record<string, unknown>;
}

async function hold(dir: string, body: string, as?: { uid: number; gid: number }): Promise<Held> {
  const script = join(dir, `holder-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(script, HOLDER(body), { mode: 0o644 });
  const child = spawn(process.execPath, [script], {
    ...(as === undefined ? {} : { uid: as.uid, gid: as.gid }),
    cwd: dir,
    env: { PATH: '/usr/bin:/bin', RUNTIME_URL: RUNTIME },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  onTestFinished(() => {
    child.stdin.end();
    child.kill('SIGKILL');
  });
  const line = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d: Buffer) => {
      buf += d;
      if (buf.includes('\n')) resolve(buf.slice(0, buf.indexOf('\n')));
    });
    child.once('exit', (code) => reject(new Error(`holder exited ${code}: ${buf}`)));
  });
  return { pid: child.pid!, out: JSON.parse(line) as Record<string, unknown> };
}

describe.skipIf(process.platform !== 'linux')('disableCoreDumps', () => {
  it('sets the soft core limit to 0 and leaves the hard one; hardLimit sets both; reports what it did', async () => {
    const dir = tempDir();
    const before = coreLimits(process.pid);
    const soft = await hold(dir, 'return runtime.disableCoreDumps();');
    expect(soft.out).toEqual({ coreLimitZero: true, nonDumpable: true, problems: [] });
    expect(coreLimits(soft.pid)).toEqual({ soft: '0', hard: before.hard });
    const hard = await hold(dir, 'return runtime.disableCoreDumps({ hardLimit: true });');
    expect(coreLimits(hard.pid)).toEqual({ soft: '0', hard: '0' });
    const kept = await hold(dir, 'return runtime.disableCoreDumps({ keepDumpable: true });');
    expect(kept.out).toEqual({ coreLimitZero: true, problems: [] });
  });
});

describe.skipIf(process.platform !== 'linux' || !isRoot)('an engine process of a real second user', () => {
  const USER = `se-core-${process.pid}`;
  let uid = -1;
  let gid = -1;
  let scratch = '';
  beforeAll(() => {
    execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', USER]);
    uid = Number(execFileSync('id', ['-u', USER], { encoding: 'utf8' }).trim());
    gid = Number(execFileSync('id', ['-g', USER], { encoding: 'utf8' }).trim());
    scratch = mkdtempSync('/tmp/se-core-');
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

  const engineBody = (options: string) => `
    const engine = runtime.createEngine({ socketPath: process.cwd() + '/engine.sock', ${options} });
    await engine.start();
    return { listening: true };`;

  it('is non-dumpable (/proc/<pid>/status is root-owned) with a core limit of 0 once start() ran', async () => {
    const dir = join(scratch, 'a');
    mkdirSync(dir, { mode: 0o700 });
    chownSync(dir, uid, gid);
    const before = coreLimits(process.pid);
    const held = await hold(dir, engineBody(''), { uid, gid });
    expect(held.out).toEqual({ listening: true });
    expect(statSync(`/proc/${held.pid}/status`).uid).toBe(0);
    expect(coreLimits(held.pid)).toEqual({ soft: '0', hard: before.hard });
  });

  it('allowCoreDumps: true leaves the process as it was', async () => {
    const dir = join(scratch, 'b');
    mkdirSync(dir, { mode: 0o700 });
    chownSync(dir, uid, gid);
    const before = coreLimits(process.pid);
    const held = await hold(dir, engineBody('allowCoreDumps: true'), { uid, gid });
    expect(statSync(`/proc/${held.pid}/status`).uid).toBe(uid);
    expect(coreLimits(held.pid)).toEqual(before);
  });
});

describe.skipIf(isRoot)('an engine process of a real second user', () => {
  it('needs root to create a second user', (ctx) => {
    console.warn(
      'core-dumps.test.ts: NOT ROOT, the non-dumpable check as a second uid did not run (CI runs it as root)',
    );
    ctx.skip('creating a second user needs root; the non-dumpable check did not run');
  });
});

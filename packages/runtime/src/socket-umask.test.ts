// The engine socket is never reachable by another uid, at any instant (issue 12 item 5b): the
// socket used to be chmod-ed 0600 only after listen(), and under umask 000 another uid connected
// in that window on 10 of 10 starts. Here a real second user connects in a tight loop while an
// engine process running under umask 000 starts and stops again and again, in a folder that user
// may enter (0755): it must never connect, and never see the socket with a group or other bit.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const isRoot = process.getuid?.() === 0;
const USER = `se-umask-${process.pid}`;
const RUNTIME = new URL('../dist/index.js', import.meta.url).href;
const STARTS = 40;

// The other user's program: while the engine is starting (the `go` file exists) it connects in a
// tight loop, four attempts in flight; between starts it only looks for `go` every millisecond (so
// it does not take a core from the other tests). It notes every socket mode it sees and touches
// `seen` each time the kernel refuses it (EACCES); it stops when the `stop` file appears.
const RACER = `
const net = require('node:net');
const fs = require('node:fs');
const [socketPath, dir] = process.argv.slice(2);
const goFile = dir + '/go', seenFile = dir + '/seen', stopFile = dir + '/stop';
let connected = 0, refused = 0, attempts = 0, running = 0;
const modes = new Set();
function attempt() {
  if (!fs.existsSync(goFile)) { running--; return; }
  try { modes.add((fs.lstatSync(socketPath).mode & 0o7777).toString(8)); } catch {}
  attempts++;
  const s = net.connect(socketPath);
  s.once('connect', () => { connected++; s.destroy(); setImmediate(attempt); });
  s.once('error', (e) => {
    if (e.code === 'EACCES') { refused++; try { fs.writeFileSync(seenFile, ''); } catch {} }
    setImmediate(attempt);
  });
}
(function idle() {
  if (fs.existsSync(stopFile)) {
    console.log(JSON.stringify({ connected, refused, attempts, modes: [...modes] }));
    return;
  }
  if (running === 0 && fs.existsSync(goFile)) for (; running < 4; running++) attempt();
  setTimeout(idle, 1);
})();
`;

// The engine process, as root under umask 000: STARTS start/close cycles. Each start is raced:
// it raises the go file, starts, waits a little until the racer has
// met that socket, then removes the go file and closes.
const ENGINE = `
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
process.umask(0);
const { createEngine } = await import(process.env.RUNTIME_URL);
const [socketPath, dir, starts] = process.argv.slice(2);
const goFile = dir + '/go', seenFile = dir + '/seen';
for (let i = 0; i < Number(starts); i++) {
  rmSync(seenFile, { force: true });
  const engine = createEngine({ socketPath, allowCoreDumps: true });
  writeFileSync(goFile, '');
  await sleep(2);
  await engine.start();
  for (let w = 0; w < 200 && !existsSync(seenFile); w++) await sleep(5);
  rmSync(goFile, { force: true });
  await engine.close();
}
console.log(JSON.stringify({ done: true, umask: process.umask() }));
`;

describe.skipIf(!isRoot)('the socket under umask 000, raced by another uid (a real second user)', () => {
  let uid = -1;
  let gid = -1;
  let scratch = '';
  beforeAll(() => {
    execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', USER]);
    uid = Number(execFileSync('id', ['-u', USER], { encoding: 'utf8' }).trim());
    gid = Number(execFileSync('id', ['-g', USER], { encoding: 'utf8' }).trim());
    scratch = mkdtempSync('/tmp/se-umask-');
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

  it(`never connects, and never sees the socket other than 0600, across ${STARTS} starts`, async () => {
    // A folder the other user may enter (an explicit --socket in a 0755 folder): only the
    // socket's own mode keeps them out.
    const pub = join(scratch, 'pub');
    mkdirSync(pub, { mode: 0o755 });
    chmodSync(pub, 0o755);
    const socketPath = join(pub, 'engine.sock');
    const mine = join(scratch, 'racer');
    mkdirSync(mine);
    chownSync(mine, uid, gid);
    writeFileSync(join(scratch, 'racer.cjs'), RACER, { mode: 0o644 });
    writeFileSync(join(scratch, 'engine.mjs'), ENGINE, { mode: 0o644 });
    const stopFile = join(mine, 'stop');

    const racer = spawn(process.execPath, [join(scratch, 'racer.cjs'), socketPath, mine], {
      uid,
      gid,
      cwd: scratch,
      env: { PATH: '/usr/bin:/bin' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let racerOut = '';
    racer.stdout.on('data', (d: Buffer) => (racerOut += d));
    const racerDone = new Promise<void>((resolve) => racer.once('close', () => resolve()));

    const engine = spawn(process.execPath, [join(scratch, 'engine.mjs'), socketPath, mine, String(STARTS)], {
      env: { PATH: process.env.PATH, RUNTIME_URL: RUNTIME },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let engineOut = '';
    engine.stdout.on('data', (d: Buffer) => (engineOut += d));
    const engineCode = await new Promise<number | null>((resolve) => engine.once('close', (c) => resolve(c)));
    writeFileSync(stopFile, '');
    chownSync(stopFile, uid, gid);
    await racerDone;

    expect(engineCode).toBe(0);
    // The engine's own umask is back to what it was (000) after every listen.
    expect(JSON.parse(engineOut.trim())).toEqual({ done: true, umask: 0 });
    const result = JSON.parse(racerOut.trim()) as {
      connected: number;
      refused: number;
      attempts: number;
      modes: string[];
    };
    expect(result.connected).toBe(0);
    expect(result.modes.filter((m) => m !== '600')).toEqual([]);
    // It did meet the socket (the kernel refused it), so the starts were raced.
    expect(result.refused).toBeGreaterThan(0);
  }, 120_000);
});

describe.skipIf(isRoot)('the socket under umask 000, raced by another uid', () => {
  it('needs root to create a second user', (ctx) => {
    console.warn(
      'socket-umask.test.ts: NOT ROOT, the umask race with a second uid did not run (CI runs it as root)',
    );
    ctx.skip('creating a second user needs root; the umask race test did not run');
  });
});

// Exactly one of N engines started at once serves (issue 12 item 5d): real processes, released
// together, on a socket path where a SIGKILLed engine left its socket file (stale) and its lock
// file behind. Before the lock, two of them reported ready and the second unlinked the first's
// socket; now one holds `<socket>.lock` and every other fails with EngineAlreadyRunningError.
import { type ChildProcess, spawn } from 'node:child_process';
import { lstatSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { tempDir } from './__tests__/helpers.js';

const RUNTIME = new URL('../dist/index.js', import.meta.url).href;

// One engine process: imports the runtime, waits for "go" on stdin, starts, reports one JSON line.
const ENGINE = `
import { lstatSync } from 'node:fs';
const { createEngine } = await import(process.env.RUNTIME_URL);
const socketPath = process.env.SOCKET;
const engine = createEngine({ socketPath });
process.stdin.once('data', async () => {
  try {
    await engine.start();
    console.log(JSON.stringify({ ready: true, pid: process.pid, ino: lstatSync(socketPath).ino }));
    process.once('SIGTERM', () => engine.close().then(() => process.exit(0)));
  } catch (err) {
    console.log(JSON.stringify({ ready: false, name: err.name, message: err.message }));
    await engine.close();
    process.exit(1);
  }
});
console.log(JSON.stringify({ loaded: true }));
`;

interface Line {
  loaded?: boolean;
  ready?: boolean;
  pid?: number;
  ino?: number;
  name?: string;
  message?: string;
}

interface EngineProcess {
  child: ChildProcess;
  /** Resolves with the first JSON line that matches. */
  line(test: (l: Line) => boolean): Promise<Line>;
  exited: Promise<number | null>;
}

function engineProcess(script: string, socketPath: string): EngineProcess {
  const child = spawn(process.execPath, [script], {
    env: { PATH: process.env.PATH, RUNTIME_URL: RUNTIME, SOCKET: socketPath },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const lines: Line[] = [];
  const waiters: { test: (l: Line) => boolean; resolve: (l: Line) => void }[] = [];
  let buffer = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    for (let nl = buffer.indexOf('\n'); nl !== -1; nl = buffer.indexOf('\n')) {
      const line = JSON.parse(buffer.slice(0, nl)) as Line;
      buffer = buffer.slice(nl + 1);
      lines.push(line);
      for (const w of [...waiters]) {
        if (w.test(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    exited,
    line: (test) =>
      new Promise<Line>((resolve, reject) => {
        const seen = lines.find(test);
        if (seen !== undefined) {
          resolve(seen);
          return;
        }
        waiters.push({ test, resolve });
        void exited.then((code) => reject(new Error(`engine process exited ${code} first`)));
      }),
  };
}

function health(socketPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path: '/health', agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('N engines started at once on a stale socket', () => {
  it('exactly one serves; every other fails with EngineAlreadyRunningError naming the socket and the lock; the winner keeps its socket', async () => {
    const dir = tempDir();
    const script = join(dir, 'engine.mjs');
    writeFileSync(script, ENGINE);
    const socketPath = join(dir, 'engine.sock');
    const lockPath = `${socketPath}.lock`;
    // A stale socket file and an unheld lock file: what a SIGKILLed engine leaves.
    const crashed = engineProcess(script, socketPath);
    await crashed.line((l) => l.loaded === true);
    crashed.child.stdin!.write('go\n');
    await crashed.line((l) => l.ready === true);
    crashed.child.kill('SIGKILL');
    await crashed.exited;
    expect(lstatSync(socketPath).isSocket()).toBe(true);
    expect(lstatSync(lockPath).isFile()).toBe(true);

    const engines = Array.from({ length: 6 }, () => engineProcess(script, socketPath));
    await Promise.all(engines.map((e) => e.line((l) => l.loaded === true)));
    for (const e of engines) e.child.stdin!.write('go\n');
    const results = await Promise.all(engines.map((e) => e.line((l) => l.ready !== undefined)));

    const winners = results.filter((r) => r.ready === true);
    expect(winners).toHaveLength(1);
    const losers = results.filter((r) => r.ready === false);
    expect(losers).toHaveLength(engines.length - 1);
    for (const loser of losers) {
      expect(loser.name).toBe('EngineAlreadyRunningError');
      expect(loser.message).toBe(
        `another secrets engine is already running on ${socketPath}: it holds the lock ${lockPath}`,
      );
    }
    const codes = await Promise.all(
      engines.filter((_, i) => results[i]!.ready === false).map((e) => e.exited),
    );
    expect(codes.every((c) => c === 1)).toBe(true);
    // Every loser is gone: the winner's socket is the one it reported, and it answers.
    expect(lstatSync(socketPath).ino).toBe(winners[0]!.ino);
    expect(await health(socketPath)).toBe('ok');

    const winner = engines[results.findIndex((r) => r.ready === true)]!;
    winner.child.kill('SIGTERM');
    expect(await winner.exited).toBe(0);
    expect(() => lstatSync(socketPath)).toThrow(/ENOENT/);
    expect(() => lstatSync(lockPath)).toThrow(/ENOENT/);
  }, 60_000);
});

// The end-to-end section of `pnpm bench` (README "End to end"): client → engine socket → engine →
// plugin and back, OUR engine with OUR TS plugin against the Go peer (tests/interop-go-peer's
// bench-engine with the go-stack plugin: hashicorp/yamux v0.1.2 + net/http + connect-go, Docker's
// stack), and Docker's own engine with a Docker-SDK plugin when SECRETS_ENGINE_DOCKER_SNAPSHOT names
// a local snapshot (e2e-docker.ts). One Go load driver (bench-load) drives every setup; setups
// alternate within each case and the case order rotates from round to round; ratios are per round.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, closeSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDockerSetup, type DockerBuild } from './e2e-docker.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = join(HERE, '..', '..', '..');
const GO_PEER_DIR = join(REPO, 'tests', 'interop-go-peer', 'go');
const GOSTACK_DIR = join(REPO, 'tests', 'interop', 'go', 'gostack');
const CLI_BIN = join(REPO, 'packages', 'cli', 'bundle', 'bin.js');
const PLUGIN_JS = join(HERE, 'e2e-plugin.js');
const SNAPSHOT_ENV = 'SECRETS_ENGINE_DOCKER_SNAPSHOT';
const START_TIMEOUT_MS = 60_000;
const LOAD_TIMEOUT_MS = 180_000;
const DEADLINE_MS = 1_000;
const TICK_US = 10_000; // /proc/<pid>/stat counts CPU in clock ticks of 10 ms (CLK_TCK 100 on Linux)

/** A failure of the end-to-end section: what was being done and what the process said. */
export class E2eError extends Error {
  override name = 'E2eError';
}

export type SetupName = 'ours' | 'go' | 'docker';
const SETUP_LABEL: Record<SetupName, string> = {
  ours: 'ours (secrets-engine serve + TS SDK plugin)',
  go: 'Go peer (bench-engine + go-stack plugin)',
  docker: "Docker's engine fa7ff078 + Docker SDK plugin",
};

interface E2eCase {
  name: string;
  label: string;
  plugins: 1 | 20;
  concurrency: number;
  count: number;
  warmup: number;
  pattern: string;
}

const FULL_CASES: E2eCase[] = [
  {
    name: '1p-c1',
    label: '1 plugin, one call at a time',
    plugins: 1,
    concurrency: 1,
    count: 2000,
    warmup: 200,
    pattern: 'bench/p00/key',
  },
  {
    name: '1p-c64',
    label: '1 plugin, 64 in flight',
    plugins: 1,
    concurrency: 64,
    count: 4000,
    warmup: 640,
    pattern: 'bench/p00/key',
  },
  {
    name: '20p-c1',
    label: '20 overlapping plugins, one call at a time',
    plugins: 20,
    concurrency: 1,
    count: 500,
    warmup: 50,
    pattern: 'bench/p07/key',
  },
  {
    name: '20p-c8',
    label: '20 overlapping plugins, 8 in flight',
    plugins: 20,
    concurrency: 8,
    count: 2000,
    warmup: 200,
    pattern: 'bench/p07/key',
  },
];
const QUICK_COUNTS: Record<string, [number, number]> = {
  '1p-c1': [40, 10],
  '1p-c64': [128, 64],
  '20p-c1': [20, 5],
  '20p-c8': [32, 16],
};

export interface E2eOptions {
  quick: boolean;
  rounds: number;
  /** A private temp folder, removed by the caller. */
  dir: string;
  log: (line: string) => void;
}

interface LoadResult {
  count: number;
  concurrency: number;
  errors: number;
  firstError: string;
  overDeadline: number;
  wallMs: number;
  callsPerSec: number;
  p50Us: number;
  p90Us: number;
  p99Us: number;
  maxUs: number;
}

type Metrics = Record<string, number>;

interface EngineProc {
  setup: SetupName;
  plugins: number;
  child: ChildProcess;
  pid: number;
  socket: string;
  pluginPids: number[];
  exited: Promise<void>;
}

// --- /proc ---

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]); // utime, stime (fields 14 and 15)
}

function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new E2eError(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]);
}

function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    const raw = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
    if (raw !== '') out.push(...raw.split(' ').map(Number));
  }
  return out;
}

// --- helpers ---

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n === 0 ? Number.NaN : n % 2 === 1 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
};
const spread = (xs: number[]) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs) });
const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function findGo(): string {
  for (const candidate of [process.env.GO, 'go', '/usr/local/go/bin/go'].filter(Boolean) as string[]) {
    if (spawnSync(candidate, ['version'], { encoding: 'utf8' }).status === 0) return candidate;
  }
  throw new E2eError(
    'the end-to-end section needs a Go toolchain ≥ 1.25 (tried $GO, go on PATH, /usr/local/go/bin/go) and the Go module ' +
      'proxy or a warm module cache, to build the Go peer and the load driver; install Go or set $GO',
  );
}

function goBuild(go: string, cwd: string, args: string[]): void {
  const res = spawnSync(go, ['build', ...args], {
    cwd,
    env: { ...process.env, GOFLAGS: '-mod=mod', GOTOOLCHAIN: 'local' },
    encoding: 'utf8',
    timeout: 10 * 60_000,
  });
  if (res.status !== 0) {
    throw new E2eError(
      `go build ${args.join(' ')} failed in ${cwd} (exit ${res.status ?? res.signal}):\n${res.stderr}`,
    );
  }
}

function writeScript(path: string, body: string): void {
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
}

const sq = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

/** A plugins folder of n plugins p00…, each a sh wrapper that execs the plugin program. */
function pluginsDir(dir: string, name: string, n: number, program: (plugin: string) => string): string {
  const d = join(dir, name);
  mkdirSync(d, { recursive: true, mode: 0o700 });
  for (let i = 0; i < n; i++) {
    const p = `p${String(i).padStart(2, '0')}`;
    writeScript(join(d, p), program(p));
  }
  return d;
}

/** Resolves with the first stdout line that `accept` takes; rejects on exit or timeout. */
function readyLine(
  child: ChildProcess,
  what: string,
  accept: (line: string) => boolean,
  logPath: string,
): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(
      () => done(new E2eError(`${what}: not ready after ${START_TIMEOUT_MS} ms (log: ${logPath})`)),
      START_TIMEOUT_MS,
    );
    const onData = (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      for (let nl = buf.indexOf('\n'); nl !== -1; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (accept(line)) return done(undefined, line);
      }
    };
    const onExit = (code: number | null, signal: string | null) =>
      done(
        new E2eError(
          `${what} exited (${code ?? signal}) before it was ready; its log: ${logPath}\n${tail(logPath)}`,
        ),
      );
    const done = (err?: Error, line?: string) => {
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(line!);
    };
    child.stdout!.on('data', onData);
    child.once('exit', onExit);
  });
}

function tail(path: string): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '';
  }
}

// --- the run ---

export interface E2eReport {
  params: { cases: E2eCase[]; rounds: number; quick: boolean; deadlineMs: number };
  setups: Record<string, string>;
  docker: { used: boolean; reason?: string; trees?: string };
  perRound: { round: number; order: string[]; results: Record<string, Record<string, Metrics>> }[];
  summary: Record<string, Record<string, Record<string, { median: number; min: number; max: number }>>>;
  coldStart: Record<string, { median: number; min: number; max: number; values: number[] }>;
  cli: Record<string, { median: number; min: number; max: number; values: number[] }>;
  goals: Goal[];
  problems: string[];
  /** The engine's RSS growth per connected plugin, KiB, after start-up and before any load. */
  engineRssPerPluginKiB?: Record<string, number>;
  /** The same after the rounds (rough: includes heap growth under load). */
  engineRssPerPluginAfterLoadKiB?: Record<string, number>;
}

export interface Goal {
  goal: string;
  against: SetupName | 'node';
  value: number;
  min?: number;
  max?: number;
  target: string;
  pass: boolean;
  info?: boolean;
}

export async function runE2e(opts: E2eOptions): Promise<{ report: E2eReport; text: string }> {
  const { dir, log } = opts;
  const procs: EngineProc[] = [];
  const problems: string[] = [];
  try {
    const go = findGo();
    const bin = join(dir, 'bin');
    mkdirSync(bin, { recursive: true });
    log('e2e: building the Go peer, the Go plugin and the load driver');
    goBuild(go, GO_PEER_DIR, ['-o', `${bin}/`, './cmd/bench-engine', './cmd/bench-load']);
    goBuild(go, GOSTACK_DIR, ['-o', join(bin, 'gostack-plugin'), './cmd/plugin']);
    const load = join(bin, 'bench-load');

    let docker: DockerBuild | undefined;
    const dockerInfo: E2eReport['docker'] = { used: false };
    const snapshot = process.env[SNAPSHOT_ENV];
    if (snapshot === undefined || snapshot === '') {
      dockerInfo.reason = `${SNAPSHOT_ENV} not set`;
    } else {
      log(`e2e: building Docker's engine and SDK plugin from ${snapshot}`);
      docker = buildDockerSetup(go, snapshot, join(dir, 'docker'));
      dockerInfo.used = true;
      dockerInfo.trees = docker.what;
    }
    const setups: SetupName[] = docker === undefined ? ['ours', 'go'] : ['ours', 'go', 'docker'];

    const tsProgram = () => `exec ${sq(process.execPath)} ${sq(PLUGIN_JS)}`;
    const goProgram = (p: string) =>
      `export INTEROP_PATTERN='bench/**'\n` +
      `export INTEROP_SECRETS=${sq(JSON.stringify([{ id: `bench/${p}/key`, value: 'aHVudGVyMg==', version: 'v1' }]))}\n` +
      `exec ${sq(join(bin, 'gostack-plugin'))} 2>/dev/null`;
    const dockerProgram = (p: string) =>
      goProgram(p).replace(sq(join(bin, 'gostack-plugin')), sq(docker!.plugin));
    const program: Record<SetupName, (p: string) => string> = {
      ours: tsProgram,
      go: goProgram,
      docker: dockerProgram,
    };

    const startEngine = async (setup: SetupName, n: number, tag = ''): Promise<EngineProc> => {
      const base = join(dir, `${setup}-${n}${tag}`);
      mkdirSync(base, { recursive: true, mode: 0o700 });
      const plugins = pluginsDir(base, 'plugins', n, program[setup]);
      const socket = join(base, 'engine.sock');
      const logPath = join(base, 'engine.log');
      const logFd = openSync(logPath, 'w');
      const what = `${setup} engine with ${n} plugin${n === 1 ? '' : 's'}`;
      let child: ChildProcess;
      let accept: (line: string) => boolean;
      if (setup === 'ours') {
        // Generous: 20 node plugins starting at once on a busy 2-core machine can take more than the
        // default 5 s to register; start-up is measured by the cold-start case, not here.
        child = spawn(
          process.execPath,
          [CLI_BIN, 'serve', '--socket', socket, '--plugins-dir', plugins, '--registration-timeout', '60000'],
          {
            stdio: ['ignore', 'pipe', logFd],
            env: { ...process.env, XDG_CONFIG_HOME: base },
          },
        );
        accept = (l) => l.includes(' ready on ');
      } else {
        const exe = setup === 'go' ? join(bin, 'bench-engine') : docker!.engine;
        child = spawn(exe, ['-socket', socket, '-plugins', plugins], { stdio: ['ignore', 'pipe', logFd] });
        accept = (l) => l.startsWith('{') && JSON.parse(l).ready === true;
      }
      closeSync(logFd);
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      const proc: EngineProc = { setup, plugins: n, child, pid: child.pid!, socket, pluginPids: [], exited };
      procs.push(proc);
      const line = await readyLine(child, what, accept, logPath);
      // Twenty TS plugins starting at once on a loaded 2-core machine can miss the 5 s registration
      // timeout; the engine restarts them (2 s backoff). Wait for every one rather than fail.
      const names = Array.from({ length: n }, (_, i) => `p${String(i).padStart(2, '0')}`);
      const allStarted = setup !== 'ours' || line.includes(`plugins started: ${names.join(', ')}`);
      if (!allStarted)
        log(`e2e: ${what}: not every plugin registered at first, waiting for restarts: ${line}`);
      // Registered plugins are children of the engine (the wrappers exec); Docker's engine may
      // report healthy before its plugins registered: wait until a call through it succeeds.
      for (let t = Date.now(); ; await delay(100)) {
        proc.pluginPids = childPids(proc.pid);
        if (proc.pluginPids.length === n) {
          const probes = allStarted ? ['p00'] : names;
          let ok = true;
          for (const p of probes) {
            const probe = await runLoad(load, socket, `bench/${p}/key`, 1, 0, 1).catch((e: Error) => e);
            if (probe instanceof Error || probe.errors !== 0) ok = false;
            if (!ok) break;
          }
          if (ok) break;
        }
        if (Date.now() - t > START_TIMEOUT_MS) {
          throw new E2eError(
            `${what}: ${proc.pluginPids.length} of ${n} plugins running, or no call succeeds, after ${START_TIMEOUT_MS} ms (log: ${logPath})`,
          );
        }
      }
      return proc;
    };

    const stopEngine = async (p: EngineProc) => {
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
      const t = setTimeout(() => {
        for (const pid of [p.pid, ...p.pluginPids]) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {}
        }
      }, 5_000);
      await p.exited;
      clearTimeout(t);
    };

    // --- the four cases ---
    const cases = FULL_CASES.map((c) => {
      if (!opts.quick) return c;
      const [count, warmup] = QUICK_COUNTS[c.name]!;
      return { ...c, count, warmup };
    });
    log(`e2e: starting ${setups.length * 2} engines (${setups.join(', ')}; 1 and 20 plugins each)`);
    const engines = new Map<string, EngineProc>();
    for (const s of setups) {
      for (const n of [1, 20]) engines.set(`${s}-${n}`, await startEngine(s, n));
    }
    // RSS per connected plugin (engine, 20 plugins vs 1), the goal's figure: every plugin
    // registered and answering, before any load (afterwards heap growth under load, which differs
    // between the two engines' cases, is in the difference too: reported as information).
    await delay(1_000);
    const rssPerPluginNow = (): Record<string, number> =>
      Object.fromEntries(
        setups.map((s) => [
          s,
          (rssKiB(engines.get(`${s}-20`)!.pid) - rssKiB(engines.get(`${s}-1`)!.pid)) / 19,
        ]),
      );
    const rssPerPlugin = rssPerPluginNow();

    const measure = async (c: E2eCase, e: EngineProc): Promise<Metrics> => {
      const e0 = cpuTicks(e.pid);
      const p0 = e.pluginPids.reduce((a, pid) => a + cpuTicks(pid), 0);
      const r = await runLoad(load, e.socket, c.pattern, c.count, c.warmup, c.concurrency);
      const e1 = cpuTicks(e.pid);
      const p1 = e.pluginPids.reduce((a, pid) => a + cpuTicks(pid), 0);
      const calls = c.count + c.warmup;
      if (r.errors > 0)
        problems.push(`${e.setup} ${c.name}: ${r.errors} of ${r.count} calls failed, first: ${r.firstError}`);
      const pluginRss = e.pluginPids.map(rssKiB);
      return {
        p50Ms: r.p50Us / 1000,
        p99Ms: r.p99Us / 1000,
        maxMs: r.maxUs / 1000,
        callsPerSec: r.callsPerSec,
        overDeadline: r.overDeadline,
        errors: r.errors,
        engineCpuUsPerCall: ((e1 - e0) * TICK_US) / calls,
        pluginCpuUsPerCall: ((p1 - p0) * TICK_US) / calls,
        engineRssKiB: rssKiB(e.pid),
        pluginRssKiB: pluginRss.reduce((a, b) => a + b, 0) / pluginRss.length,
      };
    };

    // One warm-up pass (unrecorded), then the rounds.
    log('e2e: warm-up pass');
    for (const c of cases) for (const s of setups) await measure(c, engines.get(`${s}-${c.plugins}`)!);
    const perRound: E2eReport['perRound'] = [];
    for (let r = 0; r < opts.rounds; r++) {
      const order = [...cases.slice(r % cases.length), ...cases.slice(0, r % cases.length)];
      const results: Record<string, Record<string, Metrics>> = {};
      const t0 = Date.now();
      for (const c of order) {
        results[c.name] = {};
        const so = r % 2 === 0 ? setups : [...setups].reverse();
        for (const s of so) results[c.name]![s] = await measure(c, engines.get(`${s}-${c.plugins}`)!);
      }
      perRound.push({ round: r + 1, order: order.map((c) => c.name), results });
      log(`e2e: round ${r + 1}/${opts.rounds} done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }

    // --- CLI start-up (against the running 1-plugin engine of ours) ---
    const reps = opts.quick ? 2 : 10;
    const cli: Record<string, number[]> = {
      'node -e 0': [],
      'secrets-engine --help': [],
      'secrets-engine get ID': [],
    };
    const ours1 = engines.get('ours-1')!;
    const wall = (args: string[], what: string, env?: NodeJS.ProcessEnv): number => {
      const t = process.hrtime.bigint();
      const res = spawnSync(process.execPath, args, { encoding: 'utf8', env: env ?? process.env });
      const ms = Number(process.hrtime.bigint() - t) / 1e6;
      if (res.status !== 0) throw new E2eError(`${what} exited ${res.status ?? res.signal}: ${res.stderr}`);
      return ms;
    };
    log('e2e: CLI start-up');
    for (let i = 0; i < reps + 1; i++) {
      const a = wall(['-e', '0'], 'node -e 0');
      const b = wall([CLI_BIN, '--help'], 'secrets-engine --help');
      const c = wall([CLI_BIN, 'get', 'bench/p00/key', '--socket', ours1.socket], 'secrets-engine get');
      if (i === 0) continue; // the first of each warms the page cache
      cli['node -e 0']!.push(a);
      cli['secrets-engine --help']!.push(b);
      cli['secrets-engine get ID']!.push(c);
    }

    // The same difference after the rounds (information: includes heap growth under load).
    const rssPerPluginAfter = rssPerPluginNow();
    for (const p of [...engines.values()]) await stopEngine(p);

    // --- cold start: spawn → registered, under the Go peer engine (one harness for both plugins) ---
    log('e2e: cold start');
    const cold: Record<string, number[]> = {
      'TS plugin spawn → registered': [],
      'Go plugin spawn → registered': [],
      'node -e 0 (spawn → exit)': [],
      'TS plugin RSS KiB': [],
      'bare node RSS KiB': [],
      'Go plugin RSS KiB': [],
    };
    const nodeZero = join(dir, 'node-zero');
    writeScript(nodeZero, `exec ${sq(process.execPath)} -e 0`);
    const coldReps = opts.quick ? 1 : 5;
    for (let i = 0; i < coldReps; i++) {
      for (const kind of i % 2 === 0 ? (['ts', 'go'] as const) : (['go', 'ts'] as const)) {
        const base = join(dir, `cold-${kind}-${i}`);
        mkdirSync(base, { mode: 0o700 });
        const plugins = pluginsDir(base, 'plugins', 1, kind === 'ts' ? tsProgram : goProgram);
        const logPath = join(base, 'engine.log');
        const logFd = openSync(logPath, 'w');
        const child = spawn(
          join(bin, 'bench-engine'),
          ['-socket', join(base, 's.sock'), '-plugins', plugins],
          {
            stdio: ['ignore', 'pipe', logFd],
          },
        );
        closeSync(logFd);
        const exited = new Promise<void>((r) => child.once('exit', () => r()));
        const proc: EngineProc = {
          setup: 'go',
          plugins: 1,
          child,
          pid: child.pid!,
          socket: '',
          pluginPids: [],
          exited,
        };
        procs.push(proc);
        const ready = JSON.parse(
          await readyLine(child, `cold start (${kind})`, (l) => l.startsWith('{'), logPath),
        );
        cold[`${kind === 'ts' ? 'TS' : 'Go'} plugin spawn → registered`]!.push(ready.plugins[0].registeredMs);
        proc.pluginPids = [ready.plugins[0].pid];
        await delay(300);
        cold[`${kind === 'ts' ? 'TS' : 'Go'} plugin RSS KiB`]!.push(rssKiB(ready.plugins[0].pid));
        await stopEngine(proc);
      }
      const t = process.hrtime.bigint();
      const res = spawnSync(nodeZero, []);
      if (res.status !== 0) throw new E2eError(`node -e 0 through a sh wrapper exited ${res.status}`);
      cold['node -e 0 (spawn → exit)']!.push(Number(process.hrtime.bigint() - t) / 1e6);
      const idle = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
      await delay(300);
      cold['bare node RSS KiB']!.push(rssKiB(idle.pid!));
      idle.kill('SIGKILL');
      await new Promise((r) => idle.once('exit', r));
    }

    // --- summary and goals ---
    const summary: E2eReport['summary'] = {};
    for (const c of cases) {
      summary[c.name] = {};
      for (const s of setups) {
        const keys = Object.keys(perRound[0]!.results[c.name]![s]!);
        summary[c.name]![s] = Object.fromEntries(
          keys.map((k) => [k, spread(perRound.map((r) => r.results[c.name]![s]![k]!))]),
        );
      }
    }
    const ratio = (c: string, peer: SetupName, k: string) =>
      spread(perRound.map((r) => r.results[c]!.ours![k]! / r.results[c]![peer]![k]!));
    const goals: Goal[] = [];
    for (const peer of setups.filter((s): s is 'go' | 'docker' => s !== 'ours')) {
      const info = peer === 'docker';
      const add = (
        goal: string,
        s: { median: number; min: number; max: number },
        target: string,
        pass: boolean,
      ) => goals.push({ goal, against: peer, value: s.median, min: s.min, max: s.max, target, pass, info });
      let s = ratio('1p-c1', peer, 'p50Ms');
      add('1 plugin, one call at a time: p50 ours ÷ peer', s, '≤ 1.0×', s.median <= 1.0);
      s = ratio('1p-c1', peer, 'p99Ms');
      add('1 plugin, one call at a time: p99 ours ÷ peer', s, '≤ 1.5×', s.median <= 1.5);
      s = ratio('1p-c64', peer, 'callsPerSec');
      add('1 plugin, 64 in flight: calls/s ours ÷ peer', s, '≥ 1.0×', s.median >= 1.0);
      s = ratio('20p-c1', peer, 'p50Ms');
      add('20 overlapping plugins, one at a time: p50 ours ÷ peer', s, '≤ 0.5×', s.median <= 0.5);
      s = ratio('20p-c8', peer, 'p50Ms');
      add('20 overlapping plugins, 8 in flight: p50 ours ÷ peer', s, '≤ 0.5×', s.median <= 0.5);
    }
    const over = perRound.reduce((a, r) => a + r.results['1p-c64']!.ours!.overDeadline!, 0);
    goals.push({
      goal: `1 plugin, 64 in flight: ours, calls over ${DEADLINE_MS} ms (all rounds)`,
      against: 'go',
      value: over,
      target: '= 0',
      pass: over === 0,
    });
    const coldS = Object.fromEntries(Object.entries(cold).map(([k, v]) => [k, { ...spread(v), values: v }]));
    const cliS = Object.fromEntries(Object.entries(cli).map(([k, v]) => [k, { ...spread(v), values: v }]));
    const m = (o: Record<string, { median: number }>, k: string) => o[k]!.median;
    const tsStart = m(coldS, 'TS plugin spawn → registered') / m(coldS, 'node -e 0 (spawn → exit)');
    goals.push({
      goal: 'TS plugin spawn → registered ÷ node -e 0',
      against: 'node',
      value: tsStart,
      target: '≤ 1.3×',
      pass: tsStart <= 1.3,
    });
    const tsRss = m(coldS, 'TS plugin RSS KiB') / m(coldS, 'bare node RSS KiB');
    goals.push({
      goal: 'TS plugin RSS ÷ bare node RSS',
      against: 'node',
      value: tsRss,
      target: '≤ 1.3×',
      pass: tsRss <= 1.3,
    });
    if (rssPerPlugin.ours! < 0)
      problems.push(
        `engine RSS per connected plugin not measured: the 20-plugin engine's RSS was ${Math.round(-rssPerPlugin.ours! * 19)} KiB below the 1-plugin engine's (garbage collected at different moments)`,
      );
    goals.push({
      goal: 'ours: engine RSS per connected plugin, KiB ((20 − 1 plugins) ÷ 19)',
      against: 'go',
      value: rssPerPlugin.ours!,
      target: '≤ 512',
      // A negative growth is a measurement that failed (the two engines' heaps were collected at
      // different moments), never a pass.
      pass: rssPerPlugin.ours! >= 0 && rssPerPlugin.ours! <= 512,
    });
    const help = m(cliS, 'secrets-engine --help') / m(cliS, 'node -e 0');
    goals.push({
      goal: 'secrets-engine --help wall time ÷ node -e 0',
      against: 'node',
      value: help,
      target: '≤ 2.0×',
      pass: help <= 2,
    });
    const get = m(cliS, 'secrets-engine get ID') / m(cliS, 'node -e 0');
    goals.push({
      goal: 'secrets-engine get ID wall time ÷ node -e 0',
      against: 'node',
      value: get,
      target: '≤ 2.0×',
      pass: get <= 2,
    });

    const report: E2eReport = {
      params: { cases, rounds: opts.rounds, quick: opts.quick, deadlineMs: DEADLINE_MS },
      setups: Object.fromEntries(setups.map((s) => [s, SETUP_LABEL[s]])),
      docker: dockerInfo,
      perRound,
      summary,
      coldStart: coldS,
      cli: cliS,
      goals,
      problems,
      engineRssPerPluginKiB: rssPerPlugin,
      engineRssPerPluginAfterLoadKiB: rssPerPluginAfter,
    };
    return { report, text: render(report, cases, setups, rssPerPlugin, rssPerPluginAfter) };
  } finally {
    for (const p of procs) {
      for (const pid of [p.pid, ...p.pluginPids]) {
        try {
          if (p.child.exitCode === null && p.child.signalCode === null) process.kill(pid, 'SIGKILL');
        } catch {}
      }
    }
  }
}

function runLoad(
  load: string,
  socket: string,
  pattern: string,
  count: number,
  warmup: number,
  concurrency: number,
): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      load,
      [
        '-socket',
        socket,
        '-pattern',
        pattern,
        '-count',
        String(count),
        '-warmup',
        String(warmup),
        '-concurrency',
        String(concurrency),
        '-deadline',
        `${DEADLINE_MS}ms`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c));
    child.stderr.on('data', (c: Buffer) => (err += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), LOAD_TIMEOUT_MS);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0)
        return reject(new E2eError(`bench-load on ${socket} exited ${code ?? signal}: ${err.trim()}`));
      try {
        resolve(JSON.parse(out) as LoadResult);
      } catch {
        reject(new E2eError(`bench-load printed no JSON: ${out} ${err}`));
      }
    });
  });
}

// --- the text ---

const fmt = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : String(x));

function render(
  r: E2eReport,
  cases: E2eCase[],
  setups: SetupName[],
  rssPerPlugin: Record<string, number>,
  rssPerPluginAfter: Record<string, number>,
): string {
  const lines: string[] = [];
  lines.push(
    `End to end: ${r.params.rounds} round${r.params.rounds === 1 ? '' : 's'}${r.params.quick ? ' (--quick: smoke counts, not a measurement)' : ''}; one Go load driver (connect-go, Docker's client transport) for every setup.`,
  );
  for (const s of setups) lines.push(`  ${s.padEnd(6)} ${SETUP_LABEL[s]}`);
  if (!r.docker.used) lines.push(`  docker: not run (${r.docker.reason})`);
  lines.push(
    'Median across rounds [min–max]; CPU µs per call from /proc (10 ms ticks, warm-up calls included); RSS after the pass (plugin: mean per plugin).',
  );
  const head = [
    'case',
    'setup',
    'p50 ms',
    'p99 ms',
    'calls/s',
    `>${DEADLINE_MS}ms`,
    'engine µs/call',
    'plugin µs/call',
    'engine RSS MiB',
    'plugin RSS MiB',
  ];
  const rows: string[][] = [head];
  for (const c of cases) {
    for (const s of setups) {
      const x = r.summary[c.name]![s]!;
      const cell = (k: string, d = 2) =>
        `${fmt(x[k]!.median, d)} [${fmt(x[k]!.min, d)}–${fmt(x[k]!.max, d)}]`;
      rows.push([
        c.name,
        s,
        cell('p50Ms'),
        cell('p99Ms'),
        cell('callsPerSec', 0),
        fmt(x.overDeadline!.max, 0),
        fmt(x.engineCpuUsPerCall!.median, 0),
        fmt(x.pluginCpuUsPerCall!.median, 0),
        fmt(x.engineRssKiB!.median / 1024, 1),
        fmt(x.pluginRssKiB!.median / 1024, 1),
      ]);
    }
  }
  lines.push(table(rows));
  lines.push(
    cases
      .map((c) => `  ${c.name}: ${c.label} (${c.count} calls after ${c.warmup}, pattern ${c.pattern})`)
      .join('\n'),
  );
  lines.push('');
  const cs = (o: Record<string, { median: number; min: number; max: number }>, unit: string, d = 1) =>
    Object.entries(o).map(
      ([k, v]) => `  ${k.padEnd(34)} ${fmt(v.median, d)} ${unit} [${fmt(v.min, d)}–${fmt(v.max, d)}]`,
    );
  lines.push('Cold start (under the Go peer engine; every program through the same sh wrapper):');
  lines.push(
    ...cs(Object.fromEntries(Object.entries(r.coldStart).filter(([k]) => !k.includes('RSS'))), 'ms'),
  );
  lines.push(
    ...cs(Object.fromEntries(Object.entries(r.coldStart).filter(([k]) => k.includes('RSS'))), 'KiB', 0),
  );
  lines.push(
    `  engine RSS per connected plugin, before any load: ${setups.map((s) => `${s} ${fmt(rssPerPlugin[s]!, 0)} KiB`).join(', ')}; after the rounds (heap growth under load included): ${setups.map((s) => `${s} ${fmt(rssPerPluginAfter[s]!, 0)} KiB`).join(', ')}`,
  );
  lines.push('CLI start-up (wall time, spawn → exit):');
  lines.push(...cs(r.cli, 'ms'));
  lines.push('');
  const grows: string[][] = [['goal', 'vs', 'value [min–max]', 'target', 'verdict']];
  for (const g of r.goals) {
    const v = g.min === undefined ? fmt(g.value) : `${fmt(g.value)} [${fmt(g.min)}–${fmt(g.max!)}]`;
    grows.push([
      g.goal,
      g.against,
      v,
      g.target,
      g.info ? (g.pass ? 'pass (info)' : 'miss (info)') : g.pass ? 'PASS' : 'MISS',
    ]);
  }
  lines.push(table(grows));
  if (r.problems.length > 0) lines.push(`problems:\n  ${r.problems.join('\n  ')}`);
  return lines.join('\n');
}

function table(rows: string[][]): string {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) =>
      r.map((c, i) => (i < 2 || i === r.length - 1 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  '),
    )
    .join('\n');
}

// The IPC benchmark: one parent (this process, the engine side) and children launched with a real
// fd-3 socketpair (launchPlugin). Every round runs every case once, the start case rotating; the
// table shows the median across rounds with [min–max], and the target ratios come from the same
// rounds. See README.md.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { create } from '@bufbuild/protobuf';
import { createClient } from '@connectrpc/connect';
import {
  createMuxSession,
  killProcessGroup,
  type LaunchedProcess,
  launchPlugin,
  type MuxSession,
} from '@secrets-engine/ipc';
import { resolverv1 } from '@secrets-engine/proto';
import {
  type ClientHandle,
  CONNECT_UNIX,
  CONNECT_YAMUX,
  CONNECT_YAMUX_STOCK,
  type ConnectCase,
  connectCases,
  type ServerName,
  unixKeepAliveTransport,
} from './cases.js';
import { runE2e } from './e2e.js';
import { bulk, concurrent, pingPong, sequential } from './measure.js';
import {
  type CaseInfo,
  type Metrics,
  type RatioTarget,
  type RoundRecord,
  ratios,
  ratiosTable,
  resultsTable,
  summarize,
} from './report.js';
import {
  type AccessVariant,
  type ChildMode,
  ENV_ACCESS,
  ENV_BULK_BYTES,
  ENV_MODE,
  ENV_SERVER,
  ENV_SESSION,
  ENV_UNIX_PATH,
  READY,
  SECRET_PATTERN,
  type SessionTuning,
  STREAM_ECHO,
  STREAM_SINK,
} from './wire.js';

// --- parameters ---

interface Params {
  /** Round trips per ping-pong case (after `rttWarm` untimed ones). */
  rttOps: number;
  rttWarm: number;
  /** Sequential Connect calls (after `seqWarm` untimed ones). */
  seqCalls: number;
  seqWarm: number;
  /** Calls of the timed concurrent pass, after a `c64Warm`-call pass at the same concurrency. */
  c64Calls: number;
  c64Warm: number;
  workers: number;
  /** Bulk: `bulkChunks` writes of `bulkChunkBytes`, `bulkReps` times; the median counts. */
  bulkChunks: number;
  bulkChunkBytes: number;
  bulkReps: number;
}

const MiB = 1024 * 1024;

const FULL: Params = {
  rttOps: 5000,
  rttWarm: 500,
  seqCalls: 2000,
  seqWarm: 300,
  c64Calls: 5000,
  c64Warm: 1000,
  workers: 64,
  bulkChunks: 64,
  bulkChunkBytes: MiB,
  bulkReps: 3,
};
/** The unrecorded warm-up round before round 1: JIT, pools and yamux windows settle. */
const FULL_WARMUP: Params = {
  ...FULL,
  rttOps: 2000,
  rttWarm: 0,
  seqCalls: 500,
  seqWarm: 0,
  c64Calls: 2000,
  c64Warm: 3000,
  bulkReps: 1,
};

const QUICK: Params = {
  rttOps: 200,
  rttWarm: 20,
  seqCalls: 100,
  seqWarm: 20,
  c64Calls: 256,
  c64Warm: 64,
  workers: 64,
  bulkChunks: 8,
  bulkChunkBytes: MiB,
  bulkReps: 1,
};
const QUICK_WARMUP: Params = { ...QUICK, rttOps: 50, seqCalls: 20, c64Calls: 64 };

/** No single case may take longer than this; a stuck case fails the run instead of hanging it. */
const CASE_TIMEOUT_MS = 120_000;
const CHILD_READY_TIMEOUT_MS = 15_000;

const HERE = dirname(fileURLToPath(import.meta.url));
const CHILD_JS = join(HERE, 'child.js');
const DEFAULT_JSON = join(HERE, '..', 'bench-results', 'latest.json');

const USAGE = `usage: node dist/main.js [--rounds N] [--quick] [--json PATH] [--section all|ipc|e2e] [--max-frame BYTES] [--batch-writes on|off]
  --rounds N            measured rounds (default 5; 1 with --quick)
  --section S           all (default): the IPC section, then the end-to-end section; ipc or e2e: only that one
  --quick               tiny iteration counts: a smoke test that the benchmark runs, not a measurement
  --json PATH           where to write all per-round values and the summary (default bench-results/latest.json)
  --max-frame BYTES     largest yamux data frame on both ends of every session (default: the library's, 256 KiB)
  --batch-writes on|off coalesce the frames of one event-loop turn into one write (default: the library's, on)`;

function parseOptions(args: string[]) {
  return parseArgs({
    args,
    options: {
      rounds: { type: 'string' },
      quick: { type: 'boolean', default: false },
      json: { type: 'string' },
      'max-frame': { type: 'string' },
      'batch-writes': { type: 'string' },
      section: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
}

function parseCli() {
  // `pnpm run bench -- --rounds 3` hands the `--` through to the script.
  const args = process.argv.slice(2).filter((a) => a !== '--');
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions(args);
  } catch (err) {
    console.error(`bench: ${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  const { values } = parsed;
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const quick = values.quick === true;
  const rounds = values.rounds === undefined ? (quick ? 1 : 5) : Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) {
    console.error(`bench: --rounds must be a positive integer, got ${values.rounds}\n${USAGE}`);
    process.exit(2);
  }
  const tuning: SessionTuning = {};
  if (values['max-frame'] !== undefined) {
    const n = Number(values['max-frame']);
    if (!/^\d+$/.test(values['max-frame']) || !Number.isSafeInteger(n) || n < 1) {
      console.error(
        `bench: --max-frame must be a positive number of bytes, got ${values['max-frame']}\n${USAGE}`,
      );
      process.exit(2);
    }
    tuning.maxFrameSize = n;
  }
  if (values['batch-writes'] !== undefined) {
    if (values['batch-writes'] !== 'on' && values['batch-writes'] !== 'off') {
      console.error(`bench: --batch-writes must be on or off, got ${values['batch-writes']}\n${USAGE}`);
      process.exit(2);
    }
    tuning.batchWrites = values['batch-writes'] === 'on';
  }
  const section = values.section ?? 'all';
  if (section !== 'all' && section !== 'ipc' && section !== 'e2e') {
    console.error(`bench: --section must be all, ipc or e2e, got ${section}\n${USAGE}`);
    process.exit(2);
  }
  return {
    quick,
    rounds,
    tuning,
    section: section as 'all' | 'ipc' | 'e2e',
    json: values.json === undefined ? DEFAULT_JSON : resolve(values.json),
  };
}

// --- children ---

interface Child {
  label: string;
  launched: LaunchedProcess;
  exited: Promise<void>;
}

/** Every child the bench started; all are reaped (or killed) before the bench exits. */
class Children {
  readonly #all: Child[] = [];
  readonly tuning: SessionTuning;
  #stopping = false;
  #fail!: (err: Error) => void;
  /** Rejects as soon as a child exits before the bench stops them. */
  readonly failed = new Promise<never>((_, reject) => {
    this.#fail = reject;
  });

  constructor(tuning: SessionTuning) {
    this.tuning = tuning;
    this.failed.catch(() => {}); // raced against every case; never an unhandled rejection
  }

  /** From now on children are expected to exit. */
  stopping(): void {
    this.#stopping = true;
  }

  launch(label: string, mode: ChildMode, env: Record<string, string>): Child {
    const launched = launchPlugin({
      command: process.execPath,
      args: [CHILD_JS],
      name: `bench-${label}`,
      // The session switches reach the children too, so both ends of a session run the same code.
      env: {
        [ENV_SESSION]: JSON.stringify(this.tuning),
        ...env,
        [ENV_MODE]: mode,
      },
      output: 'pipe',
    });
    const { child } = launched;
    const prefix = `[child ${label}] `;
    for (const out of [child.stdout, child.stderr]) {
      out?.on('data', (d: Buffer) => process.stderr.write(prefix + d.toString()));
    }
    const exited = new Promise<void>((resolveExit) => {
      if (child.exitCode !== null || child.signalCode !== null) resolveExit();
      else child.once('exit', () => resolveExit());
    });
    child.once('exit', (code, signal) => {
      if (!this.#stopping)
        this.#fail(new Error(`child ${label} exited during the run (code ${code}, signal ${signal})`));
    });
    child.on('error', (err) => process.stderr.write(`${prefix}${err.message}\n`));
    const entry = { label, launched, exited };
    this.#all.push(entry);
    return entry;
  }

  /** Waits for every child to exit after its channel was closed; kills the stragglers. */
  async reap(graceMs: number): Promise<void> {
    await Promise.all(
      this.#all.map(async (c) => {
        const timedOut = await Promise.race([c.exited.then(() => false), delay(graceMs).then(() => true)]);
        if (timedOut) {
          process.stderr.write(
            `[child ${c.label}] did not exit ${graceMs} ms after its channel closed: killing it\n`,
          );
          killGroup(c);
          await c.exited;
        }
      }),
    );
  }

  /** Ends every launch channel that is still open: a child exits on EOF. */
  endChannels(): void {
    for (const c of this.#all) if (!c.launched.socket.destroyed) c.launched.socket.end();
  }

  /** Synchronous last resort (process 'exit', signals): SIGKILL whatever still runs. */
  killAll(): void {
    for (const c of this.#all) killGroup(c);
  }
}

function alive(c: Child): boolean {
  const { child } = c.launched;
  return child.exitCode === null && child.signalCode === null;
}

/** launchPlugin puts each child in its own process group. */
function killGroup(c: Child): void {
  if (alive(c)) killProcessGroup(c.launched.child, 'SIGKILL');
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves once `stream` delivers the one-byte `expected` signal. */
function readSignal(stream: Duplex, expected: number): Promise<void> {
  return new Promise((resolveSignal, reject) => {
    const onData = (b: Buffer) => {
      cleanup();
      stream.pause();
      if (b.length !== 1 || b[0] !== expected)
        reject(new Error(`unexpected ${b.length}-byte greeting ${b.toString('hex')}`));
      else resolveSignal();
    };
    const onClose = () => {
      cleanup();
      reject(new Error('channel closed before the child was ready'));
    };
    const cleanup = () => {
      stream.off('data', onData);
      stream.off('close', onClose);
    };
    stream.on('data', onData);
    stream.once('close', onClose);
  });
}

interface MuxChild {
  child: Child;
  session: MuxSession;
  echo: Duplex;
  sink: Duplex;
  socketPath: string;
}

/** Starts a mux child for `server`; ready once its echo and sink streams have arrived. */
async function startMuxChild(
  children: Children,
  server: ServerName,
  dir: string,
  bulkBytes: number,
): Promise<MuxChild> {
  const socketPath = join(dir, `${server}.sock`);
  const child = children.launch(`mux-${server}`, 'mux', {
    [ENV_SERVER]: server,
    [ENV_UNIX_PATH]: socketPath,
    [ENV_BULK_BYTES]: String(bulkBytes),
  });
  const session = createMuxSession(child.launched.socket, { role: 'server', ...children.tuning });
  const streams = new Promise<{ echo: Duplex; sink: Duplex }>((resolveStreams, reject) => {
    let echo: Duplex | undefined;
    let sink: Duplex | undefined;
    session.onStream((stream) => {
      stream.on('error', () => {});
      stream.once('data', (b: Buffer) => {
        stream.pause();
        if (b.length > 1) stream.unshift(b.subarray(1));
        if (b[0] === STREAM_ECHO) echo = stream;
        else if (b[0] === STREAM_SINK) sink = stream;
        else reject(new Error(`unexpected stream label 0x${b.toString('hex', 0, 1)}`));
        if (echo !== undefined && sink !== undefined) resolveStreams({ echo, sink });
      });
    });
    session.closed.then((reason) =>
      reject(new Error(`mux child session closed during setup (${reason.kind})`)),
    );
  });
  const { echo, sink } = await withTimeout(streams, CHILD_READY_TIMEOUT_MS, `mux child ${server}`);
  return { child, session, echo, sink, socketPath };
}

async function startRawChild(
  children: Children,
  mode: 'raw-echo' | 'raw-sink',
  bulkBytes: number,
): Promise<Duplex> {
  const child = children.launch(mode, mode, { [ENV_BULK_BYTES]: String(bulkBytes) });
  const { socket } = child.launched;
  socket.on('error', () => {});
  await withTimeout(readSignal(socket, READY), CHILD_READY_TIMEOUT_MS, `child ${mode}`);
  return socket;
}

/** Starts an engine child with the `access` variant on a unix socket in `dir`; ready once it says so. */
async function startEngineChild(
  children: Children,
  access: AccessVariant,
  dir: string,
): Promise<{ socketPath: string; pid: number | undefined }> {
  const socketPath = join(dir, `engine-${access}.sock`);
  const child = children.launch(`engine-${access}`, 'engine', {
    [ENV_UNIX_PATH]: socketPath,
    [ENV_ACCESS]: access,
  });
  const { socket } = child.launched;
  socket.on('error', () => {});
  await withTimeout(readSignal(socket, READY), CHILD_READY_TIMEOUT_MS, `engine child ${access}`);
  return { socketPath, pid: child.launched.child.pid };
}

// --- cases ---

interface BenchCase extends CaseInfo {
  run(p: Params): Promise<{ metrics: Metrics; detail?: Record<string, unknown> }>;
}

function rttCase(letter: string, name: string, label: string, stream: Duplex): BenchCase {
  return {
    letter,
    name,
    label,
    async run(p) {
      const l = await pingPong(stream, p.rttOps, p.rttWarm);
      return { metrics: { p10: l.p10, p50: l.p50, p99: l.p99, mean: l.mean } };
    },
  };
}

function bulkCase(letter: string, name: string, label: string, stream: Duplex): BenchCase {
  return {
    letter,
    name,
    label,
    async run(p) {
      const chunk = Buffer.alloc(p.bulkChunkBytes, 0x62);
      const reps: number[] = [];
      for (let i = 0; i < p.bulkReps; i++) reps.push(await bulk(stream, p.bulkChunks, chunk));
      const sorted = [...reps].sort((a, b) => a - b);
      return {
        metrics: { mbPerSec: sorted[(sorted.length - 1) >> 1]! },
        detail: { repetitionsMbPerSec: reps },
      };
    },
  };
}

function connectCase(
  letter: string,
  c: ConnectCase,
  handle: ClientHandle,
  serverPid: number | undefined,
): BenchCase {
  const client = createClient(resolverv1.ResolverService, handle.transport);
  const request = create(resolverv1.GetSecretsRequestSchema, { pattern: SECRET_PATTERN });
  const call = async () => {
    const res = await client.getSecrets(request);
    if (res.envelopes.length !== 1 || res.envelopes[0]!.id !== SECRET_PATTERN) {
      throw new Error(`${c.name}: unexpected GetSecrets response`);
    }
  };
  return {
    letter,
    name: c.name,
    label: c.label,
    async run(p) {
      const seq = await sequential(call, p.seqCalls, p.seqWarm);
      const thr = await concurrent(call, p.c64Calls, p.c64Warm, p.workers, serverPid);
      return {
        metrics: {
          p10: seq.p10,
          p50: seq.p50,
          p99: seq.p99,
          mean: seq.mean,
          callsPerSec: thr.callsPerSec,
          clientCpuUs: thr.clientCpuUs,
          serverCpuUs: thr.serverCpuUs,
        },
      };
    },
  };
}

/** The engine cases (f): GetSecrets through a whole engine, by access-control variant. */
const ENGINE_CASES: Record<AccessVariant, { name: string; label: string }> = {
  open: {
    name: 'engine-open',
    label: 'GetSecrets through an engine (builtin provider), a policy that allows all',
  },
  default: { name: 'engine-default', label: 'same, the default policy (the engine uid only)' },
  module: {
    name: 'engine-acm',
    label: 'same, default policy + one access-control module (CheckAccess per call)',
  },
};

const TARGETS: RatioTarget[] = [
  {
    name: 'Connect/yamux p50 ÷ raw round trip p50',
    numerator: { case: CONNECT_YAMUX, metric: 'p50' },
    denominator: { case: 'raw-rtt', metric: 'p50' },
    goal: { comparison: '<=', target: 10 },
  },
  {
    name: 'Connect/yamux c64 ÷ Connect/unix c64',
    numerator: { case: CONNECT_YAMUX, metric: 'callsPerSec' },
    denominator: { case: CONNECT_UNIX, metric: 'callsPerSec' },
    goal: { comparison: '>=', target: 0.95 },
  },
  {
    name: 'yamux bulk ÷ raw bulk',
    numerator: { case: 'yamux-bulk', metric: 'mbPerSec' },
    denominator: { case: 'raw-bulk', metric: 'mbPerSec' },
    goal: { comparison: '>=', target: 0.9 },
  },
  // Like for like: the same stock connect-node on both sides, only the transport differs.
  {
    name: 'stock Connect c64: yamux ÷ unix',
    numerator: { case: CONNECT_YAMUX_STOCK, metric: 'callsPerSec' },
    denominator: { case: CONNECT_UNIX, metric: 'callsPerSec' },
  },
  {
    name: 'stock Connect p50: yamux ÷ unix',
    numerator: { case: CONNECT_YAMUX_STOCK, metric: 'p50' },
    denominator: { case: CONNECT_UNIX, metric: 'p50' },
  },
  {
    name: 'yamux round trip p50 ÷ raw p50',
    numerator: { case: 'yamux-rtt', metric: 'p50' },
    denominator: { case: 'raw-rtt', metric: 'p50' },
  },
  // The access-control path (issue 11): what the default policy and a module add to a call.
  {
    name: 'engine p50: default policy ÷ allow-all',
    numerator: { case: 'engine-default', metric: 'p50' },
    denominator: { case: 'engine-open', metric: 'p50' },
  },
  {
    name: 'engine p50: + access-control module ÷ default',
    numerator: { case: 'engine-acm', metric: 'p50' },
    denominator: { case: 'engine-default', metric: 'p50' },
  },
  {
    name: 'engine c64: + access-control module ÷ default',
    numerator: { case: 'engine-acm', metric: 'callsPerSec' },
    denominator: { case: 'engine-default', metric: 'callsPerSec' },
  },
];

// --- main ---

type CliOptions = ReturnType<typeof parseCli>;

async function main(): Promise<number> {
  const opts = parseCli();
  const startedAt = new Date();
  let report: Record<string, unknown> = { schema: 1, startedAt: startedAt.toISOString(), quick: opts.quick };
  let failed = false;
  if (opts.section !== 'e2e') {
    const ipc = await ipcSection(opts);
    report = ipc.report;
    failed = ipc.broken.length > 0;
  }
  if (opts.section !== 'ipc') {
    const dir = mkdtempSync(join(tmpdir(), 'se-bench-e2e-'));
    const onSignal = (signal: NodeJS.Signals) => {
      rmSync(dir, { recursive: true, force: true });
      process.exit(signal === 'SIGINT' ? 130 : 143);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const loadStart = loadavg();
    try {
      const e2e = await runE2e({
        quick: opts.quick,
        rounds: opts.rounds,
        dir,
        log: (l) => process.stderr.write(`bench: ${l}\n`),
      });
      const loadEnd = loadavg();
      console.log(
        `\n${e2e.text}\nload average: ${loadStart.map((x) => x.toFixed(2)).join(' ')} at the start of the section, ` +
          `${loadEnd.map((x) => x.toFixed(2)).join(' ')} at its end\n`,
      );
      report.e2e = { ...e2e.report, loadavgStart: loadStart, loadavgEnd: loadEnd };
      if (e2e.report.problems.length > 0) failed = true;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      rmSync(dir, { recursive: true, force: true });
    }
  }
  report.durationMs = Date.now() - startedAt.getTime();
  mkdirSync(dirname(opts.json), { recursive: true });
  writeFileSync(opts.json, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`JSON: ${opts.json}`);
  return failed ? 1 : 0;
}

async function ipcSection(opts: CliOptions): Promise<{ report: Record<string, unknown>; broken: string[] }> {
  const params = opts.quick ? QUICK : FULL;
  const warmup = opts.quick ? QUICK_WARMUP : FULL_WARMUP;
  const bulkBytes = params.bulkChunks * params.bulkChunkBytes;
  const startedAt = new Date();
  const loadStart = loadavg();

  const children = new Children(opts.tuning);
  const dir = mkdtempSync(join(tmpdir(), 'se-bench-'));
  const onSignal = (signal: NodeJS.Signals) => {
    children.killAll();
    rmSync(dir, { recursive: true, force: true });
    process.stderr.write(`bench: ${signal}, children killed\n`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.once('exit', () => children.killAll());
  const detach = () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };

  const handles: ClientHandle[] = [];
  const muxChildren = new Map<ServerName, MuxChild>();
  try {
    // Children: one raw echo, one raw sink, and one mux child per server variant in use.
    const serverNames = [...new Set<ServerName>(['ipc', ...connectCases.map((c) => c.server)])];
    const [rawEcho, rawSink, ...muxes] = await Promise.race([
      Promise.all([
        startRawChild(children, 'raw-echo', bulkBytes),
        startRawChild(children, 'raw-sink', bulkBytes),
        ...serverNames.map((s) => startMuxChild(children, s, dir, bulkBytes)),
      ]),
      children.failed, // a child that dies while starting fails the run at once
    ]);
    for (const [i, m] of muxes.entries()) muxChildren.set(serverNames[i]!, m as MuxChild);
    const variants: AccessVariant[] = ['open', 'default', 'module'];
    const engines = await Promise.race([
      Promise.all(
        variants.map(async (access) => ({ access, ...(await startEngineChild(children, access, dir)) })),
      ),
      children.failed,
    ]);
    const base = muxChildren.get('ipc')!;

    // Letters follow the README: a raw, b yamux, c Connect over yamux, d Connect over unix, e bulk.
    const cases: BenchCase[] = [
      rttCase('a', 'raw-rtt', 'raw socketpair (fd 3), 32 B ping-pong', rawEcho),
      rttCase('b', 'yamux-rtt', 'yamux stream (already open), 32 B ping-pong', base.echo),
      ...connectCases.map((c) => {
        const m = muxChildren.get(c.server)!;
        const handle = c.client({ session: m.session, socketPath: m.socketPath });
        handles.push(handle);
        return connectCase(c.over === 'yamux' ? 'c' : 'd', c, handle, m.child.launched.child.pid);
      }),
      ...engines.map((e) => {
        const c = ENGINE_CASES[e.access];
        const handle = unixKeepAliveTransport(e.socketPath);
        handles.push(handle);
        return connectCase(
          'f',
          { name: c.name, label: c.label, over: 'unix', server: 'stock', client: () => handle },
          handle,
          e.pid,
        );
      }),
      bulkCase('e', 'raw-bulk', `raw socketpair, ${params.bulkChunks} × 1 MiB into a sink`, rawSink),
      bulkCase('e', 'yamux-bulk', `one yamux stream, ${params.bulkChunks} × 1 MiB into a sink`, base.sink),
    ];

    const runCase = (c: BenchCase, p: Params) =>
      withTimeout(Promise.race([c.run(p), children.failed]), CASE_TIMEOUT_MS, c.name);

    process.stderr.write(`bench: warm-up round (${cases.length} cases)\n`);
    const t0 = Date.now();
    for (const c of cases) await runCase(c, warmup);
    process.stderr.write(`bench: warm-up done in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);

    const rounds: RoundRecord[] = [];
    for (let r = 0; r < opts.rounds; r++) {
      const start = r % cases.length;
      const order = [...cases.slice(start), ...cases.slice(0, start)];
      const record: RoundRecord = {
        round: r + 1,
        order: order.map((c) => c.name),
        durationMs: 0,
        results: {},
      };
      const tr = Date.now();
      for (const c of order) record.results[c.name] = await runCase(c, params);
      record.durationMs = Date.now() - tr;
      rounds.push(record);
      process.stderr.write(
        `bench: round ${r + 1}/${opts.rounds} done in ${(record.durationMs / 1000).toFixed(1)} s\n`,
      );
    }

    const summary = summarize(rounds);
    const ratioResults = ratios(TARGETS, rounds, summary);

    // Every measured number must be a real number: this is what the smoke test checks.
    const broken = rounds.flatMap((r) =>
      Object.entries(r.results).flatMap(([name, res]) =>
        Object.entries(res.metrics)
          .filter(
            ([k, v]) =>
              !(k === 'serverCpuUs' && v === null) && !(typeof v === 'number' && Number.isFinite(v) && v > 0),
          )
          .map(([k, v]) => `round ${r.round} ${name}.${k} = ${v}`),
      ),
    );

    const cpuModel = cpus()[0]?.model ?? 'unknown CPU';
    const header = [
      `IPC benchmark: ${opts.rounds} round${opts.rounds === 1 ? '' : 's'}${opts.quick ? ' (--quick: smoke counts, not a measurement)' : ''}, ` +
        `Node ${process.version}, ${process.platform} ${process.arch}, ${cpus().length} × ${cpuModel.trim()}`,
      `Median across rounds [min–max]. Latency: p50/p99 of ${params.rttOps} ping-pongs (a, b) or ${params.seqCalls} sequential calls; ` +
        `@64: ${params.c64Calls} calls with 64 in flight; bulk: ${params.bulkChunks} × 1 MiB, median of ${params.bulkReps}.`,
    ];
    const nameWidth = Math.max(...cases.map((c) => c.name.length));
    const legend = cases.map((c) => `  ${c.letter} ${c.name.padEnd(nameWidth)}  ${c.label}`);
    console.log(
      [
        '',
        ...header,
        '',
        resultsTable(cases, summary),
        '',
        ...legend,
        '',
        ratiosTable(ratioResults),
        '',
      ].join('\n'),
    );

    const report = {
      schema: 1,
      startedAt: startedAt.toISOString(),
      durationMs: Date.now() - startedAt.getTime(),
      quick: opts.quick,
      rounds: opts.rounds,
      params,
      warmupParams: warmup,
      session: opts.tuning, // --max-frame, --batch-writes; {} = the library defaults
      environment: {
        node: process.version,
        platform: process.platform,
        arch: process.arch,
        cpus: cpus().length,
        cpuModel: cpuModel.trim(),
        loadavgStart: loadStart,
        loadavgEnd: loadavg(),
      },
      units: {
        p10: 'µs',
        p50: 'µs',
        p99: 'µs',
        mean: 'µs',
        callsPerSec: 'calls/s',
        clientCpuUs: 'µs/call',
        serverCpuUs: 'µs/call',
        mbPerSec: 'MB/s (10^6 B)',
      },
      cases: cases.map((c) => ({ letter: c.letter, name: c.name, label: c.label })),
      perRound: rounds,
      summary,
      ratios: ratioResults,
      problems: broken,
    };
    if (broken.length > 0) {
      console.error(
        `bench: ${broken.length} measurement(s) are not positive finite numbers:\n  ${broken.join('\n  ')}`,
      );
    }
    return { report, broken };
  } finally {
    // Orderly shutdown (decisions.md "P15"): stop clients, end the raw streams, close the sessions and
    // the raw channels; the children exit on EOF, and are killed if they do not.
    children.stopping();
    for (const h of handles) h.close();
    for (const m of muxChildren.values()) {
      m.echo.end();
      m.sink.end();
    }
    await Promise.all([...muxChildren.values()].map((m) => m.session.close({ timeoutMs: 1_000 })));
    children.endChannels();
    await children.reap(3_000);
    children.killAll();
    detach();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error('bench failed:', err);
    process.exit(1);
  },
);

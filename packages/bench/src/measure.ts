// Timing primitives: ping-pong round trips, sequential and concurrent calls, bulk writes, and
// the statistics the report uses.
import { readFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';

const now = (): bigint => process.hrtime.bigint();
const usSince = (t0: bigint): number => Number(now() - t0) / 1_000;

/** Nearest-rank percentile of an ascending-sorted array (q in 0..1). */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1]!;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export interface Latency {
  /** Shows a bimodal distribution (e.g. same-CPU vs cross-CPU wake-ups) that p50 hides. */
  p10: number;
  p50: number;
  p99: number;
  /** Mean of all samples, µs. */
  mean: number;
  max: number;
  n: number;
}

function latencyOf(samples: Float64Array): Latency {
  const sorted = samples.slice().sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    p10: percentile(sorted, 0.1),
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    mean: sum / sorted.length,
    max: sorted[sorted.length - 1]!,
    n: sorted.length,
  };
}

/** Attaches a data listener and makes sure the stream flows (streams are paused between uses). */
function listen(stream: Duplex, onData: (chunk: Buffer) => void, onGone: (err: Error) => void): () => void {
  const onError = (err: Error) => onGone(err);
  const onClose = () => onGone(new Error('stream closed during the measurement'));
  stream.on('data', onData);
  stream.once('error', onError);
  stream.once('close', onClose);
  // A stream that is already gone emits nothing more: fail now rather than wait forever.
  if (stream.destroyed || stream.writableEnded)
    queueMicrotask(() => onGone(new Error('stream is already closed')));
  stream.resume();
  return () => {
    stream.off('data', onData);
    stream.off('error', onError);
    stream.off('close', onClose);
    stream.pause();
  };
}

/**
 * Sequential `size`-byte ping-pongs against an echo on `stream`: `warm` untimed, then `ops` timed.
 * Returns the round-trip latency in µs.
 */
export function pingPong(stream: Duplex, ops: number, warm: number, size = 32): Promise<Latency> {
  const payload = Buffer.alloc(size, 0x70);
  const samples = new Float64Array(ops);
  const total = warm + ops;
  return new Promise((resolve, reject) => {
    let i = 0;
    let got = 0;
    let t0 = now();
    const stop = listen(
      stream,
      (chunk) => {
        got += chunk.length;
        if (got < size) return;
        if (got > size) {
          stop();
          reject(new Error(`echo returned ${got} bytes for a ${size}-byte ping`));
          return;
        }
        if (i >= warm) samples[i - warm] = usSince(t0);
        got = 0;
        if (++i === total) {
          stop();
          resolve(latencyOf(samples));
          return;
        }
        t0 = now();
        stream.write(payload);
      },
      (err) => {
        stop();
        reject(err);
      },
    );
    t0 = now();
    stream.write(payload);
  });
}

/** `warm` untimed calls, then `calls` timed sequential calls; latency in µs. */
export async function sequential(call: () => Promise<void>, calls: number, warm: number): Promise<Latency> {
  for (let i = 0; i < warm; i++) await call();
  const samples = new Float64Array(calls);
  for (let i = 0; i < calls; i++) {
    const t0 = now();
    await call();
    samples[i] = usSince(t0);
  }
  return latencyOf(samples);
}

export interface Throughput {
  callsPerSec: number;
  /** CPU per call in this (client) process, µs. */
  clientCpuUs: number;
  /** CPU per call in the server's process, µs (Linux only, 10 ms tick resolution). */
  serverCpuUs: number | null;
}

/** `workers` loops sharing `total` calls; a `warm` pass with the same concurrency goes first. */
export async function concurrent(
  call: () => Promise<void>,
  total: number,
  warm: number,
  workers: number,
  serverPid: number | undefined,
): Promise<Throughput> {
  const pass = async (n: number) => {
    let started = 0;
    const worker = async () => {
      while (started < n) {
        started++;
        await call();
      }
    };
    await Promise.all(Array.from({ length: Math.min(workers, n) }, worker));
  };
  if (warm > 0) await pass(warm);
  const server0 = processCpuUs(serverPid);
  const cpu0 = process.cpuUsage();
  const t0 = now();
  await pass(total);
  const elapsedUs = usSince(t0);
  const cpu = process.cpuUsage(cpu0);
  const server1 = processCpuUs(serverPid);
  return {
    callsPerSec: (total * 1e6) / elapsedUs,
    clientCpuUs: (cpu.user + cpu.system) / total,
    serverCpuUs: server0 === null || server1 === null ? null : (server1 - server0) / total,
  };
}

/** User + system CPU of another process in µs, from /proc (Linux; USER_HZ is 100). */
export function processCpuUs(pid: number | undefined): number | null {
  if (pid === undefined || process.platform !== 'linux') return null;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return null;
  }
}

/**
 * Writes `chunks` × `chunk` into `stream` (honouring backpressure) and waits for the sink's one
 * acknowledgement byte. Returns MB/s (10^6 bytes) of payload.
 */
export async function bulk(stream: Duplex, chunks: number, chunk: Buffer): Promise<number> {
  let onAck!: () => void;
  let onFail!: (err: Error) => void;
  const acked = new Promise<void>((resolve, reject) => {
    onAck = resolve;
    onFail = reject;
  });
  acked.catch(() => {}); // awaited below; this only keeps an early failure from being "unhandled"
  const stop = listen(
    stream,
    (data) => {
      if (data.length !== 1) onFail(new Error(`sink answered ${data.length} bytes instead of one ACK`));
      else onAck();
    },
    (err) => onFail(err),
  );
  try {
    const t0 = now();
    for (let i = 0; i < chunks; i++) {
      if (!stream.write(chunk)) await drained(stream, acked);
    }
    await acked;
    const elapsedUs = usSince(t0);
    return (chunks * chunk.length) / elapsedUs;
  } finally {
    stop();
  }
}

function drained(stream: Duplex, failed: Promise<void>): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = () => {
      stream.off('drain', done);
      resolve();
    };
    stream.on('drain', done);
    // A failure while waiting for 'drain' must not hang the benchmark.
    failed.catch((err: Error) => {
      stream.off('drain', done);
      reject(err);
    });
  });
}

// What the parent and the child agree on: environment variables and the one-byte signals used on
// the raw channels and on the streams the child opens.
import type { Duplex } from 'node:stream';

/** Which child this is: a raw echo, a raw sink, or a yamux session serving one server variant. */
export const ENV_MODE = 'SE_BENCH_MODE';
/** mux children: the server variant (a key of `servers` in cases.ts). */
export const ENV_SERVER = 'SE_BENCH_SERVER';
/** mux children: where the plain unix-socket HTTP server listens. */
export const ENV_UNIX_PATH = 'SE_BENCH_UNIX_PATH';
/** Sinks acknowledge once per this many bytes received. */
export const ENV_BULK_BYTES = 'SE_BENCH_BULK_BYTES';

/** mux children: the session options of the run (--max-frame, --batch-writes), as JSON. */
export const ENV_SESSION = 'SE_BENCH_SESSION';

/** engine children: the access-control variant (see AccessVariant). */
export const ENV_ACCESS = 'SE_BENCH_ACCESS';

/**
 * The engine's access control in the engine cases (f): `open` a policy that allows everything,
 * `default` the default policy (the engine's uid only), `module` the default policy plus one
 * access-control module (our SDK's, joined through /hijack) that allows everything.
 */
export type AccessVariant = 'open' | 'default' | 'module';

export type ChildMode = 'raw-echo' | 'raw-sink' | 'mux' | 'engine';

/**
 * The session switches an experiment may change on both ends of every session (decisions.md "P9",
 * "P18"). The library takes them as createMuxSession options and validates them; the benchmark
 * only carries them from its command line to its children.
 */
export interface SessionTuning {
  maxFrameSize?: number;
  batchWrites?: boolean;
}

export function tuningFromEnv(env: NodeJS.ProcessEnv): SessionTuning {
  const raw = env[ENV_SESSION];
  return raw === undefined || raw === '' ? {} : (JSON.parse(raw) as SessionTuning);
}

/** Written by a raw child once it is listening on its channel. */
export const READY = 0x52; // 'R'
/** Written by a sink after each ENV_BULK_BYTES bytes. */
export const ACK = 0x41; // 'A'
/** First byte of the child-opened yamux stream that echoes. */
export const STREAM_ECHO = 0x45; // 'E'
/** First byte of the child-opened yamux stream that sinks bulk data. */
export const STREAM_SINK = 0x53; // 'S'

/** The small request and reply of every Connect case (resolverv1.GetSecrets). */
export const SECRET_PATTERN = 'bench/db-password';
export const SECRET_VALUE = new TextEncoder().encode('s3cr3t-value-0001');

/** Echoes every byte back; ends its side when the peer ends its side. */
export function echo(stream: Duplex): void {
  stream.on('data', (chunk: Buffer) => {
    stream.write(chunk);
  });
  stream.on('end', () => stream.end());
}

/** Counts bytes and writes one ACK per `every` bytes. */
export function sink(stream: Duplex, every: number): void {
  const ack = Buffer.of(ACK);
  let received = 0;
  stream.on('data', (chunk: Buffer) => {
    received += chunk.length;
    while (received >= every) {
      received -= every;
      stream.write(ack);
    }
  });
  stream.on('end', () => stream.end());
}

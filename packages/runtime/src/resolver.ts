// GetSecrets fan-out (protocol.md §6.4), done better where §0 says so: every plugin whose pattern
// overlaps is called concurrently with the narrowed pattern and its own deadline; one failing or
// slow plugin costs only its own part; results keep Go's order (by plugin name).
import { clone } from '@bufbuild/protobuf';
import { TimestampSchema, timestampFromMs } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError } from '@connectrpc/connect';
import type { Logger } from '@secrets-engine/ipc';
import { resolverv1 } from '@secrets-engine/proto';
import {
  filter,
  isGoZeroTime,
  isInvalidPatternError,
  isValidId,
  parsePattern,
  type SecretPattern,
  toGoTimestamp,
} from '@secrets-engine/secrets';
import { notFound, type ProtoEnvelope, type Provider } from './provider.js';

export interface ResolveOptions {
  signal?: AbortSignal;
  /** Deadline of each plugin's part. */
  requestTimeoutMs: number;
  logger: Logger;
}

/**
 * Resolves `rawPattern` against `providers`. Throws ConnectError `invalid_argument` for a bad
 * pattern and `not_found` "secret not found" when nothing comes back.
 */
export async function resolveSecrets(
  rawPattern: string,
  providers: readonly Provider[],
  options: ResolveOptions,
): Promise<ProtoEnvelope[]> {
  let pattern: SecretPattern;
  try {
    pattern = parsePattern(rawPattern);
  } catch (err) {
    // parsePattern already says `invalid pattern "<p>": <why>` (Go quoting); don't say it twice.
    throw new ConnectError(
      isInvalidPatternError(err)
        ? err.message
        : `invalid pattern ${JSON.stringify(rawPattern)}: ${(err as Error).message}`,
      Code.InvalidArgument,
    );
  }
  const ordered = [...providers].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const signal = options.signal ?? new AbortController().signal;
  const calls = ordered.map((provider) => {
    const narrowed = filter(provider.pattern, pattern);
    if (narrowed === undefined) return undefined;
    return callOne(provider, narrowed, signal, options);
  });
  const results = await Promise.all(calls);
  const out: ProtoEnvelope[] = [];
  const resolvedAt = timestampNow();
  results.forEach((envelopes, i) => {
    if (envelopes === undefined) return;
    const provider = ordered[i]!;
    for (const env of envelopes) {
      if (!isValidId(env.id)) {
        options.logger.warn('dropping an envelope with an invalid ID', { plugin: provider.name, id: env.id });
        continue;
      }
      // Copy: a builtin provider may hand out messages it keeps.
      const copy = clone(resolverv1.GetSecretsResponse_EnvelopeSchema, env);
      copy.provider = provider.name;
      if (copy.resolvedAt === undefined || isGoZeroTime(copy.resolvedAt))
        copy.resolvedAt = clone(TimestampSchema, resolvedAt);
      // Unset times travel as the Go zero time, never absent (protocol.md §4.4).
      copy.createdAt ??= toGoTimestamp(undefined);
      copy.expiresAt ??= toGoTimestamp(undefined);
      out.push(copy);
    }
  });
  if (out.length === 0) {
    signal.throwIfAborted();
    throw notFound();
  }
  return out;
}

async function callOne(
  provider: Provider,
  pattern: SecretPattern,
  signal: AbortSignal,
  options: ResolveOptions,
): Promise<ProtoEnvelope[] | undefined> {
  const deadline = options.requestTimeoutMs > 0 ? AbortSignal.timeout(options.requestTimeoutMs) : undefined;
  const callSignal = deadline === undefined ? signal : AbortSignal.any([signal, deadline]);
  try {
    // A provider that ignores its signal still cannot hold the request past the deadline.
    return await raceSignal(
      provider.getSecrets(pattern, { signal: callSignal, timeoutMs: options.requestTimeoutMs }),
      callSignal,
    );
  } catch (err) {
    const ce = ConnectError.from(err);
    if (ce.code === Code.NotFound) return undefined;
    if (deadline?.aborted && !signal.aborted) {
      options.logger.warn('plugin missed its deadline', {
        plugin: provider.name,
        timeoutMs: options.requestTimeoutMs,
      });
    } else if (!signal.aborted) {
      options.logger.warn('plugin failed', {
        plugin: provider.name,
        code: Code[ce.code],
        error: ce.rawMessage,
      });
    }
    return undefined;
  }
}

function raceSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

function timestampNow() {
  return timestampFromMs(Date.now());
}

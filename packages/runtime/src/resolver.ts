// GetSecrets fan-out (protocol.md §6.4), done better where §0 says so: every plugin whose pattern
// overlaps is called concurrently with the narrowed pattern and its own deadline; one failing or
// slow plugin costs only its own part; results keep Go's order (by plugin name). Stricter than Go:
// an envelope whose ID is outside what the plugin was asked is dropped (never a near-match), and a
// failure is never reported as "not found": nothing found with a plugin failed is `unavailable`
// (`deadline_exceeded` when every failure was a deadline), naming each plugin and why.
import { setMaxListeners } from 'node:events';
import { clone } from '@bufbuild/protobuf';
import { TimestampSchema } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError } from '@connectrpc/connect';
import type { Logger } from '@secrets-engine/ipc';
import { resolverv1 } from '@secrets-engine/proto';
import {
  filter,
  isGoZeroTime,
  isInvalidPatternError,
  isValidId,
  MAX_ID_LENGTH,
  match,
  parsePattern,
  type SecretPattern,
  toGoTimestamp,
} from '@secrets-engine/secrets';
import { isCachedAnswer } from './cache.js';
import { timestampNowNanos } from './clock.js';
import { notFound, type ProtoEnvelope, type Provider } from './provider.js';

export interface ResolveOptions {
  /** The caller's signal: the request is over when it fires. */
  signal?: AbortSignal;
  /** A second signal that ends the request (the engine's shutdown), without `AbortSignal.any`. */
  shutdownSignal?: AbortSignal;
  /** Deadline of each plugin's part. */
  requestTimeoutMs: number;
  logger: Logger;
  /** Told which plugins failed when the answer is partial (some envelopes, some failures). */
  onPartial?: (failures: readonly PluginFailure[]) => void;
  /** Told who was asked and how each did (for the audit record), before the answer or the error. */
  onReport?: (report: ResolutionReport) => void;
  /** Bypass the providers' answer caches (they still keep the fresh answers). */
  noCache?: boolean;
}

/** Which plugins a request reached: asked (patterns overlap), answered (found or not), failed. */
export interface ResolutionReport {
  asked: string[];
  answered: string[];
  failed: PluginFailure[];
  /** Of `answered`, those whose answer came from the engine's cache (cache.ts), not the plugin. */
  cached: string[];
}

/** A plugin that was asked and did not answer. */
export interface PluginFailure {
  plugin: string;
  /** `deadline_exceeded` when it missed its deadline, else the code it failed with. */
  code: Code;
  message: string;
}

type Outcome =
  | { kind: 'answered'; envelopes: ProtoEnvelope[]; cached: boolean }
  | { kind: 'not-found' }
  | { kind: 'failed'; failure: PluginFailure };

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
  const request = new RequestSignal(options, ordered.length);
  let results: Array<Outcome | undefined>;
  try {
    const calls = ordered.map((provider) => {
      const narrowed = filter(provider.pattern, pattern);
      if (narrowed === undefined) return undefined;
      return callOne(provider, narrowed, request, options);
    });
    results = await Promise.all(calls);
  } finally {
    request.done();
  }
  const signal = request.signal;
  if (options.onReport !== undefined) {
    const report: ResolutionReport = { asked: [], answered: [], failed: [], cached: [] };
    results.forEach((outcome, i) => {
      if (outcome === undefined) return;
      const name = ordered[i]!.name;
      report.asked.push(name);
      if (outcome.kind === 'failed') report.failed.push(outcome.failure);
      else {
        report.answered.push(name);
        if (outcome.kind === 'answered' && outcome.cached) report.cached.push(name);
      }
    });
    options.onReport(report);
  }
  const out: ProtoEnvelope[] = [];
  const failures: PluginFailure[] = [];
  const resolvedAt = timestampNowNanos();
  results.forEach((outcome, i) => {
    if (outcome === undefined || outcome.kind === 'not-found') return;
    const provider = ordered[i]!;
    if (outcome.kind === 'failed') {
      failures.push(outcome.failure);
      return;
    }
    const narrowed = filter(provider.pattern, pattern)!;
    let outside = 0;
    for (const env of outcome.envelopes) {
      if (!isValidId(env.id)) {
        // A plugin's ID may be megabytes long: the log line gets its start and its length.
        const id = env.id.length <= MAX_ID_LENGTH ? env.id : `${env.id.slice(0, 64)}…`;
        options.logger.warn('dropping an envelope with an invalid ID', {
          plugin: provider.name,
          id,
          length: env.id.length,
        });
        continue;
      }
      // Exact answers only: the ID must match what the client asked and what the plugin was asked.
      if (!match(pattern, env.id) || !match(narrowed, env.id) || !match(provider.pattern, env.id)) {
        outside++;
        continue;
      }
      // Copy unless the provider's envelopes are this call's own (issue 14: a clone of every
      // envelope and its timestamps per request): a builtin provider may hand out messages it keeps.
      const copy =
        provider.freshEnvelopes === true ? env : clone(resolverv1.GetSecretsResponse_EnvelopeSchema, env);
      copy.provider = provider.name;
      if (copy.resolvedAt === undefined || isGoZeroTime(copy.resolvedAt))
        copy.resolvedAt = clone(TimestampSchema, resolvedAt);
      // Unset times travel as the Go zero time, never absent (protocol.md §4.4).
      copy.createdAt ??= toGoTimestamp(undefined);
      copy.expiresAt ??= toGoTimestamp(undefined);
      out.push(copy);
    }
    if (outside > 0) {
      options.logger.warn('dropping envelopes outside the request', {
        plugin: provider.name,
        count: outside,
        pattern: narrowed,
      });
    }
  });
  if (out.length === 0) {
    // The caller gave up or the engine is stopping (the deadline is each plugin's failure).
    if (request.callerAborted) throw signal.reason;
    if (failures.length > 0) throw failedRequest(pattern, failures);
    throw notFound();
  }
  if (failures.length > 0) options.onPartial?.(failures);
  return out;
}

/**
 * A partial answer's failed plugins (protocol.md §4.2 "Partial answers"), on a partial answer's
 * response header and on the error when nothing was found: a JSON array of
 * `{"plugin","code","message"}` with `code` the Connect code name and every non-ASCII character
 * escaped. Bodies stay as they were, so Docker's clients, which ignore the header, see what they
 * always saw.
 */
export const FAILURES_HEADER = 'secrets-engine-failed-plugins';

export function encodeFailures(failures: readonly PluginFailure[]): string {
  const json = JSON.stringify(
    failures.map((f) => ({ plugin: f.plugin, code: codeName(f.code), message: f.message })),
  );
  return json.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Nothing found and at least one plugin failed: never "not found", and say who and why. */
export function failedRequest(pattern: string, failures: readonly PluginFailure[]): ConnectError {
  const allDeadlines = failures.every((f) => f.code === Code.DeadlineExceeded);
  const which = failures.map((f) => `plugin ${JSON.stringify(f.plugin)} ${f.message}`).join('; ');
  const n = failures.length;
  return new ConnectError(
    `no secret found for ${JSON.stringify(pattern)}, but ${n} plugin${n === 1 ? '' : 's'} could not answer: ${which}`,
    allDeadlines ? Code.DeadlineExceeded : Code.Unavailable,
    new Headers({ [FAILURES_HEADER]: encodeFailures(failures) }),
  );
}

/** Why the request's signal fired when the deadline did: each plugin still asked missed it. */
/** Shutdown signals whose listener limit is lifted already. */
const unbounded = new WeakSet<AbortSignal>();

const DEADLINE = new ConnectError('the plugins missed their deadline', Code.DeadlineExceeded);

/**
 * The one AbortController and the one timer of a request (issue 14: an `AbortSignal.timeout` and an
 * `AbortSignal.any` per plugin and an `any` per request were 10% of the engine's CPU): it fires when
 * the caller's signal or the shutdown signal fires (with their reason), or at the deadline (with
 * DEADLINE). Every plugin of the request is asked at once, so one deadline timer is every plugin's
 * deadline.
 */
class RequestSignal {
  readonly #controller = new AbortController();
  readonly #sources: AbortSignal[] = [];
  #timer: NodeJS.Timeout | undefined;
  #cut: Promise<never> | undefined;
  readonly #onAbort = (evt: Event) => this.#controller.abort((evt.target as AbortSignal).reason);

  constructor(options: ResolveOptions, providers: number) {
    const signal = this.#controller.signal;
    // Every plugin's call, its queue and its transport listen on this one signal: no leak warning
    // (a few plugins stay far below Node's 10; lifting the limit costs ~0.5% of a call).
    if (providers > 3) setMaxListeners(0, signal);
    // The shutdown signal is shared by every request in flight, each holding one listener on it
    // until it ends (64 at once under load is not a leak).
    if (options.shutdownSignal !== undefined && !unbounded.has(options.shutdownSignal)) {
      setMaxListeners(0, options.shutdownSignal);
      unbounded.add(options.shutdownSignal);
    }
    for (const source of [options.signal, options.shutdownSignal]) {
      if (source === undefined) continue;
      if (source.aborted) {
        this.#controller.abort(source.reason);
        return;
      }
      source.addEventListener('abort', this.#onAbort, { once: true });
      this.#sources.push(source);
    }
    if (options.requestTimeoutMs > 0) {
      this.#timer = setTimeout(() => this.#controller.abort(DEADLINE), options.requestTimeoutMs);
    }
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  get deadlineHit(): boolean {
    return this.#controller.signal.reason === DEADLINE;
  }

  get callerAborted(): boolean {
    return this.#controller.signal.aborted && this.#controller.signal.reason !== DEADLINE;
  }

  /** Rejects with the signal's reason when it fires: one listener for every plugin of the request. */
  get cut(): Promise<never> {
    if (this.#cut === undefined) {
      const signal = this.#controller.signal;
      this.#cut = signal.aborted
        ? Promise.reject(signal.reason)
        : new Promise<never>((_, reject) => {
            signal.addEventListener('abort', () => reject(signal.reason), { once: true });
          });
      this.#cut.catch(() => {});
    }
    return this.#cut;
  }

  done(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    for (const source of this.#sources) source.removeEventListener('abort', this.#onAbort);
  }
}

async function callOne(
  provider: Provider,
  pattern: SecretPattern,
  request: RequestSignal,
  options: ResolveOptions,
): Promise<Outcome> {
  const signal = request.signal;
  try {
    // A provider that ignores its signal still cannot hold the request past the deadline.
    const envelopes = await Promise.race([
      provider.getSecrets(pattern, {
        signal,
        timeoutMs: options.requestTimeoutMs,
        ...(options.noCache === true ? { noCache: true } : {}),
      }),
      request.cut,
    ]);
    return { kind: 'answered', envelopes, cached: isCachedAnswer(envelopes) };
  } catch (err) {
    const ce = ConnectError.from(err);
    if (ce.code === Code.NotFound) return { kind: 'not-found' };
    if (request.deadlineHit) {
      options.logger.warn('plugin missed its deadline', {
        plugin: provider.name,
        timeoutMs: options.requestTimeoutMs,
      });
      return {
        kind: 'failed',
        failure: {
          plugin: provider.name,
          code: Code.DeadlineExceeded,
          message: `missed its deadline (${options.requestTimeoutMs} ms)`,
        },
      };
    }
    if (!signal.aborted) {
      options.logger.warn('plugin failed', {
        plugin: provider.name,
        code: Code[ce.code],
        error: ce.rawMessage,
      });
    }
    return {
      kind: 'failed',
      failure: {
        plugin: provider.name,
        code: ce.code,
        message: `failed (${codeName(ce.code)}: ${ce.rawMessage})`,
      },
    };
  }
}

/** The Connect name of a code (`invalid_argument`), as clients and Go print it. */
export function codeName(code: Code): string {
  return Code[code]!.replace(/[A-Z]/g, (c, i: number) => (i === 0 ? c.toLowerCase() : `_${c.toLowerCase()}`));
}

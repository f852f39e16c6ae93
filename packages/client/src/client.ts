// A client of the engine socket (ours or Docker's Go engine, protocol.md §10.2): HTTP/1.1
// keep-alive over the Unix socket, Connect unary calls, typed errors.
import { Agent } from 'node:http';
import { Code, ConnectError, createClient as createConnectClient, type Transport } from '@connectrpc/connect';
// The Connect wire name of a code (`permission_denied`); safe with the exact @connectrpc/connect pin.
import { codeToString } from '@connectrpc/connect/protocol-connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { healthv1, pluginsv1, resolverv1 } from '@secrets-engine/proto';
import {
  defaultSocketPath,
  type Envelope,
  envelopeFromProto,
  InvalidPatternError,
  isValidId,
  isValidPattern,
  isValidPluginName,
  isValidVersion,
  NotFoundError,
  parseId,
  parsePattern,
  type SecretPattern,
} from '@secrets-engine/secrets';
import { dialFailureReason, toNetPath } from '@secrets-engine/secrets/internal';
import {
  AccessDeniedError,
  EngineError,
  EngineUnavailableError,
  type PluginFailure,
  PluginNotFoundError,
  ProviderFailedError,
} from './errors.js';

export interface ClientOptions {
  /** The engine socket. Default `$SECRETS_ENGINE_SOCKET`, else the default path. A leading `@` is a Linux abstract socket. */
  socketPath?: string;
  /** Deadline of every call, in ms. Default none. */
  timeoutMs?: number;
  /**
   * How long a call keeps retrying a connect that fails with EAGAIN (the engine's accept backlog
   * is full) before it is EngineUnavailableError, in ms. Default 2000; 0: never retry.
   */
  connectRetryMs?: number;
}

/** Backoff of connect retries on EAGAIN: 5 ms, doubling up to 100 ms, each randomised ±50 %. */
const RETRY_FIRST_MS = 5;
const RETRY_MAX_MS = 100;
const DEFAULT_CONNECT_RETRY_MS = 2_000;

export interface CallOptions {
  signal?: AbortSignal;
  /** Overrides the client's timeoutMs for this call. */
  timeoutMs?: number;
}

export type RunStatus = 'unspecified' | 'running' | 'stopped' | 'crashed' | 'retries-exceeded';

/** A plugin as the engine lists it. */
export interface PluginStatus {
  name: string;
  /** `''` while the plugin has not registered (e.g. a launched plugin that was not launched). */
  version: string;
  /** The plugin's pattern; undefined for access-control modules and unregistered plugins. */
  pattern: SecretPattern | undefined;
  kind: 'secrets-provider' | 'access-control';
  disabled: boolean;
  external: boolean;
  configurable: boolean;
  runStatus: RunStatus;
  statusMessage: string;
}

export interface EngineVersion {
  version: string;
  date: string;
  commitHash: string;
}

/** A GetSecrets answer with the plugins that failed to take part in it. */
export interface Resolution {
  envelopes: Envelope[];
  /** Plugins that failed or missed their deadline; the answer is partial when not empty. */
  failures: PluginFailure[];
}

export interface SecretsClient {
  readonly socketPath: string;
  /**
   * Secrets whose IDs match `pattern` (`*` one component, `**` any). Throws NotFoundError when
   * none, ProviderFailedError when none and a plugin failed. A partial answer is not an error:
   * use resolve() to see which plugins failed.
   */
  getSecrets(pattern: string, options?: CallOptions): Promise<Envelope[]>;
  /** As getSecrets, with the failed plugins of a partial answer. */
  resolve(pattern: string, options?: CallOptions): Promise<Resolution>;
  /**
   * The secret whose ID is exactly `id` (the first, in the engine's plugin order). Never another
   * secret: NotFoundError when no envelope has that ID, ProviderFailedError when none has it and a
   * plugin failed (it may have held it).
   */
  getSecret(id: string, options?: CallOptions): Promise<Envelope>;
  listPlugins(options?: CallOptions): Promise<PluginStatus[]>;
  enablePlugin(name: string, options?: CallOptions): Promise<void>;
  disablePlugin(name: string, options?: CallOptions): Promise<void>;
  version(options?: CallOptions): Promise<EngineVersion>;
  /** Closes idle keep-alive connections. Idempotent. */
  close(): void;
  [Symbol.dispose](): void;
}

export function createClient(options: ClientOptions = {}): SecretsClient {
  const socketPath = options.socketPath ?? defaultSocketPath();
  if (options.timeoutMs !== undefined && !(Number.isFinite(options.timeoutMs) && options.timeoutMs > 0)) {
    throw new RangeError(`createClient: timeoutMs must be a positive number of ms, got ${options.timeoutMs}`);
  }
  const retryMs = options.connectRetryMs ?? DEFAULT_CONNECT_RETRY_MS;
  if (!(Number.isFinite(retryMs) && retryMs >= 0)) {
    throw new RangeError(
      `createClient: connectRetryMs must be a non-negative number of ms, got ${options.connectRetryMs}`,
    );
  }
  // Go's client: keep-alive on, up to 100 connections, 10 idle (protocol.md §10.2).
  const agent = new Agent({ keepAlive: true, maxSockets: 100, maxFreeSockets: 10, timeout: 90_000 });
  const netPath = toNetPath(socketPath, (reason) => new EngineUnavailableError(socketPath, reason));
  const transport: Transport = createConnectTransport({
    httpVersion: '1.1',
    baseUrl: 'http://unix',
    nodeOptions: { socketPath: netPath, agent },
  });
  const resolver = createConnectClient(resolverv1.ResolverService, transport);
  const management = createConnectClient(pluginsv1.PluginManagementService, transport);
  const health = createConnectClient(healthv1.VersionService, transport);
  const fail = (err: unknown, context: { pattern?: string; plugin?: string }): never => {
    throw toClientError(err, socketPath, context);
  };
  /**
   * Makes one call, again while its connect fails with EAGAIN (nothing reached the engine, so
   * any call may be repeated), within `connectRetryMs` and the call's own deadline and signal.
   */
  const call = async <T>(
    o: CallOptions | undefined,
    context: { pattern?: string; plugin?: string },
    make: (callOptions: { signal?: AbortSignal; timeoutMs?: number }) => Promise<T>,
  ): Promise<T> => {
    const timeoutMs = o?.timeoutMs ?? options.timeoutMs;
    const started = performance.now();
    const deadline = timeoutMs === undefined ? undefined : started + timeoutMs;
    for (let attempt = 0; ; attempt++) {
      const remaining =
        deadline === undefined ? undefined : Math.max(1, Math.ceil(deadline - performance.now()));
      try {
        return await make({
          ...(o?.signal === undefined ? {} : { signal: o.signal }),
          ...(remaining === undefined ? {} : { timeoutMs: remaining }),
        });
      } catch (err) {
        if (!isConnectEagain(err)) return fail(err, context);
        const delay = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** attempt) * (0.5 + Math.random());
        const now = performance.now();
        if (now + delay - started > retryMs || (deadline !== undefined && now + delay >= deadline)) {
          return fail(err, context);
        }
        await sleep(delay, o?.signal).catch((abort: unknown) => fail(abort, context));
      }
    }
  };
  const resolve = async (pattern: string, o?: CallOptions): Promise<Resolution> => {
    parsePattern(pattern); // InvalidPatternError before any I/O
    let header: string | null = null;
    const res = await call(o, { pattern }, (co) =>
      resolver.getSecrets(
        { pattern },
        { ...co, onHeader: (h: Headers) => (header = h.get(FAILURES_HEADER)) },
      ),
    );
    // Drop envelopes with invalid IDs, as Go's client does (§10.2).
    const envelopes = res.envelopes.filter((e) => isValidId(e.id)).map(envelopeFromProto);
    const failures = decodeFailures(header);
    if (envelopes.length === 0) {
      if (failures.length > 0) throw providerFailed('no secret found', 'unavailable', failures);
      throw new NotFoundError();
    }
    return { envelopes, failures };
  };
  return {
    socketPath,
    async getSecrets(pattern, o) {
      return (await resolve(pattern, o)).envelopes;
    },
    resolve,
    async getSecret(id, o) {
      parseId(id); // InvalidIdError before any I/O
      const { envelopes, failures } = await resolve(id, o);
      const exact = envelopes.find((e) => e.id === id);
      if (exact !== undefined) return exact;
      if (failures.length > 0)
        throw providerFailed(`no secret has the ID ${JSON.stringify(id)}`, 'unavailable', failures);
      throw new NotFoundError(`no secret has the ID ${JSON.stringify(id)}`);
    },
    async listPlugins(o) {
      const res = await call(o, {}, (co) => management.listPlugins({}, co));
      const out: PluginStatus[] = [];
      for (const p of res.plugins) {
        const pattern = p.metadata.case === 'secretsProvider' ? p.metadata.value.pattern : undefined;
        // Entries with an invalid name, version or pattern are skipped (§10.2). An empty version
        // and pattern is a plugin that has not registered (a launched plugin that crashed at once
        // or was not launched): kept, so that its status message reaches the user.
        const unregistered = p.version === '' && (pattern === undefined || pattern === '');
        if (!isValidPluginName(p.name)) continue;
        if (!unregistered && !isValidVersion(p.version)) continue;
        if (!unregistered && pattern !== undefined && !isValidPattern(pattern)) continue;
        out.push({
          name: p.name,
          version: p.version,
          pattern: unregistered ? undefined : (pattern as SecretPattern | undefined),
          kind: p.metadata.case === 'accessControlModule' ? 'access-control' : 'secrets-provider',
          disabled: p.disabled,
          external: p.external,
          configurable: p.configurable,
          runStatus: runStatusName(p.runStatus),
          statusMessage: p.statusMessage,
        });
      }
      return out;
    },
    async enablePlugin(name, o) {
      await call(o, { plugin: name }, (co) => management.enablePlugin({ name }, co));
    },
    async disablePlugin(name, o) {
      await call(o, { plugin: name }, (co) => management.disablePlugin({ name }, co));
    },
    async version(o) {
      const res = await call(o, {}, (co) => health.getVersion({}, co));
      return { version: res.version, date: res.date, commitHash: res.commitHash };
    },
    close() {
      agent.destroy();
    },
    [Symbol.dispose]() {
      agent.destroy();
    },
  };
}

function runStatusName(status: pluginsv1.RunStatus): RunStatus {
  switch (status) {
    case pluginsv1.RunStatus.RUNNING:
      return 'running';
    case pluginsv1.RunStatus.STOPPED:
      return 'stopped';
    case pluginsv1.RunStatus.CRASHED:
      return 'crashed';
    case pluginsv1.RunStatus.RETRIES_EXCEEDED:
      return 'retries-exceeded';
    default:
      return 'unspecified';
  }
}

/** True if `err` (or a cause) is connect(2) failing with EAGAIN: the engine's accept backlog is full. */
function isConnectEagain(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const { code, syscall } = e as { code?: unknown; syscall?: unknown };
    if (code === 'EAGAIN' && (syscall === undefined || syscall === 'connect')) return true;
  }
  return false;
}

/** Errors that mean the connection ended before a response: the engine died, restarted or dropped it. */
const CONNECTION_LOST = new Set(['ECONNRESET', 'EPIPE', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET']);

function isConnectionLost(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && CONNECTION_LOST.has(code)) return true;
    if (e.message === 'socket hang up') return true;
  }
  return false;
}

/** Waits `ms`, or rejects with the signal's reason as a `canceled` ConnectError. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) return Promise.reject(ConnectError.from(signal.reason, Code.Canceled));
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(ConnectError.from(signal!.reason, Code.Canceled));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Maps a call failure to the error an application can act on. */
function toClientError(
  err: unknown,
  socketPath: string,
  context: { pattern?: string; plugin?: string },
): Error {
  const dial = dialFailureReason(err);
  if (dial !== undefined) return new EngineUnavailableError(socketPath, dial, { cause: err });
  const ce = ConnectError.from(err);
  // The engine went away mid-call (killed, restarted) or dropped the connection: unavailable,
  // never a generic error. A call the caller cancelled or that ran out of time says so instead.
  if (ce.code !== Code.Canceled && ce.code !== Code.DeadlineExceeded && isConnectionLost(err)) {
    return new EngineUnavailableError(
      socketPath,
      'the connection closed before the engine answered (did it stop, or is it overloaded?)',
      { cause: err },
    );
  }
  switch (ce.code) {
    case Code.NotFound:
      if (context.plugin !== undefined) return new PluginNotFoundError(context.plugin, { cause: ce });
      return new NotFoundError(ce.rawMessage || 'secret not found', { cause: ce });
    case Code.InvalidArgument:
      if (context.pattern !== undefined) {
        return new InvalidPatternError(ce.rawMessage, {
          pattern: context.pattern,
          reason: ce.rawMessage,
          cause: ce,
        });
      }
      break;
    case Code.Unavailable:
    case Code.DeadlineExceeded: {
      // The engine's "nothing found, but plugins failed" carries who failed; a transport failure does not.
      const failures = decodeFailures(ce.metadata.get(FAILURES_HEADER));
      if (failures.length > 0) {
        return new ProviderFailedError(
          ce.rawMessage,
          ce.code === Code.Unavailable ? 'unavailable' : 'deadline_exceeded',
          failures,
          { cause: ce },
        );
      }
      // The engine itself is unavailable: shutting down, or refusing connections over its limits.
      if (ce.code === Code.Unavailable) {
        return new EngineUnavailableError(socketPath, ce.rawMessage || 'unavailable', { cause: ce });
      }
      break;
    }
    case Code.PermissionDenied:
      return new AccessDeniedError(ce.rawMessage || 'access denied', { cause: ce });
    case Code.Unimplemented:
      return new EngineError(
        `the engine at ${socketPath} does not support this call: ${ce.rawMessage}`,
        'unimplemented',
        {
          cause: ce,
        },
      );
    default:
      break;
  }
  return new EngineError(ce.rawMessage || ce.message, codeToString(ce.code), { cause: ce });
}

/** The engine's failed-plugins header (protocol.md §4.2 "Partial answers"): anything malformed is none. */
export const FAILURES_HEADER = 'secrets-engine-failed-plugins';

function decodeFailures(header: string | null): PluginFailure[] {
  if (header === null || header === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(header);
  } catch {
    return [];
  }
  if (!Array.isArray(parsed)) return [];
  const out: PluginFailure[] = [];
  for (const f of parsed) {
    if (typeof f !== 'object' || f === null) continue;
    const { plugin, code, message } = f as Record<string, unknown>;
    if (typeof plugin === 'string' && typeof code === 'string' && typeof message === 'string')
      out.push({ plugin, code, message });
  }
  return out;
}

function providerFailed(
  what: string,
  code: 'unavailable' | 'deadline_exceeded',
  failures: readonly PluginFailure[],
): ProviderFailedError {
  const which = failures.map((f) => `plugin ${JSON.stringify(f.plugin)} ${f.message}`).join('; ');
  return new ProviderFailedError(
    `${what}, but ${failures.length === 1 ? 'a plugin' : 'plugins'} failed: ${which}`,
    code,
    failures,
  );
}

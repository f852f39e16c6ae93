// A client of the engine socket (ours or Docker's Go engine, protocol.md §10.2): HTTP/1.1
// keep-alive over the Unix socket, Connect unary calls, typed errors.
import * as fs from 'node:fs';
import type { Agent } from 'node:http';
import { createConnection, type Socket } from 'node:net';
import { resolve as resolvePath } from 'node:path';
import {
  Code,
  ConnectError,
  createClient as createConnectClient,
  createContextKey,
  createContextValues,
  type Transport,
} from '@connectrpc/connect';
// The Connect wire name of a code (`permission_denied`); safe with the exact @connectrpc/connect pin.
import { codeToString } from '@connectrpc/connect/protocol-connect';
import { healthv1, pluginsv1, resolverv1 } from '@secrets-engine/proto';
import {
  defaultSocketPath,
  type Envelope,
  envelopeFromProto,
  InvalidPatternError,
  isUnsafeSocketPathError,
  isValidId,
  isValidPattern,
  isValidPluginName,
  isValidVersion,
  NotFoundError,
  parseId,
  parsePattern,
  type SecretPattern,
  type UnsafeSocketPathError,
} from '@secrets-engine/secrets';
import {
  checkSocketFolder,
  dialFailureReason,
  isAbstractSocketPath,
  toNetPath,
} from '@secrets-engine/secrets/internal';
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
  /**
   * Makes the Connect transport of every call, instead of the default (connect-node's HTTP/1.1
   * over a keep-alive Agent, Go's client settings). Called once, by createClient, with the socket's
   * `connect()`: use it for every connection, so that each is checked as the default's are.
   * Errors keep their meaning when the transport rejects with the error `connect()` threw or the
   * connection emitted as the cause, and a connection lost before the response with a cause coded
   * ECONNRESET, EPIPE or ERR_STREAM_PREMATURE_CLOSE. For one-shot programs (the CLI: one
   * connection per call); a long-lived application keeps the default.
   */
  transport?: (socket: ClientSocket) => Transport;
}

/** What a `transport` option is given: the engine socket and how to dial it. */
export interface ClientSocket {
  /** The engine socket, as the client names it (`socketPath`). */
  readonly socketPath: string;
  /** The address to dial (an abstract socket's `@` is a NUL byte). */
  readonly netPath: string;
  /**
   * A new connection to the socket, after the check of its folder chain: throws the
   * UnsafeSocketPathError of an unsafe folder, or an ENOENT error (`syscall: 'connect'`) when a
   * folder is missing, without dialling. Dial errors are the socket's 'error' events.
   */
  connect(): Socket;
}

/**
 * The registered symbol of a cheap header lookup a transport's unary response may offer:
 * `response[HEADER_VALUE](name)` answers as `response.header.get(name)` without making a Headers
 * object (@secrets-engine/ipc's lean responses do; the first Headers loads undici).
 */
const HEADER_VALUE = Symbol.for('@secrets-engine/ipc.responseHeaderValue');

/** Backoff of connect retries on EAGAIN: 5 ms, doubling up to 100 ms, each randomised ±50 %. */
const RETRY_FIRST_MS = 5;
const RETRY_MAX_MS = 100;
const DEFAULT_CONNECT_RETRY_MS = 2_000;

export interface CallOptions {
  signal?: AbortSignal;
  /** Overrides the client's timeoutMs for this call. */
  timeoutMs?: number;
  /**
   * getSecrets/getSecret/resolve: ask the plugins, not the engine's answer cache (sent as
   * `Cache-Control: no-cache`; an engine without a cache, Docker's among them, ignores it).
   */
  noCache?: boolean;
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
  const netPath = toNetPath(socketPath, (reason) => new EngineUnavailableError(socketPath, reason));
  let agent: Agent | undefined;
  let transport: Transport;
  if (options.transport !== undefined) {
    const check = socketCheck(socketPath);
    transport = options.transport({
      socketPath,
      netPath,
      connect() {
        check?.();
        return createConnection({ path: netPath });
      },
    });
  } else {
    // Loaded on first call: connect-node loads node:http, node:https, node:http2 and node:zlib,
    // which a program that passes its own transport never needs.
    let stock: Promise<Transport> | undefined;
    const load = (): Promise<Transport> => {
      stock ??= Promise.all([import('node:http'), import('@connectrpc/connect-node')]).then(
        ([http, connectNode]) => {
          // Go's client: keep-alive on, up to 100 connections, 10 idle (protocol.md §10.2).
          agent = checkedAgent(
            socketPath,
            new http.Agent({ keepAlive: true, maxSockets: 100, maxFreeSockets: 10, timeout: 90_000 }),
          );
          return connectNode.createConnectTransport({
            httpVersion: '1.1',
            baseUrl: 'http://unix',
            nodeOptions: { socketPath: netPath, agent },
            // Unknown fields are skipped, never kept (kept, each costs an object: issue 12 item 3).
            binaryOptions: { readUnknownFields: false },
          });
        },
      );
      return stock;
    };
    transport = {
      unary: async (...args) => (await load()).unary(...args),
      stream: async (...args) => (await load()).stream(...args),
    };
  }
  transport = readingFailures(transport);
  const resolver = createConnectClient(resolverv1.ResolverService, transport);
  const management = createConnectClient(pluginsv1.PluginManagementService, transport);
  // Docker's Go engine (and any engine that predates plugins.v1) lists on the OLD route (§4.3).
  const legacyList = createConnectClient(resolverv1.ListService, transport);
  let listRoute: 'plugins.v1' | 'resolver.v1' | undefined;
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
    const sink: FailuresSink = { value: null };
    const res = await call(o, { pattern }, (co) =>
      resolver.getSecrets(
        { pattern },
        {
          ...co,
          ...(o?.noCache === true ? { headers: { 'cache-control': 'no-cache' } } : {}),
          contextValues: createContextValues().set(FAILURES, sink),
        },
      ),
    );
    const header = sink.value;
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
      if (listRoute !== 'resolver.v1') {
        try {
          const res = await call(o, {}, (co) => management.listPlugins({}, co));
          listRoute = 'plugins.v1';
          return fromPluginsV1(res.plugins);
        } catch (e) {
          // A 404 (Unimplemented) from an engine that was never seen to serve plugins.v1: try the
          // OLD route once; the answer decides the route for the client's lifetime.
          if (listRoute === 'plugins.v1' || !(e instanceof EngineError) || e.code !== 'unimplemented')
            throw e;
        }
      }
      const res = await call(o, {}, (co) => legacyList.listPlugins({}, co));
      listRoute = 'resolver.v1';
      return fromResolverV1(res.plugins);
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
      agent?.destroy();
    },
    [Symbol.dispose]() {
      agent?.destroy();
    },
  };
}

function fromPluginsV1(plugins: pluginsv1.Plugin[]): PluginStatus[] {
  const out: PluginStatus[] = [];
  for (const p of plugins) {
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
}

/**
 * The OLD listing (§4.3): name, version, pattern and external only. It lists registered plugins,
 * all of them enabled and running; nothing is configurable through an OLD engine.
 */
function fromResolverV1(plugins: resolverv1.Plugin[]): PluginStatus[] {
  const out: PluginStatus[] = [];
  for (const p of plugins) {
    if (!isValidPluginName(p.name) || !isValidVersion(p.version) || !isValidPattern(p.pattern)) continue;
    out.push({
      name: p.name,
      version: p.version,
      pattern: p.pattern as SecretPattern,
      kind: 'secrets-provider',
      disabled: false,
      external: p.external,
      configurable: false,
      runStatus: 'running',
      statusMessage: '',
    });
  }
  return out;
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

/** Where the failures header of a call goes (its context value FAILURES), read by readingFailures. */
interface FailuresSink {
  value: string | null;
}
const FAILURES = createContextKey<FailuresSink | undefined>(undefined, { description: 'failures header' });

/**
 * Reads the failures header of the calls that ask for it (a FAILURES context value) into their
 * sink: with the response's HEADER_VALUE lookup when it has one, else `response.header`.
 */
function readingFailures(inner: Transport): Transport {
  return {
    async unary(method, signal, timeoutMs, header, input, contextValues) {
      const res = await inner.unary(method, signal, timeoutMs, header, input, contextValues);
      const sink = contextValues?.get(FAILURES);
      if (sink !== undefined) {
        const lookup = (res as { [HEADER_VALUE]?: unknown })[HEADER_VALUE];
        sink.value =
          typeof lookup === 'function'
            ? (lookup as (name: string) => string | null)(FAILURES_HEADER)
            : res.header.get(FAILURES_HEADER);
      }
      return res;
    },
    stream: (...args) => inner.stream(...args),
  };
}

/**
 * The check of the socket's folder chain before every new connection (issue 12 item 5a): a folder
 * that another user could write means the socket there may be theirs, and a client that connects
 * would take their answers for secrets. Throws the UnsafeSocketPathError, or an ENOENT error when a
 * folder is missing; undefined for an abstract socket (no folder).
 */
function socketCheck(socketPath: string): (() => void) | undefined {
  if (isAbstractSocketPath(socketPath)) return undefined;
  const absolute = resolvePath(socketPath);
  return () => {
    const status = checkSocketFolder(absolute, { fs, create: false });
    if (status.status === 'missing') {
      // No folder, so no engine: the words of ENOENT, and nothing dialled.
      throw Object.assign(new Error(`connect ENOENT ${socketPath} (${status.missing} does not exist)`), {
        code: 'ENOENT',
        syscall: 'connect',
      });
    }
  };
}

/** The Agent, with socketCheck before every new connection. A refusal fails that connection only. */
function checkedAgent(socketPath: string, agent: Agent): Agent {
  const check = socketCheck(socketPath);
  if (check === undefined) return agent;
  const connect = agent.createConnection.bind(agent);
  agent.createConnection = (options, callback) => {
    try {
      check();
    } catch (err) {
      callback?.(err as Error, undefined as never);
      return undefined;
    }
    return connect(options, callback);
  };
  return agent;
}

/** The UnsafeSocketPathError in `err`'s cause chain, if any. */
function unsafeSocketPath(err: unknown): UnsafeSocketPathError | undefined {
  let e: unknown = err;
  for (let depth = 0; e instanceof Error && depth < 8; depth++, e = e.cause) {
    if (isUnsafeSocketPathError(e)) return e;
  }
  return undefined;
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
  const unsafe = unsafeSocketPath(err);
  if (unsafe !== undefined) {
    return new EngineUnavailableError(
      socketPath,
      `refusing to connect: ${unsafe.path} ${unsafe.reason}; ${unsafe.allowed}`,
      { cause: unsafe },
    );
  }
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

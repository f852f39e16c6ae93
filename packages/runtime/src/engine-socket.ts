// The engine socket (protocol.md §4): listening on the Unix socket, the public routes (resolver,
// plugin management, the OLD list route, version), the /hijack upgrade for external plugins (§3),
// and the plain-HTTP fallback (/health, 426 for a non-upgrade /hijack, 404). It works on the public
// Engine interface, plus the one thing the interface does not carry: resolution in wire form.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { create } from '@bufbuild/protobuf';
import {
  Code,
  ConnectError,
  createContextKey,
  createContextValues,
  type HandlerContext,
  type Interceptor,
} from '@connectrpc/connect';
import { attachHijackHandler, createConnectHandler, type Logger } from '@secrets-engine/ipc';
import { healthOr404, requestHeaderValue, SMALL_REQUEST_MAX_BYTES } from '@secrets-engine/ipc/internal';
import { healthv1, pluginsv1, resolverv1 } from '@secrets-engine/proto';
import { MAX_ID_LENGTH, parsePattern, parsePluginName, toGoTimestamp } from '@secrets-engine/secrets';
import { toNetPath } from '@secrets-engine/secrets/internal';
import { type AccessControl, type AccessRequest, accessDenied, type Caller, processUid } from './access.js';
import type { AuditRecord, AuditSink } from './audit.js';
import {
  type ConnectionLimiter,
  limitConnections,
  MAX_HEADER_BYTES,
  serverOptions,
} from './connection-limits.js';
import type { Engine } from './engine.js';
import { EngineAlreadyRunningError, EngineConfigError, PluginNotFoundError, RuntimeError } from './errors.js';
import { metadataToProto, runStatusToProto } from './launched.js';
import type { EngineLimits } from './options.js';
import type { PeerReader } from './peer.js';
import type { ProtoEnvelope } from './provider.js';
import {
  codeName,
  encodeFailures,
  FAILURES_HEADER,
  type PluginFailure,
  type ResolutionReport,
} from './resolver.js';
import {
  bindPrivately,
  claimSocketPath,
  removeSocket,
  restrictSocket,
  type SocketClaim,
  socketInode,
} from './socket.js';

export interface EngineSocketInit {
  engine: Engine;
  socketPath: string;
  /** The engine version GetVersion reports. */
  version: string;
  /**
   * Resolution as the wire carries it (envelopes the engine cannot represent pass through, as Go
   * does); `onPartial` hears of the plugins that failed when some envelopes came back anyway.
   */
  resolve(
    pattern: string,
    signal: AbortSignal,
    onPartial: (failures: readonly PluginFailure[]) => void,
    onReport?: (report: ResolutionReport) => void,
    noCache?: boolean,
  ): Promise<ProtoEnvelope[]>;
  /** One record per call (issue 11 item 5); none by default. */
  audit?: AuditSink | undefined;
  /** Whether /hijack exists at all (external plugins on). */
  hijack: boolean;
  /** Whether an upgrade is accepted now (not while closing). */
  acceptsPlugins(): boolean;
  /** A socket that completed the /hijack upgrade, and who the kernel says is on its other end. */
  onPlugin(socket: Socket, peer: { pid: number | undefined; uid: number } | undefined): void;
  /** Decides every call (issue 11): the policy, then the access-control modules. */
  access: AccessControl;
  /** Who is on the other end of a connection; an Error when the kernel cannot tell (fail closed). */
  peer: PeerReader | Error;
  /** Connection bounds (connection-limits.ts) and request admission. */
  limits: EngineLimits;
  /** Admits one call (the result ends it) or throws ConnectError `resource_exhausted`. */
  admit(): () => void;
  logger: Logger;
}

/** The caller of a call, as the kernel reported it for the call's connection (or why it could not). */
export const CALLER = createContextKey<Caller | Error>(new Error('no connection'), {
  description: 'secrets-engine caller',
});

/**
 * The most patterns one Authorize call may carry: 32 of the longest allowed pattern still fit in
 * the engine socket's request limit (SMALL_REQUEST_MAX_BYTES, 64 KiB).
 */
export const MAX_AUTHORIZE_PATTERNS = 32;

/** Filled by a call's handler for its audit record: who was asked and how they did. */
const REPORT = createContextKey<{ report?: ResolutionReport }>(
  {},
  { description: 'secrets-engine resolution report' },
);

export interface EngineSocket {
  /** Stops accepting connections and closes idle ones; requests in progress go on. */
  stopAccepting(): void;
  /** Closes every connection and removes the socket file (only if it is still ours). */
  close(): Promise<void>;
  /** The connection bounds' counters. */
  readonly connections: ConnectionLimiter;
}

/**
 * The accept backlog asked of listen(2); the kernel caps it at `net.core.somaxconn` (4096 on
 * Linux since 5.4). Node's default, 511, made 14% of a 10,000-connect storm fail with EAGAIN.
 */
const LISTEN_BACKLOG = 4096;

/** Listens on `init.socketPath` (EngineAlreadyRunningError when a live engine has it). */
export async function listenEngineSocket(init: EngineSocketInit): Promise<EngineSocket> {
  const { socketPath } = init;
  // The folder checked, the lock held, a stale socket gone (issue 12 item 5); released on close.
  const claim = await claimSocketPath(socketPath);
  try {
    return await listenClaimed(init, claim);
  } catch (err) {
    claim.release();
    throw err;
  }
}

async function listenClaimed(init: EngineSocketInit, claim: SocketClaim): Promise<EngineSocket> {
  const { socketPath } = init;
  // Read once per connection, when it is accepted: the kernel's answer about the peer.
  const callers = new WeakMap<Socket, Caller | Error>();
  const callerOf = (socket: Socket): Caller | Error => {
    let caller = callers.get(socket);
    if (caller === undefined) {
      caller = identify(init.peer, socket);
      callers.set(socket, caller);
    }
    return caller;
  };
  const handler = createConnectHandler({
    routes: (router) => publicRoutes(router, init),
    // Every request is one pattern (Authorize: a few), a name or nothing (issue 12 item 3).
    readMaxBytes: SMALL_REQUEST_MAX_BYTES,
    interceptors: [audited(init), admitted(init), validated, checkAccess(init)],
    contextValues: (req) => createContextValues().set(CALLER, callerOf(req.socket)).set(REPORT, {}),
    fallback: (req, res) => publicFallback(req as IncomingMessage, res as ServerResponse, init.hijack),
  });
  // Header, body and idle timeouts (issue 12 item 2): a slow or silent connection is closed.
  const server = createServer(serverOptions(init.limits), handler);
  // Before any other per-connection work: a refused connection costs no peer lookup.
  const connections = limitConnections(server, init.limits, init.logger);
  server.on('connection', (socket: Socket) => {
    if (connections.admitted(socket)) callerOf(socket);
  });
  const engineUid = processUid();
  attachHijackHandler(server, {
    enabled: () => init.hijack && init.acceptsPlugins(),
    // A plugin answers secrets: only the engine's own uid may join (access policies are for callers).
    refuse: (_req, socket) => {
      const peer = callerOf(socket);
      if (peer instanceof Error) return `refused: the engine cannot tell who you are (${peer.message})`;
      if (peer.uid !== engineUid) {
        init.logger.warn('refused a plugin of another uid on /hijack', { uid: peer.uid, pid: peer.pid });
        return `refused: plugins must run as the engine's uid ${engineUid}, not ${peer.uid}`;
      }
      return undefined;
    },
    onConnection: (socket) => {
      const peer = callerOf(socket);
      init.onPlugin(socket, peer instanceof Error ? undefined : { pid: peer.pid, uid: peer.uid });
    },
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) =>
    answerClientError(err, socket, init.limits),
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'EADDRINUSE'
          ? // A live listener: on an abstract socket, or an engine that takes no lock won the race.
            new EngineAlreadyRunningError(socketPath, {
              cause: err,
              ...(claim.lockPath === undefined ? {} : { lockPath: claim.lockPath, lockFree: true }),
            })
          : new RuntimeError(`cannot listen on ${socketPath}: ${err.message}`, { cause: err }),
      );
    });
    const netPath = toNetPath(socketPath, (message) => new EngineConfigError(message));
    // Born 0600: no other uid can connect at any instant, even under umask 000 (issue 12 item 5b).
    bindPrivately(socketPath, claim, () =>
      server.listen({ path: netPath, backlog: LISTEN_BACKLOG }, () => resolve()),
    );
  });
  restrictSocket(socketPath);
  const inode = socketInode(socketPath);
  init.logger.info('engine listening', { socket: socketPath });
  return socketOf(server, socketPath, inode, claim, connections);
}

/**
 * A request node:http could not parse, or that missed a deadline, gets its status line before the
 * connection closes (issue 12 item 8): 431 for a head over MAX_HEADER_BYTES, 408 for a request
 * that was not received in time, 400 for anything malformed. The body is a Connect error, so a
 * Connect client reports its code and message. Nothing is written once a response has started on
 * the connection, nor to a peer that already went away.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Socket, limits: EngineLimits): void {
  const started = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent;
  if (err.code !== 'ECONNRESET' && socket.writable && started !== true) {
    const [status, reason, code, message] =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? [
            431,
            'Request Header Fields Too Large',
            'resource_exhausted',
            `the request head is larger than ${MAX_HEADER_BYTES} bytes`,
          ]
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [
              408,
              'Request Timeout',
              // Also what a client sees when the engine was too busy to read its request in time.
              'unavailable',
              `the request was not received in time (limits.headersTimeoutMs ${limits.headersTimeoutMs} for its headers, limits.bodyTimeoutMs ${limits.bodyTimeoutMs} for all of it)`,
            ]
          : [400, 'Bad Request', 'invalid_argument', `malformed HTTP request (${err.code ?? err.message})`];
    const body = JSON.stringify({ code, message });
    socket.write(
      `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/** Admission (issue 12 item 6): every call counts against limits.maxRequestsInFlight while it runs. */
function admitted(init: EngineSocketInit): Interceptor {
  return (next) => async (req) => {
    const leave = init.admit();
    try {
      return await next(req);
    } finally {
      leave();
    }
  };
}

function socketOf(
  server: Server,
  socketPath: string,
  inode: number | undefined,
  claim: SocketClaim,
  connections: ConnectionLimiter,
): EngineSocket {
  let closed: Promise<void> | undefined;
  const stopAccepting = () => {
    closed ??= new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
  };
  return {
    connections,
    stopAccepting,
    async close() {
      stopAccepting();
      server.closeAllConnections();
      await closed;
      removeSocket(socketPath, inode);
      claim.release();
    },
  };
}

type Router = Parameters<Parameters<typeof createConnectHandler>[0]['routes']>[0];

function identify(peer: PeerReader | Error, socket: Socket): Caller | Error {
  if (peer instanceof Error) return peer;
  try {
    return peer(socket);
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

/** What a call asks for, in the policy's terms; undefined for a method the policy does not know. */
function accessRequest(method: string, message: unknown): AccessRequest | undefined {
  const m = message as { pattern?: string; patterns?: string[]; name?: string };
  switch (method) {
    case 'GetSecrets':
      return { method: 'GetSecrets', pattern: m.pattern ?? '' };
    case 'Authorize':
      return { method: 'Authorize', patterns: [...(m.patterns ?? [])] };
    case 'ListPlugins':
    case 'GetVersion':
      return { method };
    case 'EnablePlugin':
    case 'DisablePlugin':
      return { method, plugin: m.name ?? '' };
    default:
      return undefined;
  }
}

/**
 * One audit record per call, success or failure (never a value: only IDs, codes and the engine's
 * own messages, serialised from a fixed list of fields by the sink).
 */
function audited(init: EngineSocketInit): Interceptor {
  return (next) => async (req) => {
    const sink = init.audit;
    if (sink === undefined) return next(req);
    const started = performance.now();
    const time = new Date().toISOString();
    const caller = req.contextValues.get(CALLER);
    const message = req.message as { pattern?: unknown; patterns?: unknown };
    const record: AuditRecord = {
      time,
      caller:
        caller instanceof Error
          ? { unknown: caller.message }
          : {
              ...(caller.pid === undefined ? {} : { pid: caller.pid }),
              uid: caller.uid,
              ...(caller.gid === undefined ? {} : { gid: caller.gid }),
              name: caller.name,
              executable: caller.executable,
            },
      method: `${req.service.typeName}/${req.method.name}`,
      // What an invalid call asked for is recorded too, cut to the limits (a valid one is whole).
      ...(typeof message.pattern === 'string' ? { pattern: clip(message.pattern) } : {}),
      ...(Array.isArray(message.patterns)
        ? { patterns: message.patterns.slice(0, MAX_AUTHORIZE_PATTERNS).map((p) => clip(String(p))) }
        : {}),
      decision: 'allow',
      code: 'ok',
      durationMs: 0,
    };
    const finish = () => {
      const report = req.contextValues.get(REPORT).report;
      if (report !== undefined) {
        record.plugins = {
          asked: report.asked,
          answered: report.answered,
          failed: report.failed.map((f) => ({
            plugin: f.plugin,
            code: codeName(f.code),
            message: f.message,
          })),
          ...(report.cached.length > 0 ? { cached: report.cached } : {}),
        };
      }
      record.durationMs = Math.round((performance.now() - started) * 1000) / 1000;
      try {
        sink.write(record);
      } catch (err) {
        init.logger.error('audit sink failed', { error: (err as Error).message });
      }
    };
    try {
      const res = await next(req);
      const envelopes = (res.message as { envelopes?: { id: string }[] }).envelopes;
      if (Array.isArray(envelopes)) {
        record.ids = envelopes.map((e) => e.id);
        record.count = envelopes.length;
      }
      const decision = (res.message as { decision?: unknown }).decision;
      if (req.method.name === 'Authorize' && decision !== resolverv1.Decision.ALLOW) {
        record.decision = 'deny';
      }
      finish();
      return res;
    } catch (err) {
      const ce = ConnectError.from(err);
      record.code = codeName(ce.code);
      record.error = ce.rawMessage;
      if (ce.code === Code.PermissionDenied) {
        record.decision = 'deny';
        record.reason = ce.rawMessage.replace(/^access denied: /, '');
      }
      finish();
      throw err;
    }
  };
}

/** At most MAX_ID_LENGTH characters of `s`, then `…` if there was more (for the audit record). */
function clip(s: string): string {
  return s.length <= MAX_ID_LENGTH ? s : `${s.slice(0, MAX_ID_LENGTH)}…`;
}

/** `parse(value)`, a throw becoming invalid_argument with the parser's message after `where`. */
function valid(where: string, parse: () => unknown): void {
  try {
    parse();
  } catch (err) {
    throw new ConnectError(`${where}${(err as Error).message}`, Code.InvalidArgument);
  }
}

/**
 * What a call carries is checked against the grammar and the size limits before the access
 * policy (or a module) sees it and before its handler runs (issue 12 item 7): invalid_argument
 * naming the field, the limit and the size. (GetSecrets is checked again by resolveSecrets.)
 */
const validated: Interceptor = (next) => async (req) => {
  const m = req.message as { pattern?: string; patterns?: string[]; name?: string };
  switch (req.method.name) {
    case 'GetSecrets':
      valid('', () => parsePattern(m.pattern ?? ''));
      break;
    case 'Authorize': {
      const patterns = m.patterns ?? [];
      if (patterns.length === 0) {
        throw new ConnectError('at least one pattern is required', Code.InvalidArgument);
      }
      if (patterns.length > MAX_AUTHORIZE_PATTERNS) {
        throw new ConnectError(
          `patterns: ${patterns.length} patterns; at most ${MAX_AUTHORIZE_PATTERNS} are allowed in one Authorize call`,
          Code.InvalidArgument,
        );
      }
      patterns.forEach((p, i) => {
        valid(`patterns[${i}]: `, () => parsePattern(p));
      });
      break;
    }
    case 'EnablePlugin':
    case 'DisablePlugin':
      valid('', () => parsePluginName(m.name ?? ''));
      break;
  }
  return next(req);
};

/** Every call on the engine socket is decided before its handler runs (fail closed). */
function checkAccess(init: EngineSocketInit): Interceptor {
  return (next) => async (req) => {
    // A preflight answers its decision in the body (below), whoever asks.
    if (req.method.name === 'Authorize') return next(req);
    const request = accessRequest(req.method.name, req.message);
    if (request === undefined) {
      throw new ConnectError(
        `access denied: ${req.method.name} is not a call the access policy knows`,
        Code.PermissionDenied,
      );
    }
    const caller = req.contextValues.get(CALLER);
    const decision = await init.access.decide(caller, request, req.signal);
    if (!decision.allow) {
      init.logger.warn('access denied', {
        method: req.method.name,
        uid: caller instanceof Error ? undefined : caller.uid,
        pid: caller instanceof Error ? undefined : caller.pid,
        reason: decision.reason,
      });
      throw accessDenied(decision);
    }
    return next(req);
  };
}

/**
 * A request that asks not to be answered from the engine's cache (`get --no-cache`): the HTTP
 * `Cache-Control: no-cache` request header (RFC 9111, section 5.2.1.4: "do not use a stored response
 * without validating it with the origin"). Clients that do not send it, Docker's among them, are
 * unaffected.
 */
export const CACHE_CONTROL_HEADER = 'cache-control';
function bypassesCache(ctx: HandlerContext): boolean {
  const value = requestHeaderValue(ctx, CACHE_CONTROL_HEADER);
  if (value === null) return false;
  return value.split(',').some((d) => {
    const directive = d.trim().toLowerCase();
    return directive === 'no-cache' || directive === 'no-store' || directive === 'max-age=0';
  });
}

function publicRoutes(router: Router, init: EngineSocketInit): void {
  const { engine } = init;
  router.service(resolverv1.ResolverService, {
    getSecrets: async (req, ctx) => {
      const holder = ctx.values.get(REPORT);
      const envelopes = await init.resolve(
        req.pattern,
        ctx.signal,
        (failures) => ctx.responseHeader.set(FAILURES_HEADER, encodeFailures(failures)),
        (report) => {
          holder.report = report;
        },
        bypassesCache(ctx),
      );
      return create(resolverv1.GetSecretsResponseSchema, { envelopes });
    },
  });
  // resolver.v1.AuthorizerService (protocol.md §10.1): would GetSecrets of these patterns be allowed?
  router.service(resolverv1.AuthorizerService, {
    authorize: async (req, ctx) => {
      // `validated` checked the patterns (count, grammar, size) before the policy saw them.
      const decision = await init.access.decide(
        ctx.values.get(CALLER),
        { method: 'Authorize', patterns: [...req.patterns] },
        ctx.signal,
      );
      return create(resolverv1.AuthorizeResponseSchema, {
        decision: decision.allow ? resolverv1.Decision.ALLOW : resolverv1.Decision.DENY,
        expiresAt: toGoTimestamp(undefined),
      });
    },
  });
  router.service(pluginsv1.PluginManagementService, {
    listPlugins: () =>
      create(pluginsv1.ListPluginsResponseSchema, {
        plugins: engine.listPlugins().map((p) =>
          create(pluginsv1.PluginSchema, {
            name: p.name,
            version: p.version ?? '',
            disabled: p.disabled,
            // §7.6: launched and hijacked plugins are both external (Go's flag: not builtin);
            // `configurable` tells a launched plugin (the engine manages it) from a hijacked one.
            external: p.kind !== 'builtin',
            configurable: p.kind !== 'external',
            runStatus: runStatusToProto(p.status),
            statusMessage: p.statusMessage,
            metadata: metadataToProto(p),
          }),
        ),
      }),
    enablePlugin: async (req) => {
      await manage(() => engine.enablePlugin(req.name));
      return {};
    },
    disablePlugin: async (req) => {
      await manage(() => engine.disablePlugin(req.name));
      return {};
    },
  });
  // OLD clients (protocol.md §4.1): registered plugins only.
  router.service(resolverv1.ListService, {
    listPlugins: () =>
      create(resolverv1.ListPluginsResponseSchema, {
        plugins: engine
          .listPlugins()
          .filter((p) => p.status === 'running' && p.version !== undefined && p.pattern !== undefined)
          .map((p) => ({
            name: p.name,
            version: p.version!,
            pattern: p.pattern!,
            external: p.kind !== 'builtin',
          })),
      }),
  });
  router.service(healthv1.VersionService, {
    getVersion: () => ({ version: init.version, date: '', commitHash: '' }),
  });
}

async function manage(fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof PluginNotFoundError) throw new ConnectError(err.message, Code.NotFound);
    throw err;
  }
}

function publicFallback(req: IncomingMessage, res: ServerResponse, hijackEnabled: boolean): void {
  const path = (req.url ?? '').split('?')[0];
  // With external plugins off, /hijack does not exist, whatever the method (protocol.md §3.3).
  if (path === '/hijack' && hijackEnabled) {
    const body = 'use GET /hijack with "Connection: upgrade" and "Upgrade: tcp" to join as a plugin\n';
    res.writeHead(426, {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': String(Buffer.byteLength(body)),
    });
    res.end(body);
    return;
  }
  healthOr404(req, res);
}

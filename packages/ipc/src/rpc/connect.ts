// Connect-RPC over a yamux session, in both directions (protocol.md §2.3): every inbound stream is
// one HTTP/1.1 connection to a Connect router; every outbound call opens a new stream and closes it
// after the response (`Connection: close`), as Go's clients do, so a Go peer's shutdown never waits
// on idle streams of ours.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import {
  Code,
  ConnectError,
  type ConnectRouter,
  type ContextValues,
  type Interceptor,
  type Transport,
} from '@connectrpc/connect';
import type { connectNodeAdapter, createConnectTransport } from '@connectrpc/connect-node';
import { nodeHttp } from '../builtins.js';
import { isIpcError } from '../errors.js';
import { type Logger, silentLogger } from '../logger.js';
import type { MuxStream } from '../mux/mux-stream.js';
import type { MuxSession } from '../mux/session.js';
import { serveStream } from './stream-server.js';
import { createLeanTransport } from './unary-client.js';
import {
  createLeanUnaryHandler,
  createLeanUnaryServer,
  type LeanUnaryServer,
  recordRoutes,
} from './unary-handler.js';

type ConnectNode = typeof import('@connectrpc/connect-node');
let connectNode: Promise<ConnectNode> | undefined;
/**
 * connect-node, loaded on first use: only the stock paths need it (streaming calls, requests the
 * lean path does not take, `lean: false`), and importing it loads node:http2 and node:https (+5 MiB
 * RSS in every plugin, issue 14).
 */
const loadConnectNode = (): Promise<ConnectNode> => {
  connectNode ??= import('@connectrpc/connect-node');
  return connectNode;
};

/** Base URL of every in-IPC Connect client: requests carry `Host: unix` (§2.3). */
export const IPC_BASE_URL = 'http://unix';

/** Default cap on one message, either direction (64 MiB, like protobuf-es's size-delimited reader). */
export const DEFAULT_READ_MAX_BYTES = 64 * 1024 * 1024;

/**
 * The cap on a request whose message is a pattern, a name or a registration (64 KiB: fifty times
 * the largest valid one, a registration of a 128-byte name, a 128-character version and a
 * 1024-character pattern): the engine socket, the registration service on a plugin connection,
 * a provider plugin's GetSecrets (issue 12 item 3). A GetSecrets *response* keeps
 * DEFAULT_READ_MAX_BYTES.
 */
export const SMALL_REQUEST_MAX_BYTES = 64 * 1024;

/**
 * How every message we receive is decoded, on the lean and the stock path: unknown fields are
 * skipped, never kept (kept, a body of 2-byte unknown fields costs ~80× its size: issue 12 item 3).
 */
const DECODE_OPTIONS = {
  binaryOptions: { readUnknownFields: false },
  jsonOptions: { ignoreUnknownFields: true },
} as const;

/** What `createConnectHandler` takes, less `fallback`: an in-IPC server always serves `/health`. */
export interface ServeConnectOptions extends Omit<ConnectHandlerOptions, 'fallback'> {
  logger?: Logger;
}

export interface ConnectServer {
  /** Stops serving new streams; streams already accepted finish. Idempotent. */
  close(): void;
}

/**
 * Serves a Connect router on every stream the peer opens on `session`, plus `GET /health` → 200
 * `ok` (any method), like both Go in-IPC servers (§2.3).
 */
export function serveConnect(session: MuxSession, options: ServeConnectOptions): ConnectServer {
  const logger = options.logger ?? silentLogger;
  const handler = createConnectParts(options);
  // node:http only for the streams the lean path hands over (or every stream without it).
  let server: Server | undefined;
  const http = (): Server => {
    if (server !== undefined) return server;
    server = nodeHttp().createServer(handler.node);
    // Streams are bounded by the session, not by idle timers; HTTP clients here use one stream per
    // call, and a keep-alive client gets the usual 5 s.
    server.keepAliveTimeout = 5_000;
    server.requestTimeout = 0;
    server.on('clientError', (err: Error, socket) => {
      logger.debug('ipc http: bad request on stream', { error: err.message });
      socket.destroy();
    });
    return server;
  };
  const toNode = (stream: MuxStream) => http().emit('connection', stream);
  // The lean stream server needs no IncomingMessage; `contextValues` is made from one, so a server
  // that asks for it gets node:http for every stream.
  const lean = options.contextValues === undefined ? handler.lean : undefined;
  let closed = false;
  session.onStream((stream: MuxStream) => {
    if (closed) {
      stream.destroy();
      return;
    }
    if (lean === undefined) toNode(stream);
    else serveStream(stream, lean, toNode, logger);
  });
  return {
    close() {
      closed = true;
    },
  };
}

export interface ConnectHandlerOptions {
  /** Registers the services this side serves. */
  routes: (router: ConnectRouter) => void;
  interceptors?: Interceptor[];
  /**
   * The largest request message taken, in bytes (default 64 MiB). Size it to the routes served:
   * a larger request is refused with resource_exhausted, before its body is read when it
   * declares its length.
   */
  readMaxBytes?: number;
  /**
   * Serve unary calls on the lean path (default true). false uses connect-node's stock adapter for
   * everything; both are wire-identical (see docs/decisions.md "connect-perf §5").
   */
  lean?: boolean;
  /** Serves what no route matched. Default: `/health` → 200 `ok`, anything else a plain 404. */
  fallback?: NodeHandler;
  /**
   * The context values of each call, made from its request (e.g. who is on the other end of
   * `req.socket`), on the lean and the stock path alike; handlers and interceptors read them
   * from `ctx.values` / `req.contextValues`.
   */
  contextValues?: (req: IncomingMessage) => ContextValues;
}

/**
 * A node:http request handler serving a Connect router: unary calls on the lean path, everything
 * else on connect-node's stock adapter. Used for every in-IPC server and for the engine socket.
 */
export function createConnectHandler(options: ConnectHandlerOptions): NodeHandler {
  return createConnectParts(options).node;
}

/** The node:http handler, and the lean unary server it uses first (none with `lean: false`). */
function createConnectParts(options: ConnectHandlerOptions): {
  node: NodeHandler;
  lean: LeanUnaryServer | undefined;
} {
  const interceptors = options.interceptors ?? [];
  const readMaxBytes = options.readMaxBytes ?? DEFAULT_READ_MAX_BYTES;
  const recorded = recordRoutes(options.routes);
  let adapter: NodeHandler | undefined;
  const stock: NodeHandler = (req, res) => {
    if (adapter !== undefined) {
      adapter(req, res);
      return;
    }
    // The request's body waits, paused, until the adapter reads it.
    loadConnectNode().then(
      (m) => {
        adapter ??= m.connectNodeAdapter({
          routes: recorded.replay,
          interceptors,
          readMaxBytes,
          ...DECODE_OPTIONS,
          fallback: options.fallback ?? healthOr404,
          ...(options.contextValues === undefined
            ? {}
            : { contextValues: (r) => options.contextValues!(r as IncomingMessage) }),
        });
        adapter(req, res);
      },
      (err: unknown) => {
        (res as ServerResponse).destroy(err instanceof Error ? err : new Error(String(err)));
      },
    );
  };
  if (options.lean === false) return { node: stock, lean: undefined };
  const leanOptions = { interceptors, readMaxBytes, contextValues: options.contextValues };
  const lean = createLeanUnaryServer(recorded.unary, leanOptions);
  const leanNode = createLeanUnaryHandler(lean, leanOptions);
  return {
    node: (req, res) => {
      if (!leanNode(req as IncomingMessage, res as ServerResponse)) stock(req, res);
    },
    lean,
  };
}

/** A node:http request handler (connect-node's NodeHandlerFn). */
export type NodeHandler = NonNullable<Parameters<typeof connectNodeAdapter>[0]['fallback']>;

/**
 * The answer to a request no route takes, on every socket we serve: `GET /health` is 200 "ok",
 * anything else is Go's chi 404 ("404 page not found"), byte for byte (protocol.md §3.3).
 */
export const healthOr404: NodeHandler = (req, res) => {
  const path = (req.url ?? '').split('?')[0];
  if (path === '/health') {
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': '2' });
    res.end('ok');
    return;
  }
  res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', 'content-length': '19' });
  res.end('404 page not found\n');
};

export interface SessionTransportOptions {
  interceptors?: Interceptor[];
  readMaxBytes?: number;
  /** Default deadline of every call made through this transport. None by default. */
  defaultTimeoutMs?: number;
  /** Cap on one request message. Default 64 MiB. */
  writeMaxBytes?: number;
  /**
   * Make unary calls on the lean path (default true); false uses connect-node's stock transport.
   * Both send the same bytes that matter: Connect unary POST, application/proto, one stream per call.
   */
  lean?: boolean;
}

/**
 * A Connect transport whose calls each open a new stream on `session` (§2.3). Accepts gzip
 * responses (Go compresses every response). Losing the session surfaces as `unavailable`.
 */
export function createSessionTransport(
  session: MuxSession,
  options: SessionTransportOptions = {},
): Transport {
  const interceptors = [transportLossIsUnavailable, ...(options.interceptors ?? [])];
  const readMaxBytes = options.readMaxBytes ?? DEFAULT_READ_MAX_BYTES;
  const transportOptions: Parameters<typeof createConnectTransport>[0] = {
    httpVersion: '1.1',
    baseUrl: IPC_BASE_URL,
    useBinaryFormat: true,
    interceptors,
    readMaxBytes,
    ...DECODE_OPTIONS,
    nodeOptions: {
      // No agent: one stream per request, `Connection: close`, nothing idle to wait for.
      createConnection: () => session.open({ allowHalfOpen: false }) as never,
    },
  };
  if (options.defaultTimeoutMs !== undefined) transportOptions.defaultTimeoutMs = options.defaultTimeoutMs;
  let made: Transport | undefined;
  const load = async (): Promise<Transport> => {
    made ??= (await loadConnectNode()).createConnectTransport(transportOptions);
    return made;
  };
  const stock: Transport = {
    unary: async (...args) => (await load()).unary(...args),
    stream: async (...args) => (await load()).stream(...args),
  };
  if (options.lean === false) return stock;
  return createLeanTransport(() => session.open(), {
    baseUrl: IPC_BASE_URL,
    interceptors,
    readMaxBytes,
    writeMaxBytes: options.writeMaxBytes ?? DEFAULT_READ_MAX_BYTES,
    defaultTimeoutMs: options.defaultTimeoutMs,
    streamTransport: stock,
  });
}

const TRANSPORT_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'ERR_STREAM_DESTROYED',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

/** True if `err` (or its cause chain) says the connection went away, as opposed to a peer error. */
export function isTransportLoss(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (isIpcError(e)) return true;
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== undefined && TRANSPORT_CODES.has(code)) return true;
    if (e.message === 'socket hang up') return true;
  }
  return false;
}

/**
 * Interceptor: a call that failed because the session or stream went away is `unavailable`
 * (Go clients report `unavailable: session shutdown`), never `unknown`, `internal` or `aborted`.
 * Errors the peer sent over the wire have no cause and pass through unchanged.
 */
export const transportLossIsUnavailable: Interceptor = (next) => async (req) => {
  try {
    return await next(req);
  } catch (err) {
    if (err instanceof ConnectError && err.code === Code.Unavailable) throw err;
    if (err instanceof ConnectError && (err.code === Code.Canceled || err.code === Code.DeadlineExceeded))
      throw err;
    // isTransportLoss walks the cause chain, so a ConnectError wrapping a socket error counts too.
    if (isTransportLoss(err)) {
      const cause = err instanceof ConnectError ? (err.cause ?? err) : err;
      throw new ConnectError(
        `transport: ${(cause as Error).message ?? String(cause)}`,
        Code.Unavailable,
        undefined,
        undefined,
        cause,
      );
    }
    throw err;
  }
};

// The Connect cases of the benchmark, and the server variants the child can run. Adding a variant
// is one line in `connectCases` (and, for a new server, one entry in `servers`), for example:
//
//   yamuxCase('yamux-undici', 'undici client → ipc server, yamux', (s) => createUndiciTransport(s)),
//
// This module is imported by both processes: the parent builds clients from `connectCases`, the
// child builds servers from `servers`. It must stay free of side effects.
import { Agent, type RequestListener } from 'node:http';
import type { ConnectRouter, Transport } from '@connectrpc/connect';
import { connectNodeAdapter, createConnectTransport } from '@connectrpc/connect-node';
import {
  createConnectHandler,
  createSessionTransport,
  type MuxSession,
  serveConnect,
} from '@secrets-engine/ipc';
import {
  DEFAULT_READ_MAX_BYTES,
  IPC_BASE_URL,
  transportLossIsUnavailable,
} from '@secrets-engine/ipc/internal';
import { resolverv1 } from '@secrets-engine/proto';
import { SECRET_VALUE } from './wire.js';

/** The services every server variant serves: GetSecrets answers one small envelope. */
export function benchRoutes(router: ConnectRouter): void {
  router.service(resolverv1.ResolverService, {
    getSecrets(req) {
      return { envelopes: [{ id: req.pattern, value: SECRET_VALUE }] };
    },
  });
}

/** A server implementation, run in a child process of its own. */
export interface ServerVariant {
  /** Serves `routes` on every stream the parent opens on the child's yamux session. */
  yamux(session: MuxSession, routes: (router: ConnectRouter) => void): void;
  /** The node:http handler of the child's plain unix-socket listener. */
  unix(routes: (router: ConnectRouter) => void): RequestListener;
}

/** What the product runs: serveConnect's defaults over yamux, createConnectHandler on unix. */
const ipcServer: ServerVariant = {
  yamux: (session, routes) => {
    serveConnect(session, { routes });
  },
  unix: (routes) => createConnectHandler({ routes }),
};

/** Stock connect-node only: serveConnect without the lean path, connectNodeAdapter on unix. */
const stockServer: ServerVariant = {
  yamux: (session, routes) => {
    serveConnect(session, { routes, lean: false });
  },
  unix: (routes) => connectNodeAdapter({ routes, readMaxBytes: DEFAULT_READ_MAX_BYTES }),
};

/** Server variants by name; each one a case uses runs in a child process of its own. */
export const servers = {
  ipc: ipcServer,
  stock: stockServer,
} satisfies Record<string, ServerVariant>;

export type ServerName = keyof typeof servers;

/** What a client factory gets: the parent's session to the case's child and that child's unix path. */
export interface ClientEnv {
  session: MuxSession;
  socketPath: string;
}

export interface ClientHandle {
  transport: Transport;
  /** Releases pooled connections (agents); called once the case is done for good. */
  close(): void;
}

export interface ConnectCase {
  /** Stable key used in the JSON and by the target ratios. */
  name: string;
  /** One line for the table. */
  label: string;
  over: 'yamux' | 'unix';
  server: ServerName;
  client(env: ClientEnv): ClientHandle;
}

type TransportOrHandle = Transport | ClientHandle;

function toHandle(t: TransportOrHandle): ClientHandle {
  return 'transport' in t ? t : { transport: t, close: () => {} };
}

/** A case whose client talks over the yamux session (parent → child). */
export function yamuxCase(
  name: string,
  label: string,
  client: (session: MuxSession) => TransportOrHandle,
  server: ServerName = 'ipc',
): ConnectCase {
  return { name, label, over: 'yamux', server, client: (env) => toHandle(client(env.session)) };
}

/** A case whose client talks to the child's plain unix-socket listener. */
export function unixCase(
  name: string,
  label: string,
  client: (socketPath: string) => TransportOrHandle,
  server: ServerName = 'ipc',
): ConnectCase {
  return { name, label, over: 'unix', server, client: (env) => toHandle(client(env.socketPath)) };
}

/**
 * A keep-alive agent whose connections are streams of a yamux session (decisions.md "ts-notes §2.3" MuxAgent).
 * MuxStream is half-open capable, so unlike a net.Socket it does not close when the server ends
 * an idle keep-alive stream: the agent would keep it in its free pool and the next request on it
 * would hang. So a stream the peer has ended is destroyed here, and idle streams are closed
 * after 4 s, before the server's 5 s keepAliveTimeout, so the client never reuses a stream the
 * server is closing.
 */
class SessionAgent extends Agent {
  readonly #session: MuxSession;
  constructor(session: MuxSession) {
    super({ keepAlive: true, timeout: 4_000 });
    this.#session = session;
  }
  override createConnection() {
    const stream = this.#session.open();
    stream.once('end', () => stream.destroy());
    return stream;
  }
}

/** Stock connect-node over yamux with a keep-alive agent instead of one stream per call. */
function keepAliveSessionTransport(session: MuxSession): ClientHandle {
  const agent = new SessionAgent(session);
  const transport = createConnectTransport({
    httpVersion: '1.1',
    baseUrl: IPC_BASE_URL,
    useBinaryFormat: true,
    interceptors: [transportLossIsUnavailable],
    readMaxBytes: DEFAULT_READ_MAX_BYTES,
    nodeOptions: { agent },
  });
  return { transport, close: () => agent.destroy() };
}

/** Stock connect-node on a unix socket, keep-alive agent; same options as createSessionTransport. */
/** Stock connect-node on a unix socket with a keep-alive agent (also the engine cases' client). */
export function unixKeepAliveTransport(socketPath: string): ClientHandle {
  // Idle sockets close after 4 s, before the server's 5 s keepAliveTimeout (as in SessionAgent).
  const agent = new Agent({ keepAlive: true, timeout: 4_000 });
  const transport = createConnectTransport({
    httpVersion: '1.1',
    baseUrl: 'http://localhost',
    useBinaryFormat: true,
    interceptors: [transportLossIsUnavailable],
    readMaxBytes: DEFAULT_READ_MAX_BYTES,
    nodeOptions: { agent, socketPath },
  });
  return { transport, close: () => agent.destroy() };
}

/** Case names the ratios refer to. */
export const CONNECT_YAMUX = 'connect-yamux';
export const CONNECT_YAMUX_STOCK = 'connect-yamux-stock';
export const CONNECT_UNIX = 'connect-unix';

/** Every Connect case, in table order. */
export const connectCases: readonly ConnectCase[] = [
  yamuxCase(
    CONNECT_YAMUX,
    'Connect unary over yamux as the product runs it: createSessionTransport → serveConnect',
    (s) => createSessionTransport(s),
  ),
  yamuxCase(
    CONNECT_YAMUX_STOCK,
    'same, both sides stock connect-node (lean: false)',
    (s) => createSessionTransport(s, { lean: false }),
    'stock',
  ),
  yamuxCase(
    'connect-yamux-ka',
    'stock connect-node over yamux, keep-alive agent (no stream per call)',
    keepAliveSessionTransport,
    'stock',
  ),
  unixCase(
    CONNECT_UNIX,
    'stock connect-node on a plain unix socket, keep-alive agent',
    unixKeepAliveTransport,
    'stock',
  ),
];

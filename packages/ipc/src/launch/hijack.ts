// The /hijack upgrade that lets a plugin started by hand join a running engine over the engine's
// own socket (protocol.md §3.2, §3.3).
import * as fs from 'node:fs';
import type { IncomingMessage, Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { resolve as resolvePath } from 'node:path';
import type { Duplex } from 'node:stream';
import {
  checkSocketFolder,
  dialFailureReason,
  isAbstractSocketPath,
  NO_SUCH_SOCKET,
  toNetPath,
} from '@secrets-engine/secrets/internal';
import { DialError, TimeoutError, UpgradeError } from '../errors.js';
import { type Http1Response, Http1ResponseParser } from '../rpc/http1.js';

/** The upgrade request exactly as Go's SDK writes it (§3.2). */
export const HIJACK_REQUEST =
  'GET /hijack HTTP/1.1\r\n' +
  'Host: secrets-engine.localhost\r\n' +
  'User-Agent: Go-http-client/1.1\r\n' +
  'Connection: upgrade\r\n' +
  'Upgrade: tcp\r\n' +
  '\r\n';

/** The engine's answer. Go writes `HTTP/0.0 101`; Go clients check only the code (§3.3). */
export const HIJACK_RESPONSE =
  'HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: tcp\r\n\r\n';

const MAX_RESPONSE_HEAD = 16 * 1024;
const MAX_ERROR_BODY = 4 * 1024;

export interface DialOptions {
  signal?: AbortSignal;
  /** Bound on connect, request and response together. Default 2 s, as Go's hijackTimeout. */
  timeoutMs?: number;
}

/**
 * Connects to a Unix socket (or Linux abstract socket with a leading `@`), once its folder chain
 * passed `checkSocketFolder` (issue 12 item 5a): a folder another user could write may hold their
 * socket, and a plugin that joined it would answer them secrets. Refused with a DialError.
 */
export function dialUnix(socketPath: string, options: DialOptions = {}): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const path = toNetPath(socketPath, (message) => new DialError(message, { path: socketPath }));
    options.signal?.throwIfAborted();
    if (!isAbstractSocketPath(socketPath)) {
      let status: ReturnType<typeof checkSocketFolder>;
      try {
        status = checkSocketFolder(resolvePath(socketPath), { fs, create: false });
      } catch (err) {
        reject(new DialError((err as Error).message, { cause: err, path: socketPath }));
        return;
      }
      if (status.status === 'missing') {
        reject(
          new DialError(`cannot reach the secrets engine at ${socketPath}: ${NO_SUCH_SOCKET}`, {
            path: socketPath,
          }),
        );
        return;
      }
    }
    const socket = connect({ path });
    const onAbort = () => fail(options.signal?.reason ?? new Error('aborted'));
    const cleanup = () => {
      socket.off('connect', onConnect);
      socket.off('error', fail);
      options.signal?.removeEventListener('abort', onAbort);
    };
    const onConnect = () => {
      cleanup();
      resolve(socket);
    };
    function fail(err: unknown) {
      cleanup();
      socket.destroy();
      if (options.signal?.aborted) {
        reject(err);
        return;
      }
      const why = dialFailureReason(err) ?? (err as Error).message ?? String(err);
      reject(
        new DialError(`cannot reach the secrets engine at ${socketPath}: ${why}`, {
          cause: err,
          path: socketPath,
        }),
      );
    }
    socket.once('connect', onConnect);
    socket.once('error', fail);
    options.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Plugin side of §3.2: dials the engine socket, sends the /hijack request, and waits for a 101.
 * Accepts any `HTTP/x.y` version (a Go engine answers `HTTP/0.0 101`), and puts back any bytes
 * that arrived after the response head, so yamux frames sent right after the 101 are not lost.
 */
export async function dialAndUpgrade(socketPath: string, options: DialOptions = {}): Promise<Socket> {
  const timeoutMs = options.timeoutMs ?? 2_000;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = options.signal === undefined ? timeout : AbortSignal.any([options.signal, timeout]);
  let socket: Socket;
  try {
    socket = await dialUnix(socketPath, { signal });
  } catch (err) {
    if (timeout.aborted && !options.signal?.aborted) {
      throw new TimeoutError(`dial ${socketPath}: i/o timeout after ${timeoutMs} ms`, { cause: err });
    }
    throw err;
  }
  try {
    return await upgradeSocket(socket, { signal, timeoutMs, timedOut: () => timeout.aborted });
  } catch (err) {
    socket.destroy();
    throw err;
  }
}

/** Sends the /hijack request on a connected socket and waits for the 101 (§3.2). */
export function upgradeSocket(
  socket: Duplex,
  options: { signal?: AbortSignal; timeoutMs?: number; timedOut?: () => boolean } = {},
): Promise<Socket> {
  const timeoutMs = options.timeoutMs ?? 2_000;
  const signal = options.signal ?? AbortSignal.timeout(timeoutMs);
  const timedOut = options.timedOut ?? (() => options.signal === undefined && signal.aborted);
  return new Promise((resolve, reject) => {
    // The refusal body is read only for its message: bounded, never an error when longer.
    const parser = new Http1ResponseParser({
      maxBody: MAX_ERROR_BODY,
      overflow: 'truncate',
      informational: 'return',
      maxHead: MAX_RESPONSE_HEAD,
    });
    const cleanup = () => {
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      signal.removeEventListener('abort', onAbort);
    };
    const fail = (err: Error) => {
      cleanup();
      reject(err);
    };
    const refused = (status: number, body: Buffer) => {
      fail(new UpgradeError(`unexpected status ${status}: ${body.toString('utf8').trim()}`, { status }));
    };
    const onAbort = () => {
      const status = parser.status;
      if (status !== undefined) {
        refused(status, parser.partialBody());
        return;
      }
      fail(
        timedOut()
          ? new TimeoutError(`upgrade on /hijack: i/o timeout after ${timeoutMs} ms without a response`)
          : (signal.reason as Error),
      );
    };
    const onError = (err: Error) =>
      fail(new UpgradeError(`upgrade on /hijack failed: ${err.message}`, { cause: err }));
    const onClose = () => {
      const status = parser.status;
      if (status !== undefined) refused(status, parser.partialBody());
      else
        fail(
          new UpgradeError('upgrade on /hijack failed: the engine closed the connection without a response'),
        );
    };
    const onData = (chunk: Buffer) => {
      let response: Http1Response | undefined;
      try {
        response = parser.push(chunk);
      } catch (err) {
        fail(new UpgradeError(`upgrade on /hijack failed: ${(err as Error).message}`, { cause: err }));
        return;
      }
      if (response === undefined) return;
      if (response.status !== 101) {
        refused(response.status, response.body);
        return;
      }
      cleanup();
      const rest = parser.rest();
      // Stop the flow without pausing explicitly, as node:http does for 'upgrade' sockets: bytes
      // are buffered until the caller reads, and its first 'data' listener starts the flow. An
      // explicit pause() would leave a plain `on('data')` (yamux's SocketConn) waiting forever.
      (socket as { readableFlowing: boolean | null }).readableFlowing = null;
      if (rest.length > 0) socket.unshift(rest);
      resolve(socket as Socket);
    };
    if (signal.aborted) {
      onAbort();
      return;
    }
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
    signal.addEventListener('abort', onAbort, { once: true });
    socket.write(HIJACK_REQUEST);
  });
}

export interface HijackHandlerOptions {
  /** The route. Default '/hijack'. */
  path?: string;
  /** When this returns false, the route answers 404 like a Go engine with external plugins off. */
  enabled?: () => boolean;
  /**
   * Why this peer may not join (e.g. another uid), or undefined to accept it. A refusal answers
   * `403 Forbidden` with the reason as its body, before any upgrade.
   */
  refuse?: (request: IncomingMessage, socket: Socket) => string | undefined;
  /** Receives the raw socket after the 101 was written; `head` bytes were put back already. */
  onConnection: (socket: Socket, request: IncomingMessage) => void;
}

/**
 * Engine side of §3.3, for a node:http Server: takes over the socket of an upgrade request on
 * /hijack (node hands it over detached from the HTTP parser, before anything is written), keeps
 * the `head` bytes, writes the 101 and passes the raw socket on. Ordinary requests on the same
 * server are unaffected. Returns a function that removes the handler.
 */
export function attachHijackHandler(server: Server, options: HijackHandlerOptions): () => void {
  const path = options.path ?? '/hijack';
  const listener = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = request.url ?? '';
    const route = url.split('?')[0];
    if (route !== path || (options.enabled !== undefined && !options.enabled())) {
      socket.end(
        'HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 19\r\nConnection: close\r\n\r\n404 page not found\n',
      );
      return;
    }
    const refusal = options.refuse?.(request, socket as Socket);
    if (refusal !== undefined) {
      const body = `${refusal}\n`;
      socket.end(
        `HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
      );
      return;
    }
    if (head.length > 0) socket.unshift(head);
    // node:http server sockets allow half-open; a hijacked conn does not (Go closes it on EOF).
    // Without this, the plugin's close leaves the engine's session half-open until a write fails.
    socket.allowHalfOpen = false;
    socket.write(HIJACK_RESPONSE);
    options.onConnection(socket as Socket, request);
  };
  server.on('upgrade', listener);
  return () => {
    server.off('upgrade', listener);
  };
}

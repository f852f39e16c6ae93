// Bounds on the engine socket's connections (issue 12 item 2): a same-user client that opens
// connections and never finishes a request, or opens thousands and idles, must not hold the
// engine's file descriptors, so that a plugin restart (a spawn, a socketpair, pipes) always finds
// some. Four mechanisms:
//  - node:http's timeouts, checked every `checkIntervalMs`: headers (`headersTimeout`), the whole
//    request (`requestTimeout`), and keep-alive idleness (`keepAliveTimeout`);
//  - a cap on open connections: at the cap a new connection takes the place of the longest-idle
//    keep-alive connection (one with no request in progress); with none idle it is refused;
//  - a reserve of file descriptors: while the open descriptors are within `fdReserve` of the soft
//    RLIMIT_NOFILE, a new connection is refused the same way (idle connections go first);
//  - a refused connection never reaches node:http (no parser, no peer lookup): it gets `503` with a
//    Connect error body, then is closed once the client has read it (at most LINGER_MS, and at
//    most MAX_LINGERING such connections at once), or at once when descriptors are short.
import { readdirSync, readFileSync } from 'node:fs';
import type { Server, ServerOptions } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '@secrets-engine/ipc';
import type { EngineLimits } from './options.js';

/** The largest request head node:http accepts (its own default); a larger one is answered 431. */
export const MAX_HEADER_BYTES = 16 * 1024;

/** How long a refused connection may stay open so that its client reads the 503 (not its reset). */
const LINGER_MS = 1_000;
/** Refused connections lingering at once; beyond, they are closed at once. */
const MAX_LINGERING = 256;

/** node:http server options for these limits (the timeouts must be given at creation). */
export function serverOptions(limits: EngineLimits): ServerOptions {
  return {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.bodyTimeoutMs,
    keepAliveTimeout: limits.idleTimeoutMs,
    // node:http checks the header and request deadlines on this interval (default 30 s): a
    // deadline is enforced within about a quarter of itself, at most a second late.
    connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(limits.headersTimeoutMs / 4))),
    maxHeaderSize: MAX_HEADER_BYTES,
  };
}

export interface ConnectionStats {
  /** Connections open now (clients and upgraded /hijack connections). */
  open: number;
  /** Of those, keep-alive connections with no request in progress. */
  idle: number;
  /** Connections refused since the start (over the cap or short of descriptors). */
  refused: number;
  /** Idle connections closed to make room for a new one. */
  evicted: number;
}

export interface ConnectionLimiter {
  /** Whether `socket` was let in (false: it is being closed; do no work for it). */
  admitted(socket: Socket): boolean;
  stats(): ConnectionStats;
}

interface Tracked {
  requests: number;
}

/**
 * Installs the cap and the descriptor reserve on `server`, in front of node:http's own handling of
 * a connection. 'connection' listeners added later (peer credentials) run for every connection and
 * should skip the sockets for which `admitted()` is false.
 */
export function limitConnections(
  server: Server,
  limits: Pick<EngineLimits, 'maxConnections' | 'fdReserve'>,
  logger: Logger,
  fds: FdProbe = systemFdProbe(),
): ConnectionLimiter {
  const open = new Map<Socket, Tracked>();
  /** Keep-alive connections with no request in progress, longest idle first. */
  const idle = new Set<Socket>();
  const refusedSockets = new WeakSet<Socket>();
  let refused = 0;
  let evicted = 0;
  let lingering = 0;
  let lastWarning = 0;
  const softLimit = fds.softLimit();
  // Below this many connections the descriptor table cannot be near its limit unless something
  // else holds most of it; counting /proc/self/fd only from here keeps the common path free.
  const checkFrom =
    softLimit === undefined ? Number.POSITIVE_INFINITY : Math.floor((softLimit - limits.fdReserve) / 4);

  const shortOfFds = (): boolean => {
    if (softLimit === undefined || open.size < checkFrom) return false;
    const used = fds.openCount();
    // Cannot even count (EMFILE on the directory itself): as short as can be.
    return used === undefined || used >= softLimit - limits.fdReserve;
  };

  const evictIdle = (): boolean => {
    const oldest = idle.values().next();
    if (oldest.done) return false;
    idle.delete(oldest.value);
    // Out of the count now: its 'close' comes a tick later, after the new connection is counted.
    open.delete(oldest.value);
    evicted++;
    oldest.value.destroy();
    return true;
  };

  const refuse = (socket: Socket, why: string, linger: boolean) => {
    refused++;
    refusedSockets.add(socket);
    socket.on('error', () => {});
    const now = Date.now();
    // One line per second at most: a flood must not become a log flood.
    if (now - lastWarning >= 1_000) {
      lastWarning = now;
      logger.warn('refusing connections on the engine socket', { reason: why, open: open.size, refused });
    }
    const body = JSON.stringify({ code: 'unavailable', message: `the secrets engine is busy: ${why}` });
    const response =
      'HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    if (!linger || lingering >= MAX_LINGERING) {
      // Best effort: a client still writing its request may see a reset instead.
      if (socket.writable) socket.write(response);
      socket.destroy();
      return;
    }
    // Closing with the request unread would reset the connection before the client reads the
    // answer: end our side, discard what comes, and close when the client does (or LINGER_MS).
    lingering++;
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    timer.unref();
    socket.once('close', () => {
      lingering--;
      clearTimeout(timer);
    });
    socket.end(response);
    socket.resume();
  };

  const admit = (socket: Socket): boolean => {
    if (open.size >= limits.maxConnections && !evictIdle()) {
      refuse(
        socket,
        `${open.size} connections open, its limit (limits.maxConnections ${limits.maxConnections})`,
        !shortOfFds(),
      );
      return false;
    }
    // Short of descriptors: an idle connection makes room (its descriptor is closed at once), else refuse.
    if (shortOfFds() && !evictIdle()) {
      refuse(
        socket,
        `its open file descriptors are within limits.fdReserve (${limits.fdReserve}) of their limit ${softLimit}`,
        false,
      );
      return false;
    }
    const tracked: Tracked = { requests: 0 };
    open.set(socket, tracked);
    socket.once('close', () => {
      open.delete(socket);
      idle.delete(socket);
    });
    return true;
  };

  // node:http's own 'connection' listener (it attaches the HTTP parser) runs only for the
  // connections let in: refused ones cost no parsing and can never become a request.
  const http = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    if (admit(socket)) for (const listener of http) listener.call(server, socket);
  });
  server.on('request', (req, res) => {
    const socket = req.socket as Socket;
    const tracked = open.get(socket);
    if (tracked === undefined) return;
    tracked.requests++;
    idle.delete(socket);
    res.once('close', () => {
      tracked.requests--;
      // Idle again: the newest idle goes last (Set order), so the oldest is evicted first.
      if (tracked.requests === 0 && !socket.destroyed && open.has(socket)) idle.add(socket);
    });
  });
  // An upgraded connection (/hijack) is a plugin's for its lifetime: counted, never idle.
  server.on('upgrade', (req) => idle.delete(req.socket as Socket));

  return {
    admitted: (socket) => !refusedSockets.has(socket),
    stats: () => ({ open: open.size, idle: idle.size, refused, evicted }),
  };
}

/** How many descriptors the process may have and has open; undefined where it cannot tell. */
export interface FdProbe {
  softLimit(): number | undefined;
  openCount(): number | undefined;
}

/** Linux: /proc/self/limits and /proc/self/fd; macOS: /dev/fd for the count, no limit (only the cap applies). */
export function systemFdProbe(platform: NodeJS.Platform = process.platform): FdProbe {
  const fdDir = platform === 'linux' ? '/proc/self/fd' : platform === 'darwin' ? '/dev/fd' : undefined;
  return {
    softLimit: () => (platform === 'linux' ? readSoftFdLimit() : undefined),
    openCount: () => {
      if (fdDir === undefined) return undefined;
      try {
        // One of the entries is the directory being read.
        return readdirSync(fdDir).length - 1;
      } catch {
        return undefined;
      }
    },
  };
}

/** The soft RLIMIT_NOFILE from /proc/self/limits (`Max open files  <soft>  <hard>  files`). */
export function readSoftFdLimit(limitsText?: string): number | undefined {
  let text = limitsText;
  if (text === undefined) {
    try {
      text = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return undefined;
    }
  }
  const line = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  if (line === null || line[1] === 'unlimited') return undefined;
  const soft = Number(line[1]);
  return Number.isInteger(soft) && soft > 0 ? soft : undefined;
}

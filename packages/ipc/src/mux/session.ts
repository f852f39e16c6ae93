// A yamux session over one Node duplex socket: the single multiplexed connection between an
// engine and a plugin (protocol.md §2). Roles follow §2.1: the plugin is the yamux client (odd
// stream ids), the engine the server. Close follows §2.4: GoAway, drain, close.
import type { Duplex } from 'node:stream';
import { yamux } from '@chainsafe/libp2p-yamux';
import type { Logger as Libp2pLogger, Stream } from '@libp2p/interface';
import { SessionClosedError, TransportClosedError } from '../errors.js';
import { type Logger, silentLogger, toLibp2pLogger } from '../logger.js';
import { resolveSessionInit } from './config.js';
import { MuxStream, type YamuxStreamLike } from './mux-stream.js';
import { ensurePolyfills } from './polyfill.js';
import { SocketConn } from './socket-conn.js';
import {
  ackInboundStream,
  assertPatchable,
  clampFrameSize,
  ignoreStalePingAcks,
  keepStreamsOnGoAway,
  onOutboundAck,
  skipUselessWindowUpdates,
  type YamuxMuxerInternals,
} from './yamux-fixes.js';

/** Which end of the session this is (protocol.md §2.1). */
export type SessionRole = 'client' | 'server';

export interface MuxSessionInit {
  /** 'client' for a plugin (odd stream ids), 'server' for the engine (even stream ids). */
  role: SessionRole;
  logger?: Logger;
  /** Keep-alive ping interval. Default 30 s, like hashicorp/yamux. */
  keepAliveIntervalMs?: number;
  /** Largest receive window a stream may grow to. Default 4 MiB. */
  maxStreamWindowSize?: number;
  /** Largest data frame this side sends (decisions.md "P9"). Default 256 KiB. */
  maxFrameSize?: number;
  /**
   * Outbound streams that may wait for the peer's ACK at once. Go's accept backlog is 256: a 257th
   * un-ACKed SYN is reset (decisions.md "yamux mismatch 3"). Further opens queue. Default 256.
   */
  maxPendingOpens?: number;
  /** Inbound streams open at once before new ones are reset. Default 4096. */
  maxInboundStreams?: number;
  /** How long `close()` waits for open streams to drain (§2.4). Default 2 s. */
  closeTimeoutMs?: number;
  /** Coalesce the yamux frames written in one event-loop turn into one write. Default true (measured: -14% CPU per Connect call). */
  batchWrites?: boolean;
}

/** Why a session ended. */
export type SessionCloseReason =
  /** `close()` or `abort()` was called on this side. */
  | { kind: 'local'; error?: Error }
  /** The peer closed the connection (EOF), with or without a GoAway first. */
  | { kind: 'peer'; goAwayCode?: number }
  /** The socket failed or the peer broke the protocol. */
  | { kind: 'error'; error: Error };

export interface OpenOptions {
  /** See MuxStreamInit.allowHalfOpen. Default true (yamux half-close semantics). */
  allowHalfOpen?: boolean;
}

export interface CloseOptions {
  /** Override the drain timeout of this close. */
  timeoutMs?: number;
  /** Aborting stops waiting for the drain and closes at once. */
  signal?: AbortSignal;
}

export interface MuxSession {
  readonly role: SessionRole;
  /** 'open', 'draining' once either side sent GoAway, 'closed' once the socket is gone. */
  readonly status: 'open' | 'draining' | 'closed';
  /** Streams currently open in either direction. */
  readonly numStreams: number;
  /** Resolves once the session has ended, with the reason. Never rejects. */
  readonly closed: Promise<SessionCloseReason>;
  /**
   * Opens a stream. Synchronous, so it can serve as `createConnection` for node:http; throws
   * SessionClosedError at once when the session is closing or closed (decisions.md "P12").
   */
  open(options?: OpenOptions): MuxStream;
  /**
   * Sets the handler for streams the peer opens. Streams that arrived before (for example in the
   * upgrade's `head` bytes) are queued and handed over now (decisions.md "P11").
   */
  onStream(handler: (stream: MuxStream) => void): void;
  /** Measures one keep-alive round trip, in milliseconds. */
  ping(options?: { signal?: AbortSignal }): Promise<number>;
  /** Graceful close: GoAway, wait for open streams (bounded), then close the socket. Idempotent. */
  close(options?: CloseOptions): Promise<void>;
  /** Immediate close: resets every open stream and destroys the socket. Idempotent. */
  abort(error?: Error): void;
  [Symbol.asyncDispose](): Promise<void>;
}

type MuxerHandle = YamuxMuxerInternals & {
  createStream(): Promise<Stream>;
  ping(options?: { signal?: AbortSignal }): Promise<number>;
};

/** Socket error codes that only mean the peer closed its end first (see #onSocketClose). */
const PEER_GONE_CODES = new Set(['EPIPE', 'ECONNRESET']);

/** Swallows the error of a queued inbound stream that no handler owns yet (see onStream). */
function ignoreEarlyError(): void {}

/**
 * Creates a yamux session over `socket`. The session owns the socket from now on. Invalid options
 * throw a SessionConfigError before the socket is touched.
 */
export function createMuxSession(socket: Duplex, init: MuxSessionInit): MuxSession {
  return new Session(socket, init);
}

class Session implements MuxSession {
  readonly role: SessionRole;
  readonly closed: Promise<SessionCloseReason>;
  #resolveClosed!: (reason: SessionCloseReason) => void;
  #reason: SessionCloseReason | undefined;
  #status: 'open' | 'draining' | 'closed' = 'open';
  #socket: Duplex;
  #conn: SocketConn;
  #muxer: MuxerHandle;
  #logger: Logger;
  #handler: ((stream: MuxStream) => void) | undefined;
  #early: MuxStream[] = [];
  #permits: number;
  #waiting: Array<() => void> = [];
  #closeTimeoutMs: number;
  #closing: Promise<void> | undefined;
  #drained: (() => void) | undefined;

  constructor(socket: Duplex, options: MuxSessionInit) {
    const init = resolveSessionInit(options);
    ensurePolyfills();
    this.role = init.role;
    this.#socket = socket;
    this.#logger = init.logger ?? silentLogger;
    this.#permits = init.maxPendingOpens;
    this.#closeTimeoutMs = init.closeTimeoutMs;
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });

    const log = toLibp2pLogger(this.#logger) as unknown as Libp2pLogger;
    this.#conn = new SocketConn({
      socket,
      direction: init.role === 'client' ? 'outbound' : 'inbound',
      log,
      onSocketClose: (error) => this.#onSocketClose(error),
      batchWrites: init.batchWrites,
    });
    this.#conn.addEventListener('close', (evt) => {
      const error = (evt as Event & { error?: Error }).error;
      // The muxer aborts the connection on a protocol violation: remember why.
      if (error !== undefined && this.#reason === undefined) this.#reason = { kind: 'error', error };
    });

    const maxWindow = init.maxStreamWindowSize;
    const muxer = yamux({
      enableKeepAlive: true,
      keepAliveInterval: init.keepAliveIntervalMs,
      maxInboundStreams: init.maxInboundStreams,
      // Opens are throttled by #permits instead; libp2p would throw rather than wait.
      maxOutboundStreams: Number.MAX_SAFE_INTEGER,
      streamOptions: {
        // initialStreamWindowSize stays at the spec's 256 KiB: anything larger breaks Node→Go.
        maxStreamWindowSize: maxWindow,
        // A paused reader may still receive a whole window: never abort it for that (decisions.md "P5").
        maxReadBufferLength: maxWindow * 2,
        // Streams live as long as their call; the session, not an idle timer, bounds them.
        inactivityTimeout: 0,
      },
    })().createStreamMuxer(this.#conn as never);
    assertPatchable(muxer);
    this.#muxer = muxer as unknown as MuxerHandle;
    keepStreamsOnGoAway(this.#muxer, (code) => this.#onRemoteGoAway(code));
    ignoreStalePingAcks(this.#muxer);
    clampFrameSize(this.#muxer, init.maxFrameSize);
    skipUselessWindowUpdates(this.#muxer);

    (muxer as unknown as EventTarget).addEventListener('stream', (evt) => {
      const stream = (evt as CustomEvent<YamuxStreamLike>).detail;
      ackInboundStream(stream);
      this.#track(stream);
      const duplex = new MuxStream(stream);
      if (this.#handler !== undefined) {
        this.#handler(duplex);
      } else {
        // Fix "early stream errors": a queued stream has no owner yet, so a reset by the peer or an
        // abort of the session would emit 'error' with no listener: an uncaught exception. Hold a
        // listener until onStream() hands the stream over.
        duplex.on('error', ignoreEarlyError);
        this.#early.push(duplex);
      }
    });
  }

  get status() {
    return this.#status;
  }

  get numStreams(): number {
    return this.#muxer.streams.length;
  }

  open(options: OpenOptions = {}): MuxStream {
    if (this.#status !== 'open') {
      throw new SessionClosedError(
        this.#status === 'closed' ? 'session is closed' : 'session is shutting down (GoAway)',
      );
    }
    return new MuxStream(
      this.#openStream(),
      options.allowHalfOpen === undefined ? {} : { allowHalfOpen: options.allowHalfOpen },
    );
  }

  onStream(handler: (stream: MuxStream) => void): void {
    this.#handler = handler;
    const early = this.#early;
    this.#early = [];
    for (const stream of early) {
      stream.off('error', ignoreEarlyError);
      // A stream that died while queued (reset, session gone) is of no use to the handler.
      if (!stream.destroyed) handler(stream);
    }
  }

  async ping(options: { signal?: AbortSignal } = {}): Promise<number> {
    if (this.#status === 'closed') throw new SessionClosedError('session is closed');
    return this.#muxer.ping(options);
  }

  close(options: CloseOptions = {}): Promise<void> {
    this.#closing ??= this.#close(options);
    return this.#closing;
  }

  abort(error?: Error): void {
    if (this.#status === 'closed') return;
    this.#reason ??= error === undefined ? { kind: 'local' } : { kind: 'local', error };
    this.#status = 'closed';
    this.#failWaiting();
    this.#muxer.keepAlive?.stop();
    const err = error ?? new SessionClosedError('session aborted');
    for (const stream of [...this.#muxer.streams]) stream.abort(err);
    this.#socket.destroy();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // --- internals ---

  async #close(options: CloseOptions): Promise<void> {
    if (this.#status === 'closed') {
      await this.closed;
      return;
    }
    this.#reason ??= { kind: 'local' };
    const muxer = this.#muxer;
    if (this.#status === 'open') {
      this.#status = 'draining';
      this.#failWaiting();
    }
    // Go's teardown: GoAway(0) first, so the peer stops opening streams but finishes its calls.
    // Fix "GoAway after the peer's GoAway": this used to be skipped when the peer had sent its
    // GoAway first (status already 'draining'), which let the peer keep opening streams into our
    // drain; Go's Close() always sends it (§2.4 step 1).
    if (muxer.localGoAway === undefined) muxer.sendGoAway(0);
    await this.#drain(options.timeoutMs ?? this.#closeTimeoutMs, options.signal);
    if (muxer.streams.length > 0) {
      this.#logger.debug('close: drain timeout expired', { open: muxer.streams.length });
      for (const stream of [...muxer.streams]) stream.abort(new SessionClosedError('session closed'));
    }
    muxer.keepAlive?.stop();
    this.#status = 'closed';
    // End our side and give the peer a moment to close its side, then make sure the fd is gone.
    const socket = this.#socket;
    if (!socket.destroyed) {
      socket.end();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          socket.destroy();
          resolve();
        }, 250);
        timer.unref();
        socket.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    await this.closed;
  }

  #drain(timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
    if (this.#muxer.streams.length === 0 || timeoutMs <= 0 || signal?.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.#drained = undefined;
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      signal?.addEventListener('abort', done, { once: true });
      this.#drained = done;
    });
  }

  #track(stream: YamuxStreamLike): void {
    stream.addEventListener(
      'close',
      () => {
        if (this.#drained !== undefined && this.#muxer.streams.length === 0) this.#drained();
      },
      { once: true },
    );
  }

  #openStream(): Promise<YamuxStreamLike> {
    if (this.#permits > 0) {
      this.#permits--;
      return this.#create();
    }
    return new Promise<void>((resolve, reject) => {
      this.#waiting.push(() => {
        if (this.#status !== 'open')
          reject(new SessionClosedError('session closed before the stream opened'));
        else resolve();
      });
    }).then(() => this.#create());
  }

  async #create(): Promise<YamuxStreamLike> {
    let stream: YamuxStreamLike;
    try {
      stream = (await this.#muxer.createStream()) as YamuxStreamLike;
    } catch (err) {
      this.#release();
      throw this.#status === 'open'
        ? err
        : new SessionClosedError('session closed before the stream opened', { cause: err });
    }
    onOutboundAck(stream, () => this.#release());
    this.#track(stream);
    return stream;
  }

  #release(): void {
    const next = this.#waiting.shift();
    if (next !== undefined) next();
    else this.#permits++;
  }

  #failWaiting(): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const next of waiting) next();
  }

  #onRemoteGoAway(code: number): void {
    this.#logger.debug('peer sent GoAway', { code });
    if (this.#status === 'open') {
      this.#status = 'draining';
      this.#failWaiting();
    }
    if (code === 0) {
      this.#reason ??= { kind: 'peer', goAwayCode: 0 };
      return;
    }
    this.#reason ??= { kind: 'error', error: new Error(`peer sent GoAway with error code ${code}`) };
    // Fix "GoAway error teardown": hashicorp ends the whole session on GoAway codes 1/2. The
    // muxer's abort (which runs right after this callback) only resets the streams and leaves
    // the socket open, so the session stayed 'draining' and `closed` never resolved. Close the
    // socket once the muxer has sent its resets.
    queueMicrotask(() => this.#socket.destroy());
  }

  #onSocketClose(socketError: Error | undefined): void {
    this.#status = 'closed';
    this.#failWaiting();
    // Fix "EPIPE is the peer leaving": when the peer destroys its end first, our next write (a ping
    // ACK, a window update) fails with EPIPE, or a read with ECONNRESET. That is the peer going
    // away, not a failure of ours; Go filters EPIPE and EOF the same way (protocol.md §2.4).
    if (socketError !== undefined && PEER_GONE_CODES.has((socketError as NodeJS.ErrnoException).code ?? '')) {
      socketError = undefined;
    }
    if (socketError !== undefined && (this.#reason === undefined || this.#reason.kind === 'peer')) {
      this.#reason = { kind: 'error', error: socketError };
    }
    const reason = this.#reason ?? { kind: 'peer' };
    // Streams whose peer had not finished sending fail loudly; hashicorp's Close() sends no GoAway,
    // so without this they would see a clean EOF (decisions.md "P10"). Finished ones keep their data.
    const error = new TransportClosedError(
      reason.kind === 'local' ? 'mux session closed' : 'mux transport closed: the peer went away',
    );
    for (const stream of [...this.#muxer.streams]) {
      if (stream.remoteWriteStatus !== 'closed') stream.abort(error);
    }
    this.#reason = reason;
    this.#logger.debug('session closed', { reason: reason.kind });
    // Resolve after the muxer has processed the close (its listener runs after ours).
    queueMicrotask(() => this.#resolveClosed(reason));
  }
}

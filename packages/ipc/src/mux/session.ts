// A yamux session over one Node duplex socket: the single multiplexed connection between an
// engine and a plugin (protocol.md §2). Roles follow §2.1: the plugin is the yamux client (odd
// stream ids), the engine the server. Close follows §2.4: GoAway, drain, close.
import type { Duplex } from 'node:stream';
import { yamux } from '@chainsafe/libp2p-yamux';
import type { Logger as Libp2pLogger, Stream } from '@libp2p/interface';
import {
  ProtocolViolationError,
  SessionBufferLimitError,
  SessionClosedError,
  TimeoutError,
  TransportClosedError,
} from '../errors.js';
import { type Logger, silentLogger, toLibp2pLogger } from '../logger.js';
import { INITIAL_STREAM_WINDOW, resolveSessionInit } from './config.js';
import { guardBufferedBytes, guardFrameHeaders } from './guards.js';
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
  /**
   * A keep-alive ping the peer has not answered within this time ends the session (TimeoutError):
   * the peer is frozen or stopped reading. Opening a stream after the peer has been silent this
   * long pings at once, so a stuck peer costs a call at most about twice this, not its deadline.
   * It counts once the peer has sent its first bytes (before that it may still be starting: bound
   * that with your own deadline, as the engine's registration timeout does).
   * Default 10 s (hashicorp's ConnectionWriteTimeout, also its ping-reply timeout).
   */
  keepAliveTimeoutMs?: number;
  /**
   * The socket needing draining this long without a single write completing ends the session
   * (TimeoutError): the peer stopped reading. Default 10 s (hashicorp's ConnectionWriteTimeout).
   */
  writeTimeoutMs?: number;
  /**
   * Most bytes the peer may make this session hold unread: the data waiting on all its streams
   * plus a partly received frame. Past it the session ends (SessionBufferLimitError, GoAway 2).
   * Default 32 MiB, or twice maxStreamWindowSize if that is more; at least twice maxStreamWindowSize.
   */
  maxBufferedBytes?: number;
  /**
   * Largest receive window a stream may grow to. Default 4 MiB. Also the hard cap on an incoming
   * data frame: a longer one is a protocol error when its header arrives (GoAway 1).
   */
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

/** GoAway codes (protocol.md §2.2). */
const GOAWAY_PROTOCOL_ERROR = 1;
const GOAWAY_INTERNAL_ERROR = 2;

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
  /** The MuxStream of each yamux stream (the buffer guard reads its Node read buffer). */
  #duplexes = new WeakMap<YamuxStreamLike, MuxStream>();
  #keepAliveIntervalMs: number;
  #keepAliveTimeoutMs: number;
  #keepAliveTimer: NodeJS.Timeout | undefined;
  #pinging: Promise<void> | undefined;
  /** The peer broke the protocol or stopped answering: the session is being torn down. */
  #failed = false;

  constructor(socket: Duplex, options: MuxSessionInit) {
    const init = resolveSessionInit(options);
    ensurePolyfills();
    this.role = init.role;
    this.#socket = socket;
    this.#logger = init.logger ?? silentLogger;
    this.#permits = init.maxPendingOpens;
    this.#closeTimeoutMs = init.closeTimeoutMs;
    this.#keepAliveIntervalMs = init.keepAliveIntervalMs;
    this.#keepAliveTimeoutMs = init.keepAliveTimeoutMs;
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
      writeTimeoutMs: init.writeTimeoutMs,
      onWriteTimeout: () =>
        this.#fail(
          new TimeoutError(
            `yamux: the peer stopped reading: no write to it completed within ${init.writeTimeoutMs} ms`,
          ),
        ),
    });
    this.#conn.addEventListener('close', (evt) => {
      const error = (evt as Event & { error?: Error }).error;
      // The muxer aborts the connection on a protocol violation: remember why.
      if (error !== undefined && this.#reason === undefined) this.#reason = { kind: 'error', error };
    });

    const maxWindow = init.maxStreamWindowSize;
    const muxer = yamux({
      // Our own keep-alive (#keepAlive) gives each ping a timeout; libp2p's never gives up.
      enableKeepAlive: false,
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
    guardFrameHeaders(this.#muxer, { maxFrameLength: maxWindow, initialWindow: INITIAL_STREAM_WINDOW });
    guardBufferedBytes(this.#muxer, {
      limit: init.maxBufferedBytes,
      readableLength: (stream) => {
        const duplex = this.#duplexes.get(stream);
        return duplex === undefined || duplex.destroyed ? 0 : duplex.readableLength;
      },
    });
    // Everything the peer's bytes can throw (the guards above, libp2p's own frame checks) ends the
    // session here, with a GoAway that reaches the peer; libp2p's handler would send GoAway 0 for
    // errors without a `reason` and destroy a corked socket before the GoAway left.
    const onData = this.#muxer.onData;
    this.#muxer.onData = (data: unknown) => {
      if (this.#failed) return;
      try {
        onData.call(this.#muxer, data);
      } catch (err) {
        this.#fail(
          err instanceof SessionBufferLimitError || err instanceof ProtocolViolationError
            ? err
            : new ProtocolViolationError(`yamux: ${(err as Error).message}`, { cause: err }),
          err instanceof SessionBufferLimitError ? GOAWAY_INTERNAL_ERROR : GOAWAY_PROTOCOL_ERROR,
        );
      }
    };

    (muxer as unknown as EventTarget).addEventListener('stream', (evt) => {
      const stream = (evt as CustomEvent<YamuxStreamLike>).detail;
      ackInboundStream(stream);
      this.#track(stream);
      const duplex = new MuxStream(stream);
      this.#duplexes.set(stream, duplex);
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
    // The first ping at once, as libp2p did: it measures the RTT that window growth relies on.
    queueMicrotask(() => this.#keepAlive());
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
    // A peer silent for a whole keep-alive timeout may be frozen: find out now, not at the next
    // keep-alive, so this call is not the one that waits its whole deadline for it.
    if (this.#pinging === undefined && Date.now() - this.#conn.lastReceivedAt >= this.#keepAliveTimeoutMs) {
      void this.#probe();
    }
    const opening = this.#openStream();
    const duplex = new MuxStream(
      opening,
      options.allowHalfOpen === undefined ? {} : { allowHalfOpen: options.allowHalfOpen },
    );
    opening.then(
      (stream) => this.#duplexes.set(stream, duplex),
      () => {},
    );
    return duplex;
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
    this.#stopKeepAlive();
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
    this.#stopKeepAlive();
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

  // --- keep-alive (hashicorp: every 30 s, and a ping without answer in 10 s ends the session) ---

  #keepAlive(): void {
    this.#keepAliveTimer = undefined;
    if (this.#status === 'closed') return;
    void this.#probe().finally(() => {
      if (this.#status === 'closed' || this.#keepAliveTimer !== undefined) return;
      this.#keepAliveTimer = setTimeout(() => this.#keepAlive(), this.#keepAliveIntervalMs);
      this.#keepAliveTimer.unref();
    });
  }

  #stopKeepAlive(): void {
    if (this.#keepAliveTimer !== undefined) clearTimeout(this.#keepAliveTimer);
    // A timer still unset while a probe runs: the probe's finally sees 'closed' and stops.
    this.#keepAliveTimer = undefined;
  }

  /** One ping with a timeout (joining one in flight); no answer in time ends the session. */
  #probe(): Promise<void> {
    this.#pinging ??= this.#pingOnce().finally(() => {
      this.#pinging = undefined;
    });
    return this.#pinging;
  }

  async #pingOnce(): Promise<void> {
    const timeoutMs = this.#keepAliveTimeoutMs;
    const controller = new AbortController();
    // The abort waits for the next check phase: after a long block of our own event loop the timer
    // runs before the poll phase that reads the ACK already waiting in the socket; that is not the
    // peer's fault.
    const timer = setTimeout(() => setImmediate(() => controller.abort()), timeoutMs);
    timer.unref();
    try {
      await this.#muxer.ping({ signal: controller.signal });
    } catch (err) {
      if (controller.signal.aborted && this.#status !== 'closed' && this.#conn.heardFromPeer) {
        this.#fail(
          new TimeoutError(`yamux: keep-alive: the peer did not answer a ping within ${timeoutMs} ms`),
        );
      } else if (controller.signal.aborted) {
        // Not a word from the peer yet: it may still be starting (a launched plugin before its
        // runtime is up), which the caller's own deadline bounds (the engine's registration
        // timeout). The keep-alive goes on; the timeout counts once the peer has spoken.
        this.#logger.debug('keep-alive ping not answered before the peer sent anything', { timeoutMs });
      } else {
        // The session is closing, or a GoAway stopped pings (libp2p refuses them after one).
        this.#logger.debug('keep-alive ping not sent', { error: (err as Error).message });
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The peer broke the protocol, overran a limit or stopped answering: log it once, tell the peer
   * why when it can still hear us (GoAway `goAwayCode`, then our FIN), fail every stream it had
   * not finished as a transport loss naming the reason, and close the socket. A peer that stopped
   * reading gets no GoAway: its socket is destroyed at once.
   */
  #fail(error: Error, goAwayCode?: number): void {
    if (this.#failed || this.#status === 'closed') return;
    this.#failed = true;
    this.#logger.warn('closing the session: the peer broke the protocol or stopped answering', {
      error: error.message,
      role: this.role,
      ...(goAwayCode === undefined ? {} : { goAwayCode }),
    });
    if (this.#reason === undefined || this.#reason.kind === 'peer') this.#reason = { kind: 'error', error };
    this.#status = 'closed';
    this.#failWaiting();
    this.#stopKeepAlive();
    const socket = this.#socket;
    if (goAwayCode !== undefined && !socket.destroyed && !socket.writableEnded) {
      this.#muxer.sendGoAway(goAwayCode);
      // end() uncorks, so the GoAway leaves before the socket goes; the RSTs below are dropped.
      socket.end();
      const timer = setTimeout(() => socket.destroy(), 250);
      timer.unref();
      socket.once('finish', () => {
        clearTimeout(timer);
        socket.destroy();
      });
      socket.once('close', () => clearTimeout(timer));
    } else {
      socket.destroy();
    }
    const streamError = new TransportClosedError(`mux session closed: ${error.message}`, { cause: error });
    for (const stream of [...this.#muxer.streams]) {
      if (stream.remoteWriteStatus !== 'closed') stream.abort(streamError);
    }
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
    this.#stopKeepAlive();
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

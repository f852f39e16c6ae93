// A Node duplex socket presented as the libp2p MessageStream that yamux multiplexes over
// (decisions.md "ts-notes §2.2"). Writes are corked so a yamux header and its payload leave in one
// writev; backpressure follows the socket's own write() result and 'drain' event.
import type { Duplex } from 'node:stream';
import type { Logger as Libp2pLogger } from '@libp2p/interface';
import { AbstractMessageStream, type SendResult } from '@libp2p/utils';

/** yamux frame types (header byte 1) that must not wait for the batch. */
const FRAME_PING = 2;
const FRAME_GO_AWAY = 3;

export interface SocketConnInit {
  socket: Duplex;
  /** 'outbound' makes the muxer on top the yamux client (odd stream ids). */
  direction: 'inbound' | 'outbound';
  log: Libp2pLogger;
  /** Called once when the socket has closed, before the muxer is told. */
  onSocketClose: (error: Error | undefined) => void;
  /** Coalesce the frames of one event-loop turn into one write. */
  batchWrites?: boolean;
  /**
   * How long the socket may need draining without a single write completing (the peer stopped
   * reading) before `onWriteTimeout` is called. Unset: never.
   */
  writeTimeoutMs?: number;
  onWriteTimeout?: () => void;
}

export class SocketConn extends AbstractMessageStream {
  readonly socket: Duplex;
  readonly #batch: boolean;
  #corked = false;
  readonly #flush = () => {
    if (!this.#corked) return;
    this.#corked = false;
    this.socket.uncork();
  };

  /** When the last bytes arrived from the peer (Date.now()); the creation time until then. */
  lastReceivedAt = Date.now();
  /** Whether the peer has sent anything at all (a launched plugin may still be starting). */
  heardFromPeer = false;
  readonly #writeTimeoutMs: number | undefined;
  readonly #onWriteTimeout: (() => void) | undefined;
  #writeTimer: NodeJS.Timeout | undefined;
  /** Bumped by every start and stop, so a check deferred from an older timer does nothing. */
  #writeTimerGeneration = 0;
  /** Writes the socket has completed (handed to the kernel): progress, for the write timeout. */
  #written = 0;
  readonly #onWritten = () => {
    this.#written++;
  };

  constructor(init: SocketConnInit) {
    // The socket has its own read buffer and flow control; this layer never buffers reads.
    super({ log: init.log, direction: init.direction, maxReadBufferLength: Number.POSITIVE_INFINITY });
    this.socket = init.socket;
    this.#batch = init.batchWrites ?? false;
    this.#writeTimeoutMs = init.writeTimeoutMs;
    this.#onWriteTimeout = init.onWriteTimeout;
    const socket = init.socket;
    socket.on('data', (chunk: Buffer) => {
      this.lastReceivedAt = Date.now();
      this.heardFromPeer = true;
      this.onData(chunk);
    });
    socket.on('drain', () => {
      this.#stopWriteTimer();
      this.safeDispatchEvent('drain');
    });
    let socketError: Error | undefined;
    socket.on('error', (err: Error) => {
      socketError ??= err;
    });
    socket.on('end', () => {
      // EOF ends the session (Go's yamux closes on read EOF), even on a socket that allows half-open
      // connections, such as one taken over from node:http.
      if (!socket.writableEnded) socket.end();
    });
    socket.once('close', () => {
      this.#stopWriteTimer();
      init.onSocketClose(socketError);
      this.onTransportClosed();
    });
    // A socket handed over paused (for example after the /hijack upgrade, which pauses it to keep the
    // bytes that followed the 101) stays paused when a 'data' listener is added: start it.
    socket.resume();
  }

  sendData(data: Parameters<AbstractMessageStream['sendData']>[0]): SendResult {
    const socket = this.socket;
    if (socket.destroyed || socket.writableEnded) {
      // The transport is gone; frames (a last RST or GoAway) have nowhere to go.
      return { sentBytes: data.byteLength, canSendMore: true };
    }
    let canSendMore = true;
    if (this.#batch) {
      // Frames produced in the same turn of the event loop (SYN, data, window updates, FIN of
      // several streams, the answers to every frame read in this poll phase) leave in one writev
      // in the check phase (decisions.md "yamux writes once per turn").
      if (!this.#corked) {
        this.#corked = true;
        socket.cork();
        setImmediate(this.#flush);
      }
      for (const buf of data) canSendMore = socket.write(buf, this.#onWritten);
      // A ping or GoAway leaves now, with whatever is queued before it: a keep-alive probe's
      // deadline runs from here, and a poll phase of long callbacks must not eat into it.
      const type = data.byteLength >= 2 ? data.get(1) : -1;
      if (type === FRAME_PING || type === FRAME_GO_AWAY) this.#flush();
      if (!canSendMore) this.#startWriteTimer();
      return { sentBytes: data.byteLength, canSendMore };
    }
    socket.cork();
    for (const buf of data) {
      canSendMore = socket.write(buf, this.#onWritten);
    }
    socket.uncork();
    if (!canSendMore) this.#startWriteTimer();
    return { sentBytes: data.byteLength, canSendMore };
  }

  /**
   * Armed while the socket needs draining. When it fires, a write that completed since it was
   * armed (the peer reads, slowly) re-arms it; none at all means the peer stopped reading.
   */
  #startWriteTimer(): void {
    const ms = this.#writeTimeoutMs;
    if (ms === undefined || this.#writeTimer !== undefined) return;
    const generation = ++this.#writeTimerGeneration;
    let seen = this.#written;
    // The check waits for the check phase, after the poll phase: when our own event loop was
    // blocked, the write completions that happened meanwhile are delivered there, not before the
    // timer; only a peer that really read nothing is timed out.
    const fire = () => setImmediate(check);
    const check = () => {
      if (generation !== this.#writeTimerGeneration) return;
      const socket = this.socket;
      if (socket.destroyed || !socket.writableNeedDrain) {
        this.#writeTimer = undefined;
        return;
      }
      if (this.#written !== seen) {
        seen = this.#written;
        this.#writeTimer = setTimeout(fire, ms);
        this.#writeTimer.unref();
        return;
      }
      this.#writeTimer = undefined;
      this.#onWriteTimeout?.();
    };
    this.#writeTimer = setTimeout(fire, ms);
    this.#writeTimer.unref();
  }

  #stopWriteTimer(): void {
    this.#writeTimerGeneration++;
    if (this.#writeTimer === undefined) return;
    clearTimeout(this.#writeTimer);
    this.#writeTimer = undefined;
  }

  sendReset(): void {
    this.socket.destroy();
  }

  sendPause(): void {
    this.socket.pause();
  }

  sendResume(): void {
    this.socket.resume();
  }

  async close(): Promise<void> {
    if (!this.socket.destroyed) this.socket.end();
  }
}

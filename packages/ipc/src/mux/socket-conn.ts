// A Node duplex socket presented as the libp2p MessageStream that yamux multiplexes over
// (decisions.md "ts-notes §2.2"). Writes are corked per frame so a yamux header and its payload leave in one
// writev; backpressure follows the socket's own write() result and 'drain' event.
import type { Duplex } from 'node:stream';
import type { Logger as Libp2pLogger } from '@libp2p/interface';
import { AbstractMessageStream, type SendResult } from '@libp2p/utils';

export interface SocketConnInit {
  socket: Duplex;
  /** 'outbound' makes the muxer on top the yamux client (odd stream ids). */
  direction: 'inbound' | 'outbound';
  log: Libp2pLogger;
  /** Called once when the socket has closed, before the muxer is told. */
  onSocketClose: (error: Error | undefined) => void;
  /** Coalesce the frames of one event-loop turn into one write. */
  batchWrites?: boolean;
}

export class SocketConn extends AbstractMessageStream {
  readonly socket: Duplex;
  readonly #batch: boolean;
  #corked = false;
  readonly #flush = () => {
    this.#corked = false;
    this.socket.uncork();
  };

  constructor(init: SocketConnInit) {
    // The socket has its own read buffer and flow control; this layer never buffers reads.
    super({ log: init.log, direction: init.direction, maxReadBufferLength: Number.POSITIVE_INFINITY });
    this.socket = init.socket;
    this.#batch = init.batchWrites ?? false;
    const socket = init.socket;
    socket.on('data', (chunk: Buffer) => {
      this.onData(chunk);
    });
    socket.on('drain', () => {
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
      // several streams) leave in one writev when the microtask queue drains.
      if (!this.#corked) {
        this.#corked = true;
        socket.cork();
        queueMicrotask(this.#flush);
      }
      for (const buf of data) canSendMore = socket.write(buf);
      return { sentBytes: data.byteLength, canSendMore };
    }
    socket.cork();
    for (const buf of data) {
      canSendMore = socket.write(buf);
    }
    socket.uncork();
    return { sentBytes: data.byteLength, canSendMore };
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

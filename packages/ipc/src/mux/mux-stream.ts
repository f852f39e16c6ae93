// One yamux stream as a Node Duplex with the small net.Socket surface that node:http's client and
// server expect (decisions.md "ts-notes §2.2", "P13"). Reads honour backpressure by pausing the yamux stream (which
// stops window updates); writes wait for the stream's own 'drain'/'close' events (never
// `onDrain()`, decisions.md "P3"). A remote RST is an error, never a clean end (P6).
import { Duplex } from 'node:stream';
import type { Stream } from '@libp2p/interface';
import type { Uint8ArrayList } from 'uint8arraylist';
import { StreamResetError } from '../errors.js';

type MessageEvent = Event & { data: Uint8Array | Uint8ArrayList };
type CloseEvent = Event & { error?: Error; local?: boolean };

/** A yamux stream with the muxer-private fields we read (status words of @libp2p/utils). */
export type YamuxStreamLike = Stream & {
  streamId?: number;
};

export interface MuxStreamInit {
  /**
   * Keep the writable side open after the peer's FIN (a yamux half-close). Default true. An HTTP
   * client connection wants false, like net.Socket: a keep-alive pool must see the stream close
   * when the server ends it.
   */
  allowHalfOpen?: boolean;
}

let nextId = 0;

export class MuxStream extends Duplex {
  readonly id = ++nextId;
  #stream: YamuxStreamLike | undefined;
  #readyState: 'opening' | 'open' | 'closed' = 'opening';
  #resuming = false;
  #pauseAfterResume = false;
  #remoteEnded = false;
  #eofPushed = false;
  #idleMs = 0;
  #idleTimer: NodeJS.Timeout | undefined;

  constructor(stream: YamuxStreamLike | Promise<YamuxStreamLike>, init: MuxStreamInit = {}) {
    super({
      allowHalfOpen: init.allowHalfOpen ?? true,
      decodeStrings: true,
      emitClose: true,
      autoDestroy: true,
    });
    if (stream instanceof Promise) {
      stream.then(
        (s) => {
          if (this.destroyed) {
            s.abort(new Error('stream destroyed before it was opened'));
            return;
          }
          this.#attach(s);
        },
        (err: Error) => this.destroy(err),
      );
    } else {
      queueMicrotask(() => this.#attach(stream));
    }
  }

  /** The yamux stream id, once the stream is open. */
  get streamId(): number | undefined {
    return this.#stream?.streamId;
  }

  get readyState(): string {
    return this.#readyState;
  }

  get connecting(): boolean {
    return this.#readyState === 'opening';
  }

  get pending(): boolean {
    return this.#readyState === 'opening';
  }

  #attach(s: YamuxStreamLike): void {
    if (this.destroyed) {
      s.abort(new Error('stream destroyed before it was opened'));
      return;
    }
    this.#stream = s;
    s.addEventListener('message', (evt) => {
      this.#touch();
      const data = (evt as MessageEvent).data;
      let more = true;
      if (data instanceof Uint8Array) {
        more = this.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
      } else {
        for (const chunk of data) {
          more = this.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        }
      }
      if (!more && s.readStatus === 'readable') {
        if (this.#resuming) this.#pauseAfterResume = true;
        else s.pause();
      }
      if (this.#remoteEnded) this.#endIfDrained(s);
    });
    // Fix "EOF before data": libp2p fires 'end' once its read buffer is empty and the peer sent FIN,
    // which is too early or too late for us in two legal cases: a Data|FIN frame fires 'end' BEFORE
    // its own payload is delivered (push() after EOF: the stream errored), and a stream whose SYN and
    // FIN arrived in one read fired 'end' before this listener existed (the stream never ended).
    // Remember the FIN and end the Readable only once every buffered byte has been pushed.
    const onRemoteEnd = () => {
      // On a reset @libp2p/utils fires 'end' before 'close'(error): not a clean EOF (P6).
      if (s.status === 'reset' || s.status === 'aborted') return;
      this.#remoteEnded = true;
      queueMicrotask(() => this.#endIfDrained(s));
    };
    s.addEventListener('end', onRemoteEnd);
    if (s.readableEnded) onRemoteEnd();
    s.addEventListener('close', (evt) => {
      const error = (evt as CloseEvent).error;
      this.#readyState = 'closed';
      this.#clearIdle();
      if (error !== undefined && !this.destroyed) {
        this.destroy(
          (evt as CloseEvent).local === true
            ? error
            : new StreamResetError(`stream reset by peer: ${error.message}`, { cause: error }),
        );
      }
    });
    this.#readyState = 'open';
    this.#touch();
    this.emit('connect');
    this.emit('ready');
  }

  #endIfDrained(s: YamuxStreamLike): void {
    if (this.#eofPushed || s.readBufferLength > 0 || s.status === 'reset' || s.status === 'aborted') return;
    this.#eofPushed = true;
    this.push(null);
  }

  override _read(): void {
    const s = this.#stream;
    if (s === undefined || s.readStatus !== 'paused') return;
    // Fix "pause inside resume": resume() first dispatches the buffered data (our 'message' handler
    // may fill the Readable and want to pause again) and THEN marks the yamux stream unpaused and
    // grants window. A pause() made during that dispatch was silently undone: the stream kept
    // granting window while its read status stayed 'paused', so a slow reader's buffer grew until
    // libp2p aborted the stream (StreamBufferError). Re-pause only after resume() has returned.
    this.#resuming = true;
    try {
      s.resume();
    } finally {
      this.#resuming = false;
    }
    if (this.#pauseAfterResume) {
      this.#pauseAfterResume = false;
      // (resume() changed readStatus behind TypeScript's narrowing, hence the re-read.)
      if ((s as YamuxStreamLike).readStatus === 'readable') s.pause();
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, cb: (error?: Error | null) => void): void {
    this.#whenOpen(cb, (s) => this.#send(s, chunk, cb));
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (error?: Error | null) => void): void {
    const buf = chunks.length === 1 ? chunks[0]!.chunk : Buffer.concat(chunks.map((c) => c.chunk));
    this.#whenOpen(cb, (s) => this.#send(s, buf, cb));
  }

  override _final(cb: (error?: Error | null) => void): void {
    this.#whenOpen(cb, (s) => {
      s.close().then(
        () => cb(),
        (err: Error) => cb(err),
      );
    });
  }

  override _destroy(error: Error | null, cb: (error?: Error | null) => void): void {
    this.#clearIdle();
    const s = this.#stream;
    if (s === undefined) {
      // Still opening: #attach aborts the stream once it exists.
      cb(error);
      return;
    }
    this.#readyState = 'closed';
    if (s.status === 'open') {
      // `for await` destroys with an AbortError once the peer has finished: that is a graceful
      // end, not a reason to reset a peer that did nothing wrong (decisions.md "P7").
      const graceful = error === null || (error.name === 'AbortError' && s.remoteWriteStatus === 'closed');
      if (graceful) {
        if (s.writeStatus === 'writable') s.close().catch(() => {});
        if (s.readStatus !== 'closed' && s.readStatus !== 'closing') s.closeRead().catch(() => {});
      } else {
        s.abort(error);
      }
    }
    cb(error);
  }

  #whenOpen(cb: (error?: Error | null) => void, fn: (s: YamuxStreamLike) => void): void {
    if (this.#stream !== undefined) {
      fn(this.#stream);
      return;
    }
    const onConnect = () => {
      this.off('close', onClose);
      fn(this.#stream!);
    };
    const onClose = () => {
      this.off('connect', onConnect);
      cb(new Error('stream closed before it was opened'));
    };
    this.once('connect', onConnect);
    this.once('close', onClose);
  }

  #send(s: YamuxStreamLike, chunk: Buffer, cb: (error?: Error | null) => void): void {
    this.#touch();
    let ok: boolean;
    try {
      ok = s.send(chunk);
    } catch (err) {
      cb(err as Error);
      return;
    }
    // Fix "write backpressure": hold the callback until the yamux stream has handed every byte of
    // this chunk to the socket and needs no drain. Releasing it on the first 'drain' (which a window
    // update fires while most of the chunk is still queued) let Node hand over the next chunk on
    // every window update: with 1 MiB writes, ~60 of 64 MiB piled up in the yamux write buffer.
    // 'idle' fires from inside libp2p's send loop, so the callback runs in a microtask: Node may call
    // _final() from it, and libp2p's close() would then wait for an 'idle' that already went by.
    const flushed = () => s.writeBufferLength === 0 && !s.writableNeedsDrain;
    if (ok && flushed()) {
      cb();
      return;
    }
    const onProgress = () => {
      if (!flushed()) return;
      cleanup();
      queueMicrotask(() => cb());
    };
    const onClose = (evt: Event) => {
      cleanup();
      cb((evt as CloseEvent).error ?? new Error('stream closed while writing'));
    };
    const cleanup = () => {
      s.removeEventListener('drain', onProgress);
      s.removeEventListener('idle', onProgress);
      s.removeEventListener('close', onClose);
    };
    s.addEventListener('drain', onProgress);
    s.addEventListener('idle', onProgress);
    s.addEventListener('close', onClose);
  }

  // --- net.Socket surface used by node:http (decisions.md "P13") ---

  /** An idle timer like net.Socket's: emits 'timeout' after `ms` without reads or writes. */
  setTimeout(ms: number, callback?: () => void): this {
    this.#idleMs = ms;
    if (callback !== undefined) {
      if (ms === 0) this.off('timeout', callback);
      else this.once('timeout', callback);
    }
    this.#touch();
    return this;
  }

  #touch(): void {
    if (this.#idleMs <= 0) {
      this.#clearIdle();
      return;
    }
    if (this.#idleTimer !== undefined) {
      this.#idleTimer.refresh();
      return;
    }
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = undefined;
      this.emit('timeout');
    }, this.#idleMs);
    this.#idleTimer.unref();
  }

  #clearIdle(): void {
    if (this.#idleTimer !== undefined) {
      clearTimeout(this.#idleTimer);
      this.#idleTimer = undefined;
    }
  }

  setNoDelay(_noDelay?: boolean): this {
    return this;
  }

  setKeepAlive(_enable?: boolean, _initialDelay?: number): this {
    return this;
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }

  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once('finish', () => this.destroy());
  }

  address(): Record<string, never> {
    return {};
  }

  get remoteAddress(): string | undefined {
    return undefined;
  }

  get remotePort(): number | undefined {
    return undefined;
  }

  get localAddress(): string | undefined {
    return undefined;
  }

  get bytesRead(): number {
    return 0;
  }
}

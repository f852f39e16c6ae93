// Small, named fixes applied to each @chainsafe/libp2p-yamux 8.0.1 muxer so that it behaves like
// hashicorp/yamux v0.1.2, the Go implementation Docker's engine and plugins use
// (docs/decisions.md "yamux mismatch 1" to "yamux mismatch 4"). They patch TS-private members of one muxer instance (never the prototype,
// never at install time), so the package version is pinned exactly and every fix has a regression
// test in frames.test.ts (wire bytes) or session.test.ts. Upstream reports are in docs/decisions.md.
import { TransportClosedError } from '../errors.js';
import type { YamuxStreamLike } from './mux-stream.js';

/** The TS-private members of YamuxMuxer that the fixes touch. */
export interface YamuxMuxerInternals {
  status: 'open' | 'closing' | 'closed';
  streams: YamuxStreamLike[];
  remoteGoAway: number | undefined;
  localGoAway: number | undefined;
  activePing: { id: number } | undefined;
  keepAlive?: { stop(): void };
  /** libp2p-yamux's frame decoder (guards.ts wraps its readFrame). */
  decoder: unknown;
  onData(data: unknown): void;
  handleGoAway(reason: number): void;
  handlePingResponse(pingId: number): void;
  sendGoAway(reason?: number): void;
  abort(err: Error): void;
  _newStream(streamId: number, state: number, direction: 'inbound' | 'outbound'): YamuxStreamLike;
}

/** The TS-private members of YamuxStream that the fixes touch. */
export interface YamuxStreamInternals {
  maxMessageSize: number | undefined;
  sendWindowUpdate(): void;
  processFlags(flags: number): void;
}

const FLAG_ACK = 2;

/** Throws a clear error if the installed yamux is not the version these fixes were written for. */
export function assertPatchable(muxer: unknown): asserts muxer is YamuxMuxerInternals {
  const m = muxer as Record<string, unknown>;
  for (const name of ['handleGoAway', 'handlePingResponse', 'sendGoAway', '_newStream', 'onData']) {
    if (typeof m[name] !== 'function') {
      throw new Error(
        `@chainsafe/libp2p-yamux is not the pinned 8.0.1 (missing ${name}); @secrets-engine/ipc needs that exact version`,
      );
    }
  }
  const decoder = m.decoder as Record<string, unknown> | undefined;
  if (typeof decoder?.readFrame !== 'function' || typeof decoder.buffer !== 'object') {
    throw new Error(
      '@chainsafe/libp2p-yamux is not the pinned 8.0.1 (its decoder has no readFrame/buffer); @secrets-engine/ipc needs that exact version',
    );
  }
}

/**
 * Mismatch 1: on GoAway code 0 hashicorp stops new streams but lets existing ones finish (Docker's
 * graceful teardown: GoAway, drain, close). libp2p closes every stream at once. Keep them.
 * Non-zero codes still abort the session; the streams fail with TransportClosedError, an IpcError,
 * so a call in flight is reported as a transport loss (`unavailable`), not as an unknown error.
 */
export function keepStreamsOnGoAway(muxer: YamuxMuxerInternals, onGoAway: (code: number) => void): void {
  muxer.handleGoAway = function handleGoAway(this: YamuxMuxerInternals, reason: number) {
    this.remoteGoAway = reason;
    onGoAway(reason);
    if (reason !== 0) this.abort(new TransportClosedError(`peer sent GoAway with error code ${reason}`));
  };
}

/**
 * Mismatch 4: a ping ACK that arrives after libp2p stopped waiting for it (close, abort, GoAway)
 * throws UnRequestedPingError and aborts the whole connection. hashicorp ignores unknown ACKs.
 */
export function ignoreStalePingAcks(muxer: YamuxMuxerInternals): void {
  const original = muxer.handlePingResponse;
  muxer.handlePingResponse = function handlePingResponse(this: YamuxMuxerInternals, pingId: number) {
    if (this.activePing === undefined || this.activePing.id !== pingId) return;
    original.call(this, pingId);
  };
}

/**
 * decisions.md "P9": libp2p sizes data frames by the whole send window (up to the peer's max window), and
 * the receiver buffers a whole frame before it can decode the next, so one large secret would
 * stall every other stream. Clamp each stream's frame size.
 */
export function clampFrameSize(muxer: YamuxMuxerInternals, maxFrameSize: number): void {
  const original = muxer._newStream;
  muxer._newStream = function _newStream(this: YamuxMuxerInternals, ...args) {
    const stream = original.apply(this, args) as YamuxStreamLike &
      YamuxStreamInternals & { sendWindowCapacity: number };
    // The chunk size follows the live send window (libp2p stores `window - 12`, a stale snapshot that
    // strands the window's last 12 bytes when a zero-delta update arrives, and splits large writes
    // into a frame plus a 12-byte remainder), capped at maxFrameSize. libp2p's writes are ignored.
    Object.defineProperty(stream, 'maxMessageSize', {
      configurable: true,
      enumerable: true,
      get: () => Math.min(stream.sendWindowCapacity, maxFrameSize),
      set: () => {},
    });
    return stream;
  };
}

/** YamuxStream.state values (libp2p-yamux StreamState) that still owe the peer a SYN or an ACK. */
const STATE_INIT = 0;
const STATE_SYN_RECEIVED = 2;

/**
 * "Window update after FIN" (found by tests/interop-go-peer): a window update only lets the peer
 * send more. libp2p still sends one for a data frame that arrives after we stopped reading: a
 * call's stream is closed (our FIN, read side closed) from the 'message' handler that completes
 * the response, and the update for that same frame follows our FIN. The peer's FIN crosses it, and
 * hashicorp, which forgets a stream as soon as both FINs have crossed, logs `[WARN] yamux: frame
 * for missing stream`: once per call, at error level in Docker's engine and plugins. Skip updates
 * once we have stopped reading, the peer has finished sending, or the stream is gone. SYN and ACK
 * frames always go out.
 */
export function skipUselessWindowUpdates(muxer: YamuxMuxerInternals): void {
  const original = muxer._newStream;
  muxer._newStream = function _newStream(this: YamuxMuxerInternals, ...args) {
    const stream = original.apply(this, args) as YamuxStreamLike & YamuxStreamInternals & { state: number };
    const sendWindowUpdate = stream.sendWindowUpdate;
    stream.sendWindowUpdate = function (this: typeof stream) {
      const owesFlags = this.state === STATE_INIT || this.state === STATE_SYN_RECEIVED;
      const useless =
        this.readStatus === 'closing' ||
        this.readStatus === 'closed' ||
        this.remoteWriteStatus === 'closed' ||
        this.status === 'closed' ||
        this.status === 'aborted' ||
        this.status === 'reset';
      if (useless && !owesFlags) return;
      sendWindowUpdate.call(this);
    };
    return stream;
  };
}

/**
 * Mismatch 2: libp2p ACKs an inbound stream only with the first frame it sends on it; hashicorp
 * closes the whole session when a stream it opened is not ACKed within 75 s. ACK on arrival.
 */
export function ackInboundStream(stream: YamuxStreamLike): void {
  (stream as unknown as YamuxStreamInternals).sendWindowUpdate();
}

/** Calls `onAck` once, when the peer ACKs (or closes) an outbound stream. */
export function onOutboundAck(stream: YamuxStreamLike, onAck: () => void): void {
  const internals = stream as unknown as YamuxStreamInternals;
  const original = internals.processFlags;
  let done = false;
  const fire = () => {
    if (done) return;
    done = true;
    internals.processFlags = original;
    onAck();
  };
  internals.processFlags = function processFlags(this: YamuxStreamInternals, flags: number) {
    original.call(this, flags);
    if ((flags & FLAG_ACK) === FLAG_ACK) fire();
  };
  stream.addEventListener('close', fire, { once: true });
}

// Bounds on what a peer can make a session hold (issue 12 item 4). libp2p-yamux's decoder waits for
// a whole data frame before it looks at it, so a header announcing 1 GiB made the engine buffer
// whatever followed, and checked the stream's receive window only once all of it had arrived.
// hashicorp/yamux checks the length against the window when it reads the header
// (stream.go readData: "receive window exceeded") and then copies the body straight into the
// stream. These guards do the same at the header, and bound the unread bytes of a whole session.
// Like yamux-fixes.ts they patch members of one muxer instance, never the prototype.
import type { Uint8ArrayList } from 'uint8arraylist';
import { ProtocolViolationError, SessionBufferLimitError } from '../errors.js';
import type { YamuxStreamLike } from './mux-stream.js';
import type { YamuxMuxerInternals } from './yamux-fixes.js';

const HEADER_LENGTH = 12;
const TYPE_DATA = 0;
const FLAG_SYN = 1;

/** The TS-private members of libp2p-yamux's Decoder that the header guard touches. */
export interface DecoderInternals {
  buffer: Uint8ArrayList;
  readFrame(): unknown;
}

/** The TS-private members of YamuxStream that the guards read or wrap. */
interface GuardedStream extends YamuxStreamLike {
  recvWindowCapacity: number;
  handleData(frame: unknown): void;
}

export interface FrameGuardInit {
  /** No data frame may be longer: the largest receive window this side ever grants. */
  maxFrameLength: number;
  /** The window of a stream the frame itself opens (SYN): the spec's initial window. */
  initialWindow: number;
}

/**
 * Rejects a data frame whose header announces more than the stream may receive, as soon as the 12
 * header bytes are in, before any of the body is buffered: more than the frame cap (the largest
 * window we ever grant) on any stream, more than the initial window on a stream the frame opens,
 * more than the remaining receive window on an open stream. A frame for a stream we no longer know
 * (closed or reset while the peer was sending) is only held to the cap, as the peer may still have
 * had that much window; libp2p then drops it, as hashicorp discards it.
 * Throws ProtocolViolationError out of the muxer's onData; the session turns that into GoAway(1).
 */
export function guardFrameHeaders(muxer: YamuxMuxerInternals, init: FrameGuardInit): void {
  const decoder = muxer.decoder as unknown as DecoderInternals;
  // The streams by id, as libp2p's `streams` list holds them (added on creation, gone on 'close'),
  // so the check costs a lookup, not a second linear search per frame.
  const byId = new Map<number, GuardedStream>();
  const newStream = muxer._newStream;
  muxer._newStream = function _newStream(this: YamuxMuxerInternals, ...args) {
    const stream = newStream.apply(this, args) as GuardedStream;
    const id = args[0];
    byId.set(id, stream);
    stream.addEventListener(
      'close',
      () => {
        if (byId.get(id) === stream) byId.delete(id);
      },
      { once: true },
    );
    return stream;
  };
  const readFrame = decoder.readFrame;
  // The header at the front of the buffer has been checked (readFrame runs again on every chunk
  // while a frame's body is still arriving; the check runs once per frame).
  let checked = false;
  decoder.readFrame = function guardedReadFrame(this: DecoderInternals) {
    if (!checked && this.buffer.byteLength >= HEADER_LENGTH) {
      const head = this.buffer.subarray(0, HEADER_LENGTH);
      // A bad version is left to libp2p's decoder, which throws InvalidFrameError for it.
      if (head[0] === 0 && head[1] === TYPE_DATA) check(byId, init, head);
      checked = true;
    }
    const frame = readFrame.call(this);
    if (frame !== undefined) checked = false;
    return frame;
  };
}

function check(byId: Map<number, GuardedStream>, init: FrameGuardInit, head: Uint8Array): void {
  const view = new DataView(head.buffer, head.byteOffset, HEADER_LENGTH);
  const flags = view.getUint16(2);
  const streamId = view.getUint32(4);
  const length = view.getUint32(8);
  if (length > init.maxFrameLength) {
    throw new ProtocolViolationError(
      `yamux: data frame of ${length} bytes on stream ${streamId} is longer than any receive window this side grants (${init.maxFrameLength} bytes)`,
    );
  }
  const stream = byId.get(streamId);
  if (stream !== undefined) {
    if (length > stream.recvWindowCapacity) {
      throw new ProtocolViolationError(
        `yamux: receive window exceeded: data frame of ${length} bytes on stream ${streamId}, ${stream.recvWindowCapacity} bytes of window left`,
      );
    }
  } else if ((flags & FLAG_SYN) !== 0 && length > init.initialWindow) {
    throw new ProtocolViolationError(
      `yamux: receive window exceeded: data frame of ${length} bytes opening stream ${streamId}, whose initial window is ${init.initialWindow} bytes`,
    );
  }
}

export interface BufferGuardInit {
  /** Most unread bytes the session may hold: all its streams plus a partly received frame. */
  limit: number;
  /** The Node-side read buffer of a yamux stream (its MuxStream), once it has one. */
  readableLength(stream: YamuxStreamLike): number;
}

/**
 * Bounds the bytes the peer has sent that nobody has read yet, over the whole session: each
 * stream's libp2p read buffer (data held while the stream is paused or not yet attached) plus its
 * MuxStream's Node read buffer, plus the decoder's partly received frame. A peer can stay inside
 * every stream's window and still make thousands of streams hold a window each; past `limit` the
 * session ends (SessionBufferLimitError, GoAway(2)).
 *
 * Measured where data arrives (each data frame) and kept as a running total of the last measure
 * per stream. Reads lower the real figure without telling us, so the total may be stale-high: when
 * it crosses the limit every stream is measured again, and only a real excess closes the session.
 */
export function guardBufferedBytes(muxer: YamuxMuxerInternals, init: BufferGuardInit): void {
  const decoder = muxer.decoder as unknown as DecoderInternals;
  const measured = new Map<YamuxStreamLike, number>();
  let total = 0;
  const measure = (s: YamuxStreamLike) => s.readBufferLength + init.readableLength(s);
  const original = muxer._newStream;
  muxer._newStream = function _newStream(this: YamuxMuxerInternals, ...args) {
    const stream = original.apply(this, args) as GuardedStream;
    const handleData = stream.handleData;
    stream.handleData = function guardedHandleData(this: GuardedStream, frame: unknown) {
      handleData.call(this, frame);
      const now = measure(this);
      total += now - (measured.get(this) ?? 0);
      measured.set(this, now);
      if (total + decoder.buffer.byteLength <= init.limit) return;
      total = 0;
      for (const s of muxer.streams) {
        const m = measure(s);
        measured.set(s, m);
        total += m;
      }
      const buffered = total + decoder.buffer.byteLength;
      if (buffered > init.limit) {
        throw new SessionBufferLimitError(
          `yamux: the peer made this session hold ${buffered} unread bytes over ${muxer.streams.length} streams, more than maxBufferedBytes (${init.limit})`,
        );
      }
    };
    stream.addEventListener(
      'close',
      () => {
        total -= measured.get(stream) ?? 0;
        measured.delete(stream);
      },
      { once: true },
    );
    return stream;
  };
}

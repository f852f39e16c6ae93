// Test helpers (never exported): a hand-written yamux v0 frame codec and a "raw peer" that speaks
// yamux frame by frame on one end of a real Unix socket, so tests can see and forge the exact bytes
// of protocol.md §2.2 without trusting the implementation under test.
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { expect, onTestFinished } from 'vitest';
import type { MuxStream } from '../mux/mux-stream.js';
import { createMuxSession, type MuxSession, type MuxSessionInit } from '../mux/session.js';
import { socketPair } from './helpers.js';

/** Frame types (protocol.md §2.2 cheat-sheet). */
export const T = { Data: 0, WindowUpdate: 1, Ping: 2, GoAway: 3 } as const;
/** Frame flags (protocol.md §2.2 cheat-sheet). */
export const F = { SYN: 1, ACK: 2, FIN: 4, RST: 8 } as const;

export const HEADER_LENGTH = 12;

export interface FrameHeader {
  type: number;
  flags: number;
  streamId: number;
  /** Payload length for Data frames; delta, opaque ping id or GoAway code otherwise. */
  length: number;
}

export interface Frame extends FrameHeader {
  /** The 12 header bytes exactly as they came off the wire. */
  header: Buffer;
  /** The payload of a Data frame (empty for the other types). */
  data: Buffer;
}

/** Encodes one frame: 12-byte big-endian header (version 0), plus the payload for Data frames. */
export function encodeFrame(h: FrameHeader, data?: Uint8Array): Buffer {
  const header = Buffer.alloc(HEADER_LENGTH);
  header.writeUInt8(0, 0);
  header.writeUInt8(h.type, 1);
  header.writeUInt16BE(h.flags, 2);
  header.writeUInt32BE(h.streamId, 4);
  header.writeUInt32BE(h.type === T.Data ? (data?.byteLength ?? 0) : h.length, 8);
  return data === undefined || data.byteLength === 0 ? header : Buffer.concat([header, data]);
}

/** Parses the hex notation of protocol.md §2.2 (`00 01 0001 00000001 00000000`) into bytes. */
export function hexFrame(text: string): Buffer {
  const bytes = Buffer.from(text.replace(/\s+/g, ''), 'hex');
  if (bytes.byteLength !== HEADER_LENGTH) throw new Error(`not a 12-byte header: ${text}`);
  return bytes;
}

/** Formats a header the way protocol.md §2.2 writes it: `00 01 0001 00000001 00000000`. */
export function fmt(header: Buffer): string {
  const h = header.toString('hex');
  return `${h.slice(0, 2)} ${h.slice(2, 4)} ${h.slice(4, 8)} ${h.slice(8, 16)} ${h.slice(16, 24)}`;
}

/** Incremental decoder: feed socket chunks, get whole frames. */
export class FrameDecoder {
  #chunks: Buffer[] = [];
  #length = 0;

  push(chunk: Buffer): Frame[] {
    this.#chunks.push(chunk);
    this.#length += chunk.byteLength;
    const out: Frame[] = [];
    for (;;) {
      if (this.#length < HEADER_LENGTH) break;
      const head = this.#peek(HEADER_LENGTH);
      if (head[0] !== 0) throw new Error(`bad yamux version ${head[0]}`);
      const type = head.readUInt8(1);
      const length = head.readUInt32BE(8);
      const size = HEADER_LENGTH + (type === T.Data ? length : 0);
      if (this.#length < size) break;
      const whole = this.#take(size);
      out.push({
        type,
        flags: head.readUInt16BE(2),
        streamId: head.readUInt32BE(4),
        length,
        header: Buffer.from(whole.subarray(0, HEADER_LENGTH)),
        data: whole.subarray(HEADER_LENGTH),
      });
    }
    return out;
  }

  #peek(n: number): Buffer {
    if (this.#chunks[0]!.byteLength < n) this.#chunks = [Buffer.concat(this.#chunks)];
    return this.#chunks[0]!.subarray(0, n);
  }

  #take(n: number): Buffer {
    if (this.#chunks[0]!.byteLength < n) this.#chunks = [Buffer.concat(this.#chunks)];
    const first = this.#chunks[0]!;
    const out = first.subarray(0, n);
    if (first.byteLength === n) this.#chunks.shift();
    else this.#chunks[0] = first.subarray(n);
    this.#length -= n;
    return out;
  }
}

export interface RawPeerOptions {
  /** Answer every Ping SYN with a Ping ACK, as hashicorp does. Default true. */
  answerPings?: boolean;
}

/** Opaque values of barrier pings, clear of the ids the session's own pings use (0, 1, ...). */
let nextOpaque = 0x1000;

/**
 * One end of a socket driven by hand. Records every frame it receives, in order, and lets a test
 * wait for frames by predicate. It never ACKs, FINs or grants window unless told to.
 */
export class RawPeer {
  readonly socket: Socket;
  /** Every frame received, in arrival order. */
  readonly frames: Frame[] = [];
  /** Resolves when the other side ended or the socket closed. */
  readonly ended: Promise<void>;
  #decoder = new FrameDecoder();
  #waiters = new Set<() => void>();
  #answerPings: boolean;
  #closed = false;

  constructor(socket: Socket, options: RawPeerOptions = {}) {
    this.socket = socket;
    this.#answerPings = options.answerPings ?? true;
    socket.on('data', (chunk: Buffer) => {
      for (const frame of this.#decoder.push(chunk)) {
        this.frames.push(frame);
        if (this.#answerPings && frame.type === T.Ping && frame.flags === F.SYN && frame.streamId === 0) {
          this.send({ type: T.Ping, flags: F.ACK, streamId: 0, length: frame.length });
        }
      }
      this.#wake();
    });
    socket.on('error', () => {});
    this.ended = new Promise<void>((resolve) => {
      const done = () => {
        this.#closed = true;
        this.#wake();
        resolve();
      };
      socket.once('end', done);
      socket.once('close', done);
    });
  }

  /** True once the socket ended or closed. */
  get closed(): boolean {
    return this.#closed;
  }

  send(h: FrameHeader, data?: Uint8Array): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(encodeFrame(h, data));
  }

  /** Writes raw bytes (for example a header built with hexFrame). */
  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** Opens a stream the way hashicorp's OpenStream does: WindowUpdate|SYN, delta 0. */
  syn(streamId: number): void {
    this.send({ type: T.WindowUpdate, flags: F.SYN, streamId, length: 0 });
  }

  /** Accepts a stream the way hashicorp's Accept does: WindowUpdate|ACK with `delta`. */
  ack(streamId: number, delta = 0): void {
    this.send({ type: T.WindowUpdate, flags: F.ACK, streamId, length: delta });
  }

  data(streamId: number, payload: Uint8Array, flags = 0): void {
    this.send({ type: T.Data, flags, streamId, length: payload.byteLength }, payload);
  }

  windowUpdate(streamId: number, delta: number): void {
    this.send({ type: T.WindowUpdate, flags: 0, streamId, length: delta });
  }

  fin(streamId: number): void {
    this.send({ type: T.WindowUpdate, flags: F.FIN, streamId, length: 0 });
  }

  rst(streamId: number): void {
    this.send({ type: T.WindowUpdate, flags: F.RST, streamId, length: 0 });
  }

  goAway(code: number): void {
    this.send({ type: T.GoAway, flags: 0, streamId: 0, length: code });
  }

  ping(opaque: number, flags: number = F.SYN): void {
    this.send({ type: T.Ping, flags, streamId: 0, length: opaque });
  }

  /** Frames received so far that match `pred`. */
  filter(pred: (f: Frame) => boolean): Frame[] {
    return this.frames.filter(pred);
  }

  /** Waits until `pred` holds for the frames received so far (or the socket closes: then throws). */
  async until(pred: (frames: Frame[]) => boolean, what = 'frames', timeoutMs = 5_000): Promise<void> {
    if (pred(this.frames)) return;
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        if (pred(this.frames)) finish();
        else if (this.#closed) finish(new Error(`socket closed while waiting for ${what}`));
      };
      const finish = (err?: Error) => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        if (err === undefined) resolve();
        else reject(err);
      };
      const timer = setTimeout(() => finish(new Error(`timed out waiting for ${what}`)), timeoutMs);
      this.#waiters.add(check);
    });
  }

  /** Waits for the first frame after index `from` that matches `pred`, and returns it. */
  async next(pred: (f: Frame) => boolean, what = 'frame', from = 0, timeoutMs = 5_000): Promise<Frame> {
    let found: Frame | undefined;
    await this.until(
      (frames) => {
        found = frames.slice(from).find(pred);
        return found !== undefined;
      },
      what,
      timeoutMs,
    );
    return found!;
  }

  /**
   * A round trip through the other side's frame loop: sends a Ping SYN with `opaque` and waits for
   * its ACK. Everything the other side sent before handling the ping has arrived once this resolves.
   */
  async roundTrip(opaque: number): Promise<void> {
    const from = this.frames.length;
    this.ping(opaque);
    await this.next(
      (f) => f.type === T.Ping && f.flags === F.ACK && f.length === opaque,
      `ping ACK ${opaque}`,
      from,
    );
  }

  /**
   * Two ping round trips through the other side's frame loop. Frames it queued in reaction to
   * anything sent before the barrier (including work deferred to microtasks) are on the wire when
   * this resolves: the second ping is only sent after the first reply, i.e. after those microtasks ran.
   */
  async barrier(): Promise<void> {
    await this.roundTrip(nextOpaque++);
    await this.roundTrip(nextOpaque++);
  }

  /** Concatenated Data payloads received on `streamId`. */
  received(streamId: number): Buffer {
    return Buffer.concat(this.filter((f) => f.type === T.Data && f.streamId === streamId).map((f) => f.data));
  }

  #wake(): void {
    for (const w of [...this.#waiters]) w();
  }
}

/** Frame predicates. */
export const is = {
  syn: (f: Frame) => (f.flags & F.SYN) !== 0 && f.streamId !== 0,
  ack: (id: number) => (f: Frame) => f.streamId === id && (f.flags & F.ACK) !== 0,
  fin: (id: number) => (f: Frame) => f.streamId === id && (f.flags & F.FIN) !== 0,
  rst: (id: number) => (f: Frame) => f.streamId === id && (f.flags & F.RST) !== 0,
  data: (id: number) => (f: Frame) => f.type === T.Data && f.streamId === id,
  goAway: (f: Frame) => f.type === T.GoAway,
  pingSyn: (f: Frame) => f.type === T.Ping && f.flags === F.SYN,
};

/** Aborts the session and destroys the sockets when the test finishes; streams get quiet error listeners. */
export function teardown(session: MuxSession, ...sockets: Socket[]): void {
  quietStreams(session);
  onTestFinished(() => {
    session.abort();
    for (const socket of sockets) socket.destroy();
  });
}

/** A session under test on one end of a socket pair and a RawPeer on the other, torn down after the test. */
export async function rawSession(
  role: MuxSessionInit['role'],
  init: Partial<MuxSessionInit> = {},
  peerOptions: RawPeerOptions = {},
): Promise<{ session: MuxSession; peer: RawPeer }> {
  const [a, b] = await socketPair();
  const session = createMuxSession(a, { ...init, role });
  const peer = new RawPeer(b, peerOptions);
  teardown(session, b);
  return { session, peer };
}

/** Resolves with the next stream the peer opens on `session`. */
export function nextStream(session: MuxSession): Promise<MuxStream> {
  return new Promise((resolve) => session.onStream(resolve));
}

/** Reads a Node stream to its end; rejects with the stream's error. */
export function readAll(stream: NodeJS.ReadableStream & { once: Duplex['once'] }): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', reject);
  });
}

/** How a Duplex finished: 'end' seen or not, the error it was destroyed with, and what it read. */
export interface Outcome {
  ended: boolean;
  error: Error | undefined;
  data: Buffer;
}

/**
 * Reads `stream` (it flows from now on) and resolves on 'close' with how it finished. A reset must
 * show up as `error`, never as `ended` (decisions.md "P6").
 */
export function outcome(stream: Duplex): Promise<Outcome> {
  return new Promise<Outcome>((resolve) => {
    let ended = false;
    let error: Error | undefined;
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      ended = true;
    });
    stream.on('error', (err: Error) => {
      error ??= err;
    });
    stream.once('close', () => resolve({ ended, error, data: Buffer.concat(chunks) }));
  });
}

/** Awaits `result` (from outcome()) and checks the stream failed with a `kind`, never a clean end. */
export async function expectFailure(
  result: Promise<Outcome>,
  kind: abstract new (...args: never[]) => Error,
): Promise<Outcome> {
  const out = await result;
  expect(out.ended).toBe(false);
  expect(out.error).toBeInstanceOf(kind);
  return out;
}

/**
 * Gives every MuxStream a session hands out (open() and onStream()) a no-op 'error' listener.
 * Aborting a session, or a peer reset, makes streams a test no longer watches emit 'error'; tests
 * assert the errors they care about with outcome() and readAll(). Streams the session holds
 * internally (queued early streams) are not covered: an unhandled error there is a real bug.
 */
export function quietStreams(session: {
  open(): MuxStream;
  onStream(handler: (stream: MuxStream) => void): void;
}): void {
  const ignore = () => {};
  const open = session.open.bind(session);
  const onStream = session.onStream.bind(session);
  session.open = () => open().on('error', ignore);
  session.onStream = (handler) => onStream((s) => handler(s.on('error', ignore)));
}

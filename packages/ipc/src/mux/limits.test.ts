// What a hostile or broken peer can make a session hold, and how long a peer that stopped reading
// can hold it (issue 12 item 4), on a real Unix socket against a hand-driven raw peer
// (src/__tests__/frames.ts): a data frame longer than the window or the cap is refused at its
// header (GoAway 1, as hashicorp/yamux does), unread bytes are bounded per session (GoAway 2), and
// a peer that answers no ping or reads none of our writes is closed after a timeout.
import { spawn } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { F, fmt, is, nextStream, outcome, type RawPeer, rawSession, T } from '../__tests__/frames.js';
import { delay, socketPair, tempDir, waitFor } from '../__tests__/helpers.js';
import {
  ProtocolViolationError,
  SessionBufferLimitError,
  TimeoutError,
  TransportClosedError,
} from '../errors.js';
import type { Logger } from '../logger.js';
import { INITIAL_STREAM_WINDOW } from './config.js';
import { createMuxSession, type MuxSessionInit } from './session.js';

/**
 * A yamux peer in a process of its own that answers every ping SYN with its ACK (after
 * argv[2] ms), nothing else.
 */
const PING_ANSWERER = `
const socket = require('node:net').connect(process.argv[1]);
const delayMs = Number(process.argv[2]);
let buf = Buffer.alloc(0);
socket.on('data', (chunk) => {
  buf = Buffer.concat([buf, chunk]);
  while (buf.length >= 12) {
    const type = buf[1], flags = buf.readUInt16BE(2), length = buf.readUInt32BE(8);
    const size = 12 + (type === 0 ? length : 0);
    if (buf.length < size) break;
    if (type === 2 && flags === 1) {
      const ack = Buffer.from(buf.subarray(0, 12));
      ack.writeUInt16BE(2, 2);
      setTimeout(() => socket.write(ack), delayMs);
    }
    buf = buf.subarray(size);
  }
});
socket.on('error', () => process.exit(0));
socket.on('close', () => process.exit(0));
`;

const KiB = 1024;
const GiB = 1024 * 1024 * 1024;

/** Writes a bare 12-byte frame header announcing `length`, without any of the body. */
function header(peer: RawPeer, type: number, flags: number, streamId: number, length: number): void {
  const h = Buffer.alloc(12);
  h.writeUInt8(0, 0);
  h.writeUInt8(type, 1);
  h.writeUInt16BE(flags, 2);
  h.writeUInt32BE(streamId, 4);
  h.writeUInt32BE(length, 8);
  peer.write(h);
}

interface Line {
  level: string;
  message: string;
  attributes: Record<string, unknown> | undefined;
}

function recordingLogger(lines: Line[]): Logger {
  const at =
    (level: string) =>
    (message: string, attributes?: Record<string, unknown>): void => {
      lines.push({ level, message, attributes });
    };
  const logger: Logger = {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: () => logger,
  };
  return logger;
}

/** A session under test whose warnings and errors are recorded. */
async function watched(role: MuxSessionInit['role'], init: Partial<MuxSessionInit> = {}, answerPings = true) {
  const lines: Line[] = [];
  const { session, peer } = await rawSession(
    role,
    { ...init, logger: recordingLogger(lines) },
    { answerPings },
  );
  const loud = () => lines.filter((l) => l.level === 'warn' || l.level === 'error');
  return { session, peer, loud };
}

const GOAWAY_PROTOCOL_ERROR = '00 03 0000 00000000 00000001';
const GOAWAY_INTERNAL_ERROR = '00 03 0000 00000000 00000002';

describe('a data frame longer than the receive window is refused at its header (hashicorp readData)', () => {
  it.each(['server', 'client'] as const)(
    'a %s session: a 1 GiB header with no body closes the session with GoAway(1), logged once',
    async (role) => {
      const { session, peer, loud } = await watched(role);
      await peer.barrier();
      // Data|SYN opening a stream of the peer's parity, announcing 1 GiB; not one byte of body follows.
      // Before the fix the decoder waited (and buffered) for the whole gigabyte, and only then
      // compared it with the window.
      const id = role === 'server' ? 1 : 2;
      header(peer, T.Data, F.SYN, id, GiB);
      const reason = await session.closed;
      expect(reason.kind).toBe('error');
      const error = reason.kind === 'error' ? reason.error : undefined;
      expect(error).toBeInstanceOf(ProtocolViolationError);
      expect(error?.message).toBe(
        `yamux: data frame of ${GiB} bytes on stream ${id} is longer than any receive window this side grants (4194304 bytes)`,
      );
      await peer.ended;
      const goAways = peer.filter(is.goAway).map((f) => fmt(f.header));
      expect(goAways).toEqual([GOAWAY_PROTOCOL_ERROR]);
      expect(loud()).toEqual([
        {
          level: 'warn',
          message: 'closing the session: the peer broke the protocol or stopped answering',
          attributes: { error: error?.message, role, goAwayCode: 1 },
        },
      ]);
    },
  );

  it('a frame one byte over the open stream’s remaining window is refused at its header', async () => {
    const { session, peer } = await watched('server');
    const accepted = nextStream(session);
    peer.syn(1);
    const stream = await accepted;
    const got = outcome(stream);
    // The whole initial window in one frame is legal (Go sends min(window, len) per frame)...
    peer.data(1, Buffer.alloc(INITIAL_STREAM_WINDOW - 100, 1));
    await peer.barrier();
    expect(session.status).toBe('open');
    // ...one byte more than what is left of it is not (no window update was read by the peer yet:
    // it does not matter whether we sent one, the check is against what we granted).
    const left = 100 + windowGranted(peer, 1);
    header(peer, T.Data, 0, 1, left + 1);
    const reason = await session.closed;
    const error = reason.kind === 'error' ? reason.error : undefined;
    expect(error).toBeInstanceOf(ProtocolViolationError);
    expect(error?.message).toBe(
      `yamux: receive window exceeded: data frame of ${left + 1} bytes on stream 1, ${left} bytes of window left`,
    );
    // The stream the peer had not finished fails as a transport loss naming the reason.
    const out = await got;
    expect(out.ended).toBe(false);
    expect(out.error).toBeInstanceOf(TransportClosedError);
    expect(out.error?.message).toBe(`mux session closed: ${error?.message}`);
    await peer.ended;
    expect(peer.filter(is.goAway).map((f) => fmt(f.header))).toEqual([GOAWAY_PROTOCOL_ERROR]);
  });

  it('a frame opening a stream (Data|SYN) may carry the initial window, not a byte more', async () => {
    const { session, peer } = await watched('server');
    const accepted = nextStream(session);
    peer.data(1, Buffer.alloc(INITIAL_STREAM_WINDOW, 2), F.SYN);
    const stream = await accepted;
    await peer.barrier();
    expect(session.status).toBe('open');
    expect(stream.destroyed).toBe(false);
    header(peer, T.Data, F.SYN, 3, INITIAL_STREAM_WINDOW + 1);
    const reason = await session.closed;
    expect(reason.kind === 'error' && reason.error.message).toBe(
      `yamux: receive window exceeded: data frame of ${INITIAL_STREAM_WINDOW + 1} bytes opening stream 3, whose initial window is ${INITIAL_STREAM_WINDOW} bytes`,
    );
    await peer.ended;
    expect(peer.filter(is.goAway).map((f) => fmt(f.header))).toEqual([GOAWAY_PROTOCOL_ERROR]);
  });

  it('a frame of an unknown version ends the session with GoAway(1), naming it', async () => {
    const { session, peer } = await watched('server');
    await peer.barrier();
    peer.write(Buffer.from('010100010000000100000000', 'hex')); // version 1
    const reason = await session.closed;
    expect(reason.kind === 'error' && reason.error).toBeInstanceOf(ProtocolViolationError);
    expect(reason.kind === 'error' && reason.error.message).toBe('yamux: Invalid frame version');
    await peer.ended;
    expect(peer.filter(is.goAway).map((f) => fmt(f.header))).toEqual([GOAWAY_PROTOCOL_ERROR]);
  });

  it('other protocol errors also end the session with GoAway(1), never libp2p’s GoAway(0)', async () => {
    const { session, peer } = await watched('server');
    await peer.barrier();
    // A stream id of our own (even) parity opened by the peer: "Both endpoints are clients".
    peer.syn(2);
    const reason = await session.closed;
    expect(reason.kind === 'error' && reason.error).toBeInstanceOf(ProtocolViolationError);
    await peer.ended;
    expect(peer.filter(is.goAway).map((f) => fmt(f.header))).toEqual([GOAWAY_PROTOCOL_ERROR]);
  });
});

/** The sum of the window updates we sent on `streamId` (what we granted beyond the initial window). */
function windowGranted(peer: RawPeer, streamId: number): number {
  return peer
    .filter((f) => f.type === T.WindowUpdate && f.streamId === streamId && (f.flags & F.SYN) === 0)
    .reduce((sum, f) => sum + f.length, 0);
}

describe('unread bytes are bounded per session (maxBufferedBytes)', () => {
  const small = { maxStreamWindowSize: INITIAL_STREAM_WINDOW, maxBufferedBytes: 2 * INITIAL_STREAM_WINDOW };

  it('streams inside their windows whose data nobody reads: past the limit, GoAway(2) and closed', async () => {
    const { session, peer, loud } = await watched('server', small);
    const streams: Array<ReturnType<typeof outcome>> = [];
    // The handler takes the streams and never reads them (a stalled consumer).
    session.onStream((s) => {
      s.on('error', () => {});
      streams.push(
        new Promise((resolve) =>
          s.once('close', () => resolve({ ended: false, error: undefined, data: Buffer.alloc(0) })),
        ),
      );
    });
    // Each stream stays inside its 256 KiB window; together they pass 512 KiB on the third.
    for (const id of [1, 3, 5, 7]) {
      if (peer.closed) break;
      peer.data(id, Buffer.alloc(200 * KiB, 3), F.SYN);
      await peer.barrier().catch(() => {});
    }
    const reason = await session.closed;
    const error = reason.kind === 'error' ? reason.error : undefined;
    expect(error).toBeInstanceOf(SessionBufferLimitError);
    expect(error?.message).toMatch(
      /^yamux: the peer made this session hold \d+ unread bytes over \d+ streams, more than maxBufferedBytes \(524288\)$/,
    );
    await peer.ended;
    expect(peer.filter(is.goAway).map((f) => fmt(f.header))).toEqual([GOAWAY_INTERNAL_ERROR]);
    expect(loud()).toHaveLength(1);
  });

  it('control: the same bytes and more, read as they come, never reach the limit', async () => {
    const { session, peer } = await watched('server', small);
    let received = 0;
    session.onStream((s) => {
      s.on('data', (c: Buffer) => {
        received += c.byteLength;
      });
    });
    for (let i = 0; i < 16; i++) {
      peer.data(2 * i + 1, Buffer.alloc(200 * KiB, 4), F.SYN | F.FIN);
      await peer.barrier();
    }
    await waitFor(() => received === 16 * 200 * KiB, 5_000, 'all bytes read');
    expect(session.status).toBe('open');
    expect(peer.filter(is.goAway)).toEqual([]);
  });
});

describe('a peer that stops answering is closed after a timeout, not waited for', () => {
  it('keep-alive: a ping not answered within keepAliveTimeoutMs closes the session (TimeoutError)', async () => {
    const { session, peer, loud } = await watched(
      'server',
      { keepAliveIntervalMs: 20, keepAliveTimeoutMs: 100 },
      false,
    );
    peer.ping(0x4242); // the peer has spoken (and is answered), then answers no ping of ours
    const reason = await session.closed;
    const error = reason.kind === 'error' ? reason.error : undefined;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error?.message).toBe('yamux: keep-alive: the peer did not answer a ping within 100 ms');
    await peer.ended;
    // A peer that does not read gets no GoAway: the socket is closed at once.
    expect(peer.filter(is.goAway)).toEqual([]);
    expect(loud()).toHaveLength(1);
  });

  it('a peer that has sent nothing yet (still starting) is not timed out by the keep-alive', async () => {
    const { session, peer } = await watched(
      'server',
      { keepAliveIntervalMs: 20, keepAliveTimeoutMs: 50 },
      false,
    );
    // Several keep-alive pings time out unanswered while the peer is silent...
    await peer.until((f) => f.filter(is.pingSyn).length >= 4, 'four unanswered keep-alive pings');
    expect(session.status).toBe('open');
    // ...and once it has spoken, the next unanswered one closes the session.
    peer.ping(0x4243);
    const reason = await session.closed;
    expect(reason.kind === 'error' && reason.error).toBeInstanceOf(TimeoutError);
  });

  it('control: a peer that answers every ping keeps the session across many keep-alives', async () => {
    const { session, peer } = await watched('server', { keepAliveIntervalMs: 20, keepAliveTimeoutMs: 5_000 });
    await peer.until((f) => f.filter(is.pingSyn).length >= 5, 'five keep-alive pings');
    expect(session.status).toBe('open');
  });

  it('opening a stream after the peer has been silent for the timeout pings at once', async () => {
    // The keep-alive interval is an hour: only the probe made by open() can find the frozen peer.
    const { session, peer } = await watched(
      'client',
      { keepAliveIntervalMs: 3_600_000, keepAliveTimeoutMs: 100 },
      false,
    );
    const first = await peer.next(is.pingSyn, 'the first keep-alive ping');
    peer.ping(first.length, F.ACK); // answered once, then the peer freezes
    await delay(150); // silent for longer than keepAliveTimeoutMs
    expect(session.status).toBe('open');
    const stream = session.open();
    const got = outcome(stream);
    const reason = await session.closed;
    expect(reason.kind === 'error' && reason.error.message).toBe(
      'yamux: keep-alive: the peer did not answer a ping within 100 ms',
    );
    expect(peer.filter(is.pingSyn).length).toBe(2);
    const out = await got;
    expect(out.ended).toBe(false);
    expect(out.error).toBeInstanceOf(TransportClosedError);
  });

  it('our own event loop blocked past the timeout does not close a session whose peer answered', async () => {
    // The peer is another process (it answers while we are blocked): a yamux ping answerer.
    using dir = tempDir();
    const path = join(dir.path, 'peer.sock');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(path, resolve));
    onTestFinished(() => {
      server.close();
    });
    const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
    // It answers 50 ms late: inside the block below, never before it starts.
    const child = spawn(process.execPath, ['-e', PING_ANSWERER, path, '50'], { stdio: 'ignore' });
    onTestFinished(() => {
      child.kill('SIGKILL');
    });
    const session = createMuxSession(await accepted, {
      role: 'server',
      keepAliveIntervalMs: 3_600_000,
      keepAliveTimeoutMs: 100,
    });
    onTestFinished(() => session.abort());
    await session.ping(); // the peer has spoken
    // An I/O callback (another connection's data, as a request handler would) blocks the loop
    // past the probe's timeout. The ACK the peer sends meanwhile is read in the NEXT poll phase;
    // the probe's timer runs before it (libuv runs timers after this poll phase).
    const [a, b] = await socketPair();
    onTestFinished(() => {
      a.destroy();
      b.destroy();
    });
    const blocked = new Promise<void>((resolve) => {
      b.once('data', () => {
        const until = Date.now() + 1_000;
        while (Date.now() < until) {
          // blocked
        }
        resolve();
      });
    });
    await delay(150); // silent for longer than the timeout: open() probes at once
    session.open().on('error', () => {});
    a.write('x'); // readable at once; the probe's ACK comes 50 ms later, while we are blocked
    await blocked;
    await delay(50);
    expect(session.status).toBe('open');
    await session.ping();
  });

  it('writes: the socket not draining for writeTimeoutMs closes the session (TimeoutError)', async () => {
    const { session, peer, loud } = await watched('server', {
      writeTimeoutMs: 200,
      keepAliveTimeoutMs: 3_600_000,
    });
    const accepted = nextStream(session);
    // Open a stream and grant it a 64 MiB window, then stop reading the socket.
    peer.send({ type: T.WindowUpdate, flags: F.SYN, streamId: 1, length: 64 * 1024 * 1024 });
    const stream = await accepted;
    await peer.barrier();
    peer.socket.pause();
    const written = new Promise<Error | null | undefined>((resolve) => {
      stream.on('error', () => {});
      stream.write(Buffer.alloc(32 * 1024 * 1024, 5), resolve);
    });
    const reason = await session.closed;
    const error = reason.kind === 'error' ? reason.error : undefined;
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error?.message).toBe('yamux: the peer stopped reading: no write to it completed within 200 ms');
    expect(await written).toBeInstanceOf(Error);
    expect(loud()).toHaveLength(1);
  });
});

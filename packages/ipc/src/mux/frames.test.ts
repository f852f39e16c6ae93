// yamux on the wire, byte for byte: our session on one end of a real Unix socket, a hand-driven raw
// peer (src/__tests__/frames.ts) on the other. Checks the frames of protocol.md §2.1/§2.2 and the
// regression tests for each fix of decisions.md "yamux mismatch 1" to "yamux mismatch 4" and "P9".
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  expectFailure,
  F,
  type Frame,
  fmt,
  hexFrame,
  is,
  nextStream,
  outcome,
  rawSession,
  readAll,
  T,
} from '../__tests__/frames.js';
import { sha256 } from '../__tests__/helpers.js';
import { SessionClosedError, StreamResetError, TransportClosedError } from '../errors.js';
import type { MuxStream } from './mux-stream.js';

/** Resolves once `stream` is attached to a yamux stream (its SYN is queued or sent). */
function connected(stream: MuxStream): Promise<void> {
  if (stream.streamId !== undefined) return Promise.resolve();
  return new Promise((resolve, reject) => {
    stream.once('connect', () => resolve());
    stream.once('error', reject);
  });
}

const headers = (frames: Frame[]) => frames.map((f) => fmt(f.header));

describe('frame bytes on the raw socket (protocol.md §2.2)', () => {
  it.each(['client', 'server'] as const)(
    'a %s session pings once at start: 00 02 0001 00000000 00000000',
    async (role) => {
      // §2.2 keep-alive; decisions.md "yamux frames": libp2p pings at start (runImmediately).
      const { peer } = await rawSession(role);
      const first = await peer.next(() => true, 'first frame');
      expect(fmt(first.header)).toBe('00 02 0001 00000000 00000000');
      expect(first.header.equals(hexFrame('00 02 0001 00000000 00000000'))).toBe(true);
      await peer.barrier();
      expect(peer.filter(is.pingSyn)).toHaveLength(1); // the next one is 30 s away
    },
  );

  it('client role opens odd stream ids with WindowUpdate|SYN delta 0 (§2.1, §2.2 "Open")', async () => {
    const { session, peer } = await rawSession('client');
    session.open();
    await peer.until((f) => f.filter(is.syn).length === 1, 'first SYN');
    session.open();
    await peer.until((f) => f.filter(is.syn).length === 2, 'second SYN');
    expect(headers(peer.filter(is.syn))).toEqual([
      '00 01 0001 00000001 00000000',
      '00 01 0001 00000003 00000000',
    ]);
  });

  it('server role opens even stream ids (§2.1)', async () => {
    const { session, peer } = await rawSession('server');
    session.open();
    session.open();
    await peer.until((f) => f.filter(is.syn).length === 2, 'two SYNs');
    expect(headers(peer.filter(is.syn))).toEqual([
      '00 01 0001 00000002 00000000',
      '00 01 0001 00000004 00000000',
    ]);
  });

  it('an inbound SYN is ACKed on arrival, before the app reads or writes (decisions.md "yamux mismatch 2")', async () => {
    // hashicorp closes the WHOLE session when a stream it opened stays un-ACKed for 75 s (§2.2
    // StreamOpenTimeout). libp2p alone would ACK only with the first frame it sends on the stream.
    const { session, peer } = await rawSession('server');
    const accepted: MuxStream[] = [];
    session.onStream((s) => accepted.push(s)); // the app takes the stream and never touches it
    peer.syn(1);
    const ack = await peer.next(is.ack(1), 'ACK for stream 1');
    expect(fmt(ack.header)).toBe('00 01 0002 00000001 00000000');
    expect(accepted).toHaveLength(1);
    // Nothing else was sent on the stream: the ACK stands alone, delta 0.
    await peer.barrier();
    expect(headers(peer.filter((f) => f.streamId === 1))).toEqual(['00 01 0002 00000001 00000000']);
  });

  it('an inbound SYN is ACKed on arrival even before onStream() is set (decisions.md "yamux mismatch 2" + P11)', async () => {
    const { peer } = await rawSession('client');
    peer.syn(2);
    const ack = await peer.next(is.ack(2), 'ACK for stream 2');
    expect(fmt(ack.header)).toBe('00 01 0002 00000002 00000000');
  });

  it('a Ping SYN is answered with a Ping ACK carrying the same opaque value (§2.2 "Ping")', async () => {
    const { peer } = await rawSession('server');
    for (const value of [0x2a, 0xfffffffe]) {
      const from = peer.frames.length;
      peer.write(hexFrame(`00 02 0001 00000000 ${value.toString(16).padStart(8, '0')}`));
      const reply = await peer.next((f) => f.type === T.Ping && f.flags === F.ACK, 'ping ACK', from);
      expect(fmt(reply.header)).toBe(`00 02 0002 00000000 ${value.toString(16).padStart(8, '0')}`);
    }
  });

  it('close() sends GoAway code 0 (00 03 0000 00000000 00000000), then ends the socket (§2.4 step 1)', async () => {
    const { session, peer } = await rawSession('client');
    await peer.barrier();
    const closing = session.close();
    const goAway = await peer.next(is.goAway, 'GoAway');
    expect(fmt(goAway.header)).toBe('00 03 0000 00000000 00000000');
    await peer.ended;
    await closing;
    expect(peer.filter(is.goAway)).toHaveLength(1);
    expect(await session.closed).toEqual({ kind: 'local' });
  });

  it('data, half-close and reset frames (§2.2 "Half-close"; decisions.md "yamux checks" 6c)', async () => {
    const { session, peer } = await rawSession('client');
    const a = session.open();
    const b = session.open();
    await peer.until((f) => f.filter(is.syn).length === 2, 'two SYNs');
    peer.ack(1);
    peer.ack(3);
    a.end(Buffer.from('hello'));
    const data = await peer.next(is.data(1), 'data on 1');
    expect(fmt(data.header)).toBe('00 00 0000 00000001 00000005');
    expect(data.data.toString()).toBe('hello');
    const fin = await peer.next(is.fin(1), 'FIN on 1');
    expect(fmt(fin.header)).toBe('00 01 0004 00000001 00000000');
    await connected(b);
    b.destroy(new Error('app gave up'));
    const rst = await peer.next(is.rst(3), 'RST on 3');
    expect(fmt(rst.header)).toBe('00 01 0008 00000003 00000000');
  });
});

describe('regressions for the interop fixes (decisions.md "yamux mismatch 1"–"yamux mismatch 4")', () => {
  it('mismatch 1: GoAway code 0 keeps open streams working both ways; open() throws at once', async () => {
    const { session, peer } = await rawSession('client');
    // One stream we opened (1) and one the peer opened (2), both mid-call.
    const mine = session.open();
    await peer.next(is.syn, 'SYN 1');
    peer.ack(1);
    const theirs = nextStream(session);
    peer.syn(2);
    const inbound = await theirs;
    await peer.barrier();

    peer.goAway(0); // Go's x/ipc teardown step 1 (§2.4): GoAway, then drain
    await peer.barrier();
    expect(session.status).toBe('draining');
    expect(() => session.open()).toThrow(SessionClosedError);

    const mineOut = outcome(mine);
    const inboundIn = readAll(inbound);
    mine.write('request');
    await peer.until(() => peer.received(1).toString() === 'request', 'request on 1');
    peer.data(1, Buffer.from('response'));
    peer.fin(1);
    mine.end();
    await peer.next(is.fin(1), 'our FIN on 1');
    const out = await mineOut;
    expect(out.data.toString()).toBe('response');
    expect(out).toMatchObject({ ended: true, error: undefined });

    peer.data(2, Buffer.from('call from go'));
    peer.fin(2);
    expect((await inboundIn).toString()).toBe('call from go');
    inbound.end('answer from us');
    await peer.next(is.fin(2), 'our FIN on 2');
    expect(peer.received(2).toString()).toBe('answer from us');
    expect(peer.filter((f) => (f.flags & F.RST) !== 0)).toEqual([]);

    expect(session.numStreams).toBe(0);
    peer.socket.end(); // Go's Close() after the drain: EOF, no further frame (decisions.md "yamux checks" 7b)
    expect(await session.closed).toEqual({ kind: 'peer', goAwayCode: 0 });
  });

  it("close() after the peer's GoAway still sends our GoAway, and refuses new SYNs with RST (§2.4 step 1)", async () => {
    // Go's x/ipc Close() always starts with GoAway; a GoAway only stops its RECEIVER from opening
    // streams, so without ours the peer could keep opening streams into our drain.
    const { session, peer } = await rawSession('client');
    peer.goAway(0);
    await peer.barrier();
    expect(session.status).toBe('draining');
    const held = nextStream(session);
    peer.syn(2); // a call in flight keeps our drain waiting
    await held;
    const closing = session.close({ timeoutMs: 5_000 });
    const goAway = await peer.next(is.goAway, 'our GoAway');
    expect(fmt(goAway.header)).toBe('00 03 0000 00000000 00000000');
    peer.syn(4); // too late: refused at once, like hashicorp after a local GoAway
    const rst = await peer.next(is.rst(4), 'RST for stream 4');
    expect(fmt(rst.header)).toBe('00 01 0008 00000004 00000000');
    peer.rst(2);
    await closing;
    expect(await session.closed).toEqual({ kind: 'peer', goAwayCode: 0 });
  });

  it('mismatch 1: GoAway code 1 (protocol error) aborts the open streams and ends the session', async () => {
    const { session, peer } = await rawSession('client');
    const mine = session.open();
    await peer.next(is.syn, 'SYN 1');
    peer.ack(1);
    await connected(mine);
    const result = outcome(mine);
    peer.goAway(1);
    // An IpcError, so connect.ts reports the call as a transport loss (`unavailable`, §2.3).
    await expectFailure(result, TransportClosedError);
    expect(() => session.open()).toThrow(SessionClosedError);
    // hashicorp tears the session down on codes 1/2 (§2.2 / decisions.md "yamux frames" (GoAway received)): so
    // do we, instead of idling with a dead muxer on an open socket.
    const reason = await session.closed;
    expect(reason.kind).toBe('error');
    expect(reason.kind === 'error' && reason.error.message).toMatch(/GoAway with error code 1/);
    await peer.ended;
    expect(session.status).toBe('closed');
  });

  it('mismatch 4: a late or unknown ping ACK is ignored and the session stays usable', async () => {
    // Our start-up ping (id 0) stays unanswered so we control exactly when ACKs arrive.
    const { session, peer } = await rawSession('client', {}, { answerPings: false });
    await peer.next(is.pingSyn, 'our first ping');
    peer.write(hexFrame('00 02 0002 00000000 00000007')); // ACK for a ping we never sent
    await peer.barrier();
    peer.write(hexFrame('00 02 0002 00000000 00000000')); // the real ACK for ping 0
    peer.write(hexFrame('00 02 0002 00000000 00000000')); // ... and a duplicate, now unrequested
    await peer.barrier();
    expect(session.status).toBe('open');
    expect(peer.closed).toBe(false);

    // Still fully usable: a new ping round trip and a stream.
    const rtt = session.ping();
    const pingSyn = await peer.next((f) => is.pingSyn(f) && f.length === 1, 'ping 1');
    peer.ping(pingSyn.length, F.ACK);
    expect(await rtt).toBeGreaterThanOrEqual(0);
    const s = session.open();
    const syn = await peer.next(is.syn, 'SYN');
    peer.ack(syn.streamId);
    s.end('still alive');
    await peer.next(is.fin(syn.streamId), 'FIN');
    expect(peer.received(syn.streamId).toString()).toBe('still alive');
  });

  it('mismatch 3: at most 256 un-ACKed SYNs on the wire; ACKs and RSTs let the rest through', async () => {
    const { session, peer } = await rawSession('client');
    const N = 600;
    const streams = Array.from({ length: N }, () => session.open());
    const syns = () => peer.filter(is.syn);

    await peer.until((f) => f.filter(is.syn).length >= 256, '256 SYNs');
    await peer.barrier();
    expect(syns()).toHaveLength(256);
    expect(syns().map((f) => f.streamId)).toEqual(Array.from({ length: 256 }, (_, i) => 2 * i + 1));

    // ACK ten: exactly ten more SYNs follow.
    for (let id = 1; id <= 19; id += 2) peer.ack(id);
    await peer.until((f) => f.filter(is.syn).length >= 266, '266 SYNs');
    await peer.barrier();
    expect(syns()).toHaveLength(266);

    // An RST (Go's "backlog exceeded" answer) frees a slot as well, and fails that stream.
    const reset = outcome(streams[10]!); // stream id 21
    peer.rst(21);
    expect((await reset).error).toBeInstanceOf(StreamResetError);
    await peer.until((f) => f.filter(is.syn).length >= 267, '267 SYNs');
    await peer.barrier();
    expect(syns()).toHaveLength(267);

    // ACK in rounds; the un-ACKed count never exceeds 256.
    const acked = new Set<number>([...Array.from({ length: 10 }, (_, i) => 2 * i + 1), 21]);
    while (acked.size < N) {
      for (const f of syns()) {
        if (!acked.has(f.streamId)) {
          acked.add(f.streamId);
          peer.ack(f.streamId);
        }
      }
      await peer.barrier();
      expect(syns().length - acked.size).toBeLessThanOrEqual(256);
    }
    expect(syns()).toHaveLength(N);
    await Promise.all(streams.map(connected).filter((_, i) => i !== 10));
    expect(new Set(streams.map((s) => s.streamId)).size).toBe(N);
  });

  it('no window update once we stopped reading or the peer finished (hashicorp: "frame for missing stream")', async () => {
    // tests/interop-go-peer: a call's stream is closed from the 'data' handler that completes the
    // response, and libp2p then granted window for that very frame, after our FIN. hashicorp forgets
    // a stream once both FINs crossed and logs a warning (error level in Docker) for such an update.
    const { session, peer } = await rawSession('client');
    const call = session.open();
    const normal = session.open();
    const finished = session.open();
    await peer.until((f) => f.filter(is.syn).length === 3, 'three SYNs');
    for (const id of [1, 3, 5]) peer.ack(id);
    call.write('request');
    call.on('data', () => call.destroy()); // the response is complete: close gracefully
    await peer.next(is.data(1), 'request');
    peer.data(1, Buffer.alloc(230, 1));
    peer.data(3, Buffer.alloc(1000, 3));
    peer.data(5, Buffer.alloc(500, 5), F.FIN); // Data|FIN: the peer has finished sending
    normal.resume();
    finished.resume();
    await peer.next(is.fin(1), 'our FIN on 1');
    await peer.barrier();
    const updates = (id: number) =>
      peer
        .filter((f) => f.streamId === id && f.type === T.WindowUpdate && f.flags === 0)
        .map((f) => f.length);
    expect(updates(1)).toEqual([]);
    expect(updates(5)).toEqual([]);
    expect(updates(3)).toEqual([1000]); // an open stream still grants window at once
  });

  it('P9: data frames never exceed maxFrameSize (256 KiB), even with a huge window', async () => {
    const { session, peer } = await rawSession('client');
    const s = session.open();
    const syn = await peer.next(is.syn, 'SYN');
    // Go with MaxStreamWindowSize 16 MiB ACKs with delta 16 MiB - 256 KiB (decisions.md "yamux checks" 4),
    // and any peer may grant more later.
    peer.ack(syn.streamId, 16 * 1024 * 1024 - 256 * 1024);
    peer.windowUpdate(syn.streamId, 64 * 1024 * 1024);
    await peer.barrier();
    const payload = randomBytes(4 * 1024 * 1024);
    s.end(payload);
    await peer.next(is.fin(syn.streamId), 'FIN', 0, 10_000);
    const frames = peer.filter(is.data(syn.streamId));
    expect(Math.max(...frames.map((f) => f.length))).toBeLessThanOrEqual(256 * 1024);
    expect(frames.length).toBeGreaterThanOrEqual(16);
    expect(sha256(peer.received(syn.streamId))).toBe(sha256(payload));
  });

  it('frames follow the live send window: no 12-byte remainder frames, no stranded window (P9 fix)', async () => {
    const { session, peer } = await rawSession('client');
    const s = session.open();
    const syn = await peer.next(is.syn, 'SYN');
    s.write(randomBytes(1024 * 1024));
    await peer.barrier();
    // A zero-delta ACK arrives after the first frame went out: libp2p would now stop 12 bytes short.
    peer.ack(syn.streamId);
    await peer.until(() => peer.received(syn.streamId).byteLength === 256 * 1024, 'the whole initial window');
    peer.windowUpdate(syn.streamId, 100);
    await peer.until(
      () => peer.received(syn.streamId).byteLength === 256 * 1024 + 100,
      'exactly the granted 100 bytes',
    );
    const sizes = peer.filter(is.data(syn.streamId)).map((f) => f.length);
    expect(sizes).not.toContain(12);
    expect(sizes[0]).toBe(256 * 1024);
    s.destroy();
  });

  it('P9: maxFrameSize is configurable and holds across window updates', async () => {
    const { session, peer } = await rawSession('server', { maxFrameSize: 16 * 1024 });
    const s = session.open();
    const syn = await peer.next(is.syn, 'SYN');
    peer.ack(syn.streamId);
    const payload = randomBytes(1024 * 1024);
    s.end(payload);
    // Grant window the hashicorp way, in large steps once half the window is consumed (§2.2).
    let granted = 256 * 1024;
    while (!peer.frames.some(is.fin(syn.streamId))) {
      const got = peer.received(syn.streamId).byteLength;
      if (granted - got <= 128 * 1024) {
        peer.windowUpdate(syn.streamId, 2 * 1024 * 1024);
        granted += 2 * 1024 * 1024;
      }
      await peer.until(
        (f) => f.some(is.fin(syn.streamId)) || peer.received(syn.streamId).byteLength > got,
        'more data',
      );
    }
    const frames = peer.filter(is.data(syn.streamId));
    expect(Math.max(...frames.map((f) => f.length))).toBeLessThanOrEqual(16 * 1024);
    expect(sha256(peer.received(syn.streamId))).toBe(sha256(payload));
  });
});

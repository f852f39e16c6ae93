// The yamux session as the rest of the package uses it (protocol.md §2, §2.4; decisions.md "P5", "P6", "P9"–"P12"):
// stream semantics against a hand-driven raw peer, then two real sessions (client + server roles,
// §2.1) over a real Unix socket pair.
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import {
  expectFailure,
  F,
  is,
  nextStream,
  outcome,
  rawSession,
  readAll,
  teardown,
} from '../__tests__/frames.js';
import { delay, sha256, socketPair, waitFor } from '../__tests__/helpers.js';
import { isIpcError, SessionClosedError, StreamResetError, TransportClosedError } from '../errors.js';
import type { MuxStream } from './mux-stream.js';
import { createMuxSession, type MuxSession, type MuxSessionInit } from './session.js';

/** A plugin-side (client) and an engine-side (server) session over one socket pair (§2.1). */
async function pair(init: Partial<MuxSessionInit> = {}) {
  const [a, b] = await socketPair();
  const plugin = createMuxSession(a, { ...init, role: 'client' });
  const engine = createMuxSession(b, { ...init, role: 'server' });
  teardown(plugin, a);
  teardown(engine, b);
  return { plugin, engine, pluginSocket: a, engineSocket: b };
}

/** A request/response exchange on a fresh stream: write `body`, half-close, read the reply. */
async function call(session: MuxSession, body: string): Promise<string> {
  const s = session.open();
  const reply = readAll(s);
  s.end(body);
  return (await reply).toString();
}

/** Serves `respond(request)` on every inbound stream, like one HTTP/1.1 call per stream (§2.3). */
function serve(session: MuxSession, respond: (req: string) => string | Promise<string>): void {
  session.onStream(async (s) => {
    const req = (await readAll(s)).toString();
    s.end(await respond(req));
  });
}

/** Writes `chunks` to `w` with backpressure, then ends it; `onAccepted` gets each write callback. */
async function produce(w: MuxStream, chunks: Buffer[], onAccepted: (bytes: number) => void): Promise<void> {
  for (const chunk of chunks) {
    if (!w.write(chunk, () => onAccepted(chunk.byteLength))) await once(w, 'drain');
  }
  w.end();
}

/** Resolves when `r` ends; rejects with its error. */
function endOf(r: MuxStream): Promise<void> {
  return new Promise((resolve, reject) => {
    r.on('end', resolve);
    r.on('error', reject);
  });
}

describe('write batching (decisions.md "yamux writes once per turn")', () => {
  it('the frames of many streams opened in one turn, and of several I/O callbacks of one poll phase, leave in one write', async () => {
    const { plugin, engine, pluginSocket } = await pair();
    engine.onStream((s) => s.resume());
    await plugin.ping();
    let writes = 0;
    const sock = pluginSocket as unknown as {
      _writev: (...a: unknown[]) => unknown;
      _write: (...a: unknown[]) => unknown;
    };
    const writev = sock._writev.bind(sock);
    const write = sock._write.bind(sock);
    sock._writev = (...a) => {
      writes++;
      return writev(...a);
    };
    sock._write = (...a) => {
      writes++;
      return write(...a);
    };
    // Ten streams, SYN and data each (twenty frames), from three callbacks of one poll phase: each
    // callback is a read of its own socket, all readable before the loop polls.
    const triggers = await Promise.all([socketPair(), socketPair(), socketPair()]);
    let fired = 0;
    const done = new Promise<void>((resolve) => {
      for (const [, b] of triggers) {
        b.once('data', () => {
          for (let i = 0; i < (fired === 0 ? 4 : 3); i++) plugin.open().write(`stream ${i}`);
          if (++fired === triggers.length) resolve();
        });
      }
    });
    for (const [a] of triggers) a.write('x');
    await done;
    await delay(20);
    for (const [a, b] of triggers) {
      a.destroy();
      b.destroy();
    }
    expect(fired).toBe(3);
    // One write when the three reads landed in one poll phase; never one per frame or per stream.
    expect(writes).toBeGreaterThanOrEqual(1);
    expect(writes).toBeLessThanOrEqual(3);
  });
});

describe('stream semantics', () => {
  describe('a peer RST is an error, never a clean end (P6; decisions.md "yamux checks" 6a-6d)', () => {
    it('on an idle outbound stream', async () => {
      const { session, peer } = await rawSession('client');
      const s = session.open();
      const syn = await peer.next(is.syn, 'SYN');
      peer.ack(syn.streamId);
      const result = outcome(s);
      peer.write(Buffer.from('000100080000000100000000', 'hex')); // WindowUpdate|RST, stream 1
      await expectFailure(result, StreamResetError);
      expect(session.status).toBe('open');
    });

    it('on an inbound stream after some data arrived', async () => {
      const { session, peer } = await rawSession('server');
      const inbound = nextStream(session);
      peer.syn(1);
      peer.data(1, Buffer.from('partial '));
      const s = await inbound;
      const result = outcome(s);
      await peer.barrier();
      peer.rst(1);
      const { data } = await expectFailure(result, StreamResetError);
      expect(data.toString()).toBe('partial ');
    });

    it('while a write waits for window', async () => {
      const { session, peer } = await rawSession('client');
      const s = session.open();
      const syn = await peer.next(is.syn, 'SYN');
      peer.ack(syn.streamId); // and never any window beyond the initial 256 KiB
      const result = outcome(s);
      const written = new Promise<Error | null | undefined>((resolve) =>
        s.write(randomBytes(1024 * 1024), resolve),
      );
      await peer.until(() => peer.received(syn.streamId).byteLength === 256 * 1024, 'the first window');
      peer.rst(syn.streamId);
      expect(await written).toBeInstanceOf(Error);
      await expectFailure(result, StreamResetError);
    });

    it('between two real sessions, destroy(err) on one side is a StreamResetError on the other', async () => {
      const { plugin, engine } = await pair();
      const inbound = nextStream(engine);
      const s = plugin.open();
      s.write('hello');
      const theirs = await inbound;
      const firstData = once(theirs, 'data');
      const result = outcome(theirs);
      await firstData;
      s.destroy(new Error('client gave up')); // sends RST (decisions.md "yamux checks" 6c)
      await expectFailure(result, StreamResetError);
    });
  });

  describe('end of stream: FIN after every byte, in every legal frame order (§2.2 "Half-close")', () => {
    it('SYN and FIN in one read, no data (Go: OpenStream then Close): a clean, empty end', async () => {
      const { session, peer } = await rawSession('server');
      const inbound = nextStream(session);
      peer.socket.write(
        Buffer.concat([
          Buffer.from('000100010000000100000000', 'hex'),
          Buffer.from('000100040000000100000000', 'hex'),
        ]),
      );
      expect((await readAll(await inbound)).byteLength).toBe(0);
    });

    it('SYN, data and FIN in one read (Go: OpenStream, Write, Close)', async () => {
      const { session, peer } = await rawSession('server');
      const inbound = nextStream(session);
      peer.syn(1);
      peer.data(1, Buffer.from('whole request'));
      peer.fin(1);
      expect((await readAll(await inbound)).toString()).toBe('whole request');
    });

    it('a Data|FIN frame delivers its payload, then ends (the spec allows FIN on data frames)', async () => {
      const { session, peer } = await rawSession('server');
      const inbound = nextStream(session);
      peer.syn(1);
      const s = await inbound;
      const read = readAll(s);
      await peer.barrier();
      peer.data(1, Buffer.from('last words'), F.FIN);
      expect((await read).toString()).toBe('last words');
    });

    it('a Data|FIN frame on a reader that is paused keeps every byte', async () => {
      const { session, peer } = await rawSession('server');
      const inbound = nextStream(session);
      peer.syn(1);
      const s = await inbound;
      const body = randomBytes(100 * 1024); // more than the Readable's 16 KiB high-water mark
      peer.data(1, body);
      await peer.barrier();
      peer.data(1, Buffer.from('tail'), F.FIN);
      await peer.barrier();
      expect(sha256(await readAll(s))).toBe(sha256(Buffer.concat([body, Buffer.from('tail')])));
    });
  });

  describe('end of the session (protocol.md §2.4; P10)', () => {
    it("close(): 'local' on the closing side, 'peer' with GoAway code 0 on the other", async () => {
      const { plugin, engine } = await pair();
      await plugin.close();
      expect(await plugin.closed).toEqual({ kind: 'local' });
      expect(await engine.closed).toEqual({ kind: 'peer', goAwayCode: 0 });
      expect(plugin.status).toBe('closed');
      expect(engine.status).toBe('closed');
    });

    it("abort(): 'local' (with the error, if any) on the aborting side, 'peer' on the other", async () => {
      const { plugin, engine } = await pair();
      const why = new Error('shutting down hard');
      engine.abort(why);
      expect(await engine.closed).toEqual({ kind: 'local', error: why });
      expect(await plugin.closed).toEqual({ kind: 'peer' });
    });

    it("a socket error: 'error' on that side, 'peer' on the other", async () => {
      const { plugin, engine, engineSocket } = await pair();
      const boom = new Error('socket exploded');
      engineSocket.destroy(boom);
      expect(await engine.closed).toEqual({ kind: 'error', error: boom });
      expect(await plugin.closed).toEqual({ kind: 'peer' });
    });

    it("a protocol violation from the peer: 'error', and the socket is closed", async () => {
      const { session, peer } = await rawSession('server');
      peer.write(Buffer.from('010100010000000100000000', 'hex')); // version 1: not yamux v0 (§2.2)
      const reason = await session.closed;
      expect(reason.kind).toBe('error');
      await peer.ended;
    });

    it('peer vanishes without GoAway or RST (Go Close(), crash): open streams fail with TransportClosedError; a stream the peer finished keeps its data', async () => {
      // decisions.md "yamux checks" 7b: hashicorp's Close() sends no frame at all, only EOF.
      const { session, peer } = await rawSession('client');
      const mine = session.open();
      const syn = await peer.next(is.syn, 'SYN');
      peer.ack(syn.streamId);
      mine.write('request that will never be answered');
      const inbound = nextStream(session);
      peer.syn(2);
      peer.data(2, Buffer.from('complete answer'), F.FIN);
      const finished = await inbound;
      await peer.barrier();
      const mineResult = outcome(mine);
      peer.socket.end();
      await expectFailure(mineResult, TransportClosedError);
      expect((await readAll(finished)).toString()).toBe('complete answer');
      expect(await session.closed).toEqual({ kind: 'peer' });
    });

    it('the same between two real sessions when one end crashes', async () => {
      const { plugin, engine, pluginSocket } = await pair();
      // engine → plugin call in flight; plugin → engine stream the plugin already finished.
      const pluginInbound = nextStream(plugin);
      const inFlight = engine.open();
      inFlight.write('are you there?');
      await pluginInbound;
      const engineInbound = nextStream(engine);
      plugin.open().end('last words');
      const finished = await engineInbound;
      await plugin.ping();
      const result = outcome(inFlight);
      pluginSocket.destroy(); // the plugin process dies: no GoAway, no RST
      await expectFailure(result, TransportClosedError);
      expect((await readAll(finished)).toString()).toBe('last words');
      expect(await engine.closed).toEqual({ kind: 'peer' });
    });

    it('abort() on one side fails the in-flight streams of the other (IpcError, never a clean end)', async () => {
      const { plugin, engine } = await pair();
      const inbound = nextStream(engine);
      const s = plugin.open();
      s.write('x');
      const theirs = await inbound;
      const result = outcome(theirs);
      plugin.abort();
      const { ended, error } = await result;
      expect(ended).toBe(false);
      expect(isIpcError(error)).toBe(true);
      expect(error).toSatisfy((e) => e instanceof StreamResetError || e instanceof TransportClosedError);
    });
  });

  describe('opening on a closed session throws synchronously (P12)', () => {
    it('after close(), after abort(), while draining, and after the peer went away', async () => {
      const a = await pair();
      await a.plugin.close();
      expect(() => a.plugin.open()).toThrow(SessionClosedError);
      await a.engine.closed;
      expect(() => a.engine.open()).toThrow(SessionClosedError);
      await expect(a.engine.ping()).rejects.toBeInstanceOf(SessionClosedError);

      const b = await pair();
      b.engine.abort();
      expect(() => b.engine.open()).toThrow(SessionClosedError);

      const c = await pair();
      const stuck = nextStream(c.engine);
      c.plugin.open().write('keeps the session draining');
      await stuck;
      const closing = c.plugin.close({ timeoutMs: 10_000 });
      expect(c.plugin.status).toBe('draining');
      expect(() => c.plugin.open()).toThrow(/shutting down/);
      await waitFor(() => c.engine.status === 'draining', 2_000, 'GoAway at the engine');
      expect(() => c.engine.open()).toThrow(SessionClosedError);
      c.plugin.abort();
      await closing;
    });

    it('opens queued behind the pending-SYN cap (maxPendingOpens) fail with SessionClosedError on close', async () => {
      const { session, peer } = await rawSession('client', { maxPendingOpens: 2 });
      const streams = [session.open(), session.open(), session.open(), session.open()];
      await peer.until((f) => f.filter(is.syn).length === 2, 'two SYNs');
      const results = streams.map(outcome);
      await session.close({ timeoutMs: 0 });
      const queued = await Promise.all(results.slice(2));
      for (const r of queued) expect(r.error).toBeInstanceOf(SessionClosedError);
      expect(peer.filter(is.syn)).toHaveLength(2);
    });
  });

  describe('early inbound streams (P11)', () => {
    it('streams that arrive before onStream() are queued and handed over, more than 10 of them', async () => {
      const { plugin, engine } = await pair();
      const N = 25; // libp2p's own early-stream buffer would abort the whole muxer after 10
      const replies = Array.from({ length: N }, (_, i) => call(plugin, `early-${i}`));
      await waitFor(() => engine.numStreams === N, 2_000, 'streams at the engine');
      await plugin.ping(); // the requests were sent before the ping: they have arrived too
      expect(engine.status).toBe('open');
      serve(engine, (req) => `echo:${req}`);
      expect(await Promise.all(replies)).toEqual(Array.from({ length: N }, (_, i) => `echo:early-${i}`));
    });

    it('a queued stream that is reset before onStream() neither crashes the process nor reaches the handler', async () => {
      const { plugin, engine } = await pair();
      const doomed = plugin.open();
      doomed.write('soon reset');
      const survivor = call(plugin, 'survivor');
      await waitFor(() => engine.numStreams === 2, 2_000, 'two streams at the engine');
      doomed.destroy(new Error('changed my mind')); // RST
      await plugin.ping();
      await waitFor(() => engine.numStreams === 1, 2_000, 'the reset to land');
      await delay(10); // let the queued stream emit its 'error' (unhandled errors fail the run)
      const handed: string[] = [];
      serve(engine, (req) => {
        handed.push(req);
        return 'ok';
      });
      expect(await survivor).toBe('ok');
      expect(handed).toEqual(['survivor']);
    });

    it('aborting a session with queued streams does not crash the process', async () => {
      const { plugin, engine } = await pair();
      plugin.open().write('never accepted');
      plugin.open().write('never accepted either');
      await waitFor(() => engine.numStreams === 2, 2_000, 'two streams at the engine');
      engine.abort();
      await engine.closed;
      await delay(10);
    });
  });
});

describe('two real sessions over a socket pair (client + server roles, protocol.md §2.1)', () => {
  it('1,000 concurrent streams each echo their payload', async () => {
    const { plugin, engine } = await pair();
    engine.onStream((s) => {
      s.pipe(s);
    });
    const N = 1000;
    const payloads = Array.from({ length: N }, (_, i) => `${i}:${randomBytes(48).toString('hex')}`);
    const echoes = await Promise.all(payloads.map((p) => call(plugin, p)));
    expect(echoes).toEqual(payloads);
    await waitFor(() => plugin.numStreams === 0 && engine.numStreams === 0, 2_000, 'streams to be freed');
  });

  it('8 MiB arrives intact (sha256) in each direction, concurrently', async () => {
    const { plugin, engine } = await pair();
    const up = randomBytes(8 * 1024 * 1024);
    const down = randomBytes(8 * 1024 * 1024);
    const atEngine = nextStream(engine).then(readAll);
    const atPlugin = nextStream(plugin).then(readAll);
    plugin.open().end(up);
    engine.open().end(down);
    const [gotUp, gotDown] = await Promise.all([atEngine, atPlugin]);
    expect(sha256(gotUp)).toBe(sha256(up));
    expect(sha256(gotDown)).toBe(sha256(down));
  });

  it('a stalled reader keeps the writer bounded: 64 MiB, write callbacks stay a few MiB ahead (P3, P5)', async () => {
    const { plugin, engine } = await pair();
    const MiB = 1024 * 1024;
    const TOTAL = 64 * MiB;
    const READ_FIRST = 8 * MiB; // flow first, so the window has grown to its max, then stall
    const chunks = Array.from({ length: 4 }, () => randomBytes(MiB));
    const expected = createHash('sha256');
    for (let i = 0; i < TOTAL / MiB; i++) expected.update(chunks[i % 4]!);

    let consumed = 0;
    const hash = createHash('sha256');
    const inbound = nextStream(engine);
    const w = plugin.open();
    let accepted = 0;
    const producing = produce(
      w,
      Array.from({ length: TOTAL / MiB }, (_, i) => chunks[i % 4]!),
      (bytes) => {
        accepted += bytes;
      },
    );

    const r = await inbound;
    const done = endOf(r);
    r.on('data', (c: Buffer) => {
      consumed += c.byteLength;
      hash.update(c);
      if (consumed >= READ_FIRST && consumed - c.byteLength < READ_FIRST) r.pause();
    });
    await waitFor(() => r.isPaused(), 5_000, 'the reader to stall');

    // Wait until the writer makes no progress for several round trips, then check the bound.
    let last = -1;
    let still = 0;
    while (still < 3) {
      await plugin.ping();
      await engine.ping();
      await delay(20);
      still = accepted === last ? still + 1 : 0;
      last = accepted;
    }
    const ahead = accepted - consumed;
    expect(consumed).toBeLessThan(TOTAL);
    expect(ahead).toBeLessThanOrEqual(8 * MiB); // receive window (4 MiB max) + buffers, not 56 MiB
    expect(w.writableLength).toBeLessThanOrEqual(MiB);
    expect(w.writableNeedDrain).toBe(true);

    r.resume();
    await Promise.all([done, producing]);
    expect(consumed).toBe(TOTAL);
    expect(hash.digest('hex')).toBe(expected.digest('hex'));
  });

  it('a slow reader that keeps pausing gets every byte, and the writer stays close behind it', async () => {
    // Regression: a pause() made while resume() was flushing buffered data was undone by libp2p,
    // the stream kept granting window while paused and died with StreamBufferError (decisions.md "P5").
    // A 256 KiB window makes the read buffer limit (2 windows) small enough to hit quickly.
    const { plugin, engine } = await pair({ maxStreamWindowSize: 256 * 1024 });
    const payload = randomBytes(8 * 1024 * 1024);
    const inbound = nextStream(engine);
    const w = plugin.open();
    let accepted = 0;
    let consumed = 0;
    let maxAhead = 0;
    const MiB = 1024 * 1024;
    const producing = produce(
      w,
      Array.from({ length: payload.byteLength / MiB }, (_, i) => payload.subarray(i * MiB, (i + 1) * MiB)),
      (bytes) => {
        accepted += bytes;
        maxAhead = Math.max(maxAhead, accepted - consumed);
      },
    );
    const r = await inbound;
    const hash = createHash('sha256');
    const done = endOf(r);
    r.on('data', (c: Buffer) => {
      consumed += c.byteLength;
      hash.update(c);
      r.pause();
      setImmediate(() => r.resume());
    });
    await Promise.all([done, producing]);
    expect(hash.digest('hex')).toBe(sha256(payload));
    expect(maxAhead).toBeLessThanOrEqual(6 * 1024 * 1024);
  });

  it('graceful close() lets calls in flight both ways finish (drain, §2.4)', async () => {
    const { plugin, engine } = await pair();
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const arrived: string[] = [];
    const handler = async (req: string) => {
      arrived.push(req);
      await released;
      return `re:${req}`;
    };
    serve(plugin, handler);
    serve(engine, handler);
    const toEngine = call(plugin, 'plugin→engine');
    const toPlugin = call(engine, 'engine→plugin');
    await waitFor(() => arrived.length === 2, 2_000, 'both requests');

    let closed = false;
    const closing = plugin.close({ timeoutMs: 10_000 }).then(() => {
      closed = true;
    });
    await waitFor(() => engine.status === 'draining', 2_000, 'GoAway at the engine');
    expect(() => engine.open()).toThrow(SessionClosedError);
    await delay(30);
    expect(closed).toBe(false); // still draining: both calls are open

    release();
    expect(await toEngine).toBe('re:plugin→engine');
    expect(await toPlugin).toBe('re:engine→plugin');
    await closing;
    expect(await plugin.closed).toEqual({ kind: 'local' });
    expect(await engine.closed).toEqual({ kind: 'peer', goAwayCode: 0 });
  });

  it('close({ timeoutMs }) bounds the wait when a stream never finishes', async () => {
    const { plugin, engine } = await pair({ closeTimeoutMs: 10_000 });
    const inbound = nextStream(engine);
    const s = plugin.open();
    s.write('never answered');
    const theirs = await inbound;
    const mine = outcome(s);
    const other = outcome(theirs);
    const started = performance.now();
    await plugin.close({ timeoutMs: 100 });
    const elapsed = performance.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(90);
    expect(elapsed).toBeLessThan(2_000); // bounded by timeoutMs, not the 10 s default
    expect((await mine).error).toBeInstanceOf(SessionClosedError);
    const { ended, error } = await other;
    expect(ended).toBe(false);
    expect(isIpcError(error)).toBe(true);
    expect(await engine.closed).toMatchObject({ kind: 'peer' });
  });

  it('close({ signal }) stops waiting for the drain when the signal aborts', async () => {
    const { plugin, engine } = await pair({ closeTimeoutMs: 10_000 });
    const inbound = nextStream(engine);
    plugin.open().write('never answered');
    await inbound;
    const controller = new AbortController();
    const closing = plugin.close({ signal: controller.signal });
    await waitFor(() => engine.status === 'draining', 2_000, 'GoAway at the engine');
    controller.abort();
    await closing;
    expect(plugin.status).toBe('closed');
  });

  it('close() and abort() are idempotent', async () => {
    const { plugin, engine } = await pair();
    const first = plugin.close();
    const second = plugin.close();
    expect(second).toBe(first);
    await Promise.all([first, second]);
    await plugin.close();
    plugin.abort();
    plugin.abort(new Error('late'));
    expect(await plugin.closed).toEqual({ kind: 'local' });
    expect(await engine.closed).toEqual({ kind: 'peer', goAwayCode: 0 });

    const again = await pair();
    again.engine.abort();
    again.engine.abort(new Error('second abort'));
    await again.engine.close();
    expect(await again.engine.closed).toEqual({ kind: 'local' });
  });

  it('Symbol.asyncDispose closes the session gracefully', async () => {
    const [a, b] = await socketPair();
    const engine = createMuxSession(b, { role: 'server' });
    teardown(engine, b);
    serve(engine, (req) => `re:${req}`);
    let escaped: MuxSession;
    {
      await using plugin = createMuxSession(a, { role: 'client' });
      escaped = plugin;
      expect(await call(plugin, 'before dispose')).toBe('re:before dispose');
    }
    expect(escaped.status).toBe('closed');
    expect(await escaped.closed).toEqual({ kind: 'local' });
    expect(await engine.closed).toEqual({ kind: 'peer', goAwayCode: 0 });
  });
});

// Issue 12 items 2, 6 and 8 on a real engine socket with raw connections: malformed requests get
// 400/431, late ones 408 and slow or idle connections are closed; the connection cap makes room by
// closing the longest-idle connection and otherwise refuses with 503; requests over
// limits.maxRequestsInFlight are resource_exhausted; calls to one plugin beyond what its
// connection accepts wait in a FIFO queue instead of being reset, and a reset or an overflow is
// `unavailable` naming the plugin, never `not_found`.
import { connect, type Socket } from 'node:net';
import { Code, ConnectError } from '@connectrpc/connect';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  builtin,
  connectError,
  dec,
  engineClients,
  envelope,
  joinEngine,
  startedEngine,
  waitFor,
} from './__tests__/helpers.js';
import { readSoftFdLimit } from './connection-limits.js';
import { createEngine, EngineConfigError } from './index.js';

/** A raw connection to the engine socket that records everything it receives and when it closes. */
interface RawConnection {
  socket: Socket;
  received(): string;
  closed: Promise<void>;
  isClosed(): boolean;
}

async function rawConnect(socketPath: string): Promise<RawConnection> {
  const socket = connect(socketPath);
  onTestFinished(() => {
    socket.destroy();
  });
  let data = '';
  let closed = false;
  socket.setEncoding('latin1').on('data', (d: string) => {
    data += d;
  });
  socket.on('error', () => {});
  const closedP = new Promise<void>((resolve) =>
    socket.once('close', () => {
      closed = true;
      resolve();
    }),
  );
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  return { socket, received: () => data, closed: closedP, isClosed: () => closed };
}

const GET_HEALTH = 'GET /health HTTP/1.1\r\nHost: unix\r\n\r\n';

describe('malformed, oversized and late requests (issue 12 item 8)', () => {
  it('a request that is not HTTP gets "400 Bad Request", then the connection closes', async () => {
    const engine = await startedEngine();
    const c = await rawConnect(engine.socketPath);
    c.socket.write('HELLO ENGINE\r\n\r\n');
    await c.closed;
    expect(c.received()).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(c.received()).toContain('\r\nConnection: close\r\n');
    // A Connect error body, so a Connect client reports a code and a reason.
    expect(c.received()).toMatch(
      /\r\n\r\n\{"code":"invalid_argument","message":"malformed HTTP request \(HPE_[A-Z_]+\)"\}$/,
    );
  });

  it('a request head over 16 KiB gets "431 Request Header Fields Too Large"', async () => {
    const engine = await startedEngine();
    const c = await rawConnect(engine.socketPath);
    c.socket.write(`GET /health HTTP/1.1\r\nHost: unix\r\nX-Big: ${'a'.repeat(20 * 1024)}\r\n\r\n`);
    await c.closed;
    expect(c.received()).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
    expect(c.received()).toContain(
      '{"code":"resource_exhausted","message":"the request head is larger than 16384 bytes"}',
    );
  });

  it('a connection that never finishes its headers gets "408 Request Timeout" and is closed', async () => {
    const engine = await startedEngine({ limits: { headersTimeoutMs: 200, bodyTimeoutMs: 200 } });
    const silent = await rawConnect(engine.socketPath);
    const slow = await rawConnect(engine.socketPath);
    slow.socket.write('GET /health HTTP/1.1\r\nHost: un');
    await Promise.all([silent.closed, slow.closed]);
    expect(slow.received()).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(slow.received()).toContain(
      '{"code":"unavailable","message":"the request was not received in time (limits.headersTimeoutMs 200 for its headers, limits.bodyTimeoutMs 200 for all of it)"}',
    );
    // The engine still serves.
    const ok = await rawConnect(engine.socketPath);
    ok.socket.write(GET_HEALTH);
    await waitFor('the health answer', () => ok.received().endsWith('ok') || undefined);
  });

  it('a request whose body never completes is closed (408) after bodyTimeoutMs', async () => {
    const engine = await startedEngine({ limits: { headersTimeoutMs: 100, bodyTimeoutMs: 300 } });
    const c = await rawConnect(engine.socketPath);
    c.socket.write(
      'POST /resolver.v1.ResolverService/GetSecrets HTTP/1.1\r\nHost: unix\r\n' +
        'Content-Type: application/proto\r\nContent-Length: 100\r\n\r\n\x0a\x02ab',
    );
    await c.closed;
    expect(c.received()).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
  });

  it('an idle keep-alive connection is closed after idleTimeoutMs', async () => {
    const engine = await startedEngine({ limits: { idleTimeoutMs: 200 } });
    const c = await rawConnect(engine.socketPath);
    c.socket.write(GET_HEALTH);
    await waitFor('the health answer', () => c.received().endsWith('ok') || undefined);
    await c.closed;
    expect(c.received()).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
  });

  it('a plugin joined through /hijack outlives every timeout: its connection is not HTTP any more', async () => {
    const engine = await startedEngine({
      limits: { headersTimeoutMs: 100, bodyTimeoutMs: 100, idleTimeoutMs: 100 },
    });
    const plugin = await joinEngine(engine.socketPath);
    await plugin.register({ name: 'ext', pattern: 'ext/**' });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(plugin.session.status).toBe('open');
    const [secret] = await engine.getSecrets('ext/a');
    expect(secret?.revealText()).toBe('value-of-ext/a');
  });

  it('refuses limits that are not whole positive numbers, unknown limits, and a body deadline under the headers one', () => {
    expect(() => createEngine({ limits: { maxConnections: 0 } })).toThrow(
      new EngineConfigError(
        'createEngine: limits.maxConnections must be a whole number from 1 to 2147483647, got 0',
      ),
    );
    expect(() => createEngine({ limits: { fdReserve: 1.5 } })).toThrow(
      /limits\.fdReserve must be a whole number/,
    );
    expect(() => createEngine({ limits: { maxConections: 1 } as never })).toThrow(
      /limits\.maxConections is not a limit \(known: maxConnections, /,
    );
    expect(() => createEngine({ limits: { headersTimeoutMs: 5_000, bodyTimeoutMs: 1_000 } })).toThrow(
      'createEngine: limits.bodyTimeoutMs (1000) must not be less than limits.headersTimeoutMs (5000): the body deadline includes the headers',
    );
  });
});

describe('the connection cap (issue 12 item 2)', () => {
  it('at the cap, a new connection takes the place of the longest-idle one', async () => {
    const engine = await startedEngine({ limits: { maxConnections: 3 } });
    const idle: RawConnection[] = [];
    for (let i = 0; i < 3; i++) {
      const c = await rawConnect(engine.socketPath);
      c.socket.write(GET_HEALTH);
      await waitFor('the health answer', () => c.received().endsWith('ok') || undefined);
      idle.push(c);
    }
    const newcomer = await rawConnect(engine.socketPath);
    newcomer.socket.write(GET_HEALTH);
    await waitFor('the newcomer answered', () => newcomer.received().endsWith('ok') || undefined);
    // The first idle connection made room; the two younger ones are still open.
    await idle[0]!.closed;
    expect([idle[1]!.isClosed(), idle[2]!.isClosed()]).toEqual([false, false]);
  });

  it('at the cap with no connection idle, a new one is answered 503 and closed at once', async () => {
    const engine = await startedEngine({ limits: { maxConnections: 2 } });
    // Two connections in the middle of a request: neither is idle.
    const busy = [await rawConnect(engine.socketPath), await rawConnect(engine.socketPath)];
    for (const b of busy) b.socket.write('GET /health HTTP/1.1\r\n');
    const refused = await rawConnect(engine.socketPath);
    await refused.closed;
    expect(refused.received()).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/);
    expect(refused.received()).toContain(
      '"message":"the secrets engine is busy: 2 connections open, its limit (limits.maxConnections 2)"',
    );
    // The busy ones were not touched and finish their requests.
    for (const b of busy) b.socket.write('Host: unix\r\n\r\n');
    for (const b of busy)
      await waitFor('a busy connection answered', () => b.received().endsWith('ok') || undefined);
  });
  it('a Connect client turned away at the cap reads why: unavailable, the engine is busy', async () => {
    const engine = await startedEngine({ limits: { maxConnections: 1 } });
    const busy = await rawConnect(engine.socketPath);
    busy.socket.write('GET /health HTTP/1.1\r\n');
    const { version } = engineClients(engine.socketPath);
    const err = await connectError(version.getVersion({}));
    expect([err.code, err.rawMessage]).toEqual([
      Code.Unavailable,
      'the secrets engine is busy: 1 connections open, its limit (limits.maxConnections 1)',
    ]);
  });
});

describe('admission control (issue 12 item 6)', () => {
  it('over limits.maxRequestsInFlight a call is resource_exhausted; the ones admitted are answered', async () => {
    const release: (() => void)[] = [];
    const engine = await startedEngine({
      limits: { maxRequestsInFlight: 3 },
      plugins: [
        builtin('slow', '**', async (pattern) => {
          await new Promise<void>((resolve) => release.push(resolve));
          return [{ id: pattern, value: 'v' }];
        }),
      ],
    });
    const { resolver } = engineClients(engine.socketPath);
    const admitted = [1, 2, 3].map((i) => resolver.getSecrets({ pattern: `a/${i}` }));
    await waitFor('three calls in progress', () => release.length === 3 || undefined);
    const over = await connectError(resolver.getSecrets({ pattern: 'a/4' }));
    expect(over.code).toBe(Code.ResourceExhausted);
    expect(over.rawMessage).toBe(
      'the secrets engine is busy: 3 requests in progress, its limit (limits.maxRequestsInFlight 3); try again later',
    );
    // engine.getSecrets counts against the same limit.
    await expect(engine.getSecrets('a/5')).rejects.toMatchObject({ code: Code.ResourceExhausted });
    for (const r of release) r();
    expect((await Promise.all(admitted)).map((r) => r.envelopes[0]!.id)).toEqual(['a/1', 'a/2', 'a/3']);
    // Room again.
    const again = resolver.getSecrets({ pattern: 'a/6' });
    await waitFor('the fourth call in progress', () => release.length === 4 || undefined);
    release[3]!();
    expect((await again).envelopes[0]!.id).toBe('a/6');
  });

  it('a plugin that resets streams over its inbound limit: unavailable naming it, never not_found', async () => {
    const engine = await startedEngine({ limits: { maxCallsPerPlugin: 64 } });
    let open!: () => void;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const plugin = await joinEngine(engine.socketPath, {
      session: { maxInboundStreams: 2 },
      // The two calls the plugin accepts wait, so every further stream is over its limit.
      getSecrets: async (pattern) => {
        await gate;
        return [envelope(pattern, 'v')];
      },
    });
    await plugin.register({ name: 'tiny', pattern: 'tiny/**' });
    const { resolver } = engineClients(engine.socketPath);
    const errors: ConnectError[] = [];
    const values: string[] = [];
    const calls = Array.from({ length: 12 }, (_, i) =>
      resolver.getSecrets({ pattern: `tiny/${i}` }).then(
        (r) => void values.push(dec(r.envelopes[0]!.value)),
        (e: unknown) => void errors.push(ConnectError.from(e)),
      ),
    );
    await waitFor('calls reset by the plugin', () => errors.length >= 10 || undefined);
    open();
    await Promise.all(calls);
    expect(values).toEqual(['v', 'v']);
    for (const err of errors) {
      expect(err.code).toBe(Code.Unavailable);
      expect(err.rawMessage).toMatch(
        /^no secret found for "tiny\/\d+", but 1 plugin could not answer: plugin "tiny" failed \(unavailable: transport: stream reset by peer/,
      );
    }
  });

  it('with maxCallsPerPlugin at what the plugin accepts, every call waits its turn and is answered', async () => {
    const engine = await startedEngine({ limits: { maxCallsPerPlugin: 2 } });
    let inFlight = 0;
    let most = 0;
    const order: string[] = [];
    const plugin = await joinEngine(engine.socketPath, {
      session: { maxInboundStreams: 2 },
      getSecrets: async (pattern) => {
        order.push(pattern);
        most = Math.max(most, ++inFlight);
        await new Promise((resolve) => setTimeout(resolve, 20));
        inFlight--;
        return [envelope(pattern, `value-of-${pattern}`)];
      },
    });
    await plugin.register({ name: 'tiny', pattern: 'tiny/**' });
    const patterns = Array.from({ length: 12 }, (_, i) => `tiny/${i}`);
    const { resolver } = engineClients(engine.socketPath);
    // Issued one after another (each write reaches the engine in order), resolved concurrently.
    const results = await Promise.all(patterns.map((p) => resolver.getSecrets({ pattern: p })));
    expect(results.map((r) => dec(r.envelopes[0]!.value))).toEqual(patterns.map((p) => `value-of-${p}`));
    expect(most).toBeLessThanOrEqual(2);
    expect([...order].sort()).toEqual([...patterns].sort());
  });

  it('over maxQueuedPerPlugin, that plugin part is resource_exhausted: the request is unavailable naming it', async () => {
    const engine = await startedEngine({ limits: { maxCallsPerPlugin: 1, maxQueuedPerPlugin: 1 } });
    const release: (() => void)[] = [];
    const plugin = await joinEngine(engine.socketPath, {
      getSecrets: async (pattern) => {
        await new Promise<void>((resolve) => release.push(resolve));
        return [envelope(pattern, 'v')];
      },
    });
    await plugin.register({ name: 'one', pattern: 'one/**' });
    const { resolver } = engineClients(engine.socketPath);
    const first = resolver.getSecrets({ pattern: 'one/a' });
    await waitFor('the first call at the plugin', () => release.length === 1 || undefined);
    const queued = resolver.getSecrets({ pattern: 'one/b' });
    // The third finds one call in progress and one waiting.
    let third: ConnectError | undefined;
    await waitFor('the third call refused', async () => {
      third = await connectError(resolver.getSecrets({ pattern: 'one/c' }));
      return third;
    });
    expect(third!.code).toBe(Code.Unavailable);
    expect(third!.rawMessage).toBe(
      'no secret found for "one/c", but 1 plugin could not answer: plugin "one" failed (resource_exhausted: plugin "one" is busy: 1 calls in progress (limits.maxCallsPerPlugin 1) and 1 waiting (limits.maxQueuedPerPlugin 1))',
    );
    release[0]!();
    await waitFor('the queued call at the plugin', () => release.length === 2 || undefined);
    release[1]!();
    expect((await first).envelopes[0]!.id).toBe('one/a');
    expect((await queued).envelopes[0]!.id).toBe('one/b');
  });
});

describe('readSoftFdLimit', () => {
  it('reads the soft limit of "Max open files" and nothing else', () => {
    const text = [
      'Limit                     Soft Limit           Hard Limit           Units',
      'Max cpu time              unlimited            unlimited            seconds',
      'Max open files            256                  4096                 files',
    ].join('\n');
    expect(readSoftFdLimit(text)).toBe(256);
    expect(readSoftFdLimit('Max open files  unlimited  unlimited  files')).toBeUndefined();
    expect(readSoftFdLimit('nothing here')).toBeUndefined();
    if (process.platform === 'linux') expect(readSoftFdLimit()).toBeGreaterThan(0);
  });
});

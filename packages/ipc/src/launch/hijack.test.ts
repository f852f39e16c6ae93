// The /hijack upgrade (protocol.md §3.2 plugin side, §3.3 engine side, §3.4 after the upgrade;
// §8.1 "hijacking the right way"; §8.2 Test_hijacking and TestHijackify_hijackRequest_timeout).
// Hermetic: real node:http / node:net servers on temporary Unix socket paths (or Linux abstract
// names), no network.
import { randomBytes } from 'node:crypto';
import {
  createServer as createHttpServer,
  type Server as HttpServer,
  request as httpRequest,
} from 'node:http';
import { connect, createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { createClient } from '@connectrpc/connect';
import { pluginsv1, resolverv1 } from '@secrets-engine/proto';
import { toNetPath } from '@secrets-engine/secrets/internal';
import { afterEach, describe, expect, it } from 'vitest';
import { delay, type TempDir, tempDir, waitFor } from '../__tests__/helpers.js';
import { DialError, isIpcError, TimeoutError, UpgradeError } from '../errors.js';
import { createMuxSession, type MuxSession } from '../mux/session.js';
import { createSessionTransport, serveConnect } from '../rpc/connect.js';
import {
  attachHijackHandler,
  dialAndUpgrade,
  HIJACK_REQUEST,
  HIJACK_RESPONSE,
  type HijackHandlerOptions,
} from './hijack.js';

/** §3.2, spelled out byte for byte (not taken from the module under test). */
const GO_HIJACK_REQUEST =
  'GET /hijack HTTP/1.1\r\n' +
  'Host: secrets-engine.localhost\r\n' +
  'User-Agent: Go-http-client/1.1\r\n' +
  'Connection: upgrade\r\n' +
  'Upgrade: tcp\r\n' +
  '\r\n';

/** What a Go engine answers (§3.3): ProtoMajor/ProtoMinor are left at 0. */
const GO_HIJACK_RESPONSE = 'HTTP/0.0 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: tcp\r\n\r\n';

/** chi's NotFound answer of an engine with external plugins disabled (§3.2, §3.3). */
const GO_404 =
  'HTTP/1.1 404 Not Found\r\n' +
  'Content-Type: text/plain; charset=utf-8\r\n' +
  'X-Content-Type-Options: nosniff\r\n' +
  'Date: Thu, 01 Jan 2026 00:00:00 GMT\r\n' +
  'Content-Length: 19\r\n' +
  '\r\n' +
  '404 page not found\n';

// --- resources, all torn down after each test -------------------------------------------------

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function dir(): TempDir {
  const d = tempDir('se-hijack-');
  cleanups.push(() => d[Symbol.dispose]());
  return d;
}

function track<T extends { destroy(): unknown }>(socket: T): T {
  cleanups.push(() => {
    socket.destroy();
  });
  return socket;
}

function trackSession(session: MuxSession): MuxSession {
  cleanups.push(() => session.abort());
  return session;
}

/** An engine-like node:http server on a temporary path: GET /health → 200 ok, else 404. */
async function httpEngine(
  hijack?: HijackHandlerOptions,
): Promise<{ server: HttpServer; path: string; requests: string[] }> {
  const path = join(dir().path, 'engine.sock');
  const requests: string[] = [];
  const server = createHttpServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    if (req.url === '/health') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('404 page not found\n');
  });
  if (hijack !== undefined) attachHijackHandler(server, hijack);
  await new Promise<void>((resolve) => server.listen(path, resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { server, path, requests };
}

/** A raw node:net server on a temporary path (or the given listen path), for byte-level control. */
async function rawServer(onConnection: (socket: Socket) => void, listenPath?: string) {
  const path = listenPath ?? join(dir().path, 'raw.sock');
  const server: NetServer = createNetServer((socket) => {
    track(socket);
    socket.on('error', () => {});
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return path;
}

/** Reads from `socket` until `predicate(bytes so far)` holds. */
function readUntil(socket: Socket, predicate: (data: Buffer) => boolean, timeoutMs = 5_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let data = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.off('data', onData);
      reject(new Error(`readUntil timed out after ${timeoutMs} ms with ${data.length} bytes`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      if (predicate(data)) {
        clearTimeout(timer);
        socket.off('data', onData);
        resolve(data);
      }
    };
    socket.on('data', onData);
  });
}

const readLine = async (socket: Socket) => (await readUntil(socket, (d) => d.includes('\n'))).toString();

/** A raw server that reads the whole upgrade request head, then lets `answer` respond. */
function answeringServer(answer: (socket: Socket, request: Buffer) => unknown, listenPath?: string) {
  return rawServer((socket) => {
    void readUntil(socket, (d) => d.includes('\r\n\r\n')).then((request) => answer(socket, request));
  }, listenPath);
}

/**
 * An upgrade timeout beyond vitest's testTimeout (20 s): a refusal that is only reported once the
 * upgrade times out fails the test instead of passing late.
 */
const BEYOND_TEST_TIMEOUT_MS = 60_000;

/** Dials and upgrades `path`; the engine must refuse with `status` (and body `message`, if given). */
async function expectRefusal(path: string, status: number, message?: string): Promise<UpgradeError> {
  const err = await rejection(dialAndUpgrade(path, { timeoutMs: BEYOND_TEST_TIMEOUT_MS }));
  expect(err).toBeInstanceOf(UpgradeError);
  if (message !== undefined) expect(err.message).toBe(`unexpected status ${status}: ${message}`);
  expect((err as UpgradeError).status).toBe(status);
  return err as UpgradeError;
}

/** The upgrade error of a call that must fail. */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  const outcome = await promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  if (outcome.ok) {
    if (outcome.value instanceof Object && 'destroy' in outcome.value) (outcome.value as Socket).destroy();
    throw new Error('expected a rejection, but the call succeeded');
  }
  return outcome.error as Error;
}

function getHealth(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ socketPath: path, path: '/health', method: 'GET', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => resolve(`${res.statusCode} ${body}`));
    });
    req.on('error', reject);
    req.end();
  });
}

// --- tests -------------------------------------------------------------------------------------

describe('hijack handshake, plugin side (protocol.md §3.2)', () => {
  it('HIJACK_REQUEST is byte for byte what Go writes', () => {
    expect(HIJACK_REQUEST).toBe(GO_HIJACK_REQUEST);
  });

  it('writes exactly the Go request bytes and nothing else before the 101', async () => {
    let captured: Buffer | undefined;
    const path = await answeringServer(async (socket, request) => {
      // Give a stray extra write the chance to arrive before we answer.
      await delay(50);
      const more = socket.read() as Buffer | null;
      captured = more === null ? request : Buffer.concat([request, more]);
      socket.write(GO_HIJACK_RESPONSE);
    });
    const conn = track(await dialAndUpgrade(path));
    expect(captured?.toString('latin1')).toBe(GO_HIJACK_REQUEST);
    conn.destroy();
  });

  it('accepts "HTTP/0.0 101" followed in the same write by yamux frames, losing no byte after the head', async () => {
    // A yamux SYN (WindowUpdate, flags SYN, stream 2, delta 0; §2.2), then a Data frame for
    // stream 2, then 64 KiB of noise: everything after the head must reach the caller intact.
    const syn = Buffer.from('000100010000000200000000', 'hex');
    const noise = randomBytes(64 * 1024);
    const dataHeader = Buffer.alloc(12); // version 0, type 0 (Data), flags 0
    dataHeader.writeUInt32BE(2, 4);
    dataHeader.writeUInt32BE(noise.length, 8);
    const after = Buffer.concat([syn, dataHeader, noise]);
    const path = await answeringServer((socket) =>
      socket.write(Buffer.concat([Buffer.from(GO_HIJACK_RESPONSE, 'latin1'), after])),
    );
    const conn = track(await dialAndUpgrade(path));
    const received = await readUntil(conn, (d) => d.length >= after.length);
    expect(received.length).toBe(after.length);
    expect(received.equals(after)).toBe(true);
  });

  it('parses a response head that arrives one byte at a time, then keeps the bytes after it', async () => {
    const after = Buffer.from('first yamux bytes\n');
    const path = await answeringServer(async (socket) => {
      const bytes = Buffer.concat([Buffer.from(GO_HIJACK_RESPONSE, 'latin1'), after]);
      for (const byte of bytes) {
        socket.write(Buffer.of(byte));
        await new Promise((resolve) => setImmediate(resolve));
      }
    });
    const conn = track(await dialAndUpgrade(path));
    expect(await readLine(conn)).toBe(after.toString());
  });

  it('a silent server gives TimeoutError "i/o timeout" after the timeout (TestHijackify_hijackRequest_timeout)', async () => {
    let serverClosed = false;
    const path = await rawServer((socket) => {
      socket.resume();
      socket.on('close', () => {
        serverClosed = true;
      });
    });
    const started = performance.now();
    const err = await rejection(dialAndUpgrade(path, { timeoutMs: 100 }));
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err.name).toBe('TimeoutError');
    // The given 100 ms, not the 2 s default, and not before it ran out.
    expect(err.message).toMatch(/i\/o timeout after 100 ms/);
    expect(performance.now() - started).toBeGreaterThanOrEqual(95);
    // The plugin closed its end: nothing leaks.
    await waitFor(() => serverClosed, 2_000, 'the plugin to close its socket');
  });

  it('a 404 from a Go engine (chi NotFound) gives UpgradeError "unexpected status 404: 404 page not found"', async () => {
    // Go keeps the connection open after a 404 with Content-Length: the body length must do.
    const path = await answeringServer((socket) => socket.write(GO_404));
    await expectRefusal(path, 404, '404 page not found');
  });

  it('a refusal without Content-Length is reported when the engine closes the connection', async () => {
    const path = await answeringServer((socket) =>
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\n\r\nexternal plugins are off\n'),
    );
    await expectRefusal(path, 403, 'external plugins are off');
  });

  it('a chunked refusal (as node:http writes) is decoded and reported without waiting for the timeout', async () => {
    const path = await answeringServer(async (socket) => {
      socket.write(
        'HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n',
      );
      socket.write('9\r\n404 page \r\n');
      await delay(10);
      socket.write('a;ext=1\r\nnot found\n\r\n0\r\n\r\n');
      // ...and keep the connection open, like a keep-alive server.
    });
    await expectRefusal(path, 404, '404 page not found');
  });

  it('an engine that closes without answering gives UpgradeError, and garbage gives a malformed-status error', async () => {
    const closing = await answeringServer((socket) => socket.end());
    const closed = await rejection(dialAndUpgrade(closing));
    expect(closed).toBeInstanceOf(UpgradeError);
    expect((closed as UpgradeError).status).toBeUndefined();
    expect(closed.message).toMatch(/closed the connection without a response/);

    const garbage = await answeringServer((socket) => socket.write('SSH-2.0-OpenSSH\r\n\r\n'));
    const malformed = await rejection(dialAndUpgrade(garbage));
    expect(malformed).toBeInstanceOf(UpgradeError);
    expect(malformed.message).toMatch(/malformed status line "SSH-2.0-OpenSSH"/);
  });

  it('dialing a missing path gives DialError naming the path', async () => {
    const path = join(dir().path, 'no-engine-here.sock');
    const err = await rejection(dialAndUpgrade(path));
    expect(err).toBeInstanceOf(DialError);
    expect(err.name).toBe('DialError');
    expect(isIpcError(err)).toBe(true);
    expect((err as DialError).path).toBe(path);
    expect(err.message).toContain(path);
    expect(err.message).toMatch(/no such socket/);
    expect((err.cause as NodeJS.ErrnoException).code).toBe('ENOENT');
  });

  it("the caller's signal aborts a pending upgrade with the signal's reason, not a TimeoutError", async () => {
    const path = await rawServer(() => {});
    const controller = new AbortController();
    const pending = dialAndUpgrade(path, { signal: controller.signal, timeoutMs: 5_000 });
    await delay(20);
    const reason = new Error('caller gave up');
    controller.abort(reason);
    expect(await rejection(pending)).toBe(reason);
  });

  it.skipIf(process.platform !== 'linux')(
    'dials a Linux abstract socket given with a leading "@" (§3.1)',
    async () => {
      const name = `se-ipc-test/${process.pid}/${randomBytes(6).toString('hex')}/daemon.sock`;
      expect(toNetPath(`@${name}`, (m) => new DialError(m, { path: name }))).toBe(`\0${name}`);
      const path = await answeringServer((socket) => {
        socket.write(`${GO_HIJACK_RESPONSE}hello from abstract\n`);
        socket.on('data', (d: Buffer) => socket.write(d));
      }, `\0${name}`);
      expect(path.startsWith('\0')).toBe(true);
      const conn = track(await dialAndUpgrade(`@${name}`));
      expect(await readLine(conn)).toBe('hello from abstract\n');
      conn.write('echo\n');
      expect(await readLine(conn)).toBe('echo\n');
    },
  );

  it.skipIf(process.platform === 'linux')(
    'refuses "@" abstract names off Linux with a DialError',
    async () => {
      // The mapping itself (and plain paths passing through) is tested where it lives:
      // @secrets-engine/secrets/internal, socket-path.test.ts.
      await expect(dialAndUpgrade('@docker-secrets-engine/1000/daemon.sock')).rejects.toThrow(DialError);
    },
  );
});

describe('hijack handshake, engine side with attachHijackHandler (protocol.md §3.3)', () => {
  it('upgrades, raw bytes flow both ways, and GET /health keeps working (Test_hijacking)', async () => {
    const accepted: Array<{ socket: Socket; method: string; url: string; headers: Record<string, unknown> }> =
      [];
    const engine = await httpEngine({
      onConnection: (socket, req) => {
        track(socket);
        accepted.push({ socket, method: req.method ?? '', url: req.url ?? '', headers: { ...req.headers } });
      },
    });
    expect(await getHealth(engine.path)).toBe('200 ok');

    const plugin = track(await dialAndUpgrade(engine.path));
    await waitFor(() => accepted.length === 1, 2_000, 'the engine to accept the upgrade');
    const [conn] = accepted;
    expect(conn).toMatchObject({
      method: 'GET',
      url: '/hijack',
      headers: { host: 'secrets-engine.localhost', connection: 'upgrade', upgrade: 'tcp' },
    });
    const engineSide = conn!.socket;

    // Raw line exchange in both directions, several times.
    for (const n of [1, 2, 3]) {
      plugin.write(`plugin line ${n}\n`);
      expect(await readLine(engineSide)).toBe(`plugin line ${n}\n`);
      engineSide.write(`engine line ${n}\n`);
      expect(await readLine(plugin)).toBe(`engine line ${n}\n`);
    }

    // Ordinary requests on the same server still work while the hijacked conn is up...
    expect(await getHealth(engine.path)).toBe('200 ok');
    // ...and after it has closed. The plugin's end closes the engine's side too: a hijacked conn
    // is never left half-open (Go closes it on EOF), or the engine's session would hang.
    const engineClosed = new Promise((resolve) => engineSide.once('close', resolve));
    plugin.end();
    await Promise.race([
      engineClosed,
      delay(2_000).then(() => {
        throw new Error("the engine's hijacked socket stayed half-open after the plugin closed");
      }),
    ]);
    await waitFor(() => plugin.destroyed, 2_000, 'the plugin socket to close');
    expect(await getHealth(engine.path)).toBe('200 ok');
    expect(engine.requests).toEqual(['GET /health', 'GET /health', 'GET /health']);
  });

  it('answers the upgrade with a 101 (HIJACK_RESPONSE) and nothing before it', async () => {
    const engine = await httpEngine({ onConnection: (socket) => track(socket) });
    const raw = track(connect(engine.path));
    raw.write(GO_HIJACK_REQUEST);
    const response = await readUntil(raw, (d) => d.includes('\r\n\r\n'));
    expect(response.toString('latin1')).toBe(HIJACK_RESPONSE);
    // A TS engine may answer HTTP/1.1: Go clients check only the code (§3.3).
    expect(HIJACK_RESPONSE).toBe(
      'HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: tcp\r\n\r\n',
    );
  });

  it('keeps bytes the plugin sent in the same write as the request (the parser head, §8.1)', async () => {
    const got: Promise<string>[] = [];
    const engine = await httpEngine({
      onConnection: (socket) => {
        track(socket);
        got.push(readLine(socket));
      },
    });
    const raw = track(connect(engine.path));
    raw.write(`${GO_HIJACK_REQUEST}early bytes after the request\n`);
    await waitFor(() => got.length === 1, 2_000, 'the upgrade');
    expect(await got[0]).toBe('early bytes after the request\n');
  });

  it('a disabled handler (enabled: () => false) answers 404 "404 page not found", as Go with external plugins off', async () => {
    let connections = 0;
    const engine = await httpEngine({
      enabled: () => false,
      onConnection: () => {
        connections++;
      },
    });
    await expectRefusal(engine.path, 404, '404 page not found');
    expect(connections).toBe(0);
    expect(await getHealth(engine.path)).toBe('200 ok');
  });

  it('an upgrade on another path is refused with 404', async () => {
    let connections = 0;
    const engine = await httpEngine({
      path: '/plugins/hijack',
      onConnection: () => {
        connections++;
      },
    });
    await expectRefusal(engine.path, 404);
    expect(connections).toBe(0);
  });

  it('enabled() is asked per request, so the route can be switched on at run time (§7.7)', async () => {
    let enabled = false;
    const engine = await httpEngine({ enabled: () => enabled, onConnection: (socket) => track(socket) });
    await expectRefusal(engine.path, 404);
    enabled = true;
    track(await dialAndUpgrade(engine.path));
  });

  it('a node:http engine without a hijack handler refuses at once (UpgradeError), it does not hang', async () => {
    // Node passes an upgrade nobody listens for to the request handler, which answers a chunked 404.
    const engine = await httpEngine();
    await expectRefusal(engine.path, 404);
  });
});

describe('after the upgrade: yamux + Connect both ways (protocol.md §3.4, §2.1, §2.3)', () => {
  it('full round trip, including a stream the engine opens right after the 101 (early stream queueing)', async () => {
    const registered: string[] = [];
    const earlyCall: Array<Promise<string>> = [];
    const engineSessions: MuxSession[] = [];
    const engine = await httpEngine({
      onConnection: (socket) => {
        // The engine is the yamux server (§2.1, §3.4) and calls the plugin at once, before the
        // plugin has even created its session: the SYN may travel in the same read as the 101.
        const session = trackSession(createMuxSession(socket, { role: 'server' }));
        engineSessions.push(session);
        serveConnect(session, {
          routes: (router) =>
            router.service(pluginsv1.RegisterService, {
              registerPlugin(req) {
                registered.push(`${req.name}@${req.version}`);
                return { engineName: 'hijack-engine', engineVersion: 'v9.9.9' };
              },
            }),
        });
        const toPlugin = createClient(resolverv1.ResolverService, createSessionTransport(session));
        earlyCall.push(
          toPlugin
            .getSecrets({ pattern: 'early/one' })
            .then((res) => res.envelopes.map((e) => e.id).join(',')),
        );
      },
    });

    const socket = track(await dialAndUpgrade(engine.path));
    // Let the engine's early SYN and request arrive before the plugin starts its session...
    await waitFor(() => earlyCall.length === 1, 2_000, 'the engine to accept the upgrade');
    await delay(100);
    const plugin = trackSession(createMuxSession(socket, { role: 'client' }));
    // ...and before it registers its handler (the session must queue the inbound stream).
    await delay(100);
    serveConnect(plugin, {
      routes: (router) =>
        router.service(resolverv1.ResolverService, {
          getSecrets(req) {
            return { envelopes: [{ id: req.pattern, value: new TextEncoder().encode(`v:${req.pattern}`) }] };
          },
        }),
    });
    expect(await earlyCall[0]).toBe('early/one');

    const toEngine = createClient(pluginsv1.RegisterService, createSessionTransport(plugin));
    for (const version of ['v1', 'v2']) {
      const res = await toEngine.registerPlugin(
        create(pluginsv1.RegisterPluginRequestSchema, {
          name: 'external',
          version,
          metadata: { case: 'secretsProvider', value: { pattern: 'ext/**' } },
        }),
      );
      expect(res.engineName).toBe('hijack-engine');
      expect(res.engineVersion).toBe('v9.9.9');
    }
    expect(registered).toEqual(['external@v1', 'external@v2']);

    const toPlugin = createClient(resolverv1.ResolverService, createSessionTransport(engineSessions[0]!));
    for (const pattern of ['a/b', 'c/d']) {
      const res = await toPlugin.getSecrets({ pattern });
      expect(res.envelopes[0]?.id).toBe(pattern);
      expect(new TextDecoder().decode(res.envelopes[0]?.value)).toBe(`v:${pattern}`);
    }

    // The engine's ordinary routes are unaffected by the hijacked session.
    expect(await getHealth(engine.path)).toBe('200 ok');

    // Closing the plugin side is seen by the engine as the peer going away (§2.4, §3.4: the
    // plugin's lifetime ends when its IPC closes), promptly and not at the next keep-alive.
    await plugin.close({ timeoutMs: 500 });
    const reason = await Promise.race([engineSessions[0]!.closed, delay(2_000).then(() => 'still open')]);
    expect(reason).toMatchObject({ kind: 'peer' });
  });
});

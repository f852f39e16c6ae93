// Issue 12 item 4: hostile yamux peers on /hijack, against a real engine. A data frame header
// announcing 1 GiB made the engine buffer whatever followed (1 GB in an unregistered peer's 5 s
// registration window, 1.5 GB from a registered one, never closed): now the session is closed at
// the header with GoAway(1), before the body, and the engine's memory does not follow what the
// peer sends. A peer that stops reading is closed after the keep-alive timeout, so a request that
// fans out to it and to a healthy plugin is answered with the healthy plugin's secret instead of
// waiting for the request deadline (set to 10 minutes here: only the session close can end it).
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { createClient } from '@connectrpc/connect';
import {
  createMuxSession,
  createSessionTransport,
  dialAndUpgrade,
  type MuxSession,
  serveConnect,
} from '@secrets-engine/ipc';
import { pluginsv1, resolverv1 } from '@secrets-engine/proto';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  baseEnv,
  type E2EContext,
  ENGINE_FIXTURE,
  engineClients,
  listByName,
  useE2E,
  waitFor,
  waitForJsonLine,
} from './support/e2e.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
/** What the attacker tries to push after the header; the engine must not hold it. */
const ATTACK_BYTES = 256 * MiB;
/** The engine's peak RSS may not pass its RSS before the attack by more than this. */
const RSS_BOUND = 64 * MiB;

/** VmRSS and VmHWM (peak RSS) of a process, in bytes, from /proc. */
function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB$`, 'm').exec(status);
    if (m === null) throw new Error(`no ${key} in /proc/${pid}/status`);
    return Number(m[1]) * 1024;
  };
  return { rss: kib('VmRSS'), peak: kib('VmHWM') };
}

async function startEngineProcess(e2e: E2EContext): Promise<number> {
  const engine = e2e.spawn(ENGINE_FIXTURE, [], {
    ...baseEnv(),
    ...e2e.fixtureEnv(),
    E2E_SOCKET: e2e.socketPath,
    E2E_PLUGINS_DIR: e2e.pluginsDir,
  });
  const ready = await waitForJsonLine<{ pid: number }>(engine, 'the engine process to report ready', {
    timeoutMs: 20_000,
  });
  return ready.pid;
}

/** A bare yamux header: Data|SYN opening `streamId`, announcing `length` bytes. */
function dataSynHeader(streamId: number, length: number): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt8(0, 1); // type Data
  h.writeUInt16BE(1, 2); // SYN
  h.writeUInt32BE(streamId, 4);
  h.writeUInt32BE(length, 8);
  return h;
}

/**
 * Writes the header, then (`flood`) junk as fast as the socket takes it, until the engine closes
 * the connection or ATTACK_BYTES are out. Resolves with how much junk was written and the bytes
 * received. A flood usually ends in EPIPE, which makes Node drop what was not read yet (the
 * GoAway among it): only the header-only attack can see the GoAway for sure.
 */
async function attack(
  socket: Socket,
  streamId: number,
  flood: boolean,
): Promise<{ sent: number; received: Buffer }> {
  const received: Buffer[] = [];
  socket.on('data', (c: Buffer) => received.push(c));
  const closed = new Promise<void>((resolve) => {
    socket.once('close', () => resolve());
    socket.on('error', () => {});
  });
  let gone = false;
  void closed.then(() => {
    gone = true;
  });
  const junk = Buffer.alloc(MiB, 0x61);
  let sent = 0;
  socket.write(dataSynHeader(streamId, GiB));
  while (flood && !gone && sent < ATTACK_BYTES) {
    sent += junk.byteLength;
    if (!socket.write(junk)) {
      await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), closed]);
    }
  }
  await closed;
  return { sent, received: Buffer.concat(received) };
}

/** The GoAway codes among the frames in `bytes` (a whole yamux byte stream from its start). */
function goAwayCodes(bytes: Buffer): number[] {
  const codes: number[] = [];
  let at = 0;
  while (at + 12 <= bytes.byteLength) {
    const type = bytes.readUInt8(at + 1);
    const length = bytes.readUInt32BE(at + 8);
    if (type === 3) codes.push(length);
    at += 12 + (type === 0 ? length : 0);
  }
  return codes;
}

/** A plugin made of the ipc pieces on a /hijack connection, registered as `name` for `pattern`. */
async function registeredPeer(socketPath: string, name: string, pattern: string) {
  const socket = await dialAndUpgrade(socketPath);
  const session = createMuxSession(socket, { role: 'client' });
  onTestFinished(() => session.abort());
  serveConnect(session, {
    routes: (router) =>
      router.service(resolverv1.ResolverService, {
        getSecrets: (req) => ({
          envelopes: [{ id: req.pattern.replace(/\*+/g, 'x'), value: new TextEncoder().encode('hostile') }],
        }),
      }),
  });
  const register = createClient(pluginsv1.RegisterService, createSessionTransport(session));
  await register.registerPlugin({
    name,
    version: 'v1.0.0',
    metadata: { case: 'secretsProvider', value: { pattern } },
  });
  return { socket, session };
}

function expectEngineMemoryBounded(before: { rss: number }, pid: number): void {
  const after = memoryOf(pid);
  // The peak over the whole attack, not a sample: nothing the attacker sent was held.
  expect(after.peak - before.rss).toBeLessThan(RSS_BOUND);
}

describe('a yamux data frame longer than the receive window (hostile /hijack peer)', () => {
  const e2e = useE2E();

  it('unregistered, header alone: GoAway(1) and closed, without waiting for a byte of the body', async () => {
    await startEngineProcess(e2e);
    const socket = await dialAndUpgrade(e2e.socketPath);
    const { received } = await attack(socket, 1, false);
    expect(goAwayCodes(received)).toEqual([1]);
  });

  it('unregistered, header and a 256 MiB flood: closed at the header; the engine holds none of it', async () => {
    const pid = await startEngineProcess(e2e);
    const before = memoryOf(pid);
    const socket = await dialAndUpgrade(e2e.socketPath);
    const { sent } = await attack(socket, 1, true);
    // Closed at the header: far less went out than the attacker had (only what socket buffers took).
    expect(sent).toBeLessThan(ATTACK_BYTES);
    expectEngineMemoryBounded(before, pid);
    // The engine is unharmed and answers.
    const clients = engineClients(e2e.socketPath);
    expect((await clients.management.listPlugins({})).plugins).toEqual([]);
  });

  it.each([
    ['header alone', false],
    ['header and a 256 MiB flood', true],
  ])('registered, %s: the session is closed too (the plugin leaves the registry)', async (_label, flood) => {
    const pid = await startEngineProcess(e2e);
    const { socket, session } = await registeredPeer(e2e.socketPath, 'hostile', 'hostile/**');
    const clients = engineClients(e2e.socketPath);
    expect((await listByName(clients)).has('hostile')).toBe(true);
    const before = memoryOf(pid);
    // Our own session keeps reading the socket; the raw bytes go between its frames (it writes
    // whole frames per turn) on a stream id it never used.
    const { sent } = await attack(socket, 1001, flood);
    const reason = await session.closed;
    if (flood) {
      expect(reason.kind).not.toBe('local');
      expect(sent).toBeLessThan(ATTACK_BYTES);
    } else {
      expect(reason.kind === 'error' && reason.error.message).toBe('peer sent GoAway with error code 1');
    }
    expectEngineMemoryBounded(before, pid);
    await waitFor('the hostile plugin to leave the registry', async () =>
      (await listByName(clients)).has('hostile') ? undefined : true,
    );
  });
});

describe('a plugin that stops reading', () => {
  const e2e = useE2E();

  it('is closed after the keep-alive timeout; a request shared with a healthy plugin is answered', async () => {
    e2e.addPlugin('good');
    const engine = e2e.engine({
      // Only the session close can end the stuck plugin's part of a request.
      requestTimeoutMs: 600_000,
      // Long enough that the healthy plugin answers its pings on a loaded machine.
      pluginSession: { keepAliveIntervalMs: 200, keepAliveTimeoutMs: 3_000 },
      fixture: { FIXTURE_PATTERN: 'shared/**' },
    });
    await engine.start();
    const stuck: { session: MuxSession; socket: Socket } = await registeredPeer(
      e2e.socketPath,
      'stuck',
      'shared/**',
    );
    const clients = engineClients(e2e.socketPath);
    expect([...(await listByName(clients)).keys()].sort()).toEqual(['good', 'stuck']);
    // The hostile plugin opens streams (calls to the engine) and then never reads again.
    const health = [1, 2, 3].map(() => {
      const s = stuck.session.open();
      s.on('error', () => {});
      s.end('GET /health HTTP/1.1\r\nHost: unix\r\n\r\n');
      return s;
    });
    stuck.socket.pause();

    const res = await clients.resolver.getSecrets({ pattern: 'shared/a' });
    expect(res.envelopes.map((e) => [e.id, e.provider])).toEqual([['shared/a', 'good']]);
    await waitFor('the stuck plugin to leave the registry', async () =>
      (await listByName(clients)).has('stuck') ? undefined : true,
    );
    const closing = e2e.logs.filter((l) => l.includes('closing the session'));
    expect(closing).toHaveLength(1);
    expect(closing[0]).toContain('did not answer a ping within 3000 ms');
    expect(closing[0]).toContain(`peerPid=${process.pid} `);
    for (const s of health) s.destroy();
  });
});

// Real plugin processes built on the SDK (the fixture imports the built dist): launched on fd 3 with
// the launch variable (protocol.md §1.2, §1.3), started by hand and joining through /hijack (§3),
// shut down by the engine (§7.1), by signals, and when the engine goes away (§0 "no orphans", §7.5).
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Code, type ConnectError } from '@connectrpc/connect';
import { attachHijackHandler, launchPlugin } from '@secrets-engine/ipc';
import { waitFor } from '@secrets-engine/test-utils/process.js';
import { afterEach, describe, expect, it } from 'vitest';
import { attachEngine, type EngineConnection, startHijackEngine } from './__tests__/engine.js';

const FIXTURE = fileURLToPath(new URL('./__tests__/fixtures/provider.mjs', import.meta.url));
const PATH_ONLY = { PATH: process.env.PATH ?? '/usr/bin:/bin' };

interface Watched {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  events: () => Array<Record<string, unknown>>;
  stderr: () => string;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});

function watch(child: ChildProcess): Watched {
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  return {
    child,
    exited,
    events: () =>
      stdout
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    stderr: () => stderr,
  };
}

function launch(name: string, env: Record<string, string> = {}): { proc: Watched; engine: EngineConnection } {
  const { child, socket } = launchPlugin({
    command: process.execPath,
    args: [FIXTURE],
    name,
    registrationTimeoutMs: 3_000,
    env: { ...PATH_ONLY, ...env },
  });
  return { proc: watch(child), engine: attachEngine(socket) };
}

function startByHand(socketPath: string, env: Record<string, string> = {}): Watched {
  return watch(
    spawn(process.execPath, [FIXTURE], {
      env: { ...PATH_ONLY, SECRETS_ENGINE_SOCKET: socketPath, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
}

describe('launched by an engine (fd 3 + DOCKER_SECRETS_ENGINE_PLUGIN_LAUNCH_CFG)', () => {
  it('registers with its LAUNCH name (not its name option), serves, and exits 0 after Shutdown', async () => {
    const { proc, engine } = launch('launch-name', { FIXTURE_NAME: 'own-name' });
    const reg = await engine.registration;
    expect(reg).toMatchObject({ name: 'launch-name', version: 'v1.2.3', pattern: 'fixture/**' });
    // The registration timeout comes from the launch variable (3 s, sent in nanoseconds).
    expect(reg.timeoutMs).toBeGreaterThan(2_000);
    expect(reg.timeoutMs).toBeLessThanOrEqual(3_000);

    const res = await engine.resolver.getSecrets({ pattern: 'fixture/**' });
    expect(res.envelopes.map((e) => [e.id, new TextDecoder().decode(e.value)])).toEqual([
      ['fixture/a', 'value-a'],
      ['fixture/b', 'value-b'],
    ]);
    const missing = await engine.resolver.getSecrets({ pattern: 'fixture/zzz' }).catch((e: unknown) => e);
    expect([(missing as ConnectError).code, (missing as ConnectError).rawMessage]).toEqual([
      Code.NotFound,
      'secret not found',
    ]);
    // A ConnectError from the author's own @connectrpc/connect and one from the SDK (a bundled copy)
    // both keep their code and message on the wire.
    for (const by of ['connect', 'sdk']) {
      const denied = await engine.resolver
        .getSecrets({ pattern: `fixture/denied-by-${by}` })
        .catch((e: unknown) => e);
      expect([(denied as ConnectError).code, (denied as ConnectError).rawMessage]).toEqual([
        Code.PermissionDenied,
        `denied by the fixture (${by})`,
      ]);
    }

    await engine.shutdown();
    const exit = await proc.exited;
    expect([exit.code, exit.signal]).toEqual([0, null]);
    expect(proc.events()).toEqual([{ event: 'stopped', reason: 'shutdown', mode: 'launched' }]);
    expect((await engine.session.closed).kind).toBe('peer');
    // Its logs (stderr) say who it is, and never carry a value.
    expect(proc.stderr()).toContain('"plugin":"launch-name"');
    expect(proc.stderr()).not.toContain('value-a');
  });

  it("after an obeyed Shutdown, SIGINT and SIGTERM do not cut its cleanup short (as Docker's engine sends them)", async () => {
    const { proc, engine } = launch('lingering', { FIXTURE_LINGER_MS: '1500' });
    await engine.registration;
    await engine.shutdown();
    await waitFor('the plugin to report it stopped', () => proc.events().some((e) => e.event === 'stopped'));
    proc.child.kill('SIGINT');
    proc.child.kill('SIGTERM');
    const exit = await proc.exited;
    expect([exit.code, exit.signal]).toEqual([0, null]);
    expect(proc.events()).toEqual([
      { event: 'stopped', reason: 'shutdown', mode: 'launched' },
      { event: 'lingered' },
    ]);
  });

  it('exits by itself within ~1 s when the engine connection closes, even with a timer alive', async () => {
    const { proc, engine } = launch('orphan', { FIXTURE_KEEPALIVE: '1' });
    await engine.registration;
    await engine.resolver.getSecrets({ pattern: 'fixture/a' });
    const closedAt = Date.now();
    engine.session.abort();
    const exit = await proc.exited;
    expect([exit.code, exit.signal]).toEqual([0, null]);
    const took = exit.at - closedAt;
    expect(took).toBeGreaterThanOrEqual(900); // the orphan timer, not the event loop, ended it
    expect(took).toBeLessThan(2_500);
    expect(proc.events()).toEqual([{ event: 'stopped', reason: 'engine-closed', mode: 'launched' }]);
  });

  it('orphanExitMs sets that delay', async () => {
    const { proc, engine } = launch('orphan-fast', { FIXTURE_KEEPALIVE: '1', FIXTURE_ORPHAN_MS: '100' });
    await engine.registration;
    await engine.resolver.getSecrets({ pattern: 'fixture/a' });
    const closedAt = Date.now();
    engine.session.abort();
    const exit = await proc.exited;
    expect(exit.code).toBe(0);
    expect(exit.at - closedAt).toBeLessThan(800);
  });
});

describe('started by hand (dials $SECRETS_ENGINE_SOCKET, joins through /hijack)', () => {
  it('joins a node:http engine through /hijack with its default name, serves, and exits 0 after Shutdown', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'se-sdk-http-'));
    const socketPath = join(dir, 'engine.sock');
    const upgrades: Array<{
      method: string | undefined;
      url: string | undefined;
      upgrade: string | undefined;
    }> = [];
    let resolveConnection!: (c: EngineConnection) => void;
    const connected = new Promise<EngineConnection>((resolve) => {
      resolveConnection = resolve;
    });
    const server = createServer((_req, res) => res.end('engine api'));
    attachHijackHandler(server, {
      onConnection: (socket: Socket, request) => {
        upgrades.push({ method: request.method, url: request.url, upgrade: request.headers.upgrade });
        resolveConnection(attachEngine(socket));
      },
    });
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    try {
      const proc = startByHand(socketPath);
      const engine = await connected;
      // The name defaults to the program's file name (provider.mjs → provider).
      expect(await engine.registration).toMatchObject({ name: 'provider', protocol: 'plugins.v1' });
      expect(upgrades).toEqual([{ method: 'GET', url: '/hijack', upgrade: 'tcp' }]);
      const res = await engine.resolver.getSecrets({ pattern: 'fixture/b' });
      expect(res.envelopes.map((e) => e.id)).toEqual(['fixture/b']);
      await engine.shutdown();
      const exit = await proc.exited;
      expect([exit.code, exit.signal]).toEqual([0, null]);
      expect(proc.events()).toEqual([{ event: 'stopped', reason: 'shutdown', mode: 'external' }]);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each(['SIGTERM', 'SIGINT'] as const)(
    '%s shuts it down gracefully: serve() resolves, exit 0, the engine sees the session close',
    async (sig) => {
      await using engine = await startHijackEngine();
      const proc = startByHand(engine.socketPath, { FIXTURE_NAME: 'by-hand' });
      const connection = await engine.nextConnection();
      expect((await connection.registration).name).toBe('by-hand');
      await connection.resolver.getSecrets({ pattern: 'fixture/a' });
      proc.child.kill(sig);
      const exit = await proc.exited;
      expect([exit.code, exit.signal]).toEqual([0, null]);
      expect(proc.events()).toEqual([{ event: 'stopped', reason: 'local', mode: 'external' }]);
      expect((await connection.session.closed).kind).toBe('peer');
      expect(proc.stderr()).toContain(`"signal":"${sig}"`);
    },
  );

  it('the engine going away ends an external plugin too (serve resolves engine-closed, exit 0)', async () => {
    await using engine = await startHijackEngine();
    const proc = startByHand(engine.socketPath);
    const connection = await engine.nextConnection();
    await connection.registration;
    await connection.resolver.getSecrets({ pattern: 'fixture/a' });
    connection.session.abort();
    const exit = await proc.exited;
    expect([exit.code, exit.signal]).toEqual([0, null]);
    expect(proc.events()).toEqual([{ event: 'stopped', reason: 'engine-closed', mode: 'external' }]);
  });

  it('no engine: serve() rejects and the process reports it', async () => {
    const proc = startByHand('/nonexistent/secrets-engine/engine.sock');
    const exit = await proc.exited;
    expect(exit.code).toBe(1);
    expect(proc.events()).toEqual([
      {
        event: 'failed',
        name: 'DialError',
        message: expect.stringMatching(/cannot reach the secrets engine/),
      },
    ]);
  });
});

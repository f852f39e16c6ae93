// The client against a real engine on a temporary socket (protocol.md §10.2 behaviour).
import { chmodSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Code, ConnectError } from '@connectrpc/connect';
import { connectNodeAdapter, createConnectTransport } from '@connectrpc/connect-node';
import { pluginsv1, resolverv1 } from '@secrets-engine/proto';
import { type BuiltinPlugin, createEngine, type Engine } from '@secrets-engine/runtime';
import { isUnsafeSocketPathError } from '@secrets-engine/secrets';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ClientSocket,
  createClient,
  EngineError,
  EngineUnavailableError,
  InvalidPatternError,
  isNotFoundError,
  NotFoundError,
  PluginNotFoundError,
  ProviderFailedError,
} from './index.js';

let dir: string;
let socketPath: string;
let engine: Engine;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'se-client-'));
  socketPath = join(dir, 'engine.sock');
  engine = createEngine({
    socketPath,
    plugins: [
      {
        name: 'vault',
        version: 'v1.0.0',
        pattern: 'app/**',
        getSecrets: (pattern) =>
          pattern === 'app/missing'
            ? []
            : [
                {
                  id: 'app/db/password',
                  value: new TextEncoder().encode('hunter2'),
                  metadata: { owner: 'ops' },
                },
              ],
      },
    ],
  });
  await engine.start();
});

afterAll(async () => {
  await engine.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A listener in a folder anyone may write (mode 0777), counting the connections it is given. */
async function looseTrap() {
  const loose = mkdtempSync(join(tmpdir(), 'se-client-loose-'));
  chmodSync(loose, 0o777);
  const trap = {
    loose,
    connections: 0,
    async [Symbol.asyncDispose]() {
      await new Promise((resolve) => server.close(resolve));
      rmSync(loose, { recursive: true, force: true });
    },
  };
  const server = createNetServer((s) => {
    trap.connections++;
    s.destroy();
  });
  await new Promise<void>((resolve) => server.listen(join(loose, 'engine.sock'), resolve));
  return trap;
}

describe('createClient', () => {
  it('reads secrets with values, provider and metadata', async () => {
    using client = createClient({ socketPath });
    const [env] = await client.getSecrets('app/**');
    expect(env?.id).toBe('app/db/password');
    expect(env?.revealText()).toBe('hunter2');
    expect(env?.provider).toBe('vault');
    expect(env?.metadata).toEqual({ owner: 'ops' });
    expect(env?.resolvedAt).toBeInstanceOf(Date);
    expect(JSON.stringify(env)).not.toContain('hunter2');
  });

  it('not found is NotFoundError', async () => {
    using client = createClient({ socketPath });
    const err = await client.getSecrets('other/x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect(isNotFoundError(err)).toBe(true);
    expect((err as Error).message).toBe('secret not found');
  });

  it('an invalid pattern is InvalidPatternError, before any I/O', async () => {
    using client = createClient({ socketPath: join(dir, 'nothing-here.sock') });
    const err = await client.getSecrets('a*b').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidPatternError);
  });

  it('a missing engine is EngineUnavailableError naming the path tried', async () => {
    const path = join(dir, 'nothing-here.sock');
    using client = createClient({ socketPath: path });
    const err = await client.getSecrets('app/**').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineUnavailableError);
    expect((err as EngineUnavailableError).socketPath).toBe(path);
    expect((err as Error).message).toContain(path);
    expect((err as Error).message).toMatch(/is the engine running/);
  });

  it('a missing socket folder is "no such socket", and nothing is created', async () => {
    const path = join(dir, 'absent', 'engine.sock');
    using client = createClient({ socketPath: path });
    const err = await client.getSecrets('app/**').catch((e: unknown) => e);
    expect((err as Error).message).toBe(
      `secrets engine is not available at ${path}: no such socket (is the engine running?)`,
    );
    expect(existsSync(join(dir, 'absent'))).toBe(false);
  });

  it('never dials through a folder others may write or a symbolic link as the folder (issue 12 item 5a)', async () => {
    // A listener in a folder anyone may write: whoever it is, the client must not talk to it.
    await using trap = await looseTrap();
    const { loose } = trap;
    using client = createClient({ socketPath: join(loose, 'engine.sock') });
    const err = await client.getSecrets('app/**').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineUnavailableError);
    expect((err as Error).message).toBe(
      `secrets engine is not available at ${join(loose, 'engine.sock')}: refusing to connect: ${loose} has mode 0777 (writable by its group and others); the socket's folder must be a folder (not a symbolic link) owned by ${process.getuid?.() === 0 ? 'root' : `uid ${process.getuid?.()} or root`} and writable by no one else (mode 0700)`,
    );
    expect(isUnsafeSocketPathError((err as Error).cause)).toBe(true);
    // The real engine's folder through a symbolic link: refused too, although it is ours.
    const link = join(dir, 'link');
    symlinkSync(dir, link);
    using viaLink = createClient({ socketPath: join(link, 'engine.sock') });
    const linked = await viaLink.version().catch((e: unknown) => e);
    expect((linked as Error).message).toContain(`refusing to connect: ${link} is a symbolic link to ${dir}`);
    expect(trap.connections).toBe(0);
  });

  it('lists, disables and enables plugins; unknown names are PluginNotFoundError', async () => {
    using client = createClient({ socketPath });
    expect(await client.listPlugins()).toEqual([
      {
        name: 'vault',
        version: 'v1.0.0',
        pattern: 'app/**',
        kind: 'secrets-provider',
        disabled: false,
        external: false,
        configurable: true,
        runStatus: 'running',
        statusMessage: '',
      },
    ]);
    await client.disablePlugin('vault');
    expect((await client.listPlugins())[0]?.disabled).toBe(true);
    await expect(client.getSecrets('app/**')).rejects.toBeInstanceOf(NotFoundError);
    await client.enablePlugin('vault');
    expect((await client.getSecrets('app/**')).length).toBe(1);
    await expect(client.disablePlugin('nope')).rejects.toBeInstanceOf(PluginNotFoundError);
  });

  it('reports the engine version as v-semver', async () => {
    using client = createClient({ socketPath });
    const v = await client.version();
    expect(v.version).toMatch(/^v\d+\.\d+\.\d+/);
  });

  it('honours a per-call signal', async () => {
    using client = createClient({ socketPath });
    const ac = new AbortController();
    ac.abort();
    await expect(client.getSecrets('app/**', { signal: ac.signal })).rejects.toThrow();
  });
});

describe('listPlugins of any engine (protocol.md §10.2)', () => {
  it('skips entries with an invalid name, version or pattern, keeps unregistered ones', async () => {
    // A bare plugins.v1 server: what another engine (or ours, before a plugin registered) may list.
    const plugin = (name: string, version: string, pattern: string, statusMessage = '') => ({
      name,
      version,
      external: true,
      configurable: true,
      runStatus: pluginsv1.RunStatus.STOPPED,
      statusMessage,
      metadata: { case: 'secretsProvider' as const, value: { pattern } },
    });
    const server = createServer(
      connectNodeAdapter({
        routes: (router) =>
          router.service(pluginsv1.PluginManagementService, {
            listPlugins: () => ({
              plugins: [
                plugin('bad\tname', 'v1.0.0', '**'),
                plugin('badversion', '1.0', '**'),
                plugin('badpattern', 'v1.0.0', 'a*b'),
                plugin('noversion', '', 'x/**'),
                plugin('pinned', '', '', 'not launched: no pin for "pinned"'),
              ],
            }),
          }),
      }),
    );
    const path = join(dir, 'list.sock');
    await new Promise<void>((resolve) => server.listen(path, resolve));
    try {
      using client = createClient({ socketPath: path });
      expect(await client.listPlugins()).toEqual([
        {
          name: 'pinned',
          version: '',
          pattern: undefined,
          kind: 'secrets-provider',
          disabled: false,
          external: true,
          configurable: true,
          runStatus: 'stopped',
          statusMessage: 'not launched: no pin for "pinned"',
        },
      ]);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('listPlugins of an engine that predates plugins.v1 (protocol.md §4.3)', () => {
  it('falls back to the OLD resolver.v1.ListService route once plugins.v1 answers 404', async () => {
    // Docker's Go engine (fa7ff078) serves the listing on the OLD route only.
    let oldCalls = 0;
    const server = createServer(
      connectNodeAdapter({
        routes: (router) =>
          router.service(resolverv1.ListService, {
            listPlugins: () => {
              oldCalls++;
              return {
                plugins: [
                  { name: 'pass', version: 'v0.0.21', pattern: 'docker/**', external: false },
                  { name: 'byhand', version: 'v1.2.3', pattern: 'app/*', external: true },
                  { name: 'bad\tname', version: 'v1.0.0', pattern: '**', external: false },
                  { name: 'badpattern', version: 'v1.0.0', pattern: 'a*b', external: false },
                ],
              };
            },
          }),
      }),
    );
    const path = join(dir, 'old-list.sock');
    await new Promise<void>((resolve) => server.listen(path, resolve));
    try {
      using client = createClient({ socketPath: path });
      const expected = [
        {
          name: 'pass',
          version: 'v0.0.21',
          pattern: 'docker/**',
          kind: 'secrets-provider',
          disabled: false,
          external: false,
          configurable: false,
          runStatus: 'running',
          statusMessage: '',
        },
        {
          name: 'byhand',
          version: 'v1.2.3',
          pattern: 'app/*',
          kind: 'secrets-provider',
          disabled: false,
          external: true,
          configurable: false,
          runStatus: 'running',
          statusMessage: '',
        },
      ];
      expect(await client.listPlugins()).toEqual(expected);
      // The route is remembered: the second call goes straight to the OLD route.
      expect(await client.listPlugins()).toEqual(expected);
      expect(oldCalls).toBe(2);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('reports an engine that serves neither route as not supporting the call', async () => {
    const server = createServer(connectNodeAdapter({ routes: () => {} }));
    const path = join(dir, 'no-list.sock');
    await new Promise<void>((resolve) => server.listen(path, resolve));
    try {
      using client = createClient({ socketPath: path });
      const err = await client.listPlugins().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EngineError);
      expect((err as EngineError).code).toBe('unimplemented');
      expect((err as Error).message).toContain('does not support this call');
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('an engine error without a class of its own', () => {
  it('is an EngineError carrying the Connect code name', async () => {
    // A bare resolver.v1 server (any engine, e.g. Docker's, may answer with any code).
    const server = createServer(
      connectNodeAdapter({
        routes: (router) =>
          router.service(resolverv1.ResolverService, {
            getSecrets: () => {
              throw new ConnectError('too many requests', Code.ResourceExhausted);
            },
          }),
      }),
    );
    const path = join(dir, 'other.sock');
    await new Promise<void>((resolve) => server.listen(path, resolve));
    try {
      using client = createClient({ socketPath: path });
      const err = await client.getSecrets('app/**').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EngineError);
      expect([(err as EngineError).code, (err as EngineError).message]).toEqual([
        'resource_exhausted',
        'too many requests',
      ]);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('failed plugins (protocol.md §4.2 "Partial answers")', () => {
  let engines = 0;
  const value = (id: string) => ({ id, value: new TextEncoder().encode(`value-of-${id}`) });
  async function engineWith(plugins: BuiltinPlugin[]) {
    const path = join(dir, `engine-${++engines}.sock`);
    const e = createEngine({ socketPath: path, plugins, requestTimeoutMs: 2_000 });
    await e.start();
    return { path, e };
  }
  const broken = {
    name: 'broken',
    version: 'v1.0.0',
    pattern: 'team/**',
    getSecrets: () => {
      throw new Error('backend sealed');
    },
  };

  it('a partial answer: getSecrets returns what was found, resolve() names the failed plugin', async () => {
    const { path, e } = await engineWith([
      broken,
      { name: 'good', version: 'v1.0.0', pattern: 'team/**', getSecrets: () => [value('team/a')] },
    ]);
    try {
      using client = createClient({ socketPath: path });
      expect((await client.getSecrets('team/**')).map((x) => x.id)).toEqual(['team/a']);
      const r = await client.resolve('team/**');
      expect(r.envelopes.map((x) => x.id)).toEqual(['team/a']);
      expect(r.failures).toEqual([
        {
          plugin: 'broken',
          code: 'internal',
          message: 'failed (internal: failed to get secret "team/**": backend sealed)',
        },
      ]);
      expect((await client.resolve('team/a')).failures).toHaveLength(1);
    } finally {
      await e.close();
    }
  });

  it('nothing found and a plugin failed: ProviderFailedError naming it, never NotFoundError', async () => {
    const { path, e } = await engineWith([broken]);
    try {
      using client = createClient({ socketPath: path });
      for (const call of [client.getSecrets('team/**'), client.getSecret('team/a')]) {
        const err = await call.catch((x: unknown) => x);
        expect(err).toBeInstanceOf(ProviderFailedError);
        expect(isNotFoundError(err)).toBe(false);
        expect((err as ProviderFailedError).code).toBe('unavailable');
        expect((err as ProviderFailedError).failures.map((f) => f.plugin)).toEqual(['broken']);
        expect((err as Error).message).toContain('plugin "broken" failed (internal:');
      }
    } finally {
      await e.close();
    }
  });

  it('getSecret takes only the exact ID: another secret is never the answer', async () => {
    const { path, e } = await engineWith([
      // Answers team/token to every request (the engine drops it for other IDs).
      { name: 'liar', version: 'v1.0.0', pattern: 'team/**', getSecrets: () => [value('team/token')] },
      {
        name: 'many',
        version: 'v1.0.0',
        pattern: 'app/**',
        getSecrets: () => [value('app/x'), value('app/y')],
      },
    ]);
    try {
      using client = createClient({ socketPath: path });
      expect((await client.getSecret('team/token')).revealText()).toBe('value-of-team/token');
      await expect(client.getSecret('team/nothing')).rejects.toBeInstanceOf(NotFoundError);
      expect((await client.getSecret('app/y')).id).toBe('app/y');
      await expect(client.getSecret('app/**')).rejects.toThrow();
    } finally {
      await e.close();
    }
  });
});

describe('the transport option', () => {
  /** A transport that dials with the socket's connect() only, one connection per call. */
  const viaConnect = (socket: ClientSocket) =>
    createConnectTransport({
      httpVersion: '1.1',
      baseUrl: 'http://unix',
      nodeOptions: { createConnection: () => socket.connect() },
    });

  it('is made once, from the socket path, and carries every call', async () => {
    const seen: ClientSocket[] = [];
    using client = createClient({
      socketPath,
      transport: (socket) => {
        seen.push(socket);
        return viaConnect(socket);
      },
    });
    expect((await client.getSecret('app/db/password')).revealText()).toBe('hunter2');
    expect((await client.listPlugins()).map((p) => p.name)).toEqual(['vault']);
    expect(seen.map((s) => [s.socketPath, s.netPath])).toEqual([[socketPath, socketPath]]);
  });

  it("connect() checks the socket's folder first: refused, nothing dialled", async () => {
    await using trap = await looseTrap();
    const { loose } = trap;
    using client = createClient({ socketPath: join(loose, 'engine.sock'), transport: viaConnect });
    const err = await client.getSecrets('app/**').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineUnavailableError);
    expect((err as Error).message).toContain(`refusing to connect: ${loose} has mode 0777`);
    expect(isUnsafeSocketPathError((err as Error).cause)).toBe(true);
    // A missing folder: ENOENT's words, and nothing created.
    const absent = join(dir, 'absent-too', 'engine.sock');
    using missing = createClient({ socketPath: absent, transport: viaConnect });
    expect(await missing.version().catch((e: Error) => e.message)).toBe(
      `secrets engine is not available at ${absent}: no such socket (is the engine running?)`,
    );
    expect(existsSync(join(dir, 'absent-too'))).toBe(false);
    expect(trap.connections).toBe(0);
  });

  it("reads the failed-plugins header with the response's raw lookup when it has one, never making Headers", async () => {
    const failures = [{ plugin: 'sealed', code: 'internal', message: 'failed (sealed)' }];
    let looked: string[] = [];
    using client = createClient({
      socketPath,
      transport: (socket) => {
        const inner = viaConnect(socket);
        return {
          async unary(...args) {
            const res = await inner.unary(...args);
            return Object.defineProperties(
              { ...res },
              {
                header: {
                  get() {
                    throw new Error('header read');
                  },
                },
                [Symbol.for('@secrets-engine/ipc.responseHeaderValue')]: {
                  value: (name: string) => {
                    looked.push(name);
                    return name === 'secrets-engine-failed-plugins' ? JSON.stringify(failures) : null;
                  },
                },
              },
            ) as typeof res;
          },
          stream: (...args) => inner.stream(...args),
        };
      },
    });
    const r = await client.resolve('app/**');
    expect(r.envelopes.map((e) => e.id)).toEqual(['app/db/password']);
    expect(r.failures).toEqual(failures);
    expect(looked).toEqual(['secrets-engine-failed-plugins']);
    // Only resolve reads it: other calls look nothing up.
    looked = [];
    await client.version();
    expect(looked).toEqual([]);
  });
});

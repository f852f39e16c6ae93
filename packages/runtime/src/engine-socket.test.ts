// The engine socket (protocol.md §3.1, §3.3, §4.1, §4.2): the public RPC surface over a real Unix
// socket with connect-node and raw HTTP clients, and the socket file's life cycle.
import {
  chmodSync,
  closeSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Code, ConnectError } from '@connectrpc/connect';
import { dialAndUpgrade, UpgradeError } from '@secrets-engine/ipc';
import { pluginsv1 } from '@secrets-engine/proto';
import { isGoZeroTime, isValidVersion } from '@secrets-engine/secrets';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { builtin, dec, engineClients, startedEngine, tempDir } from './__tests__/helpers.js';
import {
  type BuiltinPlugin,
  createEngine,
  defaultSocketPath,
  EngineAlreadyRunningError,
  EngineConfigError,
  UnsafeSocketPathError,
} from './index.js';
import { LOCK_EX, LOCK_NB, libc } from './native.js';

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function httpRequest(
  socketPath: string,
  path: string,
  init: { method?: string; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath, path, method: init.method ?? 'GET', headers: init.headers ?? {}, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const created = new Date('2025-05-06T07:08:09.123Z');
const vault: BuiltinPlugin = builtin('vault', 'db/**', () => [
  { id: 'db/password', value: 'hunter2', metadata: { owner: 'ops' }, createdAt: created, version: 'v3' },
]);
const files: BuiltinPlugin = builtin('files', 'db/**', () => [{ id: 'db/password', value: 'from-files' }]);

describe('resolver.v1.ResolverService/GetSecrets on the engine socket', () => {
  it('a partial answer carries the failed plugins in secrets-engine-failed-plugins; the body is unchanged', async () => {
    const broken = builtin('broken', 'db/**', () => {
      throw new Error('vault sealed \u2014 try later');
    });
    const engine = await startedEngine({ plugins: [vault, broken] });
    const { resolver } = engineClients(engine.socketPath);
    let header: string | null = null;
    const res = await resolver.getSecrets(
      { pattern: 'db/password' },
      { onHeader: (h) => (header = h.get('secrets-engine-failed-plugins')) },
    );
    expect(res.envelopes.map((e) => [e.id, e.provider])).toEqual([['db/password', 'vault']]);
    expect(JSON.parse(header!)).toEqual([
      {
        plugin: 'broken',
        code: 'internal',
        message: 'failed (internal: failed to get secret "db/password": vault sealed \u2014 try later)',
      },
    ]);
    // Only ASCII on the wire.
    expect(header).toMatch(/^[\x20-\x7e]+$/);
    // A full answer has no such header.
    await engine.disablePlugin('broken');
    let full: string | null = 'unset';
    await resolver.getSecrets(
      { pattern: 'db/password' },
      { onHeader: (h) => (full = h.get('secrets-engine-failed-plugins')) },
    );
    expect(full).toBe(null);
    await engine.enablePlugin('broken');
    await engine.disablePlugin('vault');
    const err = await resolver
      .getSecrets({ pattern: 'db/password' })
      .catch((e: unknown) => e as ConnectError);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.Unavailable);
    expect((err as ConnectError).rawMessage).toContain('plugin "broken" failed (internal:');
  });

  it('answers values, metadata, timestamps and provider, over one kept-alive connection', async () => {
    const engine = await startedEngine({ plugins: [vault, files] });
    const clients = engineClients(engine.socketPath);
    const before = Date.now();
    const res = await clients.resolver.getSecrets({ pattern: 'db/**' });
    expect(res.envelopes.map((e) => [e.id, e.provider, dec(e.value)])).toEqual([
      ['db/password', 'files', 'from-files'],
      ['db/password', 'vault', 'hunter2'],
    ]);
    const v = res.envelopes[1]!;
    expect(v.metadata).toEqual({ owner: 'ops' });
    expect(v.version).toBe('v3');
    expect(Number(v.createdAt!.seconds) * 1000 + v.createdAt!.nanos / 1e6).toBe(created.getTime());
    expect(isGoZeroTime(v.expiresAt)).toBe(true);
    expect(Number(v.resolvedAt!.seconds) * 1000).toBeGreaterThanOrEqual(before - 1_000);
    // A second call reuses the connection (HTTP keep-alive is allowed on the engine socket, §4.1).
    await clients.resolver.getSecrets({ pattern: 'db/password' });
    expect(clients.connections()).toBe(1);
  });

  it('maps a miss to not_found "secret not found" and a bad pattern to invalid_argument', async () => {
    const engine = await startedEngine({ plugins: [vault] });
    const { resolver } = engineClients(engine.socketPath);
    const miss = await resolver.getSecrets({ pattern: 'other/**' }).catch((e: unknown) => e);
    expect(miss).toBeInstanceOf(ConnectError);
    expect((miss as ConnectError).code).toBe(Code.NotFound);
    expect((miss as ConnectError).rawMessage).toBe('secret not found');
    const bad = await resolver.getSecrets({ pattern: 'a*' }).catch((e: unknown) => e);
    expect((bad as ConnectError).code).toBe(Code.InvalidArgument);
    expect((bad as ConnectError).rawMessage).toMatch(/^invalid pattern "a\*": /);
  });
});

describe('plugins.v1.PluginManagementService (protocol.md §4.2)', () => {
  it('lists, disables and enables plugins; unknown names are NotFound', async () => {
    const engine = await startedEngine({ plugins: [vault, files] });
    const { management, resolver } = engineClients(engine.socketPath);
    const list = await management.listPlugins({});
    expect(
      list.plugins.map((p) => ({
        name: p.name,
        version: p.version,
        disabled: p.disabled,
        external: p.external,
        configurable: p.configurable,
        runStatus: p.runStatus,
        statusMessage: p.statusMessage,
        metadata: p.metadata.case,
        pattern: p.metadata.case === 'secretsProvider' ? p.metadata.value.pattern : undefined,
      })),
    ).toEqual(
      ['files', 'vault'].map((name) => ({
        name,
        version: 'v1.0.0',
        disabled: false,
        external: false,
        configurable: true,
        runStatus: pluginsv1.RunStatus.RUNNING,
        statusMessage: '',
        metadata: 'secretsProvider',
        pattern: 'db/**',
      })),
    );

    await management.disablePlugin({ name: 'vault' });
    const after = (await management.listPlugins({})).plugins.find((p) => p.name === 'vault')!;
    expect(after.disabled).toBe(true);
    expect(after.runStatus).toBe(pluginsv1.RunStatus.STOPPED);
    expect(after.statusMessage).toBe('disabled');
    expect((await resolver.getSecrets({ pattern: '**' })).envelopes.map((e) => e.provider)).toEqual([
      'files',
    ]);

    await management.enablePlugin({ name: 'vault' });
    const back = (await management.listPlugins({})).plugins.find((p) => p.name === 'vault')!;
    expect(back.disabled).toBe(false);
    expect(back.runStatus).toBe(pluginsv1.RunStatus.RUNNING);
    expect(engine.listPlugins().find((p) => p.name === 'vault')?.disabled).toBe(false);

    for (const call of [
      management.enablePlugin({ name: 'nope' }),
      management.disablePlugin({ name: 'nope' }),
    ]) {
      const err = await call.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectError);
      expect((err as ConnectError).code).toBe(Code.NotFound);
      expect((err as ConnectError).rawMessage).toBe('plugin "nope" not found');
    }
  });
});

describe('OLD resolver.v1.ListService/ListPlugins and health.v1.VersionService (protocol.md §4.1, §4.2)', () => {
  it('lists running plugins in the OLD shape', async () => {
    const engine = await startedEngine({ plugins: [vault, files] });
    const { oldList } = engineClients(engine.socketPath);
    const res = await oldList.listPlugins({});
    expect(
      res.plugins.map((p) => ({
        name: p.name,
        version: p.version,
        pattern: p.pattern,
        external: p.external,
      })),
    ).toEqual([
      { name: 'files', version: 'v1.0.0', pattern: 'db/**', external: false },
      { name: 'vault', version: 'v1.0.0', pattern: 'db/**', external: false },
    ]);
    await engine.disablePlugin('files');
    expect((await oldList.listPlugins({})).plugins.map((p) => p.name)).toEqual(['vault']);
  });

  it('reports a valid v-semver version (default and configured)', async () => {
    const a = await startedEngine();
    const va = await engineClients(a.socketPath).version.getVersion({});
    expect(isValidVersion(va.version)).toBe(true);
    const b = await startedEngine({ version: 'v2.3.4-rc.1' });
    expect((await engineClients(b.socketPath).version.getVersion({})).version).toBe('v2.3.4-rc.1');
  });
});

describe('plain HTTP routes', () => {
  it('GET /health → 200 ok; unknown paths → 404', async () => {
    const engine = await startedEngine();
    const health = await httpRequest(engine.socketPath, '/health');
    expect(health.status).toBe(200);
    expect(health.body).toBe('ok');
    const missing = await httpRequest(engine.socketPath, '/nope');
    expect(missing.status).toBe(404);
    expect(missing.body).toBe('404 page not found\n');
  });

  it('a plain GET /hijack without upgrade headers → 426 with a helpful message', async () => {
    const engine = await startedEngine();
    const res = await httpRequest(engine.socketPath, '/hijack');
    expect(res.status).toBe(426);
    expect(res.body).toContain('Connection: upgrade');
    expect(res.body).toContain('Upgrade: tcp');
  });

  it('with externalPlugins:false, /hijack is 404 "404 page not found", upgrade or not', async () => {
    const engine = await startedEngine({ externalPlugins: false });
    const err = await dialAndUpgrade(engine.socketPath).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpgradeError);
    expect((err as Error).message).toContain('404');
    expect((err as Error).message).toContain('404 page not found');
    const plain = await httpRequest(engine.socketPath, '/hijack');
    expect(plain.status).toBe(404);
    expect(plain.body).toBe('404 page not found\n');
    // The engine still serves everything else.
    expect((await httpRequest(engine.socketPath, '/health')).body).toBe('ok');
  });
});

describe('the socket file (protocol.md §3.1)', () => {
  it('creates the directory 0700 and the socket 0600', async () => {
    const dir = join(tempDir(), 'a', 'b');
    const engine = await startedEngine({ socketPath: join(dir, 'engine.sock') });
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, '..')).mode & 0o777).toBe(0o700);
    const sock = lstatSync(engine.socketPath);
    expect(sock.isSocket()).toBe(true);
    expect(sock.mode & 0o777).toBe(0o600);
  });

  it('leaves an existing directory as it is', async () => {
    const dir = tempDir();
    chmodSync(dir, 0o755);
    await startedEngine({ socketPath: join(dir, 'engine.sock') });
    expect(statSync(dir).mode & 0o777).toBe(0o755);
  });

  it('replaces a stale socket file', async () => {
    const dir = tempDir();
    const socketPath = join(dir, 'engine.sock');
    // A socket file nobody listens on: listen, move the file away, close, move it back.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(join(dir, 'tmp.sock'), resolve));
    const { renameSync } = await import('node:fs');
    renameSync(join(dir, 'tmp.sock'), socketPath);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    expect(lstatSync(socketPath).isSocket()).toBe(true);

    const engine = await startedEngine({ socketPath });
    expect((await httpRequest(engine.socketPath, '/health')).body).toBe('ok');
  });

  it.skipIf(process.platform !== 'linux')(
    'a live listener whose accept backlog is full (EAGAIN) is never taken for stale: the socket file stays',
    async () => {
      const { spawn } = await import('node:child_process');
      const { connect } = await import('node:net');
      const dir = tempDir();
      const socketPath = join(dir, 'engine.sock');
      // A listener with a backlog of 1 that is then stopped: nothing is accepted any more.
      const child = spawn(process.execPath, [
        '-e',
        `require('node:net').createServer().listen({ path: ${JSON.stringify(socketPath)}, backlog: 1 }, () => console.log('up'))`,
      ]);
      onTestFinished(() => {
        child.kill('SIGKILL');
      });
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      process.kill(child.pid!, 'SIGSTOP');
      const held: import('node:net').Socket[] = [];
      onTestFinished(() => {
        for (const h of held) h.destroy();
      });
      // Fill the backlog until the kernel answers EAGAIN.
      for (let i = 0; i < 64; i++) {
        const code = await new Promise<string | undefined>((resolve) => {
          const c = connect(socketPath);
          held.push(c);
          c.once('connect', () => resolve(undefined));
          c.once('error', (e: NodeJS.ErrnoException) => resolve(e.code));
        });
        if (code === 'EAGAIN') break;
      }
      const inode = lstatSync(socketPath).ino;
      const engine = createEngine({ socketPath });
      const err = await engine.start().catch((e: unknown) => e);
      await engine.close();
      expect((err as Error).message).toBe(
        `cannot tell whether an engine listens on ${socketPath} (EAGAIN); refusing to replace its socket`,
      );
      expect(lstatSync(socketPath).ino).toBe(inode);
    },
  );

  it('detects a live engine on the path and does not steal it', async () => {
    const first = await startedEngine({ plugins: [vault] });
    const inode = lstatSync(first.socketPath).ino;
    const second = createEngine({ socketPath: first.socketPath });
    const err = await second.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineAlreadyRunningError);
    expect((err as EngineAlreadyRunningError).socketPath).toBe(first.socketPath);
    expect((err as Error).message).toBe(
      `another secrets engine is already running on ${first.socketPath}: it holds the lock ${first.socketPath}.lock`,
    );
    expect((err as EngineAlreadyRunningError).lockPath).toBe(`${first.socketPath}.lock`);
    await second.close();
    // The first engine keeps its socket file and keeps serving.
    expect(lstatSync(first.socketPath).ino).toBe(inode);
    expect((await httpRequest(first.socketPath, '/health')).body).toBe('ok');
    const res = await engineClients(first.socketPath).resolver.getSecrets({ pattern: 'db/password' });
    expect(res.envelopes.map((e) => e.provider)).toEqual(['vault']);
  });

  it("holds <socket>.lock (0600) for its life and removes it on close; a crashed engine's lock file is reused", async () => {
    const socketPath = join(tempDir(), 'engine.sock');
    const lockPath = `${socketPath}.lock`;
    // A lock file nobody holds (an engine that was SIGKILLed leaves one): no obstacle.
    writeFileSync(lockPath, '', { mode: 0o600 });
    const engine = await startedEngine({ socketPath });
    expect(lstatSync(lockPath).isFile()).toBe(true);
    expect(lstatSync(lockPath).mode & 0o777).toBe(0o600);
    await engine.close();
    expect(() => lstatSync(lockPath)).toThrow(/ENOENT/);
    expect(() => lstatSync(socketPath)).toThrow(/ENOENT/);
    // And the path can be claimed again at once.
    const again = await startedEngine({ socketPath });
    expect((await httpRequest(again.socketPath, '/health')).body).toBe('ok');
  });

  it('a symbolic link at the lock path is refused, never followed', async () => {
    const dir = tempDir();
    const socketPath = join(dir, 'engine.sock');
    const target = join(dir, 'precious');
    writeFileSync(target, 'precious');
    symlinkSync(target, `${socketPath}.lock`);
    const engine = createEngine({ socketPath });
    const err = await engine.start().catch((e: unknown) => e);
    await engine.close();
    expect(err).toBeInstanceOf(EngineConfigError);
    expect((err as Error).message).toMatch(
      new RegExp(`^cannot open the lock file ${socketPath}\\.lock: ELOOP`),
    );
    expect(readFileSync(target, 'utf8')).toBe('precious');
    expect(() => lstatSync(socketPath)).toThrow(/ENOENT/);
  });

  it('a stale socket is left alone while another process holds the lock', async () => {
    const dir = tempDir();
    const socketPath = join(dir, 'engine.sock');
    // A socket file nobody listens on (as a starting engine sees it before it listens).
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(join(dir, 'tmp.sock'), resolve));
    renameSync(join(dir, 'tmp.sock'), socketPath);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const inode = lstatSync(socketPath).ino;
    // Another engine, between taking its lock and listening: it holds <socket>.lock.
    const c = libc();
    if (c instanceof Error) throw c;
    const fd = openSync(`${socketPath}.lock`, 'w', 0o600);
    onTestFinished(() => closeSync(fd));
    expect(c.flock(fd, LOCK_EX | LOCK_NB)).toBe(0);
    const engine = createEngine({ socketPath });
    const err = await engine.start().catch((e: unknown) => e);
    await engine.close();
    expect(err).toBeInstanceOf(EngineAlreadyRunningError);
    expect((err as Error).message).toBe(
      `another secrets engine is already running on ${socketPath}: it holds the lock ${socketPath}.lock`,
    );
    expect(lstatSync(socketPath).ino).toBe(inode);
    expect(lstatSync(`${socketPath}.lock`).isFile()).toBe(true);
  });

  it('refuses a socket folder that another user could write, or a symbolic link as the folder', async () => {
    const dir = tempDir();
    const loose = join(dir, 'loose');
    mkdirSync(loose);
    chmodSync(loose, 0o777);
    const a = createEngine({ socketPath: join(loose, 'engine.sock') });
    const err = await a.start().catch((e: unknown) => e);
    await a.close();
    expect(err).toBeInstanceOf(UnsafeSocketPathError);
    expect((err as UnsafeSocketPathError).reason).toBe('has mode 0777 (writable by its group and others)');
    expect(readdirSync(loose)).toEqual([]);
    const link = join(dir, 'link');
    mkdirSync(join(dir, 'real'), { mode: 0o700 });
    symlinkSync(join(dir, 'real'), link);
    const b = createEngine({ socketPath: join(link, 'engine.sock') });
    const err2 = await b.start().catch((e: unknown) => e);
    await b.close();
    expect((err2 as UnsafeSocketPathError).reason).toBe(`is a symbolic link to ${join(dir, 'real')}`);
    expect(readdirSync(join(dir, 'real'))).toEqual([]);
  });

  it("an engine that never started does not remove another engine's socket on close()", async () => {
    const first = await startedEngine();
    const idle = createEngine({ socketPath: first.socketPath });
    await idle.close();
    expect(lstatSync(first.socketPath).isSocket()).toBe(true);
    expect((await httpRequest(first.socketPath, '/health')).body).toBe('ok');
  });

  it.runIf(process.platform === 'linux')('detects a live engine on a Linux abstract socket', async () => {
    const socketPath = `@se-rt-test-${process.pid}-${Date.now()}`;
    const first = await startedEngine({ socketPath });
    const second = createEngine({ socketPath });
    const err = await second.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineAlreadyRunningError);
    await second.close();
    expect((await engineClients(`\0${socketPath.slice(1)}`).version.getVersion({})).version).toMatch(/^v/);
    await first.close();
  });

  it('refuses to replace a regular file at the path', async () => {
    const dir = tempDir();
    const socketPath = join(dir, 'engine.sock');
    writeFileSync(socketPath, 'precious');
    const engine = createEngine({ socketPath });
    const err = await engine.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineConfigError);
    expect((err as Error).message).toBe(`${socketPath} exists and is not a socket; refusing to replace it`);
    await engine.close();
    expect(readFileSync(socketPath, 'utf8')).toBe('precious');
  });

  it('refuses a socket directory that is a file', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'file'), '');
    const engine = createEngine({ socketPath: join(dir, 'file', 'engine.sock') });
    const err = await engine.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsafeSocketPathError);
    expect((err as UnsafeSocketPathError).path).toBe(join(dir, 'file'));
    expect((err as UnsafeSocketPathError).reason).toBe('is not a folder');
  });

  it('close() removes the socket file, is idempotent, and stops serving', async () => {
    const engine = await startedEngine({ plugins: [vault] });
    const path = engine.socketPath;
    await Promise.all([engine.close(), engine.close()]);
    await engine.close();
    expect(() => lstatSync(path)).toThrow(/ENOENT/);
    await expect(httpRequest(path, '/health')).rejects.toThrow(/ENOENT|ECONNREFUSED/);
  });

  it('Symbol.asyncDispose closes the engine', async () => {
    const engine = await startedEngine();
    await engine[Symbol.asyncDispose]();
    expect(() => lstatSync(engine.socketPath)).toThrow(/ENOENT/);
  });

  it('defaults to $SECRETS_ENGINE_SOCKET', async () => {
    const socketPath = join(tempDir(), 'from-env', 'engine.sock');
    vi.stubEnv('SECRETS_ENGINE_SOCKET', socketPath);
    onTestFinished(() => {
      vi.unstubAllEnvs();
    });
    expect(defaultSocketPath()).toBe(socketPath);
    const engine = createEngine();
    onTestFinished(() => engine.close());
    expect(engine.socketPath).toBe(socketPath);
    await engine.start();
    expect(lstatSync(socketPath).isSocket()).toBe(true);
  });

  it('a directory it could not create is an UnsafeSocketPathError naming the path', async () => {
    // Under a regular file, so mkdir fails for root too (root ignores directory permissions).
    const dir = tempDir();
    writeFileSync(join(dir, 'file'), '');
    const engine = createEngine({ socketPath: join(dir, 'file', 'sub', 'engine.sock') });
    const err = await engine.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsafeSocketPathError);
    expect((err as Error).message).toMatch(
      new RegExp(`^refusing the engine socket ${dir}/file/sub/engine.sock: ${dir}/file is not a folder; `),
    );
  });
});

// Go plugins started by hand (protocol.md §3): the plugin dials OUR engine socket and upgrades it on
// /hijack (Docker's SDK does the upgrade on the connection we hand it with WithConnection, §3.2,
// §9), registers, resolves, is listed as external and not configurable, and exits 0 by itself
// when the engine closes (Shutdown RPC on its own schema, then the socket closes, §7.1, §7.5).
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient as createConnectClient } from '@connectrpc/connect';
import { createClient, NotFoundError } from '@secrets-engine/client';
import { accesscontrolv1, resolverv1 } from '@secrets-engine/proto';
import { AccessModuleError, type Engine } from '@secrets-engine/runtime';
import { describe, expect, it } from 'vitest';
import {
  engineTransport,
  goBinary,
  isAlive,
  NODE_PADS_ABSTRACT_SOCKETS,
  pluginEnv,
  pluginPeers,
  useInterop,
  waitFor,
} from './support/interop.js';

describe.each(pluginPeers())('$id, started by hand', (peer) => {
  const t = useInterop();
  const startByHand = (name: string) => t.startByHand(peer, name);

  it('joins through /hijack, is listed, resolves for our client and raw Connect, exits 0 on engine close', async () => {
    const engine = t.engine();
    await engine.start();
    using client = createClient({ socketPath: t.socketPath, timeoutMs: 10_000 });
    const plugin = startByHand('go-by-hand');
    const listed = await waitFor('the plugin to register', async () =>
      (await client.listPlugins()).find((p) => p.name === 'go-by-hand'),
    );
    // §3.4, §7.6: external, and not configurable (no process the engine could restart).
    expect(listed).toEqual({
      name: 'go-by-hand',
      version: 'v1.2.3',
      pattern: 'go/**',
      kind: 'secrets-provider',
      disabled: false,
      external: true,
      configurable: false,
      runStatus: 'running',
      statusMessage: '',
    });
    expect(engine.listPlugins()).toMatchObject([{ name: 'go-by-hand', kind: 'external', pid: undefined }]);

    const [secret] = await client.getSecrets('go/db/password');
    expect([secret!.id, secret!.provider, secret!.revealText(), secret!.version]).toEqual([
      'go/db/password',
      'go-by-hand',
      'hunter2',
      'sv3',
    ]);
    expect(secret!.metadata.requested).toBe('go/db/password');
    await expect(client.getSecrets('go/missing')).rejects.toBeInstanceOf(NotFoundError);

    const resolver = createConnectClient(resolverv1.ResolverService, engineTransport(t.socketPath));
    const all = await resolver.getSecrets({ pattern: 'go/*/*' });
    expect(all.envelopes.map((e) => [e.id, e.provider, e.metadata.requested])).toEqual([
      ['go/db/password', 'go-by-hand', 'go/*/*'],
      ['go/bin/blob', 'go-by-hand', 'go/*/*'],
    ]);
    // A plugin that fails is a failure, never "not found" (issue 11; compatibility.md difference 9).
    const err = await resolver.getSecrets({ pattern: 'go/boom' }).catch((e: unknown) => ConnectError.from(e));
    expect((err as ConnectError).code).toBe(Code.Unavailable);
    expect((err as ConnectError).rawMessage).toMatch(
      /^no secret found for "go\/boom", but 1 plugin could not answer: plugin "go-by-hand" failed \(internal: /,
    );

    await engine.close();
    expect(await plugin.exited).toEqual({ code: 0, signal: null });
    expect(t.exitMarker(plugin.pid)).toBe(`0 ${peer.shutdownReason}`);
    expect(plugin.stderr()).not.toMatch(/yamux/i);
  });

  it('SIGTERM: the plugin leaves, exits 0, and the engine drops it from the registry', async () => {
    const engine = t.engine();
    await engine.start();
    using client = createClient({ socketPath: t.socketPath, timeoutMs: 10_000 });
    const plugin = startByHand('go-leaving');
    await waitFor('the plugin to register', () => engine.listPlugins().length === 1);
    plugin.child.kill('SIGTERM');
    expect(await plugin.exited).toEqual({ code: 0, signal: null });
    await waitFor('the engine to drop it', () => engine.listPlugins().length === 0);
    await expect(client.getSecrets('go/db/password')).rejects.toBeInstanceOf(NotFoundError);
    expect(isAlive(plugin.pid)).toBe(false);
    expect(plugin.stderr()).not.toMatch(/yamux/i);
  });

  it('a second plugin with a taken name is refused (already_exists) and exits non-zero; the first keeps serving', async () => {
    const engine = t.engine();
    await engine.start();
    const first = startByHand('go-dup');
    await waitFor('the first plugin to register', () => engine.listPlugins().length === 1);
    const second = startByHand('go-dup');
    const exit = await second.exited;
    // §0 "Registration": refused in the RegisterPlugin response itself (Docker's engine instead
    // accepts it and then sends Shutdown, §5.1 step 4, in which case the Go SDK exits 0).
    expect(exit.code).not.toBe(0);
    expect(second.stderr()).toMatch(/already.exists|already exists/i);
    using client = createClient({ socketPath: t.socketPath, timeoutMs: 10_000 });
    expect((await client.getSecrets('go/db/password')).map((e) => e.provider)).toEqual(['go-dup']);
    await engine.close();
    expect(await first.exited).toEqual({ code: 0, signal: null });
  });

  it.runIf(process.platform === 'linux')(
    NODE_PADS_ABSTRACT_SOCKETS
      ? `cannot join over a Linux abstract socket on libuv ${process.versions.uv} (Node pads the name; docs/compatibility.md)`
      : 'joins over a Linux abstract socket, the form of Docker’s default daemon.sock (§3.1)',
    async () => {
      const socketPath = `@se-interop-${process.pid}-${Date.now()}/daemon.sock`;
      const engine = t.engine({ socketPath });
      await engine.start();
      const plugin = t.startByHand(peer, 'go-abstract', { INTEROP_SOCKET: socketPath });
      if (NODE_PADS_ABSTRACT_SOCKETS) {
        // Pinned: Go dials the exact-length name, our engine listens on the NUL-padded one.
        expect((await plugin.exited).code).toBe(2);
        expect(t.exitMarker(plugin.pid)).toMatch(/connect: connection refused/);
        expect(engine.listPlugins()).toEqual([]);
        return;
      }
      using client = createClient({ socketPath, timeoutMs: 10_000 });
      await waitFor('the plugin to register', () => engine.listPlugins().length === 1);
      expect((await client.getSecrets('go/db/password')).map((e) => e.provider)).toEqual(['go-abstract']);
      await engine.close();
      expect(await plugin.exited).toEqual({ code: 0, signal: null });
    },
  );
});

describe.runIf(pluginPeers().some((p) => p.binary === 'gostack-plugin'))(
  'an access-control module (HEAD, §4.2, §10.1) on the Go stack',
  () => {
    const t = useInterop();
    const peer = () => pluginPeers().find((p) => p.binary === 'gostack-plugin' && p.protocol === 'head')!;
    const requester = (name: string) =>
      create(accesscontrolv1.RequesterSchema, {
        pid: 4242,
        name,
        absoluteBinaryPath: `/usr/bin/${name}`,
        signingInfo: { case: 'linux', value: {} },
      });
    const signal = () => AbortSignal.timeout(10_000);

    /** Asserts the module answers as Go's handler does, through engine.accessModules(). */
    async function answersAsGo(engine: Engine, name: string) {
      const [acm, ...more] = engine.accessModules();
      expect(more).toEqual([]);
      expect(acm!.name).toBe(name);
      expect(await acm!.checkAccess(requester('app'), 'allowed/db', signal())).toBe(true);
      // DENY travels as an explicit varint 0 from connect-go.
      expect(await acm!.checkAccess(requester('app'), 'secret/db', signal())).toBe(false);
      expect(await acm!.checkAccess(requester('intruder'), 'allowed/db', signal())).toBe(false);
      expect(await acm!.authorize(requester('app'), ['allowed/a', 'allowed/b/**'], signal())).toEqual({
        allow: true,
        expiresAt: new Date('2030-01-02T03:04:05Z'),
      });
      // No expiry: Go writes timestamppb.New(time.Time{}), the Go zero time, read as none.
      expect(await acm!.authorize(requester('app'), ['allowed/a', 'secret/b'], signal())).toEqual({
        allow: false,
      });
      const failed = await acm!
        .checkAccess(requester('app'), 'allowed/error', signal())
        .catch((e: unknown) => e);
      expect(failed).toBeInstanceOf(AccessModuleError);
      expect((failed as Error).message).toBe(
        `access-control module "${name}" failed: internal: policy store is down`,
      );
      const none = await acm!.authorize(requester('app'), [], signal()).catch((e: unknown) => e);
      expect((none as Error).message).toBe(
        `access-control module "${name}" failed: invalid_argument: at least one pattern is required`,
      );
    }

    it('started by hand: registers, is listed with access-control metadata, never resolves, answers as Go does', async () => {
      const engine = t.engine();
      await engine.start();
      const acm = t.startByHand(peer(), 'go-acm', { INTEROP_KIND: 'access-control', INTEROP_ALLOW: 'app' });
      await waitFor('the module to register', () => engine.accessModules().length === 1);
      expect(engine.listPlugins()).toMatchObject([
        { name: 'go-acm', kind: 'external', role: 'access-control', pattern: undefined, status: 'running' },
      ]);
      await answersAsGo(engine, 'go-acm');
      // Not part of resolution: the Go module serves no ResolverService, and nothing asks it.
      await expect(engine.getSecrets('**')).rejects.toMatchObject({ code: Code.NotFound });
      expect(t.logs.some((l) => l.includes('plugin failed'))).toBe(false);
      await engine.close();
      expect(await acm.exited).toEqual({ code: 0, signal: null });
      expect(t.exitMarker(acm.pid)).toBe('0 shutdown rpc');
    });

    it('launched from the plugins folder: the same, and a kill -9 makes the next call an AccessModuleError', async () => {
      t.addPlugin('go-acm', goBinary(peer().binary));
      const engine = t.engine({
        pluginEnv: pluginEnv(peer(), t.pidDir, { INTEROP_KIND: 'access-control', INTEROP_ALLOW: 'app' }),
        restart: { initialDelayMs: 60_000 },
      });
      await engine.start();
      expect(engine.listPlugins()).toMatchObject([
        { name: 'go-acm', kind: 'launched', role: 'access-control', pattern: undefined, status: 'running' },
      ]);
      await answersAsGo(engine, 'go-acm');
      const [acm] = engine.accessModules();
      process.kill(engine.listPlugins()[0]!.pid!, 'SIGKILL');
      await waitFor('the module to be gone', () => engine.accessModules().length === 0);
      const err = await acm!.checkAccess(requester('app'), 'allowed/db', signal()).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AccessModuleError);
      expect((err as Error).message).toMatch(/^access-control module "go-acm" failed: unavailable: /);
    });
  },
);

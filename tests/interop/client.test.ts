// Go clients on OUR engine socket (protocol.md §10.2): Docker's client module (GetSecrets,
// PluginManagement.ListPlugins, Version, ErrSecretNotFound, ErrSecretsEngineNotAvailable) and the
// go-stack client. The Go programs print JSON; the values, metadata and timestamps must arrive
// intact, including nanoseconds (Go plugin → our engine → Go client) and the Go zero time (§4.4).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { rulesPolicy } from '@secrets-engine/runtime';
import { describe, expect, it } from 'vitest';
import { PLUGIN_PEERS } from './support/go.js';
import {
  BLOB,
  clientPeers,
  GO_ZERO,
  goBinary,
  NODE_PADS_ABSTRACT_SOCKETS,
  pluginEnv,
  runClient,
  useInterop,
} from './support/interop.js';

// The provider behind the engine: the go-stack plugin (HEAD routes), launched, so the envelopes
// carry what a Go plugin writes (nanosecond timestamps, the Go zero time, raw bytes).
const provider = PLUGIN_PEERS.find((p) => p.binary === 'gostack-plugin' && p.protocol === 'head')!;

describe.each(clientPeers())('$id on our engine socket', (peer) => {
  const t = useInterop();

  async function startEngine() {
    t.addPlugin('go-alpha', goBinary(provider.binary));
    const engine = t.engine({
      pluginEnv: pluginEnv(provider, t.pidDir),
      plugins: [
        {
          name: 'ts-builtin',
          version: 'v0.9.0',
          pattern: 'ts/**',
          getSecrets: () => [
            {
              id: 'ts/api/key',
              value: 'ts-value',
              version: 'k1',
              metadata: { team: 'node' },
              createdAt: new Date('2023-01-02T03:04:05.678Z'),
            },
          ],
        },
      ],
    });
    await engine.start();
    return engine;
  }

  it('GetSecrets: values, metadata and timestamps intact', async () => {
    const bin = goBinary(peer.binary);
    await startEngine();
    const before = Date.now();
    const out = await runClient(bin, t.socketPath, 'get', '**');
    expect(out.ok).toBe(true);
    const envs = out.ok ? out.envelopes! : [];
    // Plugins in name order (§6.4 step 2): go-alpha, then ts-builtin.
    expect(envs.map((e) => e.id)).toEqual(['go/db/password', 'go/bin/blob', 'ts/api/key']);
    const [password, blob, ts] = envs;
    expect(password).toMatchObject({
      provider: 'go-alpha',
      version: 'sv3',
      value: Buffer.from('hunter2').toString('base64'),
      metadata: { owner: 'go', 'rotated-by': 'ops@example.com', requested: 'go/**' },
      createdAt: '2024-05-06T07:08:09.123456789Z',
      expiresAt: '2030-01-02T03:04:05Z',
    });
    // resolved_at: the Go plugin sent the Go zero time, the engine filled "now" (§4.4, §6.4).
    const resolvedMs = Date.parse(password!.resolvedAt);
    expect(resolvedMs).toBeGreaterThanOrEqual(before - 1_000);
    expect(resolvedMs).toBeLessThanOrEqual(Date.now() + 1_000);
    expect(blob).toMatchObject({
      provider: 'go-alpha',
      version: '',
      value: Buffer.from(BLOB).toString('base64'),
      createdAt: GO_ZERO,
      expiresAt: GO_ZERO,
    });
    // Our builtin: unset expires_at travels as the Go zero time, so Go reads a zero time.Time.
    expect(ts).toMatchObject({
      provider: 'ts-builtin',
      version: 'k1',
      value: Buffer.from('ts-value').toString('base64'),
      metadata: { team: 'node' },
      createdAt: '2023-01-02T03:04:05.678Z',
      expiresAt: GO_ZERO,
    });
    expect(Date.parse(ts!.resolvedAt)).toBeGreaterThanOrEqual(before - 1_000);

    const one = await runClient(bin, t.socketPath, 'get', 'ts/api/key');
    expect(one.ok && one.envelopes!.map((e) => e.id)).toEqual(['ts/api/key']);
  });

  it('not found maps to the client’s not-found error', async () => {
    const bin = goBinary(peer.binary);
    await startEngine();
    for (const pattern of ['go/missing', 'nobody/**']) {
      const out = await runClient(bin, t.socketPath, 'get', pattern);
      expect(out, pattern).toMatchObject({ ok: false, notFound: true, notAvailable: false });
      expect(out.ok ? '' : out.error).toMatch(/secret not found/);
    }
    // A failing plugin is not "not found" for a Go client either (issue 11): the error names it.
    const boom = await runClient(bin, t.socketPath, 'get', 'go/boom');
    expect(boom).toMatchObject({ ok: false, notFound: false });
    expect(boom.ok ? '' : boom.error).toMatch(/could not answer: plugin "go-alpha" failed/);
  });

  it('Authorize (resolver.v1.AuthorizerService) answers the access policy for a Go client', async (ctx) => {
    if (peer.tier !== 'go-stack') ctx.skip('only the go-stack client has an authorize command');
    const bin = goBinary(peer.binary);
    const engine = t.engine({
      access: { policy: rulesPolicy([{ uid: process.getuid!(), pattern: 'ts/**' }]) },
    });
    await engine.start();
    const allowed = await runClient(bin, t.socketPath, 'authorize', 'ts/api/key', 'ts/*');
    expect(allowed).toMatchObject({ ok: true, decision: 'DECISION_ALLOW' });
    const denied = await runClient(bin, t.socketPath, 'authorize', 'ts/api/key', 'go/db/password');
    expect(denied).toMatchObject({ ok: true, decision: 'DECISION_DENY' });
    // And the policy holds for the secrets themselves: outside ts/** is permission_denied.
    const get = await runClient(bin, t.socketPath, 'get', 'go/db/password');
    expect(get).toMatchObject({ ok: false, code: 'permission_denied', notFound: false });
    const none = await runClient(bin, t.socketPath, 'authorize');
    expect(none.ok).toBe(false);
  });

  it('ListPlugins: name, version, pattern, external, configurable, run status', async () => {
    const bin = goBinary(peer.binary);
    await startEngine();
    const out = await runClient(bin, t.socketPath, 'list');
    expect(out.ok && out.plugins).toEqual([
      {
        name: 'go-alpha',
        version: 'v1.2.3',
        pattern: 'go/**',
        disabled: false,
        external: true,
        configurable: true,
        runStatus: 'RUN_STATUS_RUNNING',
        statusMessage: '',
      },
      {
        name: 'ts-builtin',
        version: 'v0.9.0',
        pattern: 'ts/**',
        disabled: false,
        external: false,
        configurable: true,
        runStatus: 'RUN_STATUS_RUNNING',
        statusMessage: '',
      },
    ]);
    if (peer.oldList) {
      // The OLD resolver.v1.ListService (§4.1) on the same socket.
      const old = await runClient(bin, t.socketPath, 'list-old');
      expect(old.ok && old.plugins!.map((p) => [p.name, p.version, p.pattern, p.external])).toEqual([
        ['go-alpha', 'v1.2.3', 'go/**', true],
        ['ts-builtin', 'v0.9.0', 'ts/**', false],
      ]);
    }
  });

  it('Version: a valid semver the client accepts', async () => {
    const bin = goBinary(peer.binary);
    const engine = t.engine({ version: 'v3.4.5-rc.1' });
    await engine.start();
    const out = await runClient(bin, t.socketPath, 'version');
    expect(out).toMatchObject({ ok: true, version: 'v3.4.5-rc.1' });
  });

  it('a missing socket maps to the client’s not-available error', async () => {
    const bin = goBinary(peer.binary);
    const missing = join(t.dir, 'nobody-listens.sock');
    expect(existsSync(missing)).toBe(false);
    for (const args of [['get', 'go/**'], ['list'], ['version']]) {
      const out = await runClient(bin, missing, ...args);
      expect(out, args.join(' ')).toMatchObject({ ok: false, notAvailable: true, notFound: false });
      expect(out.ok ? '' : out.error).toMatch(/secrets engine is not available/);
    }
  });

  it.runIf(process.platform === 'linux')(
    NODE_PADS_ABSTRACT_SOCKETS
      ? `cannot reach an engine on a Linux abstract socket on libuv ${process.versions.uv} (Node pads the name; docs/compatibility.md)`
      : 'reaches an engine on a Linux abstract socket, the form of Docker’s default daemon.sock (§3.1)',
    async () => {
      const bin = goBinary(peer.binary);
      const socketPath = `@se-interop-${process.pid}-${Date.now()}/daemon.sock`;
      await t.engine({ socketPath }).start();
      const out = await runClient(bin, socketPath, 'version');
      if (NODE_PADS_ABSTRACT_SOCKETS) {
        // Pinned: Go dials the exact-length name, our engine listens on the NUL-padded one.
        expect(out).toMatchObject({ ok: false, notAvailable: true });
        expect(out.ok ? '' : out.error).toMatch(/connect: connection refused/);
        return;
      }
      expect(out).toMatchObject({ ok: true, version: 'v0.1.0' });
    },
  );
});

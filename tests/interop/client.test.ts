// Go clients on OUR engine socket (protocol.md §10.2): Docker's HEAD client (tree e3231b00:
// GetSecrets, PluginManagement List/Enable/Disable, Version, Authorize, ErrSecretNotFound,
// ErrSecretsEngineNotAvailable), Docker's OLD client (tree fa7ff078 = client/v0.0.17: GetSecrets and
// the OLD ListService only), and the go-stack client. The Go programs print JSON; the values,
// metadata and timestamps must arrive intact, including nanoseconds (Go plugin → our engine → Go
// client) and the Go zero time (§4.4). A case a client has no API for is not generated for it.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rulesPolicy } from '@secrets-engine/runtime';
import { describe, expect, it } from 'vitest';
import { PLUGIN_PEERS } from './support/go.js';
import {
  BLOB,
  type ClientOutput,
  clientPeers,
  GO_SECRETS,
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

/** The client's not-available answer: Docker's OLD client has no such error, only connect's `unavailable`. */
function expectNotAvailable(out: ClientOutput, head: boolean, cause: RegExp) {
  if (head) {
    expect(out).toMatchObject({ ok: false, notAvailable: true, notFound: false });
    expect(out.ok ? '' : out.error).toMatch(/secrets engine is not available/);
  } else {
    expect(out).toMatchObject({ ok: false, code: 'unavailable', notFound: false });
    expect(out.ok ? '' : out.error).toMatch(/dial unix/);
  }
  expect(out.ok ? '' : out.error).toMatch(cause);
}

describe.each(clientPeers())('$id on our engine socket', (peer) => {
  const t = useInterop();

  async function startEngine(extraPluginEnv: Record<string, string> = {}) {
    t.addPlugin('go-alpha', goBinary(provider.binary));
    const engine = t.engine({
      pluginEnv: pluginEnv(provider, t.pidDir, extraPluginEnv),
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

  it('resolved_at has sub-millisecond digits, as Docker’s engine stamps it with time.Now()', async () => {
    const bin = goBinary(peer.binary);
    await startEngine();
    const stamps: string[] = [];
    for (let i = 0; i < 4; i++) {
      const out = await runClient(bin, t.socketPath, 'get', '**');
      if (out.ok) stamps.push(...out.envelopes!.map((e) => e.resolvedAt));
    }
    expect(stamps.length).toBe(12);
    // RFC 3339 with Go's trailing zeros trimmed: more than 3 fractional digits means the
    // engine's clock reading was finer than a millisecond. Four calls' readings all falling on a
    // whole millisecond by chance is a one-in-10^12 event.
    const fine = stamps.filter((s) => (/\.(\d+)Z$/.exec(s)?.[1]?.length ?? 0) > 3);
    expect(
      fine,
      `resolved_at has millisecond precision only (issue 13 item 5): ${stamps.join(', ')}`,
    ).not.toEqual([]);
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

  it.runIf(peer.head)(
    'Authorize (resolver.v1.AuthorizerService) answers the access policy: allow and deny',
    async () => {
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
      if (peer.tier === 'docker') {
        // Docker's client sends an empty list; the engine refuses it (the go-stack CLI refuses locally).
        expect(none).toMatchObject({ ok: false, code: 'invalid_argument' });
        expect(none.ok ? '' : none.error).toMatch(/at least one pattern is required/);
      }
    },
  );

  it('invalid pattern: refused (the Docker clients check it before sending; the engine answers invalid_argument)', async () => {
    const bin = goBinary(peer.binary);
    await startEngine();
    if (peer.raw) {
      // Docker's client parses the pattern itself: nothing is sent.
      const local = await runClient(bin, t.socketPath, 'get', 'go//db');
      expect(local).toMatchObject({ ok: false, invalidPattern: true, notFound: false });
      // Sent unchecked, the engine refuses it with invalid_argument naming it; never "not found".
      for (const bad of ['go//db', '/go/db', 'go/***', 'go/db/']) {
        const out = await runClient(bin, t.socketPath, 'get-raw', bad);
        expect(out, bad).toMatchObject({ ok: false, code: 'invalid_argument', notFound: false });
        expect(out.ok ? '' : out.error, bad).toContain(`invalid pattern ${JSON.stringify(bad)}`);
      }
    } else {
      const out = await runClient(bin, t.socketPath, 'get', 'go//db');
      expect(out).toMatchObject({ ok: false, code: 'invalid_argument', notFound: false });
      expect(out.ok ? '' : out.error).toContain('invalid pattern "go//db"');
    }
  });

  it('a 600 KiB value arrives intact, by ID and among others', async () => {
    const bin = goBinary(peer.binary);
    const big = Buffer.alloc(600 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) & 0xff;
    const file = join(t.dir, 'secrets.json');
    writeFileSync(file, JSON.stringify([{ id: 'go/big', value: big.toString('base64') }, ...GO_SECRETS]));
    await startEngine({ INTEROP_SECRETS_FILE: file });
    const one = await runClient(bin, t.socketPath, 'get', 'go/big');
    expect(one.ok && one.envelopes!.map((e) => [e.id, e.provider])).toEqual([['go/big', 'go-alpha']]);
    expect(one.ok && Buffer.from(one.envelopes![0]!.value, 'base64').equals(big)).toBe(true);
    const all = await runClient(bin, t.socketPath, 'get', 'go/**');
    expect(all.ok && all.envelopes!.map((e) => e.id)).toEqual(['go/big', 'go/db/password', 'go/bin/blob']);
    expect(all.ok && Buffer.from(all.envelopes![0]!.value, 'base64').equals(big)).toBe(true);
  });

  it.runIf(peer.listIsOld)(
    'ListPlugins on the OLD resolver.v1.ListService: name, version, pattern, external',
    async () => {
      const bin = goBinary(peer.binary);
      await startEngine();
      const out = await runClient(bin, t.socketPath, 'list');
      expect(out.ok && out.plugins).toEqual([
        { name: 'go-alpha', version: 'v1.2.3', pattern: 'go/**', external: true },
        { name: 'ts-builtin', version: 'v0.9.0', pattern: 'ts/**', external: false },
      ]);
    },
  );

  it.runIf(!peer.listIsOld)(
    'ListPlugins: name, version, pattern, external, configurable, run status',
    async () => {
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
    },
  );

  it.runIf(peer.manage)(
    'DisablePlugin / EnablePlugin: listed as disabled, not asked, then back',
    async () => {
      const bin = goBinary(peer.binary);
      await startEngine();
      expect(await runClient(bin, t.socketPath, 'disable', 'go-alpha')).toEqual({ ok: true });
      const listed = await runClient(bin, t.socketPath, 'list');
      expect(listed.ok && listed.plugins!.map((p) => [p.name, p.disabled])).toEqual([
        ['go-alpha', true],
        ['ts-builtin', false],
      ]);
      const none = await runClient(bin, t.socketPath, 'get', 'go/db/password');
      expect(none).toMatchObject({ ok: false, notFound: true });
      const ts = await runClient(bin, t.socketPath, 'get', '**');
      expect(ts.ok && ts.envelopes!.map((e) => e.id)).toEqual(['ts/api/key']);
      expect(await runClient(bin, t.socketPath, 'enable', 'go-alpha')).toEqual({ ok: true });
      const back = await runClient(bin, t.socketPath, 'get', 'go/db/password');
      expect(back.ok && back.envelopes!.map((e) => [e.id, e.provider])).toEqual([
        ['go/db/password', 'go-alpha'],
      ]);
      // A name no plugin has: not_found naming it, for both calls.
      for (const cmd of ['disable', 'enable']) {
        const out = await runClient(bin, t.socketPath, cmd, 'nobody');
        expect(out, cmd).toMatchObject({ ok: false, code: 'not_found' });
        expect(out.ok ? '' : out.error, cmd).toMatch(/nobody/);
      }
    },
  );

  it.runIf(peer.head)('Version: a valid semver the client accepts', async () => {
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
    const calls = peer.head
      ? [['get', 'go/**'], ['list'], ['version'], ['authorize', 'go/**']]
      : [['get', 'go/**'], ['list']];
    for (const args of calls) {
      const out = await runClient(bin, missing, ...args);
      expectNotAvailable(out, peer.head, /no such file or directory/);
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
      const out = await runClient(bin, socketPath, ...(peer.head ? ['version'] : ['list']));
      if (NODE_PADS_ABSTRACT_SOCKETS) {
        // Pinned: Go dials the exact-length name, our engine listens on the NUL-padded one.
        expectNotAvailable(out, peer.head, /connect: connection refused/);
        return;
      }
      expect(out.ok).toBe(true);
    },
  );
});

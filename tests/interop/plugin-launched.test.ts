// Go plugins launched by OUR runtime from a plugins folder (protocol.md §1.1–§1.3: fd 3 and the
// launch variable), for Docker's SDK at v0.3.2 (HEAD: plugins.v1) and v0.0.21 (OLD: resolver.v1
// routes), and for the go-stack plugin on both route sets. Each one registers, resolves for our
// client and for a raw Connect client, is listed with the right fields, is restarted after
// kill -9, and exits 0 by itself when the engine closes (Shutdown RPC on its own schema, §7.1).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Code, ConnectError, createClient as createConnectClient } from '@connectrpc/connect';
import { createClient, NotFoundError } from '@secrets-engine/client';
import { resolverv1 } from '@secrets-engine/proto';
import { describe, expect, it } from 'vitest';
import {
  BLOB,
  engineTransport,
  GO_SECRETS,
  GO_ZERO_SECONDS,
  goBinary,
  goYamuxLines,
  isAlive,
  pluginEnv,
  pluginPeers,
  useInterop,
  waitFor,
} from './support/interop.js';

describe.each(pluginPeers())('$id, launched from the plugins folder', (peer) => {
  const t = useInterop();

  it('registers, is listed, resolves for our client and raw Connect, survives kill -9, exits 0 on engine close', async () => {
    t.addPlugin('go-alpha', goBinary(peer.binary));
    const engine = t.engine({
      pluginEnv: pluginEnv(peer, t.pidDir),
      restart: { initialDelayMs: 50 },
    });
    await engine.start();
    const [info] = engine.listPlugins();
    expect(info).toMatchObject({ name: 'go-alpha', kind: 'launched', status: 'running', version: 'v1.2.3' });
    const pid = info!.pid!;
    expect(t.recordedPids()).toEqual([pid]);

    // --- listed (§4.2; launched plugins are external and configurable, §7.6) ---
    using client = createClient({ socketPath: t.socketPath, timeoutMs: 10_000 });
    expect(await client.listPlugins()).toEqual([
      {
        name: 'go-alpha',
        version: 'v1.2.3',
        pattern: 'go/**',
        kind: 'secrets-provider',
        disabled: false,
        external: true,
        configurable: true,
        runStatus: 'running',
        statusMessage: '',
      },
    ]);
    // The OLD listing (§4.1) shows it whatever schema it registered with.
    const transport = engineTransport(t.socketPath);
    const oldList = await createConnectClient(resolverv1.ListService, transport).listPlugins({});
    expect(oldList.plugins.map((p) => ({ ...p }))).toEqual([
      expect.objectContaining({ name: 'go-alpha', version: 'v1.2.3', pattern: 'go/**', external: true }),
    ]);

    // --- resolves for our client ---
    const before = Date.now();
    const [secret, ...rest] = await client.getSecrets('go/db/password');
    expect(rest).toEqual([]);
    expect(secret!.id).toBe('go/db/password');
    expect(secret!.revealText()).toBe('hunter2');
    expect(secret!.provider).toBe('go-alpha'); // §6.4 step 5: overwritten with the registered name
    expect(secret!.version).toBe('sv3');
    expect(secret!.metadata).toEqual({
      owner: 'go',
      'rotated-by': 'ops@example.com',
      requested: 'go/db/password',
    });
    expect(secret!.createdAt?.toISOString()).toBe('2024-05-06T07:08:09.123Z');
    expect(secret!.expiresAt?.toISOString()).toBe('2030-01-02T03:04:05.000Z');
    // The plugin sent resolved_at as the Go zero time: the engine fills in "now" (§4.4).
    expect(secret!.resolvedAt!.getTime()).toBeGreaterThanOrEqual(before - 1_000);
    expect(secret!.resolvedAt!.getTime()).toBeLessThanOrEqual(Date.now() + 1_000);
    await expect(client.getSecrets('go/missing')).rejects.toBeInstanceOf(NotFoundError);

    // --- resolves for a raw Connect client, bytes exact (§4.4) ---
    const resolver = createConnectClient(resolverv1.ResolverService, transport);
    const all = await resolver.getSecrets({ pattern: '**' });
    expect(all.envelopes.map((e) => e.id)).toEqual(['go/db/password', 'go/bin/blob']);
    const [password, blob] = all.envelopes;
    // The engine asked the plugin for the narrowed pattern (§6.4 step 3).
    expect(password!.metadata.requested).toBe('go/**');
    // Nanoseconds survive the engine: 2024-05-06T07:08:09.123456789Z.
    expect(password!.createdAt).toMatchObject({
      seconds: BigInt(Date.parse('2024-05-06T07:08:09Z') / 1000),
      nanos: 123_456_789,
    });
    expect(blob!.value).toEqual(BLOB);
    expect(blob!.provider).toBe('go-alpha');
    expect(blob!.createdAt).toMatchObject({ seconds: GO_ZERO_SECONDS, nanos: 0 });
    expect(blob!.expiresAt).toMatchObject({ seconds: GO_ZERO_SECONDS, nanos: 0 });
    expect(blob!.resolvedAt!.seconds).toBeGreaterThan(0n);
    // §6.4 step 7: not found when every plugin asked answered without a match.
    for (const pattern of ['go/missing', 'other/**']) {
      const err = await resolver.getSecrets({ pattern }).catch((e: unknown) => ConnectError.from(e));
      expect(err).toBeInstanceOf(ConnectError);
      expect((err as ConnectError).code, pattern).toBe(Code.NotFound);
      expect((err as ConnectError).rawMessage).toBe('secret not found');
    }
    // A plugin error with nothing found is a failure naming the plugin, never "not found" (issue 11).
    const boom = await resolver
      .getSecrets({ pattern: 'go/boom' })
      .catch((e: unknown) => ConnectError.from(e));
    expect((boom as ConnectError).code).toBe(Code.Unavailable);
    expect((boom as ConnectError).rawMessage).toMatch(/plugin "go-alpha" failed/);
    expect(t.logs.some((l) => l.includes('plugin failed') && l.includes('boom'))).toBe(true);
    if (peer.tier === 'go-stack') {
      // The engine accepts gzip, so connect-go compressed every response it decoded above (§2.3).
      expect(t.logs.filter((l) => l.includes('GetSecrets go/')).length).toBeGreaterThanOrEqual(5);
      expect(
        t.logs.filter((l) => l.includes('GetSecrets go/') && !l.includes('accept-encoding=gzip')),
      ).toEqual([]);
    }

    // --- kill -9: restarted, and resolves again (§7.3) ---
    process.kill(pid, 'SIGKILL');
    const restarted = await waitFor(
      'the plugin to be restarted',
      () => {
        const p = engine.listPlugins()[0];
        return p?.status === 'running' && p.pid !== undefined && p.pid !== pid ? p : undefined;
      },
      { timeoutMs: 15_000 },
    );
    expect(restarted.restarts).toBe(1);
    expect(isAlive(pid)).toBe(false);
    expect(t.exitMarker(pid)).toBeUndefined(); // killed, not exited by itself
    const again = await client.getSecrets('go/db/password');
    expect(again.map((e) => e.revealText())).toEqual(['hunter2']);

    // --- engine close: the Shutdown RPC on the plugin's own schema; it exits 0 by itself ---
    await engine.close();
    expect(isAlive(restarted.pid!)).toBe(false);
    expect(t.exitMarker(restarted.pid!)).toBe(`0 ${peer.shutdownReason}`);
    expect(t.logs.filter((l) => /did not exit|did not shut down|killing it/.test(l))).toEqual([]);
    // hashicorp logged nothing about our frames (it logs e.g. "frame for missing stream" for a late
    // window update; Docker's SDK does so at error level, §2.2).
    expect(goYamuxLines(t.logs)).toEqual([]);
  });

  it('a 600 KiB secret, alone and 8 times in parallel, crosses Go → engine → client intact', async () => {
    const big = Buffer.alloc(600 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) & 0xff;
    const file = join(t.dir, 'secrets.json');
    writeFileSync(file, JSON.stringify([{ id: 'go/big', value: big.toString('base64') }, ...GO_SECRETS]));
    t.addPlugin('go-alpha', goBinary(peer.binary));
    const engine = t.engine({ pluginEnv: pluginEnv(peer, t.pidDir, { INTEROP_SECRETS_FILE: file }) });
    await engine.start();
    using client = createClient({ socketPath: t.socketPath, timeoutMs: 20_000 });
    const [one] = await client.getSecrets('go/big');
    expect(Buffer.from(one!.revealValue()).equals(big)).toBe(true);
    const many = await Promise.all(Array.from({ length: 8 }, () => client.getSecrets('go/**')));
    for (const res of many) {
      expect(res.map((e) => e.id)).toEqual(['go/big', 'go/db/password', 'go/bin/blob']);
      expect(Buffer.from(res[0]!.revealValue()).equals(big)).toBe(true);
    }
    await engine.close();
    expect(goYamuxLines(t.logs)).toEqual([]);
  });

  it('three launched in parallel each register under their launch name; fan-out in name order', async () => {
    // Several Go plugins in parallel: each adopts its own fd 3 and registers with its launch name.
    for (const name of ['go-a', 'go-b', 'go-c']) t.addPlugin(name, goBinary(peer.binary));
    const engine = t.engine({
      pluginEnv: pluginEnv(peer, t.pidDir, { INTEROP_PATTERN: 'go/**' }),
    });
    await engine.start();
    expect(engine.listPlugins().map((p) => [p.name, p.status])).toEqual([
      ['go-a', 'running'],
      ['go-b', 'running'],
      ['go-c', 'running'],
    ]);
    using client = createClient({ socketPath: t.socketPath, timeoutMs: 10_000 });
    // Fan-out in plugin-name order, results concatenated, not de-duplicated (§6.4 steps 2 and 6).
    const res = await client.getSecrets('go/db/password');
    expect(res.map((e) => e.provider)).toEqual(['go-a', 'go-b', 'go-c']);
    const pids = engine.listPlugins().map((p) => p.pid!);
    await engine.close();
    for (const pid of pids) expect(t.exitMarker(pid)).toBe(`0 ${peer.shutdownReason}`);
  });
});

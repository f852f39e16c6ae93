// Scenario 1: a plugin written with our SDK, launched from a plugins folder (protocol.md §1.1–§1.3,
// §5.1), resolves a secret for a raw Connect client on the engine socket (§4.1, §6.4), with the
// timestamps Go clients expect (§4.4).
import { request } from 'node:http';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { pluginsv1, resolverv1 } from '@secrets-engine/proto';
import { describe, expect, it } from 'vitest';
import {
  engineClients,
  engineTransport,
  GO_ZERO_SECONDS,
  isAlive,
  listByName,
  useE2E,
} from './support/e2e.js';

/** A Connect unary call in JSON with nothing but node:http on the Unix socket. */
function postJson(
  socketPath: string,
  path: string,
  body: unknown,
): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath,
        path,
        method: 'POST',
        headers: { 'content-type': 'application/json', host: 'localhost' },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          text += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

describe('a launched SDK plugin resolves for a raw Connect client', () => {
  const e2e = useE2E();

  it.each([
    ['binary', true],
    ['JSON', false],
  ])('over the engine socket (%s codec)', async (_codec, binary) => {
    e2e.addPlugin('alpha');
    const engine = e2e.engine();
    await engine.start();
    const clients = engineClients(e2e.socketPath, binary);

    // §4.2: listed over the socket as running, external (launched, not builtin), configurable.
    const alpha = (await listByName(clients)).get('alpha');
    expect(alpha).toMatchObject({
      name: 'alpha',
      version: 'v1.2.3',
      disabled: false,
      external: true,
      configurable: true,
      runStatus: pluginsv1.RunStatus.RUNNING,
      statusMessage: '',
      metadata: { case: 'secretsProvider', value: { pattern: 'alpha/**' } },
    });
    const pid = engine.listPlugins()[0]!.pid!;
    expect(isAlive(pid)).toBe(true);
    expect(e2e.recordedPids()).toEqual([pid]);

    const before = Date.now();
    const res = await clients.resolver.getSecrets({ pattern: 'alpha/db/password' });
    const after = Date.now();
    expect(res.envelopes).toHaveLength(1);
    const env = res.envelopes[0]!;
    expect(env.id).toBe('alpha/db/password');
    expect(new TextDecoder().decode(env.value)).toBe('secret-for-alpha/db/password');
    // §6.4 step 5: the engine writes the registered name as provider; version and metadata pass.
    expect(env.provider).toBe('alpha');
    expect(env.version).toBe('sv1');
    expect(env.metadata).toEqual({ pid: String(pid), mode: 'ok' });
    // §4.4: created_at set by the plugin passes through; resolved_at (Go zero from the SDK) is
    // filled with "now" by the engine; expires_at unset travels as the Go zero time, not absent.
    expect(env.createdAt).toMatchObject({ seconds: BigInt(Date.parse('2024-01-02T03:04:05Z') / 1000) });
    expect(env.createdAt!.nanos).toBe(678_000_000);
    const resolvedMs = Number(env.resolvedAt!.seconds) * 1000 + Math.floor(env.resolvedAt!.nanos / 1e6);
    expect(resolvedMs).toBeGreaterThanOrEqual(before - 1000);
    expect(resolvedMs).toBeLessThanOrEqual(after + 1000);
    expect(env.expiresAt).toBeDefined();
    expect(env.expiresAt).toMatchObject({ seconds: GO_ZERO_SECONDS, nanos: 0 });

    // A wildcard request is narrowed to the plugin's pattern (§6.4 step 3).
    const all = await clients.resolver.getSecrets({ pattern: '**' });
    expect(all.envelopes.map((e) => e.id)).toEqual(['alpha/x']);

    // §6.4 step 7: nothing found is not_found "secret not found"; a bad pattern is invalid_argument.
    const missing = await clients.resolver
      .getSecrets({ pattern: 'alpha/missing' })
      .catch((e: unknown) => ConnectError.from(e));
    expect(missing).toBeInstanceOf(ConnectError);
    expect((missing as ConnectError).code).toBe(Code.NotFound);
    expect((missing as ConnectError).rawMessage).toBe('secret not found');
    const outside = await clients.resolver
      .getSecrets({ pattern: 'other/**' })
      .catch((e: unknown) => ConnectError.from(e));
    expect((outside as ConnectError).code).toBe(Code.NotFound);
    const bad = await clients.resolver
      .getSecrets({ pattern: 'a*b' })
      .catch((e: unknown) => ConnectError.from(e));
    expect((bad as ConnectError).code).toBe(Code.InvalidArgument);

    await engine.close();
    expect(isAlive(pid)).toBe(false);
  });

  it('on the wire: JSON as Go writes it, and the OLD ListService', async () => {
    e2e.addPlugin('alpha');
    const engine = e2e.engine();
    await engine.start();
    const { status, json } = await postJson(e2e.socketPath, '/resolver.v1.ResolverService/GetSecrets', {
      pattern: 'alpha/k',
    });
    expect(status).toBe(200);
    const [env] = (json as { envelopes: Record<string, unknown>[] }).envelopes;
    // §4.4: unset times are the Go zero time on the wire, never omitted; resolved_at is filled.
    expect(env).toMatchObject({
      id: 'alpha/k',
      value: Buffer.from('secret-for-alpha/k').toString('base64'),
      provider: 'alpha',
      version: 'sv1',
      createdAt: '2024-01-02T03:04:05.678Z',
      expiresAt: '0001-01-01T00:00:00Z',
    });
    expect(env!.resolvedAt).toMatch(/^20\d\d-/);

    // §4.1, §7.6: OLD clients see the launched plugin as external.
    const old = await createClient(resolverv1.ListService, engineTransport(e2e.socketPath)).listPlugins({});
    expect(old.plugins.map((p) => ({ ...p }))).toEqual([
      expect.objectContaining({ name: 'alpha', version: 'v1.2.3', pattern: 'alpha/**', external: true }),
    ]);
  });
});

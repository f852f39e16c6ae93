// The plugin side of the decode bounds and size limits (issue 12 items 3 and 7): whatever is on the
// other end of the plugin's socket (an engine, or whoever took its socket), a provider's GetSecrets
// takes requests of at most SMALL_REQUEST_MAX_BYTES and patterns within the limits, and its
// handler is never called with anything else. A real plugin on a real socket, through /hijack.
import { create } from '@bufbuild/protobuf';
import { WireType } from '@bufbuild/protobuf/wire';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createSessionTransport } from '@secrets-engine/ipc';
import { SMALL_REQUEST_MAX_BYTES } from '@secrets-engine/ipc/internal';
import { resolverv1 } from '@secrets-engine/proto';
import { describe, expect, it } from 'vitest';
import { startHijackEngine } from './__tests__/engine.js';
import { createPlugin } from './index.js';

async function failure(promise: Promise<unknown>): Promise<ConnectError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConnectError);
  return err as ConnectError;
}

async function start() {
  const engine = await startHijackEngine();
  const calls: string[] = [];
  const plugin = createPlugin({
    name: 'bounded',
    version: 'v1.0.0',
    pattern: '**',
    getSecrets: (pattern) => {
      calls.push(pattern);
      return [{ id: 'a', value: 'v' }];
    },
    env: { SECRETS_ENGINE_SOCKET: engine.socketPath },
  });
  const serving = plugin.serve({ handleSignals: false });
  serving.catch(() => {});
  const connection = await engine.nextConnection();
  await connection.registration;
  return {
    connection,
    calls,
    async [Symbol.asyncDispose]() {
      await plugin.close();
      await engine.close();
    },
  };
}

describe("a provider plugin's GetSecrets is bounded", () => {
  it('an 8 MB request is resource_exhausted naming the limit; the handler is not called and the plugin still answers', async () => {
    await using t = await start();
    const request = create(resolverv1.GetSecretsRequestSchema, { pattern: 'a' });
    const len = Buffer.from([0x80, 0x80, 0x80, 0x04]); // varint 8 MiB
    request.$unknown = [
      { no: 15, wireType: WireType.LengthDelimited, data: Buffer.concat([len, Buffer.alloc(8 << 20)]) },
    ];
    const resolver = createClient(resolverv1.ResolverService, createSessionTransport(t.connection.session));
    const err = await failure(resolver.getSecrets(request));
    expect(err.code).toBe(Code.ResourceExhausted);
    expect(err.rawMessage).toContain(`readMaxBytes ${SMALL_REQUEST_MAX_BYTES}`);
    expect(t.calls).toEqual([]);
    expect((await t.connection.resolver.getSecrets({ pattern: 'a' })).envelopes.map((e) => e.id)).toEqual([
      'a',
    ]);
  });

  it('unknown fields within the limit are skipped and the call answered', async () => {
    await using t = await start();
    const request = create(resolverv1.GetSecretsRequestSchema, { pattern: 'a' });
    request.$unknown = [{ no: 15, wireType: WireType.Varint, data: new Uint8Array([1]) }];
    const res = await t.connection.resolver.getSecrets(request);
    expect(res.envelopes.map((e) => e.id)).toEqual(['a']);
    expect(t.calls).toEqual(['a']);
  });

  it.each([
    [
      '65 components',
      Array.from({ length: 65 }, () => 'a').join('/'),
      'the pattern has 65 components; at most 64 are allowed',
    ],
    ['2,000 characters', 'x'.repeat(2000), 'the pattern is 2000 characters long; at most 1024 are allowed'],
  ])(
    'a pattern of %s is invalid_argument naming the limit; the handler is not called',
    async (_what, pattern, reason) => {
      await using t = await start();
      const err = await failure(t.connection.resolver.getSecrets({ pattern }));
      expect(err.code).toBe(Code.InvalidArgument);
      expect(err.rawMessage.endsWith(`: ${reason}`)).toBe(true);
      expect(err.rawMessage.length).toBeLessThan(200);
      expect(t.calls).toEqual([]);
    },
  );

  it('a 60,000-component pattern is refused (over the request limit) without reaching the handler', async () => {
    await using t = await start();
    const pattern = Array.from({ length: 60_000 }, () => 'a').join('/');
    const err = await failure(t.connection.resolver.getSecrets({ pattern }));
    expect(err.code).toBe(Code.ResourceExhausted);
    expect(t.calls).toEqual([]);
  });
});

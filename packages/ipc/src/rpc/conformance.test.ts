// The lean unary client and handler are wire-identical to connect-node's stock ones: every
// combination of {lean, stock} client × {lean, stock} server behaves the same (decisions.md "connect-perf §5"
// "correctness spot check"; protocol.md §2.3 for gzip and errors).
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient, type Interceptor } from '@connectrpc/connect';
import { resolverv1 } from '@secrets-engine/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { delay, socketPair } from '../__tests__/helpers.js';
import { createMuxSession, type MuxSession } from '../mux/session.js';
import { createSessionTransport, serveConnect } from './connect.js';

const combos = [
  { client: 'lean', server: 'lean' },
  { client: 'lean', server: 'stock' },
  { client: 'stock', server: 'lean' },
  { client: 'stock', server: 'stock' },
] as const;

let seenTimeout: number | undefined;
const serverSawHeader: string[] = [];

describe.each(combos)('client $client → server $server', ({ client, server }) => {
  let plugin: MuxSession;
  let engine: MuxSession;
  let calls: ReturnType<typeof createClient<typeof resolverv1.ResolverService>>;
  const seen: string[] = [];
  const tag: Interceptor = (next) => async (req) => {
    req.header.set('x-intercepted', 'yes');
    return next(req);
  };
  const serverTap: Interceptor = (next) => async (req) => {
    seen.push(req.method.name);
    return next(req);
  };

  beforeAll(async () => {
    const [a, b] = await socketPair();
    plugin = createMuxSession(a, { role: 'client' });
    engine = createMuxSession(b, { role: 'server' });
    serveConnect(plugin, {
      lean: server === 'lean',
      interceptors: [serverTap],
      routes: (router) =>
        router.service(resolverv1.ResolverService, {
          async getSecrets(req, ctx) {
            serverSawHeader.push(ctx.requestHeader.get('x-intercepted') ?? 'missing');
            switch (req.pattern) {
              case 'ok':
                ctx.responseHeader.set('x-h', 'header-value');
                ctx.responseTrailer.set('x-t', 'trailer-value');
                return { envelopes: [{ id: 'ok', value: new Uint8Array([1, 2, 3]) }] };
              case 'big':
                // 2 MiB of compressible bytes: the stock server gzips it (> 1 KiB), the lean does not.
                return { envelopes: [{ id: 'big', value: new Uint8Array(2 * 1024 * 1024).fill(7) }] };
              case 'not-found':
                throw new ConnectError('secret not found', Code.NotFound, { 'x-meta': 'm' });
              case 'plain-error':
                throw new Error('boom');
              case 'slow':
                seenTimeout = ctx.timeoutMs();
                await new Promise((resolve, reject) => {
                  const t = setTimeout(resolve, 2_000);
                  ctx.signal.addEventListener('abort', () => {
                    clearTimeout(t);
                    reject(ctx.signal.reason);
                  });
                });
                return {};
              default:
                return create(resolverv1.GetSecretsResponseSchema, { envelopes: [{ id: req.pattern }] });
            }
          },
        }),
    });
    calls = createClient(
      resolverv1.ResolverService,
      createSessionTransport(engine, { lean: client === 'lean', interceptors: [tag] }),
    );
  });

  afterAll(async () => {
    await Promise.all([plugin.close({ timeoutMs: 200 }), engine.close({ timeoutMs: 200 })]);
  });

  it('success with headers, trailers and interceptors on both sides', async () => {
    let header: Headers | undefined;
    let trailer: Headers | undefined;
    const res = await calls.getSecrets(
      { pattern: 'ok' },
      { onHeader: (h) => (header = h), onTrailer: (t) => (trailer = t) },
    );
    expect(res.envelopes[0]?.id).toBe('ok');
    expect([...(res.envelopes[0]?.value ?? [])]).toEqual([1, 2, 3]);
    expect(header?.get('x-h')).toBe('header-value');
    expect(trailer?.get('x-t')).toBe('trailer-value');
    expect(serverSawHeader.at(-1)).toBe('yes');
    expect(seen).toContain('GetSecrets');
  });

  it('a 2 MiB response (gzip from the stock server) arrives intact', async () => {
    const res = await calls.getSecrets({ pattern: 'big' });
    const value = res.envelopes[0]?.value ?? new Uint8Array();
    expect(value.length).toBe(2 * 1024 * 1024);
    expect(value.every((b) => b === 7)).toBe(true);
  });

  it('a ConnectError keeps code, message and metadata', async () => {
    const err = (await calls.getSecrets({ pattern: 'not-found' }).catch((e: unknown) => e)) as ConnectError;
    expect(err).toBeInstanceOf(ConnectError);
    expect(err.code).toBe(Code.NotFound);
    expect(err.rawMessage).toBe('secret not found');
    expect(err.metadata.get('x-meta')).toBe('m');
  });

  it('a plain thrown Error becomes internal without its message, as connect-node does', async () => {
    const err = (await calls.getSecrets({ pattern: 'plain-error' }).catch((e: unknown) => e)) as ConnectError;
    expect(err.code).toBe(Code.Internal);
    expect(err.rawMessage).toBe('internal error');
  });

  it('a deadline gives deadline_exceeded, the server sees it, and the session stays usable', async () => {
    const err = (await calls
      .getSecrets({ pattern: 'slow' }, { timeoutMs: 150 })
      .catch((e: unknown) => e)) as ConnectError;
    expect(err.code).toBe(Code.DeadlineExceeded);
    expect(seenTimeout).toBeGreaterThan(0);
    expect(seenTimeout).toBeLessThanOrEqual(150);
    const res = await calls.getSecrets({ pattern: 'after' });
    expect(res.envelopes[0]?.id).toBe('after');
  });

  it('an aborted signal gives canceled and the session stays usable', async () => {
    const ac = new AbortController();
    const p = calls.getSecrets({ pattern: 'slow' }, { signal: ac.signal });
    await delay(30);
    ac.abort();
    const err = (await p.catch((e: unknown) => e)) as ConnectError;
    expect(err.code).toBe(Code.Canceled);
    const res = await calls.getSecrets({ pattern: 'again' });
    expect(res.envelopes[0]?.id).toBe('again');
  });
});

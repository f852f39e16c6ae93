// Connect in both directions over one yamux session (protocol.md §2.3, §8.2 x/ipc list).
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { pluginsv1, resolverv1 } from '@secrets-engine/proto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { socketPair } from '../__tests__/helpers.js';
import { createMuxSession, type MuxSession } from '../mux/session.js';
import { createSessionTransport, serveConnect } from './connect.js';
import { requestHeaderValue } from './unary-handler.js';

const sessions: MuxSession[] = [];
afterEach(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.close({ timeoutMs: 100 })));
});

async function pair() {
  const [a, b] = await socketPair();
  const plugin = createMuxSession(a, { role: 'client' });
  const engine = createMuxSession(b, { role: 'server' });
  sessions.push(plugin, engine);
  return { plugin, engine };
}

describe('Connect over yamux (protocol.md §2.3)', () => {
  it('requestHeaderValue reads a request header as Headers.get would, repeated and mixed-case names included', async () => {
    const { plugin, engine } = await pair();
    const seen: Array<[string | null, string | null]> = [];
    serveConnect(plugin, {
      routes: (router) =>
        router.service(resolverv1.ResolverService, {
          getSecrets: (req, ctx) => {
            const lazy = requestHeaderValue(ctx, 'x-multi');
            seen.push([lazy, ctx.requestHeader.get('x-multi')]);
            seen.push([requestHeaderValue(ctx, 'x-absent'), ctx.requestHeader.get('x-absent')]);
            return { envelopes: [{ id: req.pattern, value: new Uint8Array([1]) }] };
          },
        }),
    });
    const client = createClient(
      resolverv1.ResolverService,
      createSessionTransport(engine, {
        interceptors: [
          (next) => (req) => {
            req.header.append('X-Multi', 'one');
            req.header.append('x-multi', ' two ');
            return next(req);
          },
        ],
      }),
    );
    await client.getSecrets({ pattern: 'a/b' });
    expect(seen).toEqual([
      ['one, two', 'one, two'],
      [null, null],
    ]);
  });

  it('a lean call nobody gives or reads headers makes no Headers object on either side (issue 14)', async () => {
    const { plugin, engine } = await pair();
    serveConnect(plugin, {
      routes: (router) =>
        router.service(resolverv1.ResolverService, {
          getSecrets: (req) => ({ envelopes: [{ id: req.pattern, value: new Uint8Array([1]) }] }),
        }),
    });
    const client = createClient(resolverv1.ResolverService, createSessionTransport(engine));
    await client.getSecrets({ pattern: 'warm/up' }); // loads undici and connect's lazy parts
    const made: unknown[] = [];
    const RealHeaders = globalThis.Headers;
    vi.stubGlobal(
      'Headers',
      class CountedHeaders extends RealHeaders {
        constructor(init?: ConstructorParameters<typeof Headers>[0]) {
          super(init);
          made.push(init);
        }
      },
    );
    try {
      const res = await client.getSecrets({ pattern: 'a/b' });
      expect(res.envelopes[0]?.id).toBe('a/b');
      expect(made).toEqual([]);
      // Headers are still there for whoever asks: onHeader reads the response's.
      let contentType: string | null = null;
      await client.getSecrets({ pattern: 'c/d' }, { onHeader: (h) => (contentType = h.get('content-type')) });
      expect(contentType).toBe('application/proto');
      expect(made.length).toBeGreaterThan(0);
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it('ping-pong in both directions, two calls each way, on one socket', async () => {
    const { plugin, engine } = await pair();
    const registered: string[] = [];
    serveConnect(engine, {
      routes: (router) =>
        router.service(pluginsv1.RegisterService, {
          registerPlugin(req) {
            registered.push(req.name);
            return { engineName: 'test-engine', engineVersion: 'v1.0.0', requestTimeout: {} };
          },
        }),
    });
    serveConnect(plugin, {
      routes: (router) =>
        router.service(resolverv1.ResolverService, {
          getSecrets(req) {
            return {
              envelopes: [{ id: req.pattern, value: new TextEncoder().encode(`value-of-${req.pattern}`) }],
            };
          },
        }),
    });
    const toEngine = createClient(pluginsv1.RegisterService, createSessionTransport(plugin));
    const toPlugin = createClient(resolverv1.ResolverService, createSessionTransport(engine));
    for (const name of ['one', 'two']) {
      const res = await toEngine.registerPlugin(
        create(pluginsv1.RegisterPluginRequestSchema, {
          name,
          version: 'v1',
          metadata: { case: 'secretsProvider', value: { pattern: '**' } },
        }),
      );
      expect(res.engineName).toBe('test-engine');
    }
    for (const id of ['a/b', 'c/d']) {
      const res = await toPlugin.getSecrets({ pattern: id });
      expect(res.envelopes[0]?.id).toBe(id);
      expect(new TextDecoder().decode(res.envelopes[0]?.value)).toBe(`value-of-${id}`);
    }
    expect(registered).toEqual(['one', 'two']);
  });

  it('errors keep their code and message across the session', async () => {
    const { plugin, engine } = await pair();
    serveConnect(plugin, {
      routes: (router) =>
        router.service(resolverv1.ResolverService, {
          getSecrets() {
            throw new ConnectError('secret not found', Code.NotFound);
          },
        }),
    });
    const client = createClient(resolverv1.ResolverService, createSessionTransport(engine));
    const err = await client.getSecrets({ pattern: 'x' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.NotFound);
    expect((err as ConnectError).rawMessage).toBe('secret not found');
  });

  it('an unknown route is unimplemented; /health answers ok', async () => {
    const { plugin, engine } = await pair();
    serveConnect(plugin, { routes: () => {} });
    const client = createClient(resolverv1.ResolverService, createSessionTransport(engine));
    const err = await client.getSecrets({ pattern: 'x' }).catch((e: unknown) => e);
    expect((err as ConnectError).code).toBe(Code.Unimplemented);
    const { request } = await import('node:http');
    const body = await new Promise<string>((resolve, reject) => {
      const req = request(
        { createConnection: () => engine.open() as never, path: '/health', host: 'unix' },
        (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => resolve(`${res.statusCode} ${text}`));
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(body).toBe('200 ok');
  });

  it('a call on a closed session fails at once with unavailable', async () => {
    const { plugin, engine } = await pair();
    serveConnect(plugin, { routes: () => {} });
    await engine.close();
    const client = createClient(resolverv1.ResolverService, createSessionTransport(engine));
    const err = await client.getSecrets({ pattern: 'x' }).catch((e: unknown) => e);
    expect((err as ConnectError).code).toBe(Code.Unavailable);
  });
});

describe('HTTP client streams (allowHalfOpen: false)', () => {
  it('a stream opened for an HTTP client closes when the peer ends it, so keep-alive pools drop it', async () => {
    const { plugin, engine } = await pair();
    plugin.onStream((s) => {
      s.on('error', () => {});
      s.resume();
      s.end();
    });
    const stream = engine.open({ allowHalfOpen: false });
    stream.resume();
    await new Promise<void>((resolve) => stream.once('close', () => resolve()));
    expect(stream.destroyed).toBe(true);
    const halfOpen = engine.open();
    halfOpen.resume();
    await new Promise<void>((resolve) => halfOpen.once('end', () => resolve()));
    // The default keeps yamux half-close semantics: still writable after the peer's FIN.
    expect(halfOpen.writable).toBe(true);
    halfOpen.end();
  });
});

describe('per-service options (issue 10 point 3)', () => {
  it('a service registered with its own interceptors stays on the stock path, which runs them', async () => {
    const { plugin, engine } = await pair();
    const seen: string[] = [];
    serveConnect(plugin, {
      routes: (router) =>
        router.service(
          resolverv1.ResolverService,
          { getSecrets: (req) => ({ envelopes: [{ id: req.pattern, value: new Uint8Array([1]) }] }) },
          {
            interceptors: [
              (next) => async (req) => {
                seen.push(req.method.name);
                return next(req);
              },
            ],
          },
        ),
    });
    const toPlugin = createClient(resolverv1.ResolverService, createSessionTransport(engine));
    const res = await toPlugin.getSecrets({ pattern: 'a/b' });
    expect(res.envelopes[0]?.id).toBe('a/b');
    expect(seen).toEqual(['GetSecrets']);
  });

  it('a service registered with its own readMaxBytes is held to it', async () => {
    const { plugin, engine } = await pair();
    serveConnect(plugin, {
      routes: (router) =>
        router.service(
          resolverv1.ResolverService,
          { getSecrets: () => ({ envelopes: [] }) },
          { readMaxBytes: 8 },
        ),
    });
    const toPlugin = createClient(resolverv1.ResolverService, createSessionTransport(engine));
    const err = await toPlugin.getSecrets({ pattern: 'a-pattern-longer-than-eight-bytes' }).catch((e) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.ResourceExhausted);
  });
});

describe('contextValues (the caller of an engine-socket call)', () => {
  it('a handler reads the values made from its request, on the lean and the stock path', async () => {
    const { createContextKey, createContextValues } = await import('@connectrpc/connect');
    const { createServer } = await import('node:http');
    const { createConnectTransport } = await import('@connectrpc/connect-node');
    const { createConnectHandler } = await import('./connect.js');
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const caller = createContextKey<string>('nobody');
    for (const lean of [true, false]) {
      const handler = createConnectHandler({
        lean,
        routes: (router) =>
          router.service(resolverv1.ResolverService, {
            getSecrets: (req, ctx) => ({
              envelopes: [{ id: req.pattern, value: new TextEncoder().encode(ctx.values.get(caller)) }],
            }),
          }),
        contextValues: (req) => createContextValues().set(caller, `peer-of-${typeof req.socket.remotePort}`),
      });
      const dir = mkdtempSync(join(tmpdir(), 'se-ctx-'));
      const server = createServer(handler);
      const path = join(dir, 's.sock');
      await new Promise<void>((r) => server.listen(path, r));
      try {
        const client = createClient(
          resolverv1.ResolverService,
          createConnectTransport({
            httpVersion: '1.1',
            baseUrl: 'http://unix',
            nodeOptions: { socketPath: path },
          }),
        );
        const res = await client.getSecrets({ pattern: 'a/b' });
        expect(new TextDecoder().decode(res.envelopes[0]?.value)).toBe('peer-of-undefined');
      } finally {
        await new Promise<void>((r) => server.close(() => r()));
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });
});

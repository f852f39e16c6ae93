// The lean unary client over net.Sockets (createSocketTransport): one connection per call, the
// same request bytes as the yamux path, gzip responses, the raw header lookup, and failures that
// keep their cause (what the client package maps to its errors). Real Unix sockets.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { createConnection, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { create, toBinary } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { resolverv1 } from '@secrets-engine/proto';
import { afterEach, describe, expect, it } from 'vitest';
import { createSocketTransport } from './socket-transport.js';
import { RESPONSE_HEADER_VALUE } from './unary-client.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

function tempSocket(): string {
  const dir = mkdtempSync(join(tmpdir(), 'se-ipc-socket-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 's.sock');
}

const RESPONSE = toBinary(
  resolverv1.GetSecretsResponseSchema,
  create(resolverv1.GetSecretsResponseSchema, {
    envelopes: [{ id: 'app/a', provider: 'p', version: 'v1', value: new TextEncoder().encode('x') }],
  }),
);

/** A plain HTTP/1.1 server answering every request with `headers` and `body`; counts connections. */
async function server(
  path: string,
  headers: [string, string][],
  body: Uint8Array,
): Promise<{ connections: () => number; requests: IncomingHttpHeaders[] }> {
  let connections = 0;
  const requests: IncomingHttpHeaders[] = [];
  const s = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests.push(req.headers);
      res.writeHead(200, [...headers, ['content-length', String(body.length)]].flat());
      res.end(body);
    });
  });
  s.on('connection', () => connections++);
  await new Promise<void>((resolve) => s.listen(path, resolve));
  cleanup.push(() => {
    s.closeAllConnections();
    return new Promise<void>((resolve) => s.close(() => resolve()));
  });
  return { connections: () => connections, requests };
}

const getSecrets = resolverv1.ResolverService.method.getSecrets;

describe('createSocketTransport', () => {
  it('one connection per call, Connection: close, a gzip response decoded', async () => {
    const path = tempSocket();
    const srv = await server(
      path,
      [
        ['content-type', 'application/proto'],
        ['content-encoding', 'gzip'],
      ],
      gzipSync(RESPONSE),
    );
    const client = createClient(
      resolverv1.ResolverService,
      createSocketTransport(() => createConnection({ path })),
    );
    for (let i = 0; i < 2; i++) {
      const res = await client.getSecrets({ pattern: 'app/**' });
      expect(res.envelopes.map((e) => e.id)).toEqual(['app/a']);
    }
    expect(srv.connections()).toBe(2);
    expect(srv.requests[0]).toMatchObject({ connection: 'close', 'accept-encoding': 'gzip', host: 'unix' });
  });

  it('RESPONSE_HEADER_VALUE answers as header.get, without trailers, values joined as Headers joins them', async () => {
    const path = tempSocket();
    await server(
      path,
      [
        ['content-type', 'application/proto'],
        ['secrets-engine-failed-plugins', '[1]'],
        ['x-twice', 'a'],
        ['x-twice', 'b'],
        ['trailer-x-t', 'tv'],
      ],
      RESPONSE,
    );
    const transport = createSocketTransport(() => createConnection({ path }));
    const res = await transport.unary(getSecrets, undefined, undefined, undefined, { pattern: 'app/**' });
    const lookup = (res as unknown as Record<symbol, (name: string) => string | null>)[
      RESPONSE_HEADER_VALUE
    ]!;
    expect(RESPONSE_HEADER_VALUE).toBe(Symbol.for('@secrets-engine/ipc.responseHeaderValue'));
    for (const name of ['Secrets-Engine-Failed-Plugins', 'x-twice', 'trailer-x-t', 'x-t', 'absent']) {
      expect([name, lookup(name)]).toEqual([name, res.header.get(name)]);
    }
    expect(lookup('x-twice')).toBe('a, b');
    expect(res.trailer.get('x-t')).toBe('tv');
  });

  it('what the opener throws fails the call as unavailable, with it as the cause', async () => {
    const refusal = Object.assign(new Error('connect ENOENT /x (/x does not exist)'), { code: 'ENOENT' });
    const transport = createSocketTransport(() => {
      throw refusal;
    });
    const err = await transport
      .unary(getSecrets, undefined, undefined, undefined, { pattern: 'a' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.Unavailable);
    expect((err as ConnectError).cause).toBe(refusal);
  });

  it('a dial error is unavailable with the socket error (code, syscall) as the cause', async () => {
    const path = tempSocket();
    const transport = createSocketTransport(() => createConnection({ path }));
    const err = await transport
      .unary(getSecrets, undefined, undefined, undefined, { pattern: 'a' })
      .catch((e: unknown) => e);
    expect((err as ConnectError).code).toBe(Code.Unavailable);
    expect((err as ConnectError).cause).toMatchObject({ code: 'ENOENT', syscall: 'connect' });
  });

  it('a connection that ends inside the response: unavailable, cause coded ERR_STREAM_PREMATURE_CLOSE', async () => {
    const path = tempSocket();
    const s = createNetServer((c) => {
      c.once('data', () =>
        c.end('HTTP/1.1 200 OK\r\ncontent-type: application/proto\r\ncontent-length: 50\r\n\r\nab'),
      );
    });
    await new Promise<void>((resolve) => s.listen(path, resolve));
    cleanup.push(() => new Promise<void>((resolve) => s.close(() => resolve())));
    const transport = createSocketTransport(() => createConnection({ path }));
    const err = await transport
      .unary(getSecrets, undefined, undefined, undefined, { pattern: 'a' })
      .catch((e: unknown) => e);
    expect((err as ConnectError).code).toBe(Code.Unavailable);
    expect((err as ConnectError).cause).toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
  });

  it('streaming calls are unimplemented', async () => {
    const transport = createSocketTransport(() => {
      throw new Error('never dialled');
    });
    const err = await transport
      .stream(getSecrets as never, undefined, undefined, undefined, (async function* () {})())
      .catch((e: unknown) => e);
    expect((err as ConnectError).code).toBe(Code.Unimplemented);
  });
});

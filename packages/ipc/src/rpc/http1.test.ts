// The lean client's HTTP/1.1 response reader, and the lean client against a peer that answers the
// way Go's net/http + connect-go do: gzip on every response, chunked bodies (protocol.md §2.3).
import { gzipSync } from 'node:zlib';
import { create, toBinary } from '@bufbuild/protobuf';
import { Code, type ConnectError, createClient } from '@connectrpc/connect';
import { resolverv1 } from '@secrets-engine/proto';
import { describe, expect, it } from 'vitest';
import { socketPair } from '../__tests__/helpers.js';
import { createMuxSession } from '../mux/session.js';
import { createSessionTransport } from './connect.js';
import { Http1ResponseParser } from './http1.js';

const feedBytewise = (p: Http1ResponseParser, text: string | Buffer) => {
  const buf = Buffer.isBuffer(text) ? text : Buffer.from(text, 'latin1');
  let out: ReturnType<Http1ResponseParser['push']>;
  for (let i = 0; i < buf.length; i++) out = p.push(buf.subarray(i, i + 1)) ?? out;
  return out;
};

describe('Http1ResponseParser', () => {
  it('reads a Content-Length body, even fed one byte at a time', () => {
    const res = feedBytewise(
      new Http1ResponseParser(1024),
      'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\nX-A: 2\r\n\r\nhello',
    );
    expect(res?.status).toBe(200);
    expect(res?.body.toString()).toBe('hello');
    expect(res?.headers.filter(([k]) => k === 'x-a').map(([, v]) => v)).toEqual(['1', '2']);
  });

  it('reads a chunked body with extensions and trailers', () => {
    const res = feedBytewise(
      new Http1ResponseParser(1024),
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n',
    );
    expect(res?.body.toString()).toBe('abcde');
    expect(res?.headers).toContainEqual(['x-trailer', 't']);
  });

  it('reads until the end of the stream without framing, and skips 1xx responses', () => {
    const p = new Http1ResponseParser(1024);
    expect(
      p.push(Buffer.from('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 404 Not Found\r\n\r\nnot found')),
    ).toBeUndefined();
    const res = p.end();
    expect(res.status).toBe(404);
    expect(res.body.toString()).toBe('not found');
  });

  it('rejects malformed input with a specific error', () => {
    expect(() => new Http1ResponseParser(10).push(Buffer.from('HTTP/2 200\r\n\r\n'))).toThrow(
      /malformed status line/,
    );
    expect(() => new Http1ResponseParser(10).push(Buffer.from('HTTP/1.1 200 OK\r\nbad\r\n\r\n'))).toThrow(
      /malformed header/,
    );
    expect(() =>
      new Http1ResponseParser(10).push(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n')),
    ).toThrow(/invalid content-length/);
    expect(() =>
      new Http1ResponseParser(10).push(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n')),
    ).toThrow(/exceeds the limit/);
    expect(() =>
      new Http1ResponseParser(10).push(
        Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'),
      ),
    ).toThrow(/invalid chunk size/);
    const cut = new Http1ResponseParser(10);
    cut.push(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab'));
    expect(() => cut.end()).toThrow(/ended inside the response body/);
  });

  it('one status-line rule: any HTTP/d.d version, never HTTP/2 or a non-HTTP peer, judged at the first line', () => {
    expect(new Http1ResponseParser(10).push(Buffer.from('HTTP/1.0 204 No Content\r\n\r\n'))?.status).toBe(
      204,
    );
    const go = new Http1ResponseParser({ maxBody: 10, informational: 'return' });
    expect(go.push(Buffer.from('HTTP/0.0 101 Switching Protocols\r\nUpgrade: tcp\r\n\r\n'))?.status).toBe(
      101,
    );
    // No head end yet: the first line alone is enough to refuse an SSH server.
    expect(() => new Http1ResponseParser(10).push(Buffer.from('SSH-2.0-OpenSSH\r\n'))).toThrow(
      /malformed status line "SSH-2.0-OpenSSH"/,
    );
    expect(() => new Http1ResponseParser(10).push(Buffer.from('HTTP/1.1 2000 OK\r\n\r\n'))).toThrow(
      /malformed status line/,
    );
  });

  it("informational 'return': a 101 completes with no body and leaves the next protocol's bytes in rest()", () => {
    const p = new Http1ResponseParser({ maxBody: 10, informational: 'return' });
    const res = p.push(Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: tcp\r\n\r\n\x00\x01yamux'));
    expect(res?.status).toBe(101);
    expect(res?.body.length).toBe(0);
    expect(p.rest().toString('latin1')).toBe('\x00\x01yamux');
    // The default skips interim responses instead.
    const skip = new Http1ResponseParser(10);
    expect(
      skip.push(
        Buffer.from('HTTP/1.1 101 Switching Protocols\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'),
      )?.status,
    ).toBe(200);
  });

  it("overflow 'truncate': a long refusal completes at maxBody, under every framing, and partialBody() has what came", () => {
    const length = new Http1ResponseParser({ maxBody: 4, overflow: 'truncate' });
    expect(
      length
        .push(Buffer.from('HTTP/1.1 403 Forbidden\r\nContent-Length: 100\r\n\r\nforbidden'))
        ?.body.toString(),
    ).toBe('forb');
    const chunked = new Http1ResponseParser({ maxBody: 4, overflow: 'truncate' });
    expect(
      feedBytewise(
        chunked,
        'HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n',
      )?.body.toString(),
    ).toBe('abcd');
    const eof = new Http1ResponseParser({ maxBody: 4, overflow: 'truncate' });
    expect(eof.push(Buffer.from('HTTP/1.1 500 Oops\r\n\r\nab'))).toBeUndefined();
    expect(eof.status).toBe(500);
    expect(eof.partialBody().toString()).toBe('ab');
    expect(eof.push(Buffer.from('cdef'))?.body.toString()).toBe('abcd');
  });

  it('a head larger than maxHead is refused', () => {
    const p = new Http1ResponseParser({ maxBody: 10, maxHead: 64 });
    expect(() => p.push(Buffer.from(`HTTP/1.1 200 OK\r\nX: ${'a'.repeat(100)}`))).toThrow(
      /response head exceeds 64 bytes/,
    );
  });
});

describe('lean client against a Go-style peer (gzip everywhere, chunked)', () => {
  it('decodes a gzip + chunked success and a gzip JSON error', async () => {
    const [a, b] = await socketPair();
    const plugin = createMuxSession(a, { role: 'client' });
    const engine = createMuxSession(b, { role: 'server' });
    const requests: string[] = [];
    plugin.onStream((stream) => {
      let head = '';
      stream.on('data', (chunk: Buffer) => {
        head += chunk.toString('latin1');
        if (!head.includes('\r\n\r\n')) return;
        requests.push(head);
        const pattern = head.includes('\r\n\r\n\n\x07missing') ? 'missing' : 'ok';
        if (pattern === 'missing') {
          const body = gzipSync(Buffer.from('{"code":"not_found","message":"secret not found"}'));
          stream.end(
            Buffer.concat([
              Buffer.from(
                `HTTP/1.1 404 Not Found\r\nContent-Encoding: gzip\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
              ),
              body,
            ]),
          );
          return;
        }
        const msg = create(resolverv1.GetSecretsResponseSchema, {
          envelopes: [{ id: 'foo', value: Buffer.from('bar') }],
        });
        const body = gzipSync(toBinary(resolverv1.GetSecretsResponseSchema, msg));
        const half = Math.floor(body.length / 2);
        stream.end(
          Buffer.concat([
            Buffer.from(
              'HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Type: application/proto\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n',
            ),
            Buffer.from(`${half.toString(16)}\r\n`),
            body.subarray(0, half),
            Buffer.from(`\r\n${(body.length - half).toString(16)}\r\n`),
            body.subarray(half),
            Buffer.from('\r\n0\r\n\r\n'),
          ]),
        );
      });
    });
    const client = createClient(resolverv1.ResolverService, createSessionTransport(engine));
    const res = await client.getSecrets({ pattern: 'foo' });
    expect(res.envelopes[0]?.id).toBe('foo');
    expect(Buffer.from(res.envelopes[0]?.value ?? []).toString()).toBe('bar');
    const err = (await client.getSecrets({ pattern: 'missing' }).catch((e: unknown) => e)) as ConnectError;
    expect(err.code).toBe(Code.NotFound);
    expect(err.rawMessage).toBe('secret not found');
    // What the lean client sends (protocol.md §2.3): Connect unary POST, binary body, Host unix.
    expect(requests[0]).toMatch(/^POST \/resolver\.v1\.ResolverService\/GetSecrets HTTP\/1\.1\r\n/);
    expect(requests[0]).toMatch(/\r\nHost: unix\r\n/);
    expect(requests[0]).toMatch(/\r\nContent-Type: application\/proto\r\n/);
    expect(requests[0]).toMatch(/\r\nConnect-Protocol-Version: 1\r\n/);
    expect(requests[0]).toMatch(/\r\nAccept-Encoding: gzip\r\n/);
    expect(requests[0]).toMatch(/\r\nConnection: close\r\n/);
    await Promise.all([plugin.close({ timeoutMs: 100 }), engine.close({ timeoutMs: 100 })]);
  });
});

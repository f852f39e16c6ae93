// The lean stream server writes what node:http writes, byte for byte (the Date value aside), for
// every request it takes, and hands everything else to node:http from the request's first byte
// (issue 14). The reference is the same router served through node:http on every stream (a
// server given `contextValues` never uses the stream server). Real sockets, real yamux sessions.

import { STATUS_CODES } from 'node:http';
import { gzipSync } from 'node:zlib';
import { Code, ConnectError } from '@connectrpc/connect';
import { codeToHttpStatus } from '@connectrpc/connect/protocol-connect';
import { resolverv1 } from '@secrets-engine/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { socketPair } from '../__tests__/helpers.js';
import { createMuxSession, type MuxSession } from '../mux/session.js';
import { serveConnect } from './connect.js';
import { parseHead, REASON_PHRASES } from './stream-server.js';

const PATH = '/resolver.v1.ResolverService/GetSecrets';
const pb = (pattern: string) => Buffer.concat([Buffer.from([0x0a, pattern.length]), Buffer.from(pattern)]);

function post(body: Buffer, extra = '', contentType = 'application/proto', connection = 'close'): Buffer {
  return Buffer.concat([
    Buffer.from(
      `POST ${PATH} HTTP/1.1\r\nHost: unix\r\nContent-Type: ${contentType}\r\nConnect-Protocol-Version: 1\r\n` +
        `Connection: ${connection}\r\n${extra}Content-Length: ${body.length}\r\n\r\n`,
      'latin1',
    ),
    body,
  ]);
}

const json = Buffer.from('{"pattern":"j"}');
// node:http answers a malformed head by closing the stream (serveConnect's clientError): no bytes.
const UNANSWERED = new Set(['two Content-Length headers', 'a malformed header line', 'not HTTP at all']);
const requests: Array<[string, Buffer | Buffer[]]> = [
  ['a binary unary call', post(pb('ok'))],
  ['a ConnectError with metadata', post(pb('nf'))],
  ['response headers and trailers', post(pb('hdr'))],
  ['a plain Error (internal, message hidden)', post(pb('boom'))],
  ['a JSON call', post(json, '', 'application/json')],
  ['a JSON call with a charset', post(json, '', 'application/json; charset=utf-8')],
  ['a bad Connect-Timeout-Ms', post(pb('ok'), 'Connect-Timeout-Ms: abc\r\n')],
  ['a deadline', post(pb('ok'), 'Connect-Timeout-Ms: 5000\r\n')],
  ['a body that is not protobuf', post(Buffer.from([0xff, 0xff, 0xff]))],
  [
    'a declared length over the limit',
    Buffer.from(
      `POST ${PATH} HTTP/1.1\r\nHost: unix\r\nContent-Type: application/proto\r\nConnection: close\r\nContent-Length: 99999999\r\n\r\n`,
    ),
  ],
  ['head and body in many small writes', [...post(pb('split'))].map((b) => Buffer.from([b]))],
  [
    'no Content-Length (an empty body)',
    Buffer.from(
      `POST ${PATH} HTTP/1.1\r\nHost: unix\r\nContent-Type: application/proto\r\nConnection: close\r\n\r\n`,
    ),
  ],
  // Handed to node:http:
  ['GET /health', Buffer.from('GET /health HTTP/1.1\r\nHost: unix\r\nConnection: close\r\n\r\n')],
  [
    'an unknown route',
    Buffer.from('POST /nope HTTP/1.1\r\nHost: unix\r\nConnection: close\r\nContent-Length: 0\r\n\r\n'),
  ],
  ['a gzip-compressed request', post(gzipSync(pb('gz')), 'Content-Encoding: gzip\r\n')],
  [
    'a chunked request',
    Buffer.from(
      `POST ${PATH} HTTP/1.1\r\nHost: unix\r\nContent-Type: application/proto\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n\x0a\x02ch\r\n0\r\n\r\n`,
      'latin1',
    ),
  ],
  ['an unknown content type', post(pb('ok'), '', 'text/plain')],
  ['two Content-Length headers', post(pb('ok'), 'Content-Length: 4\r\n')],
  ['a malformed header line', post(pb('ok'), 'no colon here\r\n')],
  ['HTTP/1.0', Buffer.from(post(pb('ok')).toString('latin1').replace('HTTP/1.1', 'HTTP/1.0'), 'latin1')],
  ['not HTTP at all', Buffer.from('hello\r\n\r\n')],
];

async function exchange(session: MuxSession, request: Buffer | Buffer[]): Promise<string> {
  const stream = session.open();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  const ended = new Promise<void>((resolve) => {
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', () => resolve());
  });
  for (const part of Array.isArray(request) ? request : [request]) stream.write(part);
  await ended;
  stream.destroy();
  return Buffer.concat(chunks)
    .toString('latin1')
    .replace(/\r\nDate: [^\r]*\r\n/, '\r\nDate: <date>\r\n');
}

describe('the lean stream server against node:http', () => {
  const sessions: MuxSession[] = [];
  let lean: MuxSession;
  let node: MuxSession;

  async function serve(viaNode: boolean): Promise<MuxSession> {
    const [a, b] = await socketPair();
    const server = createMuxSession(a, { role: 'client' });
    const client = createMuxSession(b, { role: 'server' });
    sessions.push(server, client);
    serveConnect(server, {
      ...(viaNode ? { contextValues: () => undefined as never } : {}),
      routes: (router) =>
        router.service(resolverv1.ResolverService, {
          async getSecrets(req, ctx) {
            if (req.pattern === 'nf')
              throw new ConnectError('secret not found', Code.NotFound, { 'x-meta': 'm' });
            if (req.pattern === 'boom') throw new Error('boom');
            if (req.pattern === 'hdr') {
              ctx.responseHeader.append('x-h', 'one');
              ctx.responseHeader.append('x-h', 'two');
              ctx.responseTrailer.set('x-t', 't');
            }
            return { envelopes: [{ id: req.pattern, value: new Uint8Array([1, 2, 3]) }] };
          },
        }),
    });
    return client;
  }

  beforeAll(async () => {
    lean = await serve(false);
    node = await serve(true);
  });

  afterAll(async () => {
    await Promise.all(sessions.map((s) => s.close({ timeoutMs: 200 })));
  });

  it.each(requests)('%s: the same bytes', async (what, request) => {
    const [fromLean, fromNode] = await Promise.all([exchange(lean, request), exchange(node, request)]);
    if (UNANSWERED.has(what)) expect(fromNode).toBe('');
    else expect(fromNode).toMatch(/^HTTP\/1\.1 \d{3} /);
    expect(fromLean).toBe(fromNode);
  });
});

describe('REASON_PHRASES', () => {
  it("is node:http's STATUS_CODES for 200 and every status a Connect code maps to", () => {
    const statuses = [
      200,
      ...Object.values(Code)
        .filter((c): c is Code => typeof c === 'number')
        .map((c) => codeToHttpStatus(c)),
    ];
    for (const status of statuses) expect(REASON_PHRASES[status], String(status)).toBe(STATUS_CODES[status]);
    for (const [status, phrase] of Object.entries(REASON_PHRASES)) expect(STATUS_CODES[status]).toBe(phrase);
  });
});

describe('parseHead', () => {
  it('takes a plain Connect unary head and keeps raw header names and values', () => {
    const head = parseHead(
      `POST ${PATH} HTTP/1.1\r\nHost: unix\r\nX-Two: a\r\nx-two: b\r\nConnection: close`,
    );
    expect(head?.url).toBe(PATH);
    expect(head?.headers.get('x-two')).toBe('a, b');
    expect(head?.rawHeaders).toEqual(['Host', 'unix', 'X-Two', 'a', 'x-two', 'b', 'Connection', 'close']);
  });

  it.each([
    ['keep-alive', `POST ${PATH} HTTP/1.1\r\nHost: unix`],
    ['obsolete line folding', `POST ${PATH} HTTP/1.1\r\nX-A: a\r\n b\r\nConnection: close`],
    ['a control character in a value', `POST ${PATH} HTTP/1.1\r\nX-A: a\x01\r\nConnection: close`],
    ['a signed Content-Length', `POST ${PATH} HTTP/1.1\r\nContent-Length: +1\r\nConnection: close`],
    ['an absolute-form target', `POST http://unix${PATH} HTTP/1.1\r\nConnection: close`],
    ['Expect', `POST ${PATH} HTTP/1.1\r\nExpect: 100-continue\r\nConnection: close`],
    ['Upgrade', `POST ${PATH} HTTP/1.1\r\nUpgrade: h2c\r\nConnection: close`],
  ])('leaves %s to node:http', (_what, text) => {
    expect(parseHead(text)).toBeUndefined();
  });
});

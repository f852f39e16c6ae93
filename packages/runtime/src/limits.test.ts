// Decode bounds and size limits on a real engine socket (issue 12 items 3 and 7): request bodies
// are capped at SMALL_REQUEST_MAX_BYTES on the engine socket and on a plugin connection before it
// registers; IDs, patterns, names and versions are held to the limits at registration and per
// request, before the access policy sees them; a 40 MB secret fetched as JSON does not hold up
// another client.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { type IncomingMessage, request, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { create } from '@bufbuild/protobuf';
import { WireType } from '@bufbuild/protobuf/wire';
import { Code, createClient } from '@connectrpc/connect';
import { createSessionTransport } from '@secrets-engine/ipc';
import { SMALL_REQUEST_MAX_BYTES } from '@secrets-engine/ipc/internal';
import { pluginsv1, resolverv1 } from '@secrets-engine/proto';
import { MAX_ID_COMPONENTS } from '@secrets-engine/secrets';
import { describe, expect, it, onTestFinished } from 'vitest';
import { builtin, connectError, engineClients, joinEngine, startedEngine } from './__tests__/helpers.js';
import type { AuditRecord } from './audit.js';
import { MAX_AUTHORIZE_PATTERNS } from './engine-socket.js';

const GET_SECRETS = '/resolver.v1.ResolverService/GetSecrets';
const MB = 1024 * 1024;

interface Answer {
  status: number;
  json: { code?: string; message?: string; envelopes?: Array<{ id: string; value: string }> };
}

/** One raw HTTP POST on the engine socket; `declare` sends only a head announcing that length. */
function post(
  socketPath: string,
  path: string,
  body: Buffer | string,
  contentType = 'application/json',
  declare?: number,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const data = typeof body === 'string' ? Buffer.from(body) : body;
    const req = request(
      {
        socketPath,
        path,
        method: 'POST',
        agent: false,
        headers: { 'content-type': contentType, 'content-length': String(declare ?? data.length) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          resolve({ status: res.statusCode ?? 0, json: text === '' ? {} : JSON.parse(text) });
          req.destroy();
        });
      },
    );
    req.on('error', reject);
    if (declare !== undefined) req.flushHeaders();
    else req.end(data);
  });
}

/** `size` bytes of GetSecretsRequest field 15 (unknown), varint 0: two bytes per field. */
function unknownFields(size: number): Buffer {
  const buf = Buffer.alloc(size);
  for (let i = 0; i < size; i += 2) buf[i] = (15 << 3) | WireType.Varint;
  return buf;
}

const components = (n: number, c = 'a') => Array.from({ length: n }, () => c).join('/');

describe('request bodies are capped at SMALL_REQUEST_MAX_BYTES (issue 12 item 3)', () => {
  it('the engine socket refuses an 8 MB GetSecrets of 2-byte unknown fields with resource_exhausted naming the limit', async () => {
    const engine = await startedEngine({ plugins: [builtin('vault', '**', () => [])] });
    const sent = await post(engine.socketPath, GET_SECRETS, unknownFields(8 * MB), 'application/proto');
    expect(sent.status).toBe(429);
    expect(sent.json).toEqual({
      code: 'resource_exhausted',
      message: `message size ${8 * MB} is larger than configured readMaxBytes ${SMALL_REQUEST_MAX_BYTES} of ${GET_SECRETS}`,
    });
    // Refused on its declared length alone: the answer comes before a byte of the body is sent.
    const declared = await post(engine.socketPath, GET_SECRETS, '', 'application/proto', 8 * MB);
    expect(declared.json.code).toBe('resource_exhausted');
    // A request at the limit's scale still works, unknown fields and all.
    const small = await post(
      engine.socketPath,
      GET_SECRETS,
      Buffer.concat([Buffer.from([0x0a, 1, 0x61]), unknownFields(1024)]),
      'application/proto',
    );
    expect(small.status).toBe(404); // pattern "a": nothing found
  });

  it('an unregistered /hijack peer cannot send an 8 MB RegisterPlugin: resource_exhausted, and the engine still serves', async () => {
    const engine = await startedEngine({ plugins: [builtin('vault', 'db/**', () => [])] });
    const peer = await joinEngine(engine.socketPath);
    const request = create(pluginsv1.RegisterPluginRequestSchema, {
      name: 'big',
      version: 'v1',
      metadata: { case: 'secretsProvider', value: { pattern: '**' } },
    });
    // One unknown length-delimited field of 8 MB (tag, then its length and bytes).
    const len = Buffer.from([0x80, 0x80, 0x80, 0x04]); // varint 8 MiB
    request.$unknown = [
      { no: 15, wireType: WireType.LengthDelimited, data: Buffer.concat([len, Buffer.alloc(8 * MB)]) },
    ];
    const register = createClient(pluginsv1.RegisterService, createSessionTransport(peer.session));
    const err = await connectError(register.registerPlugin(request));
    expect(err.code).toBe(Code.ResourceExhausted);
    expect(err.rawMessage).toContain(`readMaxBytes ${SMALL_REQUEST_MAX_BYTES}`);
    // The engine is fine, and the same connection can still register properly.
    expect(await peer.register({ name: 'big', pattern: 'big/**' })).toMatchObject({
      engineVersion: expect.any(String),
    });
    expect(engine.listPlugins().map((p) => p.name)).toContain('big');
  });
});

describe('size limits at registration (issue 12 item 7)', () => {
  it('a 60,000-component pattern is refused (its registration is over the request limit)', async () => {
    const engine = await startedEngine();
    const peer = await joinEngine(engine.socketPath);
    const err = await connectError(peer.register({ name: 'deep', pattern: components(60_000) }));
    expect(err.code).toBe(Code.ResourceExhausted);
    expect(engine.listPlugins()).toEqual([]);
  });

  it.each([
    [
      'a pattern with one component too many',
      { name: 'deep', pattern: components(MAX_ID_COMPONENTS + 1) },
      `invalid pattern "${'a/'.repeat(32)}"…: the pattern has 65 components; at most 64 are allowed`,
    ],
    [
      'a 2,000-character pattern',
      { name: 'long', pattern: 'p'.repeat(2000) },
      `invalid pattern "${'p'.repeat(64)}"…: the pattern is 2000 characters long; at most 1024 are allowed`,
    ],
    [
      'a 30,000-byte name',
      { name: 'n'.repeat(30_000), pattern: '**' },
      `parsing name: "${'n'.repeat(64)}"… is 30000 bytes long (UTF-8); a plugin name is at most 128`,
    ],
    [
      'a 30,000-character version',
      { name: 'v', version: `v1.0.0-${'r'.repeat(29_993)}`, pattern: '**' },
      `parsing version: "v1.0.0-${'r'.repeat(57)}"… is 30000 characters long; a version is at most 128`,
    ],
  ])('%s is invalid_argument naming the limit and the size', async (_what, registration, message) => {
    const engine = await startedEngine();
    const peer = await joinEngine(engine.socketPath);
    const err = await connectError(peer.register(registration));
    expect([err.code, err.rawMessage]).toEqual([Code.InvalidArgument, message]);
    expect(engine.listPlugins()).toEqual([]);
  });

  it('a plugin at the limits registers and answers: 64 components of ** against a 64-component request', async () => {
    const engine = await startedEngine();
    const pattern = components(MAX_ID_COMPONENTS, '**');
    const id = components(MAX_ID_COMPONENTS, 'c');
    const peer = await joinEngine(engine.socketPath, {
      getSecrets: (p) => [
        create(resolverv1.GetSecretsResponse_EnvelopeSchema, { id: p, value: new Uint8Array([7]) }),
      ],
    });
    await peer.register({ name: 'n'.repeat(128), version: `v1.0.0-${'r'.repeat(121)}`, pattern });
    const res = await engineClients(engine.socketPath).resolver.getSecrets({ pattern: id });
    expect(res.envelopes.map((e) => [e.id, e.provider])).toEqual([[id, 'n'.repeat(128)]]);
  });
});

describe('size limits per request, before the access policy (issue 12 item 7)', () => {
  it('GetSecrets: a 60,000-component pattern is refused; one component too many is invalid_argument, the policy never asked', async () => {
    const asked: string[] = [];
    const engine = await startedEngine({
      plugins: [builtin('vault', '**', () => [])],
      access: {
        policy: (_caller, req) => {
          asked.push(req.method);
          return true;
        },
      },
    });
    const huge = await post(engine.socketPath, GET_SECRETS, JSON.stringify({ pattern: components(60_000) }));
    expect(huge.json.code).toBe('resource_exhausted');
    const over = await post(
      engine.socketPath,
      GET_SECRETS,
      JSON.stringify({ pattern: components(MAX_ID_COMPONENTS + 1) }),
    );
    expect(over.json).toEqual({
      code: 'invalid_argument',
      message: `invalid pattern "${'a/'.repeat(32)}"…: the pattern has 65 components; at most 64 are allowed`,
    });
    const long = await post(engine.socketPath, GET_SECRETS, JSON.stringify({ pattern: 'x'.repeat(20_000) }));
    expect(long.json.message).toMatch(/: the pattern is 20000 characters long; at most 1024 are allowed$/);
    expect(asked).toEqual([]);
  });

  it('Authorize: more than MAX_AUTHORIZE_PATTERNS patterns, or one over the limits, is invalid_argument naming it', async () => {
    const engine = await startedEngine();
    const path = '/resolver.v1.AuthorizerService/Authorize';
    const many = await post(
      engine.socketPath,
      path,
      JSON.stringify({ patterns: Array.from({ length: MAX_AUTHORIZE_PATTERNS + 1 }, () => 'a') }),
    );
    expect(many.json).toEqual({
      code: 'invalid_argument',
      message: 'patterns: 33 patterns; at most 32 are allowed in one Authorize call',
    });
    const deep = await post(engine.socketPath, path, JSON.stringify({ patterns: ['a', components(65)] }));
    expect(deep.json.code).toBe('invalid_argument');
    expect(deep.json.message).toMatch(/^patterns\[1\]: invalid pattern .*: the pattern has 65 components/);
  });

  it('the audit record of a refused over-long pattern keeps its first 1024 characters, then …', async () => {
    const records: AuditRecord[] = [];
    const engine = await startedEngine({
      plugins: [builtin('vault', '**', () => [])],
      audit: { write: (r) => records.push(r), close: async () => {} },
    });
    const res = await post(engine.socketPath, GET_SECRETS, JSON.stringify({ pattern: 'x'.repeat(20_000) }));
    expect(res.json.code).toBe('invalid_argument');
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ code: 'invalid_argument', pattern: `${'x'.repeat(1024)}…` });
  });

  it('EnablePlugin and DisablePlugin: an over-long name is invalid_argument, not not_found', async () => {
    const engine = await startedEngine({ plugins: [builtin('vault', '**', () => [])] });
    const { management } = engineClients(engine.socketPath);
    for (const call of [management.enablePlugin, management.disablePlugin]) {
      const err = await connectError(call({ name: 'v'.repeat(5000) }));
      expect(err.code).toBe(Code.InvalidArgument);
      expect(err.rawMessage).toBe(
        `parsing name: "${'v'.repeat(64)}"… is 5000 bytes long (UTF-8); a plugin name is at most 128`,
      );
    }
  });
});

describe('a large JSON response does not hold up other clients (issue 12 item 7)', () => {
  it('a 40 MB secret fetched as JSON by a client that does not read yet: another client is answered meanwhile, then the value arrives whole', async () => {
    const value = Buffer.alloc(40 * MB);
    for (let i = 0; i < value.length; i += 4096) value[i] = i & 0xff;
    let bigAsked!: () => void;
    const bigAskedP = new Promise<void>((r) => {
      bigAsked = r;
    });
    const engine = await startedEngine({
      plugins: [
        builtin('vault', '**', (pattern) => {
          if (pattern === 'big') {
            bigAsked();
            return [{ id: 'big', value }];
          }
          return [{ id: 'small', value: 'tiny' }];
        }),
      ],
    });
    // The engine's responses, by request path and pattern order: node:http reports each request.
    const responses: ServerResponse[] = [];
    let bigEndedWhenSmallArrived: boolean | undefined;
    const onStart = (message: unknown) => {
      const { response } = message as { request: IncomingMessage; response: ServerResponse };
      if (responses.length === 1) bigEndedWhenSmallArrived = responses[0]!.writableEnded;
      responses.push(response);
    };
    subscribe('http.server.request.start', onStart);
    onTestFinished(() => {
      unsubscribe('http.server.request.start', onStart);
    });

    // The big client: a raw connection that sends its request and reads nothing for now.
    const big = connect(engine.socketPath);
    onTestFinished(() => {
      big.destroy();
    });
    big.pause();
    const body = JSON.stringify({ pattern: 'big' });
    big.write(
      `POST ${GET_SECRETS} HTTP/1.1\r\nHost: unix\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    );
    await bigAskedP;
    const small = await post(engine.socketPath, GET_SECRETS, JSON.stringify({ pattern: 'small' }));
    expect(small.json.envelopes?.map((e) => e.id)).toEqual(['small']);
    // When the small request arrived, the big response was still being written: encoding it did
    // not hold the event loop (before, toJsonString took ~9 s for 40 MB and ended it first).
    expect(bigEndedWhenSmallArrived).toBe(false);
    expect(responses[0]!.writableEnded).toBe(false);

    // Now read the big one: all of it, and the same bytes.
    const chunks: Buffer[] = [];
    big.on('data', (c: Buffer) => chunks.push(c));
    big.resume();
    await new Promise<void>((resolve) => big.once('end', resolve));
    const raw = Buffer.concat(chunks).toString('latin1');
    const split = raw.indexOf('\r\n\r\n');
    expect(raw.slice(0, split)).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    const parsed = JSON.parse(raw.slice(split + 4)) as { envelopes: Array<{ id: string; value: string }> };
    expect(parsed.envelopes.map((e) => e.id)).toEqual(['big']);
    expect(Buffer.from(parsed.envelopes[0]!.value, 'base64').equals(value)).toBe(true);
  });
});

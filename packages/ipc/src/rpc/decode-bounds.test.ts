// Decode bounds (issue 12 item 3): a request body of 2-byte unknown fields used to cost ~76× its
// size (8 MB took a server from 77 MB to 779 MB of RSS), because every unknown field was kept as
// an object. Against a real server process on a real Unix socket: unknown fields are skipped on
// the lean and the stock path, peak RSS grows by a small multiple of the body, and a body over
// readMaxBytes is refused with resource_exhausted — before it is sent, when its length is declared.
import { type ChildProcess, spawn } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDir } from '../__tests__/helpers.js';

const FIXTURE = fileURLToPath(new URL('../__tests__/fixtures/decode-server.mjs', import.meta.url));
const GET_SECRETS = '/resolver.v1.ResolverService/GetSecrets';
const MB = 1024 * 1024;

const children: ChildProcess[] = [];
const dirs: Array<{ [Symbol.dispose](): void }> = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  for (const dir of dirs.splice(0)) dir[Symbol.dispose]();
});

/** A decode-server process listening on a fresh socket; resolves with the socket path. */
async function server(readMaxBytes?: number, mode: 'lean' | 'stock' = 'lean'): Promise<string> {
  const dir = tempDir('se-decode-');
  dirs.push(dir);
  const path = join(dir.path, 's.sock');
  const child = spawn(process.execPath, [FIXTURE, path, String(readMaxBytes ?? ''), mode], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`decode-server exited with ${code}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve();
    });
  });
  return path;
}

interface Answer {
  status: number;
  body: Buffer;
}

/** One HTTP/1.1 request; `body` undefined with `declare` sends only a head that announces it. */
function call(
  socketPath: string,
  path: string,
  init: { method?: string; body?: Buffer; declare?: number; chunked?: boolean } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'content-type': 'application/proto' };
    if (init.declare !== undefined) headers['content-length'] = String(init.declare);
    else if (init.body !== undefined && !init.chunked) headers['content-length'] = String(init.body.length);
    const req = request({ socketPath, path, method: init.method ?? 'POST', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) });
        req.destroy();
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    if (init.declare !== undefined) {
      // Send the head only: an answer proves the body was never needed.
      req.flushHeaders();
      return;
    }
    if (init.body !== undefined) req.write(init.body);
    if (init.chunked) {
      // A chunked body never ends by itself: the answer must come while it is still open.
      return;
    }
    req.end();
  });
}

async function peakRssBytes(socketPath: string): Promise<number> {
  const res = await call(socketPath, '/rss', { method: 'GET' });
  return (JSON.parse(res.body.toString()) as { maxRssKiB: number }).maxRssKiB * 1024;
}

/** `size` bytes of field 15, varint 0: two bytes per unknown field. */
function unknownFields(size: number): Buffer {
  const buf = Buffer.alloc(size);
  for (let i = 0; i < size; i += 2) buf[i] = (15 << 3) | 0;
  return buf;
}

describe('unknown fields are skipped, never kept (issue 12 item 3)', () => {
  it.each(['lean', 'stock'] as const)(
    '%s path: an 8 MB body of 2-byte unknown fields keeps none and grows peak RSS by under 10× the body',
    async (mode) => {
      const path = await server(undefined, mode);
      // Warm up: the first call compiles the decoder.
      expect((await call(path, GET_SECRETS, { body: unknownFields(64) })).status).toBe(200);
      const before = await peakRssBytes(path);
      const body = unknownFields(8 * MB);
      const res = await call(path, GET_SECRETS, { body });
      expect(res.status).toBe(200);
      expect(res.body.includes(Buffer.from('unknown-0'))).toBe(true);
      const growth = (await peakRssBytes(path)) - before;
      // Keeping them cost ~76× (600+ MB for this body); skipping costs the body and its copies.
      expect(growth).toBeLessThan(10 * body.length);
    },
  );
});

describe('readMaxBytes: a request over the limit is refused with resource_exhausted', () => {
  it('a declared length over the limit is refused before the body is sent, naming the limit', async () => {
    const path = await server(64 * 1024);
    const res = await call(path, GET_SECRETS, { declare: 8 * MB });
    expect(res.status).toBe(429);
    const error = JSON.parse(res.body.toString()) as { code: string; message: string };
    expect(error.code).toBe('resource_exhausted');
    expect(error.message).toBe(
      `message size ${8 * MB} is larger than configured readMaxBytes 65536 of ${GET_SECRETS}`,
    );
  });

  it('a chunked body is refused as soon as it passes the limit, while it is still being sent', async () => {
    const path = await server(64 * 1024);
    const res = await call(path, GET_SECRETS, { body: unknownFields(128 * 1024), chunked: true });
    expect(res.status).toBe(429);
    const error = JSON.parse(res.body.toString()) as { code: string; message: string };
    expect(error.code).toBe('resource_exhausted');
    expect(error.message).toMatch(
      /^message size at least \d+ is larger than configured readMaxBytes 65536 of /,
    );
  });

  it('a body at the limit is taken', async () => {
    const path = await server(64 * 1024);
    const res = await call(path, GET_SECRETS, { body: unknownFields(64 * 1024) });
    expect(res.status).toBe(200);
  });
});

// The one-shot commands talk to the engine with ipc's lean unary client, one connection per call
// (decisions.md "lean-get"). What the stock keep-alive client did must still hold on that path:
// the socket folder check before dialling, the dial errors' words, gzip responses, the failed-plugins
// header, `Cache-Control: no-cache`. The engines here are plain HTTP/1.1 servers on real sockets.
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { expectNoStack, runCli, tempDir, useCli } from './__tests__/cli.js';

useCli();

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

/** A length-delimited protobuf field. */
function field(no: number, bytes: Uint8Array | string): Buffer {
  const b = typeof bytes === 'string' ? Buffer.from(bytes) : Buffer.from(bytes);
  if (b.length > 127) throw new Error('test encoder: short fields only');
  return Buffer.concat([Buffer.from([(no << 3) | 2, b.length]), b]);
}

/** resolver.v1.GetSecretsResponse with one envelope { id, value, provider, version }. */
function getSecretsResponse(id: string, provider: string): Buffer {
  const envelope = Buffer.concat([field(1, id), field(2, 'a value'), field(3, provider), field(4, 'v1')]);
  return field(1, envelope);
}

/** An HTTP/1.1 "engine" on `socketPath` that answers every request with `answer`, and records the requests. */
async function fakeEngine(
  socketPath: string,
  answer: (headers: IncomingHttpHeaders) => { headers: Record<string, string>; body: Buffer },
): Promise<{ requests: { url: string; headers: IncomingHttpHeaders }[] }> {
  const requests: { url: string; headers: IncomingHttpHeaders }[] = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests.push({ url: req.url ?? '', headers: req.headers });
      const { headers, body } = answer(req.headers);
      res.writeHead(200, { ...headers, 'content-length': String(body.length) });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  cleanup.push(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { requests };
}

describe('get on the lean path: responses', () => {
  it('reads a gzip response and its failed-plugins header: the secret, a warning, exit 5', async () => {
    const socket = join(tempDir(), 'engine.sock');
    const failures = JSON.stringify([
      { plugin: 'sealed', code: 'internal', message: 'failed (backend sealed)' },
    ]);
    const engine = await fakeEngine(socket, () => ({
      headers: {
        'content-type': 'application/proto',
        'content-encoding': 'gzip',
        'secrets-engine-failed-plugins': failures,
      },
      body: gzipSync(getSecretsResponse('app/a', 'fake')),
    }));
    const r = await runCli(['get', 'app/**', '--socket', socket, '--no-cache']);
    expect(r.stdout).toContain('app/a');
    expect(r.stdout).toContain('fake');
    expect(r.stdout).not.toContain('a value');
    expect(r.stderr).toBe(`secrets-engine: warning: plugin "sealed" failed (backend sealed)\n`);
    expect(r.code).toBe(5);
    // One request, on the resolver route, with the lean client's headers and --no-cache's.
    expect(engine.requests).toHaveLength(1);
    const [req] = engine.requests;
    expect(req!.url).toBe('/resolver.v1.ResolverService/GetSecrets');
    expect(req!.headers).toMatchObject({
      connection: 'close',
      'accept-encoding': 'gzip',
      'content-type': 'application/proto',
      'connect-protocol-version': '1',
      'cache-control': 'no-cache',
    });
    expect(req!.headers['user-agent']).toMatch(/^secrets-engine-ipc\/\S+ \(connect-es\)$/);
  });

  it('without --no-cache, no Cache-Control; a plain response with no header is exit 0', async () => {
    const socket = join(tempDir(), 'engine.sock');
    const engine = await fakeEngine(socket, () => ({
      headers: { 'content-type': 'application/proto' },
      body: getSecretsResponse('app/b', 'fake'),
    }));
    const r = await runCli(['get', 'app/b', '--socket', socket]);
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toContain('app/b');
    expect(engine.requests[0]!.headers['cache-control']).toBeUndefined();
  });
});

describe('get on the lean path: the socket', () => {
  it('never dials through a folder others may write: exit 3, "refusing to connect", no connection', async () => {
    const loose = mkdtempSync(join(tmpdir(), 'se-cli-loose-'));
    cleanup.push(() => rmSync(loose, { recursive: true, force: true }));
    chmodSync(loose, 0o777);
    let connections = 0;
    const trap = createNetServer((s) => {
      connections++;
      s.destroy();
    });
    const socket = join(loose, 'engine.sock');
    await new Promise<void>((resolve) => trap.listen(socket, resolve));
    cleanup.push(() => new Promise<void>((resolve) => trap.close(() => resolve())));
    const r = await runCli(['get', 'app/**', '--socket', socket]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(
      `secrets-engine: secrets engine is not available at ${socket}: refusing to connect: ${loose} has mode 0777 (writable by its group and others)`,
    );
    expectNoStack(r.stderr);
    expect(connections).toBe(0);
  });

  it('a missing socket folder: exit 3, "no such socket", nothing dialled', async () => {
    const socket = join(tempDir(), 'absent', 'engine.sock');
    const r = await runCli(['read', 'app/a', '--socket', socket]);
    expect([r.code, r.stderr]).toEqual([
      3,
      `secrets-engine: secrets engine is not available at ${socket}: no such socket (is the engine running?)\n`,
    ]);
  });

  it('a socket nobody listens on (ECONNREFUSED): exit 3, "connection refused"', async () => {
    const socket = join(tempDir(), 'engine.sock');
    // A listener killed with SIGKILL leaves its socket file behind, with nobody to accept.
    const child = spawn(process.execPath, [
      '-e',
      `require('node:net').createServer().listen(${JSON.stringify(socket)}, () => console.log('up'))`,
    ]);
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
    const r = await runCli(['get', 'app/**', '--socket', socket]);
    expect([r.code, r.stderr]).toEqual([
      3,
      `secrets-engine: secrets engine is not available at ${socket}: connection refused (is the engine running?)\n`,
    ]);
  });

  it('an engine that closes the connection after a partial response: exit 3, "the connection closed"', async () => {
    const socket = join(tempDir(), 'engine.sock');
    const server = createNetServer((s) => {
      s.once('data', () =>
        s.end('HTTP/1.1 200 OK\r\ncontent-type: application/proto\r\ncontent-length: 100\r\n\r\n'),
      );
    });
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    cleanup.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const r = await runCli(['get', 'app/**', '--socket', socket]);
    expect([r.code, r.stderr]).toEqual([
      3,
      `secrets-engine: secrets engine is not available at ${socket}: the connection closed before the engine answered (did it stop, or is it overloaded?)\n`,
    ]);
  });
});

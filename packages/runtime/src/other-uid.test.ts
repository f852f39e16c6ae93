// Callers of another uid, as a real second user (issue 11 items 3, 4, 7): the socket is loosened
// (0777, folder 0755) so that the access policy, not the file mode, is what refuses. The user is
// created for the test and removed after it; without root the tests cannot run and say so.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtin, captureLogger, startedEngine } from './__tests__/helpers.js';
import { rulesPolicy } from './index.js';

const isRoot = process.getuid?.() === 0;
const USER = `se-test-${process.pid}`;
let uid = -1;
let gid = -1;
let scratch = '';

// The other user's program: a plain Connect JSON call over the socket with node built-ins only
// (the user cannot read this repository), printing {status, body}.
const CLIENT = `
const http = require('node:http');
const [socketPath, path, body] = process.argv.slice(2);
const req = http.request({ socketPath, path, method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
  let out = '';
  res.on('data', (d) => (out += d));
  res.on('end', () => console.log(JSON.stringify({ status: res.statusCode, body: out })));
});
req.on('error', (e) => console.log(JSON.stringify({ error: e.message })));
req.end(body);
`;
const HIJACK = `
const net = require('node:net');
const s = net.connect(process.argv[2], () => s.write('GET /hijack HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: Upgrade\\r\\nUpgrade: tcp\\r\\n\\r\\n'));
let out = '';
s.on('data', (d) => (out += d));
s.on('close', () => console.log(JSON.stringify({ response: out })));
setTimeout(() => { console.log(JSON.stringify({ response: out, timedOut: true })); process.exit(0); }, 3000).unref();
`;

function asOtherUser(script: string, args: string[]): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(scratch, script), ...args], {
      uid,
      gid,
      cwd: scratch,
      env: { PATH: '/usr/bin:/bin' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      try {
        resolve(JSON.parse(stdout.trim().split('\n').at(-1) ?? ''));
      } catch {
        reject(new Error(`the other user's program exited ${code}: ${stderr || stdout}`));
      }
    });
  });
}

async function loosen(socketPath: string): Promise<void> {
  chmodSync(dirname(socketPath), 0o755);
  chmodSync(socketPath, 0o777);
}

const secretsCall = (socketPath: string, pattern: string) =>
  asOtherUser('client.cjs', [
    socketPath,
    '/resolver.v1.ResolverService/GetSecrets',
    JSON.stringify({ pattern }),
  ]);

describe.skipIf(!isRoot)('callers of another uid (a real second user)', () => {
  beforeAll(() => {
    execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', USER]);
    uid = Number(execFileSync('id', ['-u', USER], { encoding: 'utf8' }).trim());
    gid = Number(execFileSync('id', ['-g', USER], { encoding: 'utf8' }).trim());
    scratch = mkdtempSync('/tmp/se-other-uid-');
    chmodSync(scratch, 0o755);
    writeFileSync(join(scratch, 'client.cjs'), CLIENT, { mode: 0o644 });
    writeFileSync(join(scratch, 'hijack.cjs'), HIJACK, { mode: 0o644 });
  });
  afterAll(() => {
    rmSync(scratch, { recursive: true, force: true });
    try {
      execFileSync('userdel', [USER]);
    } catch {
      // already gone
    }
  });

  const vault = builtin('vault', '**', () => [
    { id: 'shared/token', value: 'shared-value-123' },
    { id: 'private/key', value: 'private-value-456' },
  ]);

  it('the default policy refuses another uid with permission_denied, on a socket anyone may open', async () => {
    const logger = captureLogger();
    const engine = await startedEngine({ plugins: [vault], logger });
    await loosen(engine.socketPath);
    const res = await secretsCall(engine.socketPath, 'private/key');
    expect(res.status).toBe(403);
    const body = JSON.parse(String(res.body)) as { code: string; message: string };
    expect(body.code).toBe('permission_denied');
    expect(body.message).toBe(`access denied: uid ${uid} is not the engine's uid 0`);
    expect(String(res.body)).not.toContain('private-value-456');
    expect(logger.entries.find((e) => e.message === 'access denied')?.attributes).toMatchObject({ uid });
  });

  it('configured rules open exactly what they name to that uid and that program', async () => {
    const engine = await startedEngine({
      plugins: [vault],
      access: {
        policy: rulesPolicy([{ uid: 0 }, { uid, executable: process.execPath, pattern: 'shared/**' }]),
      },
    });
    await loosen(engine.socketPath);
    const shared = await secretsCall(engine.socketPath, 'shared/token');
    expect(shared.status).toBe(200);
    expect(Buffer.from(JSON.parse(String(shared.body)).envelopes[0].value, 'base64').toString()).toBe(
      'shared-value-123',
    );
    const denied = await secretsCall(engine.socketPath, 'private/key');
    expect(denied.status).toBe(403);
    expect(JSON.parse(String(denied.body)).message).toBe(
      `access denied: no access rule allows uid ${uid} (${process.execPath}) to call GetSecrets "private/key"`,
    );
    // `**` would reach private/key too: not covered by shared/**.
    expect((await secretsCall(engine.socketPath, '**')).status).toBe(403);
  });

  it('a plugin of another uid may not join through /hijack (403, before any upgrade)', async () => {
    const engine = await startedEngine({ plugins: [vault] });
    await loosen(engine.socketPath);
    const res = await asOtherUser('hijack.cjs', [engine.socketPath]);
    expect(String(res.response)).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
    expect(String(res.response)).toContain(`refused: plugins must run as the engine's uid 0, not ${uid}`);
    expect(engine.listPlugins().map((p) => p.name)).toEqual(['vault']);
  });
});

describe.skipIf(isRoot)('callers of another uid', () => {
  it('needs root to create a second user', (ctx) => {
    console.warn(
      'other-uid.test.ts: NOT ROOT, the other-uid access tests did not run (CI runs them as root)',
    );
    ctx.skip('creating a second user needs root; the other-uid access tests did not run');
  });
});

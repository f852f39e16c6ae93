// The audit log (issue 11 item 5): the file sink (0600, rotation, refusals, a fixed list of fields)
// and one record per engine-socket call on every path — success, denial, a failing plugin, a
// plugin that dies mid-call — with a planted value that must appear in no record and no log line.

import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Code } from '@connectrpc/connect';
import { describe, expect, it } from 'vitest';
import {
  builtin,
  captureLogger,
  connectError,
  enc,
  engineClients,
  joinEngine,
  startedEngine,
  tempDir,
  waitFor,
} from './__tests__/helpers.js';
import { AuditLogError, type AuditRecord, createFileAuditSink } from './index.js';

const record = (over: Partial<AuditRecord> = {}): AuditRecord => ({
  time: '2026-12-03T10:00:00.000Z',
  caller: { pid: 1, uid: 1000, executable: '/usr/bin/app' },
  method: 'resolver.v1.ResolverService/GetSecrets',
  pattern: 'db/password',
  decision: 'allow',
  code: 'ok',
  durationMs: 1.5,
  ...over,
});
const lines = (path: string) =>
  readFileSync(path, 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as AuditRecord);

describe('createFileAuditSink', () => {
  it('appends JSON lines to a 0600 file, in order', async () => {
    const path = join(tempDir(), 'audit.log');
    const sink = createFileAuditSink({ path });
    for (let i = 0; i < 100; i++) sink.write(record({ pattern: `p/${i}` }));
    await sink.close();
    await sink.close(); // idempotent
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(lines(path).map((r) => r.pattern)).toEqual(Array.from({ length: 100 }, (_, i) => `p/${i}`));
  });

  it('rotates by size, keeping maxFiles and dropping the oldest', async () => {
    const dir = tempDir();
    const path = join(dir, 'audit.log');
    const sink = createFileAuditSink({ path, maxBytes: 4096, maxFiles: 2 });
    const one = `${JSON.stringify(record({ pattern: 'x'.repeat(900) }))}\n`.length;
    const perFile = Math.floor(4096 / one);
    for (let i = 0; i < perFile * 4; i++)
      sink.write(record({ pattern: `${i}/${'x'.repeat(898 - String(i).length)}` }));
    await sink.close();
    for (const f of [path, `${path}.1`, `${path}.2`]) expect(statSync(f).size).toBeLessThanOrEqual(4096);
    expect(existsSync(`${path}.3`)).toBe(false);
    const kept = [...lines(`${path}.2`), ...lines(`${path}.1`), ...lines(path)].map((r) =>
      Number(r.pattern!.split('/')[0]),
    );
    // The newest records, contiguous and in order; the oldest file was dropped.
    expect(kept.at(-1)).toBe(perFile * 4 - 1);
    expect(kept).toEqual(kept.map((_, i) => kept[0]! + i));
    expect(kept[0]).toBeGreaterThan(0);
  });

  it('writes only the allowed fields: a value or metadata smuggled into a record never reaches the file', async () => {
    const path = join(tempDir(), 'audit.log');
    const sink = createFileAuditSink({ path });
    sink.write({ ...record(), value: 'hunter2', metadata: { token: 'hunter2' } } as unknown as AuditRecord);
    sink.write(record({ caller: { uid: 1, secret: 'hunter2' } as never }));
    await sink.close();
    const text = readFileSync(path, 'utf8');
    expect(text).not.toContain('hunter2');
    expect(Object.keys(lines(path)[0]!)).toEqual([
      'time',
      'caller',
      'method',
      'pattern',
      'decision',
      'code',
      'durationMs',
    ]);
  });

  it('refuses a symlink, a file with loose permissions and bad options, naming them', () => {
    const dir = tempDir();
    const target = join(dir, 'target');
    writeFileSync(target, '', { mode: 0o600 });
    const link = join(dir, 'link.log');
    symlinkSync(target, link);
    expect(() => createFileAuditSink({ path: link })).toThrow(AuditLogError);
    expect(() => createFileAuditSink({ path: link })).toThrow(/is a symbolic link/);
    const loose = join(dir, 'loose.log');
    writeFileSync(loose, '');
    chmodSync(loose, 0o644);
    expect(() => createFileAuditSink({ path: loose })).toThrow(/has mode 0644; it must be 0600/);
    expect(() => createFileAuditSink({ path: join(dir, 'a.log'), maxBytes: 10 })).toThrow(
      /maxBytes must be a whole number from 4096/,
    );
    expect(() => createFileAuditSink({ path: join(dir, 'a.log'), maxFiles: -1 })).toThrow(/maxFiles/);
    expect(() => createFileAuditSink({ path: join(dir, 'no-such-dir', 'a.log') })).toThrow(
      /cannot open the audit log/,
    );
    // A FIFO neither blocks the open nor is written to.
    const fifo = join(dir, 'fifo.log');
    execFileSync('mkfifo', ['-m', '600', fifo]);
    expect(() => createFileAuditSink({ path: fifo })).toThrow(/is not a regular file/);
  });

  it('after close, records are dropped with one warning, never a throw', async () => {
    const logger = captureLogger();
    const sink = createFileAuditSink({ path: join(tempDir(), 'audit.log'), logger });
    await sink.close();
    sink.write(record());
    sink.write(record());
    expect(logger.entries.filter((e) => e.message.includes('audit record dropped'))).toHaveLength(1);
  });
});

describe('one audit record per engine-socket call, never a value', () => {
  const VALUE = 'planted-secret-7f3a91';

  it('success, denial, a failing plugin and a plugin that dies mid-call each leave one record; the value is in none, nor in the log', async () => {
    const logger = captureLogger();
    const path = join(tempDir(), 'audit.log');
    let deny = false;
    const engine = await startedEngine({
      logger,
      audit: createFileAuditSink({ path }),
      requestTimeoutMs: 2_000,
      access: { policy: () => (deny ? { allow: false, reason: 'denied for the test' } : true) },
      plugins: [
        builtin('vault', 'db/**', () => [{ id: 'db/password', value: VALUE, metadata: { note: VALUE } }]),
        builtin('broken', 'broken/**', () => {
          throw new Error('backend down');
        }),
      ],
    });
    const { resolver } = engineClients(engine.socketPath);
    // A plugin started by hand that holds the value and dies while answering.
    const dying = await joinEngine(engine.socketPath, {
      getSecrets: async () => {
        setImmediate(() => void dying.session.abort());
        await new Promise(() => {});
        return [{ id: 'dies/x', value: enc(VALUE) } as never];
      },
    });
    await dying.register({ name: 'dying', pattern: 'dies/**' });
    await waitFor('dying registered', () =>
      engine.listPlugins().some((p) => p.name === 'dying' && p.status === 'running'),
    );

    expect((await resolver.getSecrets({ pattern: 'db/password' })).envelopes).toHaveLength(1);
    const failed = await connectError(resolver.getSecrets({ pattern: 'broken/x' }));
    expect(failed.code).toBe(Code.Unavailable);
    const died = await connectError(resolver.getSecrets({ pattern: 'dies/x' }));
    expect(died.code).not.toBe(Code.NotFound);
    deny = true;
    expect((await connectError(resolver.getSecrets({ pattern: 'db/password' }))).code).toBe(
      Code.PermissionDenied,
    );
    await engine.close(); // closes the sink after the last record

    const records = lines(path);
    expect(records.map((r) => [r.method, r.pattern, r.decision, r.code])).toEqual([
      ['resolver.v1.ResolverService/GetSecrets', 'db/password', 'allow', 'ok'],
      ['resolver.v1.ResolverService/GetSecrets', 'broken/x', 'allow', 'unavailable'],
      [
        'resolver.v1.ResolverService/GetSecrets',
        'dies/x',
        'allow',
        died.code === Code.DeadlineExceeded ? 'deadline_exceeded' : 'unavailable',
      ],
      ['resolver.v1.ResolverService/GetSecrets', 'db/password', 'deny', 'permission_denied'],
    ]);
    expect(records[0]).toMatchObject({
      caller: { uid: process.getuid!(), pid: process.pid },
      plugins: { asked: ['vault'], answered: ['vault'], failed: [] },
      ids: ['db/password'],
      count: 1,
    });
    expect(records[1]!.plugins).toMatchObject({
      asked: ['broken'],
      answered: [],
      failed: [{ plugin: 'broken', code: 'internal' }],
    });
    expect(records[2]!.plugins).toMatchObject({ asked: ['dying'], failed: [{ plugin: 'dying' }] });
    expect(records[3]).toMatchObject({ reason: 'denied for the test' });
    expect(records[3]!.plugins).toBeUndefined(); // denied before any plugin was asked
    for (const r of records) expect(r.durationMs).toBeGreaterThanOrEqual(0);
    expect(readFileSync(path, 'utf8')).not.toContain(VALUE);
    expect(JSON.stringify(logger.entries)).not.toContain(VALUE);
  });
});

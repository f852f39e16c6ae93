// Reading from disk: the mode checks, the folder format, the limits, and "changing" for a file that
// moves while it is read.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, symlinkSync } from 'node:fs';
import { parsePattern } from '@secrets-engine/plugin-sdk';
import { describe, expect, it } from 'vitest';
import { tempDir, write } from './__tests__/helpers.js';
import { InsecureModeError, SecretsSourceError } from './errors.js';
import { DEFAULT_LIMITS, type ReadOutcome, readSource, type SourceOptions, stampOf } from './source.js';

const posix = process.platform !== 'win32';

function options(path: string, more: Partial<SourceOptions> = {}): SourceOptions {
  return {
    path,
    format: 'auto',
    pattern: parsePattern('file/**'),
    limits: { ...DEFAULT_LIMITS },
    trimNewline: true,
    ...more,
  };
}

function values(outcome: ReadOutcome): Record<string, string> {
  if (outcome.kind !== 'ok') throw new Error(`expected ok, got ${outcome.kind}: ${JSON.stringify(outcome)}`);
  return Object.fromEntries(
    outcome.parsed.entries.map((e) => [
      e.id,
      typeof e.value === 'string' ? e.value : new TextDecoder().decode(e.value),
    ]),
  );
}

describe.runIf(posix)('mode checks', () => {
  it('a file group or others may read or write is refused: path, mode, and the chmod that fixes it', async () => {
    using tmp = tempDir();
    const file = write(tmp.path('secrets.json'), '{"a": "VALUE"}', 0o644);
    const read = await readSource(options(file));
    expect(read.kind).toBe('refused');
    const { error } = read as Extract<ReadOutcome, { kind: 'refused' }>;
    expect(error).toBeInstanceOf(InsecureModeError);
    expect(error.message).toBe(
      `refusing secrets file ${file}: mode 0644 lets other users read it; allowed: no permission for group and others (fix: chmod 600 ${file})`,
    );
    for (const mode of [0o640, 0o604, 0o620, 0o602, 0o660]) {
      chmodSync(file, mode);
      const again = await readSource(options(file));
      expect(again.kind, `mode ${mode.toString(8)}`).toBe('refused');
    }
    chmodSync(file, 0o620);
    expect(((await readSource(options(file))) as { error: Error }).error.message).toContain(
      'mode 0620 lets other users write it',
    );
    for (const mode of [0o600, 0o400, 0o700]) {
      chmodSync(file, mode);
      expect(values(await readSource(options(file))), `mode ${mode.toString(8)}`).toEqual({
        'file/a': 'VALUE',
      });
    }
  });

  it('the target of a symbolic link is what is checked', async () => {
    using tmp = tempDir();
    const target = write(tmp.path('real.env'), 'A=1\n', 0o644);
    const link = tmp.path('link.env');
    symlinkSync(target, link);
    expect((await readSource(options(link))).kind).toBe('refused');
    chmodSync(target, 0o600);
    expect(values(await readSource(options(link)))).toEqual({ 'file/A': '1' });
  });

  it('a folder group or others may list or write is refused; 0700 and 0711 are fine', async () => {
    using tmp = tempDir();
    const folder = tmp.path('secrets');
    write(tmp.path('secrets', 'api-token'), 'tok\n');
    chmodSync(folder, 0o755);
    const read = await readSource(options(folder));
    expect(read.kind).toBe('refused');
    expect((read as { error: Error }).error.message).toBe(
      `refusing secrets folder ${folder}: mode 0755 lets other users read it; allowed: no permission for group and others (fix: chmod 700 ${folder})`,
    );
    chmodSync(folder, 0o700);
    expect(values(await readSource(options(folder)))).toEqual({ 'file/api-token': 'tok' });
    chmodSync(folder, 0o711);
    expect(values(await readSource(options(folder)))).toEqual({ 'file/api-token': 'tok' });
  });

  it('in a folder, an open file or a file below an open sub-folder is refused by ID, the others served', async () => {
    using tmp = tempDir();
    const folder = tmp.path('s');
    write(tmp.path('s', 'ok'), 'fine');
    const open = write(tmp.path('s', 'open'), 'VALUE-open', 0o644);
    write(tmp.path('s', 'team', 'token'), 'VALUE-team');
    chmodSync(tmp.path('s', 'team'), 0o750);
    const read = await readSource(options(folder));
    expect(values(read)).toEqual({ 'file/ok': 'fine' });
    const { refused, problems } = (read as Extract<ReadOutcome, { kind: 'ok' }>).parsed;
    expect(refused).toEqual([
      {
        id: 'file/open',
        reason: `refusing secrets file ${open}: mode 0644 lets other users read it; allowed: no permission for group and others (fix: chmod 600 ${open})`,
      },
      {
        id: 'file/team/token',
        reason: `refusing secrets folder ${tmp.path('s', 'team')}: mode 0750 lets other users read it; allowed: no permission for group and others (fix: chmod 700 ${tmp.path('s', 'team')})`,
      },
    ]);
    expect(problems.join('\n')).not.toContain('VALUE');
  });
});

describe('formats', () => {
  it('auto: a folder is dir, .json is JSON, anything else .env; an explicit format wins', async () => {
    using tmp = tempDir();
    const json = write(tmp.path('s.json'), '{"a": "1"}');
    const env = write(tmp.path('prod.env'), 'B=2\n');
    expect(values(await readSource(options(json)))).toEqual({ 'file/a': '1' });
    expect(values(await readSource(options(env)))).toEqual({ 'file/B': '2' });
    const asJson = write(tmp.path('secrets'), '{"c": "3"}');
    expect(values(await readSource(options(asJson, { format: 'json' })))).toEqual({ 'file/c': '3' });
    const dirAsFile = await readSource(options(tmp.dir, { format: 'json' }));
    expect(dirAsFile.kind).toBe('refused');
    expect((dirAsFile as { error: Error }).error.message).toBe(
      `secrets file ${tmp.dir} is not a regular file`,
    );
    const fileAsDir = await readSource(options(json, { format: 'dir' }));
    expect((fileAsDir as { error: Error }).error.message).toBe(
      `secrets folder ${json} is not a folder (format "dir")`,
    );
  });

  it('a folder: IDs are relative paths, dot entries skipped, one trailing newline dropped, bytes kept', async () => {
    using tmp = tempDir();
    const folder = tmp.path('s');
    write(tmp.path('s', 'api-token'), 'tok\n');
    write(tmp.path('s', 'crlf'), 'win\r\n');
    write(tmp.path('s', 'two-newlines'), 'x\n\n');
    write(tmp.path('s', 'db', 'password'), 'pw');
    write(tmp.path('s', 'key.bin'), new Uint8Array([0, 255, 10]));
    write(tmp.path('s', '.git', 'config'), 'not a secret');
    write(tmp.path('s', '.password.swp'), 'editor swap');
    const read = await readSource(options(folder));
    expect(values(read)).toEqual({
      'file/api-token': 'tok',
      'file/crlf': 'win',
      'file/db/password': 'pw',
      'file/key.bin': new TextDecoder().decode(new Uint8Array([0, 255])),
      'file/two-newlines': 'x\n',
    });
    const kept = await readSource(options(folder, { trimNewline: false }));
    expect(values(kept)['file/api-token']).toBe('tok\n');
    expect(kept.kind === 'ok' && kept.watch).toEqual([tmp.dir, folder, tmp.path('s', 'db')]);
  });

  it('a folder: names that are no ID, links to folders, FIFOs and dangling links are skipped, named', async () => {
    using tmp = tempDir();
    const folder = tmp.path('s');
    write(tmp.path('s', 'ok'), '1');
    write(tmp.path('s', 'has space'), 'VALUE');
    mkdirSync(tmp.path('elsewhere'), { mode: 0o700 });
    symlinkSync(tmp.path('elsewhere'), tmp.path('s', 'linked'));
    symlinkSync(tmp.path('nothing'), tmp.path('s', 'dangling'));
    if (posix) execFileSync('mkfifo', [tmp.path('s', 'pipe')]);
    const read = await readSource(options(folder));
    expect(values(read)).toEqual({ 'file/ok': '1' });
    expect((read as Extract<ReadOutcome, { kind: 'ok' }>).parsed.problems).toEqual([
      'dangling: cannot be read (a dangling symbolic link?); skipped',
      'has space: "file/has space" is not a valid secret ID (components of A-Z a-z 0-9 . _ - :, joined by /)',
      'linked: a symbolic link to a folder is not followed; skipped',
      ...(posix ? ['pipe: not a regular file; skipped'] : []),
    ]);
  });
});

describe('limits and failures', () => {
  it('too large: a file is broken (the last good version stays), a folder entry refused by ID', async () => {
    using tmp = tempDir();
    const file = write(tmp.path('s.env'), `A=${'x'.repeat(100)}\n`);
    const limits = { ...DEFAULT_LIMITS, maxFileBytes: 50, maxEntryBytes: 10, maxEntries: 3 };
    const big = await readSource(options(file, { limits }));
    expect(big.kind).toBe('broken');
    expect((big as { error: Error }).error.message).toBe(
      `secrets file ${file} is 103 bytes; at most 50 are read`,
    );
    write(tmp.path('d', 'small'), 'ok');
    write(tmp.path('d', 'large'), 'y'.repeat(11));
    const folder = await readSource(options(tmp.path('d'), { limits }));
    expect(values(folder)).toEqual({ 'file/small': 'ok' });
    expect((folder as Extract<ReadOutcome, { kind: 'ok' }>).parsed.refused).toEqual([
      { id: 'file/large', reason: '11 bytes; a secret file is at most 10 bytes' },
    ]);
    for (const n of [1, 2]) write(tmp.path('d', `more${n}`), 'z');
    const many = await readSource(options(tmp.path('d'), { limits }));
    expect(many.kind).toBe('broken');
    expect((many as { error: Error }).error.message).toBe(
      `secrets folder ${tmp.path('d')} has more than 3 files and folders; at most 3 are read`,
    );
  });

  it('missing or unreadable: refused with the reason; not valid UTF-8 or JSON: broken', async () => {
    using tmp = tempDir();
    const missing = await readSource(options(tmp.path('nope.json')));
    expect(missing.kind).toBe('refused');
    expect((missing as { error: Error }).error).toBeInstanceOf(SecretsSourceError);
    expect((missing as { error: Error }).error.message).toBe(
      `cannot read secrets file ${tmp.path('nope.json')}: it does not exist`,
    );
    const latin1 = write(tmp.path('l.env'), new Uint8Array([0x41, 0x3d, 0xe9, 0x0a]));
    expect(((await readSource(options(latin1))) as { error: Error }).error.message).toBe(
      `secrets file ${latin1}: not valid UTF-8 text`,
    );
    const json = write(tmp.path('b.json'), '{"a": "VALUE"');
    const broken = await readSource(options(json));
    expect(broken.kind).toBe('broken');
    expect((broken as { error: Error }).error.message).toMatch(/^secrets file .*b\.json: not valid JSON/);
    expect((broken as { error: Error }).error.message).not.toContain('VALUE');
  });

  it('stamps change with the content, the mode and a rename, and stay put otherwise', async () => {
    using tmp = tempDir();
    const file = write(tmp.path('s.env'), 'A=1\n');
    const o = options(file);
    const first = await stampOf(o);
    expect(await stampOf(o)).toBe(first);
    chmodSync(file, 0o400);
    const second = await stampOf(o);
    expect(second).not.toBe(first);
    write(tmp.path('d', 'a'), '1');
    const d = options(tmp.path('d'));
    const dirStamp = await stampOf(d);
    expect(await stampOf(d)).toBe(dirStamp);
    write(tmp.path('d', 'b'), '2');
    expect(await stampOf(d)).not.toBe(dirStamp);
    expect(await stampOf(options(tmp.path('gone')))).toBe('error:ENOENT');
  });
});

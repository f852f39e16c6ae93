import { mkdtempSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePattern } from '@secrets-engine/plugin-sdk';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatOf, mountOf, parseSecretsFile, SecretsFile } from './secrets-file.js';

const FILE = parsePattern('file/**');

describe('mountOf / formatOf', () => {
  it('mounts keys under the literal prefix of the pattern', () => {
    expect(mountOf('file/**')).toBe('file');
    expect(mountOf('team/prod/**')).toBe('team/prod');
    expect(mountOf('a/*/b')).toBe('a');
    expect(mountOf('**')).toBe('');
  });
  it('.json is JSON, anything else dotenv', () => {
    expect(formatOf('/x/secrets.json')).toBe('json');
    expect(formatOf('/x/S.JSON')).toBe('json');
    expect(formatOf('/x/.env')).toBe('env');
    expect(formatOf('/x/.env.local')).toBe('env');
    expect(formatOf('/x/prod.env')).toBe('env');
  });
});

describe('parseSecretsFile: JSON', () => {
  it('reads {"key": "value"} and {"key": {value, metadata, expiresAt, version}}', () => {
    const { entries, problems } = parseSecretsFile(
      JSON.stringify({
        'api-token': 't0k3n',
        'db/password': {
          value: 'pw',
          metadata: { owner: 'dba' },
          expiresAt: '2030-01-01T00:00:00Z',
          version: '3',
        },
      }),
      'json',
      FILE,
    );
    expect(problems).toEqual([]);
    expect(entries).toEqual([
      { id: 'file/api-token', value: 't0k3n' },
      {
        id: 'file/db/password',
        value: 'pw',
        metadata: { owner: 'dba' },
        expiresAt: new Date('2030-01-01T00:00:00Z'),
        version: '3',
      },
    ]);
  });

  it('keys are full IDs when the pattern has no literal prefix', () => {
    const { entries } = parseSecretsFile('{"github/token": "x"}', 'json', parsePattern('**'));
    expect(entries.map((e) => e.id)).toEqual(['github/token']);
  });

  it('skips bad entries with a reason and never a value', () => {
    const { entries, problems } = parseSecretsFile(
      JSON.stringify({
        good: 'ok',
        'has space': 'VALUE-1',
        'a//b': 'VALUE-2',
        number: 42,
        nested: { value: 'VALUE-3', expiresAt: 'next tuesday' },
        typo: { valeu: 'VALUE-4' },
        meta: { value: 'VALUE-5', metadata: { n: 1 } },
        arr: ['VALUE-6'],
      }),
      'json',
      FILE,
    );
    expect(entries.map((e) => e.id)).toEqual(['file/good']);
    expect(problems).toEqual([
      '"has space": "file/has space" is not a valid secret ID (A-Z a-z 0-9 . _ - : and /)',
      '"a//b": "file/a//b" is not a valid secret ID (A-Z a-z 0-9 . _ - : and /)',
      '"number": must be a string or an object {"value": "...", "metadata": {...}, "expiresAt": "..."}',
      '"nested": "expiresAt" must be an ISO 8601 date, e.g. "2030-01-01T00:00:00Z"',
      '"typo": unknown field(s) "valeu"',
      '"meta": metadata "n" must be a string',
      '"arr": must be a string or an object {"value": "...", "metadata": {...}, "expiresAt": "..."}',
    ]);
    expect(problems.join('\n')).not.toMatch(/VALUE-/);
  });

  it('reports entries outside a pattern that is not a plain prefix', () => {
    const { entries, problems } = parseSecretsFile('{"x/ok": "1", "y": "2"}', 'json', parsePattern('a/*/ok'));
    expect(entries.map((e) => e.id)).toEqual(['a/x/ok']);
    expect(problems).toEqual(['"y": a/y is outside the plugin\'s pattern a/*/ok']);
  });

  it('a file that is not JSON fails as a whole without quoting its text (V8 quotes it)', () => {
    let message = '';
    try {
      parseSecretsFile('{"db": hunter2}', 'json', FILE);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^not valid JSON/);
    expect(message).not.toContain('hunter2');
    expect(() => parseSecretsFile('["a"]', 'json', FILE)).toThrow(/expected a JSON object/);
  });
});

describe('parseSecretsFile: .env (node:util parseEnv)', () => {
  it('reads KEY=value lines: comments, export, quotes, multi-line values', () => {
    const text = [
      '# a comment',
      'API_TOKEN=t0k3n',
      'export DB_PASSWORD="p w"',
      "SINGLE='s'",
      'MULTI="line1',
      'line2"',
      'prod/db=nested',
      '',
    ].join('\n');
    const { entries, problems } = parseSecretsFile(text, 'env', FILE);
    expect(problems).toEqual([]);
    expect(Object.fromEntries(entries.map((e) => [e.id, e.value]))).toEqual({
      'file/API_TOKEN': 't0k3n',
      'file/DB_PASSWORD': 'p w',
      'file/SINGLE': 's',
      'file/MULTI': 'line1\nline2',
      'file/prod/db': 'nested',
    });
  });

  it('a malformed line is reported by line number: parseEnv glues it into the next key, value and all', () => {
    const text = ['OK=1', 'PASSWORD hunter2', 'NEXT=2', ''].join('\n');
    const { entries, problems } = parseSecretsFile(text, 'env', FILE);
    expect(entries.map((e) => e.id)).toEqual(['file/OK']);
    expect(problems).toEqual(['line 2: not a KEY=value line, or the key is not a valid ID component']);
    expect(problems.join('\n')).not.toContain('hunter2');
  });
});

describe('SecretsFile', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'fp-file-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads once, re-reads when the file changes (write in place, or write-and-rename)', async () => {
    const path = join(dir, 'secrets.json');
    writeFileSync(path, '{"a": "1"}');
    const loads: number[] = [];
    const file = new SecretsFile({ path, pattern: FILE, onLoad: ({ entries }) => loads.push(entries) });
    expect((await file.entries()).map((e) => e.value)).toEqual(['1']);
    await Promise.all([file.entries(), file.entries(), file.entries()]);
    expect(loads).toEqual([1]);

    // Same size, same mtime second: still seen (mtime and ctime have sub-second precision here, and
    // the test moves mtime explicitly so it also holds on coarse file systems).
    writeFileSync(path, '{"a": "2"}');
    utimesSync(path, new Date(), new Date(Date.now() + 2_000));
    expect((await file.entries()).map((e) => e.value)).toEqual(['2']);

    const next = join(dir, 'secrets.json.tmp');
    writeFileSync(next, '{"a": "3", "b": "4"}');
    renameSync(next, path);
    expect((await file.entries()).map((e) => e.value)).toEqual(['3', '4']);
    expect(loads).toEqual([1, 1, 2]);
  });

  it('an unreadable or broken file rejects every call until it is fixed', async () => {
    const path = join(dir, 'later.env');
    const file = new SecretsFile({ path, pattern: FILE });
    await expect(file.entries()).rejects.toThrow(`cannot read secrets file ${path}: ENOENT`);
    writeFileSync(path, 'A=1\n');
    expect(await file.entries()).toHaveLength(1);
    const json = join(dir, 's.json');
    writeFileSync(json, '{"a": secret-value');
    const broken = new SecretsFile({ path: json, pattern: FILE });
    await expect(broken.entries()).rejects.toThrow(/^secrets file .*s\.json: not valid JSON/);
    await expect(broken.entries()).rejects.not.toThrow(/secret-value/);
  });
});

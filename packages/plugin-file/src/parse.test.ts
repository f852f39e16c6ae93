import { parsePattern } from '@secrets-engine/plugin-sdk';
import { describe, expect, it } from 'vitest';
import { mountOf, parseSecretsText } from './parse.js';

const FILE = parsePattern('file/**');

describe('mountOf', () => {
  it('mounts keys under the literal prefix of the pattern', () => {
    expect(mountOf('file/**')).toBe('file');
    expect(mountOf('team/prod/**')).toBe('team/prod');
    expect(mountOf('a/*/b')).toBe('a');
    expect(mountOf('**')).toBe('');
  });
});

describe('parseSecretsText: JSON', () => {
  it('reads {"key": "value"} and {"key": {value, metadata, expiresAt, version}}', () => {
    const parsed = parseSecretsText(
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
    expect(parsed).toEqual({
      entries: [
        { id: 'file/api-token', value: 't0k3n' },
        {
          id: 'file/db/password',
          value: 'pw',
          metadata: { owner: 'dba' },
          expiresAt: new Date('2030-01-01T00:00:00Z'),
          version: '3',
        },
      ],
      refused: [],
      problems: [],
    });
  });

  it('keys are full IDs when the pattern has no literal prefix', () => {
    expect(parseSecretsText('{"github/token": "x"}', 'json', parsePattern('**')).entries).toEqual([
      { id: 'github/token', value: 'x' },
    ]);
  });

  it('an entry with a valid ID but bad fields is refused (asked by ID: its reason, not "not found")', () => {
    const { entries, refused, problems } = parseSecretsText(
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
    expect(refused).toEqual([
      {
        id: 'file/number',
        reason:
          'must be a string or an object {"value": "...", "metadata": {...}, "expiresAt": "...", "version": "..."}',
      },
      { id: 'file/nested', reason: '"expiresAt" must be an ISO 8601 date, e.g. "2030-01-01T00:00:00Z"' },
      {
        id: 'file/typo',
        reason: 'unknown field(s) "valeu"; allowed: "value", "metadata", "expiresAt", "version"',
      },
      { id: 'file/meta', reason: 'metadata "n" must be a string' },
      {
        id: 'file/arr',
        reason:
          'must be a string or an object {"value": "...", "metadata": {...}, "expiresAt": "...", "version": "..."}',
      },
    ]);
    expect(problems.slice(0, 2)).toEqual([
      '"has space": "file/has space" is not a valid secret ID (components of A-Z a-z 0-9 . _ - :, joined by /)',
      '"a//b": "file/a//b" is not a valid secret ID (components of A-Z a-z 0-9 . _ - :, joined by /)',
    ]);
    expect(problems).toHaveLength(7);
    expect(problems.join('\n')).not.toMatch(/VALUE-/);
  });

  it('a file that is not a JSON object fails as a whole, by position, never quoting the text', () => {
    expect(() => parseSecretsText('{"a": "VALUE",\n  "b": "VALUE-2",\n}', 'json', FILE)).toThrow(
      /^not valid JSON \(line 3, column 1\)$/,
    );
    // V8's message quotes the text here ("Unexpected token 's', "{"a": s3cr3t…"): none of it is kept.
    expect(() => parseSecretsText('{"a": s3cr3t-VALUE}', 'json', FILE)).toThrow(/^not valid JSON$/);
    expect(() => parseSecretsText('["VALUE"]', 'json', FILE)).toThrow('expected a JSON object');
    expect(() => parseSecretsText('{"a": s3cr3t-VALUE}', 'json', FILE)).not.toThrow(/VALUE/);
  });

  it('an ID outside a pattern that is not a plain prefix is skipped', () => {
    const { entries, problems } = parseSecretsText('{"x": "1", "y": "2"}', 'json', parsePattern('file/x'));
    expect(entries).toEqual([]);
    // The mount of file/x is file/x itself: keys land below it, outside the pattern.
    expect(problems).toEqual([
      '"x": file/x/x is outside the plugin\'s pattern file/x',
      '"y": file/x/y is outside the plugin\'s pattern file/x',
    ]);
  });
});

describe('parseSecretsText: .env', () => {
  it('reads KEY=value lines (comments, export, quotes, multi-line) and nests with /', () => {
    const text = [
      '# comment',
      'API_TOKEN=t0k3n',
      'export DB_PASSWORD="p w"',
      "SINGLE='s'",
      'MULTI="line1',
      'line2"',
      'prod/db=nested',
      '',
    ].join('\n');
    const { entries, problems } = parseSecretsText(text, 'env', FILE);
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
    const { entries, problems } = parseSecretsText('OK=1\nPASSWORD hunter2\nNEXT=2\n', 'env', FILE);
    expect(entries.map((e) => e.id)).toEqual(['file/OK']);
    expect(problems).toEqual(['line 2: not a KEY=value line, or the key is not a valid ID component']);
    expect(problems.join('\n')).not.toContain('hunter2');
  });
});

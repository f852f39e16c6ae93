// protocol.md §6.1 (IDs) and §6.2 (patterns): every row of the grammar tables, plus our messages.
import { describe, expect, it } from 'vitest';
import {
  InvalidIdError,
  InvalidPatternError,
  isInvalidIdError,
  isInvalidPatternError,
  isValidId,
  isValidPattern,
  parseId,
  parsePattern,
  type SecretId,
  type SecretPattern,
} from './index.js';

const GO_ID_PREFIX = 'invalid identifier: ';
const ID_REGEXP = '^[A-Za-z0-9._:-]+(?:/[A-Za-z0-9._:-]+)*$';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('parseId (protocol.md §6.1, HEAD grammar)', () => {
  it.each([
    'my-secretA9',
    'my.secretA9',
    'my/secret',
    'my_secretA9',
    '127.0.0.1:8080', // HEAD only
    'my:secret', // invalid at OLD, valid at HEAD
    'a',
    'A/b/C/d.e_f-g:h',
  ])('accepts %j', (s) => {
    const id: SecretId = parseId(s);
    expect(id).toBe(s);
    expect(isValidId(s)).toBe(true);
  });

  it.each([
    ['my/secret/', `component 3 is empty because of a trailing '/'`],
    ['/my/secret', `component 1 is empty because of a leading '/'`],
    ['my//secret', `component 2 is empty because of '//' at position 3`],
    ['my secret', `character ' ' at position 3 is not allowed`],
    ['my#secret', `character '#' at position 3 is not allowed`],
    ['', 'the identifier is empty'],
    ['/', `component 1 is empty because of a leading '/'`],
    ['foo/*', `character '*' at position 5 is not allowed in an identifier, only in patterns`],
    ['a/b\nc', `character '\\n' at position 4 is not allowed`],
    ['héllo', `character 'é' at position 2 is not allowed`],
    ['😀/x#', `character '😀' at position 1 is not allowed`],
    ['ok/😀#', `character '😀' at position 4 is not allowed`],
  ])('rejects %j: %s', (s, reason) => {
    const err = thrown(() => parseId(s));
    expect(err).toBeInstanceOf(InvalidIdError);
    expect(isInvalidIdError(err)).toBe(true);
    const e = err as InvalidIdError;
    expect(e.name).toBe('InvalidIdError');
    expect(e.id).toBe(s);
    expect(e.reason).toBe(reason);
    expect(isValidId(s)).toBe(false);
  });

  it("keeps Go's ErrInvalidID text as the prefix, then the reason in parentheses", () => {
    expect(() => parseId('my#secret')).toThrow(
      `invalid identifier: "my#secret" must match ${ID_REGEXP} (character '#' at position 3 is not allowed)`,
    );
    expect(() => parseId('my//secret')).toThrow(
      `invalid identifier: "my//secret" must match ${ID_REGEXP} (component 2 is empty because of '//' at position 3)`,
    );
    const goMessage = `${GO_ID_PREFIX}"my/secret/" must match ${ID_REGEXP}`;
    expect((thrown(() => parseId('my/secret/')) as Error).message.startsWith(goMessage)).toBe(true);
  });

  it('quotes the id like Go %q (control characters escaped, quotes escaped)', () => {
    expect((thrown(() => parseId('a"b\tc')) as Error).message).toContain(String.raw`"a\"b\tc"`);
    expect((thrown(() => parseId('x\u0000')) as Error).message).toContain(String.raw`"x\x00"`);
    expect((thrown(() => parseId('x\u0000')) as InvalidIdError).reason).toBe(
      String.raw`character '\x00' at position 2 is not allowed`,
    );
  });

  it('rejects non-strings from untyped callers with the same error class', () => {
    const err = thrown(() => parseId(42 as unknown as string)) as InvalidIdError;
    expect(err).toBeInstanceOf(InvalidIdError);
    expect(err.reason).toBe('expected a string, got number');
    expect(isValidId(42)).toBe(false);
    expect(isValidId(undefined)).toBe(false);
  });

  it('ids are plain strings: comparable and usable as map keys (TestIDComparable)', () => {
    const a = parseId('foo');
    const b = parseId('foo');
    expect(a === b).toBe(true);
    const map = new Map<SecretId, string>([[parseId('foo'), 'bar']]);
    expect(map.get(a)).toBe('bar');
    expect(typeof a).toBe('string');
  });
});

describe('parsePattern (protocol.md §6.2, HEAD grammar)', () => {
  it.each([
    'foo',
    'foo/bar/baz',
    '*',
    '**',
    '*/bar',
    'foo/*/baz',
    '**/bar',
    'foo/**/baz',
    'foo/*/baz/**/*',
    'foo/127.0.0.1:8080/**', // HEAD: ':' in literal components
    '**/**',
  ])('accepts %j', (s) => {
    const p: SecretPattern = parsePattern(s);
    expect(p).toBe(s);
    expect(isValidPattern(s)).toBe(true);
  });

  it.each([
    ['*a*', `component 1 mixes '*' with other characters`],
    ['*a', `component 1 mixes '*' with other characters`],
    ['/foo/bar', `component 1 is empty because of a leading '/'`],
    ['foo/bar/', `component 3 is empty because of a trailing '/'`],
    ['foo//bar', `component 2 is empty because of '//' at position 4`],
    ['', 'the pattern is empty'],
    ['/', `component 1 is empty because of a leading '/'`],
    ['foo/*a*/baz', `component 2 mixes '*' with other characters`],
    ['***', `component 1 has 3 '*' but a wildcard component is '*' or '**'`],
    ['foo/*a', `component 2 mixes '*' with other characters`],
    ['a*a', `component 1 mixes '*' with other characters`],
    ['foo/b r/**', `character ' ' at position 6 is not allowed`],
    ['foo/****', `component 2 has 4 '*' but a wildcard component is '*' or '**'`],
  ])('rejects %j: %s', (s, reason) => {
    const err = thrown(() => parsePattern(s));
    expect(err).toBeInstanceOf(InvalidPatternError);
    expect(isInvalidPatternError(err)).toBe(true);
    const e = err as InvalidPatternError;
    expect(e.name).toBe('InvalidPatternError');
    expect(e.pattern).toBe(s);
    expect(e.reason).toBe(reason);
    expect(e.message).toBe(`invalid pattern ${JSON.stringify(s)}: ${reason}`);
    // Go's ErrInvalidPattern text is "invalid pattern"; peers check for it (protocol.md §8.2).
    expect(e.message.startsWith('invalid pattern')).toBe(true);
    expect(isValidPattern(s)).toBe(false);
  });

  it('reports the first problem in string order, like the Go scanner', () => {
    expect((thrown(() => parsePattern('a#/*b')) as InvalidPatternError).reason).toBe(
      `character '#' at position 2 is not allowed`,
    );
    expect((thrown(() => parsePattern('*b/a#')) as InvalidPatternError).reason).toBe(
      `component 1 mixes '*' with other characters`,
    );
  });

  it('rejects non-strings from untyped callers', () => {
    const err = thrown(() => parsePattern(null as unknown as string)) as InvalidPatternError;
    expect(err).toBeInstanceOf(InvalidPatternError);
    expect(err.message).toBe('invalid pattern null: expected a string, got null');
    expect(isValidPattern({})).toBe(false);
  });

  it('every valid id is a valid pattern', () => {
    for (const s of ['my-secretA9', '127.0.0.1:8080', 'a/b/c']) expect(isValidPattern(parseId(s))).toBe(true);
  });
});

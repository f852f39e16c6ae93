// protocol.md §6.3: every row of the Match, Includes, Filter and Expand tables, and the quirks.
import { describe, expect, it } from 'vitest';
import {
  ExpandError,
  expandId,
  expandPattern,
  filter,
  InvalidIdError,
  InvalidPatternError,
  includes,
  isExpandError,
  match,
} from './index.js';
import { matchComponents } from './match.js';

describe('match (protocol.md §6.3 Match table, Go TestMatchNew)', () => {
  const table: Array<[pattern: string, matches: string[], doesNotMatch: string[]]> = [
    ['*/**/*', ['foo/bar', 'foo/bar/baz'], ['foo']],
    ['**', ['foo', 'foo/bar', 'foo/bar/baz'], []],
    ['foo/bar', [], ['foo/bar/baz', 'foo']],
    ['foo/*', ['foo/bar'], ['foo', 'foo/bar/baz']],
    ['*/bar', ['foo/bar'], ['foo/bar/baz', 'foo']],
    ['foo/**/baz', ['foo/baz', 'foo/bar/baz', 'foo/bar/something/baz'], ['foo/bar', 'foo/bar/baz/qux']],
    ['com.test.test/**', ['com.test.test/test/bob', 'com.test.test/test/alice'], []],
    [
      'foo/127.0.0.1:8080/**',
      ['foo/127.0.0.1:8080/bob', 'foo/127.0.0.1:8080/jeff/test'],
      ['foo/127.0.0.1/bob'],
    ],
  ];
  for (const [pattern, yes, no] of table) {
    for (const id of yes) it(`${pattern} matches ${id}`, () => expect(match(pattern, id)).toBe(true));
    for (const id of no) it(`${pattern} does not match ${id}`, () => expect(match(pattern, id)).toBe(false));
  }

  it('trailing ** may match nothing; a middle ** may too', () => {
    expect(match('foo/**', 'foo')).toBe(true);
    expect(match('foo/**/**', 'foo')).toBe(true);
    expect(match('**/foo', 'foo')).toBe(true);
    expect(match('**/foo/**', 'foo')).toBe(true);
    expect(match('**/foo/**/bar', 'x/foo/y/z/bar')).toBe(true);
    expect(match('**/foo/**/bar', 'x/foo/y/z/baz')).toBe(false);
  });

  it('validates both arguments', () => {
    expect(() => match('foo/*a', 'foo/bar')).toThrow(InvalidPatternError);
    expect(() => match('foo/*', 'foo/*')).toThrow(InvalidIdError);
    expect(() => match('foo/*', 'foo//bar')).toThrow(/^invalid identifier: "foo\/\/bar" must match/);
  });

  // Go backtracks exponentially here: an exponential matcher never returns, so this test hangs
  // instead of passing. How fast ours is belongs in the benchmark, not here.
  // At the size limits (64 components); matchComponents itself has none.
  it('answers adversarial patterns (Go backtracks exponentially here)', () => {
    const pattern = `${Array.from({ length: 58 }, () => '**').join('/')}/x/**/y/**/z/nope`;
    const id = Array.from({ length: 64 }, (_, i) => `c${i}`).join('/');
    expect(match(pattern, id)).toBe(false);
    expect(includes(pattern, `${'**/'.repeat(63)}a`)).toBe(false);
    const deep = Array.from({ length: 200 }, () => '**');
    expect(
      matchComponents(
        [...deep, 'x', '**', 'y', '**', 'z', 'nope'],
        deep.map((_, i) => `c${i}`),
      ),
    ).toBe(false);
  });
});

describe('includes (protocol.md §6.3 Includes table, Go TestPatternIncludes)', () => {
  it.each([
    ['**', '**', true],
    ['**/*', '*/**', true],
    ['**/*', '**', true], // equivalent: IDs always have at least one component
    ['**', '**/*', true],
    ['**/**', '**/**', true],
    ['**/*/**', '**/**', true],
    ['**/*/*', '*/*/**', true],
    ['**/*/*', '**', false],
    ['**', '**/foo', true],
    ['**/foo', '**', false],
    ['**/foo', '**/foo', true],
    ['foo/**', '**/foo', false],
    ['**', 'bar/**/foo', true],
    ['**', '*/bar/**/foo', true],
    ['*', '*', true],
    ['*/foo', '*', false],
    ['*', '*/foo', false],
    ['docker/*/mcp/*', 'docker/proj1/**', false],
    ['docker/proj1/**', 'docker/*/mcp/*', true], // quirk: the other side's `*` matches the literal `proj1`
    ['docker/proj1/**', 'docker/**/mcp/**', false],
    ['docker/**', 'docker/**/mcp/**', true],
  ] as const)('includes(%j, %j) is %s', (pattern, other, expected) => {
    expect(includes(pattern, other)).toBe(expected);
  });

  it('quirk: an id-side literal `*` matches any literal, so includes over-approximates', () => {
    expect(includes('foo/bar', 'foo/*')).toBe(true);
    expect(match('foo/bar', 'foo/baz')).toBe(false); // although foo/baz matches foo/*
  });

  it('quirk: a pattern-side `*` consumes an other-side `**`', () => {
    expect(includes('*', '**')).toBe(true);
    expect(match('*', 'a/b')).toBe(false); // although a/b matches **
    expect(includes('x/*', 'x/**')).toBe(true);
    expect(match('x/*', 'x')).toBe(false); // although x matches x/**
  });

  it('validates both arguments', () => {
    expect(() => includes('**', '***')).toThrow(InvalidPatternError);
    expect(() => includes('', '**')).toThrow('invalid pattern "": the pattern is empty');
  });
});

describe('filter (protocol.md §6.3 Filter table, Go Test_Filter)', () => {
  it.each([
    ['docker/mcp/auth/**', '**', 'docker/mcp/auth/**'],
    ['**', '**', '**'],
    ['docker/mcp/auth/**', 'docker/mcp/auth/foo/bar/*', 'docker/mcp/auth/foo/bar/*'],
    ['**/mcp/auth/**', 'docker/*/auth/foo/bar/*', 'docker/*/auth/foo/bar/*'], // the id-side `*` matched `mcp`
    ['**/mcp/auth/**', '*/*/auth/foo/bar/*', '*/*/auth/foo/bar/*'],
    ['docker/mcp/auth/**', 'foo/bar', undefined],
  ] as const)('filter(%j, %j) is %j', (f, other, expected) => {
    expect(filter(f, other)).toBe(expected);
  });

  it('Go doc examples: narrower wins in either direction', () => {
    expect(filter('bar/**', '**')).toBe('bar/**');
    expect(filter('bar/**', 'bar')).toBe('bar');
    expect(filter('bar/**', 'foo/**')).toBeUndefined();
  });

  it('§6.4 fan-out example: base/sub1/* and base/sub2/* against base/** and base/sub2/baz', () => {
    expect(filter('base/sub1/*', 'base/**')).toBe('base/sub1/*');
    expect(filter('base/sub2/*', 'base/**')).toBe('base/sub2/*');
    expect(filter('base/sub1/*', 'base/sub2/baz')).toBeUndefined();
    expect(filter('base/sub2/*', 'base/sub2/baz')).toBe('base/sub2/baz');
  });

  it('quirk: not a true intersection (plugin foo/** and request **/bar overlap on foo/bar)', () => {
    expect(filter('foo/**', '**/bar')).toBeUndefined();
    expect(match('foo/**', 'foo/bar') && match('**/bar', 'foo/bar')).toBe(true);
  });
});

describe('expandId / expandPattern (protocol.md §6.3, Go TestPatternExpandID and Test_apply)', () => {
  it.each([
    ['foo/bar/**', 'baz', 'foo/bar/baz'],
    ['**', 'foo/bar', 'foo/bar'],
  ])('expandId(%j, %j) is %j', (pattern, id, expected) => {
    expect(expandId(pattern, id)).toBe(expected);
  });

  it.each([
    ['a/*/**', 'x'],
    ['*/**', 'x'],
  ])('expandId(%j, %j) is not an id: InvalidIdError', (pattern, id) => {
    expect(() => expandId(pattern, id)).toThrow(InvalidIdError);
    expect(() => expandId(pattern, id)).toThrow(/^invalid identifier: ".*\*.*" must match/);
  });

  it.each([
    ['foo/bar/**', 'baz', 'foo/bar/baz'],
    ['foo/bar/**', '**', 'foo/bar/**'],
    ['foo/bar/**', '**/*', 'foo/bar/**/*'],
    ['**/*', 'baz', 'baz/*'],
    ['**/*', 'bar/baz', 'bar/baz/*'],
    ['**/*', '**', '**/*'],
  ])('expandPattern(%j, %j) is %j', (pattern, other, expected) => {
    expect(expandPattern(pattern, other)).toBe(expected);
  });

  it.each([
    ['**/**', '**/bar', 2],
    ['foo/bar', 'x', 0],
    ['*/*', 'x', 0],
    ['**/a/**/b/**', 'x', 3],
  ])('expandPattern(%j, %j): the pattern has %i `**`', (pattern, other, n) => {
    let err: unknown;
    try {
      expandPattern(pattern, other);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ExpandError);
    expect(isExpandError(err)).toBe(true);
    expect((err as ExpandError).message).toBe(
      `expand only supports one expansion glob, pattern ${pattern} has ${n}`,
    );
    expect((err as ExpandError).globs).toBe(n);
    expect(() => expandId(pattern, 'x')).toThrow(ExpandError);
  });

  it('validates its arguments', () => {
    expect(() => expandId('foo/**', 'a/*')).toThrow(InvalidIdError);
    expect(() => expandPattern('foo/**', 'a//b')).toThrow(InvalidPatternError);
  });
});

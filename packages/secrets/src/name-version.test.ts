// protocol.md §5.1: plugin names (api.NewName) and versions (api.NewVersion, x/mod/semver).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  InvalidPluginNameError,
  InvalidVersionError,
  isInvalidPluginNameError,
  isInvalidVersionError,
  isValidPluginName,
  isValidVersion,
  type PluginName,
  type PluginVersion,
  parsePluginName,
  parseVersion,
} from './index.js';

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a throw');
}

describe('parsePluginName', () => {
  it.each(['foo', 'plugin-bar', 'my plugin', 'ünïcödé', 'a.b:c@d', 'x'.repeat(128)])('accepts %j', (s) => {
    const name: PluginName = parsePluginName(s);
    expect(name).toBe(s);
    expect(isValidPluginName(s)).toBe(true);
  });

  it('rejects the empty name with Go\'s message "parsing name: empty name"', () => {
    const err = thrown(() => parsePluginName(''));
    expect(err).toBeInstanceOf(InvalidPluginNameError);
    expect(isInvalidPluginNameError(err)).toBe(true);
    expect(err.message).toBe('parsing name: empty name');
    expect(err.name).toBe('InvalidPluginNameError');
    expect((err as InvalidPluginNameError).pluginName).toBe('');
  });

  it.each([
    ['foo\nbar', String.raw`parsing name: "foo\nbar" has the control character '\n' at position 4`],
    ['\u0000', String.raw`parsing name: "\x00" has the control character '\x00' at position 1`],
    ['a\u007f', String.raw`parsing name: "a\x7f" has the control character '\x7f' at position 2`],
    ['a\u0085', String.raw`parsing name: "a\u0085" has the control character '\u0085' at position 2`],
    ['\u001b[31mred', String.raw`parsing name: "\x1b[31mred" has the control character '\x1b' at position 1`],
    [
      'evil\u202egnp.exe',
      String.raw`parsing name: "evil\u202egnp.exe" has the bidirectional control '\u202e' at position 5 (it would reorder what a terminal shows)`,
    ],
    [
      'x\u2066y',
      String.raw`parsing name: "x\u2066y" has the bidirectional control '\u2066' at position 2 (it would reorder what a terminal shows)`,
    ],
    ['a\u2028b', String.raw`parsing name: "a\u2028b" has the line separator '\u2028' at position 2`],
    ['foo/bar', `parsing name: "foo/bar" has '/' at position 4 (a plugin name is one path component)`],
    ['/', `parsing name: "/" has '/' at position 1 (a plugin name is one path component)`],
  ])('rejects %j', (s, message) => {
    const err = thrown(() => parsePluginName(s));
    expect(err).toBeInstanceOf(InvalidPluginNameError);
    expect(err.message).toBe(message);
    expect(isValidPluginName(s)).toBe(false);
  });

  it('rejects non-strings', () => {
    expect(thrown(() => parsePluginName(undefined as unknown as string)).message).toBe(
      'parsing name: expected a string, got undefined',
    );
    expect(isValidPluginName(1)).toBe(false);
  });

  it('property: valid exactly when non-empty without control characters or /', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 6 }), (s) => {
        const bad = [...s].some((ch) => {
          const c = ch.codePointAt(0)!;
          return c < 0x20 || (c >= 0x7f && c <= 0x9f) || ch === '/';
        });
        const expected = s.length > 0 && !bad;
        expect(isValidPluginName(s)).toBe(expected);
      }),
      { numRuns: 1_000 },
    );
  });
});

describe('parseVersion', () => {
  it.each([
    'v1',
    'v1.0',
    'v7',
    'v1.2.3-rc.1',
    'v0.0.1',
    'v1.0.0',
    'v10.20.30',
    'v1.2.3+build.5',
    'v1.2.3-alpha.1+001',
    'v1.2.3-0.a-b',
    'v1.2.3-x.7.z.92',
    'v1.2.3+0123',
    'v0',
  ])('accepts %j', (s) => {
    const v: PluginVersion = parseVersion(s);
    expect(v).toBe(s);
    expect(isValidVersion(s)).toBe(true);
  });

  it('empty: "parsing version: empty version"', () => {
    const err = thrown(() => parseVersion(''));
    expect(err).toBeInstanceOf(InvalidVersionError);
    expect(isInvalidVersionError(err)).toBe(true);
    expect(err.message).toBe('parsing version: empty version');
    expect((err as InvalidVersionError).version).toBe('');
  });

  it('no v prefix: "parsing version: missing version prefix"', () => {
    const err = thrown(() => parseVersion('1.0.0'));
    expect(err).toBeInstanceOf(InvalidVersionError);
    expect(err.message).toBe(`parsing version: missing version prefix ("1.0.0" must start with 'v')`);
    expect(thrown(() => parseVersion('V1')).message).toMatch(/^parsing version: missing version prefix/);
  });

  it.each([
    ['v1.2-pre', 'a pre-release suffix needs all of MAJOR.MINOR.PATCH'],
    ['v1+meta', 'a build suffix needs all of MAJOR.MINOR.PATCH'],
    ['v01.0.0', 'the major version has a leading zero'],
    ['v1.02.0', 'the minor version has a leading zero'],
    ['v1.2.03', 'the patch version has a leading zero'],
    ['v', "missing the major version after 'v'"],
    ['v1.', "missing the minor version after '.'"],
    ['v1.2.', "missing the patch version after '.'"],
    ['vx', "expected the major version after 'v', got 'x'"],
    ['v1.2.3.4', "unexpected character '.' at position 7"],
    ['v1.2.3 ', "unexpected character ' ' at position 7"],
    ['v1.2x', "unexpected character 'x' at position 5"],
    ['v1.2.3-', 'empty pre-release identifier'],
    ['v1.2.3-a..b', 'empty pre-release identifier'],
    ['v1.2.3-01', 'numeric pre-release identifier "01" has a leading zero'],
    ['v1.2.3-rc.01+b', 'numeric pre-release identifier "01" has a leading zero'],
    ['v1.2.3-rc_1', "character '_' at position 10 is not allowed in the pre-release"],
    ['v1.2.3+', 'empty build identifier'],
    ['v1.2.3+a.', 'empty build identifier'],
    ['v1.2.3+a+b', "character '+' at position 9 is not allowed in the build metadata"],
  ])('rejects %j (%s)', (s, reason) => {
    const err = thrown(() => parseVersion(s));
    expect(err).toBeInstanceOf(InvalidVersionError);
    expect(err.message).toBe(`parsing version: invalid version: ${s} (${reason})`);
    expect(isValidVersion(s)).toBe(false);
  });

  it('property: agrees with the x/mod/semver grammar as a regular expression', () => {
    const num = '(?:0|[1-9][0-9]*)';
    const pre = `(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)`;
    const semver = new RegExp(
      `^v${num}(?:\\.${num}(?:\\.${num}(?:-${pre}(?:\\.${pre})*)?(?:\\+[0-9A-Za-z-]+(?:\\.[0-9A-Za-z-]+)*)?)?)?$`,
    );
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'v0123.-+ar'), maxLength: 10 }), (s) => {
        expect(isValidVersion(s)).toBe(semver.test(s));
      }),
      { numRuns: 5_000 },
    );
  });
});

// The size limits of IDs, patterns, plugin names and versions (issue 12 item 7): at the limit is
// valid, one over is refused with a message naming the limit and the actual size, and an input of
// any size is refused without being quoted whole.
import { describe, expect, it } from 'vitest';
import {
  filter,
  InvalidIdError,
  InvalidPatternError,
  InvalidPluginNameError,
  InvalidVersionError,
  isValidId,
  isValidPattern,
  isValidPluginName,
  isValidVersion,
  MAX_ID_COMPONENTS,
  MAX_ID_LENGTH,
  MAX_PLUGIN_NAME_BYTES,
  MAX_VERSION_LENGTH,
  match,
  parseId,
  parsePattern,
  parsePluginName,
  parseVersion,
} from './index.js';
import { utf8Length } from './limits.js';

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a throw');
}

/** `n` components of `c`, joined by '/'. */
const components = (n: number, c = 'a') => Array.from({ length: n }, () => c).join('/');

describe('ID and pattern limits', () => {
  it('are 1024 characters and 64 components', () => {
    expect(MAX_ID_LENGTH).toBe(1024);
    expect(MAX_ID_COMPONENTS).toBe(64);
  });

  it('accept an ID and a pattern of exactly MAX_ID_LENGTH characters and MAX_ID_COMPONENTS components', () => {
    const long = 'a'.repeat(MAX_ID_LENGTH);
    expect(parseId(long)).toBe(long);
    expect(parsePattern(long)).toBe(long);
    const deep = components(MAX_ID_COMPONENTS);
    expect(parseId(deep)).toBe(deep);
    expect(parsePattern(components(MAX_ID_COMPONENTS, '**'))).toBeDefined();
  });

  it('refuse one character more, naming the limit and the length', () => {
    const s = 'a'.repeat(MAX_ID_LENGTH + 1);
    const id = thrown(() => parseId(s));
    expect(id).toBeInstanceOf(InvalidIdError);
    expect((id as InvalidIdError).reason).toBe(
      'the identifier is 1025 characters long; at most 1024 are allowed',
    );
    const pattern = thrown(() => parsePattern(s));
    expect(pattern).toBeInstanceOf(InvalidPatternError);
    expect((pattern as InvalidPatternError).reason).toBe(
      'the pattern is 1025 characters long; at most 1024 are allowed',
    );
    expect(isValidId(s)).toBe(false);
    expect(isValidPattern(s)).toBe(false);
  });

  it('refuse one component more, naming the limit and the count', () => {
    const s = components(MAX_ID_COMPONENTS + 1);
    expect((thrown(() => parseId(s)) as InvalidIdError).reason).toBe(
      'the identifier has 65 components; at most 64 are allowed',
    );
    expect((thrown(() => parsePattern(s)) as InvalidPatternError).reason).toBe(
      'the pattern has 65 components; at most 64 are allowed',
    );
    expect(isValidPattern(components(MAX_ID_COMPONENTS + 1, '**'))).toBe(false);
  });

  it('refuse a 60,000-component pattern with a short message that quotes only its start', () => {
    const s = components(60_000);
    const err = thrown(() => parsePattern(s));
    expect(err.message).toBe(
      `invalid pattern "${'a/'.repeat(32)}"…: the pattern is ${s.length} characters long; at most 1024 are allowed`,
    );
    expect(err.message.length).toBeLessThan(200);
    const id = thrown(() => parseId(s));
    expect(id.message.length).toBeLessThan(300);
    // Every function that takes a pattern refuses it the same way.
    expect(() => match(s, 'a')).toThrow(InvalidPatternError);
    expect(() => filter('**', s)).toThrow(InvalidPatternError);
  });

  it('matching at the limits stays cheap: the worst allowed pair of patterns is one small table', () => {
    // 64 components each: the matcher's table is 65 × 65 cells, whatever the wildcards.
    const a = components(MAX_ID_COMPONENTS, '**');
    const b = `${components(MAX_ID_COMPONENTS - 1, '*')}/x`;
    expect(filter(a, b)).toBe(b);
    expect(match(`${components(MAX_ID_COMPONENTS - 1, '**')}/b`, components(MAX_ID_COMPONENTS))).toBe(false);
  });
});

describe('plugin name limit', () => {
  it('is 128 bytes of UTF-8', () => {
    expect(MAX_PLUGIN_NAME_BYTES).toBe(128);
    expect(parsePluginName('n'.repeat(128))).toBe('n'.repeat(128));
    // 64 two-byte characters are 128 bytes; 43 three-byte characters 129.
    expect(isValidPluginName('é'.repeat(64))).toBe(true);
    expect(isValidPluginName('€'.repeat(43))).toBe(false);
  });

  it('refuses a longer name, naming the limit and its size in bytes, quoting only its start', () => {
    const err = thrown(() => parsePluginName('n'.repeat(129)));
    expect(err).toBeInstanceOf(InvalidPluginNameError);
    expect(err.message).toBe(
      `parsing name: "${'n'.repeat(64)}"… is 129 bytes long (UTF-8); a plugin name is at most 128`,
    );
    expect(thrown(() => parsePluginName('€'.repeat(43))).message).toContain('is 129 bytes long (UTF-8)');
    const huge = thrown(() => parsePluginName('x'.repeat(1024 * 1024)));
    expect(huge.message).toContain(`is ${1024 * 1024} bytes long`);
    expect(huge.message.length).toBeLessThan(200);
  });

  it('counts UTF-8 bytes as an encoder does (lone surrogates as U+FFFD)', () => {
    for (const s of ['', 'abc', 'é', '€', '😀', 'a😀b', '\ud800', '\udc00x', 'x\ud800']) {
      expect(utf8Length(s)).toBe(new TextEncoder().encode(s).length);
    }
  });
});

describe('version limit', () => {
  it('is 128 characters', () => {
    expect(MAX_VERSION_LENGTH).toBe(128);
    const v = `v1.0.0-${'a'.repeat(MAX_VERSION_LENGTH - 7)}`;
    expect(v).toHaveLength(128);
    expect(parseVersion(v)).toBe(v);
    expect(isValidVersion(`${v}b`)).toBe(false);
  });

  it('refuses a longer version, naming the limit and its length, quoting only its start', () => {
    const v = `v1.0.0+${'b'.repeat(200)}`;
    const err = thrown(() => parseVersion(v));
    expect(err).toBeInstanceOf(InvalidVersionError);
    expect(err.message).toBe(
      `parsing version: "${v.slice(0, 64)}"… is ${v.length} characters long; a version is at most 128`,
    );
  });
});

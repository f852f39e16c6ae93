// Plugin versions (protocol.md §5.1, Go `api.NewVersion`): a `v`-prefixed semantic version as
// accepted by golang.org/x/mod/semver.IsValid, i.e. vMAJOR, vMAJOR.MINOR or
// vMAJOR.MINOR.PATCH[-PRERELEASE][+BUILD], without leading zeros in numbers.
import { InvalidVersionError } from './errors.js';
import { MAX_VERSION_LENGTH } from './limits.js';
import { describeType, goQuote, goQuoteClipped, positionOf, quoteCharAt } from './quote.js';

/** A validated plugin version. A plain string at runtime; get one from `parseVersion`. */
export type PluginVersion = string & { readonly __brand: 'PluginVersion' };

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isIdentChar(c: number): boolean {
  return isDigit(c) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2d;
}

const PARTS = ['major', 'minor', 'patch'] as const;

/** Why `v` is not valid for x/mod/semver, or undefined. Mirrors semver.parse step by step. */
function semverProblem(v: string): string | undefined {
  let i = 1; // after the 'v'
  const unexpected = () => `unexpected character ${quoteCharAt(v, i)} at position ${positionOf(v, i)}`;
  for (let part = 0; part < 3; part++) {
    const name = PARTS[part]!;
    const start = i;
    while (i < v.length && isDigit(v.charCodeAt(i))) i++;
    if (i === start) {
      const after = part === 0 ? "'v'" : "'.'";
      return i === v.length
        ? `missing the ${name} version after ${after}`
        : `expected the ${name} version after ${after}, got ${quoteCharAt(v, i)}`;
    }
    if (v.charCodeAt(start) === 0x30 && i - start > 1) return `the ${name} version has a leading zero`;
    if (i === v.length) return undefined; // vMAJOR and vMAJOR.MINOR are valid shorthands
    const c = v.charCodeAt(i);
    if (part < 2 && c === 0x2e) {
      i++;
      continue;
    }
    if (part < 2 && (c === 0x2d || c === 0x2b)) {
      return `a ${c === 0x2d ? 'pre-release' : 'build'} suffix needs all of MAJOR.MINOR.PATCH`;
    }
    if (part === 2 && (c === 0x2d || c === 0x2b)) break;
    return unexpected();
  }
  if (v.charCodeAt(i) === 0x2d) {
    i++;
    let start = i;
    for (;;) {
      const c = i < v.length ? v.charCodeAt(i) : 0x2b;
      if (c === 0x2e || c === 0x2b) {
        const ident = v.slice(start, i);
        if (ident.length === 0) return 'empty pre-release identifier';
        if (/^0[0-9]+$/.test(ident))
          return `numeric pre-release identifier ${goQuote(ident)} has a leading zero`;
        if (c === 0x2b) break;
        start = i + 1;
      } else if (!isIdentChar(c)) {
        return `character ${quoteCharAt(v, i)} at position ${positionOf(v, i)} is not allowed in the pre-release`;
      }
      i++;
    }
  }
  if (i < v.length && v.charCodeAt(i) === 0x2b) {
    i++;
    let start = i;
    for (;;) {
      const c = i < v.length ? v.charCodeAt(i) : -1;
      if (c === 0x2e || c === -1) {
        if (i === start) return 'empty build identifier';
        if (c === -1) break;
        start = i + 1;
      } else if (!isIdentChar(c)) {
        return `character ${quoteCharAt(v, i)} at position ${positionOf(v, i)} is not allowed in the build metadata`;
      }
      i++;
    }
  }
  return i === v.length ? undefined : unexpected();
}

function problem(s: string): string | undefined {
  if (s.length > MAX_VERSION_LENGTH) {
    return `${goQuoteClipped(s)} is ${s.length} characters long; a version is at most ${MAX_VERSION_LENGTH}`;
  }
  if (s.length > 0 && s[0] !== 'v') return `missing version prefix (${goQuote(s)} must start with 'v')`;
  if (s.length === 0) return 'empty version';
  const reason = semverProblem(s);
  return reason === undefined ? undefined : `invalid version: ${s} (${reason})`;
}

/** True if `s` is a valid plugin version. Never throws. */
export function isValidVersion(s: unknown): s is PluginVersion {
  return typeof s === 'string' && problem(s) === undefined;
}

/**
 * Validates a plugin version as Go's `api.NewVersion` does, and at most `MAX_VERSION_LENGTH`
 * characters long: `v1`, `v1.0`, `v7`, `v1.2.3-rc.1` are valid; `1.0.0`, `v1.2-pre`, `v01.0.0` are not. Returns the same string, branded; throws
 * `InvalidVersionError` with Go's wording (`parsing version: empty version`,
 * `parsing version: missing version prefix …`, `parsing version: invalid version: <v> (…)`).
 */
export function parseVersion(s: string): PluginVersion {
  if (typeof s !== 'string') {
    throw new InvalidVersionError(`parsing version: expected a string, got ${describeType(s)}`, {
      version: String(s),
    });
  }
  const reason = problem(s);
  if (reason !== undefined) throw new InvalidVersionError(`parsing version: ${reason}`, { version: s });
  return s as PluginVersion;
}

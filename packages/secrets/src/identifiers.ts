// Secret IDs and patterns: the HEAD grammar of protocol.md §6.1 and §6.2 (`:` allowed). Like Go we
// check character by character, without a regex, but we report the first problem and where it is.
import { InvalidIdError, InvalidPatternError } from './errors.js';
import { MAX_ID_COMPONENTS, MAX_ID_LENGTH } from './limits.js';
import { describeType, goQuoteClipped, positionOf, quoteCharAt } from './quote.js';

/**
 * A validated secret identifier: one or more `/`-separated components of `A-Z a-z 0-9 . _ - :`,
 * at most `MAX_ID_LENGTH` characters and `MAX_ID_COMPONENTS` components.
 * It is a plain string at runtime (comparable, usable as a map key); the brand only exists for
 * the type checker. Get one from `parseId`.
 */
export type SecretId = string & { readonly __brand: 'SecretId' };

/**
 * A validated secret pattern: like an ID (same limits), but a component may also be `*` (exactly
 * one component) or `**` (zero or more components). A plain string at runtime. Get one from `parsePattern`.
 */
export type SecretPattern = string & { readonly __brand: 'SecretPattern' };

/** The regular expression Go prints in its `ErrInvalidID` message (HEAD). */
export const ID_REGEXP_TEXT = '^[A-Za-z0-9._:-]+(?:/[A-Za-z0-9._:-]+)*$';

const SLASH = 0x2f;
const STAR = 0x2a;

function isIdCharCode(c: number): boolean {
  return (
    (c >= 0x41 && c <= 0x5a) || // A-Z
    (c >= 0x61 && c <= 0x7a) || // a-z
    (c >= 0x30 && c <= 0x39) || // 0-9
    c === 0x2e || // .
    c === 0x5f || // _
    c === 0x2d || // -
    c === 0x3a // :
  );
}

function emptyComponent(s: string, i: number, component: number): string {
  if (i === 0) return `component 1 is empty because of a leading '/'`;
  if (i === s.length) return `component ${component} is empty because of a trailing '/'`;
  return `component ${component} is empty because of '//' at position ${positionOf(s, i - 1)}`;
}

/**
 * Why `s` is not a valid ID (or pattern, with `wildcards`), or undefined if it is valid. The size
 * limits come first: the length in O(1), the components in one scan of at most MAX_ID_LENGTH.
 */
function problem(s: string, wildcards: boolean): string | undefined {
  const what = wildcards ? 'pattern' : 'identifier';
  if (s.length === 0) return `the ${what} is empty`;
  if (s.length > MAX_ID_LENGTH)
    return `the ${what} is ${s.length} characters long; at most ${MAX_ID_LENGTH} are allowed`;
  let components = 1;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) === SLASH) components++;
  if (components > MAX_ID_COMPONENTS)
    return `the ${what} has ${components} components; at most ${MAX_ID_COMPONENTS} are allowed`;
  let component = 1;
  let start = 0;
  let stars = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i === s.length ? SLASH : s.charCodeAt(i);
    if (c === SLASH) {
      const length = i - start;
      if (length === 0) return emptyComponent(s, i, component);
      if (stars > 0 && stars !== length) return `component ${component} mixes '*' with other characters`;
      if (stars > 2) return `component ${component} has ${stars} '*' but a wildcard component is '*' or '**'`;
      component++;
      start = i + 1;
      stars = 0;
    } else if (c === STAR && wildcards) {
      stars++;
    } else if (!isIdCharCode(c)) {
      const where = `character ${quoteCharAt(s, i)} at position ${positionOf(s, i)} is not allowed`;
      return c === STAR ? `${where} in an identifier, only in patterns` : where;
    }
  }
  return undefined;
}

/** True if `s` is a valid secret ID (protocol.md §6.1). Never throws. */
export function isValidId(s: unknown): s is SecretId {
  return typeof s === 'string' && problem(s, false) === undefined;
}

/** True if `s` is a valid secret pattern (protocol.md §6.2). Never throws. */
export function isValidPattern(s: unknown): s is SecretPattern {
  return typeof s === 'string' && problem(s, true) === undefined;
}

/**
 * Validates a secret ID (protocol.md §6.1). Returns the same string, branded; throws
 * `InvalidIdError` whose message starts like Go's and ends with the reason.
 */
export function parseId(s: string): SecretId {
  if (typeof s !== 'string') {
    const reason = `expected a string, got ${describeType(s)}`;
    throw new InvalidIdError(`invalid identifier: ${String(s)} must match ${ID_REGEXP_TEXT} (${reason})`, {
      id: String(s),
      reason,
    });
  }
  const reason = problem(s, false);
  if (reason !== undefined) {
    throw new InvalidIdError(
      `invalid identifier: ${goQuoteClipped(s)} must match ${ID_REGEXP_TEXT} (${reason})`,
      {
        id: s,
        reason,
      },
    );
  }
  return s as SecretId;
}

/**
 * Validates a secret pattern (protocol.md §6.2). Returns the same string, branded; throws
 * `InvalidPatternError` with a message like `invalid pattern "foo/*a": component 2 mixes '*' with other characters`.
 */
export function parsePattern(s: string): SecretPattern {
  if (typeof s !== 'string') {
    const reason = `expected a string, got ${describeType(s)}`;
    throw new InvalidPatternError(`invalid pattern ${String(s)}: ${reason}`, { pattern: String(s), reason });
  }
  const reason = problem(s, true);
  if (reason !== undefined) {
    throw new InvalidPatternError(`invalid pattern ${goQuoteClipped(s)}: ${reason}`, { pattern: s, reason });
  }
  return s as SecretPattern;
}

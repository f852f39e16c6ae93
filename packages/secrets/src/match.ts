// Matching, inclusion, filtering and expansion of patterns: protocol.md §6.3, with Go's exact
// semantics and quirks (x/secrets `match`), computed without exponential backtracking.
import { ExpandError } from './errors.js';
import { parseId, parsePattern, type SecretId, type SecretPattern } from './identifiers.js';

/**
 * Go's `match(pattern, path)` over `/`-split components, as a dynamic programme over
 * (pattern index, path index). Go backtracks recursively at every `**`, which is exponential in
 * the number of `**` components of an untrusted request; the answer here is the same (the
 * recursion is a pure function of the two indices) in O(|pattern| × |path|).
 *
 * Semantics, per component:
 * - a literal must equal the path component, **or the path component is literally `*`** (quirk:
 *   only reachable from `includes`, where the other pattern is the path);
 * - `*` consumes exactly one path component (any, including `*` and `**`);
 * - `**` consumes zero or more path components; at the end it matches everything remaining;
 * - trailing `**` may match nothing; both sides must be fully consumed.
 *
 * Not exported from the package index; the tests compare it with a direct port of Go's matcher.
 * @internal
 */
export function matchComponents(pattern: readonly string[], path: readonly string[]): boolean {
  const P = pattern.length;
  const S = path.length;
  // Fast path: no `**`, so a component-by-component walk is exact.
  if (!pattern.includes('**')) {
    if (P !== S) return false;
    for (let i = 0; i < P; i++) {
      const p = pattern[i]!;
      if (p !== '*' && p !== path[i] && path[i] !== '*') return false;
    }
    return true;
  }
  // next[s] = f(pi + 1, s); row P: f(P, s) = (s === S).
  let next = new Uint8Array(S + 1);
  next[S] = 1;
  let cur = new Uint8Array(S + 1);
  let tailAllGlobstar = true; // pattern[pi..] are all `**`
  for (let pi = P - 1; pi >= 0; pi--) {
    const p = pattern[pi]!;
    tailAllGlobstar &&= p === '**';
    // f(pi, S): the path is exhausted; only trailing `**` remain to skip.
    cur[S] = tailAllGlobstar ? 1 : 0;
    if (p === '**') {
      if (pi + 1 === P) {
        cur.fill(1, 0, S);
      } else {
        // f(pi, s) = OR over t in [s, S] of f(pi + 1, t)
        let any = next[S]!;
        for (let s = S - 1; s >= 0; s--) {
          any |= next[s]!;
          cur[s] = any;
        }
      }
    } else {
      for (let s = 0; s < S; s++) {
        cur[s] = p === '*' || p === path[s] || path[s] === '*' ? next[s + 1]! : 0;
      }
    }
    [next, cur] = [cur, next];
  }
  return next[0] === 1;
}

function split(s: string): string[] {
  return s.split('/');
}

/**
 * True if `id` matches `pattern` (protocol.md §6.3, Go `Pattern.Match`). Both arguments are
 * validated; an invalid one throws `InvalidPatternError` / `InvalidIdError`.
 */
export function match(pattern: string, id: string): boolean {
  return matchComponents(split(parsePattern(pattern)), split(parseId(id)));
}

/**
 * Go's `Pattern.Includes`: runs the matcher with `other`'s components as the path. Meant as
 * "every match of `other` is a match of `pattern`", but the matcher's quirks make it an
 * approximation (protocol.md §6.3): a literal in `pattern` accepts a `*` in `other`
 * (`includes("foo/bar", "foo/*")` is true), and a `*` in `pattern` accepts a `**` in `other`
 * (`includes("*", "**")` is true).
 */
export function includes(pattern: string, other: string): boolean {
  return matchComponents(split(parsePattern(pattern)), split(parsePattern(other)));
}

/**
 * Go's `Filter`: `other` if `filterPattern` includes it, else `filterPattern` if `other` includes
 * it, else undefined ("no overlap"). The engine sends each plugin this narrowed pattern
 * (protocol.md §6.4). Not a true intersection: for a filter `foo/**` and a request made of `**`
 * then `bar`, the result is undefined although `foo/bar` matches both.
 */
export function filter(filterPattern: string, other: string): SecretPattern | undefined {
  const f = parsePattern(filterPattern);
  const o = parsePattern(other);
  const fParts = split(f);
  const oParts = split(o);
  if (matchComponents(fParts, oParts)) return o;
  if (matchComponents(oParts, fParts)) return f;
  return undefined;
}

function replaceGlobstar(pattern: string, replacement: string): string {
  const parts = split(pattern);
  let at = -1;
  let globs = 0;
  for (let i = 0; i < parts.length; i++) {
    if (parts[i] === '**') {
      globs++;
      at = i;
    }
  }
  if (globs !== 1) {
    throw new ExpandError(`expand only supports one expansion glob, pattern ${pattern} has ${globs}`, {
      pattern,
      globs,
    });
  }
  parts[at] = replacement;
  return parts.join('/');
}

/**
 * Replaces the single `**` component of `pattern` with `id` (Go `Pattern.ExpandID`):
 * `expandId("foo/bar/**", "baz")` is `foo/bar/baz`. Throws `ExpandError` if the pattern has zero
 * or several `**`, and `InvalidIdError` if the result is not an ID (the pattern also has a `*`
 * component).
 */
export function expandId(pattern: string, id: string): SecretId {
  return parseId(replaceGlobstar(parsePattern(pattern), parseId(id)));
}

/**
 * Replaces the single `**` component of `pattern` with `other` (Go `Pattern.ExpandPattern`):
 * `expandPattern("foo/**", "bar/*")` is `foo/bar/*`. Throws `ExpandError` if the pattern has zero
 * or several `**`.
 */
export function expandPattern(pattern: string, other: string): SecretPattern {
  return replaceGlobstar(parsePattern(pattern), parsePattern(other)) as SecretPattern;
}

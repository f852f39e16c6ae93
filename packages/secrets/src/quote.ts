// Go-style quoting for error messages (internal). `goQuote` follows strconv.Quote (`%q` on a
// string), so our messages read like the Go peer's; `quoteChar` follows `%q` on a rune.

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;

function escapeCodePoint(cp: number, quote: '"' | "'"): string {
  switch (cp) {
    case 0x07:
      return '\\a';
    case 0x08:
      return '\\b';
    case 0x0c:
      return '\\f';
    case 0x0a:
      return '\\n';
    case 0x0d:
      return '\\r';
    case 0x09:
      return '\\t';
    case 0x0b:
      return '\\v';
    case 0x5c:
      return '\\\\';
  }
  const ch = String.fromCodePoint(cp);
  if (ch === quote) return `\\${quote}`;
  if (cp === 0x20 || (cp > 0x20 && cp < 0x7f)) return ch;
  if (cp < 0x80) return `\\x${cp.toString(16).padStart(2, '0')}`;
  // A lone surrogate reaches a Go peer as U+FFFD (UTF-8 encoders replace it).
  if (cp >= 0xd800 && cp <= 0xdfff) return '\ufffd';
  if (PRINTABLE.test(ch)) return ch;
  return cp <= 0xffff ? `\\u${cp.toString(16).padStart(4, '0')}` : `\\U${cp.toString(16).padStart(8, '0')}`;
}

/** `"…"` with Go's escapes (strconv.Quote for valid UTF-8). */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) out += escapeCodePoint(ch.codePointAt(0)!, '"');
  return `${out}"`;
}

/** How much of an over-long input an error message quotes, in characters. */
export const QUOTE_MAX_CHARS = 64;

/**
 * `goQuote(s)` for input of a sensible length; for a longer one, its first `QUOTE_MAX_CHARS`
 * characters quoted and then `…`, so that a megabyte of input never becomes a megabyte of message.
 */
export function goQuoteClipped(s: string): string {
  if (s.length <= QUOTE_MAX_CHARS) return goQuote(s);
  let end = QUOTE_MAX_CHARS;
  // Never cut a surrogate pair in half.
  const c = s.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end--;
  return `${goQuote(s.slice(0, end))}…`;
}

/** `'c'` with Go's escapes, for the character at code-unit index `i` of `s`. */
export function quoteCharAt(s: string, i: number): string {
  return `'${escapeCodePoint(s.codePointAt(i)!, "'")}'`;
}

/** The 1-based position, counted in characters (code points), of code-unit index `i`. */
export function positionOf(s: string, i: number): number {
  let n = 1;
  for (let j = 0; j < i; j++) {
    const c = s.charCodeAt(j);
    // Skip the low half of a surrogate pair.
    if (c >= 0xd800 && c <= 0xdbff && j + 1 < i) {
      const d = s.charCodeAt(j + 1);
      if (d >= 0xdc00 && d <= 0xdfff) j++;
    }
    n++;
  }
  return n;
}

/** For messages about non-string input from untyped callers. */
export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object'
    ? `an object (${Object.prototype.toString.call(value).slice(8, -1)})`
    : typeof value;
}

// Plugin names (protocol.md §5.1, Go `api.NewName`). Go only refuses the empty name; we also refuse
// what would corrupt logs, socket paths or the registry's name order: control characters, the
// characters that reorder or break lines in a terminal (bidirectional controls, line and paragraph
// separators: issue 12 item 8) and '/'.
import { InvalidPluginNameError } from './errors.js';
import { MAX_PLUGIN_NAME_BYTES, utf8Length } from './limits.js';
import { describeType, goQuote, goQuoteClipped, positionOf, quoteCharAt } from './quote.js';

/** A validated plugin name. A plain string at runtime; get one from `parsePluginName`. */
export type PluginName = string & { readonly __brand: 'PluginName' };

function isControl(c: number): boolean {
  return c < 0x20 || (c >= 0x7f && c <= 0x9f);
}

/** U+200E/F marks, U+202A–U+202E embeddings and overrides, U+2066–U+2069 isolates, U+061C. */
function isBidi(c: number): boolean {
  return (
    c === 0x200e ||
    c === 0x200f ||
    (c >= 0x202a && c <= 0x202e) ||
    (c >= 0x2066 && c <= 0x2069) ||
    c === 0x061c
  );
}

function problem(s: string): string | undefined {
  if (s.length === 0) return 'empty name';
  // A UTF-16 code unit is at least one UTF-8 byte: only a short enough string needs counting.
  if (s.length > MAX_PLUGIN_NAME_BYTES || utf8Length(s) > MAX_PLUGIN_NAME_BYTES) {
    return `${goQuoteClipped(s)} is ${utf8Length(s)} bytes long (UTF-8); a plugin name is at most ${MAX_PLUGIN_NAME_BYTES}`;
  }
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (isControl(c)) {
      return `${goQuote(s)} has the control character ${quoteCharAt(s, i)} at position ${positionOf(s, i)}`;
    }
    if (isBidi(c)) {
      return `${goQuote(s)} has the bidirectional control ${quoteCharAt(s, i)} at position ${positionOf(s, i)} (it would reorder what a terminal shows)`;
    }
    if (c === 0x2028 || c === 0x2029) {
      return `${goQuote(s)} has the line separator ${quoteCharAt(s, i)} at position ${positionOf(s, i)}`;
    }
    if (c === 0x2f) {
      return `${goQuote(s)} has '/' at position ${positionOf(s, i)} (a plugin name is one path component)`;
    }
  }
  return undefined;
}

/** True if `s` is a valid plugin name. Never throws. */
export function isValidPluginName(s: unknown): s is PluginName {
  return typeof s === 'string' && problem(s) === undefined;
}

/**
 * Validates a plugin name: non-empty (Go: `parsing name: empty name`), at most
 * `MAX_PLUGIN_NAME_BYTES` bytes of UTF-8, no control characters
 * (U+0000–U+001F, U+007F–U+009F), no bidirectional controls, no line or paragraph separator and
 * no `/`. Returns the same string, branded; throws
 * `InvalidPluginNameError`.
 */
export function parsePluginName(s: string): PluginName {
  if (typeof s !== 'string') {
    throw new InvalidPluginNameError(`parsing name: expected a string, got ${describeType(s)}`, {
      pluginName: String(s),
    });
  }
  const reason = problem(s);
  if (reason !== undefined) throw new InvalidPluginNameError(`parsing name: ${reason}`, { pluginName: s });
  return s as PluginName;
}

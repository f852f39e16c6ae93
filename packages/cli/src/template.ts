// The template language of `inject`: `{{ se://ID }}` references in any text (or bytes).
//
// - A reference is `{{`, optional spaces or tabs, `se://`, an exact secret ID, optional spaces or
//   tabs, `}}`. Anything else passes through byte for byte, including every other `{{` (Helm,
//   Jinja, GitHub Actions `${{ }}` need no escaping).
// - Once `{{`, blanks and `se://` are seen, the rest must be a valid reference: a pattern, an
//   invalid ID or a missing `}}` is an error with its line and column, never left as text.
// - Escape: backslashes right before a reference's `{{` pair up. `\{{ se://x }}` is the literal
//   text `{{ se://x }}`; `\\{{ se://x }}` is one backslash followed by the value. Backslashes
//   anywhere else are left alone.
//
// The template is handled as bytes (IDs are ASCII, protocol.md §6.1), so a template that is not
// UTF-8 keeps every byte it had.
import { isValidPattern, parseId, type SecretId } from '@secrets-engine/secrets';

/** A piece of the rendered output: bytes of the template, or the value of a reference. */
export type Segment =
  | { kind: 'text'; bytes: Uint8Array }
  | { kind: 'reference'; id: SecretId; line: number; column: number; source: string };

/** A malformed reference, with where it starts (1-based line, column in characters). */
export interface TemplateProblem {
  line: number;
  column: number;
  /** The reference as written (clipped to 64 characters). */
  source: string;
  reason: string;
}

export interface ParsedTemplate {
  segments: Segment[];
  problems: TemplateProblem[];
}

const OPEN = 0x7b; // {
const CLOSE = 0x7d; // }
const BACKSLASH = 0x5c;
const SPACE = 0x20;
const TAB = 0x09;
const NEWLINE = 0x0a;
const PREFIX = [0x73, 0x65, 0x3a, 0x2f, 0x2f]; // se://

const isBlank = (c: number | undefined) => c === SPACE || c === TAB;

/** Parses `template`; every problem is reported, not only the first. */
export function parseTemplate(template: Uint8Array): ParsedTemplate {
  const segments: Segment[] = [];
  const problems: TemplateProblem[] = [];
  const bytes = template;
  let textStart = 0;
  const pushText = (end: number) => {
    if (end > textStart) segments.push({ kind: 'text', bytes: bytes.subarray(textStart, end) });
  };
  const where = positions(bytes);
  let i = 0;
  while (i < bytes.length - 1) {
    if (bytes[i] !== OPEN || bytes[i + 1] !== OPEN) {
      i++;
      continue;
    }
    // `{{`: a reference only if blanks and `se://` follow.
    let j = i + 2;
    while (isBlank(bytes[j])) j++;
    if (!startsWith(bytes, j, PREFIX)) {
      i++;
      continue;
    }
    const idStart = j + PREFIX.length;
    // Backslashes right before `{{` pair up; an odd one out makes it literal.
    let slashes = 0;
    while (i - slashes - 1 >= textStart && bytes[i - slashes - 1] === BACKSLASH) slashes++;
    if (slashes > 0) {
      pushText(i - slashes + Math.floor(slashes / 2));
      textStart = i;
      if (slashes % 2 === 1) {
        // Literal: keep `{{ se://` as text and go on after it.
        i = idStart;
        continue;
      }
    } else {
      pushText(i);
    }
    const { line, column } = where(i);
    // The ID runs to a blank, a `}` or the end of the line.
    let k = idStart;
    while (k < bytes.length && !isBlank(bytes[k]) && bytes[k] !== CLOSE && bytes[k] !== NEWLINE) k++;
    const idEnd = k;
    while (isBlank(bytes[k])) k++;
    const closed = bytes[k] === CLOSE && bytes[k + 1] === CLOSE;
    const end = closed ? k + 2 : idEnd;
    const source = clip(latin1(bytes.subarray(i, end)));
    const id = latin1(bytes.subarray(idStart, idEnd));
    const reason = closed ? idProblem(id) : `no closing '}}' after the ID on the same line`;
    if (reason === undefined) {
      segments.push({ kind: 'reference', id: id as SecretId, line, column, source });
    } else {
      problems.push({ line, column, source, reason });
    }
    i = end;
    textStart = end;
  }
  textStart = Math.min(textStart, bytes.length);
  pushText(bytes.length);
  return { segments, problems };
}

/** Why `id` cannot be a reference's ID, or undefined. */
function idProblem(id: string): string | undefined {
  if (id === '') return 'the ID is empty';
  if (id.includes('*') && isValidPattern(id)) {
    return 'a pattern is not allowed: a reference names one exact secret ID';
  }
  try {
    parseId(id);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

function startsWith(bytes: Uint8Array, at: number, prefix: readonly number[]): boolean {
  if (at + prefix.length > bytes.length) return false;
  for (let n = 0; n < prefix.length; n++) if (bytes[at + n] !== prefix[n]) return false;
  return true;
}

/**
 * 1-based line and column (in UTF-8 characters) of a byte offset; offsets must not decrease from
 * one call to the next (one pass over the template, however many references it has).
 */
function positions(bytes: Uint8Array): (at: number) => { line: number; column: number } {
  let scanned = 0;
  let line = 1;
  let column = 1;
  return (at) => {
    for (; scanned < at; scanned++) {
      const b = bytes[scanned] ?? 0;
      if (b === NEWLINE) {
        line++;
        column = 1;
      } else if ((b & 0xc0) !== 0x80) {
        // Continuation bytes (10xxxxxx) do not start a character.
        column++;
      }
    }
    return { line, column };
  };
}

/** Bytes as text, one character per byte (IDs are ASCII; anything else is shown, escaped later). */
function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

function clip(text: string): string {
  return text.length <= 64 ? text : `${text.slice(0, 64)}…`;
}

/** The output: text segments as they are, each reference replaced by `values.get(id)`. */
export function renderTemplate(
  segments: readonly Segment[],
  values: ReadonlyMap<string, Uint8Array>,
): Buffer {
  const parts: Uint8Array[] = [];
  for (const s of segments) {
    if (s.kind === 'text') parts.push(s.bytes);
    else {
      const value = values.get(s.id);
      if (value === undefined) throw new Error(`renderTemplate: no value for ${s.id}`);
      parts.push(value);
    }
  }
  return Buffer.concat(parts);
}

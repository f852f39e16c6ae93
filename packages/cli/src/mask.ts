// Masking of secret values in `run`'s output (issue 16 item 1): the command's stdout and stderr
// pass through a Masker, which replaces every occurrence of a value, and of its obvious encodings,
// with CONCEALED. Bytes, not text: a value split in the middle of a UTF-8 character is still found.
//
// Streaming: a value may arrive split across writes, so the end of a chunk that could be the start
// of a value is held back (at most the longest form minus one byte) until the next chunk shows
// whether it is, or until the stream has been idle for IDLE_FLUSH_MS (interactive output is never
// stuck), or at the end. Output that cannot start a value is passed on at once.
import { Transform, type TransformCallback } from 'node:stream';

export const CONCEALED = '<concealed by secrets-engine>';
/** Values shorter than this (in UTF-8 bytes) are not masked: they would mask ordinary output. */
export const MIN_MASKED_BYTES = 3;
/** A held-back partial match is passed on after this long without more output. */
export const IDLE_FLUSH_MS = 100;

/**
 * The byte strings that stand for `value` in output: the value itself; its base64 in the standard
 * and URL-safe alphabets, padded or not, also at the two other alignments inside a longer base64
 * text (the characters that depend on the value alone); its hex (lower and upper case); its
 * percent-encoding (encodeURIComponent) and its JSON string escaping, when they differ. Forms
 * shorter than MIN_MASKED_BYTES are left out.
 */
export function maskForms(value: Uint8Array): Buffer[] {
  const raw = Buffer.from(value);
  if (raw.length < MIN_MASKED_BYTES) return [];
  const forms = new Set<string>();
  const add = (b: Buffer) => {
    if (b.length >= MIN_MASKED_BYTES) forms.add(b.toString('latin1'));
  };
  add(raw);
  for (const encoding of ['base64', 'base64url'] as const) {
    add(Buffer.from(raw.toString(encoding).replace(/=+$/, ''), 'latin1'));
    // Inside a longer base64 text the value starts at one of three offsets in a 3-byte group.
    // Skipping `skip` leading bytes puts the rest on a group boundary; the whole groups of what is
    // left encode to characters that depend on the value only.
    for (let skip = 0; skip < 3; skip++) {
      const rest = raw.subarray(skip);
      const whole = rest.subarray(0, rest.length - (rest.length % 3));
      if (whole.length >= 3) add(Buffer.from(whole.toString(encoding), 'latin1'));
    }
  }
  add(Buffer.from(raw.toString('hex'), 'latin1'));
  add(Buffer.from(raw.toString('hex').toUpperCase(), 'latin1'));
  const text = new TextDecoder('utf-8', { fatal: false }).decode(raw);
  if (Buffer.from(text, 'utf8').equals(raw)) {
    add(Buffer.from(encodeURIComponent(text), 'utf8'));
    add(Buffer.from(JSON.stringify(text).slice(1, -1), 'utf8'));
  }
  return [...forms].map((f) => Buffer.from(f, 'latin1'));
}

/**
 * Finds and replaces the forms in a stream of chunks. Pure: no timers, no I/O. One pass over the
 * bytes: the forms are indexed by their first two bytes (every form has at least three), so a
 * position costs one table look-up unless a form starts with those two bytes.
 */
export class MaskMatcher {
  /** Forms by their first two bytes (b0 << 8 | b1), longest first. */
  readonly #byPrefix: (Buffer[] | undefined)[] = new Array(65536);
  /** Whether some form starts with this byte. */
  readonly #firstByte = new Uint8Array(256);
  readonly #count: number;
  readonly #longest: number;
  readonly #replacement: Buffer;
  #held: Buffer = Buffer.alloc(0);

  constructor(values: Iterable<Uint8Array>, replacement: string = CONCEALED) {
    const all = new Map<string, Buffer>();
    for (const value of values) for (const form of maskForms(value)) all.set(form.toString('latin1'), form);
    // Longest first: at one position the longest form wins (a value and a longer one it starts).
    const forms = [...all.values()].sort((a, b) => b.length - a.length);
    for (const form of forms) {
      const key = (form[0]! << 8) | form[1]!;
      const bucket = this.#byPrefix[key];
      if (bucket === undefined) this.#byPrefix[key] = [form];
      else bucket.push(form);
      this.#firstByte[form[0]!] = 1;
    }
    this.#count = forms.length;
    this.#longest = forms[0]?.length ?? 0;
    this.#replacement = Buffer.from(replacement, 'utf8');
  }

  /** Whether there is anything to mask at all. */
  get empty(): boolean {
    return this.#count === 0;
  }

  /** How many bytes are held back now. */
  get held(): number {
    return this.#held.length;
  }

  /** What of `chunk` (after what was held) can be passed on now; the rest is held. */
  push(chunk: Uint8Array): Buffer {
    const data = this.#held.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.#held, chunk]);
    // Where a value may begin that the data so far does not complete: nothing from there on is
    // passed on, not even a shorter value inside it (it may be the middle of the longer one).
    const partial = this.#partialStart(data, 0);
    const { out, end } = this.#replace(data, partial);
    const hold = end > partial ? this.#partialStart(data, end) : partial;
    this.#held = Buffer.from(data.subarray(hold));
    const rest = data.subarray(end, hold);
    return out.length === 0 ? Buffer.from(rest) : Buffer.concat([...out, rest]);
  }

  /** Everything held, as is: the stream ended or went idle. */
  flush(): Buffer {
    const held = this.#held;
    this.#held = Buffer.alloc(0);
    return held;
  }

  /**
   * Replaces every complete form in `data` that starts before `limit`, leftmost first. Returns the
   * output pieces and where the unreplaced remainder starts (everything before it is in `out`).
   */
  #replace(data: Buffer, limit: number): { out: Buffer[]; end: number } {
    const out: Buffer[] = [];
    if (this.#count === 0) return { out, end: 0 };
    let pos = 0;
    const last = Math.min(limit, data.length - 1);
    for (let i = 0; i < last; ) {
      const forms = this.#byPrefix[(data[i]! << 8) | data[i + 1]!];
      let length = 0;
      if (forms !== undefined) {
        for (const form of forms) {
          if (
            i + form.length <= data.length &&
            data.compare(form, 0, form.length, i, i + form.length) === 0
          ) {
            length = form.length;
            break;
          }
        }
      }
      if (length === 0) {
        i++;
        continue;
      }
      out.push(data.subarray(pos, i), this.#replacement);
      i += length;
      pos = i;
    }
    return { out, end: pos };
  }

  /**
   * The earliest position at or after `from` where the rest of `data` is the start of some form
   * (and not all of it), or data.length. At most the longest form minus one byte from the end.
   */
  #partialStart(data: Buffer, from: number): number {
    for (let start = Math.max(from, data.length - this.#longest + 1); start < data.length; start++) {
      const length = data.length - start;
      if (length === 1) return this.#firstByte[data[start]!] === 1 ? start : data.length;
      const forms = this.#byPrefix[(data[start]! << 8) | data[start + 1]!];
      if (forms === undefined) continue;
      for (const form of forms) {
        if (form.length > length && data.compare(form, 0, length, start, data.length) === 0) return start;
      }
    }
    return data.length;
  }
}

/**
 * A Transform that masks what passes through it, passing a held-back partial match on after
 * IDLE_FLUSH_MS without more input, and at the end.
 */
export function maskingStream(matcher: MaskMatcher, idleFlushMs: number = IDLE_FLUSH_MS): Transform {
  let timer: NodeJS.Timeout | undefined;
  let chunks = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback) {
      chunks++;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      const out = matcher.push(chunk);
      if (out.length > 0) this.push(out);
      if (matcher.held > 0) {
        timer = setTimeout(() => {
          timer = undefined;
          // Timers run before I/O in an event-loop turn: when this process was not scheduled for
          // a while, the rest of a value may be waiting in the pipe already. Flush after this
          // turn's I/O (setImmediate), and only if no chunk came in meanwhile.
          const seen = chunks;
          setImmediate(() => {
            if (chunks !== seen) return;
            const held = matcher.flush();
            if (held.length > 0) stream.push(held);
          });
        }, idleFlushMs);
      }
      done();
    },
    flush(done: TransformCallback) {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      const held = matcher.flush();
      if (held.length > 0) this.push(held);
      done();
    },
  });
  return stream;
}

// The masker on its own: every form of a value is replaced wherever the chunk boundaries fall, and
// output that cannot start a value is never held back.
import { describe, expect, it } from 'vitest';
import { CONCEALED, MaskMatcher, maskForms, maskingStream } from './mask.js';

const enc = (s: string) => Buffer.from(s, 'utf8');

/** Feeds `text` to a fresh matcher cut at `cuts`, returns the whole output. */
function masked(values: string[], text: string, cuts: number[] = []): string {
  const m = new MaskMatcher(values.map(enc));
  const bytes = enc(text);
  const parts: Buffer[] = [];
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    parts.push(m.push(bytes.subarray(at, cut)));
    at = cut;
  }
  parts.push(m.flush());
  return Buffer.concat(parts).toString('utf8');
}

describe('MaskMatcher', () => {
  it('replaces a value at every split point, and never leaks a byte of it', () => {
    const text = 'before s3cr3t-db-pw after';
    for (let i = 0; i <= text.length; i++) {
      for (let j = i; j <= text.length; j++) {
        expect(masked(['s3cr3t-db-pw'], text, [i, j])).toBe(`before ${CONCEALED} after`);
      }
    }
  });

  it('feeds byte by byte', () => {
    const text = 'x naïve ✓ 🔑 y naïve ✓ 🔑';
    const cuts = [...enc(text).keys()].slice(1);
    expect(masked(['naïve ✓ 🔑'], text, cuts)).toBe(`x ${CONCEALED} y ${CONCEALED}`);
  });

  it('holds back only a tail that can start a value', () => {
    const m = new MaskMatcher([enc('s3cr3t-db-pw')]);
    expect(m.push(enc('prompt> ')).toString()).toBe('prompt> ');
    expect(m.held).toBe(0);
    expect(m.push(enc('ok s3cr')).toString()).toBe('ok ');
    expect(m.held).toBe(4);
    expect(m.push(enc('x')).toString()).toBe('s3crx');
    expect(m.held).toBe(0);
  });

  it('never holds more than the longest form minus one byte', () => {
    const value = 'aaaaaaaaab';
    const m = new MaskMatcher([enc(value)]);
    const longest = Math.max(...maskForms(enc(value)).map((f) => f.length));
    for (let i = 0; i < 50; i++) {
      m.push(enc('a'));
      expect(m.held).toBeLessThan(longest);
    }
  });

  it('masks the longer value when one value starts another, and a shorter one inside a longer', () => {
    expect(masked(['abc', 'abcdef'], 'xabcdefy abcz', [3])).toBe(`x${CONCEALED}y ${CONCEALED}z`);
    expect(masked(['cde', 'abcdefgh'], '_abcdefgh_', [5])).toBe(`_${CONCEALED}_`);
    expect(masked(['cde', 'abcdefgh'], '_abcdeX', [5])).toBe(`_ab${CONCEALED}X`);
  });

  it('masks base64 (standard, URL-safe, padded or not, inside longer base64), hex, URL and JSON forms', () => {
    const value = 'p4ss>?~wörd"\n';
    const raw = enc(value);
    const cases = [
      raw.toString('base64'),
      raw.toString('base64url'),
      raw.toString('hex'),
      raw.toString('hex').toUpperCase(),
      encodeURIComponent(value),
      JSON.stringify(value),
    ];
    for (const form of cases) expect(masked([value], `[${form}]`, [4])).not.toContain(form.slice(1, -1));
    // In the middle of a longer base64 text, at each of the three alignments.
    for (const before of ['', 'a', 'ab', 'abc']) {
      const b64 = Buffer.concat([enc(before), raw, enc('tail')]).toString('base64');
      const out = masked([value], b64);
      expect(out).toContain(CONCEALED);
      // At most the characters shared with the bytes around it are left: fewer than 8.
      expect(out.replace(CONCEALED, '').length).toBeLessThan(b64.length - raw.length);
    }
  });

  it('does not mask values shorter than 3 bytes', () => {
    expect(new MaskMatcher([enc('ab'), enc('')]).empty).toBe(true);
    expect(masked(['ab', 'xyz'], 'ab xyz')).toBe(`ab ${CONCEALED}`);
  });

  it('masks binary values byte for byte', () => {
    const value = Buffer.from([0x00, 0xff, 0xfe, 0x41, 0x0a]);
    const m = new MaskMatcher([value]);
    const out = Buffer.concat([
      m.push(Buffer.from([0x01, 0x00, 0xff])),
      m.push(Buffer.from([0xfe, 0x41, 0x0a, 0x02])),
      m.flush(),
    ]);
    expect(out).toEqual(Buffer.concat([Buffer.from([0x01]), enc(CONCEALED), Buffer.from([0x02])]));
  });
});

describe('maskingStream', () => {
  it('lets a held-back tail through when nothing more comes, without the stream ending', async () => {
    const stream = maskingStream(new MaskMatcher([enc('s3cr3t-db-pw')]), 10);
    let out = '';
    const shown = new Promise<void>((resolve) =>
      stream.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('s3cr')) resolve();
      }),
    );
    stream.write('prompt s3cr');
    await shown;
    expect(out).toBe('prompt s3cr');
    stream.end('3t-db-pw');
  });

  it('masks a value split across writes and flushes at the end', async () => {
    const stream = maskingStream(new MaskMatcher([enc('s3cr3t-db-pw')]));
    const chunks: Buffer[] = [];
    stream.on('data', (d: Buffer) => chunks.push(d));
    const ended = new Promise((resolve) => stream.once('end', resolve));
    stream.write('a s3cr3t');
    stream.write('-db-pw b s3');
    stream.end();
    await ended;
    expect(Buffer.concat(chunks).toString()).toBe(`a ${CONCEALED} b s3`);
  });
});

describe('MaskMatcher against a whole-buffer reference', () => {
  /** Leftmost-longest replacement over the whole text at once. */
  function reference(forms: Buffer[], data: Buffer): Buffer {
    const sorted = [...forms].sort((a, b) => b.length - a.length);
    const out: Buffer[] = [];
    let pos = 0;
    for (let i = 0; i < data.length; ) {
      const form = sorted.find(
        (f) =>
          data.compare(f, 0, f.length, i, Math.min(data.length, i + f.length)) === 0 &&
          i + f.length <= data.length,
      );
      if (form === undefined) {
        i++;
        continue;
      }
      out.push(data.subarray(pos, i), Buffer.from(CONCEALED));
      i += form.length;
      pos = i;
    }
    out.push(data.subarray(pos));
    return Buffer.concat(out);
  }

  it('gives the same output for any chunking (seeded random texts over a small alphabet)', () => {
    let seed = 42;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const word = (n: number) => Array.from({ length: n }, () => 'abc'[Math.floor(random() * 3)]).join('');
    for (let round = 0; round < 300; round++) {
      const values = Array.from({ length: 1 + Math.floor(random() * 3) }, () =>
        enc(word(3 + Math.floor(random() * 5))),
      );
      const data = enc(word(40 + Math.floor(random() * 80)));
      const m = new MaskMatcher(values);
      const forms = values.flatMap((v) => maskForms(v));
      const parts: Buffer[] = [];
      for (let at = 0; at < data.length; ) {
        const next = Math.min(data.length, at + 1 + Math.floor(random() * 9));
        parts.push(m.push(data.subarray(at, next)));
        at = next;
      }
      parts.push(m.flush());
      expect(Buffer.concat(parts).toString(), `values ${values.map(String)} data ${data}`).toBe(
        reference(forms, data).toString(),
      );
    }
  });
});

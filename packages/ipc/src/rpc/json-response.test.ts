// JSON responses with large bytes fields (issue 12 item 7): the body is byte for byte what
// toJsonString writes, the message is left as it was, and writing yields to the event loop.
import { Writable } from 'node:stream';
import { create, toJsonString } from '@bufbuild/protobuf';
import { resolverv1 } from '@secrets-engine/proto';
import { describe, expect, it } from 'vitest';
import { encodeJsonBody, type JsonBody, NATIVE_BASE64_MIN_BYTES, writeJsonBody } from './json-response.js';

const Schema = resolverv1.GetSecretsResponseSchema;

function bytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

function assemble(body: JsonBody): Buffer {
  return Buffer.concat(
    body.parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(Buffer.from(p.base64Of).toString('base64')))),
  );
}

/**
 * A ServerResponse stand-in that never pushes back (so only writeJsonBody's own yields give the
 * event loop back) and says, when it is ended, whether `probe` had run by then.
 */
function sink(probe: () => boolean) {
  const chunks: Buffer[] = [];
  let endedAfterProbe: boolean | undefined;
  const w = new Writable({
    highWaterMark: 1024 * 1024 * 1024,
    write(chunk: Buffer, _enc, cb) {
      chunks.push(Buffer.from(chunk));
      cb();
    },
    final(cb) {
      endedAfterProbe = probe();
      cb();
    },
  });
  return { res: w as never, chunks, endedAfterProbe: () => endedAfterProbe };
}

describe('encodeJsonBody', () => {
  it('writes exactly what toJsonString writes, for bytes of every size around the threshold', () => {
    const sizes = [
      0,
      1,
      2,
      3,
      NATIVE_BASE64_MIN_BYTES - 1,
      NATIVE_BASE64_MIN_BYTES,
      1000,
      3 * 256 * 1024 + 1,
      2_000_003,
    ];
    const message = create(Schema, {
      envelopes: sizes.map((n, i) => ({
        id: `s/${n}`,
        value: bytes(n, i),
        provider: 'p',
        metadata: { k: 'v', quote: '"\\', nul: '\u0000' },
      })),
    });
    const expected = Buffer.from(toJsonString(Schema, message));
    const body = encodeJsonBody(Schema, message);
    const out = assemble(body);
    expect(out.equals(expected)).toBe(true);
    expect(body.byteLength).toBe(expected.length);
    // Only the large fields were left out of the text.
    expect(body.parts.filter((p) => !Buffer.isBuffer(p))).toHaveLength(
      sizes.filter((n) => n >= NATIVE_BASE64_MIN_BYTES).length,
    );
  });

  it('leaves the message as it was: the same Uint8Array in every field', () => {
    const values = [bytes(10, 1), bytes(5000, 2), bytes(300, 3)];
    const message = create(Schema, { envelopes: values.map((value, i) => ({ id: `a${i}`, value })) });
    encodeJsonBody(Schema, message);
    message.envelopes.forEach((e, i) => {
      expect(e.value).toBe(values[i]);
    });
  });

  it('a metadata value made to look like a marker is written as itself', () => {
    const message = create(Schema, {
      envelopes: [{ id: 'a', value: bytes(4096, 9), metadata: { fake: `"${'A'.repeat(24)}"` } }],
    });
    expect(assemble(encodeJsonBody(Schema, message)).toString()).toBe(toJsonString(Schema, message));
  });

  it('a message without large bytes fields is one piece', () => {
    const message = create(Schema, { envelopes: [{ id: 'a', value: bytes(100, 0) }] });
    const body = encodeJsonBody(Schema, message);
    expect(body.parts).toHaveLength(1);
    expect((body.parts[0] as Buffer).toString()).toBe(toJsonString(Schema, message));
  });
});

describe('writeJsonBody', () => {
  it('gives the event loop back while it writes a 40 MB value, and writes it all', async () => {
    const value = bytes(40 * 1024 * 1024, 5);
    const message = create(Schema, { envelopes: [{ id: 'big', value }] });
    const body = encodeJsonBody(Schema, message);
    // A callback queued before writing starts runs before the body is ended: the writer yielded.
    let ran = false;
    setImmediate(() => {
      ran = true;
    });
    const { res, chunks, endedAfterProbe } = sink(() => ran);
    await writeJsonBody(res, body);
    await new Promise((r) => setImmediate(r));
    expect(endedAfterProbe()).toBe(true);
    const out = Buffer.concat(chunks);
    expect(out.length).toBe(body.byteLength);
    const parsed = JSON.parse(out.toString()) as { envelopes: Array<{ value: string }> };
    expect(Buffer.from(parsed.envelopes[0]!.value, 'base64').equals(Buffer.from(value))).toBe(true);
  });
});

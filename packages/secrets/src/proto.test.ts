// Envelope <-> resolver.v1.GetSecretsResponse.Envelope and Go's zero-time convention (protocol.md §4.4).
import { create, fromBinary, toBinary, toJson } from '@bufbuild/protobuf';
import { TimestampSchema } from '@bufbuild/protobuf/wkt';
import { resolverv1 } from '@secrets-engine/proto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createEnvelope,
  envelopeFromProto,
  envelopeToProto,
  fromGoTimestamp,
  GO_ZERO_TIMESTAMP,
  InvalidEnvelopeError,
  InvalidIdError,
  isGoZeroTime,
  toGoTimestamp,
} from './index.js';

const Schema = resolverv1.GetSecretsResponse_EnvelopeSchema;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Independent varint encoder (int64 two's complement), to spell out Go's bytes by hand. */
function varint(n: bigint): string {
  let v = BigInt.asUintN(64, n);
  const out: number[] = [];
  do {
    const byte = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v === 0n ? byte : byte | 0x80);
  } while (v !== 0n);
  return Buffer.from(out).toString('hex');
}

function ts(seconds: bigint, nanos = 0) {
  return create(TimestampSchema, { seconds, nanos });
}

describe('GO_ZERO_TIMESTAMP and isGoZeroTime', () => {
  it('is 0001-01-01T00:00:00Z: seconds -62135596800, nanos 0, frozen', () => {
    expect(GO_ZERO_TIMESTAMP.seconds).toBe(-62135596800n);
    expect(GO_ZERO_TIMESTAMP.nanos).toBe(0);
    expect(Object.isFrozen(GO_ZERO_TIMESTAMP)).toBe(true);
    // What the Connect JSON codec shows a Go peer.
    expect(toJson(TimestampSchema, GO_ZERO_TIMESTAMP)).toBe('0001-01-01T00:00:00Z');
  });

  it('recognises the Go zero time as a Timestamp or a Date, and nothing else', () => {
    expect(isGoZeroTime(GO_ZERO_TIMESTAMP)).toBe(true);
    expect(isGoZeroTime(ts(-62135596800n))).toBe(true);
    expect(isGoZeroTime(new Date('0001-01-01T00:00:00Z'))).toBe(true);
    expect(isGoZeroTime(ts(-62135596800n, 1))).toBe(false);
    expect(isGoZeroTime(ts(0n))).toBe(false); // the Unix epoch is a real time
    expect(isGoZeroTime(new Date(0))).toBe(false);
    expect(isGoZeroTime(undefined)).toBe(false); // absent is a different form of "unset"
  });
});

describe('toGoTimestamp / fromGoTimestamp', () => {
  it('undefined is written as the Go zero time (a fresh message each time)', () => {
    const a = toGoTimestamp(undefined);
    expect(a.seconds).toBe(-62135596800n);
    expect(a.nanos).toBe(0);
    expect(a).not.toBe(GO_ZERO_TIMESTAMP);
    expect(Object.isFrozen(a)).toBe(false);
  });

  it('reads an absent Timestamp and the Go zero time as undefined, the epoch as 1970', () => {
    expect(fromGoTimestamp(undefined)).toBeUndefined();
    expect(fromGoTimestamp(GO_ZERO_TIMESTAMP)).toBeUndefined();
    expect(fromGoTimestamp(ts(0n))?.toISOString()).toBe('1970-01-01T00:00:00.000Z');
  });

  it('truncates nanoseconds to milliseconds, towards the past', () => {
    expect(fromGoTimestamp(ts(1_700_000_000n, 123_456_789))?.toISOString()).toBe('2023-11-14T22:13:20.123Z');
    expect(fromGoTimestamp(ts(1_700_000_000n, 999_999_999))?.toISOString()).toBe('2023-11-14T22:13:20.999Z');
    expect(fromGoTimestamp(ts(-1n, 999_999_999))?.toISOString()).toBe('1969-12-31T23:59:59.999Z');
    expect(fromGoTimestamp(ts(-1n, 1))?.toISOString()).toBe('1969-12-31T23:59:59.000Z');
  });

  it('writes pre-epoch Dates with non-negative nanos', () => {
    const t = toGoTimestamp(new Date(-1));
    expect(t.seconds).toBe(-1n);
    expect(t.nanos).toBe(999_000_000);
  });

  it('normalises out-of-range nanos like Go time.Unix', () => {
    expect(fromGoTimestamp(ts(10n, 1_500_000_000))?.getTime()).toBe(11_500);
    expect(fromGoTimestamp(ts(10n, -1))?.getTime()).toBe(9_999);
  });

  it('rejects a time that does not fit in a Date', () => {
    expect(() => fromGoTimestamp(ts(9_000_000_000_000_000n), 'expiresAt')).toThrow(InvalidEnvelopeError);
    expect(() => fromGoTimestamp(ts(-9_000_000_000_000_000n), 'expiresAt')).toThrow(
      /^envelope expiresAt \(-9000000000000000s 0ns\) is outside the range of a JavaScript Date$/,
    );
    expect(() => toGoTimestamp(new Date(Number.NaN))).toThrow(InvalidEnvelopeError);
  });

  it('property: Date -> Timestamp -> Date is exact', () => {
    fc.assert(
      fc.property(fc.date({ noInvalidDate: true }), (d) => {
        fc.pre(!isGoZeroTime(d));
        expect(fromGoTimestamp(toGoTimestamp(d))?.getTime()).toBe(d.getTime());
      }),
      { numRuns: 1_000 },
    );
  });

  it('property: Timestamp -> Date -> Timestamp keeps the seconds and truncates nanos to ms', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: -62_135_596_800n, max: 253_402_300_799n }), // years 1 to 9999, as protobuf allows
        fc.integer({ min: 0, max: 999_999_999 }),
        (seconds, nanos) => {
          fc.pre(!(seconds === -62_135_596_800n && nanos < 1_000_000));
          const back = toGoTimestamp(fromGoTimestamp(ts(seconds, nanos)));
          expect(back.seconds).toBe(seconds);
          expect(back.nanos).toBe(Math.floor(nanos / 1_000_000) * 1_000_000);
        },
      ),
      { numRuns: 1_000 },
    );
  });
});

describe('envelopeToProto / envelopeFromProto', () => {
  it('writes every unset time as the Go zero time, never omits it (Go bytes spelled out by hand)', () => {
    const msg = envelopeToProto(createEnvelope({ id: 'a', value: 'x' }));
    for (const t of [msg.createdAt, msg.resolvedAt, msg.expiresAt]) {
      expect(t?.seconds).toBe(-62135596800n);
      expect(t?.nanos).toBe(0);
    }
    // timestamppb.New(time.Time{}) = Timestamp{seconds: 1: varint}, nanos omitted.
    const zero = `08${varint(-62135596800n)}`;
    const field = (n: number) =>
      `${((n << 3) | 2).toString(16)}${(zero.length / 2).toString(16).padStart(2, '0')}${zero}`;
    // id "a", value "x", provider and version "" (explicit presence: sent), then the three times.
    expect(hex(toBinary(Schema, msg))).toBe(
      `0a0161120178${'1a00'}${'2200'}${field(5)}${field(6)}${field(7)}`,
    );
  });

  it('round-trips every field through the wire bytes', () => {
    const env = createEnvelope({
      id: 'docker/mcp/127.0.0.1:8080/token',
      value: new Uint8Array([0, 1, 2, 253, 254, 255]),
      provider: 'vault',
      version: 'v7',
      createdAt: new Date('2020-02-29T12:34:56.789Z'),
      resolvedAt: new Date(0), // the epoch is a real time, distinct from unset
      metadata: { owner: 'team-a', ключ: 'значение', empty: '' },
    });
    const wire = toBinary(Schema, envelopeToProto(env));
    const back = envelopeFromProto(fromBinary(Schema, wire));
    expect(back.id).toBe(env.id);
    expect(back.revealValue()).toEqual(env.revealValue());
    expect(back.provider).toBe('vault');
    expect(back.version).toBe('v7');
    expect(back.createdAt?.toISOString()).toBe('2020-02-29T12:34:56.789Z');
    expect(back.resolvedAt?.toISOString()).toBe('1970-01-01T00:00:00.000Z');
    expect(back.expiresAt).toBeUndefined();
    expect(back.metadata).toEqual({ owner: 'team-a', ключ: 'значение', empty: '' });
  });

  it('reads a Go plugin envelope with nanosecond times (truncated) and an absent time', () => {
    const msg = create(Schema, {
      id: 'db/pw',
      value: new TextEncoder().encode('s3cret'),
      provider: 'plugin-foo',
      createdAt: ts(1_700_000_000n, 123_456_789),
      resolvedAt: GO_ZERO_TIMESTAMP,
      // expiresAt absent: a non-Go writer
      metadata: { k: 'v' },
    });
    const env = envelopeFromProto(fromBinary(Schema, toBinary(Schema, msg)));
    expect(env.createdAt?.toISOString()).toBe('2023-11-14T22:13:20.123Z');
    expect(env.resolvedAt).toBeUndefined();
    expect(env.expiresAt).toBeUndefined();
    expect(env.revealText()).toBe('s3cret');
    expect(env.metadata).toEqual({ k: 'v' });
    // …and writes them back as Go would: unset → Go zero, ms precision.
    const again = envelopeToProto(env);
    expect(again.createdAt?.nanos).toBe(123_000_000);
    expect(isGoZeroTime(again.resolvedAt)).toBe(true);
    expect(isGoZeroTime(again.expiresAt)).toBe(true);
  });

  it('copies the value: the message and the envelope do not share bytes', () => {
    const env = createEnvelope({ id: 'a', value: new Uint8Array([1, 2]) });
    const msg = envelopeToProto(env);
    msg.value[0] = 9;
    expect(env.revealValue()).toEqual(new Uint8Array([1, 2]));
    const back = envelopeFromProto(msg);
    msg.value[1] = 9;
    expect(back.revealValue()).toEqual(new Uint8Array([9, 2]));
  });

  it('rejects an invalid id (the engine drops such entries, §6.4)', () => {
    expect(() => envelopeFromProto(create(Schema, { id: 'bad id', value: new Uint8Array() }))).toThrow(
      InvalidIdError,
    );
  });

  it('rejects a time outside the range of a Date, naming the field', () => {
    let err: unknown;
    try {
      envelopeFromProto(create(Schema, { id: 'a', expiresAt: ts(10n ** 17n) }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidEnvelopeError);
    expect((err as InvalidEnvelopeError).field).toBe('expiresAt');
  });

  it('property: envelope -> bytes -> envelope keeps every field', () => {
    const idArb = fc
      .array(fc.string({ unit: fc.constantFrom(...'abXY09._:-'), minLength: 1, maxLength: 5 }), {
        minLength: 1,
        maxLength: 4,
      })
      .map((p) => p.join('/'));
    const dateArb = fc.option(fc.date({ noInvalidDate: true }), { nil: undefined });
    fc.assert(
      fc.property(
        idArb,
        fc.uint8Array({ maxLength: 64 }),
        fc.string(),
        fc.string(),
        dateArb,
        dateArb,
        dateArb,
        fc.dictionary(fc.string(), fc.string(), { maxKeys: 4 }),
        (id, value, provider, version, createdAt, resolvedAt, expiresAt, metadata) => {
          // protobuf strings are UTF-8: lone surrogates cannot round-trip in any language.
          fc.pre(
            [provider, version, ...Object.keys(metadata), ...Object.values(metadata)].every((s) =>
              s.isWellFormed(),
            ),
          );
          fc.pre(!('__proto__' in metadata && Object.hasOwn(metadata, '__proto__')));
          const env = createEnvelope({
            id,
            value,
            provider,
            version,
            createdAt,
            resolvedAt,
            expiresAt,
            metadata,
          });
          const back = envelopeFromProto(fromBinary(Schema, toBinary(Schema, envelopeToProto(env))));
          expect(back.id).toBe(env.id);
          expect(back.revealValue()).toEqual(env.revealValue());
          expect(back.provider).toBe(env.provider);
          expect(back.version).toBe(env.version);
          expect(back.createdAt?.getTime()).toBe(env.createdAt?.getTime());
          expect(back.resolvedAt?.getTime()).toBe(env.resolvedAt?.getTime());
          expect(back.expiresAt?.getTime()).toBe(env.expiresAt?.getTime());
          expect(back.metadata).toEqual(env.metadata);
        },
      ),
      { numRuns: 500 },
    );
  });
});

// Envelope <-> resolver.v1.GetSecretsResponse.Envelope (protocol.md §4.1, §4.4). Go writes every
// time with timestamppb.New(t), so an unset time travels as the Go zero time; Go reads an absent
// Timestamp as 1970. We write the Go zero time for "unset" and read both forms as undefined.
import { create } from '@bufbuild/protobuf';
import { type Timestamp, TimestampSchema } from '@bufbuild/protobuf/wkt';
import { resolverv1 } from '@secrets-engine/proto';
import { createEnvelope, type Envelope, type EnvelopeInit, isEnvelope } from './envelope.js';
import { InvalidEnvelopeError } from './errors.js';

const GO_ZERO_SECONDS = -62_135_596_800n;
/** The largest |ms| a Date can hold (ECMA-262 TimeClip). */
const MAX_DATE_MS = 8.64e15;

/**
 * The Go zero time (`time.Time{}`, 0001-01-01T00:00:00Z) as Go's `timestamppb.New` writes it:
 * seconds -62135596800, nanos 0. Frozen; compare with `isGoZeroTime`.
 */
export const GO_ZERO_TIMESTAMP: Readonly<Timestamp> = Object.freeze(
  create(TimestampSchema, { seconds: GO_ZERO_SECONDS, nanos: 0 }),
);

/**
 * True if the value is the Go zero time: a Timestamp with seconds -62135596800 and nanos 0, or a
 * Date at 0001-01-01T00:00:00.000Z. An absent Timestamp (undefined) is not the Go zero time (Go
 * reads it as 1970), so this returns false for it.
 */
export function isGoZeroTime(value: Pick<Timestamp, 'seconds' | 'nanos'> | Date | undefined): boolean {
  if (value === undefined || value === null) return false;
  if (value instanceof Date) return value.getTime() === Number(GO_ZERO_SECONDS) * 1000;
  return BigInt(value.seconds) === GO_ZERO_SECONDS && value.nanos === 0;
}

/**
 * A Date (ms precision) as a Timestamp; `undefined` becomes the Go zero time, as Go writes an
 * unset `time.Time` (protocol.md §4.4). Always a fresh message.
 */
export function toGoTimestamp(date: Date | undefined): Timestamp {
  if (date === undefined) return create(TimestampSchema, { seconds: GO_ZERO_SECONDS, nanos: 0 });
  const ms = date.getTime();
  if (Number.isNaN(ms))
    throw new InvalidEnvelopeError('cannot convert an invalid Date to a Timestamp', { field: 'time' });
  const seconds = Math.floor(ms / 1000);
  return create(TimestampSchema, { seconds: BigInt(seconds), nanos: (ms - seconds * 1000) * 1_000_000 });
}

/**
 * A Timestamp as a Date, or undefined for both forms of "unset": an absent Timestamp and the Go
 * zero time. A Date holds milliseconds, so nanoseconds are truncated towards the past
 * (…:00.123999999Z becomes …:00.123Z). Nanos outside [0, 1e9) are normalised as Go's
 * `time.Unix` does. Throws `InvalidEnvelopeError` if the time does not fit in a Date
 * (beyond ±8.64e15 ms, about ±275 000 years).
 */
export function fromGoTimestamp(
  ts: Pick<Timestamp, 'seconds' | 'nanos'> | undefined,
  field = 'time',
): Date | undefined {
  if (ts === undefined || isGoZeroTime(ts)) return undefined;
  const seconds = BigInt(ts.seconds);
  const nanos = Math.trunc(ts.nanos);
  const ms = Number(seconds) * 1000 + Math.floor(nanos / 1_000_000);
  if (!(Math.abs(ms) <= MAX_DATE_MS)) {
    throw new InvalidEnvelopeError(
      `envelope ${field} (${seconds}s ${nanos}ns) is outside the range of a JavaScript Date`,
      { field },
    );
  }
  return new Date(ms);
}

/**
 * The wire form of an envelope (protocol.md §4.1). Unset times are written as the Go zero time,
 * never omitted, so a Go engine sees them as unset and fills `resolved_at` (§4.4). The value and
 * metadata are copies.
 */
export function envelopeToProto(envelope: Envelope): resolverv1.GetSecretsResponse_Envelope {
  return create(resolverv1.GetSecretsResponse_EnvelopeSchema, {
    id: envelope.id,
    value: envelope.revealValue(),
    provider: envelope.provider,
    version: envelope.version,
    createdAt: toGoTimestamp(envelope.createdAt),
    resolvedAt: toGoTimestamp(envelope.resolvedAt),
    expiresAt: toGoTimestamp(envelope.expiresAt),
    metadata: { ...envelope.metadata },
  });
}

/**
 * An envelope from its wire form. Both an absent Timestamp and the Go zero time read as
 * undefined; sub-millisecond nanos are truncated (see `fromGoTimestamp`). Throws `InvalidIdError`
 * for an invalid id (the engine drops such entries, §6.4) and `InvalidEnvelopeError` for a time
 * that does not fit in a Date.
 */
export function envelopeFromProto(message: resolverv1.GetSecretsResponse_Envelope): Envelope {
  return createEnvelope({
    id: message.id,
    value: message.value,
    provider: message.provider,
    version: message.version,
    createdAt: fromGoTimestamp(message.createdAt, 'createdAt'),
    resolvedAt: fromGoTimestamp(message.resolvedAt, 'resolvedAt'),
    expiresAt: fromGoTimestamp(message.expiresAt, 'expiresAt'),
    metadata: message.metadata,
  });
}

/**
 * What a provider returned (envelopes or plain inits), in wire form. An item that is not a valid
 * envelope is dropped and reported to `onInvalid` with the reason only, never the value.
 */
export function envelopesToProto(
  items: Iterable<Envelope | EnvelopeInit>,
  onInvalid: (error: Error) => void,
): resolverv1.GetSecretsResponse_Envelope[] {
  const out: resolverv1.GetSecretsResponse_Envelope[] = [];
  for (const item of items) {
    try {
      out.push(envelopeToProto(isEnvelope(item) ? item : createEnvelope(item)));
    } catch (err) {
      onInvalid(err as Error);
    }
  }
  return out;
}

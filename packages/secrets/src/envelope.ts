// The secret envelope (Go `secrets.Envelope`, protocol.md §4.1 GetSecretsResponse.Envelope). Go
// makes `json.Marshal(Envelope)` panic so a secret is never serialised by accident (§8.2
// TestEnvelopeJSON). We go further and make every accidental route print a redacted form instead:
// the bytes live in an ECMAScript private field (#value), which is not a property, so spread,
// Object.keys/entries, structuredClone, JSON.stringify and util.inspect cannot see it, and
// toJSON/toString/inspect print `<redacted N bytes>`. The bytes come out only through
// `revealValue()` / `revealText()`, which are easy to grep for.
import { InvalidEnvelopeError } from './errors.js';
import { parseId, type SecretId } from './identifiers.js';
import { describeType, goQuote } from './quote.js';

/** What `createEnvelope` takes. Optional fields may also be given as `undefined`. */
export interface EnvelopeInit {
  /** A secret ID (protocol.md §6.1); validated (`InvalidIdError`). */
  id: string;
  /** The secret: bytes (copied), or text (stored as UTF-8). */
  value: Uint8Array | string;
  /** The plugin that resolved it. The engine overwrites it with the registered name (§6.4). Default `''`. */
  provider?: string | undefined;
  /** The secret's own version, free-form. Default `''`. */
  version?: string | undefined;
  createdAt?: Date | undefined;
  /** When it was resolved. The engine fills it with "now" when unset (§4.4, §6.4). */
  resolvedAt?: Date | undefined;
  expiresAt?: Date | undefined;
  /** Free-form string to string map (copied). Not secret: it appears in the redacted forms. */
  metadata?: Readonly<Record<string, string>> | undefined;
}

/** What `JSON.stringify(envelope)` produces: every field, with the value redacted. */
export interface RedactedEnvelopeJSON {
  id: string;
  /** Always `<redacted N bytes>`. */
  value: string;
  provider: string;
  version: string;
  /** ISO 8601, or absent when unset. */
  createdAt?: string;
  resolvedAt?: string;
  expiresAt?: string;
  metadata: Record<string, string>;
}

/**
 * A resolved secret. Frozen; its own enumerable properties are the non-secret fields only, so
 * `{ ...envelope, value: envelope.revealValue(), provider: 'x' }` is a valid `EnvelopeInit` for a
 * modified copy. Unset times are `undefined` (never the Go zero time, never 1970).
 */
export interface Envelope {
  readonly id: SecretId;
  readonly provider: string;
  readonly version: string;
  /** A copy of the Date given at creation (ms precision). */
  readonly createdAt: Date | undefined;
  readonly resolvedAt: Date | undefined;
  readonly expiresAt: Date | undefined;
  readonly metadata: Readonly<Record<string, string>>;
  /** The length of the secret in bytes (it is shown in the redacted forms). */
  readonly valueByteLength: number;
  /** A fresh copy of the secret bytes. Mutating it does not change the envelope. */
  revealValue(): Uint8Array;
  /** The secret decoded as UTF-8 (invalid sequences become U+FFFD). */
  revealText(): string;
  /** The redacted form for JSON.stringify and JSON loggers. */
  toJSON(): RedactedEnvelopeJSON;
  /** `Envelope{id: "db/pw", value: <redacted 8 bytes>, provider: "vault"}`: set fields only. */
  toString(): string;
}

const ENVELOPE_BRAND: unique symbol = Symbol.for('@secrets-engine/secrets.envelope');
/** Node's `util.inspect.custom`, without importing node:util (this package is platform-neutral). */
const INSPECT: unique symbol = Symbol.for('nodejs.util.inspect.custom');
/** The Go zero time, 0001-01-01T00:00:00Z, in Unix milliseconds. */
const GO_ZERO_MS = -62_135_596_800_000;

// TextEncoder/TextDecoder are globals in Node and browsers; typed locally so this module needs
// neither the DOM nor the Node type library.
interface TextCodecs {
  TextEncoder: new () => { encode(input: string): Uint8Array };
  TextDecoder: new (label?: string) => { decode(input: Uint8Array): string };
}
const codecs = globalThis as unknown as TextCodecs;
let encoder: { encode(input: string): Uint8Array } | undefined;
let decoder: { decode(input: Uint8Array): string } | undefined;

function redactedValue(length: number): string {
  return `<redacted ${length} byte${length === 1 ? '' : 's'}>`;
}

function toDate(field: string, value: unknown): Date | undefined {
  if (value === undefined) return undefined;
  if (!(value instanceof Date) && Object.prototype.toString.call(value) !== '[object Date]') {
    throw new InvalidEnvelopeError(
      `envelope ${field} must be a Date or undefined, got ${describeType(value)}`,
      {
        field,
      },
    );
  }
  const ms = (value as Date).getTime();
  if (Number.isNaN(ms)) throw new InvalidEnvelopeError(`envelope ${field} is an invalid Date`, { field });
  // Go's IsZero: the zero time means "unset" (protocol.md §4.4).
  return ms === GO_ZERO_MS ? undefined : new Date(ms);
}

function toText(field: string, value: unknown): string {
  if (value === undefined) return '';
  if (typeof value !== 'string') {
    throw new InvalidEnvelopeError(`envelope ${field} must be a string, got ${describeType(value)}`, {
      field,
    });
  }
  return value;
}

function toMetadata(value: unknown): Readonly<Record<string, string>> {
  if (value === undefined) return Object.freeze({});
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidEnvelopeError(
      `envelope metadata must be a string-to-string record, got ${describeType(value)}`,
      {
        field: 'metadata',
      },
    );
  }
  const entries = Object.entries(value);
  for (const [key, v] of entries) {
    if (typeof v !== 'string') {
      throw new InvalidEnvelopeError(
        `envelope metadata ${goQuote(key)} must be a string, got ${describeType(v)}`,
        {
          field: 'metadata',
        },
      );
    }
  }
  // Object.fromEntries defines own properties, so a "__proto__" key stays data.
  return Object.freeze(Object.fromEntries(entries));
}

function toBytes(value: unknown): Uint8Array {
  if (typeof value === 'string') {
    encoder ??= new codecs.TextEncoder();
    return encoder.encode(value);
  }
  if (value instanceof Uint8Array) return value.slice();
  throw new InvalidEnvelopeError(
    `envelope value must be a Uint8Array or a string, got ${describeType(value)}`,
    {
      field: 'value',
    },
  );
}

class EnvelopeImpl implements Envelope {
  readonly id: SecretId;
  readonly provider: string;
  readonly version: string;
  readonly createdAt: Date | undefined;
  readonly resolvedAt: Date | undefined;
  readonly expiresAt: Date | undefined;
  readonly metadata: Readonly<Record<string, string>>;
  readonly #value: Uint8Array;

  constructor(init: EnvelopeInit) {
    if (typeof init !== 'object' || init === null) {
      throw new InvalidEnvelopeError(`createEnvelope expects an object, got ${describeType(init)}`, {
        field: 'init',
      });
    }
    this.id = parseId(init.id);
    this.#value = toBytes(init.value);
    this.provider = toText('provider', init.provider);
    this.version = toText('version', init.version);
    this.createdAt = toDate('createdAt', init.createdAt);
    this.resolvedAt = toDate('resolvedAt', init.resolvedAt);
    this.expiresAt = toDate('expiresAt', init.expiresAt);
    this.metadata = toMetadata(init.metadata);
    Object.freeze(this);
  }

  get valueByteLength(): number {
    return this.#value.byteLength;
  }

  revealValue(): Uint8Array {
    return this.#value.slice();
  }

  revealText(): string {
    decoder ??= new codecs.TextDecoder('utf-8');
    return decoder.decode(this.#value);
  }

  toJSON(): RedactedEnvelopeJSON {
    return {
      id: this.id,
      value: redactedValue(this.#value.byteLength),
      provider: this.provider,
      version: this.version,
      ...(this.createdAt === undefined ? {} : { createdAt: this.createdAt.toISOString() }),
      ...(this.resolvedAt === undefined ? {} : { resolvedAt: this.resolvedAt.toISOString() }),
      ...(this.expiresAt === undefined ? {} : { expiresAt: this.expiresAt.toISOString() }),
      metadata: { ...this.metadata },
    };
  }

  toString(): string {
    const fields = [`id: ${goQuote(this.id)}`, `value: ${redactedValue(this.#value.byteLength)}`];
    if (this.provider !== '') fields.push(`provider: ${goQuote(this.provider)}`);
    if (this.version !== '') fields.push(`version: ${goQuote(this.version)}`);
    if (this.createdAt !== undefined) fields.push(`createdAt: ${this.createdAt.toISOString()}`);
    if (this.resolvedAt !== undefined) fields.push(`resolvedAt: ${this.resolvedAt.toISOString()}`);
    if (this.expiresAt !== undefined) fields.push(`expiresAt: ${this.expiresAt.toISOString()}`);
    const meta = Object.entries(this.metadata);
    if (meta.length > 0) {
      fields.push(`metadata: {${meta.map(([k, v]) => `${goQuote(k)}: ${goQuote(v)}`).join(', ')}}`);
    }
    return `Envelope{${fields.join(', ')}}`;
  }

  get [Symbol.toStringTag](): string {
    return 'Envelope';
  }

  /** util.inspect / console.log / the REPL print the redacted string form. */
  [INSPECT](): string {
    return this.toString();
  }

  /** `${envelope}`, `envelope + ''` and String(envelope) all give the redacted string form. */
  [Symbol.toPrimitive](): string {
    return this.toString();
  }

  static {
    Object.defineProperty(EnvelopeImpl.prototype, ENVELOPE_BRAND, { value: true });
  }
}

/**
 * Creates a frozen, redacting envelope (see `Envelope`). Validates the id (`InvalidIdError`) and
 * the other fields (`InvalidEnvelopeError`); copies the value, the Dates and the metadata. A Date
 * equal to the Go zero time (0001-01-01T00:00:00Z) counts as unset, as in Go.
 */
export function createEnvelope(init: EnvelopeInit): Envelope {
  return new EnvelopeImpl(init);
}

/** True for an envelope made by `createEnvelope` (or `envelopeFromProto`) of any copy of this package. */
export function isEnvelope(value: unknown): value is Envelope {
  return (
    typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[ENVELOPE_BRAND] === true
  );
}

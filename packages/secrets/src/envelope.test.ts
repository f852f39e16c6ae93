// Envelope: frozen, validated, and its value never reaches JSON, inspect, logs or strings by
// accident (Go makes json.Marshal panic, protocol.md §8.2 TestEnvelopeJSON; we redact instead).
import { Console } from 'node:console';
import { Writable } from 'node:stream';
import { format, inspect } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createEnvelope,
  type Envelope,
  type EnvelopeInit,
  InvalidEnvelopeError,
  InvalidIdError,
  isEnvelope,
  isInvalidEnvelopeError,
} from './index.js';

const SECRET = 'hunter2-s3cr3t';
const SECRET_BYTES = new TextEncoder().encode(SECRET);

/** Every encoding of the secret we might see if it leaked. */
function leaks(text: string, secret = SECRET): boolean {
  const bytes = new TextEncoder().encode(secret);
  return [
    secret,
    Buffer.from(bytes).toString('base64'),
    Buffer.from(bytes).toString('hex'),
    Array.from(bytes).join(','),
    Array.from(bytes).join(', '),
    Array.from(bytes)
      .map((b) => b.toString(16).padStart(2, '0'))
      .join(' '),
  ].some((form) => text.includes(form));
}

function full(): Envelope {
  return createEnvelope({
    id: 'db/pw',
    value: SECRET,
    provider: 'vault',
    version: 'v3',
    createdAt: new Date('2024-01-02T03:04:05.678Z'),
    resolvedAt: new Date('2024-06-01T00:00:00.000Z'),
    expiresAt: new Date('2025-01-01T00:00:00.000Z'),
    metadata: { owner: 'team-a', note: 'rotated' },
  });
}

function captureConsole(fn: (c: Console) => void): string {
  let out = '';
  const sink = new Writable({
    write(chunk, _enc, cb) {
      out += String(chunk);
      cb();
    },
  });
  fn(new Console({ stdout: sink, stderr: sink }));
  return out;
}

describe('createEnvelope', () => {
  it('keeps the fields, reveals the value only through revealValue / revealText', () => {
    const env = full();
    expect(env.id).toBe('db/pw');
    expect(env.provider).toBe('vault');
    expect(env.version).toBe('v3');
    expect(env.createdAt?.toISOString()).toBe('2024-01-02T03:04:05.678Z');
    expect(env.metadata).toEqual({ owner: 'team-a', note: 'rotated' });
    expect(env.valueByteLength).toBe(SECRET_BYTES.byteLength);
    expect(env.revealValue()).toEqual(SECRET_BYTES);
    expect(env.revealText()).toBe(SECRET);
    expect(isEnvelope(env)).toBe(true);
    expect('value' in env).toBe(false);
  });

  it('defaults: empty provider and version, unset times, empty metadata', () => {
    const env = createEnvelope({ id: 'a', value: new Uint8Array([1, 2, 3]) });
    expect(env.provider).toBe('');
    expect(env.version).toBe('');
    expect(env.createdAt).toBeUndefined();
    expect(env.resolvedAt).toBeUndefined();
    expect(env.expiresAt).toBeUndefined();
    expect(env.metadata).toEqual({});
    expect(env.revealValue()).toEqual(new Uint8Array([1, 2, 3]));
  });

  it('accepts optional fields given as undefined (exactOptionalPropertyTypes-friendly)', () => {
    const init: EnvelopeInit = {
      id: 'a',
      value: 'x',
      provider: undefined,
      createdAt: undefined,
      metadata: undefined,
    };
    expect(createEnvelope(init).provider).toBe('');
  });

  it('is frozen and immutable: the value and the metadata are copies', () => {
    const input = new Uint8Array([1, 2, 3]);
    const meta = { k: 'v' };
    const env = createEnvelope({ id: 'a', value: input, metadata: meta });
    input[0] = 9;
    meta.k = 'changed';
    expect(env.revealValue()).toEqual(new Uint8Array([1, 2, 3]));
    expect(env.metadata).toEqual({ k: 'v' });
    const revealed = env.revealValue();
    revealed[0] = 7;
    expect(env.revealValue()[0]).toBe(1);
    expect(Object.isFrozen(env)).toBe(true);
    expect(Object.isFrozen(env.metadata)).toBe(true);
    expect(() => {
      (env as { provider: string }).provider = 'x';
    }).toThrow(TypeError);
    expect(() => {
      (env.metadata as Record<string, string>).k = 'x';
    }).toThrow(TypeError);
  });

  it('copies Dates; a Date at the Go zero time counts as unset (Go IsZero)', () => {
    const d = new Date('2024-01-01T00:00:00Z');
    const env = createEnvelope({
      id: 'a',
      value: '',
      createdAt: d,
      resolvedAt: new Date('0001-01-01T00:00:00Z'),
    });
    d.setTime(0);
    expect(env.createdAt?.toISOString()).toBe('2024-01-01T00:00:00.000Z');
    expect(env.resolvedAt).toBeUndefined();
  });

  it('a modified copy: spread the envelope, add the value back', () => {
    const env = full();
    const copy = createEnvelope({ ...env, value: env.revealValue(), provider: 'engine-name' });
    expect(copy.provider).toBe('engine-name');
    expect(copy.revealText()).toBe(SECRET);
    expect(copy.createdAt).toEqual(env.createdAt);
    expect(copy.metadata).toEqual(env.metadata);
  });

  it('revealText decodes UTF-8 and replaces invalid sequences', () => {
    expect(createEnvelope({ id: 'a', value: 'päss🔑' }).revealText()).toBe('päss🔑');
    expect(createEnvelope({ id: 'a', value: new Uint8Array([0x61, 0xff]) }).revealText()).toBe('a\ufffd');
  });

  it('rejects an invalid id with InvalidIdError, without the value in the message', () => {
    let err: unknown;
    try {
      createEnvelope({ id: 'db pw', value: SECRET });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidIdError);
    expect(leaks(String(err))).toBe(false);
  });

  it.each([
    [{ id: 'a', value: 42 }, 'value', 'envelope value must be a Uint8Array or a string, got number'],
    [{ id: 'a', value: [1, 2] }, 'value', 'envelope value must be a Uint8Array or a string, got an array'],
    [{ id: 'a', value: 'x', provider: 1 }, 'provider', 'envelope provider must be a string, got number'],
    [{ id: 'a', value: 'x', version: null }, 'version', 'envelope version must be a string, got null'],
    [
      { id: 'a', value: 'x', createdAt: 'yesterday' },
      'createdAt',
      'envelope createdAt must be a Date or undefined, got string',
    ],
    [
      { id: 'a', value: 'x', expiresAt: new Date('nope') },
      'expiresAt',
      'envelope expiresAt is an invalid Date',
    ],
    [
      { id: 'a', value: 'x', metadata: { n: 1 } },
      'metadata',
      'envelope metadata "n" must be a string, got number',
    ],
    [
      { id: 'a', value: 'x', metadata: 'k=v' },
      'metadata',
      'envelope metadata must be a string-to-string record, got string',
    ],
  ])('rejects %j (%s)', (init, field, message) => {
    let err: unknown;
    try {
      createEnvelope(init as unknown as EnvelopeInit);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidEnvelopeError);
    expect(isInvalidEnvelopeError(err)).toBe(true);
    expect((err as InvalidEnvelopeError).field).toBe(field);
    expect((err as Error).message).toBe(message);
  });

  it('isEnvelope is false for look-alikes', () => {
    expect(isEnvelope({ id: 'a', revealValue: () => new Uint8Array() })).toBe(false);
    expect(isEnvelope(null)).toBe(false);
    expect(isEnvelope({ ...full() })).toBe(false);
  });
});

describe('the value never leaks by accident', () => {
  it('toString / String / template strings / concatenation give the redacted form', () => {
    const env = full();
    const expected =
      'Envelope{id: "db/pw", value: <redacted 14 bytes>, provider: "vault", version: "v3", ' +
      'createdAt: 2024-01-02T03:04:05.678Z, resolvedAt: 2024-06-01T00:00:00.000Z, ' +
      'expiresAt: 2025-01-01T00:00:00.000Z, metadata: {"owner": "team-a", "note": "rotated"}}';
    expect(env.toString()).toBe(expected);
    expect(String(env)).toBe(expected);
    expect(`${env}`).toBe(expected);
    // biome-ignore lint/style/useTemplate: testing the + operator on purpose
    expect(env + '').toBe(expected);
    expect(createEnvelope({ id: 'x', value: 'a' }).toString()).toBe(
      'Envelope{id: "x", value: <redacted 1 byte>}',
    );
  });

  it('JSON.stringify gives the redacted JSON form, also nested', () => {
    const env = full();
    expect(JSON.parse(JSON.stringify(env))).toEqual({
      id: 'db/pw',
      value: '<redacted 14 bytes>',
      provider: 'vault',
      version: 'v3',
      createdAt: '2024-01-02T03:04:05.678Z',
      resolvedAt: '2024-06-01T00:00:00.000Z',
      expiresAt: '2025-01-01T00:00:00.000Z',
      metadata: { owner: 'team-a', note: 'rotated' },
    });
    expect(JSON.parse(JSON.stringify(createEnvelope({ id: 'x', value: '' })))).toEqual({
      id: 'x',
      value: '<redacted 0 bytes>',
      provider: '',
      version: '',
      metadata: {},
    });
    for (const text of [JSON.stringify({ env }), JSON.stringify([env, env]), JSON.stringify(env, null, 2)]) {
      expect(leaks(text)).toBe(false);
      expect(text).toContain('<redacted 14 bytes>');
    }
  });

  it('util.inspect, util.format and console print the redacted form', () => {
    const env = full();
    const outputs = [
      inspect(env),
      inspect(env, { showHidden: true, depth: Infinity, getters: true }),
      inspect({ deep: { deeper: [env] } }, { depth: Infinity }),
      format('%s', env),
      format('%o', env),
      format('%O', env),
      format('%j', env),
      format(env),
      captureConsole((c) => c.log(env)),
      captureConsole((c) => c.log('secret: %s', env)),
      captureConsole((c) => c.dir(env, { showHidden: true })),
      captureConsole((c) => c.error({ env })),
      captureConsole((c) => c.table([env])),
    ];
    for (const text of outputs) {
      expect(leaks(text), text).toBe(false);
    }
    expect(inspect(env)).toBe(env.toString());
    expect(captureConsole((c) => c.log(env))).toBe(`${env.toString()}\n`);
  });

  it('spread, Object.keys/entries/values, Reflect.ownKeys, Object.assign and structuredClone see no value', () => {
    const env = full();
    const spread = { ...env };
    expect(Object.keys(env)).toEqual([
      'id',
      'provider',
      'version',
      'createdAt',
      'resolvedAt',
      'expiresAt',
      'metadata',
    ]);
    expect(Object.keys(spread)).toEqual(Object.keys(env));
    expect(Reflect.ownKeys(env)).toEqual(Object.keys(env));
    expect(Object.getOwnPropertySymbols(env)).toEqual([]);
    const views = [
      spread,
      Object.entries(env),
      Object.values(env),
      Object.assign({}, env),
      structuredClone(env),
      Object.fromEntries(Object.entries(env)),
    ];
    for (const view of views) {
      expect(leaks(JSON.stringify(view))).toBe(false);
      expect(leaks(inspect(view, { showHidden: true, depth: Infinity }))).toBe(false);
    }
    expect(structuredClone(env)).not.toHaveProperty('value');
  });

  it('property: no redacted form contains the secret, for any value', () => {
    // The marker never appears in a redacted form, so a hit can only be the secret itself.
    const secretArb = fc.string({ minLength: 0, maxLength: 20 }).map((s) => `§${s}§`);
    fc.assert(
      fc.property(secretArb, fc.boolean(), (secret, asBytes) => {
        const env = createEnvelope({
          id: 'p/q',
          value: asBytes ? new TextEncoder().encode(secret) : secret,
          metadata: { m: 'n' },
        });
        const forms = [
          String(env),
          JSON.stringify(env),
          inspect(env, { showHidden: true }),
          format('%o %j %s', env, env, env),
          JSON.stringify({ ...env }),
          inspect(structuredClone(env), { showHidden: true }),
        ];
        for (const text of forms) expect(leaks(text, secret)).toBe(false);
        expect(env.revealText()).toBe(secret);
      }),
      { numRuns: 300 },
    );
  });
});

// Error classes: names, brands, guards and instanceof across package copies (decisions.md "Errors").
import { describe, expect, it } from 'vitest';
import * as api from './index.js';
import {
  ExpandError,
  InvalidEnvelopeError,
  InvalidIdError,
  InvalidPatternError,
  InvalidPluginNameError,
  InvalidVersionError,
  isExpandError,
  isInvalidEnvelopeError,
  isInvalidIdError,
  isInvalidPatternError,
  isInvalidPluginNameError,
  isInvalidVersionError,
  isSecretsError,
  isUnsafeSocketPathError,
  SecretsError,
  UnsafeSocketPathError,
} from './index.js';
import { checkSocketFolder } from './internal.js';

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

const cases = [
  { ctor: InvalidIdError, guard: isInvalidIdError, make: () => caught(() => api.parseId('a//b')) },
  {
    ctor: InvalidPatternError,
    guard: isInvalidPatternError,
    make: () => caught(() => api.parsePattern('*a')),
  },
  { ctor: ExpandError, guard: isExpandError, make: () => caught(() => api.expandPattern('a', 'b')) },
  {
    ctor: InvalidPluginNameError,
    guard: isInvalidPluginNameError,
    make: () => caught(() => api.parsePluginName('')),
  },
  {
    ctor: InvalidVersionError,
    guard: isInvalidVersionError,
    make: () => caught(() => api.parseVersion('1')),
  },
  {
    ctor: InvalidEnvelopeError,
    guard: isInvalidEnvelopeError,
    make: () => caught(() => api.createEnvelope({ id: 'a', value: 1 as unknown as string })),
  },
  {
    ctor: UnsafeSocketPathError,
    guard: isUnsafeSocketPathError,
    make: () =>
      caught(() =>
        checkSocketFolder('/x/engine.sock', {
          create: false,
          uid: 1000,
          platform: 'linux',
          fs: {
            lstatSync: () => ({
              uid: 1001,
              mode: 0o40755,
              isDirectory: () => true,
              isSymbolicLink: () => false,
            }),
            readlinkSync: () => '',
            mkdirSync: () => undefined,
            chmodSync: () => undefined,
          },
        }),
      ),
  },
] as const;

describe('error classes', () => {
  for (const { ctor, guard, make } of cases) {
    it(`${ctor.name}: name, instanceof, its guard and no other guard`, () => {
      const err = make();
      expect(err).toBeInstanceOf(ctor);
      expect(err).toBeInstanceOf(SecretsError);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).name).toBe(ctor.name);
      expect(String(err).startsWith(`${ctor.name}: `)).toBe(true);
      expect(guard(err)).toBe(true);
      expect(isSecretsError(err)).toBe(true);
      for (const other of cases) {
        if (other.ctor === ctor) continue;
        expect(err instanceof other.ctor).toBe(false);
        expect(other.guard(err)).toBe(false);
      }
    });
  }

  it('guards reject plain errors, look-alikes and non-objects', () => {
    const plain = Object.assign(new Error('invalid pattern'), { name: 'InvalidPatternError' });
    for (const { ctor, guard } of cases) {
      expect(guard(plain)).toBe(false);
      expect(plain instanceof ctor).toBe(false);
      expect(guard(undefined)).toBe(false);
      expect(guard('InvalidIdError')).toBe(false);
    }
    expect(isSecretsError(plain)).toBe(false);
    expect(isSecretsError(null)).toBe(false);
  });

  it('passes the cause through', () => {
    const cause = new Error('root');
    expect(new InvalidEnvelopeError('x', { field: 'f', cause }).cause).toBe(cause);
  });

  it('instanceof and the guards work across package copies (the built dist is a second copy)', async () => {
    // A URL held in a variable: the type checker does not need dist (turbo builds it before tests).
    const distUrl = new URL('../dist/index.js', import.meta.url).href;
    const dist = (await import(distUrl)) as typeof api;
    expect(dist.InvalidIdError).not.toBe(InvalidIdError);
    const fromDist = caught(() => dist.parseId('a b'));
    expect(fromDist).toBeInstanceOf(InvalidIdError);
    expect(fromDist).toBeInstanceOf(SecretsError);
    expect(fromDist instanceof InvalidPatternError).toBe(false);
    expect(isInvalidIdError(fromDist)).toBe(true);
    const fromSrc = caught(() => api.parsePattern(''));
    expect(fromSrc).toBeInstanceOf(dist.InvalidPatternError);
    expect(dist.isInvalidPatternError(fromSrc)).toBe(true);
    // Envelopes too: a copy's envelope is recognised.
    expect(api.isEnvelope(dist.createEnvelope({ id: 'a', value: 'x' }))).toBe(true);
  });
});

describe('NotFoundError', () => {
  it('defaults to Go\'s "secret not found" and is recognised by its guard', async () => {
    const { NotFoundError, isNotFoundError, InvalidIdError } = await import('./errors.js');
    const err = new NotFoundError();
    expect(err.message).toBe('secret not found');
    expect(err.name).toBe('NotFoundError');
    expect(isNotFoundError(err)).toBe(true);
    expect(isNotFoundError(new Error('secret not found'))).toBe(false);
    expect(isNotFoundError(new InvalidIdError('x', { id: 'x', reason: 'y' }))).toBe(false);
  });
});

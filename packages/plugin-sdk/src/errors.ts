// Errors of @secrets-engine/plugin-sdk. Named classes with a Symbol.for brand so checks work across
// package copies.

import { isBrandedInstance } from '@secrets-engine/secrets';

const BRAND = Symbol.for('@secrets-engine/plugin-sdk.error');

export class PluginError extends Error {
  readonly [BRAND] = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    Object.defineProperty(this, 'name', { value: new.target.name, configurable: true, writable: true });
  }
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `instanceof X` must see the class X it was called on
    return isBrandedInstance(value, BRAND, this, 'PluginError');
  }
}

/** The options given to `createPlugin` are invalid (bad version, pattern, name, ...). */
export class PluginConfigError extends PluginError {}

/** The engine refused the registration, or it did not finish in time (protocol.md §5.1). */
export class RegistrationError extends PluginError {}

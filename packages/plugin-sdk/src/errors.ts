// Errors of @secrets-engine/plugin-sdk. Named classes with a Symbol.for brand so checks work across
// package copies.

const BRAND = Symbol.for('@secrets-engine/plugin-sdk.error');

export class PluginError extends Error {
  static {
    PluginError.prototype.name = 'PluginError';
  }
  readonly [BRAND] = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `instanceof X` must see the class X it was called on
    return branded(value, this, PluginError);
  }
}

/** The options given to `createPlugin` are invalid (bad version, pattern, name, ...). */
export class PluginConfigError extends PluginError {
  static {
    PluginConfigError.prototype.name = 'PluginConfigError';
  }
}

/** The engine refused the registration, or it did not finish in time (protocol.md §5.1). */
export class RegistrationError extends PluginError {
  static {
    RegistrationError.prototype.name = 'RegistrationError';
  }
}

/** `instanceof` across package copies: the brand, then the root class, the literal name or the prototype chain. */
function branded(value: unknown, cls: { prototype: Error }, root: { prototype: Error }): boolean {
  if (typeof value !== 'object' || value === null || (value as Record<symbol, unknown>)[BRAND] !== true)
    return false;
  return (
    cls === root ||
    (value as Error).name === cls.prototype.name ||
    Object.prototype.isPrototypeOf.call(cls.prototype, value)
  );
}

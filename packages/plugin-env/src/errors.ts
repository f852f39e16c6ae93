// Errors of @secrets-engine/plugin-env: named classes with a Symbol.for brand (cross-copy checks).
// None of them ever carries a value: they name variables.

const BRAND = Symbol.for('@secrets-engine/plugin-env.error');

export class EnvProviderError extends Error {
  static {
    EnvProviderError.prototype.name = 'EnvProviderError';
  }
  readonly [BRAND] = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `instanceof X` must see the class X it was called on
    return branded(value, this, EnvProviderError);
  }
}

/** The options (or the bin's flags, variables or config file) are missing or invalid. */
export class ConfigError extends EnvProviderError {
  static {
    ConfigError.prototype.name = 'ConfigError';
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

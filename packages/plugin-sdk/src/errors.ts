// Errors of @secrets-engine/plugin-sdk. Named classes with a Symbol.for brand so checks work across
// package copies.

const BRAND = Symbol.for('@secrets-engine/plugin-sdk.error');

export class PluginError extends Error {
  readonly [BRAND] = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    Object.defineProperty(this, 'name', { value: new.target.name, configurable: true, writable: true });
  }
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `instanceof X` must see the class X it was called on
    return isKind(value, this);
  }
}

/** Works across package copies: every PluginError carries the brand; subclasses match by name. */
function isKind(value: unknown, cls: { name: string; prototype: object }): boolean {
  if (typeof value !== 'object' || value === null || (value as Record<symbol, unknown>)[BRAND] !== true)
    return false;
  return (
    cls.name === 'PluginError' ||
    (value as Error).name === cls.name ||
    Object.prototype.isPrototypeOf.call(cls.prototype, value)
  );
}

/** The options given to `createPlugin` are invalid (bad version, pattern, name, ...). */
export class PluginConfigError extends PluginError {}

/** The engine refused the registration, or it did not finish in time (protocol.md §5.1). */
export class RegistrationError extends PluginError {}

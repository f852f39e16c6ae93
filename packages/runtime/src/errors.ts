// Errors of @secrets-engine/runtime: named classes with a Symbol.for brand (cross-copy checks).

const BRAND = Symbol.for('@secrets-engine/runtime.error');

export class RuntimeError extends Error {
  static {
    RuntimeError.prototype.name = 'RuntimeError';
  }
  readonly [BRAND] = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `instanceof X` must see the class X it was called on
    return branded(value, this, RuntimeError);
  }
}

/** The engine options are invalid. */
export class EngineConfigError extends RuntimeError {
  static {
    EngineConfigError.prototype.name = 'EngineConfigError';
  }
}

/** Another engine is already listening on the socket path; it is never taken over. */
export class EngineAlreadyRunningError extends RuntimeError {
  static {
    EngineAlreadyRunningError.prototype.name = 'EngineAlreadyRunningError';
  }
  readonly socketPath: string;
  constructor(socketPath: string, options?: { cause?: unknown }) {
    super(`another secrets engine is already listening on ${socketPath}`, options);
    this.socketPath = socketPath;
  }
}

/** No plugin has this name. */
export class PluginNotFoundError extends RuntimeError {
  static {
    PluginNotFoundError.prototype.name = 'PluginNotFoundError';
  }
  readonly pluginName: string;
  constructor(name: string) {
    super(`plugin ${JSON.stringify(name)} not found`);
    this.pluginName = name;
  }
}

/**
 * Plugin pinning failed: the pin file is invalid or unreadable, a plugin executable cannot be
 * hashed, or the pin file cannot be written. `pinFile` is the pin file concerned, `entry` the
 * offending key of it (`version`, `pins`, or `pins["NAME"]`) when there is one.
 */
export class PinError extends RuntimeError {
  static {
    PinError.prototype.name = 'PinError';
  }
  readonly pinFile: string | undefined;
  readonly entry: string | undefined;
  constructor(message: string, options: { pinFile?: string; entry?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.pinFile = options.pinFile;
    this.entry = options.entry;
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

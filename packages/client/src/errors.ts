// Errors an application can act on. Named classes with a Symbol.for brand (cross-copy checks).
// "Not found" and "invalid pattern" are the shared classes of @secrets-engine/secrets.

const BRAND = Symbol.for('@secrets-engine/client.error');

export class ClientError extends Error {
  static {
    ClientError.prototype.name = 'ClientError';
  }
  readonly [BRAND] = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `instanceof X` must see the class X it was called on
    return branded(value, this, ClientError);
  }
}

/** The engine socket cannot be reached (nothing listens there, no permission, ...). */
export class EngineUnavailableError extends ClientError {
  static {
    EngineUnavailableError.prototype.name = 'EngineUnavailableError';
  }
  readonly socketPath: string;
  constructor(socketPath: string, reason: string, options?: { cause?: unknown }) {
    super(`secrets engine is not available at ${socketPath}: ${reason}`, options);
    this.socketPath = socketPath;
  }
}

/** The engine refused access (Connect `permission_denied`). */
export class AccessDeniedError extends ClientError {
  static {
    AccessDeniedError.prototype.name = 'AccessDeniedError';
  }
  constructor(message = 'access denied', options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The engine answered with an error the client has no specific class for. */
export class EngineError extends ClientError {
  static {
    EngineError.prototype.name = 'EngineError';
  }
  /** The Connect code name, e.g. `internal`, `unavailable`, `deadline_exceeded`. */
  readonly code: string;
  constructor(message: string, code: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** A plugin that was asked and did not answer, as the engine reports it. */
export interface PluginFailure {
  plugin: string;
  /** Connect code name: `deadline_exceeded` when it missed its deadline, else what it failed with. */
  code: string;
  message: string;
}

/**
 * Nothing was found and at least one plugin failed or missed its deadline (Connect `unavailable`,
 * or `deadline_exceeded` when every failure was a deadline): the secret may exist, so this is never
 * a NotFoundError. `failures` names each plugin and why (empty when the engine did not say, e.g.
 * Docker's engine).
 */
export class ProviderFailedError extends ClientError {
  static {
    ProviderFailedError.prototype.name = 'ProviderFailedError';
  }
  readonly code: 'unavailable' | 'deadline_exceeded';
  readonly failures: readonly PluginFailure[];
  constructor(
    message: string,
    code: 'unavailable' | 'deadline_exceeded',
    failures: readonly PluginFailure[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.code = code;
    this.failures = failures;
  }
}

/** No plugin has this name (enable/disable). */
export class PluginNotFoundError extends ClientError {
  static {
    PluginNotFoundError.prototype.name = 'PluginNotFoundError';
  }
  readonly pluginName: string;
  constructor(name: string, options?: { cause?: unknown }) {
    super(`plugin ${JSON.stringify(name)} not found`, options);
    this.pluginName = name;
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

// Errors an application can act on. Named classes with a Symbol.for brand (cross-copy checks).
// "Not found" and "invalid pattern" are the shared classes of @secrets-engine/secrets.

import { isBrandedInstance } from '@secrets-engine/secrets';

const BRAND = Symbol.for('@secrets-engine/client.error');

export class ClientError extends Error {
  readonly [BRAND] = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    Object.defineProperty(this, 'name', { value: new.target.name, configurable: true, writable: true });
  }
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `instanceof X` must see the class X it was called on
    return isBrandedInstance(value, BRAND, this, 'ClientError');
  }
}

/** The engine socket cannot be reached (nothing listens there, no permission, ...). */
export class EngineUnavailableError extends ClientError {
  readonly socketPath: string;
  constructor(socketPath: string, reason: string, options?: { cause?: unknown }) {
    super(`secrets engine is not available at ${socketPath}: ${reason}`, options);
    this.socketPath = socketPath;
  }
}

/** The engine refused access (Connect `permission_denied`). */
export class AccessDeniedError extends ClientError {
  constructor(message = 'access denied', options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The engine answered with an error the client has no specific class for. */
export class EngineError extends ClientError {
  /** The Connect code name, e.g. `internal`, `unavailable`, `deadline_exceeded`. */
  readonly code: string;
  constructor(message: string, code: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** No plugin has this name (enable/disable). */
export class PluginNotFoundError extends ClientError {
  readonly pluginName: string;
  constructor(name: string, options?: { cause?: unknown }) {
    super(`plugin ${JSON.stringify(name)} not found`, options);
    this.pluginName = name;
  }
}

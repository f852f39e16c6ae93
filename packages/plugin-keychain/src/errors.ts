// Errors of @secrets-engine/plugin-keychain: named classes with a Symbol.for brand (cross-copy
// checks). None of them ever carries a secret value: they name IDs, the service and the keychain.

const BRAND = Symbol.for('@secrets-engine/plugin-keychain.error');

export class KeychainProviderError extends Error {
  static {
    KeychainProviderError.prototype.name = 'KeychainProviderError';
  }
  readonly [BRAND] = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `instanceof X` must see the class X it was called on
    return branded(value, this, KeychainProviderError);
  }
}

/** The options, or the bin's flags or variables, are missing or invalid. */
export class ConfigError extends KeychainProviderError {
  static {
    ConfigError.prototype.name = 'ConfigError';
  }
}

/** An ID given to `set`/`rm`/`get` is not a valid secret ID (the secrets package's rules). */
export class InvalidSecretIdError extends KeychainProviderError {
  static {
    InvalidSecretIdError.prototype.name = 'InvalidSecretIdError';
  }
}

/** Why the keychain could not be used; `reason` is one of these. */
export type KeychainFailureReason =
  /** Linux: no D-Bus session bus to reach the Secret Service on. */
  | 'no-session-bus'
  /** Linux: a bus, but nothing owns org.freedesktop.secrets (no keyring daemon). */
  | 'no-secret-service'
  /** The keyring (collection) holding the item, or the default one, is locked. */
  | 'locked'
  /** Linux: the Secret Service has no default collection to store a new item in. */
  | 'no-default-collection'
  /** Two keychain items answer for one ID (written by another program). */
  | 'ambiguous'
  /** The platform has no keychain this library can use. */
  | 'unsupported-platform'
  /** Anything else the keychain said. */
  | 'failed';

/**
 * The keychain (Secret Service, macOS Keychain, Windows Credential Manager) could not be used:
 * not there, locked, or failing. The message says which and how to fix it. Never "not found".
 */
export class KeychainUnavailableError extends KeychainProviderError {
  static {
    KeychainUnavailableError.prototype.name = 'KeychainUnavailableError';
  }
  readonly reason: KeychainFailureReason;
  constructor(message: string, reason: KeychainFailureReason, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
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

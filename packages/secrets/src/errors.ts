// Errors of @secrets-engine/secrets. Each class sets `name` on the instance (and, being a named
// class, on the constructor) and carries a Symbol.for brand, so `instanceof` and the `isX()` guards
// work across package copies (decisions.md "Errors").

const BRAND = Symbol.for('@secrets-engine/secrets.error');

/** Base class of every error this package throws. */
export class SecretsError extends Error {
  static {
    SecretsError.prototype.name = 'SecretsError';
  }
  readonly [BRAND] = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
  /** Works across package copies: every SecretsError carries the brand; subclasses match by name. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `instanceof X` must see the class X it was called on
    return isKind(value, this);
  }
}

/**
 * A string is not a valid secret identifier (protocol.md §6.1). The message keeps Go's
 * `ErrInvalidID` text as its prefix and adds the reason in parentheses:
 * `invalid identifier: "my#secret" must match ^[A-Za-z0-9._:-]+(?:/[A-Za-z0-9._:-]+)*$ (character '#' at position 3 is not allowed)`.
 */
export class InvalidIdError extends SecretsError {
  static {
    InvalidIdError.prototype.name = 'InvalidIdError';
  }
  /** The rejected input (as a string). */
  readonly id: string;
  /** What is wrong and where, e.g. `component 2 is empty because of '//' at position 3`. */
  readonly reason: string;
  constructor(message: string, options: { id: string; reason: string; cause?: unknown }) {
    super(message, options);
    this.id = options.id;
    this.reason = options.reason;
  }
}

/**
 * A string is not a valid secret pattern (protocol.md §6.2). The message starts with Go's
 * `invalid pattern` and says what and where: `invalid pattern "foo/*a": component 2 mixes '*' with other characters`.
 */
export class InvalidPatternError extends SecretsError {
  static {
    InvalidPatternError.prototype.name = 'InvalidPatternError';
  }
  /** The rejected input (as a string). */
  readonly pattern: string;
  /** What is wrong and where, e.g. `component 2 mixes '*' with other characters`. */
  readonly reason: string;
  constructor(message: string, options: { pattern: string; reason: string; cause?: unknown }) {
    super(message, options);
    this.pattern = options.pattern;
    this.reason = options.reason;
  }
}

/**
 * `expandId`/`expandPattern` need a pattern with exactly one `**` component (protocol.md §6.3).
 * Message as in Go: `expand only supports one expansion glob, pattern foo/bar has 0`.
 */
export class ExpandError extends SecretsError {
  static {
    ExpandError.prototype.name = 'ExpandError';
  }
  readonly pattern: string;
  /** How many `**` components the pattern has (not 1). */
  readonly globs: number;
  constructor(message: string, options: { pattern: string; globs: number }) {
    super(message);
    this.pattern = options.pattern;
    this.globs = options.globs;
  }
}

/** A plugin name is empty or unusable (protocol.md §5.1). Message prefix as in Go: `parsing name: `. */
export class InvalidPluginNameError extends SecretsError {
  static {
    InvalidPluginNameError.prototype.name = 'InvalidPluginNameError';
  }
  /** The rejected input (as a string). Not `name`, which every Error already has. */
  readonly pluginName: string;
  constructor(message: string, options: { pluginName: string }) {
    super(message);
    this.pluginName = options.pluginName;
  }
}

/**
 * A plugin version is not a v-prefixed semver (protocol.md §5.1). Message prefix as in Go:
 * `parsing version: ` followed by `empty version`, `missing version prefix` or `invalid version: <v>`.
 */
export class InvalidVersionError extends SecretsError {
  static {
    InvalidVersionError.prototype.name = 'InvalidVersionError';
  }
  /** The rejected input (as a string). */
  readonly version: string;
  constructor(message: string, options: { version: string }) {
    super(message);
    this.version = options.version;
  }
}

/**
 * An envelope field other than the id is malformed (a value that is not bytes or text, an invalid
 * Date, metadata that is not string to string, a timestamp outside the range of a Date). An invalid
 * id throws `InvalidIdError` instead.
 */
export class InvalidEnvelopeError extends SecretsError {
  static {
    InvalidEnvelopeError.prototype.name = 'InvalidEnvelopeError';
  }
  /** The offending field, e.g. `createdAt` or `metadata`. */
  readonly field: string;
  constructor(message: string, options: { field: string; cause?: unknown }) {
    super(message, options);
    this.field = options.field;
  }
}

/**
 * The engine socket's folder, or a folder above it, could be changed by someone other than the
 * user: it is owned by another uid, writable by its group or others, or a symbolic link (issue 12
 * item 5a). Listening or dialling there would let another user swap the socket. The message names
 * the socket, the offending path, what is wrong with it and what is allowed:
 * `refusing the engine socket /tmp/secrets-engine-1000/engine.sock: /tmp/secrets-engine-1000 is
 * owned by uid 1001; the socket's folder must be ...`.
 */
export class UnsafeSocketPathError extends SecretsError {
  static {
    UnsafeSocketPathError.prototype.name = 'UnsafeSocketPathError';
  }
  /** The engine socket path that was refused. */
  readonly socketPath: string;
  /** The folder (or symbolic link) that is unsafe. */
  readonly path: string;
  /** What is wrong with `path`, e.g. `is owned by uid 1001`, `has mode 0777 (writable by its group and others)`. */
  readonly reason: string;
  /** What would be accepted instead, e.g. `the socket's folder must be a folder (not a symbolic link) owned by …`. */
  readonly allowed: string;
  constructor(
    message: string,
    options: { socketPath: string; path: string; reason: string; allowed: string; cause?: unknown },
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.socketPath = options.socketPath;
    this.path = options.path;
    this.reason = options.reason;
    this.allowed = options.allowed;
  }
}

function isKind(value: unknown, ctor: { prototype: Error }): boolean {
  return branded(value, ctor, SecretsError);
}

/**
 * No secret matches. Providers (plugins written with the SDK, builtin plugins of the runtime) throw
 * it when nothing matches; on the wire it is Connect `not_found` "secret not found" (protocol.md §6.4),
 * which engines treat as a miss, and clients get it back for a request nothing answered.
 */
export class NotFoundError extends SecretsError {
  static {
    NotFoundError.prototype.name = 'NotFoundError';
  }
  constructor(message = 'secret not found', options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** True for "no such secret", whichever copy of the package created the error. */
export function isNotFoundError(value: unknown): value is NotFoundError {
  return value instanceof NotFoundError;
}

/** True for every error thrown by this package, whichever copy of the package threw it. */
export function isSecretsError(value: unknown): value is SecretsError {
  return isKind(value, SecretsError);
}

/** True for an `InvalidIdError` from any copy of this package. */
export function isInvalidIdError(value: unknown): value is InvalidIdError {
  return isKind(value, InvalidIdError);
}

/** True for an `InvalidPatternError` from any copy of this package. */
export function isInvalidPatternError(value: unknown): value is InvalidPatternError {
  return isKind(value, InvalidPatternError);
}

/** True for an `ExpandError` from any copy of this package. */
export function isExpandError(value: unknown): value is ExpandError {
  return isKind(value, ExpandError);
}

/** True for an `InvalidPluginNameError` from any copy of this package. */
export function isInvalidPluginNameError(value: unknown): value is InvalidPluginNameError {
  return isKind(value, InvalidPluginNameError);
}

/** True for an `InvalidVersionError` from any copy of this package. */
export function isInvalidVersionError(value: unknown): value is InvalidVersionError {
  return isKind(value, InvalidVersionError);
}

/** True for an `InvalidEnvelopeError` from any copy of this package. */
export function isInvalidEnvelopeError(value: unknown): value is InvalidEnvelopeError {
  return isKind(value, InvalidEnvelopeError);
}

/** True for an `UnsafeSocketPathError` from any copy of this package. */
export function isUnsafeSocketPathError(value: unknown): value is UnsafeSocketPathError {
  return isKind(value, UnsafeSocketPathError);
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

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

/**
 * Another engine has the socket path: it holds the lock beside the socket (`<socket>.lock`), or
 * it listens there (an engine that takes no lock, or an abstract socket in use). It is never
 * taken over.
 */
export class EngineAlreadyRunningError extends RuntimeError {
  static {
    EngineAlreadyRunningError.prototype.name = 'EngineAlreadyRunningError';
  }
  readonly socketPath: string;
  /** The lock file beside the socket; undefined for an abstract socket. */
  readonly lockPath: string | undefined;
  /**
   * `lockPath` is what the other engine holds; with `lockFree`, the lock was free but an engine
   * answers on the socket (one that takes no lock, such as Docker's Go engine).
   */
  constructor(socketPath: string, options: { cause?: unknown; lockPath?: string; lockFree?: boolean } = {}) {
    const { lockPath, lockFree = false, cause } = options;
    super(
      lockPath === undefined
        ? `another secrets engine is already listening on ${socketPath}`
        : lockFree
          ? `another secrets engine is already listening on ${socketPath} (one that does not take the lock ${lockPath})`
          : `another secrets engine is already running on ${socketPath}: it holds the lock ${lockPath}`,
      cause === undefined ? undefined : { cause },
    );
    this.socketPath = socketPath;
    this.lockPath = lockPath;
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

/**
 * A plugin's log files cannot be read: the state or logs folder is missing or not this user's
 * private folder, a file is a link or not this user's, or no log file exists for a plugin asked for.
 */
export class PluginLogError extends RuntimeError {
  static {
    PluginLogError.prototype.name = 'PluginLogError';
  }
}

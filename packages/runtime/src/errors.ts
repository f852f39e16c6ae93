// Errors of @secrets-engine/runtime: named classes with a Symbol.for brand (cross-copy checks).

const BRAND = Symbol.for('@secrets-engine/runtime.error');

export class RuntimeError extends Error {
  readonly [BRAND] = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    Object.defineProperty(this, 'name', { value: new.target.name, configurable: true, writable: true });
  }
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (typeof value !== 'object' || value === null || (value as Record<symbol, unknown>)[BRAND] !== true)
      return false;
    return (
      this.name === 'RuntimeError' ||
      (value as Error).name === this.name ||
      Object.prototype.isPrototypeOf.call(this.prototype, value)
    );
  }
}

/** The engine options are invalid. */
export class EngineConfigError extends RuntimeError {}

/** Another engine is already listening on the socket path; it is never taken over. */
export class EngineAlreadyRunningError extends RuntimeError {
  readonly socketPath: string;
  constructor(socketPath: string) {
    super(`another secrets engine is already listening on ${socketPath}`);
    this.socketPath = socketPath;
  }
}

/** No plugin has this name. */
export class PluginNotFoundError extends RuntimeError {
  readonly pluginName: string;
  constructor(name: string) {
    super(`plugin ${JSON.stringify(name)} not found`);
    this.pluginName = name;
  }
}

/** Stopping a plugin process did not finish within its bounds. */
export class PluginStopError extends RuntimeError {}

// Errors of @secrets-engine/runtime: named classes with a Symbol.for brand (cross-copy checks).

import { isBrandedInstance } from '@secrets-engine/secrets';

const BRAND = Symbol.for('@secrets-engine/runtime.error');

export class RuntimeError extends Error {
  readonly [BRAND] = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    Object.defineProperty(this, 'name', { value: new.target.name, configurable: true, writable: true });
  }
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `instanceof X` must see the class X it was called on
    return isBrandedInstance(value, BRAND, this, 'RuntimeError');
  }
}

/** The engine options are invalid. */
export class EngineConfigError extends RuntimeError {}

/** Another engine is already listening on the socket path; it is never taken over. */
export class EngineAlreadyRunningError extends RuntimeError {
  readonly socketPath: string;
  constructor(socketPath: string, options?: { cause?: unknown }) {
    super(`another secrets engine is already listening on ${socketPath}`, options);
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

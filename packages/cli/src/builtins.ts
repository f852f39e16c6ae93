// The builtin providers of serve's configuration (`builtins`: file, env, keychain), run in the
// engine's process (EngineOptions.plugins): no extra process. Each package is loaded with a
// dynamic import() only when configured, so no other command (nor a serve without builtins) pays
// for it; plugin-keychain loads @napi-rs/keyring, a native addon, only then.
import type { BuiltinPlugin, Logger } from '@secrets-engine/runtime';
import type { ServeConfig } from './config.js';

export interface LoadedBuiltins {
  plugins: BuiltinPlugin[];
  /** Stops what the providers watch (the file provider's watcher); after engine.close(). */
  close(): void;
}

/** A provider's options were refused (its ConfigError), with the configuration key it came from. */
export class BuiltinConfigError extends Error {
  static {
    BuiltinConfigError.prototype.name = 'BuiltinConfigError';
  }
  readonly key: string;
  constructor(key: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.key = key;
  }
}

export async function loadBuiltins(
  builtins: ServeConfig['builtins'],
  logger: Logger,
): Promise<LoadedBuiltins> {
  const plugins: BuiltinPlugin[] = [];
  const closers: (() => void)[] = [];
  const create = <T>(key: string, make: () => T): T => {
    try {
      return make();
    } catch (err) {
      throw new BuiltinConfigError(key, (err as Error).message, { cause: err });
    }
  };
  try {
    await load(builtins, logger, plugins, closers, create);
  } catch (err) {
    for (const close of closers) close();
    throw err;
  }
  return {
    plugins,
    close() {
      for (const close of closers) close();
    },
  };
}

async function load(
  builtins: ServeConfig['builtins'],
  logger: Logger,
  plugins: BuiltinPlugin[],
  closers: (() => void)[],
  create: <T>(key: string, make: () => T) => T,
): Promise<void> {
  const file = builtins?.file;
  if (file !== undefined) {
    const { createFileProvider } = await import('@secrets-engine/plugin-file');
    const provider = create('builtins.file', () =>
      createFileProvider({
        file: file.path,
        ...(file.format === undefined ? {} : { format: file.format }),
        ...(file.pattern === undefined ? {} : { pattern: file.pattern }),
        ...(file.name === undefined ? {} : { name: file.name }),
        logger: logger.child({ plugin: file.name ?? 'file' }),
      }),
    );
    plugins.push(provider);
    closers.push(() => provider.close());
    // Read (or refused, logged with why) now, not at the first request: serve's log says at once
    // whether the file can be served.
    await provider.start();
  }
  const env = builtins?.env;
  if (env !== undefined) {
    const { createEnvProvider } = await import('@secrets-engine/plugin-env');
    plugins.push(
      create('builtins.env', () =>
        createEnvProvider({
          ...(env.prefix === undefined ? {} : { prefix: env.prefix }),
          ...(env.pattern === undefined ? {} : { pattern: env.pattern }),
          ...(env.name === undefined ? {} : { name: env.name }),
          logger: logger.child({ plugin: env.name ?? 'env' }),
        }),
      ),
    );
  }
  const keychain = builtins?.keychain;
  if (keychain !== undefined) {
    const { createKeychainProvider } = await import('@secrets-engine/plugin-keychain');
    plugins.push(
      create('builtins.keychain', () =>
        createKeychainProvider({
          ...(keychain.service === undefined ? {} : { service: keychain.service }),
          ...(keychain.pattern === undefined ? {} : { pattern: keychain.pattern }),
          ...(keychain.name === undefined ? {} : { name: keychain.name }),
          logger: logger.child({ plugin: keychain.name ?? 'keychain' }),
        }),
      ),
    );
  }
}

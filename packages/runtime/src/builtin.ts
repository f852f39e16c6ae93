// Builtin plugins: in-process providers with the same interface as a plugin. A throw or a rejected
// promise is this plugin's failure, never the engine's.
import { Code, ConnectError } from '@connectrpc/connect';
import type { Logger } from '@secrets-engine/ipc';
import {
  type Envelope,
  type EnvelopeInit,
  envelopesToProto,
  isNotFoundError,
  parsePattern,
  parsePluginName,
  parseVersion,
  type SecretPattern,
} from '@secrets-engine/secrets';
import type { PluginEntry, PluginInfo } from './entry.js';
import { EngineConfigError } from './errors.js';
import type { RunStatus } from './launched.js';
import { notFound, type Provider } from './provider.js';
import type { ProviderRegistration } from './registration.js';

/** An in-process provider with the same interface as a plugin. */
export interface BuiltinPlugin {
  name: string;
  /** v-prefixed semver. */
  version: string;
  pattern: string;
  getSecrets(
    pattern: SecretPattern,
    options: { signal: AbortSignal },
  ): Iterable<Envelope | EnvelopeInit> | Promise<Iterable<Envelope | EnvelopeInit>>;
}

export class BuiltinEntry implements PluginEntry {
  readonly kind = 'builtin';
  readonly name: string;
  readonly registration: ProviderRegistration;
  /** Builtin plugins are always secrets providers. */
  readonly accessModule = undefined;
  readonly #provider: Provider;
  readonly #logger: Logger;
  #status: RunStatus = 'running';
  #statusMessage = '';
  #disabled = false;
  #closed = false;

  /** Validates `plugin` (EngineConfigError naming it and what is wrong). */
  constructor(plugin: BuiltinPlugin, logger: Logger) {
    let registration: ProviderRegistration;
    try {
      registration = {
        name: parsePluginName(plugin.name),
        version: parseVersion(plugin.version),
        role: 'secrets-provider',
        pattern: parsePattern(plugin.pattern),
        protocol: 'plugins.v1',
      };
    } catch (err) {
      throw new EngineConfigError(
        `createEngine: builtin plugin ${JSON.stringify(plugin.name)}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    if (typeof plugin.getSecrets !== 'function') {
      throw new EngineConfigError(
        `createEngine: builtin plugin ${JSON.stringify(plugin.name)}: getSecrets must be a function`,
      );
    }
    this.name = registration.name;
    this.registration = registration;
    this.#logger = logger;
    this.#provider = builtinProvider(plugin, registration, logger.child({ plugin: registration.name }));
  }

  get provider(): Provider | undefined {
    return this.#disabled || this.#closed ? undefined : this.#provider;
  }

  info(): PluginInfo {
    return {
      name: this.name,
      kind: this.kind,
      version: this.registration.version,
      role: this.registration.role,
      pattern: this.registration.pattern,
      disabled: this.#disabled,
      status: this.#status,
      statusMessage: this.#statusMessage,
      restarts: 0,
      pid: undefined,
    };
  }

  async stop(): Promise<void> {
    // Nothing runs: it only stops answering (the engine is closing); its listed status stays.
    this.#closed = true;
  }

  async enable(): Promise<boolean> {
    if (!this.#disabled) return false;
    this.#disabled = false;
    this.#logger.info('plugin enabled', { plugin: this.name });
    this.#status = 'running';
    this.#statusMessage = '';
    return true;
  }

  async disable(): Promise<boolean> {
    if (this.#disabled) return false;
    this.#disabled = true;
    this.#logger.info('plugin disabled', { plugin: this.name });
    this.#status = 'stopped';
    this.#statusMessage = 'disabled';
    return true;
  }
}

function builtinProvider(
  plugin: BuiltinPlugin,
  registration: ProviderRegistration,
  logger: Logger,
): Provider {
  return {
    name: registration.name,
    version: registration.version,
    pattern: registration.pattern,
    async getSecrets(pattern, options) {
      let result: Iterable<Envelope | EnvelopeInit>;
      try {
        result = await plugin.getSecrets(pattern, { signal: options.signal });
      } catch (err) {
        if (isNotFoundError(err)) throw notFound();
        if (err instanceof ConnectError) throw err;
        throw new ConnectError(
          `failed to get secret ${JSON.stringify(pattern)}: ${(err as Error)?.message ?? String(err)}`,
          Code.Internal,
        );
      }
      const out = envelopesToProto(result ?? [], (err) =>
        logger.warn('dropping an invalid envelope', { error: err.message }),
      );
      if (out.length === 0) throw notFound();
      return out;
    },
  };
}

// A secrets-provider plugin (protocol.md §5.1, §6.4, §9): registers with its pattern and serves
// GetSecrets behind the registration gate. Connecting, registering, Shutdown and the end of the
// connection are the plugin host's (host.ts), shared with access-control modules.
import { silentLogger } from '@secrets-engine/ipc';
import { resolverv1 } from '@secrets-engine/proto';
import { type Envelope, type EnvelopeInit, parsePattern, type SecretPattern } from '@secrets-engine/secrets';
import { PluginConfigError } from './errors.js';
import { handleGetSecrets } from './handler.js';
import {
  type HostOptions,
  PluginHost,
  type ServeOptions,
  type ServeResult,
  validateHostOptions,
} from './host.js';

export type { ServeOptions, ServeResult } from './host.js';

/** What `getSecrets` receives besides the pattern. */
export interface GetSecretsOptions {
  /** Aborted when the engine gives up on the request (deadline, cancel, shutdown). */
  signal: AbortSignal;
}

/**
 * Resolves a pattern (already narrowed by the engine to this plugin's pattern, protocol.md §6.4)
 * to envelopes. Return an empty list or throw `NotFoundError` when nothing matches.
 */
export type GetSecretsHandler = (
  pattern: SecretPattern,
  options: GetSecretsOptions,
) => Iterable<Envelope | EnvelopeInit> | Promise<Iterable<Envelope | EnvelopeInit>>;

export interface PluginOptions extends HostOptions {
  /** The IDs this plugin serves, e.g. `myrealm/**` (protocol.md §6.2). */
  pattern: string;
  getSecrets: GetSecretsHandler;
}

export interface Plugin {
  readonly name: string;
  readonly version: string;
  readonly pattern: SecretPattern;
  /**
   * Connects to the engine, registers, and serves until the engine shuts the plugin down or goes
   * away. Rejects if the connection or the registration fails.
   */
  serve(options?: ServeOptions): Promise<ServeResult>;
  /** Shuts down gracefully (GoAway, drain, close). Idempotent. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Creates a secrets-provider plugin. Validates the options at once (PluginConfigError). */
export function createPlugin(options: PluginOptions): Plugin {
  return new PluginImpl(options);
}

class PluginImpl implements Plugin {
  readonly name: string;
  readonly version: string;
  readonly pattern: SecretPattern;
  readonly #host: PluginHost;

  constructor(options: PluginOptions) {
    if (typeof options?.getSecrets !== 'function') {
      throw new PluginConfigError(
        'createPlugin: getSecrets must be a function (pattern, { signal }) => envelopes',
      );
    }
    const identity = validateHostOptions(options, 'createPlugin');
    let pattern: SecretPattern;
    try {
      pattern = parsePattern(options.pattern);
    } catch (err) {
      throw new PluginConfigError(`createPlugin: pattern: ${(err as Error).message}`, { cause: err });
    }
    this.name = identity.name;
    this.version = identity.version;
    this.pattern = pattern;
    const handler = options.getSecrets;
    this.#host = new PluginHost(
      identity,
      options,
      {
        registerAs: { role: 'secrets-provider', pattern },
        dataRoutes: (router, { registered, logger }) => {
          router.service(resolverv1.ResolverService, {
            getSecrets: async (req, ctx) => {
              await registered(ctx.signal);
              return handleGetSecrets(handler, req.pattern, ctx.signal, logger);
            },
          });
        },
      },
      options.logger ?? silentLogger,
    );
  }

  serve(options: ServeOptions = {}): Promise<ServeResult> {
    return this.#host.serve(options);
  }

  close(): Promise<void> {
    return this.#host.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

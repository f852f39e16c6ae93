// A secrets-provider plugin (protocol.md §5.1, §6.4, §9): registers with its pattern and serves
// GetSecrets behind the registration gate. Connecting, registering, Shutdown and the end of the
// connection are the plugin host's (host.ts), shared with access-control modules.
import { silentLogger } from '@secrets-engine/ipc';
import { SMALL_REQUEST_MAX_BYTES } from '@secrets-engine/ipc/internal';
import { resolverv1 } from '@secrets-engine/proto';
import { type Envelope, type EnvelopeInit, parsePattern, type SecretPattern } from '@secrets-engine/secrets';
import { PluginConfigError } from './errors.js';
import { handleGetSecrets } from './handler.js';
import {
  HostedPlugin,
  type HostedProgram,
  type HostOptions,
  PluginHost,
  validateHostOptions,
} from './host.js';

export type { HostedProgram, ServeOptions, ServeResult } from './host.js';

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

/** A secrets provider: `serve()` registers its pattern and answers GetSecrets. */
export interface Plugin extends HostedProgram {
  readonly pattern: SecretPattern;
}

/** Creates a secrets-provider plugin. Validates the options at once (PluginConfigError). */
export function createPlugin(options: PluginOptions): Plugin {
  return new PluginImpl(options);
}

class PluginImpl extends HostedPlugin implements Plugin {
  readonly pattern: SecretPattern;

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
    const handler = options.getSecrets;
    const host = new PluginHost(
      identity,
      options,
      {
        registerAs: { role: 'secrets-provider', pattern },
        // GetSecrets and Shutdown: one pattern at most (issue 12 item 3).
        requestMaxBytes: SMALL_REQUEST_MAX_BYTES,
        dataRoutes: (router, { registered, logger }) => {
          router.service(resolverv1.ResolverService, {
            getSecrets: async (req, ctx) => {
              const waiting = registered(ctx);
              if (waiting !== undefined) await waiting;
              return handleGetSecrets(handler, req.pattern, ctx, logger);
            },
          });
        },
      },
      options.logger ?? silentLogger,
    );
    super(host);
    this.pattern = pattern;
  }
}

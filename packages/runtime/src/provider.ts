// What the resolver calls: one provider per running plugin, whatever its kind.
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createSessionTransport, type MuxSession } from '@secrets-engine/ipc';
import { pluginsv1, resolverv1 } from '@secrets-engine/proto';
import type { SecretPattern } from '@secrets-engine/secrets';
import { CallQueue } from './admission.js';
import type { Registration } from './registration.js';

export type ProtoEnvelope = resolverv1.GetSecretsResponse_Envelope;

export interface ProviderCallOptions {
  signal: AbortSignal;
  timeoutMs: number;
  /** Ask the provider itself, not a cache in front of it (`get --no-cache`); the answer is still kept. */
  noCache?: boolean;
}

export interface Provider {
  readonly name: string;
  readonly version: string;
  readonly pattern: SecretPattern;
  /**
   * true: every answer is envelopes no one else holds (decoded from the wire for this call), which
   * the resolver fills in place instead of copying. Unset: the resolver copies each envelope (a
   * builtin provider may hand out messages it keeps).
   */
  readonly freshEnvelopes?: boolean;
  /**
   * Resolves `pattern` (already narrowed to this provider). A miss is a ConnectError `not_found`;
   * any other error fails only this provider's part of the request.
   */
  getSecrets(pattern: SecretPattern, options: ProviderCallOptions): Promise<ProtoEnvelope[]>;
}

/** How many calls one plugin's connection carries at once, and how many may wait (admission.ts). */
export interface CallLimits {
  maxInFlight: number;
  maxQueued: number;
}

/**
 * A provider reached over a plugin's session (launched or external). At most `limits.maxInFlight`
 * calls are open on the session at once (one stream each), so the plugin never resets a stream
 * for being over its own inbound limit; the rest wait in FIFO order within their deadline.
 */
export function sessionProvider(
  session: MuxSession,
  info: { name: string; version: string; pattern: SecretPattern },
  limits: CallLimits,
): Provider {
  const client = createClient(resolverv1.ResolverService, createSessionTransport(session));
  const queue = new CallQueue(info.name, limits);
  return {
    name: info.name,
    version: info.version,
    pattern: info.pattern,
    freshEnvelopes: true,
    getSecrets(pattern, options) {
      return queue.run(async () => {
        const res = await client.getSecrets(
          { pattern },
          options.timeoutMs > 0
            ? { signal: options.signal, timeoutMs: options.timeoutMs }
            : { signal: options.signal },
        );
        return res.envelopes;
      }, options.signal);
    },
  };
}

export function notFound(): ConnectError {
  return new ConnectError('secret not found', Code.NotFound);
}

/**
 * Asks a plugin to shut down over its session, on the schema it registered with: OLD plugins serve
 * resolver.v1.PluginService (§4.1). Rejects if the plugin does not answer within `timeoutMs`.
 */
export async function requestShutdown(
  session: MuxSession,
  protocol: Registration['protocol'],
  timeoutMs: number,
): Promise<void> {
  const service = protocol === 'resolver.v1' ? resolverv1.PluginService : pluginsv1.PluginService;
  await createClient(service, createSessionTransport(session)).shutdown({}, { timeoutMs });
}

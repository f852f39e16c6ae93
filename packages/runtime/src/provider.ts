// What the resolver calls: one provider per running plugin, whatever its kind.
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createSessionTransport, type MuxSession } from '@secrets-engine/ipc';
import { resolverv1 } from '@secrets-engine/proto';
import type { SecretPattern } from '@secrets-engine/secrets';

export type ProtoEnvelope = resolverv1.GetSecretsResponse_Envelope;

export interface Provider {
  readonly name: string;
  readonly version: string;
  readonly pattern: SecretPattern;
  /**
   * Resolves `pattern` (already narrowed to this provider). A miss is a ConnectError `not_found`;
   * any other error fails only this provider's part of the request.
   */
  getSecrets(pattern: string, options: { signal: AbortSignal; timeoutMs: number }): Promise<ProtoEnvelope[]>;
}

/** A provider reached over a plugin's session (launched or external). */
export function sessionProvider(
  session: MuxSession,
  info: { name: string; version: string; pattern: SecretPattern },
): Provider {
  const client = createClient(resolverv1.ResolverService, createSessionTransport(session));
  return {
    ...info,
    async getSecrets(pattern, options) {
      const res = await client.getSecrets(
        { pattern },
        options.timeoutMs > 0
          ? { signal: options.signal, timeoutMs: options.timeoutMs }
          : { signal: options.signal },
      );
      return res.envelopes;
    },
  };
}

export function notFound(): ConnectError {
  return new ConnectError('secret not found', Code.NotFound);
}

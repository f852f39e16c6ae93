// GetSecrets (protocol.md §6.4): parse the pattern, call the author's handler, map its errors the
// way Go's SDK does, and turn what it returned into envelopes (never logging a value).
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import type { Logger } from '@secrets-engine/ipc';
import { resolverv1 } from '@secrets-engine/proto';
import {
  type Envelope,
  type EnvelopeInit,
  envelopesToProto,
  isNotFoundError,
  parsePattern,
  type SecretPattern,
} from '@secrets-engine/secrets';
import type { GetSecretsHandler } from './plugin.js';

export async function handleGetSecrets(
  handler: GetSecretsHandler,
  rawPattern: string,
  // The call's signal is read only when used: connect's handler context makes it on first read
  // (an AbortController, a listener, a timer), and most handlers never look (issue 14).
  call: { readonly signal: AbortSignal },
  logger: Logger,
) {
  let pattern: SecretPattern;
  try {
    pattern = parsePattern(rawPattern);
  } catch (err) {
    throw new ConnectError((err as Error).message, Code.InvalidArgument);
  }
  let result: Iterable<Envelope | EnvelopeInit>;
  try {
    result = await handler(pattern, {
      get signal() {
        return call.signal;
      },
    });
  } catch (err) {
    if (isNotFoundError(err)) throw new ConnectError('secret not found', Code.NotFound);
    if (err instanceof ConnectError) throw err;
    if (call.signal.aborted) throw ConnectError.from(call.signal.reason, Code.Canceled);
    const message = err instanceof Error ? err.message : String(err);
    logger.warn('getSecrets failed', { pattern: rawPattern, error: message });
    // The message, never the stack (protocol.md §6.4: `failed to get secret "<p>": <err>`).
    throw new ConnectError(`failed to get secret "${rawPattern}": ${message}`, Code.Internal);
  }
  if (result === undefined || result === null) result = [];
  if (typeof (result as Partial<Iterable<unknown>>)[Symbol.iterator] !== 'function') {
    logger.warn('getSecrets returned something that is not a list of envelopes', { pattern: rawPattern });
    throw new ConnectError(
      `failed to get secret "${rawPattern}": getSecrets must return an iterable of envelopes`,
      Code.Internal,
    );
  }
  // Never log the value: only what was wrong with the envelope.
  const envelopes = envelopesToProto(result, (err) =>
    logger.warn('dropping an invalid envelope', { pattern: rawPattern, error: err.message }),
  );
  if (envelopes.length === 0) throw new ConnectError('secret not found', Code.NotFound);
  return create(resolverv1.GetSecretsResponseSchema, { envelopes });
}

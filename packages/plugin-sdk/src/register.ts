// Registration (protocol.md §4.1, §4.3, §5.1): plugins.v1 RegisterPlugin, and, for a secrets
// provider, the OLD resolver.v1 route when the engine predates plugins.v1. An access-control module
// registers on plugins.v1 only: the OLD schema cannot carry one (§4.2).
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
// The Connect wire name of a code (`already_exists`), as engines and Go clients print it.
import { codeToString } from '@connectrpc/connect/protocol-connect';
import { createSessionTransport, type Logger, type MuxSession } from '@secrets-engine/ipc';
import { pluginsv1, resolverv1 } from '@secrets-engine/proto';
import type { SecretPattern } from '@secrets-engine/secrets';
import { RegistrationError } from './errors.js';

/** What a plugin registers as: Docker's `RegisterPluginRequest.metadata` oneof (§4.2). */
export type RegisterAs = { role: 'secrets-provider'; pattern: SecretPattern } | { role: 'access-control' };

export interface RegisterRequest {
  name: string;
  version: string;
  as: RegisterAs;
  timeoutMs: number;
  signal: AbortSignal;
}

/** Registers over `session`; rejects with RegistrationError. */
export async function registerWithEngine(
  session: MuxSession,
  request: RegisterRequest,
  logger: Logger,
): Promise<void> {
  const transport = createSessionTransport(session);
  const { name, version, as, timeoutMs, signal } = request;
  const started = Date.now();
  try {
    const res = await createClient(pluginsv1.RegisterService, transport).registerPlugin(
      create(pluginsv1.RegisterPluginRequestSchema, {
        name,
        version,
        metadata:
          as.role === 'access-control'
            ? { case: 'accessControlModule', value: {} }
            : { case: 'secretsProvider', value: { pattern: as.pattern } },
      }),
      { timeoutMs, signal: signal },
    );
    logger.info('registered with engine', { engine: `${res.engineName}@${res.engineVersion}` });
    return;
  } catch (err) {
    const ce = ConnectError.from(err);
    if (ce.code !== Code.Unimplemented || as.role === 'access-control')
      throw registrationError(ce, timeoutMs);
  }
  // An engine that predates plugins.v1 serves the OLD route (protocol.md §4.1, §4.3).
  const remaining = Math.max(1, timeoutMs - (Date.now() - started));
  try {
    const res = await createClient(resolverv1.RegisterService, transport).registerPlugin(
      { name, version, pattern: as.pattern },
      { timeoutMs: remaining, signal: signal },
    );
    logger.info('registered with engine (resolver.v1)', {
      engine: `${res.engineName}@${res.engineVersion}`,
    });
  } catch (err) {
    throw registrationError(ConnectError.from(err), timeoutMs);
  }
}

function registrationError(err: ConnectError, timeoutMs: number): RegistrationError {
  if (err.code === Code.DeadlineExceeded) {
    return new RegistrationError(`registration timed out after ${formatDuration(timeoutMs)}`, { cause: err });
  }
  return new RegistrationError(
    `engine rejected the registration (${codeToString(err.code)}): ${err.rawMessage}`,
    {
      cause: err,
    },
  );
}

export function formatDuration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

// Registration (protocol.md §4.1, §4.3, §5.1): plugins.v1 RegisterPlugin, and the OLD resolver.v1
// route when the engine predates plugins.v1.
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient } from '@connectrpc/connect';
// The Connect wire name of a code (`already_exists`), as engines and Go clients print it.
import { codeToString } from '@connectrpc/connect/protocol-connect';
import { createSessionTransport, type Logger, type MuxSession } from '@secrets-engine/ipc';
import { pluginsv1, resolverv1 } from '@secrets-engine/proto';
import type { SecretPattern } from '@secrets-engine/secrets';
import { RegistrationError } from './errors.js';

export interface RegisterRequest {
  name: string;
  version: string;
  pattern: SecretPattern;
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
  const { name, version, pattern, timeoutMs, signal } = request;
  const started = Date.now();
  try {
    const res = await createClient(pluginsv1.RegisterService, transport).registerPlugin(
      create(pluginsv1.RegisterPluginRequestSchema, {
        name,
        version: version,
        metadata: { case: 'secretsProvider', value: { pattern: pattern } },
      }),
      { timeoutMs, signal: signal },
    );
    logger.info('registered with engine', { engine: `${res.engineName}@${res.engineVersion}` });
    return;
  } catch (err) {
    const ce = ConnectError.from(err);
    if (ce.code !== Code.Unimplemented) throw registrationError(ce, timeoutMs);
  }
  // An engine that predates plugins.v1 serves the OLD route (protocol.md §4.1, §4.3).
  const remaining = Math.max(1, timeoutMs - (Date.now() - started));
  try {
    const res = await createClient(resolverv1.RegisterService, transport).registerPlugin(
      { name, version: version, pattern: pattern },
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

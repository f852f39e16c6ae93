// The client side of the commands that talk to a running engine (get, plugins, run, version):
// which socket, and which exit code each client error maps to.
import { resolve } from 'node:path';
import {
  AccessDeniedError,
  createClient,
  EngineError,
  EngineUnavailableError,
  isInvalidPatternError,
  isNotFoundError,
  PluginNotFoundError,
  ProviderFailedError,
  type SecretsClient,
} from '@secrets-engine/client';
import { createSocketTransport } from '@secrets-engine/ipc/internal';
import { isAbstractSocketPath } from '@secrets-engine/secrets/internal';
import { CliError, ExitCode, errorMessage } from './errors.js';

/** `--socket`, made absolute unless it names a Linux abstract socket (`@name`). */
export function socketFlag(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  return isAbstractSocketPath(value) ? value : resolve(value);
}

/**
 * A client for one command: one connection per call, made by ipc's lean unary client (no
 * connect-node, node:http or undici to load: decisions.md "lean-get"). The client still checks the
 * socket's folder chain before each connection and maps its errors.
 */
export function openClient(socket: string | undefined, timeoutMs?: number): SecretsClient {
  return createClient({
    ...(socket === undefined ? {} : { socketPath: socket }),
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
    transport: ({ connect }) => createSocketTransport(connect),
  });
}

/** Maps a client error to a one-line CliError with the documented exit code. */
export function fromClientError(err: unknown): CliError {
  if (err instanceof CliError) return err;
  if (err instanceof EngineUnavailableError)
    return new CliError(err.message, ExitCode.unavailable, { cause: err });
  // Over the engine's limits (limits.maxRequestsInFlight): busy now, like a refused connection.
  if (err instanceof EngineError && err.code === 'resource_exhausted')
    return new CliError(err.message, ExitCode.unavailable, { cause: err });
  if (isInvalidPatternError(err)) return new CliError(err.message, ExitCode.invalidPattern, { cause: err });
  if (err instanceof PluginNotFoundError) return new CliError(err.message, ExitCode.notFound, { cause: err });
  if (err instanceof ProviderFailedError)
    return new CliError(err.message, ExitCode.providerFailed, { cause: err });
  if (isNotFoundError(err)) return new CliError(err.message, ExitCode.notFound, { cause: err });
  if (err instanceof AccessDeniedError) {
    return new CliError(`access denied: ${err.message}`, ExitCode.error, { cause: err });
  }
  return new CliError(errorMessage(err), ExitCode.error, { cause: err });
}

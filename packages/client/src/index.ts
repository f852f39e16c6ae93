/**
 * Read secrets from a secrets-engine (ours or Docker's Go engine) over its Unix socket.
 *
 * @packageDocumentation
 */

export {
  defaultSocketPath,
  type Envelope,
  InvalidIdError,
  InvalidPatternError,
  isInvalidPatternError,
  isNotFoundError,
  NotFoundError,
  type SecretPattern,
} from '@secrets-engine/secrets';
export {
  type CallOptions,
  type ClientOptions,
  type ClientSocket,
  createClient,
  type EngineVersion,
  type PluginStatus,
  type Resolution,
  type RunStatus,
  type SecretsClient,
} from './client.js';
export {
  AccessDeniedError,
  ClientError,
  EngineError,
  EngineUnavailableError,
  type PluginFailure,
  PluginNotFoundError,
  ProviderFailedError,
} from './errors.js';

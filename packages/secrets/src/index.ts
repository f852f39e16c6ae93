/**
 * The secrets model shared by the secrets-engine runtime, the plugin SDK and the client:
 *
 * - secret IDs and patterns with Go's HEAD grammar and matching semantics (protocol.md §6.1–§6.3):
 *   `parseId`, `parsePattern`, `match`, `includes`, `filter`, `expandId`, `expandPattern`;
 * - plugin names and versions as the engine validates them at registration (§5.1);
 * - the size limits of all four (`MAX_ID_LENGTH`, `MAX_ID_COMPONENTS`, `MAX_PLUGIN_NAME_BYTES`,
 *   `MAX_VERSION_LENGTH`);
 * - `Envelope`, a frozen secret whose bytes never reach JSON, logs or template strings by
 *   accident, and its wire form with Go's zero-time convention (§4.4).
 *
 * @packageDocumentation
 */
export {
  createEnvelope,
  type Envelope,
  type EnvelopeInit,
  isEnvelope,
  type RedactedEnvelopeJSON,
} from './envelope.js';
export {
  ExpandError,
  InvalidEnvelopeError,
  InvalidIdError,
  InvalidPatternError,
  InvalidPluginNameError,
  InvalidVersionError,
  isExpandError,
  isInvalidEnvelopeError,
  isInvalidIdError,
  isInvalidPatternError,
  isInvalidPluginNameError,
  isInvalidVersionError,
  isNotFoundError,
  isSecretsError,
  isUnsafeSocketPathError,
  NotFoundError,
  SecretsError,
  UnsafeSocketPathError,
} from './errors.js';
export {
  isValidId,
  isValidPattern,
  parseId,
  parsePattern,
  type SecretId,
  type SecretPattern,
} from './identifiers.js';
export {
  MAX_ID_COMPONENTS,
  MAX_ID_LENGTH,
  MAX_PLUGIN_NAME_BYTES,
  MAX_VERSION_LENGTH,
} from './limits.js';
export { expandId, expandPattern, filter, includes, match } from './match.js';
export { isValidPluginName, type PluginName, parsePluginName } from './name.js';
export { defaultSocketPath, SOCKET_DIR_NAME, SOCKET_ENV, SOCKET_FILE_NAME } from './paths.js';
export {
  envelopeFromProto,
  envelopesToProto,
  envelopeToProto,
  fromGoTimestamp,
  GO_ZERO_TIMESTAMP,
  isGoZeroTime,
  toGoTimestamp,
} from './proto.js';
export { isValidVersion, type PluginVersion, parseVersion } from './version.js';

/**
 * Write a secrets-provider plugin, or an access-control module, for secrets-engine (and Docker's Go
 * engine) in TypeScript.
 *
 * ```ts
 * const plugin = createPlugin({ version: 'v1.0.0', pattern: 'demo/**', getSecrets: (p) => [...] });
 * await plugin.serve();
 * ```
 *
 * @packageDocumentation
 */

// ConnectError and Code, so a handler can fail with a specific code without a direct dependency on
// @connectrpc/connect (ConnectError's instanceof also works across copies of that package).
export { Code, ConnectError } from '@connectrpc/connect';
// killProcessGroup: a plugin that runs helper processes starts them as group leaders and kills
// each group on the way out, as the engine does with plugins (protocol.md §0 "No orphans").
export {
  DialError,
  killProcessGroup,
  LaunchConfigError,
  type Logger,
  silentLogger,
  TimeoutError,
  UnsupportedPlatformError,
  UpgradeError,
} from '@secrets-engine/ipc';
export {
  createEnvelope,
  type Envelope,
  type EnvelopeInit,
  isNotFoundError,
  isValidId,
  isValidPattern,
  match,
  NotFoundError,
  parseId,
  parsePattern,
  type SecretId,
  type SecretPattern,
} from '@secrets-engine/secrets';
export {
  type AccessCheckOptions,
  type AccessControlModule,
  type AccessControlModuleOptions,
  type AuthorizeHandler,
  type AuthorizeResult,
  type CheckAccessHandler,
  createAccessControlModule,
  type Requester,
} from './access-control.js';
export { PluginConfigError, PluginError, RegistrationError } from './errors.js';
export {
  createPlugin,
  type GetSecretsHandler,
  type GetSecretsOptions,
  type HostedProgram,
  type Plugin,
  type PluginOptions,
  type ServeOptions,
  type ServeResult,
} from './plugin.js';
export { type ConfigFileOptions, configFileCandidates, executableName } from './program.js';

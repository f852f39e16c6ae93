/**
 * The secrets-engine runtime: launches and supervises provider plugins, accepts plugins started by
 * hand, and serves secrets on its Unix socket, wire-compatible with Docker's Go secrets-engine.
 *
 * @packageDocumentation
 */

export { type Logger, silentLogger } from '@secrets-engine/ipc';
export { defaultSocketPath, isUnsafeSocketPathError, UnsafeSocketPathError } from '@secrets-engine/secrets';
export {
  type AccessDecision,
  type AccessPolicy,
  type AccessRequest,
  type AccessRule,
  type Caller,
  rulesPolicy,
  sameUserPolicy,
} from './access.js';
export { type AccessModule, AccessModuleError } from './access-module.js';
export {
  AuditLogError,
  type AuditRecord,
  type AuditSink,
  createFileAuditSink,
  type FileAuditSink,
  type FileAuditSinkOptions,
} from './audit.js';
export type { BuiltinPlugin } from './builtin.js';
export { CACHE_DEFAULTS, type CacheOptions, MAX_CACHE_TTL_MS } from './cache.js';
export { type CoreDumpOptions, type CoreDumpProtection, disableCoreDumps } from './core-dumps.js';
export { createEngine, type Engine, type EngineEvents, type PluginReload } from './engine.js';
export type { PluginInfo, PluginKind } from './entry.js';
export {
  EngineAlreadyRunningError,
  EngineConfigError,
  PinError,
  PluginLogError,
  PluginNotFoundError,
  RuntimeError,
} from './errors.js';
export type { RestartPolicy, RunStatus } from './launched.js';
export { lineLevel, PLUGIN_LOG_LEVELS, type PluginLogLevel } from './log-level.js';
export {
  ENGINE_NAME,
  ENGINE_VERSION,
  type EngineLimits,
  type EngineOptions,
  LIMIT_DEFAULTS,
  type PluginSessionOptions,
} from './options.js';
export {
  type PinnedPlugin,
  type PinResult,
  type PinUpdate,
  pinFilePath,
  pinPlugin,
  pinPlugins,
  unpinPlugin,
} from './pins.js';
export {
  listPluginLogs,
  type PluginLogLine,
  pluginLogsDir,
  type StreamPluginLogsOptions,
  streamPluginLogs,
} from './plugin-log-read.js';
export type { PluginRole } from './registration.js';
export { type ControllingTerminal, openControllingTerminal } from './terminal.js';

/**
 * Reading launched plugins' output files without an engine (`secrets-engine logs`): a small entry
 * point that loads none of the engine.
 *
 * @packageDocumentation
 */

export { PluginLogError, RuntimeError } from '../errors.js';
export {
  atLeast,
  createLevelReader,
  lineLevel,
  PLUGIN_LOG_LEVELS,
  type PluginLogLevel,
} from '../log-level.js';
export {
  listPluginLogs,
  MAX_LOG_LINE,
  type PluginLogLine,
  pluginLogsDir,
  type StreamPluginLogsOptions,
  streamPluginLogs,
} from '../plugin-log-read.js';
export { defaultStateDir } from '../state.js';

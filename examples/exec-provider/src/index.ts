/**
 * Example provider plugin: any Docker credential helper (`docker-credential-*`) as a secrets
 * provider. The executable is `main.ts` (bundled to `dist/exec-provider.mjs`); this module exports
 * the pieces for in-process use.
 *
 * @packageDocumentation
 */
export {
  ConfigError,
  type ConfigLookupOptions,
  DEFAULT_PATTERN,
  DEFAULT_TIMEOUT_MS,
  type ExecProviderConfig,
  HELPER_ENV,
  loadConfig,
  PATTERN_ENV,
  TIMEOUT_ENV,
} from './config.js';
export {
  type HelperAction,
  HelperError,
  type HelperResult,
  killRunningHelpers,
  NOT_FOUND_MESSAGE,
  type RunHelperOptions,
  runHelper,
} from './helper.js';
export { createStderrLogger } from './log.js';
export { keyToPath, type MappedKey, type Mapping, mapKeys } from './mapping.js';
export {
  createExecProvider,
  type ExecProvider,
  type ExecProviderOptions,
  mountOf,
  VERSION,
} from './provider.js';

/**
 * Example provider plugin: serves secrets from a JSON or .env file. The executable is `main.ts`
 * (bundled to `dist/file-provider.mjs`); this module exports the pieces for in-process use.
 *
 * @packageDocumentation
 */
export {
  ConfigError,
  type ConfigLookupOptions,
  DEFAULT_PATTERN,
  FILE_ENV,
  type FileProviderConfig,
  loadConfig,
  PATTERN_ENV,
} from './config.js';
export { createStderrLogger } from './log.js';
export { createFileProvider, type FileProvider, type FileProviderOptions, VERSION } from './provider.js';
export {
  type FileFormat,
  formatOf,
  mountOf,
  type ParsedFile,
  parseSecretsFile,
  SecretsFile,
} from './secrets-file.js';

/**
 * A secrets-engine provider: secrets from a JSON file, a .env file or a folder with one file per
 * secret, refused when other users may read or write them, reloaded when they change. The bin is
 * `main.ts` (bundled to `dist/plugin-file.mjs`); this module is the provider for in-process use.
 *
 * @packageDocumentation
 */
export { ConfigError, FileProviderError, InsecureModeError, SecretsSourceError } from './errors.js';
export type { RefusedEntry, SecretsFormat } from './parse.js';
export {
  createFileProvider,
  DEFAULT_NAME,
  DEFAULT_PATTERN,
  DEFAULT_POLL_MS,
  DEFAULT_SETTLE_MS,
  type FileProvider,
  type FileProviderOptions,
  FORMATS,
  VERSION,
} from './provider.js';
export { DEFAULT_LIMITS, FORBIDDEN_MODE_BITS, type SourceLimits } from './source.js';
export type { SecretsView, StoreState } from './store.js';

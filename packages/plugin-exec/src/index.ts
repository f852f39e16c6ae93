/**
 * A secrets-engine provider bridging any Docker credential helper (`docker-credential-*`) into the
 * engine. The bin is `main.ts` (bundled to `dist/plugin-exec.mjs`); this module is the provider for
 * in-process use.
 *
 * @packageDocumentation
 */
export { DEFAULT_PATTERN, DEFAULT_TIMEOUT_MS } from './config.js';
export { ConfigError, ExecProviderError, HelperError } from './errors.js';
export { NOT_FOUND_MESSAGE } from './helper.js';
export { keyToPath } from './mapping.js';
export {
  createExecProvider,
  DEFAULT_NAME,
  type ExecProvider,
  type ExecProviderOptions,
  VERSION,
} from './provider.js';

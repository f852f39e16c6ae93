/**
 * A secrets-engine provider serving the variables of its environment that start with a prefix
 * (`SE_SECRET_DB__PASSWORD` → `env/db/password`), for CI and containers. The bin is `main.ts`
 * (bundled to `dist/plugin-env.mjs`); this module is the provider for in-process use.
 *
 * @packageDocumentation
 */
export { ConfigError, EnvProviderError } from './errors.js';
export { keyOf, type RefusedEntry, SEPARATOR } from './mapping.js';
export {
  createEnvProvider,
  DEFAULT_NAME,
  DEFAULT_PATTERN,
  DEFAULT_PREFIX,
  type EnvProvider,
  type EnvProviderOptions,
  VERSION,
} from './provider.js';

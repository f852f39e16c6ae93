/**
 * A secrets-engine provider serving secrets from the OS keychain: Secret Service (GNOME Keyring,
 * KWallet) on Linux, Keychain on macOS, Credential Manager on Windows. Items live under a service
 * name (default `secrets-engine`) with the secret ID as their account. The bin is `main.ts`
 * (bundled to `dist/plugin-keychain.mjs`, with `set`, `rm` and `list` commands); this module is
 * the provider for in-process use.
 *
 * @packageDocumentation
 */
export {
  ConfigError,
  InvalidSecretIdError,
  type KeychainFailureReason,
  KeychainProviderError,
  KeychainUnavailableError,
} from './errors.js';
export { createOsKeychain, type Keychain, type KeychainItem, type OsKeychainOptions } from './keychain.js';
export {
  createKeychainProvider,
  DEFAULT_NAME,
  DEFAULT_PATTERN,
  DEFAULT_SERVICE,
  type KeychainProvider,
  type KeychainProviderOptions,
  MAX_VALUE_BYTES,
  VERSION,
} from './provider.js';

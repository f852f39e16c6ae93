// The provider: keychain items of one service (default `secrets-engine`), whose account is the
// secret ID, behind a GetSecrets handler. The same object works as the options of `createPlugin`
// (the bin, main.ts) and as a builtin plugin of `createEngine`. It also has the write side the
// engine's read-only API does not: `set`, `remove`, `ids` (the bin's commands).
import {
  Code,
  ConnectError,
  type EnvelopeInit,
  type GetSecretsOptions,
  isValidId,
  isValidPattern,
  type Logger,
  match,
  NotFoundError,
  parseId,
  parsePattern,
  type SecretPattern,
  silentLogger,
} from '@secrets-engine/plugin-sdk';
import { ConfigError, InvalidSecretIdError, KeychainUnavailableError } from './errors.js';
import { createOsKeychain, type Keychain } from './keychain.js';
import { PACKAGE_VERSION } from './package-version.js';

/** The version the plugin registers with: the package's. */
export const VERSION = `v${PACKAGE_VERSION}`;
export const DEFAULT_NAME = 'keychain';
export const DEFAULT_SERVICE = 'secrets-engine';
export const DEFAULT_PATTERN = '**';
/** The longest value `set` stores (Windows Credential Manager's own limit is 2560 bytes). */
export const MAX_VALUE_BYTES = 64 * 1024;

export interface KeychainProviderOptions {
  /** The keychain service the items live under. Default `secrets-engine`. */
  service?: string;
  /** The IDs served (and accepted by `set`). Default `**`. */
  pattern?: string;
  /** Default `keychain`. A launched plugin registers with the name the engine gave it. */
  name?: string;
  /** Reports requests and failures by ID and count, never a value. */
  logger?: Logger;
  /** The keychain. Default: the OS keychain (@napi-rs/keyring). */
  keychain?: Keychain;
}

export interface KeychainProvider {
  readonly name: string;
  readonly version: string;
  readonly pattern: SecretPattern;
  readonly service: string;
  /**
   * The items whose ID matches `pattern`: by ID one lookup, a glob lists the service. Nothing
   * matching is `NotFoundError`; a keychain failure is a ConnectError `unavailable` with the
   * reason and the fix (never not-found).
   */
  getSecrets(pattern: SecretPattern, options?: GetSecretsOptions): Promise<EnvelopeInit[]>;
  /** Stores (or replaces) the value of `id`. Throws InvalidSecretIdError, ConfigError, KeychainUnavailableError. */
  set(id: string, value: string): Promise<void>;
  /** Removes `id`: true if it was there. */
  remove(id: string): Promise<boolean>;
  /** The IDs of the service's items matching `pattern` (default `**`), sorted. Never values. */
  ids(pattern?: string): Promise<string[]>;
}

const AMBIGUOUS_FIX =
  'remove the duplicates with the keychain tool (secret-tool, Keychain Access, Credential Manager) and set it again';

/** Characters of a service name: printable, no control characters, not empty, at most 256. */
const SERVICE = /^[^\p{Cc}]{1,256}$/u;

/** Creates the provider: validates the options (`ConfigError`); the keychain is reached on first use. */
export function createKeychainProvider(options: KeychainProviderOptions = {}): KeychainProvider {
  const service = options.service ?? DEFAULT_SERVICE;
  if (typeof service !== 'string' || !SERVICE.test(service) || service.trim() !== service) {
    throw new ConfigError(
      `createKeychainProvider: service ${JSON.stringify(service)} must be 1 to 256 printable characters without leading or trailing spaces`,
    );
  }
  const rawPattern = options.pattern ?? DEFAULT_PATTERN;
  if (typeof rawPattern !== 'string' || !isValidPattern(rawPattern)) {
    throw new ConfigError(
      `createKeychainProvider: invalid pattern ${JSON.stringify(rawPattern)} (components of A-Z a-z 0-9 . _ - : separated by /, with * or ** for whole components)`,
    );
  }
  const pattern = parsePattern(rawPattern);
  const keychain = options.keychain ?? createOsKeychain();
  const logger = options.logger ?? silentLogger;

  const checkId = (id: string, doing: string): void => {
    try {
      parseId(id);
    } catch (err) {
      throw new InvalidSecretIdError(`cannot ${doing} ${JSON.stringify(id)}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (!match(pattern, id)) {
      throw new InvalidSecretIdError(`cannot ${doing} ${id}: outside this provider's pattern ${pattern}`);
    }
  };
  /**
   * Our items: valid IDs within the pattern (another program may have written other accounts),
   * and the IDs more than one item answers for (written by another program: which one was meant
   * would be a guess, so neither is served).
   */
  const ours = async (signal?: AbortSignal) => {
    const items = await keychain.list(service, signal);
    const kept = items.filter((item) => isValidId(item.account) && match(pattern, item.account));
    if (kept.length < items.length) {
      logger.debug('items skipped: account not a secret ID in the pattern', {
        service,
        skipped: items.length - kept.length,
      });
    }
    const count = new Map<string, number>();
    for (const item of kept) count.set(item.account, (count.get(item.account) ?? 0) + 1);
    const duplicated = [...count].filter(([, n]) => n > 1).map(([id]) => id);
    for (const id of duplicated) {
      logger.warn(`${id}: ${count.get(id)} keychain items answer for it: not served (${AMBIGUOUS_FIX})`, {
        service,
      });
    }
    const unique = kept.filter((item) => count.get(item.account) === 1);
    return { unique, duplicated };
  };
  const envelope = (id: string, value: Uint8Array | string): EnvelopeInit => ({
    id,
    value,
    metadata: { service },
  });

  return {
    name: options.name ?? DEFAULT_NAME,
    version: VERSION,
    pattern,
    service,
    async getSecrets(requested, requestOptions) {
      const signal = requestOptions?.signal;
      try {
        if (isValidId(requested)) {
          // By ID: exactly that account, never a near match.
          if (!match(pattern, requested)) throw new NotFoundError();
          const value = await keychain.get(service, requested, signal);
          logger.debug('get by ID', { id: requested, found: value !== undefined });
          if (value === undefined) throw new NotFoundError();
          return [envelope(requested, value)];
        }
        const { unique, duplicated } = await ours(signal);
        const found = unique.filter((item) => match(requested, item.account));
        logger.debug('get by pattern', { pattern: requested, found: found.length });
        if (found.length === 0) {
          // Only duplicates match: their reason, never "not found"; with anything else, what can be served.
          const refused = duplicated.filter((id) => match(requested, id));
          if (refused.length > 0) {
            throw new ConnectError(
              `cannot serve ${refused[0]}: more than one keychain item of service ${service} answers for it (${AMBIGUOUS_FIX})${
                refused.length > 1 ? ` (and ${refused.length - 1} more)` : ''
              }`,
              Code.FailedPrecondition,
            );
          }
          throw new NotFoundError();
        }
        return found.map((item) => envelope(item.account, item.password));
      } catch (err) {
        if (err instanceof KeychainUnavailableError) {
          logger.warn(err.message, { reason: err.reason });
          // Two items for one ID is the keychain's content, not its availability.
          const code = err.reason === 'ambiguous' ? Code.FailedPrecondition : Code.Unavailable;
          throw new ConnectError(err.message, code, undefined, undefined, err);
        }
        throw err;
      }
    },
    async set(id, value) {
      checkId(id, 'set');
      if (typeof value !== 'string' || value === '') {
        throw new ConfigError(`cannot set ${id}: the value is empty (an empty secret is refused)`);
      }
      const bytes = Buffer.byteLength(value, 'utf8');
      if (bytes > MAX_VALUE_BYTES) {
        throw new ConfigError(`cannot set ${id}: the value is ${bytes} bytes, more than ${MAX_VALUE_BYTES}`);
      }
      await keychain.set(service, id, value);
      logger.info('stored', { id, service, bytes });
    },
    async remove(id) {
      checkId(id, 'remove');
      const removed = await keychain.delete(service, id);
      logger.info(removed ? 'removed' : 'nothing to remove', { id, service });
      return removed;
    },
    async ids(listPattern = '**') {
      if (!isValidPattern(listPattern)) {
        throw new ConfigError(`invalid pattern ${JSON.stringify(listPattern)}`);
      }
      const wanted = parsePattern(listPattern);
      const { unique, duplicated } = await ours();
      return [...unique.map((item) => item.account), ...duplicated].filter((id) => match(wanted, id)).sort();
    },
  };
}

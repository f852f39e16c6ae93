// The provider: a secrets file or folder behind a GetSecrets handler. The same object works as
// the options of `createPlugin` (the bin, main.ts) and as a builtin plugin of `createEngine`.
import { resolve } from 'node:path';
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
  parsePattern,
  type SecretPattern,
  silentLogger,
} from '@secrets-engine/plugin-sdk';
import { ConfigError } from './errors.js';
import { PACKAGE_VERSION } from './package-version.js';
import type { SecretsFormat } from './parse.js';
import { DEFAULT_LIMITS, type SourceLimits } from './source.js';
import { SecretsStore, type StoreState } from './store.js';

/** The version the plugin registers with: the package's. */
export const VERSION = `v${PACKAGE_VERSION}`;
export const DEFAULT_NAME = 'file';
export const DEFAULT_PATTERN = 'file/**';
export const DEFAULT_SETTLE_MS = 100;
export const DEFAULT_POLL_MS = 2_000;
export const FORMATS: readonly (SecretsFormat | 'auto')[] = ['auto', 'json', 'env', 'dir'];

export interface FileProviderOptions {
  /** The secrets file or folder (relative: to the working directory). */
  file: string;
  /** `auto` (default): a folder is `dir`, a `.json` file is `json`, any other file is `env`. */
  format?: SecretsFormat | 'auto';
  /** The IDs served. Default `file/**`; keys are mounted under its leading literal components. */
  pattern?: string;
  /** Default `file`. A launched plugin registers with the name the engine gave it. */
  name?: string;
  /** Loads, skipped entries and refusals are reported here, never with a value. Default: silent. */
  logger?: Logger;
  /** How long a change must be quiet before it is read. Default 100 ms. */
  settleMs?: number;
  /** How often the file's stamps are compared when no event came. Default 2000 ms; 0: events only. */
  pollMs?: number;
  /** Size and count limits (defaults: `DEFAULT_LIMITS`). */
  limits?: Partial<SourceLimits>;
  /** Folder format: drop one trailing newline (LF or CRLF) of each file. Default true. */
  trimNewline?: boolean;
}

export interface FileProvider {
  readonly name: string;
  readonly version: string;
  readonly pattern: SecretPattern;
  /** The absolute path of the secrets file or folder. */
  readonly file: string;
  /**
   * Every entry whose ID matches `pattern`. `NotFoundError` when none does; a ConnectError
   * `failed_precondition` when nothing may be served (missing, unreadable, open to other users,
   * broken before any good version) or the entries asked for are refused.
   */
  getSecrets(pattern: SecretPattern, options?: GetSecretsOptions): Promise<EnvelopeInit[]>;
  /** Reads the first version and starts watching (also done by the first `getSecrets`). */
  start(): Promise<void>;
  /** What is served now. */
  state(): StoreState;
  /** Stops watching. An engine does not call it: call it after `engine.close()`. */
  close(): void;
}

function nonNegativeInteger(value: number | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0) {
    throw new ConfigError(
      `createFileProvider: ${name} must be a whole number of ms >= 0, got ${String(value)}`,
    );
  }
  return value;
}

function limitsOf(limits: Partial<SourceLimits> | undefined): SourceLimits {
  const out = { ...DEFAULT_LIMITS };
  for (const [key, value] of Object.entries(limits ?? {})) {
    if (!(key in DEFAULT_LIMITS)) {
      throw new ConfigError(
        `createFileProvider: limits.${key} is not a limit; allowed: ${Object.keys(DEFAULT_LIMITS).join(', ')}`,
      );
    }
    if (value === undefined) continue;
    if (!Number.isInteger(value) || value < 1) {
      throw new ConfigError(
        `createFileProvider: limits.${key} must be a whole number >= 1, got ${String(value)}`,
      );
    }
    out[key as keyof SourceLimits] = value;
  }
  return out;
}

/** Creates the provider. Validates the options at once (`ConfigError`); reads nothing yet. */
export function createFileProvider(options: FileProviderOptions): FileProvider {
  if (typeof options?.file !== 'string' || options.file === '') {
    throw new ConfigError('createFileProvider: file must be the path of a secrets file or folder');
  }
  const format = options.format ?? 'auto';
  if (!FORMATS.includes(format)) {
    throw new ConfigError(
      `createFileProvider: format ${JSON.stringify(format)} is not one of ${FORMATS.join(', ')}`,
    );
  }
  const rawPattern = options.pattern ?? DEFAULT_PATTERN;
  if (!isValidPattern(rawPattern)) {
    throw new ConfigError(`createFileProvider: invalid pattern ${JSON.stringify(rawPattern)}`);
  }
  const pattern = parsePattern(rawPattern);
  const file = resolve(options.file);
  const store = new SecretsStore({
    path: file,
    format,
    pattern,
    limits: limitsOf(options.limits),
    trimNewline: options.trimNewline ?? true,
    settleMs: nonNegativeInteger(options.settleMs, 'settleMs', DEFAULT_SETTLE_MS),
    pollMs: nonNegativeInteger(options.pollMs, 'pollMs', DEFAULT_POLL_MS),
    logger: options.logger ?? silentLogger,
  });

  return {
    name: options.name ?? DEFAULT_NAME,
    version: VERSION,
    pattern,
    file,
    start: () => store.start(),
    state: () => store.state,
    close: () => store.close(),
    async getSecrets(requested, callOptions) {
      await untilAborted(store.start(), callOptions?.signal);
      const { view, refusal } = store.state;
      if (view === undefined) {
        throw new ConnectError(refusal?.message ?? `secrets ${file} are not loaded`, Code.FailedPrecondition);
      }
      const found = view.entries.filter((entry) => match(requested, entry.id));
      const refused = view.refused.filter((entry) => match(requested, entry.id));
      // A refused entry asked for by its ID is its reason, never "not found"; a glob serves what it can.
      const exact = isValidId(requested) ? refused.find((entry) => entry.id === requested) : undefined;
      const first = exact ?? (found.length === 0 ? refused[0] : undefined);
      if (first !== undefined) {
        const more = exact === undefined && refused.length > 1 ? ` (and ${refused.length - 1} more)` : '';
        throw new ConnectError(
          `${file}: cannot serve ${first.id}: ${first.reason}${more}`,
          Code.FailedPrecondition,
        );
      }
      if (found.length === 0) throw new NotFoundError();
      return found;
    },
  };
}

/** `promise`, or the signal's reason if it aborts first. */
function untilAborted(promise: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

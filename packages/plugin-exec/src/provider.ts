// The provider: `<helper> list` to see which keys exist (and answer glob patterns), `<helper> get`
// for each matching key. The same object works as the options of `createPlugin` (a plugin
// executable, see main.ts) and as a builtin plugin of `createEngine`.
import {
  type EnvelopeInit,
  type GetSecretsOptions,
  isValidPattern,
  type Logger,
  match,
  NotFoundError,
  parsePattern,
  type SecretPattern,
  silentLogger,
} from '@secrets-engine/plugin-sdk';
import { DEFAULT_PATTERN, DEFAULT_TIMEOUT_MS } from './config.js';
import { ConfigError, HelperError } from './errors.js';
import { NOT_FOUND_MESSAGE, runHelper } from './helper.js';
import { type MappedKey, mapKeys } from './mapping.js';
import { PACKAGE_VERSION } from './package-version.js';

/** The version the plugin registers with: the package's. */
export const VERSION = `v${PACKAGE_VERSION}`;
export const DEFAULT_NAME = 'exec';

export interface ExecProviderOptions {
  /** The credential helper: a path, or a command name looked up on PATH. */
  helper: string;
  /** The IDs served. Default `docker-credentials/**`; keys are mounted under its literal prefix. */
  pattern?: string;
  /** Bound of each helper run. Default 30 s (a helper may ask a person to unlock a keychain). */
  timeoutMs?: number;
  /** How many `get`s run at once for a glob pattern. Default 4. */
  concurrency?: number;
  /** Default `exec`. A launched plugin registers with the name the engine gave it. */
  name?: string;
  /** Skipped keys are reported here, once each. Never a secret, never the helper's output. */
  logger?: Logger;
  /** The helper's environment. Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
}

export interface ExecProvider {
  readonly name: string;
  readonly version: string;
  readonly pattern: SecretPattern;
  readonly helper: string;
  /** A secret for every listed key whose ID matches `pattern`; NotFoundError if none does. */
  getSecrets(pattern: SecretPattern, options?: GetSecretsOptions): Promise<EnvelopeInit[]>;
}

interface GetResponse {
  ServerURL?: unknown;
  Username?: unknown;
  Secret?: unknown;
}

/** Creates the provider. Validates the options at once (`ConfigError`); runs nothing yet. */
export function createExecProvider(options: ExecProviderOptions): ExecProvider {
  if (typeof options?.helper !== 'string' || options.helper === '') {
    throw new ConfigError('createExecProvider: helper must be a command name or a path');
  }
  const rawPattern = options.pattern ?? DEFAULT_PATTERN;
  if (!isValidPattern(rawPattern)) {
    throw new ConfigError(`createExecProvider: invalid pattern ${JSON.stringify(rawPattern)}`);
  }
  for (const [key, value] of [
    ['timeoutMs', options.timeoutMs],
    ['concurrency', options.concurrency],
  ] as const) {
    if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
      throw new ConfigError(`createExecProvider: ${key} must be a whole number >= 1, got ${String(value)}`);
    }
  }
  const pattern = parsePattern(rawPattern);
  const mount = mountOf(pattern);
  const logger = options.logger ?? silentLogger;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const concurrency = Math.max(1, options.concurrency ?? 4);
  const warned = new Set<string>();
  const run = (action: 'get' | 'list', input: string, signal: AbortSignal | undefined) =>
    runHelper(options.helper, action, input, { timeoutMs, signal, env: options.env });

  async function list(signal: AbortSignal | undefined): Promise<MappedKey[]> {
    const result = await run('list', '', signal);
    if (result.code !== 0)
      throw new HelperError(`credential helper "list" failed (exit code ${result.code})`);
    const parsed = parseJson(result.stdout);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new HelperError('credential helper "list" did not print a JSON object {"serverURL": "username"}');
    }
    const usernames = Object.fromEntries(
      Object.entries(parsed).map(([k, v]) => [k, typeof v === 'string' ? v : '']),
    );
    const mapping = mapKeys(usernames, mount);
    for (const { key, reason } of mapping.skipped) {
      if (warned.has(key)) continue;
      warned.add(key);
      logger.warn('skipping credential helper key', { key, reason });
    }
    return mapping.keys;
  }

  async function get(entry: MappedKey, signal: AbortSignal | undefined): Promise<EnvelopeInit | undefined> {
    const result = await run('get', entry.key, signal);
    if (result.code !== 0) {
      // Compared, never printed: a broken helper might put anything on stdout.
      if (result.stdout.toString('utf8').trim() === NOT_FOUND_MESSAGE) return undefined;
      throw new HelperError(`credential helper "get" failed for ${entry.id} (exit code ${result.code})`);
    }
    const parsed = parseJson(result.stdout) as GetResponse | undefined;
    if (typeof parsed !== 'object' || parsed === null || typeof parsed.Secret !== 'string') {
      throw new HelperError(
        `credential helper "get" for ${entry.id} did not print a JSON object with a string "Secret"`,
      );
    }
    return {
      id: entry.id,
      value: parsed.Secret,
      metadata: {
        username: typeof parsed.Username === 'string' ? parsed.Username : entry.username,
        serverURL:
          typeof parsed.ServerURL === 'string' && parsed.ServerURL !== '' ? parsed.ServerURL : entry.key,
      },
    };
  }

  return {
    name: options.name ?? DEFAULT_NAME,
    version: VERSION,
    pattern,
    helper: options.helper,
    async getSecrets(requested, callOptions) {
      const signal = callOptions?.signal;
      const wanted = (await list(signal)).filter((entry) => match(requested, entry.id));
      if (wanted.length === 0) throw new NotFoundError();
      const found: EnvelopeInit[] = [];
      const failures: Error[] = [];
      let next = 0;
      const worker = async () => {
        while (next < wanted.length) {
          const entry = wanted[next++]!;
          try {
            const envelope = await get(entry, signal);
            if (envelope !== undefined) found.push(envelope);
          } catch (err) {
            if (signal?.aborted) throw err;
            failures.push(err as Error);
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, wanted.length) }, worker));
      if (found.length === 0 && failures.length > 0) throw failures[0];
      // Some keys answered: serve them, and say which did not (IDs and exit codes only).
      for (const failure of failures) logger.warn(failure.message);
      if (found.length === 0) throw new NotFoundError();
      return found.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    },
  };
}

/** The pattern's leading literal components: `docker-credentials/**` → `docker-credentials`. */
export function mountOf(pattern: string): string {
  const literal: string[] = [];
  for (const component of pattern.split('/')) {
    if (component === '*' || component === '**') break;
    literal.push(component);
  }
  return literal.join('/');
}

/** JSON.parse that never puts the text in an error (V8's message quotes it). */
function parseJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
}

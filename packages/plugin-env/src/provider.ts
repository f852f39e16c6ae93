// The provider: the variables of an environment with a prefix, read once (an environment does not
// change under a process), behind a GetSecrets handler. The same object works as the options of
// `createPlugin` (the bin, main.ts) and as a builtin plugin of `createEngine`.
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
import { type MappingOptions, mapEnvironment, type RefusedEntry } from './mapping.js';
import { PACKAGE_VERSION } from './package-version.js';

/** The version the plugin registers with: the package's. */
export const VERSION = `v${PACKAGE_VERSION}`;
export const DEFAULT_NAME = 'env';
export const DEFAULT_PREFIX = 'SE_SECRET_';
export const DEFAULT_PATTERN = 'env/**';

export interface EnvProviderOptions {
  /** The variables served start with this. Default `SE_SECRET_`. Case-sensitive; never empty. */
  prefix?: string;
  /** The IDs served. Default `env/**`; keys are mounted under its leading literal components. */
  pattern?: string;
  /** Lowercase the keys (default true): `SE_SECRET_DB__PASSWORD` → `env/db/password`. */
  lowercase?: boolean;
  /** Serve variables set to "" (default false: such an ID is refused, see README). */
  allowEmpty?: boolean;
  /** The environment. Default `process.env`, read once, when the provider is created. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Variables never served even with the prefix (the bin's own settings are always left out). */
  ignore?: readonly string[];
  /** Default `env`. A launched plugin registers with the name the engine gave it. */
  name?: string;
  /** The variables served, skipped and refused are reported here once, by name, never with a value. */
  logger?: Logger;
}

export interface EnvProvider {
  readonly name: string;
  readonly version: string;
  readonly pattern: SecretPattern;
  readonly prefix: string;
  /** The IDs served and the variable each comes from (no values). */
  readonly served: readonly { id: string; variable: string }[];
  readonly refused: readonly RefusedEntry[];
  /**
   * Every variable whose ID matches `pattern`. `NotFoundError` when none does; a ConnectError
   * `failed_precondition` naming the variables when the IDs asked for are refused.
   */
  getSecrets(pattern: SecretPattern, options?: GetSecretsOptions): Promise<EnvelopeInit[]>;
}

/** Characters of a prefix: those of a portable variable name. */
const PREFIX = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Creates the provider: validates the options (`ConfigError`) and reads the environment once. */
export function createEnvProvider(options: EnvProviderOptions = {}): EnvProvider {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  if (typeof prefix !== 'string' || !PREFIX.test(prefix)) {
    throw new ConfigError(
      `createEnvProvider: prefix ${JSON.stringify(prefix)} must be a non-empty variable name prefix (A-Z a-z 0-9 _, not starting with a digit); an empty prefix would serve the whole environment`,
    );
  }
  const rawPattern = options.pattern ?? DEFAULT_PATTERN;
  if (!isValidPattern(rawPattern)) {
    throw new ConfigError(`createEnvProvider: invalid pattern ${JSON.stringify(rawPattern)}`);
  }
  const pattern = parsePattern(rawPattern);
  const mapping: MappingOptions = {
    prefix,
    pattern,
    lowercase: options.lowercase ?? true,
    allowEmpty: options.allowEmpty ?? false,
    ...(options.ignore === undefined ? {} : { ignore: options.ignore }),
  };
  const { entries, refused, problems } = mapEnvironment(options.env ?? process.env, mapping);
  const logger = options.logger ?? silentLogger;
  logger.info('serving environment variables', {
    prefix,
    pattern,
    served: entries.length,
    refused: refused.length,
    skipped: problems.length - refused.length,
  });
  for (const problem of problems) logger.warn(problem);
  if (entries.length === 0 && refused.length === 0) {
    logger.warn(
      `no variable starts with ${prefix}: a plugin launched by an engine sees only the engine's allowlisted environment and its pluginEnv (see the README)`,
    );
  }

  return {
    name: options.name ?? DEFAULT_NAME,
    version: VERSION,
    pattern,
    prefix,
    served: entries.map((e) => ({ id: e.id, variable: e.metadata?.variable ?? '' })),
    refused,
    async getSecrets(requested) {
      const found = entries.filter((entry) => match(requested, entry.id));
      const refusedHere = refused.filter((entry) => match(requested, entry.id));
      // A refused ID asked for by name is its reason, never "not found"; a glob serves what it can.
      const exact = isValidId(requested) ? refusedHere.find((entry) => entry.id === requested) : undefined;
      const first = exact ?? (found.length === 0 ? refusedHere[0] : undefined);
      if (first !== undefined) {
        const more =
          exact === undefined && refusedHere.length > 1 ? ` (and ${refusedHere.length - 1} more)` : '';
        throw new ConnectError(`cannot serve ${first.id}: ${first.reason}${more}`, Code.FailedPrecondition);
      }
      if (found.length === 0) throw new NotFoundError();
      return found;
    },
  };
}

// The provider: a secrets file behind a GetSecrets handler. The same object works as the options of
// `createPlugin` (a plugin executable, see main.ts) and as a builtin plugin of `createEngine`.
import {
  type EnvelopeInit,
  type GetSecretsOptions,
  type Logger,
  match,
  NotFoundError,
  parsePattern,
  type SecretPattern,
  silentLogger,
} from '@secrets-engine/plugin-sdk';
import { DEFAULT_PATTERN } from './config.js';
import { SecretsFile } from './secrets-file.js';

/** The version the plugin registers with (kept equal to package.json's by a test). */
export const VERSION = 'v0.1.0';

export interface FileProviderOptions {
  /** The secrets file: `.json` is JSON, anything else is dotenv. */
  file: string;
  /** The IDs served. Default `file/**`; a file's keys are mounted under its literal prefix. */
  pattern?: string;
  /** Default `file-provider`. A launched plugin registers with the name the engine gave it. */
  name?: string;
  /** Where loads and skipped entries are reported (never with values). Default: silent. */
  logger?: Logger;
}

export interface FileProvider {
  readonly name: string;
  readonly version: string;
  readonly pattern: SecretPattern;
  readonly file: SecretsFile;
  /** Every entry whose ID matches `pattern`; NotFoundError if none does. */
  getSecrets(pattern: SecretPattern, options?: GetSecretsOptions): Promise<EnvelopeInit[]>;
}

export function createFileProvider(options: FileProviderOptions): FileProvider {
  const pattern = parsePattern(options.pattern ?? DEFAULT_PATTERN);
  const logger = options.logger ?? silentLogger;
  const file = new SecretsFile({
    path: options.file,
    pattern,
    onLoad: ({ entries, problems }) => {
      logger.info('loaded secrets file', { file: options.file, entries, skipped: problems.length });
      for (const problem of problems) logger.warn(`skipping entry ${problem}`, { file: options.file });
    },
  });
  return {
    name: options.name ?? 'file-provider',
    version: VERSION,
    pattern,
    file,
    async getSecrets(requested) {
      const found = (await file.entries()).filter((entry) => match(requested, entry.id));
      if (found.length === 0) throw new NotFoundError();
      return found;
    },
  };
}

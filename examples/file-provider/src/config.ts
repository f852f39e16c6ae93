// Where the plugin finds its configuration. An engine launches a plugin with an allowlisted
// environment only (PATH, HOME, USER, LANG, TMPDIR, XDG_*) plus the engine's `pluginEnv`, and with
// no arguments, so the lookup is, first match wins:
//   1. $SECRETS_FILE (and $SECRETS_FILE_PATTERN): the engine's `pluginEnv` / `--plugin-env`;
//   2. `<executable-name>.json` beside the executable (`{"file": "...", "pattern": "..."}`);
//   3. `$XDG_CONFIG_HOME/secrets-engine/<executable-name>.json` (XDG_CONFIG_HOME defaults to ~/.config).
// $SECRETS_FILE_PATTERN overrides the pattern whatever the source.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { configFileCandidates, isValidPattern } from '@secrets-engine/plugin-sdk';

export const DEFAULT_PATTERN = 'file/**';
export const FILE_ENV = 'SECRETS_FILE';
export const PATTERN_ENV = 'SECRETS_FILE_PATTERN';

export interface FileProviderConfig {
  /** Absolute path of the secrets file. */
  file: string;
  pattern: string;
  /** Where the configuration came from (for the startup line and error messages). */
  source: string;
}

export interface ConfigLookupOptions {
  env: Readonly<Record<string, string | undefined>>;
  /** The path the plugin was started as (`process.argv[1]`; a symlink is NOT resolved). */
  executable: string | undefined;
  /** Base of a relative $SECRETS_FILE. Default `process.cwd()`. */
  cwd?: string;
}

/** The configuration is missing or invalid. The executable prints the message and exits with 2. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function loadConfig(options: ConfigLookupOptions): FileProviderConfig {
  const patternOverride = nonEmpty(options.env[PATTERN_ENV]);
  const fromEnv = nonEmpty(options.env[FILE_ENV]);
  const looked = configFileCandidates({ executable: options.executable, env: options.env });
  let config: FileProviderConfig | undefined;
  if (fromEnv !== undefined) {
    config = {
      file: resolve(options.cwd ?? process.cwd(), fromEnv),
      pattern: DEFAULT_PATTERN,
      source: `$${FILE_ENV}`,
    };
  } else {
    for (const candidate of looked) {
      config = readConfigFile(candidate);
      if (config !== undefined) break;
    }
  }
  if (config === undefined) {
    throw new ConfigError(
      `no configuration: set $${FILE_ENV} (engine pluginEnv / --plugin-env) or write {"file": "..."} to ${
        looked.length > 0 ? looked.join(' or ') : '<executable-name>.json beside the executable'
      }`,
    );
  }
  if (patternOverride !== undefined) config = { ...config, pattern: patternOverride };
  if (!isValidPattern(config.pattern)) {
    throw new ConfigError(`${config.source}: invalid pattern ${JSON.stringify(config.pattern)}`);
  }
  return config;
}

/** Reads one config file; undefined if it does not exist. A file that exists must be valid. */
function readConfigFile(path: string): FileProviderConfig | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new ConfigError(`${path}: ${(err as Error).message}`, { cause: err });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ConfigError(`${path}: not valid JSON`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(`${path}: expected an object like {"file": "secrets.json", "pattern": "file/**"}`);
  }
  const { file, pattern, ...rest } = raw as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) {
    throw new ConfigError(`${path}: unknown field(s) ${unknown.map((k) => JSON.stringify(k)).join(', ')}`);
  }
  if (typeof file !== 'string' || file === '') throw new ConfigError(`${path}: "file" must be a path`);
  if (pattern !== undefined && typeof pattern !== 'string') {
    throw new ConfigError(`${path}: "pattern" must be a string`);
  }
  return {
    // A relative "file" is relative to the config file, not to wherever the engine was started.
    file: resolve(dirname(path), file),
    pattern: pattern ?? DEFAULT_PATTERN,
    source: path,
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

// The bin's settings, each from the first of: a flag (started by hand), a variable
// ($SECRETS_KEYCHAIN_SERVICE, $SECRETS_KEYCHAIN_PATTERN: the engine's `pluginEnv` /
// `--plugin-env`), the config file (`<executable-name>.json` beside the executable, else
// `$XDG_CONFIG_HOME/secrets-engine/<executable-name>.json`), the default.
import { readFileSync } from 'node:fs';
import { configFileCandidates } from '@secrets-engine/plugin-sdk';
import { ConfigError } from './errors.js';
import { DEFAULT_PATTERN, DEFAULT_SERVICE } from './provider.js';

export const SERVICE_ENV = 'SECRETS_KEYCHAIN_SERVICE';
export const PATTERN_ENV = 'SECRETS_KEYCHAIN_PATTERN';

export interface KeychainConfig {
  service: string;
  pattern: string;
  /** The config file read, if any (for the startup line). */
  configFile: string | undefined;
}

export interface ConfigLookupOptions {
  flags?: { service?: string | undefined; pattern?: string | undefined };
  env: Readonly<Record<string, string | undefined>>;
  /** The path the plugin was started as (`process.argv[1]`; a symbolic link is NOT resolved). */
  executable: string | undefined;
}

interface FileSettings {
  path: string;
  service?: string;
  pattern?: string;
}

/** The settings. Throws `ConfigError` naming the config file and key of a bad value. */
export function loadConfig(options: ConfigLookupOptions): KeychainConfig {
  const flags = options.flags ?? {};
  let file: FileSettings | undefined;
  for (const candidate of configFileCandidates({ executable: options.executable, env: options.env })) {
    file = readConfigFile(candidate);
    if (file !== undefined) break;
  }
  const env = (name: string) => nonEmpty(options.env[name]);
  return {
    service: nonEmpty(flags.service) ?? env(SERVICE_ENV) ?? file?.service ?? DEFAULT_SERVICE,
    pattern: nonEmpty(flags.pattern) ?? env(PATTERN_ENV) ?? file?.pattern ?? DEFAULT_PATTERN,
    configFile: file?.path,
  };
}

/** Reads one config file; undefined if it does not exist. A file that exists must be valid. */
function readConfigFile(path: string): FileSettings | undefined {
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
    throw new ConfigError(`${path}: expected an object like {"service": "secrets-engine", "pattern": "**"}`);
  }
  const { service, pattern, ...rest } = raw as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) {
    throw new ConfigError(
      `${path}: unknown field(s) ${unknown.map((k) => JSON.stringify(k)).join(', ')}; allowed: "service", "pattern"`,
    );
  }
  const settings: FileSettings = { path };
  if (service !== undefined) {
    if (typeof service !== 'string') throw new ConfigError(`${path}: "service" must be a string`);
    settings.service = service;
  }
  if (pattern !== undefined) {
    if (typeof pattern !== 'string') throw new ConfigError(`${path}: "pattern" must be a string`);
    settings.pattern = pattern;
  }
  return settings;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

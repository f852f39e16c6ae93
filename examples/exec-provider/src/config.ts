// Where the plugin finds its configuration. An engine launches a plugin with an allowlisted
// environment only (PATH, HOME, USER, LANG, TMPDIR, XDG_*) plus the engine's `pluginEnv`, and with
// no arguments, so the lookup is, first match wins:
//   1. $CREDENTIAL_HELPER: the engine's `pluginEnv` / `--plugin-env`;
//   2. `<executable-name>.json` beside the executable (`{"helper": "...", "pattern": "...", "timeoutMs": N}`);
//   3. `$XDG_CONFIG_HOME/secrets-engine/<executable-name>.json` (XDG_CONFIG_HOME defaults to ~/.config).
// $CREDENTIAL_HELPER_PATTERN and $CREDENTIAL_HELPER_TIMEOUT_MS override whatever the source says.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { configFileCandidates, isValidPattern } from '@secrets-engine/plugin-sdk';

export const DEFAULT_PATTERN = 'docker-credentials/**';
export const DEFAULT_TIMEOUT_MS = 30_000;
export const HELPER_ENV = 'CREDENTIAL_HELPER';
export const PATTERN_ENV = 'CREDENTIAL_HELPER_PATTERN';
export const TIMEOUT_ENV = 'CREDENTIAL_HELPER_TIMEOUT_MS';

export interface ExecProviderConfig {
  /** The helper: a path, or a bare command name looked up on PATH (`docker-credential-pass`). */
  helper: string;
  pattern: string;
  /** Bound of each helper run. */
  timeoutMs: number;
  /** Where the configuration came from (for the startup line and error messages). */
  source: string;
}

export interface ConfigLookupOptions {
  env: Readonly<Record<string, string | undefined>>;
  /** The path the plugin was started as (`process.argv[1]`; a symlink is NOT resolved). */
  executable: string | undefined;
  /** Base of a relative $CREDENTIAL_HELPER path. Default `process.cwd()`. */
  cwd?: string;
}

/** The configuration is missing or invalid. The executable prints the message and exits with 2. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** A bare name stays a name (PATH lookup at spawn); anything with a `/` is a path from `base`. */
function helperPath(helper: string, base: string): string {
  return helper.includes('/') ? resolve(base, helper) : helper;
}

export function loadConfig(options: ConfigLookupOptions): ExecProviderConfig {
  const fromEnv = nonEmpty(options.env[HELPER_ENV]);
  const looked = configFileCandidates({ executable: options.executable, env: options.env });
  let config: ExecProviderConfig | undefined;
  if (fromEnv !== undefined) {
    config = {
      helper: helperPath(fromEnv, options.cwd ?? process.cwd()),
      pattern: DEFAULT_PATTERN,
      timeoutMs: DEFAULT_TIMEOUT_MS,
      source: `$${HELPER_ENV}`,
    };
  } else {
    for (const candidate of looked) {
      config = readConfigFile(candidate);
      if (config !== undefined) break;
    }
  }
  if (config === undefined) {
    throw new ConfigError(
      `no configuration: set $${HELPER_ENV} (engine pluginEnv / --plugin-env) or write {"helper": "docker-credential-..."} to ${
        looked.length > 0 ? looked.join(' or ') : '<executable-name>.json beside the executable'
      }`,
    );
  }
  const pattern = nonEmpty(options.env[PATTERN_ENV]);
  if (pattern !== undefined) config = { ...config, pattern };
  const timeout = nonEmpty(options.env[TIMEOUT_ENV]);
  if (timeout !== undefined) config = { ...config, timeoutMs: Number(timeout) };
  if (!isValidPattern(config.pattern)) {
    throw new ConfigError(`${config.source}: invalid pattern ${JSON.stringify(config.pattern)}`);
  }
  if (!Number.isInteger(config.timeoutMs) || config.timeoutMs <= 0) {
    throw new ConfigError(`${config.source}: timeoutMs must be a positive whole number of ms`);
  }
  return config;
}

/** Reads one config file; undefined if it does not exist. A file that exists must be valid. */
function readConfigFile(path: string): ExecProviderConfig | undefined {
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
    throw new ConfigError(`${path}: expected an object like {"helper": "docker-credential-pass"}`);
  }
  const { helper, pattern, timeoutMs, ...rest } = raw as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) {
    throw new ConfigError(`${path}: unknown field(s) ${unknown.map((k) => JSON.stringify(k)).join(', ')}`);
  }
  if (typeof helper !== 'string' || helper === '') {
    throw new ConfigError(`${path}: "helper" must be a command name or a path`);
  }
  if (pattern !== undefined && typeof pattern !== 'string') {
    throw new ConfigError(`${path}: "pattern" must be a string`);
  }
  if (timeoutMs !== undefined && typeof timeoutMs !== 'number') {
    throw new ConfigError(`${path}: "timeoutMs" must be a number`);
  }
  return {
    // A relative path is relative to the config file, not to wherever the engine was started.
    helper: helperPath(helper, dirname(path)),
    pattern: pattern ?? DEFAULT_PATTERN,
    timeoutMs: timeoutMs ?? DEFAULT_TIMEOUT_MS,
    source: path,
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

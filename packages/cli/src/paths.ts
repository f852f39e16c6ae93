// Where the CLI keeps its files when not told otherwise: the XDG Base Directory locations, on every
// platform (a user's dotfiles manage ~/.config the same way on Linux and macOS). Per the XDG spec, a
// variable that is unset, empty or not an absolute path is ignored and the default under $HOME used.
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

export type Env = Readonly<Record<string, string | undefined>>;

const APP = 'secrets-engine';

function base(env: Env, variable: string, fallback: readonly string[]): string {
  const value = env[variable];
  if (value !== undefined && value !== '' && isAbsolute(value)) return value;
  return join(env.HOME !== undefined && isAbsolute(env.HOME) ? env.HOME : homedir(), ...fallback);
}

/** `$XDG_CONFIG_HOME/secrets-engine` (default `~/.config/secrets-engine`). */
export function configDir(env: Env = process.env): string {
  return join(base(env, 'XDG_CONFIG_HOME', ['.config']), APP);
}

/** The configuration file `serve` reads when no `--config` is given: `<configDir>/config.json`. */
export function defaultConfigPath(env: Env = process.env): string {
  return join(configDir(env), 'config.json');
}

/** `$XDG_DATA_HOME/secrets-engine` (default `~/.local/share/secrets-engine`). */
export function dataDir(env: Env = process.env): string {
  return join(base(env, 'XDG_DATA_HOME', ['.local', 'share']), APP);
}

/** The plugins folder when neither `--plugins-dir` nor the configuration names one. */
export function defaultPluginsDir(env: Env = process.env): string {
  return join(dataDir(env), 'plugins');
}

// How a plugin program names itself and where it finds its configuration. An engine launches a
// plugin with no arguments and an allowlisted environment, so a plugin has to find its settings by
// itself; these are the conventions the examples and the plugin author's guide follow.
import { basename, dirname, extname, join, resolve } from 'node:path';

/** Extensions dropped from a program's file name to get its plugin name. */
const PROGRAM_EXTENSIONS = ['.js', '.mjs', '.cjs', '.ts', '.mts', '.exe'];

/**
 * The plugin name of a program file: its file name without `.js`, `.mjs`, `.cjs`, `.ts`, `.mts` or
 * `.exe` (`/plugins/vault.mjs` → `vault`; `/plugins/work.secrets` stays `work.secrets`). It is
 * the default `name` of `createPlugin` (from `process.argv[1]`).
 */
export function executableName(program: string): string {
  const base = basename(program);
  const ext = extname(base);
  return PROGRAM_EXTENSIONS.includes(ext) ? base.slice(0, -ext.length) : base;
}

export interface ConfigFileOptions {
  /** The path the program was started as. Default `process.argv[1]`; a symlink is NOT resolved. */
  executable?: string | undefined;
  /** Where `XDG_CONFIG_HOME` and `HOME` are read. Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
}

/**
 * The configuration files a plugin looks at, in order: `<name>.json` beside the executable, then
 * `$XDG_CONFIG_HOME/secrets-engine/<name>.json` (`XDG_CONFIG_HOME` defaults to `~/.config`), where
 * `<name>` is `executableName(executable)`. Beside the executable comes first: an engine launches
 * only executable files, so a `0644` JSON file in its plugins folder is left alone, and one bundle
 * installed under two names reads two configurations. Empty when there is no executable path.
 * Nothing is read: the caller decides what a missing or a bad file means.
 */
export function configFileCandidates(options: ConfigFileOptions = {}): string[] {
  const executable = 'executable' in options ? options.executable : process.argv[1];
  if (executable === undefined || executable === '') return [];
  const env = options.env ?? process.env;
  const name = executableName(executable);
  const candidates = [join(dirname(resolve(executable)), `${name}.json`)];
  const home = nonEmpty(env.HOME);
  const configHome =
    nonEmpty(env.XDG_CONFIG_HOME) ?? (home === undefined ? undefined : join(home, '.config'));
  if (configHome !== undefined) candidates.push(join(configHome, 'secrets-engine', `${name}.json`));
  return candidates;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

// Discovery of launched plugins (protocol.md §1.1): every executable regular file in the plugins
// folder is a plugin named after the file (without `.exe`), and the environment it gets.
import { readdir, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@secrets-engine/ipc';
import { parsePluginName } from '@secrets-engine/secrets';
import { EngineConfigError } from './errors.js';

export interface DiscoveredPlugin {
  name: string;
  path: string;
}

/**
 * The plugins in `dir`, sorted by file name. A missing folder is no plugins (logged); an unreadable
 * one is EngineConfigError. Files that are not executable, or whose name is not a valid plugin name,
 * are skipped (the latter logged).
 */
export async function discoverPlugins(dir: string, logger: Logger): Promise<DiscoveredPlugin[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      logger.warn('plugin directory does not exist', { dir });
      return [];
    }
    throw new EngineConfigError(`failed to discover plugins in ${dir}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const plugins: DiscoveredPlugin[] = [];
  for (const file of names) {
    const path = join(dir, file);
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(path);
    } catch {
      continue;
    }
    if (!info.isFile() || (info.mode & 0o111) === 0) continue;
    const name = file.endsWith('.exe') ? file.slice(0, -4) : file;
    try {
      parsePluginName(name);
    } catch (err) {
      logger.warn('skipping plugin with an invalid name', { file, error: (err as Error).message });
      continue;
    }
    plugins.push({ name, path });
  }
  return plugins;
}

/**
 * What a plugin's executable is now, to tell a changed one from an unchanged one on a reload: the
 * file it resolves to and that file's device, inode, size and modification time (a rewritten or
 * replaced file differs in at least one). A file that cannot be read has its error as identity.
 */
export async function executableIdentity(path: string): Promise<string> {
  try {
    const real = await realpath(path);
    const st = await stat(real, { bigint: true });
    return `${real}\0${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  } catch (err) {
    return `error: ${(err as Error).message}`;
  }
}

/**
 * The environment of a launched plugin (pure): the variables of `env` whose name is in
 * `allowlist` (a trailing `*` matches a prefix), then `extra` on top.
 */
export function pluginEnvironment(
  env: NodeJS.ProcessEnv,
  allowlist: readonly string[],
  extra: Readonly<Record<string, string>>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) continue;
    const allowed = allowlist.some((p) => (p.endsWith('*') ? key.startsWith(p.slice(0, -1)) : key === p));
    if (allowed) out[key] = value;
  }
  return { ...out, ...extra };
}

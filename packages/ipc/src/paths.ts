// Where the engine socket lives by default. Shared by the runtime (listens), the plugin SDK (dials
// to join through /hijack) and clients.
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Environment variable that overrides the engine socket path everywhere. */
export const SOCKET_ENV = 'SECRETS_ENGINE_SOCKET';

/** Folder name under the runtime or cache directory. */
export const SOCKET_DIR_NAME = 'secrets-engine';

/** File name of the engine socket. */
export const SOCKET_FILE_NAME = 'engine.sock';

/**
 * The engine socket path: `$SECRETS_ENGINE_SOCKET` if set, else `$XDG_RUNTIME_DIR/secrets-engine/
 * engine.sock`, else the user cache directory (as Go's os.UserCacheDir: `$XDG_CACHE_HOME` or
 * `~/.cache` on Linux, `~/Library/Caches` on macOS, `%LocalAppData%` on Windows) + the same suffix.
 */
export function defaultSocketPath(
  env: Readonly<Record<string, string | undefined>> = process.env,
  platform: NodeJS.Platform = process.platform,
): string {
  const override = env[SOCKET_ENV];
  if (override !== undefined && override !== '') return override;
  const runtimeDir = env.XDG_RUNTIME_DIR;
  if (platform !== 'win32' && platform !== 'darwin' && runtimeDir !== undefined && runtimeDir !== '') {
    return join(runtimeDir, SOCKET_DIR_NAME, SOCKET_FILE_NAME);
  }
  return join(userCacheDir(env, platform), SOCKET_DIR_NAME, SOCKET_FILE_NAME);
}

function userCacheDir(env: Readonly<Record<string, string | undefined>>, platform: NodeJS.Platform): string {
  const home = env.HOME !== undefined && env.HOME !== '' ? env.HOME : homedir();
  if (platform === 'win32') return env.LOCALAPPDATA ?? env.LocalAppData ?? join(home, 'AppData', 'Local');
  if (platform === 'darwin') return join(home, 'Library', 'Caches');
  const xdg = env.XDG_CACHE_HOME;
  return xdg !== undefined && xdg !== '' ? xdg : join(home, '.cache');
}

// Where the engine socket lives by default. Shared by the runtime (listens), the plugin SDK (dials
// to join through /hijack) and clients. Platform-neutral code: the environment and platform come
// from `globalThis.process` unless given.

/** Environment variable that overrides the engine socket path everywhere. */
export const SOCKET_ENV = 'SECRETS_ENGINE_SOCKET';

/** Folder name under the runtime or cache directory. */
export const SOCKET_DIR_NAME = 'secrets-engine';

/** File name of the engine socket. */
export const SOCKET_FILE_NAME = 'engine.sock';

type Env = Readonly<Record<string, string | undefined>>;

const host = (globalThis as { process?: { env?: Env; platform?: string } }).process;

/**
 * The engine socket path: `$SECRETS_ENGINE_SOCKET` if set, else `$XDG_RUNTIME_DIR/secrets-engine/
 * engine.sock` (Linux and other Unixes), else the user cache directory as Go's os.UserCacheDir finds
 * it (`$XDG_CACHE_HOME` or `~/.cache` on Linux, `~/Library/Caches` on macOS, `%LocalAppData%` on
 * Windows; the temporary directory when there is no home) + `secrets-engine/engine.sock`.
 */
export function defaultSocketPath(
  env: Env = host?.env ?? {},
  platform: string = host?.platform ?? 'linux',
): string {
  const override = env[SOCKET_ENV];
  if (override !== undefined && override !== '') return override;
  const sep = platform === 'win32' ? '\\' : '/';
  const join = (...parts: string[]) => parts.join(sep);
  const runtimeDir = env.XDG_RUNTIME_DIR;
  if (platform !== 'win32' && platform !== 'darwin' && runtimeDir !== undefined && runtimeDir !== '') {
    return join(runtimeDir, SOCKET_DIR_NAME, SOCKET_FILE_NAME);
  }
  return join(userCacheDir(env, platform, join), SOCKET_DIR_NAME, SOCKET_FILE_NAME);
}

function userCacheDir(env: Env, platform: string, join: (...parts: string[]) => string): string {
  const set = (v: string | undefined): v is string => v !== undefined && v !== '';
  if (platform === 'win32') {
    if (set(env.LOCALAPPDATA)) return env.LOCALAPPDATA;
    if (set(env.USERPROFILE)) return join(env.USERPROFILE, 'AppData', 'Local');
    return env.TEMP ?? 'C:\\Windows\\Temp';
  }
  const home = env.HOME;
  if (platform === 'darwin') return set(home) ? join(home, 'Library', 'Caches') : (env.TMPDIR ?? '/tmp');
  if (set(env.XDG_CACHE_HOME)) return env.XDG_CACHE_HOME;
  return set(home) ? join(home, '.cache') : (env.TMPDIR ?? '/tmp');
}

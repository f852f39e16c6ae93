// Where the engine socket lives by default. Shared by the runtime (listens), the plugin SDK (dials
// to join through /hijack) and clients. Platform-neutral code: the environment, platform and uid
// come from `globalThis.process` unless given.

/** Environment variable that overrides the engine socket path everywhere. */
export const SOCKET_ENV = 'SECRETS_ENGINE_SOCKET';

/**
 * Folder name under the runtime directory (`$XDG_RUNTIME_DIR/secrets-engine`); under the temporary
 * directory, which every user shares, the folder is per uid: `secrets-engine-<uid>`.
 */
export const SOCKET_DIR_NAME = 'secrets-engine';

/** File name of the engine socket. */
export const SOCKET_FILE_NAME = 'engine.sock';

type Env = Readonly<Record<string, string | undefined>>;

const host = (globalThis as { process?: { env?: Env; platform?: string; getuid?: () => number } }).process;

/**
 * The engine socket path: `$SECRETS_ENGINE_SOCKET` if set, else
 * `$XDG_RUNTIME_DIR/secrets-engine/engine.sock` (Linux and other Unixes), else
 * `${TMPDIR:-/tmp}/secrets-engine-<uid>/engine.sock` (macOS included): a folder of the uid's own
 * in the temporary directory, never the shared directory itself (issue 12 item 5a; the folder's
 * owner and mode are checked before listening and dialling). Windows:
 * `%LocalAppData%\secrets-engine\engine.sock`.
 */
export function defaultSocketPath(
  env: Env = host?.env ?? {},
  platform: string = host?.platform ?? 'linux',
  uid: number | undefined = host?.getuid?.(),
): string {
  const override = env[SOCKET_ENV];
  if (override !== undefined && override !== '') return override;
  const set = (v: string | undefined): v is string => v !== undefined && v !== '';
  if (platform === 'win32') {
    const local = set(env.LOCALAPPDATA)
      ? env.LOCALAPPDATA
      : set(env.USERPROFILE)
        ? `${env.USERPROFILE}\\AppData\\Local`
        : (env.TEMP ?? 'C:\\Windows\\Temp');
    return `${local}\\${SOCKET_DIR_NAME}\\${SOCKET_FILE_NAME}`;
  }
  const runtimeDir = env.XDG_RUNTIME_DIR;
  if (platform !== 'darwin' && set(runtimeDir)) {
    return `${trimSlash(runtimeDir)}/${SOCKET_DIR_NAME}/${SOCKET_FILE_NAME}`;
  }
  if (uid === undefined || !Number.isInteger(uid) || uid < 0) {
    throw new Error(
      `defaultSocketPath: no uid on ${platform} to name a private socket folder in the temporary directory; set ${SOCKET_ENV} or XDG_RUNTIME_DIR`,
    );
  }
  const tmp = set(env.TMPDIR) ? trimSlash(env.TMPDIR) : '/tmp';
  return `${tmp}/${SOCKET_DIR_NAME}-${uid}/${SOCKET_FILE_NAME}`;
}

/** `/var/folders/x/T/` → `/var/folders/x/T` (macOS's TMPDIR ends in `/`); `/` becomes `` (the prefix of `/x`). */
function trimSlash(dir: string): string {
  return dir.replace(/\/+$/, '');
}

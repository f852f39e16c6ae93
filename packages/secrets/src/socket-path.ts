// The engine socket's address rules, one home for every package that listens on or dials it
// (the runtime, ipc's /hijack dialer, the client, the CLI). Exported from the internal subpath:
// our own packages pin this one exactly.

const host = (globalThis as { process?: { platform?: string } }).process;

/**
 * A leading `@` names a Linux abstract socket (HEAD's default
 * `@docker-secrets-engine/<uid>/daemon.sock`, protocol.md §3.1): no file, no permissions, no
 * directory to create.
 */
export function isAbstractSocketPath(socketPath: string): boolean {
  return socketPath.startsWith('@');
}

/**
 * What node:net listens on or dials for `socketPath`: an abstract name's `@` becomes a NUL byte,
 * a file path stays as it is. Abstract sockets exist only on Linux; elsewhere `unsupported` makes
 * the caller's own error (a dial error, a configuration error) from the message.
 */
export function toNetPath(
  socketPath: string,
  unsupported: (message: string) => Error,
  platform: string = host?.platform ?? 'linux',
): string {
  if (!isAbstractSocketPath(socketPath)) return socketPath;
  if (platform !== 'linux') {
    throw unsupported(`abstract socket ${socketPath} is only supported on Linux (this is ${platform})`);
  }
  return `\0${socketPath.slice(1)}`;
}

/** Why a dial failed when there is no socket (or no folder for it): the words of ENOENT. */
export const NO_SUCH_SOCKET = 'no such socket (is the engine running?)';

const DIAL_FAILURES: Readonly<Record<string, string>> = {
  ENOENT: NO_SUCH_SOCKET,
  ECONNREFUSED: 'connection refused (is the engine running?)',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ENOTSOCK: 'not a socket',
  // A full accept backlog: a connect storm, or an engine that stopped accepting (busy, stopped).
  EAGAIN:
    'the engine is not accepting connections (its accept backlog is full: is it overloaded or stopped?)',
};

/**
 * Why dialling the engine socket failed, in the words every package uses (`no such socket (is
 * the engine running?)`), when `err` or one of its causes is a connect(2) failure with a known
 * errno; undefined otherwise (the caller says what else went wrong).
 */
export function dialFailureReason(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; e instanceof Error && depth < 8; depth++, e = e.cause) {
    const { code, syscall } = e as { code?: unknown; syscall?: unknown };
    if (typeof code !== 'string' || DIAL_FAILURES[code] === undefined) continue;
    if (syscall === undefined || syscall === 'connect') return DIAL_FAILURES[code];
  }
  return undefined;
}

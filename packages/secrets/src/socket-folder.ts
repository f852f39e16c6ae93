// Whose is the engine socket's folder (issue 12 item 5a)? Before the engine listens and before
// anything dials (client, CLI, plugin SDK), every folder from `/` down to the socket's own is
// lstat-ed, as OpenSSH's safe_path and tmux's socket check do: a folder another user could write
// lets that user swap the socket, capture a plugin started by hand and ask it for its secrets, or
// answer a client with values of their choosing. Platform-neutral: the caller passes `node:fs`.
import { UnsafeSocketPathError } from './errors.js';
import { isAbstractSocketPath } from './socket-path.js';

/** What the check reads of a path (a `node:fs` Stats fits). */
export interface SocketFolderStat {
  readonly uid: number;
  readonly mode: number;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
}

/** The file system calls the check makes: the `node:fs` module itself fits. */
export interface SocketFolderFs {
  lstatSync(path: string, options: { throwIfNoEntry: false }): SocketFolderStat | undefined;
  readlinkSync(path: string): string;
  mkdirSync(path: string, options: { mode: number }): unknown;
  chmodSync(path: string, mode: number): void;
}

export interface SocketFolderOptions {
  fs: SocketFolderFs;
  /**
   * Create missing folders, mode 0700 (the engine, before it listens). A dialler creates nothing:
   * a missing folder is `missing` (nothing listens there).
   */
  create: boolean;
  /** Whose the folders must be. Default: this process's uid. */
  uid?: number;
  /** Default: this process's platform. */
  platform?: string;
}

export type SocketFolderStatus =
  /** Every folder checked; `folder` is the socket folder's real path, `mode` its permission bits. */
  | { status: 'safe'; folder: string; mode: number }
  /** Dialling only: `missing` does not exist, so no engine can listen there. */
  | { status: 'missing'; missing: string }
  /** There is no folder to check: a Linux abstract socket (`@name`), or Windows. */
  | { status: 'unchecked'; reason: string };

/** Symbolic links followed on the way down before giving up (Linux's MAXSYMLINKS). */
const MAX_LINKS = 40;
const GROUP_OTHER_WRITE = 0o022;
const STICKY = 0o1000;

const host = (globalThis as { process?: { platform?: string; getuid?: () => number } }).process;

/**
 * Checks (and with `create`, makes) the folder chain of the engine socket `socketPath`, which must
 * be absolute. Throws UnsafeSocketPathError when:
 *
 * - the socket's own folder is a symbolic link, is owned by neither the uid nor root, or is
 *   writable by its group or others (a folder this creates is 0700);
 * - a folder above it is owned by neither the uid nor root, or is writable by its group or others
 *   without being sticky (`/tmp`, mode 1777, is fine: only an entry's owner may move it);
 * - a symbolic link above it is owned by neither the uid nor root (root's `/var -> private/var` on
 *   macOS is fine; it is followed, and its target is checked the same way).
 */
export function checkSocketFolder(socketPath: string, options: SocketFolderOptions): SocketFolderStatus {
  const platform = options.platform ?? host?.platform ?? 'linux';
  if (isAbstractSocketPath(socketPath))
    return { status: 'unchecked', reason: 'an abstract socket has no folder' };
  if (platform === 'win32')
    return { status: 'unchecked', reason: 'folder ownership is not checked on Windows' };
  const uid = options.uid ?? host?.getuid?.();
  if (uid === undefined) return { status: 'unchecked', reason: `no uid on ${platform}` };
  if (!socketPath.startsWith('/')) {
    throw new TypeError(
      `checkSocketFolder: the socket path must be absolute, got ${JSON.stringify(socketPath)}`,
    );
  }
  const { fs, create } = options;
  const owners = uid === 0 ? 'root' : `uid ${uid} or root`;
  const refuse = (path: string, reason: string, allowed: string, cause?: unknown): UnsafeSocketPathError =>
    new UnsafeSocketPathError(`refusing the engine socket ${socketPath}: ${path} ${reason}; ${allowed}`, {
      socketPath,
      path,
      reason,
      allowed,
      cause,
    });
  const FOLDER_RULE = `the socket's folder must be a folder (not a symbolic link) owned by ${owners} and writable by no one else (mode 0700)`;
  const ABOVE_RULE = `every folder above the socket must be owned by ${owners} and writable by no one else unless sticky (as /tmp), and every symbolic link above it owned by ${owners}`;
  const lstat = (path: string, allowed: string): SocketFolderStat | undefined => {
    try {
      return fs.lstatSync(path, { throwIfNoEntry: false });
    } catch (err) {
      throw refuse(path, `cannot be checked (${(err as Error).message})`, allowed, err);
    }
  };

  const names = socketPath.split('/').filter((n) => n !== '');
  if (names.length === 0 || socketPath.endsWith('/')) {
    throw new TypeError(`checkSocketFolder: ${JSON.stringify(socketPath)} names no socket file`);
  }
  names.pop(); // the socket itself
  // Walk down as the kernel resolves the path: `current` is always a real, checked folder.
  const queue = names;
  let current = '/';
  checkAbove('/', lstat('/', ABOVE_RULE));
  let links = 0;
  while (queue.length > 0) {
    const name = queue.shift()!;
    const last = queue.length === 0;
    if (name === '.') continue;
    if (name === '..') {
      current = parentOf(current);
      continue;
    }
    const path = current === '/' ? `/${name}` : `${current}/${name}`;
    const allowed = last ? FOLDER_RULE : ABOVE_RULE;
    let stat = lstat(path, allowed);
    if (stat === undefined) {
      if (!create) return { status: 'missing', missing: path };
      stat = makeFolder(path, allowed);
    }
    if (stat.isSymbolicLink()) {
      let target: string;
      try {
        target = fs.readlinkSync(path);
      } catch (err) {
        throw refuse(
          path,
          `is a symbolic link that cannot be read (${(err as Error).message})`,
          allowed,
          err,
        );
      }
      if (last) throw refuse(path, `is a symbolic link to ${target}`, FOLDER_RULE);
      if (stat.uid !== 0 && stat.uid !== uid) {
        throw refuse(path, `is a symbolic link (to ${target}) owned by uid ${stat.uid}`, ABOVE_RULE);
      }
      if (++links > MAX_LINKS)
        throw refuse(path, `leads through more than ${MAX_LINKS} symbolic links`, ABOVE_RULE);
      if (target.startsWith('/')) current = '/';
      queue.unshift(...target.split('/').filter((n) => n !== ''));
      continue;
    }
    if (!stat.isDirectory()) throw refuse(path, 'is not a folder', allowed);
    if (last) checkFolder(path, stat);
    else checkAbove(path, stat);
    current = path;
  }
  // The socket's folder is `current`; when the path ended in `.` or `..` it was reached, not named.
  const folder = lstat(current, FOLDER_RULE);
  if (folder === undefined) return { status: 'missing', missing: current };
  if (!folder.isDirectory()) throw refuse(current, 'is not a folder', FOLDER_RULE);
  checkFolder(current, folder);
  return { status: 'safe', folder: current, mode: folder.mode & 0o7777 };

  function checkOwner(path: string, stat: SocketFolderStat, allowed: string): void {
    if (stat.uid !== uid && stat.uid !== 0) throw refuse(path, `is owned by uid ${stat.uid}`, allowed);
  }
  function checkAbove(path: string, stat: SocketFolderStat | undefined): void {
    if (stat === undefined || !stat.isDirectory()) throw refuse(path, 'is not a folder', ABOVE_RULE);
    checkOwner(path, stat, ABOVE_RULE);
    if ((stat.mode & GROUP_OTHER_WRITE) !== 0 && (stat.mode & STICKY) === 0) {
      throw refuse(path, `has mode ${modeText(stat.mode)} (${writers(stat.mode)}, not sticky)`, ABOVE_RULE);
    }
  }
  function checkFolder(path: string, stat: SocketFolderStat): void {
    checkOwner(path, stat, FOLDER_RULE);
    if ((stat.mode & GROUP_OTHER_WRITE) !== 0) {
      throw refuse(path, `has mode ${modeText(stat.mode)} (${writers(stat.mode)})`, FOLDER_RULE);
    }
  }
  function makeFolder(path: string, allowed: string): SocketFolderStat {
    try {
      fs.mkdirSync(path, { mode: 0o700 });
      // Exactly 0700 whatever the umask; nobody else can have replaced it: its parent was checked.
      fs.chmodSync(path, 0o700);
    } catch (err) {
      // Made by someone else meanwhile: it is checked like any existing folder, just below.
      if ((err as { code?: unknown }).code !== 'EEXIST') {
        throw refuse(path, `cannot be created (${(err as Error).message})`, allowed, err);
      }
    }
    const made = lstat(path, allowed);
    if (made === undefined) throw refuse(path, 'disappeared right after it was created', allowed);
    return made;
  }
}

function parentOf(path: string): string {
  const at = path.lastIndexOf('/');
  return at <= 0 ? '/' : path.slice(0, at);
}

/** `0o40777` → `0777`, `0o41777` → `1777`. */
function modeText(mode: number): string {
  const bits = mode & 0o7777;
  return bits > 0o777 ? bits.toString(8) : `0${bits.toString(8).padStart(3, '0')}`;
}

function writers(mode: number): string {
  const group = (mode & 0o020) !== 0;
  const other = (mode & 0o002) !== 0;
  return group && other
    ? 'writable by its group and others'
    : group
      ? 'writable by its group'
      : 'writable by others';
}

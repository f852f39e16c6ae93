// The engine socket file (protocol.md §3.1, issue 12 item 5): its folder chain is checked (and the
// folder created 0700) before anything else; one engine per socket, by a lock file beside it
// (`<socket>.lock`, flock(2), held for the engine's life); a stale socket is replaced only while
// holding that lock; the socket is bound under umask 0177 so it is 0600 from its first instant;
// and a live engine listening there is detected and reported, never stolen.
import * as fs from 'node:fs';
import { closeSync, fstatSync, lstatSync, openSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { resolve } from 'node:path';
import { checkSocketFolder, isAbstractSocketPath } from '@secrets-engine/secrets/internal';
import { EngineAlreadyRunningError, EngineConfigError, RuntimeError } from './errors.js';
import { LOCK_EX, LOCK_NB, libc } from './native.js';

/** What `claimSocketPath` holds until `release()`: the lock, and what listening needs to know. */
export interface SocketClaim {
  /** `<socket>.lock`; undefined for an abstract socket (the kernel's EADDRINUSE is its lock). */
  readonly lockPath: string | undefined;
  /** The socket's folder keeps everyone else out by itself (no group or other permission bits). */
  readonly privateFolder: boolean;
  /** Unlinks the lock file (if it is still ours) and closes it. Idempotent. */
  release(): void;
}

/** Lock attempts when the lock file is replaced under us (another engine releasing it). */
const LOCK_ATTEMPTS = 8;

/**
 * Makes `socketPath` ours to listen on: checks its folder chain (UnsafeSocketPathError), takes the
 * lock beside it (EngineAlreadyRunningError when another engine holds it), then, holding the
 * lock, replaces a stale socket file or reports a live one.
 */
export async function claimSocketPath(socketPath: string): Promise<SocketClaim> {
  if (isAbstractSocketPath(socketPath)) {
    // Linux abstract socket: no file; a live engine makes listen fail with EADDRINUSE.
    return { lockPath: undefined, privateFolder: true, release() {} };
  }
  const path = resolve(socketPath);
  const folder = checkSocketFolder(path, { fs, create: true });
  const privateFolder = folder.status !== 'safe' || (folder.mode & 0o077) === 0;
  const lockPath = `${path}.lock`;
  const lock = takeLock(socketPath, lockPath);
  const claim: SocketClaim = { lockPath, privateFolder, release: lock };
  try {
    await replaceStaleSocket(socketPath, path, lockPath);
  } catch (err) {
    claim.release();
    throw err;
  }
  return claim;
}

/** flock(LOCK_EX | LOCK_NB) on `<socket>.lock`; returns the release function. */
function takeLock(socketPath: string, lockPath: string): () => void {
  const c = libc();
  if (c instanceof Error) {
    throw new RuntimeError(`cannot lock ${lockPath} to claim ${socketPath}: ${c.message}`, { cause: c });
  }
  for (let attempt = 0; attempt < LOCK_ATTEMPTS; attempt++) {
    let fd: number;
    try {
      // O_NOFOLLOW: a symbolic link planted there is refused, never followed. libuv adds O_CLOEXEC,
      // so launched plugins do not inherit the lock (an orphan would otherwise hold it).
      fd = openSync(lockPath, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW, 0o600);
    } catch (err) {
      throw new EngineConfigError(`cannot open the lock file ${lockPath}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const opened = fstatSync(fd);
    const uid = process.getuid?.();
    if (!opened.isFile() || (uid !== undefined && opened.uid !== uid)) {
      closeSync(fd);
      throw new EngineConfigError(
        `the lock file ${lockPath} is ${opened.isFile() ? `owned by uid ${opened.uid}` : 'not a regular file'}; it must be a regular file of uid ${uid}`,
      );
    }
    if (c.flock(fd, LOCK_EX | LOCK_NB) !== 0) {
      const errno = c.errno();
      closeSync(fd);
      if (errno === c.EWOULDBLOCK) {
        throw new EngineAlreadyRunningError(socketPath, { lockPath });
      }
      throw new RuntimeError(`cannot lock ${lockPath}: flock failed with errno ${errno}`);
    }
    // Locked; but the file may have been unlinked (or replaced) by an engine that released it
    // between our open and our flock: then this lock guards nothing, try again on the new file.
    let current: fs.Stats | undefined;
    try {
      current = lstatSync(lockPath);
    } catch {
      current = undefined;
    }
    if (current !== undefined && current.ino === opened.ino && current.dev === opened.dev) {
      let released = false;
      return () => {
        if (released) return;
        released = true;
        // Unlinked while still locked, so whoever opened this file meanwhile retries (above).
        try {
          const now = lstatSync(lockPath);
          if (now.ino === opened.ino && now.dev === opened.dev) unlinkSync(lockPath);
        } catch {
          // gone already
        }
        closeSync(fd);
      };
    }
    closeSync(fd);
  }
  throw new RuntimeError(`cannot lock ${lockPath}: it was replaced ${LOCK_ATTEMPTS} times while locking`);
}

/** Holding the lock: a stale socket file is unlinked, a live listener reported, anything else refused. */
async function replaceStaleSocket(socketPath: string, path: string, lockPath: string): Promise<void> {
  let stat: ReturnType<typeof lstatSync> | undefined;
  try {
    stat = lstatSync(path);
  } catch {
    return;
  }
  if (!stat.isSocket()) {
    throw new EngineConfigError(`${socketPath} exists and is not a socket; refusing to replace it`);
  }
  const probe = await probeSocket(path);
  // Live although its lock was free: an engine that takes no lock (Docker's, an older one).
  if (probe === 'live') throw new EngineAlreadyRunningError(socketPath, { lockPath, lockFree: true });
  if (probe !== 'stale') {
    // Not provably stale (a full accept backlog answers EAGAIN, a busy engine may not answer in
    // time): never unlink what may be a live engine's socket (issue 12 item 5c).
    throw new RuntimeError(
      `cannot tell whether an engine listens on ${socketPath} (${probe}); refusing to replace its socket`,
    );
  }
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new RuntimeError(`cannot remove the stale socket ${socketPath}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
}

/**
 * Whether an engine listens on `socketPath`: 'live' when it accepts, 'stale' only for
 * ECONNREFUSED or ENOENT (no listener, or the file went away), else why it could not tell.
 */
function probeSocket(socketPath: string): Promise<'live' | 'stale' | string> {
  return new Promise((resolve) => {
    const s = connect({ path: socketPath }); // a file path: abstract names never get here
    const timer = setTimeout(() => done('no answer within 1000 ms'), 1_000);
    timer.unref();
    function done(result: 'live' | 'stale' | string) {
      clearTimeout(timer);
      s.destroy();
      resolve(result);
    }
    s.once('connect', () => done('live'));
    s.once('error', (err: NodeJS.ErrnoException) =>
      done(err.code === 'ECONNREFUSED' || err.code === 'ENOENT' ? 'stale' : (err.code ?? err.message)),
    );
  });
}

/**
 * Runs `listen` (which binds synchronously) so that the socket file is born 0600: under umask
 * 0177 unless the folder alone keeps others out. The umask is the process's, set and restored
 * within this one synchronous call; a worker thread cannot set it, so there a folder that others
 * may enter is refused instead of exposing the socket for an instant (issue 12 item 5b).
 */
export function bindPrivately(socketPath: string, claim: SocketClaim, listen: () => void): void {
  if (isAbstractSocketPath(socketPath) || claim.privateFolder) {
    listen();
    return;
  }
  let previous: number;
  try {
    previous = process.umask(0o177);
  } catch (err) {
    throw new EngineConfigError(
      `cannot bind ${socketPath} privately: its folder lets others in (group or other permission bits) and the umask cannot be set here (${(err as Error).message}); use a socket folder of mode 0700`,
      { cause: err },
    );
  }
  try {
    listen();
  } finally {
    process.umask(previous);
  }
}

/** Restricts the socket to its owner (it is already, when bound by bindPrivately). */
export function restrictSocket(socketPath: string): void {
  if (isAbstractSocketPath(socketPath)) return;
  fs.chmodSync(socketPath, 0o600);
}

/**
 * Removes the socket file if it is still the one we created. Without an inode we never listened
 * (e.g. start() found another engine there): the file is someone else's, leave it.
 */
export function removeSocket(socketPath: string, ino: number | undefined): void {
  if (isAbstractSocketPath(socketPath) || ino === undefined) return;
  try {
    const stat = lstatSync(socketPath);
    if (stat.isSocket() && stat.ino === ino) unlinkSync(socketPath);
  } catch {
    // gone already
  }
}

export function socketInode(socketPath: string): number | undefined {
  if (isAbstractSocketPath(socketPath)) return undefined;
  try {
    return lstatSync(socketPath).ino;
  } catch {
    return undefined;
  }
}

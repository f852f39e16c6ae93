// The engine socket file (protocol.md §3.1, issue requirements): the directory is created 0700,
// the socket is 0600, a stale socket file is replaced, and a live engine listening there is
// detected and reported, never stolen.
import { chmodSync, lstatSync, mkdirSync, statSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { isAbstractSocketPath } from '@secrets-engine/secrets/internal';
import { EngineAlreadyRunningError, EngineConfigError, RuntimeError } from './errors.js';

/** Prepares `socketPath` for listening. Throws if another engine is live there. */
export async function prepareSocketPath(socketPath: string): Promise<void> {
  if (isAbstractSocketPath(socketPath)) {
    // Linux abstract socket: no file; a live engine makes listen fail with EADDRINUSE.
    return;
  }
  const dir = dirname(socketPath);
  try {
    const created = mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (created !== undefined) chmodSync(dir, 0o700);
  } catch (err) {
    throw new EngineConfigError(`cannot create the socket directory ${dir}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (!statSync(dir).isDirectory()) throw new EngineConfigError(`${dir} is not a directory`);
  let stat: ReturnType<typeof lstatSync> | undefined;
  try {
    stat = lstatSync(socketPath);
  } catch {
    return;
  }
  if (!stat.isSocket()) {
    throw new EngineConfigError(`${socketPath} exists and is not a socket; refusing to replace it`);
  }
  const probe = await probeSocket(socketPath);
  if (probe === 'live') throw new EngineAlreadyRunningError(socketPath);
  if (probe !== 'stale') {
    // Not provably stale (a full accept backlog answers EAGAIN, a busy engine may not answer in
    // time): never unlink what may be a live engine's socket (issue 12 item 5c).
    throw new RuntimeError(
      `cannot tell whether an engine listens on ${socketPath} (${probe}); refusing to replace its socket`,
    );
  }
  unlinkSync(socketPath);
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

/** Restricts the socket to its owner once it exists. */
export function restrictSocket(socketPath: string): void {
  if (isAbstractSocketPath(socketPath)) return;
  chmodSync(socketPath, 0o600);
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

// A file that holds secrets, written the way `inject -o` needs it: mode 0600 from its first
// instant, complete or absent (a temporary file in the same folder, then rename), and never
// written through a symbolic link.
//
// - The temporary file is created with O_CREAT|O_EXCL|O_NOFOLLOW and mode 0600 (then fchmod 0600,
//   so a umask cannot leave it narrower or wider), under a random name: a link or file planted in
//   its place makes the open fail, never redirects it.
// - rename(2) replaces the final name itself: if a symbolic link appears there after our check,
//   the link is replaced, and what it pointed to is not touched.
// - A symbolic link, folder or other non-regular file already at the final name is refused
//   (replacing the link would surprise whoever made it; writing through it is never done).
// - SIGINT, SIGTERM and SIGHUP cannot interrupt the write: they get a handler (exit 128+N) first,
//   and a JavaScript handler only runs once the synchronous write, rename or cleanup is over, so
//   Ctrl-C cannot leave a half-written temporary file full of secrets behind. The handler stays:
//   this is the last thing a command does.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { constants } from 'node:os';
import { basename, dirname, join } from 'node:path';

export class PrivateFileError extends Error {
  static {
    PrivateFileError.prototype.name = 'PrivateFileError';
  }
  readonly path: string;
  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.path = path;
  }
}

const HELD: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
let holding = false;

/** From now on these signals end the process with 128+N, between two synchronous steps only. */
function holdSignals(): void {
  if (holding) return;
  holding = true;
  for (const signal of HELD) {
    process.on(signal, () => process.exit(128 + (constants.signals[signal] ?? 0)));
  }
}

/**
 * Why `path` cannot be the output file, or undefined: a symbolic link, something other than a
 * regular file, or a folder that does not exist. Checked before any secret is fetched, and again
 * right before the rename.
 */
export function outputProblem(path: string): string | undefined {
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') return `cannot check ${path}: ${(err as Error).message}`;
    try {
      if (!fs.statSync(dirname(path)).isDirectory()) return `${dirname(path)} is not a folder`;
    } catch {
      return `the folder ${dirname(path)} does not exist`;
    }
    return undefined;
  }
  if (stat.isSymbolicLink()) {
    return `${path} is a symbolic link; refusing to replace it (write to the path it points to instead)`;
  }
  if (!stat.isFile()) return `${path} is not a regular file`;
  return undefined;
}

/**
 * Writes `data` to `path` (absolute) as a new 0600 file that replaces `path` atomically. Throws
 * PrivateFileError; on failure nothing is left behind and `path` is unchanged.
 */
export function writePrivateFile(path: string, data: Uint8Array): void {
  const problem = outputProblem(path);
  if (problem !== undefined) throw new PrivateFileError(path, problem);
  const folder = dirname(path);
  const temporary = join(folder, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  holdSignals();
  let created = false;
  try {
    let fd: number;
    try {
      fd = fs.openSync(
        temporary,
        fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW,
        0o600,
      );
    } catch (err) {
      throw new PrivateFileError(path, `cannot create a file in ${folder}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    created = true;
    try {
      fs.fchmodSync(fd, 0o600);
      for (let offset = 0; offset < data.byteLength; ) {
        offset += fs.writeSync(fd, data, offset, data.byteLength - offset);
      }
      fs.fsyncSync(fd);
    } catch (err) {
      throw new PrivateFileError(path, `cannot write ${path}: ${(err as Error).message}`, { cause: err });
    } finally {
      fs.closeSync(fd);
    }
    const late = outputProblem(path);
    if (late !== undefined) throw new PrivateFileError(path, late);
    try {
      fs.renameSync(temporary, path);
    } catch (err) {
      throw new PrivateFileError(path, `cannot replace ${path}: ${(err as Error).message}`, { cause: err });
    }
    created = false;
    syncFolder(folder);
  } finally {
    if (created) {
      try {
        fs.unlinkSync(temporary);
      } catch {
        // already gone
      }
    }
  }
}

/** Makes the rename durable; some filesystems cannot fsync a folder, which is no error here. */
function syncFolder(folder: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(folder, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
    fs.fsyncSync(fd);
  } catch {
    // best effort
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

// Reading launched plugins' output files (issue 15 item 5, `secrets-engine logs`), from outside
// the engine: the files plugin-log.ts writes, `<stateDir>/logs/<name>.log` and the rotated
// `<name>.log.1` before it. No engine is needed (a crashed engine's plugins' logs are the ones
// most wanted). The state folder and the logs folder must be real folders of this user that no
// one else can write, and each file a regular file of this user opened without following a link:
// what is shown is what the engine wrote, never a file someone else put in its place.
//
// Following survives both rotations plugin-log.ts does: a file moved to `.log.1` when a plugin is
// launched (a new inode at the path: the old descriptor is read to its end first) and the copy and
// truncation of a file that grew past its limit while the plugin ran (the lines not yet read are
// taken from the copy).

import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readdirSync,
  readSync,
  type Stats,
  statSync,
  watch,
} from 'node:fs';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { PluginLogError } from './errors.js';
import { createLevelReader, type PluginLogLevel } from './log-level.js';

/** A line of a plugin's output, with the level it names (log-level.ts). */
export interface PluginLogLine {
  plugin: string;
  line: string;
  level: PluginLogLevel;
}

export interface StreamPluginLogsOptions {
  /** The engine's state folder (EngineOptions.stateDir; default `<socket>.state`). */
  stateDir: string;
  /** The plugins whose output to show, in this order; default every plugin with a log file. */
  plugins?: readonly string[];
  /** Only the last `tail` lines of each plugin (0: none, only what follows). Default all. */
  tail?: number;
  /** Keep reading as the plugins write, until `signal` aborts. */
  follow?: boolean;
  signal?: AbortSignal;
  /** How often followed files are read when no change event came. Default 250 ms. */
  pollMs?: number;
  onLine(line: PluginLogLine): void;
}

/** Longest line passed on; the rest is cut with a count, as in the engine's own log. */
export const MAX_LOG_LINE = 64 * 1024;
const CHUNK = 64 * 1024;
const NOFOLLOW = constants.O_NOFOLLOW ?? 0;

/** The folder of the plugins' log files in `stateDir`. */
export function pluginLogsDir(stateDir: string): string {
  return join(stateDir, 'logs');
}

/**
 * The plugins that have a log file in `stateDir`, sorted by name. PluginLogError when the folders
 * are missing or not this user's private folders.
 */
export function listPluginLogs(stateDir: string): string[] {
  const dir = checkedLogsDir(stateDir);
  const names = new Set<string>();
  for (const file of readdirSync(dir)) {
    const m = /^(.+)\.log(?:\.1)?$/.exec(file);
    if (m !== null) names.add(m[1]!);
  }
  return [...names].sort();
}

/**
 * Passes each plugin's lines to `onLine`: first what its files hold (the rotated file, then the
 * current one; the last `tail` lines when given), one plugin after the other; then, with `follow`,
 * every new line as it is written, from every plugin (in follow mode without `plugins`, also from
 * plugins whose first log file appears later), until `signal` aborts. A plugin named in `plugins`
 * with no log file is PluginLogError, naming the plugins that have one.
 */
export async function streamPluginLogs(options: StreamPluginLogsOptions): Promise<void> {
  const { stateDir, onLine, signal } = options;
  const tail = options.tail;
  if (tail !== undefined && (!Number.isSafeInteger(tail) || tail < 0)) {
    throw new RangeError(`streamPluginLogs: tail must be a whole number ≥ 0, got ${tail}`);
  }
  const known = listPluginLogs(stateDir);
  const wanted = options.plugins ?? known;
  for (const name of wanted) {
    if (!known.includes(name)) {
      throw new PluginLogError(
        `no log file for plugin ${JSON.stringify(name)} in ${pluginLogsDir(stateDir)}: the engine writes one for each plugin it launches (plugins started by hand and builtin plugins log where they run); ${known.length === 0 ? 'no plugin has one yet' : `plugins with a log: ${known.join(', ')}`}`,
      );
    }
  }
  const followers = new Map<string, Follower>();
  for (const name of wanted) {
    if (signal?.aborted) return;
    const follower = new Follower(stateDir, name, onLine);
    follower.dump(tail);
    if (options.follow) followers.set(name, follower);
    else follower.close();
  }
  if (!options.follow || signal?.aborted) {
    for (const f of followers.values()) f.close();
    return;
  }
  const dir = pluginLogsDir(stateDir);
  const tick = () => {
    if (options.plugins === undefined) {
      // Plugins launched since: their whole output.
      let names: string[] = [];
      try {
        names = listPluginLogs(stateDir);
      } catch {
        // the folder went away; the open files are still read
      }
      for (const name of names) {
        if (followers.has(name)) continue;
        const follower = new Follower(stateDir, name, onLine);
        follower.dump(undefined);
        followers.set(name, follower);
      }
    }
    for (const f of followers.values()) f.poll();
  };
  await new Promise<void>((resolve) => {
    const timer = setInterval(tick, options.pollMs ?? 250);
    let watcher: ReturnType<typeof watch> | undefined;
    try {
      watcher = watch(dir, { persistent: false }, () => tick());
      watcher.on('error', () => {});
    } catch {
      // no inotify: the timer alone
    }
    const stop = () => {
      clearInterval(timer);
      watcher?.close();
      tick();
      for (const f of followers.values()) f.close();
      resolve();
    };
    if (signal === undefined) return;
    if (signal.aborted) stop();
    else signal.addEventListener('abort', stop, { once: true });
  });
}

function checkedLogsDir(stateDir: string): string {
  checkPrivateFolder(
    stateDir,
    'the state folder',
    'is the engine started with another --socket or --state-dir?',
  );
  const dir = pluginLogsDir(stateDir);
  checkPrivateFolder(dir, 'the plugin log folder', 'the engine creates it when it first launches a plugin');
  return dir;
}

function checkPrivateFolder(dir: string, what: string, hint: string): void {
  let st: Stats;
  try {
    st = lstatSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new PluginLogError(`${what} ${dir} does not exist; ${hint}`, { cause: err });
    throw new PluginLogError(`cannot read ${what} ${dir}: ${(err as Error).message}`, { cause: err });
  }
  if (st.isSymbolicLink())
    throw new PluginLogError(`${what} ${dir} is a symbolic link; the engine only writes to a real folder`);
  if (!st.isDirectory()) throw new PluginLogError(`${what} ${dir} is not a folder`);
  checkOwner(st, `${what} ${dir}`);
  if ((st.mode & 0o022) !== 0) {
    throw new PluginLogError(
      `${what} ${dir} is writable by others (mode 0${(st.mode & 0o777).toString(8)}): its files may not be the engine's; only 0700 or stricter is allowed`,
    );
  }
}

function checkOwner(st: Stats, what: string): void {
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) {
    throw new PluginLogError(`${what} is owned by uid ${st.uid}, not by this user (uid ${uid})`);
  }
}

/** Opens a log file of ours read-only, never through a link; undefined when it does not exist. */
function openLog(path: string): { fd: number; ino: number } | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP') throw new PluginLogError(`${path} is a symbolic link; a regular file is required`);
    throw new PluginLogError(`cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new PluginLogError(`${path} is not a regular file`);
    checkOwner(st, path);
    return { fd, ino: st.ino };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}

/** Splits text into lines, bounded (MAX_LOG_LINE), CR of CRLF dropped. */
class LineSplitter {
  #head = '';
  #extra = 0;
  readonly #emit: (line: string) => void;
  constructor(emit: (line: string) => void) {
    this.#emit = emit;
  }
  push(text: string): void {
    let start = 0;
    for (let nl = text.indexOf('\n', start); nl !== -1; nl = text.indexOf('\n', start)) {
      this.#append(text.slice(start, nl));
      this.#endLine();
      start = nl + 1;
    }
    this.#append(text.slice(start));
  }
  /** A last line without its newline. */
  flush(): void {
    if (this.#head !== '' || this.#extra > 0) this.#endLine();
  }
  #append(text: string): void {
    const room = MAX_LOG_LINE - this.#head.length;
    if (this.#extra === 0 && text.length <= room) this.#head += text;
    else {
      this.#head += text.slice(0, Math.max(0, room));
      this.#extra += text.length - Math.max(0, room);
    }
  }
  #endLine(): void {
    let line = this.#head;
    if (this.#extra === 0 && line.endsWith('\r')) line = line.slice(0, -1);
    this.#emit(this.#extra > 0 ? `${line}… (${this.#extra} more characters)` : line);
    this.#head = '';
    this.#extra = 0;
  }
}

/** One plugin's files: what they hold, then what is appended. */
class Follower {
  readonly #path: string;
  readonly #rotated: string;
  readonly #lines: LineSplitter;
  #decoder = new StringDecoder('utf8');
  #current: { fd: number; ino: number } | undefined;
  #position = 0;
  readonly #buf = Buffer.allocUnsafe(CHUNK);

  constructor(stateDir: string, name: string, onLine: (line: PluginLogLine) => void) {
    this.#path = join(pluginLogsDir(stateDir), `${name}.log`);
    this.#rotated = `${this.#path}.1`;
    const level = createLevelReader();
    this.#lines = new LineSplitter((line) => onLine({ plugin: name, line, level: level(line) }));
  }

  /** Passes on what the files hold now (the last `tail` lines when given). */
  dump(tail: number | undefined): void {
    this.#current = openLog(this.#path);
    const size = this.#current === undefined ? 0 : fstatSync(this.#current.fd).size;
    if (tail === 0) {
      this.#position = size;
      return;
    }
    let fromCurrent = 0;
    let rotatedStart: number | undefined;
    if (tail !== undefined && this.#current !== undefined) {
      const start = startOfLastLines(this.#current.fd, size, tail, this.#buf);
      fromCurrent = start.offset;
      if (start.found < tail) rotatedStart = -(tail - start.found);
    }
    // The rotated file first, when the current one alone does not hold what is asked.
    if (tail === undefined || rotatedStart !== undefined || this.#current === undefined) {
      const old = openLog(this.#rotated);
      if (old !== undefined) {
        try {
          const oldSize = fstatSync(old.fd).size;
          const want = rotatedStart === undefined ? tail : -rotatedStart;
          const from = want === undefined ? 0 : startOfLastLines(old.fd, oldSize, want, this.#buf).offset;
          this.#read(old.fd, from, oldSize, new StringDecoder('utf8'), true);
        } finally {
          closeSync(old.fd);
        }
      }
    }
    if (this.#current !== undefined)
      this.#position = this.#read(this.#current.fd, fromCurrent, size, this.#decoder, false);
  }

  /** Reads what was appended since, following a rotation. */
  poll(): void {
    if (this.#current === undefined) {
      this.#current = openLog(this.#path);
      this.#position = 0;
      if (this.#current === undefined) return;
    }
    const cur = this.#current;
    let size = fstatSync(cur.fd).size;
    if (size < this.#position) {
      // Copied to .log.1 and truncated: the lines not yet read are at the end of the copy.
      const old = openLog(this.#rotated);
      if (old !== undefined) {
        try {
          const oldSize = fstatSync(old.fd).size;
          if (oldSize > this.#position) this.#read(old.fd, this.#position, oldSize, this.#decoder, false);
        } finally {
          closeSync(old.fd);
        }
      }
      this.#position = 0;
      size = fstatSync(cur.fd).size;
    }
    this.#position = this.#read(cur.fd, this.#position, size, this.#decoder, false);
    // Moved away (rotated at a launch) and a new file in its place: finish the old one, then the new.
    let moved = false;
    try {
      moved = statSync(this.#path).ino !== cur.ino;
    } catch {
      moved = false; // gone: keep the descriptor, nothing new will come
    }
    if (moved) {
      this.#position = this.#read(cur.fd, this.#position, fstatSync(cur.fd).size, this.#decoder, false);
      closeSync(cur.fd);
      this.#current = undefined;
      this.poll();
    }
  }

  close(): void {
    this.#lines.push(this.#decoder.end());
    this.#lines.flush();
    if (this.#current !== undefined) closeSync(this.#current.fd);
    this.#current = undefined;
  }

  /** Reads [from, to) of fd into the lines; `whole` ends a last unterminated line. Returns `to` reached. */
  #read(fd: number, from: number, to: number, decoder: StringDecoder, whole: boolean): number {
    let position = from;
    while (position < to) {
      const n = readSync(fd, this.#buf, 0, Math.min(CHUNK, to - position), position);
      if (n <= 0) break;
      position += n;
      this.#lines.push(decoder.write(this.#buf.subarray(0, n)));
    }
    if (whole) {
      this.#lines.push(decoder.end());
      this.#lines.flush();
    }
    return position;
  }
}

/**
 * Where the last `count` lines of fd's first `size` bytes begin, read backwards in chunks, and how
 * many lines were found (fewer than `count` when the file has fewer). A last line without a
 * newline counts as a line.
 */
function startOfLastLines(
  fd: number,
  size: number,
  count: number,
  buf: Buffer,
): { offset: number; found: number } {
  if (size === 0 || count === 0) return { offset: size, found: 0 };
  let end = size;
  let found = 0;
  // A final newline ends the last line; it does not start one.
  let skipFinal = true;
  while (end > 0) {
    const start = Math.max(0, end - buf.length);
    const n = readSync(fd, buf, 0, end - start, start);
    for (let i = n - 1; i >= 0; i--) {
      if (buf[i] !== 0x0a) {
        skipFinal = false;
        continue;
      }
      if (skipFinal) {
        skipFinal = false;
        continue;
      }
      found++;
      if (found === count) return { offset: start + i + 1, found };
    }
    end = start;
  }
  return { offset: 0, found: found + 1 };
}

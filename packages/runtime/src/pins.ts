// Pinning of plugin executables: a pin file beside the plugins folder (`<dir>/plugins` →
// `<dir>/plugins.pins.json`) maps each plugin name to the SHA-256 of its executable. While that
// file exists, a plugin is launched only if the file it would execute hashes to its pin; the check
// runs before every launch, restarts included. Here: the file's name and format, its parser, the
// streaming hash, the check the supervisor runs, and pinPlugins(), which writes the file atomically
// (`secrets-engine plugins pin`). What pinning does not protect against: docs/security.md.
import { createHash, randomBytes } from 'node:crypto';
import { type BigIntStats, constants } from 'node:fs';
import { type FileHandle, lstat, open, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { type Logger, silentLogger } from '@secrets-engine/ipc';
import { parsePluginName } from '@secrets-engine/secrets';
import { discoverPlugins } from './discovery.js';
import { PinError } from './errors.js';

/** The only `version` of the pin file format so far. */
export const PIN_FILE_VERSION = 1;
/** Larger pin files are refused (a thousand plugins take about 100 KiB). */
export const MAX_PIN_FILE_BYTES = 1024 * 1024;
const PIN = /^sha256:[0-9a-f]{64}$/;
const FORMAT = '{"version":1,"pins":{"NAME":"sha256:<64 lowercase hex digits>"}}';
/** Open for reading without blocking on a FIFO someone put there. */
const READ_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);

/** name → `sha256:<64 lowercase hex digits>`. */
export type Pins = ReadonlyMap<string, string>;

/** The pin file of a plugins folder: beside it, named after it, `<folder>.pins.json`. */
export function pinFilePath(pluginsDir: string): string {
  const dir = resolve(pluginsDir);
  return join(dirname(dir), `${basename(dir)}.pins.json`);
}

/**
 * Parses the text of a pin file (pure). Throws PinError naming `file`, the entry and what is
 * allowed: an object with exactly `version` (1) and `pins` (plugin name → `sha256:` + 64 lowercase
 * hex digits).
 */
export function parsePinFile(text: string, file: string): Map<string, string> {
  const fail = (message: string, entry?: string): never => {
    throw new PinError(`pin file ${file}: ${message}`, {
      pinFile: file,
      ...(entry === undefined ? {} : { entry }),
    });
  };
  let data: unknown;
  try {
    data = JSON.parse(text.startsWith('\uFEFF') ? text.slice(1) : text);
  } catch (err) {
    throw new PinError(`pin file ${file} is not valid JSON (${(err as Error).message}); expected ${FORMAT}`, {
      pinFile: file,
      cause: err,
    });
  }
  if (!isObject(data)) fail(`expected a JSON object ${FORMAT}, got ${describe(data)}`);
  const top = data as Record<string, unknown>;
  for (const key of Object.keys(top)) {
    if (key !== 'version' && key !== 'pins')
      fail(`unknown key ${JSON.stringify(key)} (allowed: "version", "pins")`, key);
  }
  if (top.version !== PIN_FILE_VERSION) {
    fail(
      `"version" must be ${PIN_FILE_VERSION}, got ${'version' in top ? describe(top.version) : 'nothing'}`,
      'version',
    );
  }
  if (!isObject(top.pins)) {
    fail(
      `"pins" must be an object of plugin name → "sha256:<64 lowercase hex digits>", got ${'pins' in top ? describe(top.pins) : 'nothing'}`,
      'pins',
    );
  }
  const pins = new Map<string, string>();
  for (const [name, pin] of Object.entries(top.pins as Record<string, unknown>)) {
    const entry = `pins[${JSON.stringify(name)}]`;
    try {
      parsePluginName(name);
    } catch (err) {
      fail(`${entry}: not a plugin name (${(err as Error).message})`, entry);
    }
    if (typeof pin !== 'string' || !PIN.test(pin)) {
      fail(`${entry}: expected "sha256:" and 64 lowercase hex digits, got ${describe(pin)}`, entry);
    }
    pins.set(name, pin as string);
  }
  return pins;
}

/** The text pinPlugins writes: the format above, names sorted, two-space indent, final newline. */
export function formatPinFile(pins: Pins): string {
  const sorted = [...pins].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `${JSON.stringify({ version: PIN_FILE_VERSION, pins: Object.fromEntries(sorted) }, null, 2)}\n`;
}

/**
 * The pins of `file`, or undefined when there is no such file (pinning off). A file that exists but
 * cannot be read, is not a regular file, is too large or does not parse is a PinError.
 */
export async function readPinFile(file: string): Promise<Map<string, string> | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(file, READ_FLAGS);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      // A symbolic link to nothing is a pin file that cannot be read, not a missing one.
      if (!(await exists(file))) return undefined;
      throw new PinError(`pin file ${file} is a symbolic link to a file that does not exist`, {
        pinFile: file,
        cause: err,
      });
    }
    throw new PinError(`cannot read pin file ${file}: ${(err as Error).message}`, {
      pinFile: file,
      cause: err,
    });
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new PinError(`pin file ${file} is not a regular file`, { pinFile: file });
    if (info.size > MAX_PIN_FILE_BYTES) {
      throw new PinError(
        `pin file ${file} is ${info.size} bytes, more than the ${MAX_PIN_FILE_BYTES} allowed`,
        {
          pinFile: file,
        },
      );
    }
    let text: string;
    try {
      text = await handle.readFile('utf8');
    } catch (err) {
      throw new PinError(`cannot read pin file ${file}: ${(err as Error).message}`, {
        pinFile: file,
        cause: err,
      });
    }
    return parsePinFile(text, file);
  } finally {
    await handle.close();
  }
}

export interface ExecutableHash {
  /** `sha256:` and 64 lowercase hex digits. */
  sha256: string;
  /** The file that was hashed: the path with every symbolic link resolved. */
  realPath: string;
}

/**
 * The SHA-256 of what executing `path` runs: symbolic links are followed, the content is streamed
 * through the hash. A file replaced or written while it was hashed (another inode, size, mtime or
 * ctime afterwards) is a PinError, as is one that cannot be read.
 */
export async function hashExecutable(path: string): Promise<ExecutableHash> {
  let handle: FileHandle;
  try {
    handle = await open(path, READ_FLAGS);
  } catch (err) {
    throw new PinError(`cannot read plugin executable ${path} to hash it: ${(err as Error).message}`, {
      cause: err,
    });
  }
  try {
    const before = await handle.stat({ bigint: true });
    if (!before.isFile()) throw new PinError(`plugin executable ${path} is not a regular file`);
    const hash = createHash('sha256');
    for await (const chunk of handle.createReadStream({ start: 0, autoClose: false }))
      hash.update(chunk as Buffer);
    const after = await stat(path, { bigint: true });
    if (!sameContent(before, after)) {
      throw new PinError(
        `plugin executable ${path} changed while it was being hashed; a file that is being replaced or written is not launched`,
      );
    }
    return { sha256: `sha256:${hash.digest('hex')}`, realPath: await realpath(path) };
  } catch (err) {
    if (err instanceof PinError) throw err;
    throw new PinError(`cannot hash plugin executable ${path}: ${(err as Error).message}`, { cause: err });
  } finally {
    await handle.close();
  }
}

function sameContent(a: BigIntStats, b: BigIntStats): boolean {
  return (
    a.dev === b.dev &&
    a.ino === b.ino &&
    a.size === b.size &&
    a.mtimeNs === b.mtimeNs &&
    a.ctimeNs === b.ctimeNs
  );
}

/**
 * The check the supervisor runs before every launch of a plugin of one plugins folder. Pinning is
 * on while the pin file exists; once on, it stays on for the life of this check (a pin file that
 * disappears afterwards refuses every launch instead of silently turning pinning off).
 */
export class PinCheck {
  readonly pinFile: string;
  #on: boolean;

  private constructor(pinFile: string, on: boolean) {
    this.pinFile = pinFile;
    this.#on = on;
  }

  /** The check for `pluginsDir`; pinning is on from the start if its pin file exists now. */
  static async forPluginsDir(pluginsDir: string): Promise<PinCheck> {
    const pinFile = pinFilePath(pluginsDir);
    return new PinCheck(pinFile, await exists(pinFile));
  }

  /** Whether pinning is on: the pin file exists, or existed at an earlier check. */
  get on(): boolean {
    return this.#on;
  }

  /**
   * Undefined when plugin `name` may be launched from `path` (pinning off, or the SHA-256 of the
   * file matches its pin), else why not. Reads the pin file and hashes the executable each time.
   */
  async check(name: string, path: string): Promise<string | undefined> {
    const file = this.pinFile;
    let pins: Map<string, string> | undefined;
    try {
      pins = await readPinFile(file);
    } catch (err) {
      this.#on = true;
      return (err as Error).message;
    }
    if (pins === undefined) {
      if (!this.#on) return undefined;
      return `the pin file ${file} existed and is gone; pinning stays on until the engine restarts without it (pin the plugins again to launch them)`;
    }
    this.#on = true;
    const pin = pins.get(name);
    if (pin === undefined) {
      return `no pin for ${JSON.stringify(name)} in the pin file ${file}; while that file exists, every plugin needs one ("${name}": "sha256:<64 hex digits>")`;
    }
    let actual: ExecutableHash;
    try {
      actual = await hashExecutable(path);
    } catch (err) {
      return (err as Error).message;
    }
    if (actual.sha256 === pin) return undefined;
    const what = actual.realPath === path ? path : `${path} (a symbolic link to ${actual.realPath})`;
    return `SHA-256 of ${what} is ${hex(actual.sha256)}, the pin file ${file} pins ${hex(pin)} for ${JSON.stringify(name)}; pin it again if this file is genuine`;
  }
}

export interface PinnedPlugin {
  name: string;
  /** The executable in the plugins folder. */
  path: string;
  /** What was hashed: `path` with every symbolic link resolved. */
  realPath: string;
  /** `sha256:` and 64 lowercase hex digits. */
  sha256: string;
  /** Against the pin file as it was: a new pin, a changed one, or the same. */
  change: 'new' | 'changed' | 'unchanged';
}

export interface PinResult {
  /** The pin file written. */
  pinFile: string;
  /** One per plugin of the folder, sorted by name. */
  pins: PinnedPlugin[];
  /** Names the old pin file pinned that are no longer in the folder. */
  dropped: string[];
  /** Why the old pin file could not be used (it was replaced), if it could not. */
  replacedInvalid: string | undefined;
}

/**
 * Pins every plugin of `pluginsDir` (found as the engine finds them) to the SHA-256 of its
 * executable and writes the pin file atomically (a temporary file beside it, then a rename; mode
 * 0644 less the umask). Nothing is written if any plugin cannot be hashed (PinError), or if two
 * files would be the same plugin. Discovery warnings go to `logger`.
 */
export async function pinPlugins(pluginsDir: string, options: { logger?: Logger } = {}): Promise<PinResult> {
  const dir = resolve(pluginsDir);
  const pinFile = pinFilePath(dir);
  let isDir: boolean;
  try {
    isDir = (await stat(dir)).isDirectory();
  } catch (err) {
    throw new PinError(
      (err as NodeJS.ErrnoException).code === 'ENOENT'
        ? `plugins folder ${dir} does not exist; nothing to pin`
        : `cannot read plugins folder ${dir}: ${(err as Error).message}`,
      { pinFile, cause: err },
    );
  }
  if (!isDir) throw new PinError(`plugins folder ${dir} is not a folder`, { pinFile });
  let found: Awaited<ReturnType<typeof discoverPlugins>>;
  try {
    found = await discoverPlugins(dir, options.logger ?? silentLogger);
  } catch (err) {
    throw new PinError((err as Error).message, { pinFile, cause: err });
  }
  const paths = new Map<string, string>();
  for (const { name, path } of found) {
    const other = paths.get(name);
    if (other !== undefined) {
      throw new PinError(
        `${other} and ${path} would both be plugin ${JSON.stringify(name)}; keep one of them (a pin names one file per plugin)`,
        { pinFile },
      );
    }
    paths.set(name, path);
  }
  let old: Map<string, string> | undefined;
  let replacedInvalid: string | undefined;
  try {
    old = await readPinFile(pinFile);
  } catch (err) {
    replacedInvalid = (err as Error).message;
  }
  const hashes = await Promise.all(found.map(({ path }) => hashExecutable(path)));
  const pins: PinnedPlugin[] = found.map(({ name, path }, i) => {
    const { sha256, realPath } = hashes[i]!;
    const before = old?.get(name);
    const change = before === undefined ? 'new' : before === sha256 ? 'unchanged' : 'changed';
    return { name, path, realPath, sha256, change };
  });
  const text = formatPinFile(new Map(pins.map((p) => [p.name, p.sha256])));
  try {
    await writeAtomically(pinFile, text);
  } catch (err) {
    throw new PinError(`cannot write pin file ${pinFile}: ${(err as Error).message}`, {
      pinFile,
      cause: err,
    });
  }
  const dropped = [...(old?.keys() ?? [])].filter((name) => !paths.has(name)).sort();
  return { pinFile, pins: pins.sort((a, b) => (a.name < b.name ? -1 : 1)), dropped, replacedInvalid };
}

export interface PinUpdate {
  /** The pin file updated. */
  pinFile: string;
  /** The plugin's pin as written (absent for unpinPlugin). */
  pin: PinnedPlugin | undefined;
}

/**
 * Pins ONE plugin of `pluginsDir` (found as the engine finds it) to the SHA-256 of its executable,
 * leaving every other pin of the file as it is, and writes the pin file atomically. Pinning off (no
 * pin file) is left off: undefined, nothing written. A pin file that does not parse is a PinError
 * (it is not replaced: a refusal beats a guess), as is a plugin not in the folder or that cannot be
 * hashed. What `secrets-engine plugins install` runs; pinPlugins re-pins the whole folder.
 */
export async function pinPlugin(
  pluginsDir: string,
  name: string,
  options: { logger?: Logger } = {},
): Promise<PinUpdate | undefined> {
  const dir = resolve(pluginsDir);
  const pinFile = pinFilePath(dir);
  const old = await readPinFile(pinFile);
  if (old === undefined) return undefined;
  let found: Awaited<ReturnType<typeof discoverPlugins>>;
  try {
    found = await discoverPlugins(dir, options.logger ?? silentLogger);
  } catch (err) {
    throw new PinError((err as Error).message, { pinFile, cause: err });
  }
  const matching = found.filter((p) => p.name === name);
  if (matching.length === 0) {
    throw new PinError(`no plugin ${JSON.stringify(name)} in ${dir} (an executable file named after it)`, {
      pinFile,
    });
  }
  if (matching.length > 1) {
    throw new PinError(
      `${matching.map((p) => p.path).join(' and ')} would both be plugin ${JSON.stringify(name)}; keep one of them (a pin names one file per plugin)`,
      { pinFile },
    );
  }
  const { path } = matching[0]!;
  const { sha256, realPath } = await hashExecutable(path);
  const before = old.get(name);
  const change = before === undefined ? 'new' : before === sha256 ? 'unchanged' : 'changed';
  old.set(name, sha256);
  await writePinFile(pinFile, formatPinFile(old));
  return { pinFile, pin: { name, path, realPath, sha256, change } };
}

/**
 * Removes the pin of `name` from the pin file of `pluginsDir`, leaving the others. Undefined when
 * there is no pin file or no such pin (nothing written); a pin file that does not parse is a
 * PinError. What `secrets-engine plugins uninstall` runs.
 */
export async function unpinPlugin(pluginsDir: string, name: string): Promise<PinUpdate | undefined> {
  const pinFile = pinFilePath(pluginsDir);
  const old = await readPinFile(pinFile);
  if (old === undefined || !old.delete(name)) return undefined;
  await writePinFile(pinFile, formatPinFile(old));
  return { pinFile, pin: undefined };
}

async function writePinFile(pinFile: string, text: string): Promise<void> {
  try {
    await writeAtomically(pinFile, text);
  } catch (err) {
    throw new PinError(`cannot write pin file ${pinFile}: ${(err as Error).message}`, {
      pinFile,
      cause: err,
    });
  }
}

/** Temporary file in the same folder, fsync, rename over `file` (its target if it is a symlink). */
async function writeAtomically(file: string, text: string): Promise<void> {
  const target = await realpath(file).catch(() => file);
  const tmp = join(
    dirname(target),
    `.${basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`,
  );
  let handle: FileHandle | undefined;
  try {
    handle = await open(tmp, 'wx', 0o644);
    await handle.writeFile(text, 'utf8');
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(tmp, target);
  } catch (err) {
    await handle?.close().catch(() => {});
    await rm(tmp, { force: true });
    throw err;
  }
  // Make the rename itself durable; not every platform lets a folder be opened and synced.
  try {
    const folder = await open(dirname(target), constants.O_RDONLY);
    try {
      await folder.sync();
    } finally {
      await folder.close();
    }
  } catch {}
}

/** Whether anything is at `path` (a symlink to nothing counts); unsure (EACCES, …) counts as yes. */
async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code !== 'ENOENT' && code !== 'ENOTDIR';
  }
}

function hex(pin: string): string {
  return pin.slice('sha256:'.length);
}

function isObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') {
    const shown = value.length > 80 ? `${value.slice(0, 80)}…` : value;
    return JSON.stringify(shown);
  }
  if (value === undefined) return 'nothing';
  return `${typeof value} ${String(value)}`;
}

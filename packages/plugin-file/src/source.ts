// Reading the secrets from disk: one file (JSON or .env) or a folder with one file per secret.
// Every read checks the mode first (no permission for group and others: a secrets file others can
// read is already exposed, one they can write serves their values), reads through one open file
// descriptor (no stat-then-open race), and is refused as "changing" when the file moved under it,
// so a caller never builds a view from half a write. Nothing here logs; no message quotes content.
import { createHash } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { open, readdir, realpath, stat } from 'node:fs/promises';
import { dirname, extname, join } from 'node:path';
import type { SecretPattern } from '@secrets-engine/plugin-sdk';
import { InsecureModeError, SecretsSourceError } from './errors.js';
import { EntryCollector, type ParsedSecrets, parseSecretsText, type SecretsFormat } from './parse.js';

export interface SourceLimits {
  /** Size of a JSON or .env secrets file. */
  maxFileBytes: number;
  /** Size of one file in a folder. */
  maxEntryBytes: number;
  /** Files and folders in a folder, all levels together. */
  maxEntries: number;
  /** Folder levels below the secrets folder. */
  maxDepth: number;
}

export const DEFAULT_LIMITS: Readonly<SourceLimits> = Object.freeze({
  maxFileBytes: 16 * 1024 * 1024,
  maxEntryBytes: 1024 * 1024,
  maxEntries: 10_000,
  maxDepth: 16,
});

export interface SourceOptions {
  path: string;
  /** `auto`: a folder is `dir`, a `.json` file is `json`, any other file is `env`. */
  format: SecretsFormat | 'auto';
  pattern: SecretPattern;
  limits: SourceLimits;
  /** Folder format: drop one trailing newline (LF or CRLF) of each file. */
  trimNewline: boolean;
}

export type ReadOutcome =
  /** A complete, stable version: serve it. */
  | { kind: 'ok'; format: SecretsFormat; parsed: ParsedSecrets; watch: string[] }
  /** The source changed while it was read: read again once it is quiet. */
  | { kind: 'changing'; watch: string[] }
  /** Present and secure, but its content is unusable as a whole: keep serving the last good version. */
  | { kind: 'broken'; error: SecretsSourceError; watch: string[] }
  /** Missing, unreadable, not a file or folder, or open to other users: serve nothing. */
  | { kind: 'refused'; error: InsecureModeError | SecretsSourceError; watch: string[] };

const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOCTTY ?? 0);
const CHECK_MODE = process.platform !== 'win32';

/** The permission bits for group and others that a secrets file or folder must not have. */
export const FORBIDDEN_MODE_BITS = 0o066;

function statStamp(info: Stats): string {
  return `${info.ino}:${info.size}:${info.mtimeMs}:${info.ctimeMs}:${info.mode}`;
}

function errorStamp(err: unknown): string {
  return `error:${(err as NodeJS.ErrnoException).code ?? 'unknown'}`;
}

function formatOf(path: string, info: Stats, format: SecretsFormat | 'auto'): SecretsFormat {
  if (format !== 'auto') return format;
  if (info.isDirectory()) return 'dir';
  return extname(path).toLowerCase() === '.json' ? 'json' : 'env';
}

function unreadable(path: string, kind: 'file' | 'folder', err: unknown): SecretsSourceError {
  const code = (err as NodeJS.ErrnoException).code;
  const why =
    code === 'ENOENT'
      ? 'it does not exist'
      : code === 'EACCES' || code === 'EPERM'
        ? 'permission denied'
        : (err as Error).message;
  return new SecretsSourceError(path, `cannot read secrets ${kind} ${path}: ${why}`, { cause: err });
}

/** What a read depends on, from stats only (cheap; used to see whether anything changed). */
export async function stampOf(options: SourceOptions): Promise<string> {
  let info: Stats;
  try {
    info = await stat(options.path);
  } catch (err) {
    return errorStamp(err);
  }
  if (formatOf(options.path, info, options.format) !== 'dir' || !info.isDirectory()) {
    return `file:${statStamp(info)}`;
  }
  try {
    return (await walk(options.path, info, options.limits)).stamp;
  } catch (err) {
    return errorStamp(err);
  }
}

/** Reads the source once. Never throws for a problem of the source: the outcome says what it is. */
export async function readSource(options: SourceOptions): Promise<ReadOutcome> {
  const { path } = options;
  let info: Stats;
  try {
    info = await stat(path);
  } catch (err) {
    const kind = options.format === 'dir' ? 'folder' : 'file';
    return { kind: 'refused', error: unreadable(path, kind, err), watch: [dirname(path)] };
  }
  const format = formatOf(path, info, options.format);
  if (format === 'dir') {
    if (!info.isDirectory()) {
      const error = new SecretsSourceError(path, `secrets folder ${path} is not a folder (format "dir")`);
      return { kind: 'refused', error, watch: [dirname(path)] };
    }
    return readFolder(options, info);
  }
  return readFile(options, format);
}

type StableRead =
  | { kind: 'ok'; bytes: Buffer }
  | { kind: 'changing' }
  | { kind: 'refused'; error: InsecureModeError | SecretsSourceError }
  | { kind: 'too-large'; size: number };

/**
 * Opens, checks (regular file, mode, size) and reads one file through one descriptor; "changing"
 * if its size, times or mode differ after the read, or it grew past what fstat said.
 */
async function readStable(path: string, maxBytes: number, what: string): Promise<StableRead> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, OPEN_FLAGS);
  } catch (err) {
    return { kind: 'refused', error: unreadable(path, 'file', err) };
  }
  try {
    const before = await handle.stat();
    const stamp = statStamp(before);
    if (!before.isFile()) {
      const error = new SecretsSourceError(path, `${what} ${path} is not a regular file`);
      return { kind: 'refused', error };
    }
    if (CHECK_MODE && (before.mode & FORBIDDEN_MODE_BITS) !== 0) {
      return { kind: 'refused', error: new InsecureModeError(path, before.mode, 'file') };
    }
    if (before.size > maxBytes) return { kind: 'too-large', size: before.size };
    // One byte more than fstat said: a file still growing is "changing", never cut.
    const buffer = Buffer.alloc(before.size + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    const after = await handle.stat();
    if (length !== before.size || statStamp(after) !== stamp) return { kind: 'changing' };
    return { kind: 'ok', bytes: buffer.subarray(0, length) };
  } finally {
    await handle.close();
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

async function readFile(options: SourceOptions, format: 'json' | 'env'): Promise<ReadOutcome> {
  const { path } = options;
  // The folder holds the file (an editor's write-and-rename shows there, and inotify reports edits
  // of the files in a watched folder); a symbolic link's target may live in another folder.
  const watch = [dirname(path)];
  const target = await realpath(path).catch(() => undefined);
  if (target !== undefined && dirname(target) !== dirname(path)) watch.push(dirname(target));
  const read = await readStable(path, options.limits.maxFileBytes, 'secrets file');
  switch (read.kind) {
    case 'changing':
      return { kind: 'changing', watch };
    case 'refused':
      return { kind: 'refused', error: read.error, watch };
    case 'too-large': {
      const error = new SecretsSourceError(
        path,
        `secrets file ${path} is ${read.size} bytes; at most ${options.limits.maxFileBytes} are read`,
      );
      return { kind: 'broken', error, watch };
    }
  }
  let text: string;
  try {
    text = utf8.decode(read.bytes);
  } catch {
    const error = new SecretsSourceError(path, `secrets file ${path}: not valid UTF-8 text`);
    return { kind: 'broken', error, watch };
  }
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  try {
    return { kind: 'ok', format, parsed: parseSecretsText(text, format, options.pattern), watch };
  } catch (err) {
    const error = new SecretsSourceError(path, `secrets file ${path}: ${(err as Error).message}`);
    return { kind: 'broken', error, watch };
  }
}

interface TreeNode {
  /** Path below the secrets folder, `/`-separated: the key of a file. */
  rel: string;
  path: string;
  kind: 'file' | 'dir' | 'other' | 'dir-link' | 'dangling';
  info: Stats | undefined;
  /** Why everything below an insecure sub-folder is refused. */
  insecure: string | undefined;
}

interface Tree {
  nodes: TreeNode[];
  /** Folders walked (the secrets folder included), to watch. */
  dirs: string[];
  stamp: string;
  /** Entries beyond `maxEntries` were not walked. */
  truncated: boolean;
  problems: string[];
}

/**
 * The files and folders below `root`, sorted, without dot entries (`.git`, editor swap files),
 * not following links to folders (no cycles), `maxDepth` levels and `maxEntries` nodes at most.
 */
async function walk(root: string, rootInfo: Stats, limits: SourceLimits): Promise<Tree> {
  const tree: Tree = { nodes: [], dirs: [root], stamp: '', truncated: false, problems: [] };
  const hash = createHash('sha256').update(`dir:${statStamp(rootInfo)}\n`);
  const queue: { dir: string; rel: string; depth: number; insecure: string | undefined }[] = [
    { dir: root, rel: '', depth: 0, insecure: undefined },
  ];
  while (queue.length > 0 && !tree.truncated) {
    const { dir, rel, depth, insecure } = queue.shift()!;
    const entries = (await readdir(dir, { withFileTypes: true }))
      .filter((d) => !d.name.startsWith('.'))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (tree.nodes.length >= limits.maxEntries) {
        tree.truncated = true;
        break;
      }
      const path = join(dir, entry.name);
      const key = rel === '' ? entry.name : `${rel}/${entry.name}`;
      let info: Stats | undefined;
      try {
        info = await stat(path);
      } catch {
        info = undefined;
      }
      let kind: TreeNode['kind'] =
        info === undefined ? 'dangling' : info.isFile() ? 'file' : info.isDirectory() ? 'dir' : 'other';
      if (kind === 'dir' && entry.isSymbolicLink()) kind = 'dir-link';
      const node: TreeNode = { rel: key, path, kind, info, insecure };
      hash.update(`${key}|${node.kind}|${info === undefined ? '-' : statStamp(info)}\n`);
      tree.nodes.push(node);
      if (node.kind !== 'dir') continue;
      if (depth + 1 > limits.maxDepth) {
        tree.problems.push(`${key}: more than ${limits.maxDepth} folder levels; not read`);
        continue;
      }
      tree.dirs.push(path);
      const own =
        CHECK_MODE && info !== undefined && (info.mode & FORBIDDEN_MODE_BITS) !== 0
          ? new InsecureModeError(path, info.mode, 'folder').message
          : undefined;
      queue.push({ dir: path, rel: key, depth: depth + 1, insecure: insecure ?? own });
    }
  }
  tree.stamp = `dir:${hash.digest('hex')}:${tree.nodes.length}`;
  return tree;
}

async function readFolder(options: SourceOptions, rootInfo: Stats): Promise<ReadOutcome> {
  const { path: root, limits } = options;
  const parentWatch = [dirname(root)];
  if (CHECK_MODE && (rootInfo.mode & FORBIDDEN_MODE_BITS) !== 0) {
    const error = new InsecureModeError(root, rootInfo.mode, 'folder');
    return { kind: 'refused', error, watch: parentWatch };
  }
  let tree: Tree;
  try {
    tree = await walk(root, rootInfo, limits);
  } catch (err) {
    // A sub-folder vanished while it was listed: an edit in progress.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'changing', watch: parentWatch };
    return { kind: 'refused', error: unreadable(root, 'folder', err), watch: parentWatch };
  }
  const watch = [...parentWatch, ...tree.dirs];
  if (tree.truncated) {
    const error = new SecretsSourceError(
      root,
      `secrets folder ${root} has more than ${limits.maxEntries} files and folders; at most ${limits.maxEntries} are read`,
    );
    return { kind: 'broken', error, watch };
  }
  const out = new EntryCollector(options.pattern);
  out.problems.push(...tree.problems);
  for (const node of tree.nodes) {
    switch (node.kind) {
      case 'dir':
        continue;
      case 'dir-link':
        out.problems.push(`${node.rel}: a symbolic link to a folder is not followed; skipped`);
        continue;
      case 'dangling':
        out.problems.push(`${node.rel}: cannot be read (a dangling symbolic link?); skipped`);
        continue;
      case 'other':
        out.problems.push(`${node.rel}: not a regular file; skipped`);
        continue;
    }
    const id = out.id(node.rel, node.rel);
    if (id === undefined) continue;
    if (node.insecure !== undefined) {
      out.refuse(id, node.rel, node.insecure);
      continue;
    }
    const read = await readStable(node.path, limits.maxEntryBytes, 'secret file');
    switch (read.kind) {
      case 'changing':
        return { kind: 'changing', watch };
      case 'refused':
        // Gone between the listing and the open: an edit in progress (write-and-rename, rm).
        if (read.error.cause !== undefined && (read.error.cause as NodeJS.ErrnoException).code === 'ENOENT') {
          return { kind: 'changing', watch };
        }
        out.refuse(id, node.rel, read.error.message);
        continue;
      case 'too-large':
        out.refuse(
          id,
          node.rel,
          `${read.size} bytes; a secret file is at most ${limits.maxEntryBytes} bytes`,
        );
        continue;
    }
    let length = read.bytes.length;
    if (options.trimNewline && length > 0 && read.bytes[length - 1] === 0x0a) {
      length--;
      if (length > 0 && read.bytes[length - 1] === 0x0d) length--;
    }
    out.add({ id, value: new Uint8Array(read.bytes.buffer, read.bytes.byteOffset, length) });
  }
  // The listing and every file as they were before the reads: anything else is an edit in progress.
  let after: Tree;
  try {
    after = await walk(root, await stat(root), limits);
  } catch {
    return { kind: 'changing', watch };
  }
  if (after.stamp !== tree.stamp) return { kind: 'changing', watch };
  return { kind: 'ok', format: 'dir', parsed: out.result(), watch };
}

// The audit log (issue 11 item 5): one structured record per engine-socket call — when, who (as the
// kernel reported the caller), what, the decision, which plugins were asked and how they did, the
// IDs returned and how long it took. Never a value and never metadata: a record is serialised from
// an explicit list of fields, whatever object it is given.
import { closeSync, constants, fstatSync, lstatSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { type Logger, silentLogger } from '@secrets-engine/ipc';
import { RuntimeError } from './errors.js';

export interface AuditRecord {
  /** ISO 8601, when the call arrived. */
  time: string;
  caller: { pid?: number; uid?: number; gid?: number; name?: string; executable?: string; unknown?: string };
  /** `<package.Service>/<Method>`, e.g. `resolver.v1.ResolverService/GetSecrets`. */
  method: string;
  pattern?: string;
  patterns?: string[];
  decision: 'allow' | 'deny';
  /** Why a call was denied. */
  reason?: string;
  plugins?: {
    asked: string[];
    answered: string[];
    failed: { plugin: string; code: string; message: string }[];
    /** Of `answered`, the plugins answered from the engine's cache ("cache"), not asked (issue 15 item 6). */
    cached?: string[];
  };
  /** The IDs returned (never a value). */
  ids?: string[];
  count?: number;
  /** The Connect code name of the outcome; `ok` on success. */
  code: string;
  /** For a failed call: its message (engine-made: names plugins and patterns, never values). */
  error?: string;
  durationMs: number;
}

/** Where the engine writes its audit records. `write` never throws into the engine. */
export interface AuditSink {
  write(record: AuditRecord): void;
  close(): Promise<void>;
}

/** The audit log file cannot be used (a symlink, loose permissions, another owner, bad options). */
export class AuditLogError extends RuntimeError {
  static {
    AuditLogError.prototype.name = 'AuditLogError';
  }
}

export interface FileAuditSinkOptions {
  path: string;
  /** Rotate before a write would take the file past this size. Default 10 MiB (4 KiB to 1 GiB). */
  maxBytes?: number;
  /** Rotated files kept (`path.1` newest … `path.N`). Default 5 (0 to 100: 0 truncates). */
  maxFiles?: number;
  logger?: Logger;
}

export interface FileAuditSink extends AuditSink {
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Appends one JSON line per record to `path` (created 0600; an existing file must be a regular
 * file of this uid with no group or other permission), rotating by size. Writes are synchronous
 * (one small line each, in call order; a crash loses nothing written). A write that fails is
 * reported to the logger once and the sink keeps trying; after `close()` records are dropped with
 * one warning.
 */
export function createFileAuditSink(options: FileAuditSinkOptions): FileAuditSink {
  const path = options.path;
  if (typeof path !== 'string' || path === '')
    throw new AuditLogError('audit log: path must be a non-empty string');
  const maxBytes = integer('maxBytes', options.maxBytes, 10 * 1024 * 1024, 4096, 1024 ** 3);
  const maxFiles = integer('maxFiles', options.maxFiles, 5, 0, 100);
  const logger = options.logger ?? silentLogger;
  let fd = open(path);
  let size = fstatSync(fd).size;
  let closed = false;
  let failing = false;
  let warnedClosed = false;

  const rotate = () => {
    closeSync(fd);
    if (maxFiles === 0) rmSync(path, { force: true });
    else {
      rmSync(`${path}.${maxFiles}`, { force: true });
      for (let i = maxFiles - 1; i >= 1; i--) {
        try {
          renameSync(`${path}.${i}`, `${path}.${i + 1}`);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
      }
      renameSync(path, `${path}.1`);
    }
    fd = open(path);
    size = 0;
  };

  const sink: FileAuditSink = {
    write(record) {
      if (closed) {
        if (!warnedClosed) logger.warn('audit record dropped: the audit log is closed', { path });
        warnedClosed = true;
        return;
      }
      const line = Buffer.from(`${serialize(record)}\n`);
      try {
        if (size > 0 && size + line.length > maxBytes) rotate();
        writeSync(fd, line);
        size += line.length;
        failing = false;
      } catch (err) {
        if (!failing) logger.error('cannot write the audit log', { path, error: (err as Error).message });
        failing = true;
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      closeSync(fd);
    },
    [Symbol.asyncDispose]() {
      return sink.close();
    },
  };
  return sink;
}

function open(path: string): number {
  let existing: import('node:fs').Stats | undefined;
  try {
    existing = lstatSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new AuditLogError(`audit log ${path}: ${(err as Error).message}`, { cause: err });
    }
  }
  if (existing !== undefined) {
    if (existing.isSymbolicLink())
      throw new AuditLogError(`audit log ${path} is a symbolic link; refusing to follow it`);
    if (!existing.isFile()) throw new AuditLogError(`audit log ${path} exists and is not a regular file`);
    const uid = process.getuid?.();
    if (uid !== undefined && existing.uid !== uid) {
      throw new AuditLogError(
        `audit log ${path} belongs to uid ${existing.uid}, not this process's uid ${uid}`,
      );
    }
    if ((existing.mode & 0o077) !== 0) {
      throw new AuditLogError(
        `audit log ${path} has mode ${(existing.mode & 0o777).toString(8).padStart(4, '0')}; it must be 0600 (chmod 600 it)`,
      );
    }
  }
  let fd: number;
  try {
    // O_NOFOLLOW: a symlink planted between the check and the open is refused too; O_NONBLOCK: a
    // FIFO planted there cannot block the open (it is refused just below).
    fd = openSync(
      path,
      constants.O_WRONLY |
        constants.O_APPEND |
        constants.O_CREAT |
        constants.O_NOFOLLOW |
        constants.O_NONBLOCK,
      0o600,
    );
  } catch (err) {
    throw new AuditLogError(`cannot open the audit log ${path}: ${(err as Error).message}`, { cause: err });
  }
  // What was opened, not what was checked: the same rules once more on the open file.
  const opened = fstatSync(fd);
  const uid = process.getuid?.();
  if (!opened.isFile() || (uid !== undefined && opened.uid !== uid) || (opened.mode & 0o077) !== 0) {
    closeSync(fd);
    throw new AuditLogError(`audit log ${path} changed while it was opened; refusing it`);
  }
  return fd;
}

function integer(
  name: string,
  value: number | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new AuditLogError(`audit log: ${name} must be a whole number from ${min} to ${max}, got ${value}`);
  }
  return value;
}

/** The record's allowed fields only, in a fixed order: nothing else can reach the file. */
export function serialize(record: AuditRecord): string {
  const c = record.caller ?? {};
  const out: Record<string, unknown> = {
    time: str(record.time),
    caller: pick({
      pid: num(c.pid),
      uid: num(c.uid),
      gid: num(c.gid),
      name: str(c.name),
      executable: str(c.executable),
      unknown: str(c.unknown),
    }),
    method: str(record.method),
    pattern: str(record.pattern),
    patterns: Array.isArray(record.patterns) ? record.patterns.map(String) : undefined,
    decision: record.decision === 'allow' ? 'allow' : 'deny',
    reason: str(record.reason),
    plugins:
      record.plugins === undefined
        ? undefined
        : {
            asked: record.plugins.asked.map(String),
            answered: record.plugins.answered.map(String),
            failed: record.plugins.failed.map((f) => ({
              plugin: String(f.plugin),
              code: String(f.code),
              message: String(f.message),
            })),
            ...(Array.isArray(record.plugins.cached) && record.plugins.cached.length > 0
              ? { cached: record.plugins.cached.map(String) }
              : {}),
          },
    ids: Array.isArray(record.ids) ? record.ids.map(String) : undefined,
    count: num(record.count),
    code: str(record.code),
    error: str(record.error),
    durationMs: num(record.durationMs),
  };
  return JSON.stringify(pick(out));
}

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
function pick(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

// A launched plugin's output file (issue 13 item 1). The plugin's stdout and stderr are one file,
// `<stateDir>/logs/<name>.log` (0600, appended, never a symlink), not a pipe into the engine: a
// pipe breaks when the engine dies, and the plugin's next write then kills it with SIGPIPE before
// its cleanup runs (Go programs die of a write to a broken fd 1 or 2). The engine follows the
// file into its own log, tagged with the plugin, as it did with the pipes (output.ts).
//
// Rotation: a file over `maxBytes` is moved to `<name>.log.1` when the plugin is launched; one that
// grows past it while the plugin runs is copied there and truncated (the plugin appends, so its
// next line lands at the new start; lines written between the copy and the truncation are lost,
// as with logrotate's copytruncate).

import type { FSWatcher } from 'node:fs';
import {
  closeSync,
  copyFileSync,
  fstatSync,
  openSync,
  readSync,
  renameSync,
  statSync,
  truncateSync,
  watch,
} from 'node:fs';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type { Logger } from '@secrets-engine/ipc';
import { createLineForwarder } from './output.js';
import { ensurePrivateDir, openPrivateAppend } from './state.js';

/** Default size of a plugin's log file before it is rotated. */
export const DEFAULT_PLUGIN_LOG_BYTES = 8 * 1024 * 1024;
/** How often the file is read when no change event came (events can be missed). */
const POLL_MS = 500;
const CHUNK = 64 * 1024;

export interface PluginLogFile {
  readonly path: string;
  /** The fd to hand the child as stdout and stderr; close it once the child is spawned. */
  readonly fd: number;
  /** Follows the file into `logger` from where this attempt starts. */
  follow(logger: Logger): PluginLogFollower;
}

export interface PluginLogFollower {
  /** Reads what is left, logs a last unterminated line, and stops following. Idempotent. */
  close(): void;
}

export function pluginLogPath(stateDir: string, name: string): string {
  return join(stateDir, 'logs', `${name}.log`);
}

export function openPluginLog(
  stateDir: string,
  name: string,
  maxBytes = DEFAULT_PLUGIN_LOG_BYTES,
): PluginLogFile {
  ensurePrivateDir(join(stateDir, 'logs'), 'plugin log folder');
  const path = pluginLogPath(stateDir, name);
  try {
    if (statSync(path).size > maxBytes) renameSync(path, `${path}.1`);
  } catch {
    // no file yet
  }
  const fd = openPrivateAppend(path);
  const start = fstatSync(fd).size;
  return {
    path,
    fd,
    follow: (logger) => followLog(path, start, maxBytes, logger),
  };
}

function followLog(path: string, start: number, maxBytes: number, logger: Logger): PluginLogFollower {
  const lines = createLineForwarder(logger, 'output');
  const decoder = new StringDecoder('utf8');
  const buf = Buffer.allocUnsafe(CHUNK);
  let position = start;
  let fd: number | undefined;
  let closed = false;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    logger.warn('cannot read the plugin log file', { path, error: (err as Error).message });
  }
  const drain = () => {
    if (fd === undefined) return;
    try {
      let size = fstatSync(fd).size;
      if (size < position) position = 0; // truncated under us (rotation)
      while (position < size) {
        const n = readSync(fd, buf, 0, Math.min(CHUNK, size - position), position);
        if (n <= 0) break;
        position += n;
        lines.push(decoder.write(buf.subarray(0, n)));
        if (position >= size) size = fstatSync(fd).size;
      }
      if (size > maxBytes) {
        copyFileSync(path, `${path}.1`);
        truncateSync(path, 0);
        position = 0;
      }
    } catch (err) {
      logger.warn('cannot read the plugin log file', { path, error: (err as Error).message });
    }
  };
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(path, { persistent: false }, () => drain());
    watcher.on('error', () => {});
  } catch {
    // no inotify: the timer alone
  }
  const timer = setInterval(drain, POLL_MS);
  timer.unref();
  return {
    close() {
      if (closed) return;
      closed = true;
      watcher?.close();
      clearInterval(timer);
      drain();
      lines.push(decoder.end());
      lines.end();
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}

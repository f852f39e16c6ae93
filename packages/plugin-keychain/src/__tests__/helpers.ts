// Test helpers: private temporary folders, files written with an exact mode, a recording logger.
import { chmodSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Logger } from '@secrets-engine/plugin-sdk';

export interface TempDir extends Disposable {
  readonly dir: string;
  path(...parts: string[]): string;
}

/** A 0700 temporary folder, removed on dispose. */
export function tempDir(prefix = 'plugin-keychain-'): TempDir {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o700);
  return {
    dir,
    path: (...parts) => join(dir, ...parts),
    [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Writes `content` to `path` with exactly `mode` (umask does not apply), creating 0700 folders. */
export function write(path: string, content: string | Uint8Array, mode = 0o600): string {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, content);
  chmodSync(path, mode);
  return path;
}

/** Writes `content` beside `path` and renames it into place, as editors and `install` do. */
export function replace(path: string, content: string, mode = 0o600): void {
  const next = `${path}.next-${process.pid}`;
  write(next, content, mode);
  renameSync(next, path);
}

export interface Recorder {
  logger: Logger;
  lines: string[];
}

/** A logger keeping `level message {attributes}` lines. */
export function recorder(): Recorder {
  const lines: string[] = [];
  const make = (base: Record<string, unknown>): Logger => {
    const log = (level: string) => (message: string, attributes?: Record<string, unknown>) => {
      lines.push(`${level} ${message} ${JSON.stringify({ ...base, ...attributes })}`);
    };
    return {
      debug: () => {},
      info: log('info'),
      warn: log('warn'),
      error: log('error'),
      child: (attributes) => make({ ...base, ...attributes }),
    };
  };
  return { logger: make({}), lines };
}

/** Polls `probe` until it is true (no fixed sleep stands in for an event). */
export async function until(what: string, probe: () => boolean | Promise<boolean>, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

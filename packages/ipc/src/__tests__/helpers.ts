// Test helpers (never exported): real Unix sockets on temporary paths. Polling, sleeping and
// socket pairs are test-utils', shared with the other suites.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor as poll } from '@secrets-engine/test-utils/process.js';

export { sleep as delay } from '@secrets-engine/test-utils/process.js';
export { socketPair } from '@secrets-engine/test-utils/sockets.js';

export interface TempDir {
  path: string;
  [Symbol.dispose](): void;
}

export function tempDir(prefix = 'se-ipc-'): TempDir {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, [Symbol.dispose]: () => rmSync(path, { recursive: true, force: true }) };
}

/** Resolves when `fn` returns true, polling every 5 ms; rejects after `timeoutMs`. */
export async function waitFor(fn: () => boolean, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  await poll(what, fn, { timeoutMs, intervalMs: 5 });
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

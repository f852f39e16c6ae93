// Test helpers: the fake credential helper installed in a temporary folder, with its store beside it.
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '@secrets-engine/plugin-sdk';

export const FIXTURE = fileURLToPath(new URL('./fixtures/fake-credential-helper.mjs', import.meta.url));

export const STORE = {
  'https://index.docker.io/v1/': { Username: 'hubuser', Secret: 'hub-SECRET-1' },
  'ghcr.io': { Username: 'octocat', Secret: 'ghp-SECRET-2' },
  'registry.example.com:5000': { Username: 'ci', Secret: 'reg-SECRET-3' },
  'http://localhost:5000': { Username: 'dev', Secret: 'local-SECRET-4' },
};

export interface FakeHelper {
  dir: string;
  /** The executable (`docker-credential-fake.mjs`, mode 0755). */
  path: string;
  store: string;
  logFile: string;
  /** Lines the helper logged ("list", "get <key>", "pid <n>", "grandchild <n>"). */
  log(): string[];
  env(mode?: string): Record<string, string>;
  [Symbol.dispose](): void;
}

export function installFakeHelper(
  store: Record<string, { Username: string; Secret: unknown }> = STORE,
): FakeHelper {
  const dir = mkdtempSync(join(tmpdir(), 'plugin-exec-'));
  const path = join(dir, 'docker-credential-fake.mjs');
  copyFileSync(FIXTURE, path);
  chmodSync(path, 0o755);
  const storeFile = `${path}.store.json`;
  writeFileSync(storeFile, JSON.stringify(store));
  const logFile = join(dir, 'helper.log');
  return {
    dir,
    path,
    store: storeFile,
    logFile,
    log: () => {
      try {
        return readFileSync(logFile, 'utf8').trim().split('\n');
      } catch {
        return [];
      }
    },
    env: (mode = '') => ({
      PATH: process.env.PATH ?? '',
      FAKE_HELPER_LOG: logFile,
      ...(mode === '' ? {} : { FAKE_HELPER_MODE: mode }),
    }),
    [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** True while the process exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }
}

/** Polls `condition` until it holds; false if it still does not after `timeoutMs` (a bound, not a measurement). */
export async function waitUntil(condition: () => boolean, timeoutMs = 15_000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (condition()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return condition();
}

export function recorder(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger: Logger = {
    debug: () => {},
    info: (m, a) => lines.push(`info ${m} ${JSON.stringify(a ?? {})}`),
    warn: (m, a) => lines.push(`warn ${m} ${JSON.stringify(a ?? {})}`),
    error: (m, a) => lines.push(`error ${m} ${JSON.stringify(a ?? {})}`),
    child: () => logger,
  };
  return { logger, lines };
}

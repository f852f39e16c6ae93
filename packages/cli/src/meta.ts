// The CLI's own name and version, read from its package.json (dist/meta.js → ../package.json).
import { readFileSync } from 'node:fs';

export const PROGRAM = 'secrets-engine';

let cached: string | undefined;

export function cliVersion(): string {
  if (cached === undefined) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
        version?: unknown;
      };
      cached = typeof pkg.version === 'string' ? pkg.version : 'unknown';
    } catch {
      cached = 'unknown';
    }
  }
  return cached;
}

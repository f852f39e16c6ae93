// The CLI's own name and version, read from its package.json: dist/meta.js → ../package.json, and
// in the bundle (bundle/chunks/*.js, scripts/bundle.mjs) → ../../package.json.
import { readFileSync } from 'node:fs';

export const PROGRAM = 'secrets-engine';
const PACKAGE_NAME = '@secrets-engine/cli';

let cached: string | undefined;

export function cliVersion(): string {
  if (cached === undefined) {
    cached = 'unknown';
    for (const path of ['../package.json', '../../package.json']) {
      let pkg: { name?: unknown; version?: unknown };
      try {
        pkg = JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')) as typeof pkg;
      } catch {
        continue;
      }
      if (pkg.name !== PACKAGE_NAME) continue;
      if (typeof pkg.version === 'string') cached = pkg.version;
      break;
    }
  }
  return cached;
}

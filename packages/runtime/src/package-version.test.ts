// ENGINE_VERSION comes from package.json at build time (issue 10 point 8), never a literal.
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { ENGINE_VERSION } from './index.js';

it('ENGINE_VERSION is "v" + the version in package.json', () => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  expect(ENGINE_VERSION).toBe(`v${pkg.version}`);
});

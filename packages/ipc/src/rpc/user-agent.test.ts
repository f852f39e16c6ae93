// The lean client's user agent carries the version in package.json (issue 10 point 8).
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { USER_AGENT } from './unary-client.js';

it('USER_AGENT names the package version from package.json', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  expect(USER_AGENT).toBe(`secrets-engine-ipc/${pkg.version} (connect-es)`);
});

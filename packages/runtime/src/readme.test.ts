// The README example runs as written (against the built package). That the README lists every export
// and every error class is checked for all published packages in tests/docs/package-readmes.test.ts.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runReadmeExample } from '@secrets-engine/test-utils/readme.js';
import { expect, it } from 'vitest';

const packageDir = fileURLToPath(new URL('..', import.meta.url));

it('README example: an engine with a builtin plugin resolves through engine.getSecrets', async () => {
  const printed = await runReadmeExample(packageDir);
  expect(printed).toEqual(['db/password memory', 'db/user memory']);
  // The README shows what the example prints.
  const readme = readFileSync(`${packageDir}/README.md`, 'utf8');
  expect(readme).toContain(['```text', ...printed, '```'].join('\n'));
});

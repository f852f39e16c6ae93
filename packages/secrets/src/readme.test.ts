// The README example runs as written (against the built package). That the README lists every export
// and every error class is checked for all published packages in tests/docs/package-readmes.test.ts.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runReadmeExample } from '@secrets-engine/test-utils/readme.js';
import { expect, it } from 'vitest';

const packageDir = fileURLToPath(new URL('..', import.meta.url));

it('README example: match, filter, a redacted envelope and the Go zero time', async () => {
  const printed = await runReadmeExample(packageDir);
  expect(printed).toEqual([
    'true',
    'db/**',
    'Envelope{id: "db/prod/password", value: <redacted 7 bytes>, provider: "vault"}',
    '{"id":"db/prod/password","value":"<redacted 7 bytes>","provider":"vault","version":"","metadata":{}}',
    'hunter2',
    '-62135596800',
    'undefined',
  ]);
  // The README shows what the example prints.
  const readme = readFileSync(`${packageDir}/README.md`, 'utf8');
  expect(readme).toContain(['```text', ...printed, '```'].join('\n'));
});

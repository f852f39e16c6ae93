// The README example runs as written (against the built package).
import { fileURLToPath } from 'node:url';
import { runReadmeExample } from '@secrets-engine/test-utils/readme.js';
import { expect, it } from 'vitest';

it('README example serves the file through an engine as a builtin plugin', async () => {
  const printed = await runReadmeExample(fileURLToPath(new URL('..', import.meta.url)));
  expect(printed).toEqual(['app/api-token file {}', 'app/db/password file {"owner":"dba"}']);
});

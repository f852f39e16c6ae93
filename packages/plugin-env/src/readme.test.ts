// The README example runs as written (against the built package).
import { fileURLToPath } from 'node:url';
import { runReadmeExample } from '@secrets-engine/test-utils/readme.js';
import { expect, it } from 'vitest';

it('README example serves the variables through an engine as a builtin plugin', async () => {
  const printed = await runReadmeExample(fileURLToPath(new URL('..', import.meta.url)));
  expect(printed).toEqual([
    'env/db/password env {"variable":"SE_SECRET_DB__PASSWORD"}',
    'env/npm_token env {"variable":"SE_SECRET_NPM_TOKEN"}',
  ]);
});

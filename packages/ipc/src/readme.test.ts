// The README example runs as written (against the built package).
import { fileURLToPath } from 'node:url';
import { runReadmeExample } from '@secrets-engine/test-utils/readme.js';
import { expect, it } from 'vitest';

it('README example: a plugin joins through /hijack and serves GetSecrets', async () => {
  const printed = await runReadmeExample(fileURLToPath(new URL('..', import.meta.url)));
  expect(printed).toEqual(['db/password']);
});

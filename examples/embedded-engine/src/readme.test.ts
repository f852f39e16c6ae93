// The README example runs as written (against the built packages).
import { fileURLToPath } from 'node:url';
import { runReadmeExample } from '@secrets-engine/test-utils/readme.js';
import { expect, it } from 'vitest';

it('README example embeds an engine and reads through the client', async () => {
  const printed = await runReadmeExample(fileURLToPath(new URL('..', import.meta.url)));
  expect(printed).toEqual(['app/db-password app-local']);
});

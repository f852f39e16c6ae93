// The README example runs as written (against the built packages).
import { fileURLToPath } from 'node:url';
import { runReadmeExample } from '@secrets-engine/test-utils/readme.js';
import { expect, it } from 'vitest';

it('README example reads a secret and shows NotFoundError', async () => {
  const printed = await runReadmeExample(fileURLToPath(new URL('..', import.meta.url)));
  expect(printed).toEqual(['demo/api-key demo', 'true']);
});

// The README example runs as written (against the built package).
import { fileURLToPath } from 'node:url';
import { runReadmeExample } from '@secrets-engine/test-utils/readme.js';
import { expect, it } from 'vitest';

it('README example prints the HEAD registration bytes of protocol.md §4.3', async () => {
  const printed = await runReadmeExample(fileURLToPath(new URL('..', import.meta.url)));
  expect(printed).toEqual(['0a03666f6f120276311a040a022a2a']);
});

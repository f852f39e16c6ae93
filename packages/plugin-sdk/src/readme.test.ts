// The README example runs as written (against the built package): a provider plugin served to the
// in-process harness of the testing entry.
import { fileURLToPath } from 'node:url';
import { readmeExample, runReadmeExample } from '@secrets-engine/test-utils/readme.js';
import { expect, it } from 'vitest';

const packageDir = fileURLToPath(new URL('..', import.meta.url));

it('README example: the harness resolves demo/db/* and the value stays redacted', async () => {
  const printed = await runReadmeExample(packageDir);
  // The harness stamps envelopes as the engine does: provider = the plugin's name, resolvedAt = now.
  expect(printed).toHaveLength(1);
  expect(printed[0]).toMatch(
    /^demo\/db\/password Envelope\{id: "demo\/db\/password", value: <redacted 7 bytes>, provider: "demo", resolvedAt: \d{4}-\d\d-\d\dT[\d:.]+Z\}$/,
  );
});

it('README shows the production serve() form second', () => {
  expect(readmeExample(packageDir, 1)).toContain('await plugin.serve()');
});

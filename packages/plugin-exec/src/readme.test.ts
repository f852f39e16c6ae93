// The README example runs as written (against the built package).
import { fileURLToPath } from 'node:url';
import { runReadmeExample } from '@secrets-engine/test-utils/readme.js';
import { expect, it } from 'vitest';

it('README example serves a credential helper through an engine as a builtin plugin', async () => {
  const printed = await runReadmeExample(fileURLToPath(new URL('..', import.meta.url)));
  expect(printed).toEqual([
    'docker-credentials/ghcr.io exec {"username":"octocat","serverURL":"ghcr.io"}',
    'docker-credentials/index.docker.io/v1 exec {"username":"hubuser","serverURL":"https://index.docker.io/v1/"}',
  ]);
});

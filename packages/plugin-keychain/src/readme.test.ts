// The README example runs as written (against the built package), with a real Secret Service.
import { fileURLToPath } from 'node:url';
import { keyringUnavailable, startKeyringSession } from '@secrets-engine/test-utils/keyring.js';
import { runReadmeExample } from '@secrets-engine/test-utils/readme.js';
import { expect, it } from 'vitest';

const unavailable = keyringUnavailable();
if (unavailable !== undefined && process.env.CI) throw new Error(unavailable);

it('README example stores a secret in the keychain and serves it through an engine', async (ctx) => {
  if (unavailable !== undefined) ctx.skip(`the README example did not run: ${unavailable}`);
  await using session = await startKeyringSession();
  Object.assign(process.env, session.env);
  const printed = await runReadmeExample(fileURLToPath(new URL('..', import.meta.url)));
  expect(printed).toEqual([
    'myapp/db/password keychain {"service":"secrets-engine-readme"}',
    'myapp/db/password',
  ]);
});

// The README example runs as written (against the built package), and the README lists every export.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { runReadmeExample } from '../../../test-utils/readme.js';
import * as api from './index.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));

it('README example: an engine with a builtin plugin resolves through engine.getSecrets', async () => {
  const printed = await runReadmeExample(packageDir);
  expect(printed).toEqual(['db/password memory', 'db/user memory']);
  // The README shows what the example prints.
  const readme = readFileSync(`${packageDir}/README.md`, 'utf8');
  expect(readme).toContain(['```text', ...printed, '```'].join('\n'));
});

it('README documents every runtime export, and every error class in the errors table', () => {
  const readme = readFileSync(`${packageDir}/README.md`, 'utf8');
  for (const name of Object.keys(api)) expect(readme, name).toContain(`\`${name}`);
  const errorsTable = readme.slice(readme.indexOf('## Errors'), readme.indexOf('## Dependencies'));
  for (const name of Object.keys(api).filter((n) => n.endsWith('Error'))) {
    expect(errorsTable, name).toMatch(new RegExp(`\\|\\s*\`${name}\`\\s*\\|`));
  }
});

// The provider behind a real plugin connection (startPluginHarness: an in-process engine on a
// temporary socket), so errors are seen exactly as an engine sees them.
import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Code, ConnectError } from '@connectrpc/connect';
import type { Logger } from '@secrets-engine/plugin-sdk';
import { startPluginHarness } from '@secrets-engine/plugin-sdk/testing';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createFileProvider, VERSION } from './provider.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fp-provider-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function recorder(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger: Logger = {
    debug: () => {},
    info: (m, a) => lines.push(`info ${m} ${JSON.stringify(a ?? {})}`),
    warn: (m, a) => lines.push(`warn ${m} ${JSON.stringify(a ?? {})}`),
    error: (m, a) => lines.push(`error ${m} ${JSON.stringify(a ?? {})}`),
    child: () => logger,
  };
  return { logger, lines };
}

const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );

it('registers its pattern and answers only the entries matching the requested pattern', async () => {
  const file = join(dir, 'secrets.json');
  writeFileSync(
    file,
    JSON.stringify({
      'api-token': 't0k3n',
      'db/password': { value: 'pw', metadata: { owner: 'dba' }, expiresAt: '2030-01-01T00:00:00Z' },
      'db/user': 'app',
    }),
  );
  await using harness = await startPluginHarness(createFileProvider({ file }));
  expect(harness.registration).toMatchObject({ version: VERSION, pattern: 'file/**' });

  const ids = async (pattern: string) => (await harness.getSecrets(pattern)).map((e) => e.id).sort();
  expect(await ids('file/**')).toEqual(['file/api-token', 'file/db/password', 'file/db/user']);
  expect(await ids('file/*')).toEqual(['file/api-token']);
  expect(await ids('file/db/*')).toEqual(['file/db/password', 'file/db/user']);
  const [pw] = await harness.getSecrets('file/db/password');
  expect(pw?.revealText()).toBe('pw');
  expect(pw?.metadata).toEqual({ owner: 'dba' });
  expect(pw?.expiresAt?.toISOString()).toBe('2030-01-01T00:00:00.000Z');

  const missing = await failure(harness.getSecrets('file/nope/**'));
  expect(missing?.code).toBe(Code.NotFound);
  expect(missing?.rawMessage).toBe('secret not found');
});

it('picks up changes to the file on the next request', async () => {
  const file = join(dir, 'app.env');
  writeFileSync(file, 'TOKEN=one\n');
  await using harness = await startPluginHarness(createFileProvider({ file, pattern: 'app/**' }));
  expect((await harness.getSecrets('app/TOKEN'))[0]?.revealText()).toBe('one');
  writeFileSync(file, 'TOKEN=two\nADDED=yes\n');
  utimesSync(file, new Date(), new Date(Date.now() + 2_000));
  expect((await harness.getSecrets('app/TOKEN'))[0]?.revealText()).toBe('two');
  expect((await harness.getSecrets('app/**')).map((e) => e.id).sort()).toEqual(['app/ADDED', 'app/TOKEN']);
  writeFileSync(file, 'ADDED=yes\n');
  utimesSync(file, new Date(), new Date(Date.now() + 4_000));
  expect((await failure(harness.getSecrets('app/TOKEN')))?.code).toBe(Code.NotFound);
});

it('reports bad entries once per version of the file, by key, without values', async () => {
  const file = join(dir, 'secrets.json');
  writeFileSync(file, JSON.stringify({ ok: 'fine', 'bad key': 'VALUE-LEAK', n: 7 }));
  const { logger, lines } = recorder();
  await using harness = await startPluginHarness(createFileProvider({ file, logger }));
  for (let i = 0; i < 3; i++) expect(await harness.getSecrets('file/**')).toHaveLength(1);
  expect(lines).toEqual([
    `info loaded secrets file {"file":"${file}","entries":1,"skipped":2}`,
    `warn skipping entry "bad key": "file/bad key" is not a valid secret ID (A-Z a-z 0-9 . _ - : and /) {"file":"${file}"}`,
    `warn skipping entry "n": must be a string or an object {"value": "...", "metadata": {...}, "expiresAt": "..."} {"file":"${file}"}`,
  ]);
  expect(lines.join('\n')).not.toContain('VALUE-LEAK');
});

it('a missing or broken file is an internal error naming the file, never its content', async () => {
  const file = join(dir, 'secrets.json');
  await using harness = await startPluginHarness(createFileProvider({ file }));
  const missing = await failure(harness.getSecrets('file/**'));
  expect(missing?.code).toBe(Code.Internal);
  expect(missing?.rawMessage).toBe(
    `failed to get secret "file/**": cannot read secrets file ${file}: ENOENT: no such file or directory, stat '${file}'`,
  );
  writeFileSync(file, '{"a": "top-secret"');
  const broken = await failure(harness.getSecrets('file/**'));
  expect(broken?.code).toBe(Code.Internal);
  expect(broken?.rawMessage).toMatch(/secrets file .*: not valid JSON/);
  expect(broken?.rawMessage).not.toContain('top-secret');
  // Fixed: served again.
  writeFileSync(file, '{"a": "top-secret"}');
  expect(await harness.getSecrets('file/a')).toHaveLength(1);
});

it('VERSION is package.json version', () => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  expect(VERSION).toBe(`v${pkg.version}`);
});

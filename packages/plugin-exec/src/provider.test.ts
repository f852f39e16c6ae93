// The provider behind a real plugin connection (startPluginHarness: an in-process engine on a
// temporary socket), so errors are seen exactly as an engine sees them.
import { readFileSync } from 'node:fs';
import { Code, ConnectError } from '@secrets-engine/plugin-sdk';
import { startPluginHarness } from '@secrets-engine/plugin-sdk/testing';
import { expect, it } from 'vitest';
import { installFakeHelper, isAlive, recorder, STORE, waitUntil } from './__tests__/helpers.js';
import { createExecProvider, VERSION } from './provider.js';

const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e),
  );
const SECRETS = Object.values(STORE).map((s) => s.Secret);
const leaks = (text: string) => SECRETS.filter((s) => text.includes(s));

it('answers glob patterns from `list` and exact IDs with one `get` each; value = Secret', async () => {
  using helper = installFakeHelper();
  const { logger, lines } = recorder();
  await using harness = await startPluginHarness(
    createExecProvider({ helper: helper.path, env: helper.env(), logger }),
  );
  expect(harness.registration).toMatchObject({ version: VERSION, pattern: 'docker-credentials/**' });

  const all = await harness.getSecrets('docker-credentials/**');
  expect(all.map((e) => [e.id, e.revealText(), e.metadata])).toEqual([
    ['docker-credentials/ghcr.io', 'ghp-SECRET-2', { username: 'octocat', serverURL: 'ghcr.io' }],
    [
      'docker-credentials/index.docker.io/v1',
      'hub-SECRET-1',
      { username: 'hubuser', serverURL: 'https://index.docker.io/v1/' },
    ],
    [
      'docker-credentials/registry.example.com:5000',
      'reg-SECRET-3',
      { username: 'ci', serverURL: 'registry.example.com:5000' },
    ],
  ]);
  expect((await harness.getSecrets('docker-credentials/*')).map((e) => e.id)).toEqual([
    'docker-credentials/ghcr.io',
    'docker-credentials/registry.example.com:5000',
  ]);
  const before = helper.log().filter((l) => l.startsWith('get ')).length;
  const [hub] = await harness.getSecrets('docker-credentials/index.docker.io/v1');
  expect(hub?.revealText()).toBe('hub-SECRET-1');
  expect(
    helper
      .log()
      .filter((l) => l.startsWith('get '))
      .slice(before),
  ).toEqual(['get https://index.docker.io/v1/']);

  const missing = await failure(harness.getSecrets('docker-credentials/nope.example.com'));
  expect(missing?.code).toBe(Code.NotFound);
  expect(missing?.rawMessage).toBe('secret not found');

  // The key that is no ID was reported once, over four requests.
  expect(lines).toEqual([
    'warn skipping credential helper key {"key":"http://localhost:5000","reason":"not a valid secret ID, even without https:// and a trailing /"}',
  ]);
});

it('a key that `list` shows but `get` no longer has is not found, not an error', async () => {
  using helper = installFakeHelper();
  await using harness = await startPluginHarness(
    createExecProvider({ helper: helper.path, env: helper.env('gone-get') }),
  );
  const err = await failure(harness.getSecrets('docker-credentials/**'));
  expect(err?.code).toBe(Code.NotFound);
  expect(helper.log().filter((l) => l.startsWith('get '))).toHaveLength(3);
});

it('helper errors are internal errors naming the ID and exit code, never the helper output', async () => {
  using helper = installFakeHelper();
  for (const [mode, message] of [
    ['fail-get', 'credential helper "get" failed for docker-credentials/ghcr.io (exit code 1)'],
    [
      'garbage-get',
      'credential helper "get" for docker-credentials/ghcr.io did not print a JSON object with a string "Secret"',
    ],
    ['fail-list', 'credential helper "list" failed (exit code 1)'],
  ] as const) {
    const { logger, lines } = recorder();
    await using harness = await startPluginHarness(
      createExecProvider({ helper: helper.path, env: helper.env(mode), logger }),
    );
    const err = await failure(harness.getSecrets('docker-credentials/ghcr.io'));
    expect(err?.code).toBe(Code.Internal);
    expect(err?.rawMessage).toBe(`failed to get secret "docker-credentials/ghcr.io": ${message}`);
    expect(leaks(`${err?.rawMessage}\n${lines.join('\n')}`)).toEqual([]);
  }
});

it('with a glob, keys that fail are logged (ID and exit code) and the others served', async () => {
  // quay.io's Secret is not a string: `get` answers, but not usably.
  using helper = installFakeHelper({
    'ghcr.io': { Username: 'a', Secret: 'ok-SECRET' },
    'quay.io': { Username: 'b', Secret: 7 },
  });
  const { logger, lines } = recorder();
  await using harness = await startPluginHarness(
    createExecProvider({ helper: helper.path, env: helper.env(), logger }),
  );
  expect((await harness.getSecrets('docker-credentials/*')).map((e) => e.id)).toEqual([
    'docker-credentials/ghcr.io',
  ]);
  expect(lines).toEqual([
    'warn credential helper "get" for docker-credentials/quay.io did not print a JSON object with a string "Secret" {}',
  ]);
});

it('a slow helper: internal "timed out" at timeoutMs; the engine giving up first kills it too', async () => {
  using helper = installFakeHelper();
  {
    await using harness = await startPluginHarness(
      createExecProvider({ helper: helper.path, env: helper.env('hang-get'), timeoutMs: 300 }),
    );
    const err = await failure(harness.getSecrets('docker-credentials/ghcr.io'));
    expect(err?.code).toBe(Code.Internal);
    expect(err?.rawMessage).toBe(
      'failed to get secret "docker-credentials/ghcr.io": credential helper "get" timed out after 300ms',
    );
  }
  const pids = () =>
    helper
      .log()
      .filter((l) => l.startsWith('pid '))
      .map((l) => Number(l.slice(4)));
  expect(await waitUntil(() => pids().every((pid) => !isAlive(pid)))).toBe(true);

  await using harness = await startPluginHarness(
    createExecProvider({ helper: helper.path, env: helper.env('hang-get'), timeoutMs: 30_000 }),
  );
  const err = await failure(harness.getSecrets('docker-credentials/ghcr.io', { timeoutMs: 500 }));
  expect(err?.code).toBe(Code.DeadlineExceeded);
  // The plugin saw the cancellation and killed the helper.
  expect(await waitUntil(() => pids().length >= 4 && pids().every((pid) => !isAlive(pid)))).toBe(true);
});

it('VERSION is package.json version', () => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  expect(VERSION).toBe(`v${pkg.version}`);
});

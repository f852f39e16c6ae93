import { describe, expect, it } from 'vitest';
import { installFakeHelper, isAlive, waitUntil } from './__tests__/helpers.js';
import { HelperError } from './errors.js';
import { runHelper } from './helper.js';

const pidOf = (lines: string[], what = 'pid') =>
  Number(lines.find((l) => l.startsWith(`${what} `))?.split(' ')[1] ?? Number.NaN);

describe('runHelper', () => {
  it('runs `<helper> get` with the key on stdin and returns exit code and stdout', async () => {
    using helper = installFakeHelper();
    const got = await runHelper(helper.path, 'get', 'ghcr.io', { timeoutMs: 5_000, env: helper.env() });
    expect(got.code).toBe(0);
    expect(JSON.parse(got.stdout.toString())).toEqual({
      ServerURL: 'ghcr.io',
      Username: 'octocat',
      Secret: 'ghp-SECRET-2',
    });
    const missing = await runHelper(helper.path, 'get', 'nope.io', { timeoutMs: 5_000, env: helper.env() });
    expect(missing.code).toBe(1);
    expect(helper.log()).toContain('get nope.io');
  });

  it('a helper that runs too long is killed, and the error says so without output', async () => {
    using helper = installFakeHelper();
    const err = await runHelper(helper.path, 'get', 'ghcr.io', {
      timeoutMs: 400,
      env: helper.env('hang'),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HelperError);
    expect((err as Error).message).toBe('credential helper "get" timed out after 400ms');
    expect(await waitUntil(() => !isAlive(pidOf(helper.log())))).toBe(true);
  });

  it('aborting the signal kills the helper and rejects with the reason', async () => {
    using helper = installFakeHelper();
    const controller = new AbortController();
    const running = runHelper(helper.path, 'list', '', {
      timeoutMs: 10_000,
      env: helper.env('hang'),
      signal: controller.signal,
    });
    expect(await waitUntil(() => helper.log().includes('list'))).toBe(true);
    controller.abort(new Error('engine gave up'));
    await expect(running).rejects.toThrow('engine gave up');
    expect(await waitUntil(() => !isAlive(pidOf(helper.log())))).toBe(true);
  });

  it('a grandchild holding stdout open does not hold the answer', async () => {
    using helper = installFakeHelper();
    const got = await runHelper(helper.path, 'get', 'ghcr.io', {
      timeoutMs: 5_000,
      env: helper.env('grandchild'),
    });
    expect(got.code).toBe(0);
    expect(JSON.parse(got.stdout.toString()).Secret).toBe('ghp-SECRET-2');
    // ...and it is killed with the helper's process group.
    expect(await waitUntil(() => !isAlive(pidOf(helper.log(), 'grandchild')))).toBe(true);
  });

  it('a missing helper, and too much output, are HelperErrors', async () => {
    await expect(
      runHelper('/nonexistent/docker-credential-x', 'list', '', { timeoutMs: 1_000 }),
    ).rejects.toThrow('cannot run credential helper "list" (/nonexistent/docker-credential-x): ENOENT');
    using helper = installFakeHelper();
    await expect(
      runHelper(helper.path, 'list', '', { timeoutMs: 5_000, env: helper.env(), maxOutputBytes: 10 }),
    ).rejects.toThrow('credential helper "list" printed more than 10 bytes');
  });
});

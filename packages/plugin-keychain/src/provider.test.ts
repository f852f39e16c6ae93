// The provider in-process against a REAL Secret Service (gnome-keyring-daemon on a private D-Bus
// session bus, src/__tests__/keyring-daemon.ts): set, get by ID and by pattern, list, remove; never
// a near match; a locked keyring is `unavailable` with the fix, never "not found"; no value logged.
import { execFileSync } from 'node:child_process';
import {
  Code,
  ConnectError,
  isNotFoundError,
  type Logger,
  NotFoundError,
  type SecretPattern,
} from '@secrets-engine/plugin-sdk';
import { createEngine } from '@secrets-engine/runtime';
import {
  type KeyringSession,
  keyringUnavailable,
  startKeyringSession,
} from '@secrets-engine/test-utils/keyring.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './__tests__/helpers.js';
import {
  ConfigError,
  createKeychainProvider,
  InvalidSecretIdError,
  KeychainProviderError,
  KeychainUnavailableError,
} from './index.js';

const unavailable = keyringUnavailable();
// Under CI the packages are installed (.ci/run): a missing daemon is a failure there, not a skip.
if (unavailable !== undefined && process.env.CI) throw new Error(unavailable);

const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e as Error,
  );
const P = (s: string) => s as SecretPattern;
const text = (v: Uint8Array | string) => (typeof v === 'string' ? v : Buffer.from(v).toString('utf8'));

/** Every log line, at debug level, with its attributes. */
function debugRecorder() {
  const lines: string[] = [];
  const make = (base: Record<string, unknown>): Logger => {
    const log = (level: string) => (message: string, attributes?: Record<string, unknown>) => {
      lines.push(`${level} ${message} ${JSON.stringify({ ...base, ...attributes })}`);
    };
    return {
      debug: log('debug'),
      info: log('info'),
      warn: log('warn'),
      error: log('error'),
      child: (attributes: Record<string, unknown>): ReturnType<typeof make> =>
        make({ ...base, ...attributes }),
    };
  };
  return { logger: make({}), lines };
}

// Said loudly where they cannot run (a skip with the reason), and only there.
if (unavailable !== undefined) {
  it('real-keyring tests', (ctx) => {
    ctx.skip(`the real-keyring tests did not run: ${unavailable}`);
  });
}

describe.skipIf(unavailable !== undefined)('against a real Secret Service (gnome-keyring-daemon)', () => {
  let session: KeyringSession;
  beforeAll(async () => {
    session = await startKeyringSession();
    // The binding reads the process environment (libdbus, zbus): this worker's own.
    Object.assign(process.env, session.env);
  });
  afterAll(async () => {
    await session?.[Symbol.asyncDispose]();
  });

  it('set, get by ID, get by pattern, ids, remove; items are keychain items of our service', async () => {
    const { logger, lines } = debugRecorder();
    const provider = createKeychainProvider({ service: 'se-test-crud', logger });
    await provider.set('db/password', 'pw-VALUE-1');
    await provider.set('db/user', 'user-VALUE-2');
    await provider.set('api/token', 'tok-VALUE-3');
    await provider.set('db/password', 'pw-VALUE-4'); // replaces

    const [one, ...rest] = await provider.getSecrets(P('db/password'));
    expect(rest).toEqual([]);
    expect([one?.id, text(one?.value ?? ''), one?.metadata]).toEqual([
      'db/password',
      'pw-VALUE-4',
      { service: 'se-test-crud' },
    ]);
    const db = await provider.getSecrets(P('db/*'));
    expect(db.map((e) => [e.id, text(e.value)]).sort()).toEqual([
      ['db/password', 'pw-VALUE-4'],
      ['db/user', 'user-VALUE-2'],
    ]);
    expect((await provider.getSecrets(P('**'))).map((e) => e.id).sort()).toEqual([
      'api/token',
      'db/password',
      'db/user',
    ]);
    expect(await provider.ids()).toEqual(['api/token', 'db/password', 'db/user']);
    expect(await provider.ids('db/**')).toEqual(['db/password', 'db/user']);

    // They are the keychain's items: another Secret Service client sees them under our service.
    const seen = execFileSync('secret-tool', ['lookup', 'service', 'se-test-crud', 'username', 'api/token'], {
      env: { ...process.env, ...session.env },
    }).toString();
    expect(seen).toBe('tok-VALUE-3');

    expect(await provider.remove('db/user')).toBe(true);
    expect(await provider.remove('db/user')).toBe(false);
    expect(await provider.ids()).toEqual(['api/token', 'db/password']);
    expect(await failure(provider.getSecrets(P('db/user')))).toBeInstanceOf(NotFoundError);

    // Debug logging names IDs and counts, never a value.
    expect(lines.some((l) => l.startsWith('debug get by ID'))).toBe(true);
    expect(lines.join('\n')).not.toMatch(/VALUE/);
  });

  it('never a near match: by ID exactly that account; other services and foreign accounts are not ours', async () => {
    const provider = createKeychainProvider({ service: 'se-test-near' });
    const other = createKeychainProvider({ service: 'se-test-near-other' });
    await provider.set('app/key', 'k');
    await other.set('app/keys', 'other-service');
    // Written by another program: an account that is not a secret ID.
    execFileSync(
      'sh',
      ['-c', "printf %s foreign | secret-tool store --label=x service se-test-near username 'has space'"],
      { env: { ...process.env, ...session.env } },
    );
    for (const near of ['app/Key', 'app/key/x', 'app', 'app/keys', 'APP/KEY']) {
      expect(isNotFoundError(await failure(provider.getSecrets(P(near))))).toBe(true);
    }
    expect((await provider.getSecrets(P('**'))).map((e) => e.id)).toEqual(['app/key']);
    expect(await provider.ids()).toEqual(['app/key']);
    expect(isNotFoundError(await failure(provider.getSecrets(P('nothing/**'))))).toBe(true);
  });

  it('a pattern narrows what is served and what set accepts', async () => {
    const wide = createKeychainProvider({ service: 'se-test-pattern' });
    await wide.set('other/x', 'x');
    const narrow = createKeychainProvider({ service: 'se-test-pattern', pattern: 'kc/**' });
    await narrow.set('kc/a', 'a');
    expect(await narrow.ids()).toEqual(['kc/a']);
    expect(isNotFoundError(await failure(narrow.getSecrets(P('other/x'))))).toBe(true);
    const outside = await failure(narrow.set('other/y', 'y'));
    expect(outside).toBeInstanceOf(InvalidSecretIdError);
    expect(outside?.message).toBe("cannot set other/y: outside this provider's pattern kc/**");
  });

  it('bad IDs, values and options are refused with what was wrong', async () => {
    const provider = createKeychainProvider({ service: 'se-test-bad' });
    const bad = await failure(provider.set('a b', 'v'));
    expect(bad).toBeInstanceOf(InvalidSecretIdError);
    expect(bad).toBeInstanceOf(KeychainProviderError);
    expect(bad?.message).toMatch(/^cannot set "a b": invalid identifier: "a b" must match .*position 2/);
    expect((await failure(provider.set('a/**', 'v')))?.message).toMatch(
      /^cannot set "a\/\*\*": invalid identifier/,
    );
    expect((await failure(provider.remove('')))?.message).toMatch(/^cannot remove "": invalid identifier/);
    expect((await failure(provider.set('a', '')))?.message).toBe(
      'cannot set a: the value is empty (an empty secret is refused)',
    );
    expect((await failure(provider.set('a', 'x'.repeat(64 * 1024 + 1))))?.message).toBe(
      'cannot set a: the value is 65537 bytes, more than 65536',
    );
    expect(() => createKeychainProvider({ service: '' })).toThrow(ConfigError);
    expect(() => createKeychainProvider({ service: ' x' })).toThrow(/must be 1 to 256 printable characters/);
    expect(() => createKeychainProvider({ pattern: 'a//b' })).toThrow(/invalid pattern "a\/\/b"/);
  });

  it('two keychain items for one ID (written by another program): refused with the fix, never a guess', async () => {
    const { logger, lines } = debugRecorder();
    const provider = createKeychainProvider({ service: 'se-test-dup', logger });
    await provider.set('dup/ok', 'ok-VALUE');
    // secret-tool: one item with our two attributes, one with an extra attribute. A lookup by
    // service + account matches both.
    execFileSync(
      'sh',
      [
        '-c',
        'printf one-VALUE | secret-tool store --label=a service se-test-dup username dup/twice && ' +
          'printf two-VALUE | secret-tool store --label=b service se-test-dup username dup/twice extra 1',
      ],
      { env: { ...process.env, ...session.env } },
    );
    const byId = await failure(provider.getSecrets(P('dup/twice')));
    expect(byId).toBeInstanceOf(ConnectError);
    expect((byId as ConnectError).code).toBe(Code.FailedPrecondition);
    expect((byId as ConnectError).rawMessage).toMatch(
      /^cannot read dup\/twice \(service se-test-dup\) in the Secret Service: more than one keychain item answers for this ID/,
    );
    // A pattern serves the others, and the duplicate alone is its reason, not "not found".
    expect((await provider.getSecrets(P('dup/*'))).map((e) => e.id)).toEqual(['dup/ok']);
    const alone = await failure(provider.getSecrets(P('dup/twice/**')));
    expect((alone as ConnectError).code).toBe(Code.FailedPrecondition);
    expect((alone as ConnectError).rawMessage).toBe(
      'cannot serve dup/twice: more than one keychain item of service se-test-dup answers for it (remove the duplicates with the keychain tool (secret-tool, Keychain Access, Credential Manager) and set it again)',
    );
    expect(await provider.ids()).toEqual(['dup/ok', 'dup/twice']);
    const set = await failure(provider.set('dup/twice', 'v'));
    expect((set as KeychainUnavailableError).reason).toBe('ambiguous');
    expect(lines.join('\n')).not.toMatch(/VALUE/);
  });

  it('as a builtin plugin of a real engine', async () => {
    using tmp = tempDir();
    const provider = createKeychainProvider({ service: 'se-test-engine' });
    await provider.set('engine/token', 'engine-VALUE');
    const engine = createEngine({ socketPath: tmp.path('engine.sock'), plugins: [provider] });
    await engine.start();
    try {
      const [secret] = await engine.getSecrets('engine/token');
      expect([secret?.id, secret?.provider, secret?.revealText()]).toEqual([
        'engine/token',
        'keychain',
        'engine-VALUE',
      ]);
    } finally {
      await engine.close();
    }
  });

  // Last: it locks the login keyring of this session for good (unlocking needs a prompt).
  it('a locked keyring is unavailable with the fix, by ID, by pattern, for set and rm; never not found', async () => {
    const { logger, lines } = debugRecorder();
    const provider = createKeychainProvider({ service: 'se-test-locked', logger });
    await provider.set('locked/one', 'locked-VALUE');
    session.lock();
    for (const pattern of ['locked/one', 'locked/**', '**']) {
      const err = await failure(provider.getSecrets(P(pattern)));
      expect(err).toBeInstanceOf(ConnectError);
      expect((err as ConnectError).code).toBe(Code.Unavailable);
      expect((err as ConnectError).rawMessage).toMatch(
        /the keyring is locked and no unlock prompt could be shown: unlock it/,
      );
    }
    const set = await failure(provider.set('locked/two', 'v'));
    expect(set).toBeInstanceOf(KeychainUnavailableError);
    expect((set as KeychainUnavailableError).reason).toBe('locked');
    expect(set?.message).toMatch(
      /^cannot store locked\/two \(service se-test-locked\) in the Secret Service: the keyring is locked/,
    );
    const rm = await failure(provider.remove('locked/one'));
    expect((rm as KeychainUnavailableError).reason).toBe('locked');
    const ids = await failure(provider.ids());
    expect((ids as KeychainUnavailableError).reason).toBe('locked');
    expect(lines.some((l) => l.startsWith('warn cannot read locked/one'))).toBe(true);
    expect(lines.join('\n')).not.toContain('locked-VALUE');
  });
});

// The classification of what @napi-rs/keyring throws (its errors are all `GenericFailure` with a
// text): the Linux texts are the ones the real daemon produced in plugin.test.ts/provider.test.ts;
// the macOS and Windows texts are those of the Rust `keyring` crate (reviewed, not run here).
import { expect, it } from 'vitest';
import { KeychainUnavailableError } from './errors.js';
import { createOsKeychain, describeFailure } from './keychain.js';

const cases: [string, Parameters<typeof describeFailure>[1], NodeJS.Platform, string][] = [
  [
    'Platform failure: DBus error: Using X11 for dbus-daemon autolaunch was disabled at compile time, set your DBUS_SESSION_BUS_ADDRESS instead',
    'get',
    'linux',
    'no-session-bus',
  ],
  [
    'zbus error: Failed to connect to address `unix:path=/run/user/0/bus`: No such file or directory (os error 2)',
    'list',
    'linux',
    'no-session-bus',
  ],
  [
    'Platform failure: DBus error: The name org.freedesktop.secrets was not provided by any .service files',
    'set',
    'linux',
    'no-secret-service',
  ],
  ["Couldn't access platform storage: Secret Service: unlock prompt was dismissed", 'get', 'linux', 'locked'],
  [
    'zbus error: org.freedesktop.Secret.Error.IsLocked: Cannot get secret of a locked object',
    'list',
    'linux',
    'locked',
  ],
  [
    "Couldn't access platform storage: Secret Service: no result found",
    'set',
    'linux',
    'no-default-collection',
  ],
  ["Couldn't access platform storage: Secret Service: no result found", 'get', 'linux', 'failed'],
  ['Entry is matched by 2 credentials: [Entry { … }]', 'get', 'linux', 'ambiguous'],
  ['Platform secure storage failure: User interaction is not allowed.', 'get', 'darwin', 'locked'],
  ['Platform secure storage failure: Element not found.', 'set', 'win32', 'failed'],
];

it.each(cases)('%s (%s on %s) is %s', (said, operation, platform, reason) => {
  const err = describeFailure(new Error(said), operation, 'x (service s)', platform);
  expect(err).toBeInstanceOf(KeychainUnavailableError);
  expect(err.reason).toBe(reason);
  expect(err.message).toContain(`(the keychain said: ${said})`);
});

it('names the platform, says what was being done, and gives the platform fix', () => {
  const mac = describeFailure(
    new Error('User interaction is not allowed.'),
    'get',
    'db (service s)',
    'darwin',
  );
  expect(mac.message).toMatch(
    /^cannot read db \(service s\) in the macOS Keychain: the keychain is locked: unlock it \(security unlock-keychain/,
  );
  const win = describeFailure(new Error('boom'), 'delete', 'db (service s)', 'win32');
  expect(win.message).toBe(
    'cannot remove db (service s) in the Windows Credential Manager: the keychain refused the request (the keychain said: boom)',
  );
});

it('keeps each nested cause once (the binding repeats the same text down the chain)', () => {
  const inner = new Error('IsLocked: Cannot get secret of a locked object');
  const outer = new Error('zbus error: IsLocked: Cannot get secret of a locked object', {
    cause: new Error('IsLocked: Cannot get secret of a locked object', { cause: inner }),
  });
  expect(describeFailure(outer, 'list', 'the items of service s', 'linux').message).toMatch(
    /\(the keychain said: zbus error: IsLocked: Cannot get secret of a locked object\)$/,
  );
});

it('without a session bus on Linux it refuses before asking the library, naming what is missing', async () => {
  const keychain = createOsKeychain({ env: { XDG_RUNTIME_DIR: '/nonexistent-runtime' }, platform: 'linux' });
  const err = await keychain.get('s', 'a').then(
    () => undefined,
    (e: unknown) => e as KeychainUnavailableError,
  );
  expect(err?.reason).toBe('no-session-bus');
  expect(err?.message).toContain(
    '$DBUS_SESSION_BUS_ADDRESS is not set and /nonexistent-runtime/bus does not exist',
  );
});

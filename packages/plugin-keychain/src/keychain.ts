// The OS keychain behind one small interface, over @napi-rs/keyring (docs/decisions.md): Secret
// Service on Linux (pinned: never the kernel keyring fallback), Keychain on macOS, Credential
// Manager on Windows. Every failure becomes a KeychainUnavailableError saying what is wrong and how
// to fix it; "no such item" is the only thing reported as absent.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type KeychainFailureReason, KeychainUnavailableError } from './errors.js';

/** One item of our service: the account is the secret ID. */
export interface KeychainItem {
  account: string;
  /** The item's secret as text (the keychain APIs that list return text). */
  password: string;
}

/** What the provider and the bin need from a keychain. */
export interface Keychain {
  /** The item's secret, or `undefined` when there is no such item. Throws KeychainUnavailableError. */
  get(service: string, account: string, signal?: AbortSignal): Promise<Uint8Array | undefined>;
  /** Every item of the service, with its secret (what the platform can list). */
  list(service: string, signal?: AbortSignal): Promise<KeychainItem[]>;
  set(service: string, account: string, value: string, signal?: AbortSignal): Promise<void>;
  /** True when an item was removed, false when there was none. */
  delete(service: string, account: string, signal?: AbortSignal): Promise<boolean>;
}

type Binding = typeof import('@napi-rs/keyring');
type Operation = 'get' | 'list' | 'set' | 'delete';

export interface OsKeychainOptions {
  /** The environment the D-Bus session bus is found in (Linux). Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Default `process.platform`. */
  platform?: NodeJS.Platform;
}

/** The OS keychain through @napi-rs/keyring, loaded on first use (a missing binding is an error then). */
export function createOsKeychain(options: OsKeychainOptions = {}): Keychain {
  const env = options.env ?? process.env;
  const platform = options.platform ?? process.platform;
  let binding: Promise<Binding> | undefined;
  const load = (): Promise<Binding> => {
    binding ??= import('@napi-rs/keyring').catch((err: unknown) => {
      binding = undefined;
      throw new KeychainUnavailableError(
        `the keychain library @napi-rs/keyring has no binary for ${platform}/${process.arch} (${firstLine(err)}): it ships prebuilt for Linux (x64, arm64, armv7, riscv64; glibc and musl), macOS (x64, arm64), Windows (x64, ia32, arm64) and FreeBSD x64; reinstall without --no-optional / --omit=optional so npm installs the platform package`,
        'unsupported-platform',
        { cause: err },
      );
    });
    return binding;
  };
  // Linux only: pin the Secret Service. The library's default falls back to the kernel keyring
  // (keyutils) when there is no Secret Service: items there do not survive a reboot and are not
  // the user's keychain, so a silent fallback would store secrets somewhere nobody looks.
  const entryOptions = { linux: { store: 'secret-service' as const } };

  const run = async <T>(operation: Operation, what: string, call: (b: Binding) => Promise<T>): Promise<T> => {
    if (platform === 'linux') checkSessionBus(env);
    const b = await load();
    try {
      return await call(b);
    } catch (err) {
      if ((err as Error)?.name === 'AbortError') throw err;
      throw describeFailure(err, operation, what, platform);
    }
  };

  return {
    get: (service, account, signal) =>
      run('get', `${account} (service ${service})`, async (b) => {
        const secret = await new b.AsyncEntry(service, account, entryOptions).getSecret(signal);
        return secret === null ? undefined : Uint8Array.from(secret);
      }),
    list: (service, signal) =>
      run('list', `the items of service ${service}`, async (b) => {
        const found = await b.findCredentialsAsync(service, undefined, signal);
        return found.map((c) => ({ account: c.account, password: c.password }));
      }),
    set: (service, account, value, signal) =>
      run('set', `${account} (service ${service})`, (b) =>
        new b.AsyncEntry(service, account, entryOptions).setPassword(value, signal),
      ),
    delete: (service, account, signal) =>
      run('delete', `${account} (service ${service})`, (b) =>
        new b.AsyncEntry(service, account, entryOptions).deleteCredential(signal),
      ),
  };
}

const HEADLESS =
  'on a machine without a desktop: dbus-run-session -- sh -c \'printf %s "$KEYRING_PASSWORD" | gnome-keyring-daemon --unlock --components=secrets; secrets-engine serve\'';

/** Linux: the bus the libraries will dial, else a clear error before they print theirs. */
function checkSessionBus(env: Readonly<Record<string, string | undefined>>): void {
  if (env.DBUS_SESSION_BUS_ADDRESS !== undefined && env.DBUS_SESSION_BUS_ADDRESS !== '') return;
  const runtime = env.XDG_RUNTIME_DIR;
  if (runtime !== undefined && runtime !== '' && existsSync(join(runtime, 'bus'))) return;
  throw new KeychainUnavailableError(
    `no D-Bus session bus, so no Secret Service (GNOME Keyring, KWallet) to keep secrets in: $DBUS_SESSION_BUS_ADDRESS is not set and ${
      runtime === undefined || runtime === ''
        ? '$XDG_RUNTIME_DIR is not set'
        : `${join(runtime, 'bus')} does not exist`
    }. Run the engine in your desktop session (a systemd user session has $XDG_RUNTIME_DIR/bus), give a launched plugin the bus (secrets-engine serve --plugin-env DBUS_SESSION_BUS_ADDRESS="$DBUS_SESSION_BUS_ADDRESS"), or ${HEADLESS}`,
    'no-session-bus',
  );
}

/** Classifies what the library threw: reason, and a message with the fix. Never "not found". */
export function describeFailure(
  err: unknown,
  operation: Operation,
  what: string,
  platform: NodeJS.Platform,
): KeychainUnavailableError {
  const said = chain(err);
  const reason = classify(said, operation);
  const where = platformName(platform);
  const doing = { get: 'read', list: 'list', set: 'store', delete: 'remove' }[operation];
  const head = `cannot ${doing} ${what} in the ${where}`;
  const fix: Record<KeychainFailureReason, string> = {
    'no-session-bus': `no D-Bus session bus: run the engine in your desktop session, or pass DBUS_SESSION_BUS_ADDRESS to it; ${HEADLESS}`,
    'no-secret-service':
      'no program provides the Secret Service (org.freedesktop.secrets) on the session bus: install and start GNOME Keyring or KWallet (apt-get install gnome-keyring), or ' +
      HEADLESS,
    locked:
      platform === 'darwin'
        ? 'the keychain is locked: unlock it (security unlock-keychain, or Keychain Access) and retry'
        : 'the keyring is locked and no unlock prompt could be shown: unlock it (log in to the desktop session, or unlock the "Login" keyring in Passwords and Keys / KWallet Manager), or on a headless machine start the daemon unlocked (printf %s "$KEYRING_PASSWORD" | gnome-keyring-daemon --replace --unlock --components=secrets), and retry',
    'no-default-collection':
      'the Secret Service has no default keyring to store new items in: create one (Passwords and Keys → New keyring, set as default), or start the daemon with --unlock, which creates the "login" keyring',
    ambiguous:
      'more than one keychain item answers for this ID (another program wrote a duplicate): remove the duplicates with the keychain tool (secret-tool, Keychain Access, Credential Manager) and set it again',
    'unsupported-platform': 'this platform has no keychain the library supports',
    failed: 'the keychain refused the request',
  };
  return new KeychainUnavailableError(`${head}: ${fix[reason]} (the keychain said: ${said})`, reason, {
    cause: err,
  });
}

function classify(said: string, operation: Operation): KeychainFailureReason {
  if (
    /DBUS_SESSION_BUS_ADDRESS|autolaunch|Failed to connect to address|Failed to connect to socket/i.test(said)
  )
    return 'no-session-bus';
  if (/ServiceUnknown|org\.freedesktop\.secrets was not provided|not provided by any \.service/i.test(said))
    return 'no-secret-service';
  if (
    /IsLocked|is locked|prompt was dismissed|interaction is not allowed|errSecInteractionNotAllowed|user canceled/i.test(
      said,
    )
  )
    return 'locked';
  if (operation === 'set' && /no result found/i.test(said)) return 'no-default-collection';
  if (/ambiguous|is matched by \d+ credentials/i.test(said)) return 'ambiguous';
  return 'failed';
}

/** The messages of an error and its causes, deduplicated (the binding nests the same text). */
function chain(err: unknown): string {
  const parts: string[] = [];
  let current: unknown = err;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    const message = current instanceof Error ? current.message : String(current);
    if (!parts.some((p) => p.includes(message))) parts.push(message);
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(': ');
}

function platformName(platform: NodeJS.Platform): string {
  if (platform === 'darwin') return 'macOS Keychain';
  if (platform === 'win32') return 'Windows Credential Manager';
  return 'Secret Service';
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
}

// A REAL Secret Service for the tests: a private D-Bus session bus (dbus-daemon --session on a
// socket in a temp folder) and gnome-keyring-daemon in it, unlocked with a password on stdin, or
// started locked. No mock: the provider talks D-Bus to the daemon the desktop uses.
// Shared by packages/plugin-keychain and tests/packages. `.ci/run` installs the packages (dbus-daemon, gnome-keyring, libsecret-tools) when missing.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Why the keyring tests cannot run here, or undefined when they can. */
export function keyringUnavailable(): string | undefined {
  if (process.platform !== 'linux')
    return `the real-keyring tests run on Linux (this is ${process.platform})`;
  const missing = ['dbus-daemon', 'gnome-keyring-daemon', 'secret-tool', 'dbus-send'].filter(
    (cmd) => !onPath(cmd),
  );
  if (missing.length > 0) {
    return `${missing.join(', ')} not installed: apt-get install -y dbus-daemon gnome-keyring libsecret-tools (.ci/run does this)`;
  }
  return undefined;
}

export function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => dir !== '' && existsSync(join(dir, cmd)));
}

export interface KeyringSession extends AsyncDisposable {
  /** HOME, XDG_* and DBUS_SESSION_BUS_ADDRESS for a process that should use this keyring. */
  readonly env: Record<string, string>;
  /** The folder holding the bus socket (`bus`): an $XDG_RUNTIME_DIR. */
  readonly runtimeDir: string;
  readonly address: string;
  readonly home: string;
  /** Locks the "login" collection (org.freedesktop.Secret.Service.Lock). */
  lock(): void;
  /** Stops the keyring daemon (the bus stays). */
  stopKeyring(): Promise<void>;
  /** Starts the keyring daemon again on the same home; `unlock: false` leaves the login keyring locked. */
  startKeyring(unlock: boolean): Promise<void>;
  /** What the daemons printed. */
  output(): string;
}

export const KEYRING_PASSWORD = 'test-keyring-password';

/**
 * The bus's own configuration: a session bus on a socket of ours, with NO service files, so nothing
 * is started by D-Bus activation behind the test's back (the system's files would start a
 * gnome-keyring-daemon of their own whenever ours is stopped).
 */
function busConfig(socket: string): string {
  return `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=${socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`;
}

/**
 * A private session bus with a keyring daemon in it: unlocked (default, the "login" keyring is
 * created with KEYRING_PASSWORD), started locked (`unlock: false`), or none (`keyring: false`:
 * a bus where nothing provides org.freedesktop.secrets).
 */
export async function startKeyringSession(
  options: { unlock?: boolean; keyring?: boolean } = {},
): Promise<KeyringSession> {
  const home = mkdtempSync(join(tmpdir(), 'plugin-keychain-keyring-'));
  chmodSync(home, 0o700);
  const runtimeDir = join(home, 'run');
  mkdirSync(runtimeDir, { mode: 0o700 });
  let output = '';
  const collect = (child: ChildProcess) => {
    child.stdout?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      output += d.toString();
    });
  };
  const config = join(home, 'bus.conf');
  writeFileSync(config, busConfig(join(runtimeDir, 'bus')));
  const dbus = spawn(
    'dbus-daemon',
    ['--config-file', config, '--nofork', '--nopidfile', '--print-address=1'],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  dbus.stderr.on('data', (d: Buffer) => {
    output += d.toString();
  });
  const address = await new Promise<string>((resolve, reject) => {
    dbus.once('error', reject);
    dbus.once('exit', (code) => reject(new Error(`dbus-daemon exited (${code}): ${output}`)));
    dbus.stdout.once('data', (d: Buffer) => resolve(d.toString().trim()));
  });
  const env: Record<string, string> = {
    HOME: home,
    XDG_RUNTIME_DIR: runtimeDir,
    XDG_DATA_HOME: join(home, 'data'),
    XDG_CONFIG_HOME: join(home, 'config'),
    DBUS_SESSION_BUS_ADDRESS: address,
  };
  const childEnv = () => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', ...env });
  let keyring: ChildProcess | undefined;

  const busHas = (name: string) => {
    const names = execFileSync(
      'dbus-send',
      [
        '--session',
        '--print-reply',
        '--dest=org.freedesktop.DBus',
        '/org/freedesktop/DBus',
        'org.freedesktop.DBus.ListNames',
      ],
      { env: childEnv() },
    ).toString();
    return names.includes(`"${name}"`);
  };

  const startKeyring = async (unlock: boolean) => {
    const child = spawn(
      'gnome-keyring-daemon',
      ['--foreground', ...(unlock ? ['--unlock'] : []), '--components=secrets'],
      { env: childEnv(), stdio: ['pipe', 'pipe', 'pipe'] },
    );
    collect(child);
    child.stdin.end(unlock ? KEYRING_PASSWORD : '');
    keyring = child;
    const deadline = Date.now() + 15_000;
    while (!busHas('org.freedesktop.secrets')) {
      if (child.exitCode !== null)
        throw new Error(`gnome-keyring-daemon exited (${child.exitCode}): ${output}`);
      if (Date.now() > deadline) throw new Error(`gnome-keyring-daemon did not take the bus name: ${output}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };
  const stopKeyring = async () => {
    const child = keyring;
    keyring = undefined;
    if (child === undefined || child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
    // Wait until the name is released, so a restart does not race the old daemon.
    const deadline = Date.now() + 15_000;
    while (busHas('org.freedesktop.secrets') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 25));
  };

  try {
    if (options.keyring !== false) await startKeyring(options.unlock ?? true);
  } catch (err) {
    dbus.kill('SIGTERM');
    rmSync(home, { recursive: true, force: true });
    throw err;
  }
  return {
    env,
    runtimeDir,
    address,
    home,
    lock() {
      execFileSync(
        'dbus-send',
        [
          '--session',
          '--print-reply',
          '--dest=org.freedesktop.secrets',
          '/org/freedesktop/secrets',
          'org.freedesktop.Secret.Service.Lock',
          'array:objpath:/org/freedesktop/secrets/collection/login',
        ],
        { env: childEnv() },
      );
    },
    stopKeyring,
    startKeyring,
    output: () => output,
    async [Symbol.asyncDispose]() {
      await stopKeyring();
      if (dbus.exitCode === null) {
        const exited = new Promise((r) => dbus.once('exit', r));
        dbus.kill('SIGTERM');
        await exited;
      }
      rmSync(home, { recursive: true, force: true });
    },
  };
}

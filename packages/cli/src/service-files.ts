// The files `secrets-engine service install` writes: a systemd user unit (Linux) and a launchd
// agent (macOS), generated here as text, with the quoting each format needs, and read back by
// `service status` (the socket the service serves). Pure functions: no file system, no processes.

/** The systemd unit's name (`systemctl --user status secrets-engine`). */
export const SYSTEMD_UNIT = 'secrets-engine.service';
/** The launchd label (reverse DNS, the domain the project publishes under); also the file name. */
export const LAUNCHD_LABEL = 'dev.secrets-engine';
/** The socket of a systemd service when `--socket` is not given: `$XDG_RUNTIME_DIR/secrets-engine/engine.sock`. */
export const SYSTEMD_DEFAULT_SOCKET = '%t/secrets-engine/engine.sock';

/** A path or argument that cannot go into a service file (a newline would end the line, ...). */
export class ServiceFileError extends Error {
  static {
    ServiceFileError.prototype.name = 'ServiceFileError';
  }
}

export interface ServiceCommand {
  /** The Node.js binary (absolute). */
  node: string;
  /** The CLI's bin.js (absolute): run as `node -- bin.js serve ...`. */
  bin: string;
  /** The arguments after `serve`, each one argument as the engine receives it. */
  serveArgs: readonly string[];
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds
const CONTROL = /[\u0000-\u001f\u007f]/;

function checkArgument(value: string, what: string): void {
  if (CONTROL.test(value)) {
    throw new ServiceFileError(
      `${what} ${JSON.stringify(value)} contains a control character (newline, tab, ...), which a service file cannot hold; use a path without one`,
    );
  }
}

/**
 * One ExecStart= word, as systemd.service(5) "Command lines" reads it: specifiers (`%`) are
 * expanded inside quotes too, so `%` is written `%%`; so are environment variables (`$`, written
 * `$$`) except in the executable path, which is never expanded and may hold no quote or backslash
 * (systemd: "Executable name contains special characters"). A word with a blank, a quote, a
 * backslash or `;` is double-quoted with C escapes (`\\`, `\"`).
 */
export function systemdWord(value: string, what = 'argument', executable = false): string {
  checkArgument(value, what);
  if (executable && /["'\\]/.test(value)) {
    throw new ServiceFileError(
      `${what} ${JSON.stringify(value)} contains a quote or a backslash, which systemd does not accept in the path of the program it runs; use a path without one`,
    );
  }
  const specifiers = value.replace(/%/g, '%%');
  const expanded = executable ? specifiers : specifiers.replace(/\$/g, '$$$$');
  if (value !== '' && /^[A-Za-z0-9/._+,:=@%$-]+$/.test(value) && !value.startsWith('@')) return expanded;
  return `"${expanded.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** The systemd user unit; `socket` undefined → `%t/secrets-engine/engine.sock` (unquoted specifier). */
export function systemdUnit(command: ServiceCommand): string {
  const exec = [
    systemdWord(command.node, 'the Node.js path', true),
    '--',
    systemdWord(command.bin, 'the secrets-engine path'),
    'serve',
    ...command.serveArgs.map((a) => (a === SYSTEMD_DEFAULT_SOCKET ? a : systemdWord(a))),
  ].join(' ');
  return `# Written by 'secrets-engine service install'; remove with 'secrets-engine service uninstall'.
[Unit]
Description=secrets-engine: the local secrets engine
Documentation=https://github.com/secrets-engine/secrets-engine-ts/tree/main/packages/cli#readme

[Service]
# The engine has no sd_notify (a native module): started once exec'd, a failed exec fails the start.
Type=exec
ExecStart=${exec}
# SIGHUP reads the plugins folder again (systemctl --user reload secrets-engine).
ExecReload=/bin/kill -HUP $MAINPID
# SIGTERM to the engine only: it stops its plugins itself; whatever is left gets SIGKILL.
KillMode=mixed
TimeoutStopSec=30
Restart=on-failure
RestartSec=2
# The engine's stderr (its log) and stdout (the ready line) go to the journal:
# journalctl --user -u secrets-engine
StandardOutput=journal
StandardError=journal
NoNewPrivileges=yes
UMask=0077
LimitCORE=0

[Install]
WantedBy=default.target
`;
}

/**
 * The words of an ExecStart= line, unquoted as systemd does (double and single quotes, C escapes,
 * `%%` and `$$`); `%t` is replaced with `runtimeDir`. Other specifiers are left as written.
 */
export function parseSystemdCommand(line: string, runtimeDir: string): string[] {
  const words: string[] = [];
  let i = 0;
  const n = line.length;
  while (i < n) {
    while (i < n && (line[i] === ' ' || line[i] === '\t')) i++;
    if (i >= n) break;
    let word = '';
    while (i < n && line[i] !== ' ' && line[i] !== '\t') {
      const c = line[i]!;
      if (c === '"' || c === "'") {
        i++;
        while (i < n && line[i] !== c) {
          if (line[i] === '\\' && i + 1 < n) {
            const e = line[i + 1]!;
            word += e === 'n' ? '\n' : e === 't' ? '\t' : e;
            i += 2;
          } else word += line[i++];
        }
        i++; // the closing quote
      } else if (c === '\\' && i + 1 < n) {
        word += line[i + 1];
        i += 2;
      } else word += line[i++];
    }
    words.push(word);
  }
  // The executable path (the first word) is not subject to $ expansion.
  return words.map((w, i) =>
    w.replace(/%%|%t|\$\$/g, (m) => (m === '%%' ? '%' : m === '$$' ? (i === 0 ? m : '$') : runtimeDir)),
  );
}

/** The value of `--socket` in the ExecStart= line of a unit written by systemdUnit(). */
export function systemdUnitSocket(unit: string, runtimeDir: string): string | undefined {
  const line = /^ExecStart=(.*)$/m.exec(unit)?.[1];
  if (line === undefined) return undefined;
  return socketArgument(parseSystemdCommand(line, runtimeDir));
}

function socketArgument(argv: readonly string[]): string | undefined {
  const serve = argv.indexOf('serve');
  for (let i = serve + 1; serve !== -1 && i < argv.length - 1; i++) {
    if (argv[i] === '--socket') return argv[i + 1];
  }
  return undefined;
}

function xml(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export interface LaunchdAgent extends ServiceCommand {
  /** The file launchd appends the engine's stdout and stderr to. */
  logFile: string;
}

/** The launchd agent (a property list, launchd.plist(5)). */
export function launchdPlist(agent: LaunchdAgent): string {
  const args = [agent.node, '--', agent.bin, 'serve', ...agent.serveArgs];
  args.forEach((a) => void checkArgument(a, 'argument'));
  checkArgument(agent.logFile, 'the log file');
  const strings = args.map((a) => `\t\t<string>${xml(a)}</string>`).join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- Written by 'secrets-engine service install'; remove with 'secrets-engine service uninstall'. -->
<plist version="1.0">
<dict>
\t<key>Label</key>
\t<string>${LAUNCHD_LABEL}</string>
\t<key>ProgramArguments</key>
\t<array>
${strings}
\t</array>
\t<key>RunAtLoad</key>
\t<true/>
\t<key>KeepAlive</key>
\t<dict>
\t\t<key>SuccessfulExit</key>
\t\t<false/>
\t</dict>
\t<key>ThrottleInterval</key>
\t<integer>2</integer>
\t<key>ExitTimeOut</key>
\t<integer>30</integer>
\t<key>Umask</key>
\t<integer>63</integer>
\t<key>HardResourceLimits</key>
\t<dict>
\t\t<key>Core</key>
\t\t<integer>0</integer>
\t</dict>
\t<key>SoftResourceLimits</key>
\t<dict>
\t\t<key>Core</key>
\t\t<integer>0</integer>
\t</dict>
\t<key>StandardOutPath</key>
\t<string>${xml(agent.logFile)}</string>
\t<key>StandardErrorPath</key>
\t<string>${xml(agent.logFile)}</string>
</dict>
</plist>
`;
}

/** The ProgramArguments of a plist written by launchdPlist(). */
export function launchdArguments(plist: string): string[] {
  const array = /<key>ProgramArguments<\/key>\s*<array>([\s\S]*?)<\/array>/.exec(plist)?.[1] ?? '';
  return [...array.matchAll(/<string>([\s\S]*?)<\/string>/g)].map((m) =>
    m[1]!.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&'),
  );
}

/** The value of `--socket` in a plist written by launchdPlist(). */
export function launchdSocket(plist: string): string | undefined {
  return socketArgument(launchdArguments(plist));
}

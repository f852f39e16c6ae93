// Help texts. Every command has one (`secrets-engine <command> --help`), with examples and the exit
// codes it can return. The README's tables are checked against these texts by src/readme.test.ts.

const SOCKET_FLAG =
  '  -s, --socket PATH        the engine socket (default: $SECRETS_ENGINE_SOCKET, else\n' +
  '                           $XDG_RUNTIME_DIR/secrets-engine/engine.sock, else\n' +
  '                           $TMPDIR (else /tmp)/secrets-engine-<uid>/engine.sock)';

export const MAIN_HELP = `secrets-engine: run a secrets engine, read secrets, manage its plugins, and run commands
with secrets in their environment.

Usage:
  secrets-engine <command> [flags]

Commands:
  serve       run the engine in the foreground
  get         list the secrets matching a pattern
  read        print the value of one secret (se://ID), exactly
  inject      render {{ se://ID }} references in a template into a file
  plugins     list, enable, disable, pin, install or uninstall plugins
  logs        show (and follow) the output of the plugins the engine launched
  run         run a command with se:// references in its environment replaced by secrets
  service     install, remove or check the engine as a user service (systemd, launchd)
  version     print the CLI version and, if an engine is reachable, the engine's
  completion  print a shell completion script (bash, zsh, fish)
  help        show the help of a command

Flags:
  -h, --help      help (also: secrets-engine <command> --help)
  -V, --version   same as the version command

Exit codes:
  0     success
  1     error (the engine could not start, a run reference is unresolved, ...)
  2     not found: no secret matches the pattern, or no plugin has that name
  3     engine not available at the socket: unreachable, busy, or gone mid-request
  4     invalid secret pattern, ID or reference
  5     a plugin failed or missed its deadline (get: partial or no answer)
  64    usage: unknown command or flag, missing or malformed argument
  126   run: the command cannot be executed
  127   run: the command was not found
  130   serve: a second signal arrived during shutdown
  run otherwise exits with the command's exit code (128+N when signal N killed it).

Environment:
  SECRETS_ENGINE_SOCKET   the engine socket when --socket is not given
  SECRETS_ENGINE_DEBUG    1: print the stack trace of unexpected errors

Examples:
  secrets-engine serve --plugins-dir ~/.local/lib/secrets-engine/plugins
  secrets-engine get 'myapp/**'
  export PGPASSWORD="$(secrets-engine read se://myapp/db/password)"
  secrets-engine inject -i config.yml.tpl -o config.yml
  DB_PASSWORD=se://myapp/db/password secrets-engine run -- ./server
`;

export const COMMAND_HELP: Record<string, string> = {
  serve: `Run the engine in the foreground until SIGINT or SIGTERM.

Usage:
  secrets-engine serve [flags]

Launches every executable in the plugins folder, accepts plugins started by hand (they join
through the socket), and serves secrets on the socket. If DIR.pins.json exists beside DIR
(written by 'secrets-engine plugins pin'), only executables whose SHA-256 matches their pin are
launched, checked before every launch and restart; the others are listed as stopped, with why. Logs go to stderr as
"HH:MM:SS.mmm LEVEL message key=value ..."; secret values are never logged. Once ready, one line
naming the socket and the plugins goes to stdout. SIGINT or SIGTERM stops every plugin and removes
the socket (exit 0); a second signal during that shutdown exits at once (exit 130). SIGHUP reads
the plugins folder again: new executables are launched, removed ones stopped, changed ones
(another file, or the file rewritten) restarted, and the others left running untouched.

The configuration file (docs/configuration.md) sets the same things as the flags, and more:
builtin providers (file, env, keychain) run in the engine's process, disabledPlugins, caches.
Flags override it. Default ~/.config/secrets-engine/config.json ($XDG_CONFIG_HOME): missing is
an empty configuration; a file given with --config must exist. An error in it names
FILE:LINE:COL and the key. SIGHUP reads it again before the plugins folder: disabledPlugins is
applied at once, a change to any other key is logged as "needs a restart: KEY", and a file with
an error is logged and changes nothing.

Flags:
${SOCKET_FLAG}
      --config FILE        the configuration file (default
                           ~/.config/secrets-engine/config.json; missing: none)
  -d, --plugins-dir DIR    launch the executables in DIR as plugins (default:
                           ~/.local/share/secrets-engine/plugins, if it exists)
      --no-launch          do not launch the plugins in --plugins-dir
      --no-external        refuse plugins started by hand
      --request-timeout MS deadline of each plugin's part of a request, in ms (default 60000)
      --registration-timeout MS
                           how long a launched or connecting plugin has to register, in ms
                           (default 5000)
      --log-level LEVEL    debug, info, warn or error (default info)
      --plugin-env K=V     an extra environment variable for launched plugins (repeatable)
      --cache PLUGIN=MS    keep PLUGIN's answers for MS ms (repeatable; never past a secret's
                           expiry, never errors or not-found, dropped when PLUGIN restarts or
                           is disabled; 'get --no-cache' asks the plugin; default: no cache)
      --access FILE        who may call the socket: JSON {"rules": [{"uid", "executable",
                           "pattern"}]}, each rule opening what it names (default: this uid only)
      --audit-log FILE     one JSON line per call on the socket (who, what, decision, plugins,
                           IDs; never a value) appended to FILE (0600, rotated at 10 MiB, 5 kept)
      --state-dir DIR      the engine's own folder: launched plugins' output files (logs/, read
                           by 'secrets-engine logs') and their process records (default
                           <socket>.state)
  -h, --help               this help

Exit codes:
  0     stopped by SIGINT or SIGTERM
  1     the engine could not start (another engine listens on the socket, an error in the
        configuration file, bad plugins folder, unreadable access rules, an audit log that
        cannot be used, ...)
  64    usage: unknown flag or malformed value
  130   a second signal arrived during shutdown

Examples:
  secrets-engine serve --plugins-dir ~/.local/lib/secrets-engine/plugins
  secrets-engine serve --socket /tmp/se.sock --no-external --log-level debug
  secrets-engine serve -d ./plugins --plugin-env VAULT_ADDR=https://vault.internal:8200
  kill -HUP "$(pgrep -f 'secrets-engine serve')"    # after adding or removing a plugin
  secrets-engine serve --config ./engine.json --log-level debug
`,

  get: `List the secrets whose IDs match a pattern.

Usage:
  secrets-engine get PATTERN [flags]

A pattern is an ID whose components may be '*' (exactly one component) or '**' (any number):
'myapp/db/password', 'myapp/*/password', 'myapp/**', also written as a reference
('se://myapp/**'). Prints a table (ID, PROVIDER, VERSION, EXPIRES); values are printed only with
--reveal. On a terminal, a request still waiting after a second says on stderr which plugins it
was sent to (the engine does not say which of them has answered); the line is erased once the
answer is in.

Flags:
${SOCKET_FLAG}
      --json               print a JSON array: id, provider, version, createdAt, resolvedAt,
                           expiresAt (ISO 8601 or null), metadata, and value with --reveal
      --reveal             print the secret values (a VALUE column, or "value" in JSON)
      --no-cache           ask the plugins, not the engine's answer cache (serve's cache
                           configuration; the fresh answer replaces the cached one)
  -h, --help               this help

Exit codes:
  0     at least one secret matched
  1     other error
  2     no secret matches the pattern (every plugin asked answered)
  3     engine not available at the socket: unreachable, busy, or gone mid-request
  4     invalid pattern
  5     a plugin failed or missed its deadline: the others' secrets are printed and a
        warning on stderr names each failed plugin; with none, the error names them
  64    usage: missing PATTERN, unknown flag

Examples:
  secrets-engine get 'myapp/**'
  secrets-engine get myapp/db/password --reveal
  secrets-engine get 'myapp/*/password' --json | jq -r '.[].id'
  secrets-engine get 'se://myapp/**'
`,

  read: `Print the value of one secret, exactly: for $(...), pipes and files.

Usage:
  secrets-engine read se://ID [flags]

Prints the bytes of the secret whose ID is exactly ID (the se:// prefix may be left out), with
no newline unless --newline. A pattern is refused (exit 4): use 'secrets-engine get PATTERN' to
see what it matches. A value that is not UTF-8 text, or holds control characters other than tab
and newline (terminal escape sequences), is not written to a terminal unless --force; redirected
or piped, it is written as it is. On a terminal, a request still waiting after a second says on
stderr which plugins it was sent to; the line is erased once the answer is in.

Flags:
${SOCKET_FLAG}
      --newline            add a newline after the value
      --force              write a binary or control-bearing value to a terminal anyway
      --no-cache           ask the plugins, not the engine's answer cache
  -h, --help               this help

Exit codes:
  0     the value was printed
  1     other error (a binary value refused on a terminal, access denied, ...)
  2     no secret has that ID (every plugin asked answered)
  3     engine not available at the socket
  4     invalid ID, or a pattern
  5     a plugin failed or missed its deadline, and none had the ID (it may exist)
  64    usage: missing se://ID, unknown flag

Examples:
  secrets-engine read se://myapp/db/password
  export PGPASSWORD="$(secrets-engine read se://myapp/db/password)"
  secrets-engine read se://myapp/tls/key > key.pem
  secrets-engine read se://myapp/api-key --newline
`,

  inject: `Render {{ se://ID }} references in a template into a file (or stdout).

Usage:
  secrets-engine inject [-i TEMPLATE] [-o FILE] [flags]

Reads TEMPLATE (default stdin) and replaces every reference {{ se://ID }} with the bytes of the
secret whose ID is exactly ID; blanks inside the braces are optional ({{se://ID}}). Every other
text, including any other {{ ... }}, is copied as it is. A reference is one exact ID: a pattern,
an invalid ID or a missing }} is an error (line:column), never copied. To write the text
{{ se://ID }} itself, put a backslash before it: \\{{ se://ID }}; two backslashes give one
backslash followed by the value.

All or nothing: every reference is resolved before anything is written; if any fails, nothing
is written and one line names each failing reference (TEMPLATE:LINE:COLUMN se://ID) and why,
never a value. FILE is a new file of mode 0600 that replaces FILE atomically (written beside it,
then renamed); a symbolic link at FILE is refused, never followed. TEMPLATE is at most 16 MiB.

Flags:
${SOCKET_FLAG}
  -i, --in-file TEMPLATE   the template (default, or '-': stdin)
  -o, --out-file FILE      the file to write, mode 0600 (default, or '-': stdout)
  -h, --help               this help

Exit codes:
  0     written
  1     other error (FILE is a symbolic link, TEMPLATE unreadable or too large, access denied, ...)
  2     a reference names no secret (and no other failure)
  3     engine not available at the socket
  4     an invalid reference in the template (nothing was fetched)
  5     a plugin failed or missed its deadline for a reference (it may exist)
  64    usage: unknown flag, an argument

Examples:
  secrets-engine inject -i config.yml.tpl -o config.yml
  echo 'password: {{ se://myapp/db/password }}' | secrets-engine inject > db.yml
  secrets-engine inject --in-file .env.tpl --out-file .env
`,

  logs: `Show the output of the plugins the engine launched, and follow it.

Usage:
  secrets-engine logs [PLUGIN...] [flags]

The engine writes each launched plugin's stdout and stderr to <state>/logs/<name>.log (0600,
rotated to <name>.log.1 at 8 MiB); <state> is <socket>.state unless serve was given --state-dir.
No engine is needed: the logs outlive it. With no PLUGIN, every plugin with a log file; with
more than one, each line is prefixed with "<name> | ". Lines are shown as written; on a terminal,
control characters are shown escaped. --level keeps the lines at that level or above: a line's
level is the one it names (ERROR, [ERR], level=error, "level":"error", error:, a panic or an
exception), indented lines (stack traces) go with the line above, and other lines are info.
Plugins started by hand and builtin plugins log where they run, not here.

Flags:
${SOCKET_FLAG}
      --state-dir DIR      the engine's state folder (instead of --socket)
  -f, --follow             keep printing new lines until SIGINT or SIGTERM (also of plugins
                           launched later, when no PLUGIN is given)
  -n, --tail N             only the last N lines of each plugin (0: only new lines)
      --level LEVEL        only lines at LEVEL or above: error, warn, info, debug
  -h, --help               this help

Exit codes:
  0     success (follow: stopped by SIGINT or SIGTERM)
  1     the state or logs folder is missing or not this user's private folder, or a file
        cannot be read
  2     a PLUGIN has no log file (the message lists those that have one)
  64    usage: unknown flag, malformed --tail or --level, not a plugin name

Examples:
  secrets-engine logs keychain
  secrets-engine logs -f
  secrets-engine logs --level warn -n 100 vault keychain
`,

  plugins: `List, enable or disable the engine's plugins, pin the executables of a plugins folder, or
install and uninstall provider packages in it.

Usage:
  secrets-engine plugins [ls] [flags]
  secrets-engine plugins enable NAME [flags]
  secrets-engine plugins disable NAME [flags]
  secrets-engine plugins pin --plugins-dir DIR [--json]
  secrets-engine plugins install PACKAGE [--plugins-dir DIR] [--name NAME] [--bin BIN] [--force]
  secrets-engine plugins uninstall NAME [--plugins-dir DIR]

ls (the default) prints NAME, VERSION, PATTERN, KIND, STATUS and MESSAGE. KIND is builtin (in the
engine's process), launched (started and supervised by the engine) or external (started by hand,
joined through the socket); it is derived from the plugin's external and configurable flags.
STATUS is running, stopped, crashed or retries-exceeded, and disabled for a disabled plugin.
A disabled plugin answers no request; a launched one is stopped, and started again when enabled.

enable and disable also record the change in the configuration file's disabledPlugins (the
file --config names, default ~/.config/secrets-engine/config.json; created 0600 in a 0700
folder when missing, rewritten atomically, its other keys kept in their order), so the next
serve starts the same way. With no engine running, or none with that plugin, only the file is
changed and stderr says so (exit 0). --no-persist changes the running engine only. A
configuration file with an error is not rewritten (exit 1, FILE:LINE:COL), and then the engine
is not changed either.

pin needs no engine: it computes the SHA-256 of every plugin executable in DIR (symlinks
followed) and writes DIR.pins.json beside DIR, atomically, as
{"version":1,"pins":{"NAME":"sha256:HEX"}}. While that file exists, the engine launches only
plugins whose executable matches its pin; a refused one is listed as stopped with
"not launched: ..." and is launched by 'plugins enable NAME' once pinned again.

install needs npm and no engine: it installs PACKAGE (a package name, name@version, a tarball
such as ./plugin.tgz, or a package folder) with npm into DIR/.packages/NAME, its own npm prefix
(no lifecycle scripts run), and links DIR/NAME to the package's bin, the plugin executable. NAME
is the bin's name less "secrets-engine-plugin-" (@secrets-engine/plugin-env: env), or --name.
An existing plugin of that name is replaced only with --force. With a pin file, the new plugin
is pinned (the bin file only, not the package's other files); other pins are left as they are.
uninstall removes DIR/NAME, DIR/.packages/NAME and its pin (a NAME.json configuration is kept).
A running engine picks up either on SIGHUP (kill -HUP <pid of serve>) or a restart.

Flags:
${SOCKET_FLAG}
  -d, --plugins-dir DIR    pin: the plugins folder to pin (required); install, uninstall: the
                           plugins folder (default: the configuration's pluginsDir, else
                           ~/.local/share/secrets-engine/plugins)
      --config FILE        enable/disable: the configuration file to record it in; install,
                           uninstall: the one whose pluginsDir to use (default
                           ~/.config/secrets-engine/config.json)
      --no-persist         enable/disable: change the running engine only, no file
      --name NAME          install: the plugin's name (default: from the package's bin)
      --bin BIN            install: which bin of a package with several is the plugin
      --force              install: replace an existing plugin of the same name
      --json               print JSON (ls: an array; enable/disable: the plugin afterwards;
                           pin: the pin file, the pins and what changed; install, uninstall:
                           what was installed or removed)
  -h, --help               this help

Exit codes:
  0     success
  1     other error (pin: a plugin cannot be hashed, the pin file cannot be written;
        enable/disable: the configuration file has an error or cannot be written; install:
        npm failed or is missing, no bin, a plugin of that name exists)
  2     no plugin has that name (enable/disable with --no-persist; uninstall: none installed
        under that name)
  3     engine not available at the socket: unreachable, busy, or gone mid-request
  64    usage: unknown subcommand or flag, missing NAME or --plugins-dir

Examples:
  secrets-engine plugins
  secrets-engine plugins ls --json
  secrets-engine plugins disable vault
  secrets-engine plugins enable vault
  secrets-engine plugins disable vault --no-persist    # until the engine restarts
  secrets-engine plugins disable vault --config ./engine.json
  secrets-engine plugins pin --plugins-dir ~/.local/lib/secrets-engine/plugins
  secrets-engine plugins install @secrets-engine/plugin-env
  secrets-engine plugins install ./my-plugin-1.0.0.tgz --name vault --force
  secrets-engine plugins uninstall vault
`,

  run: `Run a command with secrets in its environment, masked in its output.

Usage:
  secrets-engine run [flags] -- CMD [ARGS...]

The command's environment is this process's environment, then each --env-file in order (later
files win). Every variable whose value is exactly se://ID is replaced by that secret's value, and
every se://PATTERN (wildcards: * one component, ** any number) by the one secret it matches; a
pattern that matches none, or more than one, is refused. All references are resolved before the
command starts: if any fails, one line names every unresolved reference and why (not found,
matches no secret, matches N secrets, engine not available, a failed provider, invalid), and the
command is not started.

Masking: every resolved value is replaced by <concealed by secrets-engine> in the command's
stdout and stderr, also when written in pieces, and in its base64 (standard and URL-safe), hex,
URL-encoded and JSON-escaped forms. Values shorter than 3 bytes are not masked. Masking makes the
command's stdout and stderr pipes (isatty is false there: no colours, block buffering); stdin
stays the terminal and /dev/tty works. --no-masking gives the command this terminal's stdout and
stderr as they are. A piece held back because it could start a value is let through after 100 ms
with nothing more written.

The command keeps this terminal: it is in this process's process group, so prompts (ssh, sudo,
gpg, git) work, Ctrl-C and Ctrl-\\ reach it (this process waits for it), and Ctrl-Z stops both
until fg. SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 and SIGWINCH sent to this process
are forwarded to the command (to its process group if it made one); those the terminal sends to
both are not forwarded again.

Flags:
${SOCKET_FLAG}
  -e, --env-file FILE      read KEY=VALUE lines from FILE (repeatable; later files win), dotenv
                           syntax: # comments, export, '', "" (with \\n) and \`\` quotes, multi-line
                           quoted values; any other line is an error naming FILE and the line
      --no-masking         do not mask the values in the command's output
  -h, --help               this help

Exit codes:
  the command's exit code, or 128+N when signal N killed it
  1     a reference could not be resolved (the command did not start), or an env file is unreadable
  64    usage: no command, unknown flag
  126   the command cannot be executed
  127   the command was not found

Examples:
  DB_PASSWORD=se://myapp/db/password secrets-engine run -- ./server --port 8080
  secrets-engine run -e .env -e .env.local -- npm start
  GH_TOKEN='se://myapp/**/github-token' secrets-engine run -- gh auth status
  secrets-engine run --no-masking -e .env -- ./debug-config.sh
`,

  service: `Install, remove or check the engine as a per-user service (systemd, launchd).

Usage:
  secrets-engine service install [flags]
  secrets-engine service uninstall
  secrets-engine service status

install writes a service that runs 'secrets-engine serve' with the --socket, --plugins-dir and
--config given here (paths made absolute), as this Node.js and this secrets-engine, and starts
it. Linux: the systemd user unit $XDG_CONFIG_HOME/systemd/user/secrets-engine.service (default
~/.config/systemd/user), then 'systemctl --user daemon-reload', 'enable' and 'start' (restart
when it replaced another unit); without --socket the socket is the configuration file's (the
--config file, else the default one), else $XDG_RUNTIME_DIR/secrets-engine/engine.sock (%t in
the unit); the log is the journal: journalctl --user -u secrets-engine. It is Type=exec,
restarted on failure, with NoNewPrivileges, UMask=0077 and no core dumps; 'systemctl --user
reload secrets-engine' sends SIGHUP. macOS: the launchd agent dev.secrets-engine,
~/Library/LaunchAgents/dev.secrets-engine.plist, loaded with 'launchctl bootstrap gui/UID'
(kept alive unless it exits 0), its output in ~/Library/Logs/secrets-engine/engine.log; the
socket defaults to the one clients use. install then waits up to 15 s for the engine to answer.
An identical installed file is left as it is; a different one is replaced only with --force.
Without a reachable user manager (no login session: "Failed to connect to bus"), the file is
written and the error says how to start it by hand.

uninstall stops and disables the service (systemctl --user disable --now, or launchctl
bootout), removes the file and reloads the manager. status prints whether the service is
installed (its file), whether the manager runs it, its socket and whether an engine answers
there, and where the logs are.

Flags:
  -s, --socket PATH        install: the socket the service serves on (default: see above)
  -d, --plugins-dir DIR    install: the plugins folder the service launches (serve --plugins-dir)
      --config FILE        install: the configuration file (serve --config)
      --print              install: print the service file instead of writing it (nothing
                           else is done)
      --no-start           install: write the file but do not load or start it
      --force              install: replace a different service file already installed
  -h, --help               this help

Exit codes:
  0     install, uninstall: done; status: the service runs and an engine answers on its socket
  1     error: a systemctl or launchctl call failed (its command and output are shown), no user
        manager, a different file already installed, unsupported platform (not Linux or macOS)
  2     uninstall, status: the service is not installed
  3     status: installed, but not running or no engine answers on its socket
  64    usage: unknown subcommand or flag

Examples:
  secrets-engine service install --plugins-dir ~/.local/lib/secrets-engine/plugins
  secrets-engine service install --print
  secrets-engine service install --socket /tmp/se.sock --no-start
  secrets-engine service status
  secrets-engine service uninstall
`,

  version: `Print the CLI version and, if an engine is reachable, the engine's version.

Usage:
  secrets-engine version [flags]

Flags:
${SOCKET_FLAG}
  -h, --help               this help

Exit codes:
  0     always (an unreachable engine is reported, not an error)
  64    usage: unknown flag

Examples:
  secrets-engine version
  secrets-engine version --socket /tmp/se.sock
`,

  completion: `Print a shell completion script for bash, zsh or fish.

Usage:
  secrets-engine completion SHELL

Commands, their flags and the plugins subcommands are completed from the same help texts as
--help; plugin names (plugins enable/disable, logs) and secret IDs (get, read se://) from the
engine when one answers at the socket (bash and zsh: the --socket on the command line, else
$SECRETS_ENGINE_SOCKET or the default; fish: $SECRETS_ENGINE_SOCKET or the default), within a
second, and nothing otherwise. Completing IDs asks the engine for the secrets below the folder
typed so far (e.g. myapp/db/**), as 'secrets-engine get' would, under the same access rules;
only their IDs are printed.

Exit codes:
  0     the script was printed
  64    usage: missing or unknown SHELL

Examples:
  source <(secrets-engine completion bash)              # in ~/.bashrc
  source <(secrets-engine completion zsh)               # in ~/.zshrc
  secrets-engine completion fish > ~/.config/fish/completions/secrets-engine.fish
`,

  help: `Show the help of a command.

Usage:
  secrets-engine help [COMMAND]

Examples:
  secrets-engine help run
`,
};

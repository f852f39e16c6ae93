// Shell completion (issue 16 item 6): `secrets-engine completion bash|zsh|fish` prints a script made
// from the same help texts as --help and the manual page (help.ts): commands from the main help,
// each command's flags from its "Flags:" block (a flag followed by a NAME takes a value), the
// plugins subcommands from its usage lines. Plugin names and secret IDs come from a running engine
// through the hidden `secrets-engine __complete plugins|ids`, which prints nothing (and exits 0)
// when no engine answers, so a TAB never prints an error into the command line.

import { COMMAND_HELP, MAIN_HELP } from './help.js';
import { PROGRAM } from './meta.js';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

interface Flag {
  long: string;
  short: string | undefined;
  /** The value's name in the help (FILE, DIR, MS, ...), undefined for a switch. */
  value: string | undefined;
  description: string;
}

interface CommandSpec {
  name: string;
  description: string;
  flags: Flag[];
  subcommands: string[];
}

/** Metavariables whose value is a path: completed with file names. */
const PATH_VALUES = new Set(['FILE', 'DIR', 'PATH', 'TEMPLATE']);

/** The commands and their flags, read from the help texts. */
export function completionSpec(): CommandSpec[] {
  const block = (text: string, heading: string): string[] => {
    const lines = text.split('\n');
    const start = lines.indexOf(heading);
    if (start === -1) return [];
    const out: string[] = [];
    for (const line of lines.slice(start + 1)) {
      if (line === '' || !line.startsWith(' ')) break;
      out.push(line);
    }
    return out;
  };
  const commands = block(MAIN_HELP, 'Commands:').map((line) => {
    const m = /^ {2}(\S+) +(.*)$/.exec(line);
    return { name: m?.[1] ?? '', description: m?.[2] ?? '' };
  });
  return commands.map(({ name, description }) => {
    const help = COMMAND_HELP[name] ?? '';
    const flags: Flag[] = [];
    for (const line of block(help, 'Flags:')) {
      const m = /^ {2}(?:-([A-Za-z]), )? {0,4}(--[a-z][\w-]*)(?: ([A-Z][A-Z_]*(?:=[A-Z_]+)?))? *(.*)$/.exec(
        line,
      );
      if (m === null) continue; // a continuation line of the description above
      flags.push({ long: m[2]!, short: m[1], value: m[3], description: m[4]?.trim() ?? '' });
    }
    // `secrets-engine plugins enable NAME`: the words after the command in its usage lines.
    const usage = new RegExp(`^ {2}${PROGRAM} ${name} \\[?([a-z]+)\\]?(?: |$)`);
    const subcommands = [...new Set(block(help, 'Usage:').flatMap((line) => usage.exec(line)?.[1] ?? []))];
    return { name, description, flags, subcommands };
  });
}

/** What a command's operands are, for dynamic completion. */
function operands(command: string): 'plugins' | 'ids' | 'references' | 'commands' | 'shells' | undefined {
  switch (command) {
    case 'logs':
      return 'plugins';
    case 'get':
      return 'ids';
    case 'read':
      return 'references';
    case 'help':
      return 'commands';
    case 'completion':
      return 'shells';
    default:
      return undefined;
  }
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function bash(spec: CommandSpec[]): string {
  const fn = `_${PROGRAM.replace(/-/g, '_')}`;
  // Our own prefix filter instead of compgen -W, which zsh's bashcompinit does not filter by.
  const filter = `${fn}_words `;
  const names = spec.map((c) => c.name).join(' ');
  const flagCases = spec
    .map(
      (c) =>
        `    ${c.name}) flags=${quote(c.flags.flatMap((f) => [f.long, ...(f.short ? [`-${f.short}`] : [])]).join(' '))} ;;`,
    )
    .join('\n');
  const valueCases = spec
    .flatMap((c) =>
      c.flags
        .filter((f) => f.value !== undefined)
        .map((f) => {
          const keys = [f.long, ...(f.short ? [`-${f.short}`] : [])].map((k) => `${c.name}:${k}`).join('|');
          // A path: no candidates of ours, so the shell completes file names (complete -o default).
          const action =
            f.value === 'LEVEL' ? `${filter}${quote('error warn info debug')} "$cur"` : 'COMPREPLY=()';
          return `    ${keys}) ${action}; return ;;`;
        }),
    )
    .join('\n');
  const subCases = spec
    .filter((c) => c.subcommands.length > 0)
    .map((c) => `    ${c.name}) subs=${quote(c.subcommands.join(' '))} ;;`)
    .join('\n');
  const operandCases = spec
    .map((c) => {
      const kind = c.name === 'plugins' ? 'plugins' : operands(c.name);
      if (kind === undefined) return undefined;
      const action = {
        plugins: `${filter}"$(${PROGRAM} __complete plugins "\${socket[@]}" 2>/dev/null)" "$cur"`,
        ids: `COMPREPLY=($(${PROGRAM} __complete ids "$cur" "\${socket[@]}" 2>/dev/null))`,
        references: `COMPREPLY=($(${PROGRAM} __complete references "$cur" "\${socket[@]}" 2>/dev/null))`,
        commands: `${filter}${quote(names)} "$cur"`,
        shells: `${filter}${quote(SHELLS.join(' '))} "$cur"`,
      }[kind];
      return `    ${c.name}) ${action} ;;`;
    })
    .filter((l) => l !== undefined)
    .join('\n');
  return `# ${PROGRAM} completion for bash (also zsh through bashcompinit). Generated by
# '${PROGRAM} completion bash' from the same help texts as --help.
${fn}_words() {
  local w
  for w in $1; do
    [[ $w == "$2"* ]] && COMPREPLY+=("$w")
  done
}
${fn}() {
  COMPREPLY=()
  local cur prev cmd="" sub="" flags="" subs="" i
  local -a socket=()
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in
      --)
        if [[ $cmd == run ]]; then
          COMPREPLY=($(compgen -c -- "$cur"))
          return
        fi ;;
      -s|--socket) socket=(--socket "\${COMP_WORDS[i+1]}") ;;
      -*) ;;
      *)
        if [[ -z $cmd ]]; then cmd="\${COMP_WORDS[i]}"
        elif [[ -z $sub ]]; then sub="\${COMP_WORDS[i]}"; fi ;;
    esac
  done
  if [[ -z $cmd ]]; then
    ${filter}${quote(names)} "$cur"
    return
  fi
  case "$cmd:$prev" in
${valueCases}
  esac
  case "$cmd" in
${flagCases}
  esac
  if [[ $cur == -* ]]; then
    ${filter}"$flags" "$cur"
    return
  fi
  case "$cmd" in
${subCases}
  esac
  if [[ -n $subs && -z $sub ]]; then
    ${filter}"$subs" "$cur"
    return
  fi
  if [[ $cmd == plugins && $sub != enable && $sub != disable && $sub != uninstall ]]; then
    COMPREPLY=()
    return
  fi
  case "$cmd" in
${operandCases}
  esac
}
complete -o default -F ${fn} ${PROGRAM}
`;
}

function fish(spec: CommandSpec[]): string {
  const lines = [
    `# ${PROGRAM} completion for fish. Generated by '${PROGRAM} completion fish' from the same help`,
    '# texts as --help.',
    `complete -c ${PROGRAM} -f`,
  ];
  const noCommand = `not __fish_seen_subcommand_from ${spec.map((c) => c.name).join(' ')}`;
  for (const c of spec) {
    lines.push(`complete -c ${PROGRAM} -n ${quote(noCommand)} -a ${c.name} -d ${quote(c.description)}`);
  }
  // fish asks the engine at $SECRETS_ENGINE_SOCKET (else the default socket).
  const socket = '';
  for (const c of spec) {
    const when = quote(`__fish_seen_subcommand_from ${c.name}`);
    for (const f of c.flags) {
      const parts = [`complete -c ${PROGRAM} -n ${when} -l ${f.long.slice(2)}`];
      if (f.short) parts.push(`-s ${f.short}`);
      if (f.value !== undefined) parts.push(PATH_VALUES.has(f.value) ? '-r -F' : '-r');
      parts.push(`-d ${quote(f.description)}`);
      lines.push(parts.join(' '));
    }
    if (c.subcommands.length > 0) {
      const none = quote(
        `__fish_seen_subcommand_from ${c.name}; and not __fish_seen_subcommand_from ${c.subcommands.join(' ')}`,
      );
      lines.push(`complete -c ${PROGRAM} -n ${none} -a ${quote(c.subcommands.join(' '))}`);
      lines.push(
        `complete -c ${PROGRAM} -n ${quote(`__fish_seen_subcommand_from ${c.name}; and __fish_seen_subcommand_from enable disable uninstall`)} -a ${quote(`(${PROGRAM} __complete plugins${socket} 2>/dev/null)`)}`,
      );
    }
    const kind = operands(c.name);
    const source =
      kind === 'plugins'
        ? `(${PROGRAM} __complete plugins${socket} 2>/dev/null)`
        : kind === 'ids'
          ? `(${PROGRAM} __complete ids (commandline -ct)${socket} 2>/dev/null)`
          : kind === 'references'
            ? `(${PROGRAM} __complete references (commandline -ct)${socket} 2>/dev/null)`
            : kind === 'commands'
              ? spec.map((s) => s.name).join(' ')
              : kind === 'shells'
                ? SHELLS.join(' ')
                : undefined;
    if (source !== undefined) lines.push(`complete -c ${PROGRAM} -n ${when} -a ${quote(source)}`);
    if (c.name === 'run')
      lines.push(
        `complete -c ${PROGRAM} -n ${quote('contains -- -- (commandline -opc)')} -a '(__fish_complete_subcommand --fcs-skip=3)'`,
      );
  }
  return `${lines.join('\n')}\n`;
}

/** The completion script for `shell`. */
export function completionScript(shell: Shell): string {
  const spec = completionSpec();
  if (shell === 'fish') return fish(spec);
  const script = bash(spec);
  if (shell === 'bash') return script;
  return `# zsh: the bash completion through zsh's bashcompinit.
autoload -U +X compinit && compinit -u
autoload -U +X bashcompinit && bashcompinit
${script}`;
}

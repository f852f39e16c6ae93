// Checks of the commands in ```sh blocks: `secrets-engine …` against the built CLI's own --help,
// and `pnpm <script>` / `pnpm run <script>` / `npm run <script>` against the package.json scripts.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { promisify } from 'node:util';
import { nearestPackageDir, REPO_ROOT, readJson, repoPath, type WorkspacePackage } from './repo.js';

const run = promisify(execFile);

export interface CliFlag {
  /** The value placeholder (`PATH`, `K=V`), when the flag takes one. */
  value?: string;
}

export interface CliCommand {
  flags: Map<string, CliFlag>;
  /** Literal words that may follow the command (`plugins ls|enable|disable`); empty if none. */
  subcommands: Set<string>;
  /** Usage has `-- CMD`: the first positional argument starts another program's arguments. */
  passthrough: boolean;
}

export interface CliSpec {
  bin: string;
  topFlags: Map<string, CliFlag>;
  commands: Map<string, CliCommand>;
}

/** The lines of a `Heading:` section of a help text (up to the next line that is not indented). */
function helpSection(help: string, heading: string): string[] {
  const lines = help.split('\n');
  const start = lines.indexOf(`${heading}:`);
  if (start === -1) return [];
  const out: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line !== '' && !/^\s/.test(line)) break;
    out.push(line);
  }
  return out;
}

export function parseFlags(help: string): Map<string, CliFlag> {
  const flags = new Map<string, CliFlag>();
  for (const line of helpSection(help, 'Flags')) {
    const m = /^\s+(?:(-[A-Za-z0-9]), )?(--[a-z0-9][a-z0-9-]*)(?: ([A-Z][A-Z0-9_=]*))?(?:\s|$)/.exec(line);
    if (!m) continue;
    const flag: CliFlag = m[3] ? { value: m[3] } : {};
    flags.set(m[2]!, flag);
    if (m[1]) flags.set(m[1], flag);
  }
  return flags;
}

/** Runs `node <bin> --help` and `node <bin> <command> --help` for every listed command. */
export async function loadCliSpec(bin: string): Promise<CliSpec> {
  const help = async (args: string[]): Promise<string> =>
    (
      await run(process.execPath, [bin, ...args], {
        encoding: 'utf8',
        env: { ...process.env, NO_COLOR: '1' },
      })
    ).stdout;
  const top = await help(['--help']);
  const names = helpSection(top, 'Commands')
    .map((l) => /^ {2}([a-z][a-z0-9-]*) {2,}\S/.exec(l)?.[1])
    .filter((n): n is string => n !== undefined);
  if (names.length === 0) throw new Error(`no "Commands:" in the output of ${bin} --help:\n${top}`);
  const commands = new Map<string, CliCommand>();
  await Promise.all(
    names.map(async (name) => {
      if (name === 'help') {
        commands.set(name, { flags: new Map(), subcommands: new Set(names), passthrough: false });
        return;
      }
      const text = await help([name, '--help']);
      const usage = helpSection(text, 'Usage').map((l) => l.trim().split(/\s+/));
      const subcommands = new Set(
        usage
          .filter((w) => w[0] === 'secrets-engine' && w[1] === name && w[2] !== undefined)
          .map((w) => w[2]!.replace(/^\[(.*)\]$/, '$1'))
          .filter((w) => /^[a-z][a-z-]*$/.test(w)),
      );
      const passthrough = usage.some((w) => w[1] === name && w.includes('--'));
      commands.set(name, { flags: parseFlags(text), subcommands, passthrough });
    }),
  );
  return { bin, topFlags: parseFlags(top), commands };
}

/** Problems of one `secrets-engine …` command line (`words[0]` is `secrets-engine`). */
export function checkCliCommand(words: string[], spec: CliSpec): string[] {
  const [, first, ...rest] = words;
  if (first === undefined) return [];
  const listed = (flags: Map<string, CliFlag>): string => [...flags.keys()].join(', ');
  if (first.startsWith('-')) {
    const name = first.split('=')[0]!;
    return spec.topFlags.has(name)
      ? []
      : [`unknown flag ${name}: \`secrets-engine --help\` lists ${listed(spec.topFlags)}`];
  }
  const command = spec.commands.get(first);
  if (!command) {
    return [
      `unknown command "${first}": \`secrets-engine --help\` lists ${[...spec.commands.keys()].join(', ')}`,
    ];
  }
  const problems: string[] = [];
  let positionals = 0;
  for (let i = 0; i < rest.length; i++) {
    const word = rest[i]!;
    if (word === '--') break;
    if (word.startsWith('-') && word !== '-') {
      const [name, inline] = word.startsWith('--') ? word.split(/=(.*)/s) : [word, undefined];
      const flag = command.flags.get(name!);
      if (!flag) {
        problems.push(
          `unknown flag ${name} for "${first}": \`secrets-engine ${first} --help\` lists ${listed(command.flags)}`,
        );
      } else if (flag.value !== undefined && inline === undefined) {
        i++; // its value
      }
      continue;
    }
    if (command.passthrough) break; // the rest is the command to run and its own arguments
    if (positionals === 0 && command.subcommands.size > 0 && !command.subcommands.has(word)) {
      problems.push(
        `unknown subcommand "${first} ${word}": \`secrets-engine ${first} --help\` lists ${[...command.subcommands].join(', ')}`,
      );
    }
    positionals++;
  }
  return problems;
}

/** pnpm commands that are not scripts (pnpm runs any other first word as a script). */
const PNPM_BUILTINS = new Set([
  'add',
  'approve-builds',
  'audit',
  'bin',
  'cat-file',
  'cat-index',
  'config',
  'create',
  'dedupe',
  'deploy',
  'dlx',
  'doctor',
  'env',
  'exec',
  'fetch',
  'find-hash',
  'help',
  'i',
  'ignored-builds',
  'import',
  'init',
  'install',
  'install-test',
  'it',
  'licenses',
  'link',
  'list',
  'ln',
  'ls',
  'outdated',
  'pack',
  'patch',
  'patch-commit',
  'patch-remove',
  'prune',
  'publish',
  'rb',
  'rebuild',
  'remove',
  'rm',
  'root',
  'self-update',
  'server',
  'setup',
  'store',
  'un',
  'uninstall',
  'unlink',
  'up',
  'update',
  'upgrade',
  'why',
  'x',
]);
/** Built-in commands that run the script of the same name. */
const SCRIPT_ALIASES: Record<string, string> = {
  t: 'test',
  tst: 'test',
  test: 'test',
  start: 'start',
  stop: 'stop',
  restart: 'restart',
};
const PNPM_VALUE_OPTIONS = new Set([
  '--filter',
  '-F',
  '--filter-prod',
  '--dir',
  '-C',
  '--workspace-dir',
  '--reporter',
  '--loglevel',
  '--test-pattern',
  '--changed-files-ignore-pattern',
]);
const NPX_VALUE_OPTIONS = new Set(['--package', '-p', '--call', '-c', '--cache', '--userconfig']);

export interface ScriptContext {
  /** Repo-relative Markdown file the command is in. */
  mdFile: string;
  packages: WorkspacePackage[];
}

interface ScriptRef {
  tool: 'pnpm' | 'npm';
  script: string;
  /** Folders whose package.json must have the script. */
  dirs: string[];
  problems: string[];
}

/** Problems of one command line if it runs a package script through pnpm or npm; [] otherwise. */
export function checkScriptCommand(words: string[], ctx: ScriptContext): string[] {
  const ref = scriptRef(words, ctx);
  if (!ref) return [];
  const problems = [...ref.problems];
  for (const dir of ref.dirs) {
    const file = join(dir, 'package.json');
    const scripts = existsSync(file) ? (readJson(file).scripts ?? {}) : {};
    if (!(ref.script in scripts)) {
      problems.push(
        `\`${ref.tool} ${ref.script}\`: ${repoPath(file)} has no "${ref.script}" script (it has: ${Object.keys(scripts).join(', ') || 'none'})`,
      );
    }
  }
  return problems;
}

function scriptRef(input: string[], ctx: ScriptContext): ScriptRef | undefined {
  let words = input;
  if (words[0] === 'npx') {
    // `npx [--yes] pnpm@12.4.2 …` is pnpm; any other npx line is not checked.
    let i = 1;
    while (i < words.length && words[i]!.startsWith('-')) i += NPX_VALUE_OPTIONS.has(words[i]!) ? 2 : 1;
    if (!/^pnpm(@.+)?$/.test(words[i] ?? '')) return undefined;
    words = ['pnpm', ...words.slice(i + 1)];
  }
  if (words[0] === 'pnpm') return pnpmRef(words.slice(1), ctx);
  if (words[0] === 'npm') return npmRef(words.slice(1), ctx);
  return undefined;
}

function pnpmRef(args: string[], ctx: ScriptContext): ScriptRef | undefined {
  const filters: string[] = [];
  let dir: string | undefined;
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('-')) break;
    if (a === '-r' || a === '--recursive') return undefined; // every package: nothing to pin down
    if (a === '-w' || a === '--workspace-root') dir = REPO_ROOT;
    const [name, inline] = a.split(/=(.*)/s);
    if (PNPM_VALUE_OPTIONS.has(name!)) {
      const value = inline ?? args[++i] ?? '';
      if (name === '--filter' || name === '-F' || name === '--filter-prod') filters.push(value);
      if (name === '--dir' || name === '-C') dir = isAbsolute(value) ? value : join(REPO_ROOT, value);
    }
  }
  const command = args[i];
  if (command === undefined) return undefined;
  let script: string | undefined;
  if (command === 'run' || command === 'run-script') {
    script = args.slice(i + 1).find((a) => !a.startsWith('-'));
    if (script === undefined) return undefined; // `pnpm run` lists the scripts
  } else if (command in SCRIPT_ALIASES) {
    script = SCRIPT_ALIASES[command];
  } else if (PNPM_BUILTINS.has(command)) {
    return undefined;
  } else {
    script = command;
  }
  const problems: string[] = [];
  const dirs: string[] = [];
  for (const filter of filters) {
    const found = filterPackage(filter, ctx.packages);
    if (typeof found === 'string') dirs.push(found);
    else if (found) problems.push(found.problem);
  }
  if (filters.length === 0) dirs.push(dir ?? nearestPackageDir(ctx.mdFile));
  return { tool: 'pnpm', script: script!, dirs, problems };
}

/** The folder a `--filter` selector names, undefined for a selector we do not pin down. */
function filterPackage(
  selector: string,
  packages: WorkspacePackage[],
): string | { problem: string } | undefined {
  if (selector.startsWith('!') || selector.startsWith('[')) return undefined; // exclusions, git ranges
  const bare = selector
    .replace(/^\.\.\.\^?|^\^/, '')
    .replace(/\^?\.\.\.$/, '')
    .replace(/^\{(.*)\}$/, '$1');
  if (bare.startsWith('.') || bare.startsWith('/')) {
    const dir = isAbsolute(bare) ? bare : join(REPO_ROOT, bare);
    return existsSync(join(dir, 'package.json'))
      ? dir
      : { problem: `\`--filter ${selector}\`: ${repoPath(dir)} is not a workspace package` };
  }
  if (bare.includes('*')) {
    const re = new RegExp(`^${bare.split('*').map(escapeRegExp).join('.*')}$`);
    return packages.some((p) => re.test(p.name))
      ? undefined
      : { problem: `\`--filter ${selector}\` matches no workspace package` };
  }
  const pkg = packages.find((p) => p.name === bare);
  return pkg ? pkg.dir : { problem: `\`--filter ${selector}\`: no workspace package is named ${bare}` };
}

function npmRef(args: string[], ctx: ScriptContext): ScriptRef | undefined {
  const workspaces: string[] = [];
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('-')) break;
    const [name, inline] = a.split(/=(.*)/s);
    if (name === '-w' || name === '--workspace') workspaces.push(inline ?? args[++i] ?? '');
    if (name === '--prefix') i++;
  }
  const command = args[i];
  let script: string | undefined;
  if (command === 'run' || command === 'run-script' || command === 'rum' || command === 'urn') {
    script = args.slice(i + 1).find((a) => !a.startsWith('-'));
  } else if (command !== undefined && command in SCRIPT_ALIASES) {
    script = SCRIPT_ALIASES[command];
  }
  if (script === undefined) return undefined; // install, publish, pkg, … are not scripts
  const problems: string[] = [];
  const dirs: string[] = [];
  for (const w of workspaces) {
    const found = filterPackage(w, ctx.packages);
    if (typeof found === 'string') dirs.push(found);
    else if (found) problems.push(found.problem.replace('--filter', '--workspace'));
  }
  if (workspaces.length === 0) dirs.push(nearestPackageDir(ctx.mdFile));
  return { tool: 'npm', script, dirs, problems };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

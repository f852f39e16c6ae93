import { expect, it } from 'vitest';
import { type CliSpec, checkCliCommand, checkScriptCommand, parseFlags } from './commands.js';
import { workspacePackages } from './repo.js';

const HELP = `Usage:
  x serve [flags]

Flags:
  -s, --socket PATH        the socket (default: ...,
                           continued)
  -d, --plugins-dir DIR    plugins
      --no-external        refuse
      --request-timeout MS deadline
  -h, --help               this help

Exit codes:
  0     ok
`;

const spec: CliSpec = {
  bin: 'x',
  topFlags: parseFlags('Flags:\n  -h, --help      help\n  -V, --version   version\n'),
  commands: new Map([
    ['serve', { flags: parseFlags(HELP), subcommands: new Set(), passthrough: false }],
    [
      'plugins',
      { flags: parseFlags(HELP), subcommands: new Set(['ls', 'enable', 'disable']), passthrough: false },
    ],
    ['run', { flags: parseFlags(HELP), subcommands: new Set(), passthrough: true }],
  ]),
};
const cli = (line: string): string[] => checkCliCommand(['secrets-engine', ...line.split(' ')], spec);

it('parses the flags of a help text, with their value placeholders', () => {
  expect(Object.fromEntries(parseFlags(HELP))).toEqual({
    '--socket': { value: 'PATH' },
    '-s': { value: 'PATH' },
    '--plugins-dir': { value: 'DIR' },
    '-d': { value: 'DIR' },
    '--no-external': {},
    '--request-timeout': { value: 'MS' },
    '--help': {},
    '-h': {},
  });
});

it('accepts documented commands, flags and values', () => {
  expect(cli('serve -d ./p --socket=/s --request-timeout 10 --no-external')).toEqual([]);
  expect(cli('serve --socket --no-such-flag')).toEqual([]); // "--no-such-flag" is the value of --socket
  expect(cli('plugins enable vault')).toEqual([]);
  expect(cli('run -s /s -- ./server --port 8080')).toEqual([]);
  expect(cli('run ./server --port 8080')).toEqual([]); // the first positional starts the command
  expect(cli('--version')).toEqual([]);
});

it('reports unknown commands, subcommands and flags', () => {
  expect(cli('srve')).toEqual(['unknown command "srve": `secrets-engine --help` lists serve, plugins, run']);
  expect(cli('plugins remove vault')[0]).toMatch(/^unknown subcommand "plugins remove"/);
  expect(cli('serve --plugin-dir ./p')[0]).toMatch(/^unknown flag --plugin-dir for "serve"/);
  expect(cli('--verbose')[0]).toMatch(/^unknown flag --verbose/);
});

it('checks pnpm and npm scripts against the nearest package.json or the filtered package', () => {
  const ctx = { mdFile: 'README.md', packages: workspacePackages() };
  const check = (line: string): string[] => checkScriptCommand(line.split(' '), ctx);
  expect(check('pnpm build')).toEqual([]);
  expect(check('pnpm install --frozen-lockfile')).toEqual([]);
  expect(check('pnpm -r build')).toEqual([]);
  expect(check('npx --yes pnpm@12.4.2 test')).toEqual([]);
  expect(check('pnpm --filter @secrets-engine/example-file-provider... measure')).toEqual([]);
  expect(check('npx vitest run')).toEqual([]);
  expect(check('npm install -g x')).toEqual([]);
  expect(check('pnpm biuld')[0]).toMatch(/^`pnpm biuld`: package.json has no "biuld" script \(it has: /);
  expect(check('npx -y pnpm@12.4.2 run nope')[0]).toMatch(/^`pnpm nope`: package.json has no "nope" script/);
  expect(check('pnpm --filter @secrets-engine/runtime measure')[0]).toMatch(
    /^`pnpm measure`: packages\/runtime\/package.json has no "measure" script/,
  );
  expect(check('pnpm --filter @secrets-engine/nope build')).toEqual([
    '`--filter @secrets-engine/nope`: no workspace package is named @secrets-engine/nope',
  ]);
  expect(
    checkScriptCommand(['npm', 'run', 'measure'], { ...ctx, mdFile: 'examples/file-provider/README.md' }),
  ).toEqual([]);
});

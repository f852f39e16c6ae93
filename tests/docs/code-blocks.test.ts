// Every fenced code block of the tracked Markdown files (except changelogs and changeset entries) is
// checked by its language: ts/js are type-checked against the built packages, json is parsed (and
// its @secrets-engine/* ranges must match the current versions), sh passes `bash -n` and names only
// real `secrets-engine` commands and flags and real package scripts. A few languages are ignored on
// purpose; any other tag, or none, fails, so a new kind of block is a conscious decision.
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import semver from 'semver';
import { beforeAll, describe, expect, it } from 'vitest';
import { type CliSpec, checkCliCommand, checkScriptCommand, loadCliSpec } from './support/commands.js';
import {
  type CodeBlock,
  fileSlug,
  type MarkdownProblem,
  parseMarkdown,
  SKIP_MARKER_FORM,
} from './support/markdown.js';
import {
  DOCS_TESTS_DIR,
  markdownFiles,
  type PackageJson,
  REPO_ROOT,
  readJson,
  workspacePackages,
} from './support/repo.js';
import { simpleCommands } from './support/shell.js';
import {
  BLOCKS_DIR,
  blockKey,
  JS_LANGS,
  TS_LANGS,
  type TypecheckResult,
  typecheckBlocks,
} from './support/typecheck.js';

const run = promisify(execFile);

const JSON_LANGS = new Set(['json']);
const SHELL_LANGS = new Set(['sh', 'bash', 'shell']);
/** Languages that are not checked, on purpose. */
const IGNORED_LANGS = new Set([
  'text',
  'console',
  'go',
  'proto',
  'diff',
  'mermaid',
  'yaml',
  'toml',
  'dockerfile',
  'ini',
]);

const files = markdownFiles();
const blocks: CodeBlock[] = [];
const markdownProblems: MarkdownProblem[] = [];
for (const file of files) {
  const parsed = parseMarkdown(file, readFileSync(join(REPO_ROOT, file), 'utf8'));
  blocks.push(...parsed.blocks);
  markdownProblems.push(...parsed.problems);
}
const checked = blocks.filter((b) => !b.skip);
const of = (langs: Set<string>): CodeBlock[] => checked.filter((b) => langs.has(b.lang));

const name = (b: CodeBlock): string => `${b.file}:${b.line} (${b.lang || 'no language'})`;

it('finds the Markdown files and their blocks', () => {
  expect(files).toContain('README.md');
  expect(files).toContain('packages/plugin-sdk/README.md');
  expect(files).toContain('.changeset/README.md');
  expect(
    files.some(
      (f) => f.endsWith('CHANGELOG.md') || (f.startsWith('.changeset/') && !f.endsWith('README.md')),
    ),
  ).toBe(false);
  expect(of(TS_LANGS).length).toBeGreaterThanOrEqual(10);
  expect(of(SHELL_LANGS).length).toBeGreaterThanOrEqual(20);
});

it('every fence is closed and every docs-check marker is valid', () => {
  expect(markdownProblems.map((p) => `${p.file}:${p.line}: ${p.message}`)).toEqual([]);
});

// Listed as skipped tests, with the reason, so every run shows them.
for (const b of blocks.filter((x) => x.skip)) it.skip(`${name(b)} skipped: ${b.skip?.reason}`, () => {});

const known = new Set([...TS_LANGS, ...JS_LANGS, ...JSON_LANGS, ...SHELL_LANGS, ...IGNORED_LANGS]);
for (const b of checked.filter((x) => !known.has(x.lang))) {
  it(name(b), () => {
    expect.fail(
      `${b.file}:${b.line - 1}: ${b.lang ? `the language "${b.lang}" is not checked` : 'this fence has no language tag'}: ` +
        `add a language tag (ts, js, json, sh, or one of the ignored ${[...IGNORED_LANGS].join(', ')}), ` +
        'or extend the allowlist in tests/docs/code-blocks.test.ts',
    );
  });
}

describe('ts and js blocks: tsc over all of them', () => {
  const code = [...of(TS_LANGS), ...of(JS_LANGS)];
  let result: TypecheckResult;
  beforeAll(async () => {
    result = await typecheckBlocks(code);
  }, 120_000);

  for (const b of code) {
    it(name(b), () => {
      const diagnostics = result.byBlock.get(blockKey(b)) ?? [];
      if (diagnostics.length > 0) expect.fail(`${result.command}:\n${diagnostics.join('\n')}`);
    });
  }

  it('tsc reports nothing outside the blocks', () => {
    expect(result.other).toEqual([]);
  });
});

// (A describe without tests fails, so each one is declared only when there is something to check.)
describe.runIf(of(JSON_LANGS).length > 0)('json blocks', () => {
  const published = (pkg: string): PackageJson | undefined => {
    try {
      return readJson(join(REPO_ROOT, 'packages', pkg, 'package.json'));
    } catch {
      return undefined;
    }
  };

  for (const b of of(JSON_LANGS)) {
    it(name(b), () => {
      let value: unknown;
      try {
        value = JSON.parse(b.text);
      } catch (err) {
        const message = (err as Error).message;
        const position = Number(/at position (\d+)/.exec(message)?.[1] ?? 0);
        const before = b.text.slice(0, position).split('\n');
        const line = b.line + before.length - 1;
        const col = (before.at(-1)?.length ?? 0) + 1 + b.indent;
        expect.fail(`${b.file}:${line}:${col}: invalid JSON: ${message}`);
      }
      const problems: string[] = [];
      if (value && typeof value === 'object') {
        for (const field of ['dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies']) {
          const deps = (value as Record<string, unknown>)[field];
          if (!deps || typeof deps !== 'object') continue;
          for (const [dep, range] of Object.entries(deps)) {
            const m = /^@secrets-engine\/(.+)$/.exec(dep);
            if (!m) continue;
            const where = `${b.file}:${b.line + lineOf(b.text, `"${dep}"`)}`;
            const pkg = published(m[1]!);
            if (!pkg?.version || pkg.private) {
              problems.push(`${where}: ${field}.${dep}: no published package packages/${m[1]}`);
              continue;
            }
            if (typeof range !== 'string' || semver.validRange(range) === null) {
              problems.push(`${where}: ${field}.${dep}: ${JSON.stringify(range)} is not a semver range`);
            } else if (!semver.satisfies(pkg.version, range)) {
              problems.push(
                `${where}: ${field}.${dep}: "${range}" does not include the current version ${pkg.version} (packages/${m[1]}/package.json)`,
              );
            }
          }
        }
      }
      expect(problems).toEqual([]);
    });
  }
});

/** 0-based line of the first occurrence of `needle` in `text`. */
function lineOf(text: string, needle: string): number {
  const at = text.indexOf(needle);
  return at === -1 ? 0 : text.slice(0, at).split('\n').length - 1;
}

describe.runIf(of(SHELL_LANGS).length > 0)('sh blocks', () => {
  const shell = of(SHELL_LANGS);
  const packages = workspacePackages();
  let cli: CliSpec;
  beforeAll(async () => {
    const require = createRequire(join(DOCS_TESTS_DIR, 'package.json'));
    const pkgFile = require.resolve('@secrets-engine/cli/package.json');
    const pkg = readJson(pkgFile);
    const bin = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin?.['secrets-engine'];
    if (!bin) throw new Error(`${pkgFile} has no "secrets-engine" bin`);
    cli = await loadCliSpec(join(dirname(pkgFile), bin));
  }, 60_000);

  for (const b of shell) {
    it(name(b), async () => {
      const problems: string[] = [];
      // bash -n: the block parses.
      const dir = join(BLOCKS_DIR, 'sh');
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `${fileSlug(b.file)}-L${b.line}.sh`);
      writeFileSync(file, `${b.text}\n`);
      try {
        await run('bash', ['-n', file], { encoding: 'utf8' });
      } catch (err) {
        const stderr = (err as { stderr?: string }).stderr ?? String(err);
        for (const line of stderr.trim().split('\n')) {
          const m = /^.*?: line (\d+): (.*)$/.exec(line);
          problems.push(
            m
              ? `${b.file}:${b.line + Number(m[1]) - 1}: bash -n: ${m[2]}`
              : `${b.file}:${b.line}: bash -n: ${line}`,
          );
        }
      }
      // Commands: secrets-engine against its --help; pnpm/npm scripts against package.json.
      for (const command of simpleCommands(b.text)) {
        const where = `${b.file}:${b.line + command.line}`;
        const found =
          command.words[0] === 'secrets-engine'
            ? checkCliCommand(command.words, cli)
            : checkScriptCommand(command.words, { mdFile: b.file, packages });
        for (const p of found) problems.push(`${where}: ${p}\n    ${command.words.join(' ')}`);
      }
      expect(problems, problems.join('\n')).toEqual([]);
    });
  }
});

it('the skip marker form is documented in tests/docs/README.md', () => {
  expect(readFileSync(join(DOCS_TESTS_DIR, 'README.md'), 'utf8')).toContain(SKIP_MARKER_FORM.split(' <')[0]);
});

// Type-checks ```ts and ```js blocks with ONE run of the workspace's tsc. Each block becomes a module
// file under tests/docs/.blocks, so `@secrets-engine/*` imports resolve through tests/docs/node_modules
// to the built packages' `exports`, as in a user's install. Diagnostics are mapped back to the
// Markdown file, line and column.
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { type CodeBlock, fileSlug } from './markdown.js';
import { DOCS_TESTS_DIR } from './repo.js';

const run = promisify(execFile);

export const BLOCKS_DIR = join(DOCS_TESTS_DIR, '.blocks');

/** The compiler options of the generated tsconfig: a strict, modern user project. */
export const BLOCK_COMPILER_OPTIONS = {
  strict: true,
  module: 'NodeNext',
  moduleResolution: 'NodeNext',
  target: 'ES2022',
  lib: ['ES2023'],
  types: ['node'],
  noEmit: true,
  moduleDetection: 'force',
  skipLibCheck: true,
  allowJs: true,
  checkJs: true,
} as const;

export const TS_LANGS = new Set(['ts', 'typescript']);
export const JS_LANGS = new Set(['js', 'javascript', 'mjs']);

export interface TypecheckResult {
  /** Diagnostics per block (key: `blockKey(block)`), as `<file>.md:line:col: error TSnnnn: message`. */
  byBlock: Map<string, string[]>;
  /** Diagnostics in no block file (the generated tsconfig, a library). */
  other: string[];
  /** The tsc command line, for messages. */
  command: string;
}

export function blockKey(block: CodeBlock): string {
  return `${block.file}:${block.line}`;
}

export function blockFileName(block: CodeBlock): string {
  return `${fileSlug(block.file)}-L${block.line}.${TS_LANGS.has(block.lang) ? 'ts' : 'mjs'}`;
}

function tscBin(): string {
  const require = createRequire(join(DOCS_TESTS_DIR, 'package.json'));
  return join(dirname(require.resolve('typescript/package.json')), 'bin', 'tsc');
}

/**
 * tsc reports no semantic error anywhere once a file has a syntax error, so blocks with syntax
 * errors are reported as they are and the others are checked again without them.
 */
export async function typecheckBlocks(blocks: CodeBlock[]): Promise<TypecheckResult> {
  rmSync(BLOCKS_DIR, { recursive: true, force: true });
  mkdirSync(BLOCKS_DIR, { recursive: true });
  const byFile = new Map<string, CodeBlock>();
  for (const block of blocks) {
    const name = blockFileName(block);
    byFile.set(name, block);
    writeFileSync(join(BLOCKS_DIR, name), `${block.text}\n`);
  }
  const first = await tscOnce(byFile);
  const broken = [...byFile].filter(([, b]) =>
    (first.byBlock.get(blockKey(b)) ?? []).some((d) => SYNTAX_ERROR.test(d)),
  );
  if (broken.length === 0) return first;
  const rest = new Map([...byFile].filter(([name]) => !broken.some(([n]) => n === name)));
  const second = await tscOnce(rest);
  for (const [, b] of broken) second.byBlock.set(blockKey(b), first.byBlock.get(blockKey(b)) ?? []);
  return second;
}

/**
 * Syntax errors are TS1000–TS1199. A checker error in that range only costs a second run: the
 * block keeps the diagnostics of the first run, which were complete for it.
 */
const SYNTAX_ERROR = /: error TS1[01]\d\d:/;

async function tscOnce(byFile: Map<string, CodeBlock>): Promise<TypecheckResult> {
  writeFileSync(
    join(BLOCKS_DIR, 'tsconfig.json'),
    `${JSON.stringify({ compilerOptions: BLOCK_COMPILER_OPTIONS, files: [...byFile.keys()] }, null, 2)}\n`,
  );
  const args = [tscBin(), '-p', 'tsconfig.json', '--pretty', 'false'];
  let output: string;
  try {
    const r = await run(process.execPath, args, { cwd: BLOCKS_DIR, encoding: 'utf8', maxBuffer: 64 << 20 });
    output = r.stdout + r.stderr;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    output = `${e.stdout ?? ''}${e.stderr ?? ''}`;
    if (output.trim() === '') throw err;
  }
  const byBlock = new Map<string, string[]>();
  const other: string[] = [];
  // `file(line,col): error TSnnnn: message`, continuation lines indented.
  const diagnostics: string[] = [];
  for (const line of output.split('\n')) {
    if (line.trim() === '') continue;
    if (/^\s/.test(line) && diagnostics.length > 0) diagnostics[diagnostics.length - 1] += `\n${line}`;
    else diagnostics.push(line);
  }
  for (const d of diagnostics) {
    const m = /^(.+?)\((\d+),(\d+)\): (.*)$/s.exec(d);
    const block = m ? byFile.get(m[1]!.replace(/^\.\//, '')) : undefined;
    if (!m || !block) {
      other.push(d);
      continue;
    }
    const line = block.line + Number(m[2]) - 1;
    const col = Number(m[3]) + block.indent;
    const list = byBlock.get(blockKey(block)) ?? [];
    list.push(`${block.file}:${line}:${col}: ${m[4]}`);
    byBlock.set(blockKey(block), list);
  }
  return { byBlock, other, command: 'tsc -p tests/docs/.blocks/tsconfig.json' };
}

// Runs the first ```ts block of a package README as a module (vitest transforms it), so every README
// example is executed in CI. The block imports the package by its own name (a self-reference through
// its `exports`, i.e. the built dist), exactly as a user would.
// Every other code block of every Markdown file is type-checked (not run) by tests/docs.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

export function readmeExample(packageDir: string, index = 0): string {
  const text = readFileSync(join(packageDir, 'README.md'), 'utf8');
  const blocks = [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
  const block = blocks[index];
  if (block === undefined) throw new Error(`${packageDir}/README.md has no \`\`\`ts block #${index}`);
  return block;
}

/** Executes the example and returns what it printed with console.log. */
export async function runReadmeExample(packageDir: string, index = 0): Promise<string[]> {
  const dir = join(packageDir, '.readme-example');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `example-${index}-${process.pid}.ts`);
  writeFileSync(file, `${readmeExample(packageDir, index)}\nexport {};\n`);
  const printed: string[] = [];
  const original = console.log;
  console.log = (...args: unknown[]) => {
    printed.push(args.map(String).join(' '));
  };
  try {
    await import(pathToFileURL(file).href);
  } finally {
    console.log = original;
    rmSync(file, { force: true });
  }
  return printed;
}

// Every published package README has: what the package is, how to install it, a tested example,
// an API summary and its errors; and it names every runtime export of every entry point (imported
// by package name from the built package, as a user would), every error class in its Errors table.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseMarkdown, section } from './support/markdown.js';
import {
  PUBLISHED_PACKAGES,
  type PublishedPackage,
  REPO_ROOT,
  readJson,
  workspacePackages,
} from './support/repo.js';

interface Expectations {
  install: RegExp;
  exampleLang: string;
  /** The section that summarises the API. */
  api: string;
  /** The section that lists what can go wrong. */
  errors: string;
}

function expectations(p: PublishedPackage): Expectations {
  if (p === 'cli') {
    return {
      install: /npm install -g @secrets-engine\/cli(\s|$)/m,
      exampleLang: 'sh',
      api: 'Commands',
      errors: 'Exit codes',
    };
  }
  return {
    install: new RegExp(`npm install @secrets-engine/${p}(\\s|$)`, 'm'),
    exampleLang: 'ts',
    api: 'API',
    errors: 'Errors',
  };
}

function isErrorClass(value: unknown): boolean {
  return typeof value === 'function' && (value === Error || value.prototype instanceof Error);
}

/** Table rows of a Markdown section, as cells (the header and the `---` line included). */
function tableRows(markdown: string): string[][] {
  return markdown
    .split('\n')
    .filter((l) => /^\s*\|/.test(l))
    .map((l) =>
      l
        .trim()
        .replace(/^\||\|$/g, '')
        .split(/(?<!\\)\|/)
        .map((c) => c.trim()),
    );
}

/** The names in backticks in a table cell: `A`, `B` (`isB`) → A, B, isB. */
function backticked(cell: string): string[] {
  return [...cell.matchAll(/`([A-Za-z_$][\w$]*)/g)].map((m) => m[1]!);
}

async function runtimeExports(p: PublishedPackage): Promise<Map<string, Record<string, unknown>>> {
  const pkg = readJson(join(REPO_ROOT, 'packages', p, 'package.json'));
  const out = new Map<string, Record<string, unknown>>();
  for (const subpath of Object.keys(pkg.exports ?? {})) {
    if (subpath === './package.json') continue;
    const specifier = `${pkg.name}${subpath === '.' ? '' : subpath.slice(1)}`;
    out.set(specifier, (await import(specifier)) as Record<string, unknown>);
  }
  return out;
}

it('checks every published package', () => {
  const published = workspacePackages()
    .filter((p) => p.json.private !== true)
    .map((p) => p.name)
    .sort();
  expect(published).toEqual(PUBLISHED_PACKAGES.map((p) => `@secrets-engine/${p}`).sort());
});

describe.each(PUBLISHED_PACKAGES)('packages/%s/README.md', (p) => {
  const file = `packages/${p}/README.md`;
  const readme = readFileSync(join(REPO_ROOT, file), 'utf8');
  const want = expectations(p);

  it('starts with the package name as title, then a paragraph saying what it is', () => {
    const lines = readme.split('\n');
    expect(lines[0]).toBe(`# @secrets-engine/${p}`);
    const rest = lines.slice(1);
    const first = rest.findIndex((l) => l.trim() !== '');
    const paragraph = rest.slice(
      first,
      rest.findIndex((l, i) => i > first && l.trim() === ''),
    );
    expect(paragraph.join(' '), 'the first paragraph after the title').toMatch(/^[A-Za-z`@]/);
    expect(paragraph.join(' ').split(/\s+/).length, 'the first paragraph is prose').toBeGreaterThanOrEqual(8);
  });

  it('has an Install section with the npm command', () => {
    const install = section(readme, 'Install');
    expect(install, '## Install').toBeDefined();
    expect(install).toMatch(want.install);
  });

  it(`has an example (a checked \`\`\`${want.exampleLang} block)`, () => {
    const { blocks } = parseMarkdown(file, readme);
    expect(blocks.filter((b) => b.lang === want.exampleLang && !b.skip).length).toBeGreaterThan(0);
  });

  it(`has an API summary (## ${want.api})`, () => {
    expect(section(readme, want.api)?.split('\n').length ?? 0).toBeGreaterThan(3);
  });

  it('names every runtime export of every entry point, and every error class in its Errors table', async () => {
    const entries = await runtimeExports(p);
    const problems: string[] = [];
    const errorNames = new Set<string>();
    const allNames = new Set<string>();
    for (const [specifier, api] of entries) {
      for (const [name, value] of Object.entries(api)) {
        allNames.add(name);
        if (!readme.includes(`\`${name}`))
          problems.push(`${specifier}: export \`${name}\` is not in the README`);
        if (isErrorClass(value) || (name.endsWith('Error') && !/^is[A-Z]/.test(name))) errorNames.add(name);
      }
    }
    if (p === 'cli' || errorNames.size > 0) {
      const errors = section(readme, want.errors);
      if (errors === undefined) problems.push(`no "## ${want.errors}" section`);
      const rows = tableRows(errors ?? '');
      const guardColumn = rows[0]?.findIndex((c) => /^guard$/i.test(c)) ?? -1;
      for (const name of errorNames) {
        const row = rows.find((r) => backticked(r[0] ?? '').includes(name));
        if (!row) {
          problems.push(`error class \`${name}\` has no row in the "## ${want.errors}" table (first column)`);
          continue;
        }
        // A guard isX, when the package exports one, is named with its class: in the guard column
        // of a table that has one, else anywhere in the row (`X` (`isX`)).
        const guard = `is${name}`;
        if (!allNames.has(guard)) continue;
        const cells = guardColumn >= 0 ? [row[guardColumn] ?? ''] : row;
        if (!cells.some((c) => backticked(c).includes(guard))) {
          problems.push(`the "## ${want.errors}" row of \`${name}\` does not name its guard \`${guard}\``);
        }
      }
    }
    expect(problems).toEqual([]);
  });
});

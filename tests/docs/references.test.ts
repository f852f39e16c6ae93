// Every citation in the tracked files resolves inside the repository: `§x.y` to a section of
// docs/protocol.md (with its step, fact, item or quoted text), `P<n>` and `decisions.md "<id>"` to
// a `### <id> — …` heading of docs/decisions.md, and every `something.md` to a document that exists.
// No note outside the repository is named. The rules are in tests/docs/README.md.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  checkText,
  indexPitfalls,
  indexSections,
  type Problem,
  type Targets,
  trackedFiles,
} from './support/references.js';
import { REPO_ROOT } from './support/repo.js';

const read = (f: string) => readFileSync(join(REPO_ROOT, f), 'utf8');

const targets: Targets = {
  sections: indexSections(read('docs/protocol.md')),
  pitfalls: indexPitfalls(read('docs/decisions.md')),
  exists: (p) => existsSync(join(REPO_ROOT, p)),
};

const format = (ps: Problem[]) => ps.map((p) => `${p.file}:${p.line}: ${p.message}`).join('\n');

describe('references in the tracked files', () => {
  const files = trackedFiles(REPO_ROOT);
  const found: { problem: Problem; text: string }[] = [];
  for (const file of files) {
    const text = read(file);
    if (text.includes('\0')) continue; // binary
    const lines = text.split('\n');
    for (const problem of checkText(file, text, targets))
      found.push({ problem, text: lines[problem.line - 1] ?? '' });
  }

  it('scans the repository', () => {
    expect(files).toContain('docs/protocol.md');
    expect(files).toContain('packages/ipc/src/mux/session.ts');
    expect(files.some((f) => f.endsWith('CHANGELOG.md') || f.includes('/src/gen/'))).toBe(false);
  });

  it('every §, P<n>, decisions.md "<id>" and *.md reference resolves', () => {
    const broken = found.map((f) => f.problem);
    expect(broken, `broken references:\n${format(broken)}`).toEqual([]);
  });

  it('protocol.md has every section the repository cites, and §0 and §11 with their labels', () => {
    for (const n of ['0', '1.3', '2.2', '3.3', '5.1', '6.4', '10.2', '11'])
      expect(targets.sections.has(n)).toBe(true);
    expect(targets.pitfalls.has('P12')).toBe(true);
  });
});

describe('checkText catches bad references', () => {
  const fake: Targets = {
    sections: indexSections(
      '# P\n\n## 0. Decisions\n\n**No orphans.** x\n\n## 6. Ids\n\n### 6.4 Fan-out\n1. one\n2. two\n\n## 11. Facts\n1. a\n',
    ),
    pitfalls: indexPitfalls('# D\n\n### P6 — reset looks like EOF\n\n### yamux mismatch 1 — GoAway\n'),
    exists: (p) => ['docs/protocol.md', 'docs/decisions.md', 'docs/README.md', 'README.md'].includes(p),
  };
  const check = (text: string, file = 'packages/x/src/a.ts') =>
    checkText(file, text, fake).map((p) => p.message);

  it('accepts good ones', () => {
    expect(
      check(
        '// protocol.md §6.4 step 2, §6.4.2, §0 "No orphans", §11 fact 1; decisions.md "P6", P6, "yamux mismatch 1"; see docs/README.md',
      ),
    ).toEqual([]);
    expect(check('[x](protocol.md), [y](../README.md), decisions.md', 'docs/README.md')).toEqual([]);
  });

  it('a section, item, step, fact or label that does not exist', () => {
    expect(check('// §6.5')).toEqual(['§6.5: no such section in docs/protocol.md']);
    expect(check('// §6.4.3')).toEqual(['§6.4.3: no such section in docs/protocol.md (§6.4 has no item 3)']);
    expect(check('// §6.4 step 3')).toEqual(['§6.4 step 3: §6.4 has no numbered item 3']);
    expect(check("it('x (§11 fact 6)')")).toEqual(['§11 fact 6: §11 has no numbered item 6']);
    expect(check('// §0 "No zombies"')).toEqual([
      '§0 "No zombies": that text is not in §0 of docs/protocol.md',
    ]);
  });

  it('a pitfall without a heading, and notes outside the repository', () => {
    expect(check('// P7')).toEqual(['P7: no "### P7 — …" heading in docs/decisions.md']);
    expect(check('// decisions.md "yamux mismatch 9"')).toEqual([
      'decisions.md "yamux mismatch 9": no "### yamux mismatch 9 — …" heading in docs/decisions.md',
    ]);
    expect(check('// see ts-notes P6')).toHaveLength(1);
    expect(check('The method follows `shared/docs/x.txt`.', 'README.md')).toHaveLength(1);
  });

  it('a Markdown document that does not exist (prose and comments only, not fenced code)', () => {
    expect(check('// see connect.md')).toEqual([
      'connect.md: no such document in the repository (resolved from packages/x/src/, the root and docs/)',
    ]);
    expect(check('[a](../nope.md)', 'docs/README.md')).toHaveLength(1);
    expect(check("const f = 'missing.md';")).toEqual([]);
    expect(check('```sh\ncat missing.md\n```\n', 'README.md')).toEqual([]);
  });
});

// Citations and document references, as the reference check sees them. Pure functions over strings
// (the test feeds them the tracked files); see tests/docs/README.md for the rules.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, posix } from 'node:path';

/** One broken reference: repo-relative file, 1-based line, what is wrong. */
export interface Problem {
  file: string;
  line: number;
  message: string;
}

/** What a citation can point at. */
export interface Targets {
  /** docs/protocol.md sections by number ("0", "3.3"): the section's text up to the next heading
   * of the same or a higher level. */
  sections: ReadonlyMap<string, string>;
  /** docs/decisions.md `###` heading ids: the text before ` — ` ("P12", "yamux mismatch 3"). */
  pitfalls: ReadonlySet<string>;
  /** Whether a repo-relative path (file or folder) exists. */
  exists(path: string): boolean;
}

/** Sections of protocol.md: `## 3. Title`, `### 3.3 Title` → "3", "3.3". */
export function indexSections(protocolMd: string): Map<string, string> {
  const lines = protocolMd.split('\n');
  const heads: { num: string; level: number; at: number }[] = [];
  lines.forEach((l, i) => {
    const m = /^(#{2,6}) (\d+(?:\.\d+)*)\.?(?=\s)/.exec(l);
    if (m?.[1] && m[2]) heads.push({ num: m[2], level: m[1].length, at: i });
  });
  const out = new Map<string, string>();
  heads.forEach((h, k) => {
    const next = heads.slice(k + 1).find((n) => n.level <= h.level);
    out.set(h.num, lines.slice(h.at, next?.at ?? lines.length).join('\n'));
  });
  return out;
}

/** Pitfall ids of decisions.md: `### <id> — <title>`. */
export function indexPitfalls(decisionsMd: string): Set<string> {
  const ids = new Set<string>();
  for (const m of decisionsMd.matchAll(/^### (.+?) — /gm)) if (m[1]) ids.add(m[1].trim());
  return ids;
}

/** `decisions.md "id"` (also `[decisions.md](…) "id"`), with follow-on ids: `"P9"–"P12"`, `"a" and "b"`. */
const DECISIONS_REF = /decisions\.md(?:\]\([^)\s]*\))?((?:\s*(?:,|and|to|or|–)?\s*"[^"\n]+")+)/g;
/** Names of notes that were never in the repository; their content is in docs/decisions.md. */
const OUTSIDE_NOTE =
  /\b(?:ts-notes|yamux-interop|connect-perf)\b|\bstyle\.md\b|shared\/docs\/|\.\.\/shared\//g;
const PITFALL = /(?<![\w-])P(\d+)\b/g;
const SECTION = /§ ?(\d+(?:\.\d+)*)/g;
/** A Markdown document path: `name.md`, `dir/name.md`, `../x/name.md`, `.changeset/README.md`. */
const MD_PATH = /(?<![\w$/.*{}<>@:-])((?:\.\.?\/)*\.?[\w-]+(?:\/[\w.-]+)*\.md)(?![\w/-])/g;
/** Paths in Docker's repository that protocol.md names as its sources; not documents of ours. */
const FOREIGN_DOCUMENTS = new Set(['x/ipc/design.md']);
/** Documents that exist only once generated (changesets writes each package's changelog). */
const GENERATED_DOCUMENTS = new Set(['CHANGELOG.md']);

function blank(line: string, start: number, end: number): string {
  return line.slice(0, start) + ' '.repeat(end - start) + line.slice(end);
}

const norm = (s: string) =>
  s
    .toLowerCase()
    .replace(/[*`"“”]/g, '')
    .replace(/\s+/g, ' ');

/** Where a `§x.y` citation (with what follows it on the line) fails to resolve, or undefined. */
export function checkSection(num: string, after: string, sections: Targets['sections']): string | undefined {
  const body = sections.get(num);
  let label = `§${num}`;
  if (body === undefined) {
    // §6.4.2 = item 2 of the numbered list of §6.4.
    const m = /^(\d+\.\d+)\.(\d+)$/.exec(num);
    const parent = m?.[1] ? sections.get(m[1]) : undefined;
    if (!m || parent === undefined || !new RegExp(`^\\s*${m[2]}\\. `, 'm').test(parent)) {
      return `§${num}: no such section in docs/protocol.md${parent !== undefined ? ` (§${m?.[1]} has no item ${m?.[2]})` : ''}`;
    }
    return undefined;
  }
  const item = /^ (step|fact|item) (\d+)\b/.exec(after);
  if (item) {
    label += ` ${item[1]} ${item[2]}`;
    if (!new RegExp(`^\\s*${item[2]}\\. `, 'm').test(body))
      return `${label}: §${num} has no numbered item ${item[2]}`;
  }
  const quoted = /^ "([^"\n]+)"/.exec(after);
  if (quoted?.[1] && !norm(body).includes(norm(quoted[1]))) {
    return `§${num} "${quoted[1]}": that text is not in §${num} of docs/protocol.md`;
  }
  return undefined;
}

/** Whether a repo-relative file is code whose comments (not its strings) may name documents. */
function isCode(file: string): boolean {
  return /\.(?:[cm]?[jt]s|go|proto|sh|ya?ml)$/.test(file);
}

function isCommentLine(line: string): boolean {
  return /^\s*(?:\/\/|\/\*|\*|#)/.test(line);
}

/** Resolves a Markdown path cited in `file`: relative to it, then to the repo root, then docs/. */
export function resolveDocument(file: string, ref: string, exists: Targets['exists']): string | undefined {
  const candidates = [posix.normalize(posix.join(posix.dirname(file), ref)), posix.normalize(ref)];
  if (!ref.includes('/')) candidates.push(`docs/${ref}`);
  return candidates.find((c) => !c.startsWith('..') && exists(c));
}

/** Every broken citation or document reference in one file's text. */
export function checkText(file: string, text: string, targets: Targets): Problem[] {
  const problems: Problem[] = [];
  const isMarkdown = file.endsWith('.md');
  let fence: string | undefined;
  text.split('\n').forEach((raw, i) => {
    const line = i + 1;
    const report = (message: string) => problems.push({ file, line, message });
    let l = raw;
    // Fences as support/markdown.ts reads them (CommonMark: no backtick in an opening fence's info).
    let fenceLine = false;
    if (isMarkdown && fence === undefined) {
      const open = /^ {0,3}(`{3,})\s*[^`]*$/.exec(l);
      if (open?.[1]) [fence, fenceLine] = [open[1], true];
    } else if (isMarkdown && fence !== undefined && new RegExp(`^ {0,3}\`{${fence.length},}\\s*$`).test(l)) {
      [fence, fenceLine] = [undefined, true];
    }
    // The headings that define the ids are not citations.
    if (file === 'docs/decisions.md') {
      const h = /^### (.+?) — /.exec(l);
      if (h) l = blank(l, 0, h[0].length);
    }
    for (const m of l.matchAll(DECISIONS_REF)) {
      for (const q of (m[1] ?? '').matchAll(/"([^"\n]+)"/g)) {
        const id = q[1] ?? '';
        if (!id.includes('<') && !targets.pitfalls.has(id)) {
          report(`decisions.md "${id}": no "### ${id} — …" heading in docs/decisions.md`);
        }
      }
    }
    l = l.replace(DECISIONS_REF, (s) => ' '.repeat(s.length));
    for (const m of l.matchAll(OUTSIDE_NOTE)) {
      report(
        `"${m[0]}" names a note outside the repository: cite docs/decisions.md "<id>" (or protocol.md §x.y)`,
      );
    }
    for (const m of l.matchAll(PITFALL)) {
      if (!targets.pitfalls.has(`P${m[1]}`))
        report(`P${m[1]}: no "### P${m[1]} — …" heading in docs/decisions.md`);
    }
    for (const m of l.matchAll(SECTION)) {
      const at = m.index ?? 0;
      if (/(?:ts-notes|connect-perf) $/.test(l.slice(0, at))) continue; // already reported as outside
      const err = checkSection(m[1] ?? '', l.slice(at + m[0].length), targets.sections);
      if (err) report(err);
    }
    const prose = isMarkdown ? fence === undefined && !fenceLine : isCode(file) && isCommentLine(l);
    if (!prose) return;
    for (const m of l.matchAll(MD_PATH)) {
      const ref = m[1] ?? '';
      if (FOREIGN_DOCUMENTS.has(ref) || GENERATED_DOCUMENTS.has(posix.basename(ref))) continue;
      if (resolveDocument(file, ref, targets.exists) === undefined) {
        report(
          `${ref}: no such document in the repository (resolved from ${posix.dirname(file)}/, the root and docs/)`,
        );
      }
    }
  });
  return problems;
}

/** Files never scanned: generated code, changelogs and changeset entries, lockfiles, and the
 * reference check itself, its rules and its test (they hold broken references on purpose). */
export function isScanned(file: string): boolean {
  return !(
    /(^|\/)CHANGELOG\.md$/.test(file) ||
    (file.startsWith('.changeset/') && file !== '.changeset/README.md') ||
    /(^|\/)src\/gen\//.test(file) ||
    /(^|\/)node_modules\//.test(file) ||
    /(^|\/)(pnpm-lock\.yaml|go\.sum)$/.test(file) ||
    file === 'tests/docs/references.test.ts' ||
    file === 'tests/docs/support/references.ts' ||
    /\.(png|jpe?g|gif|ico|woff2?|gz|tgz|zip|wasm)$/.test(file)
  );
}

/** The tracked files (`git ls-files`) that exist in the working tree, repo-relative with `/`. */
export function trackedFiles(root: string): string[] {
  return execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20 })
    .split('\0')
    .filter((f) => f !== '' && isScanned(f) && existsSync(join(root, f)))
    .sort();
}

// The repository as the documentation checks see it: its root, its tracked Markdown files and its
// workspace packages (name → folder and package.json).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url)).replace(/\/$/, '');
export const DOCS_TESTS_DIR = join(REPO_ROOT, 'tests', 'docs');

/** The published packages, folder names under packages/ (the changesets `fixed` group). */
export const PUBLISHED_PACKAGES = [
  'proto',
  'secrets',
  'ipc',
  'plugin-sdk',
  'runtime',
  'client',
  'cli',
  'plugin-file',
  'plugin-env',
  'plugin-keychain',
  'plugin-exec',
] as const;
export type PublishedPackage = (typeof PUBLISHED_PACKAGES)[number];

export interface PackageJson {
  name?: string;
  version?: string;
  private?: boolean;
  scripts?: Record<string, string>;
  bin?: string | Record<string, string>;
  exports?: Record<string, unknown>;
}

export function readJson<T = PackageJson>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

function toPosix(path: string): string {
  return path.split(sep).join('/');
}

/** Whether a repo-relative Markdown path is checked: not a changelog, not a changeset entry (the
 * README of .changeset is documentation and is checked). */
export function isCheckedMarkdown(path: string): boolean {
  return (
    !/(^|\/)CHANGELOG\.md$/.test(path) && (!path.startsWith('.changeset/') || path === '.changeset/README.md')
  );
}

/**
 * The tracked Markdown files, repo-relative with `/`: `git ls-files '*.md'`, or a walk of the
 * folder (skipping node_modules, dist and dot folders) where git is not available.
 */
export function markdownFiles(): string[] {
  let files: string[];
  try {
    files = execFileSync('git', ['ls-files', '-z', '--', '*.md'], { cwd: REPO_ROOT, encoding: 'utf8' })
      .split('\0')
      .filter((f) => f !== '');
  } catch {
    files = walkMarkdown(REPO_ROOT);
  }
  // A tracked file deleted in the working tree is gone for the reader too.
  return files.filter((f) => isCheckedMarkdown(f) && existsSync(join(REPO_ROOT, f))).sort();
}

function walkMarkdown(root: string): string[] {
  const out: string[] = [];
  const visit = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name === 'dist' || entry.name.startsWith('.')) {
        // Dot folders hold tooling; their few documents are found through git.
        continue;
      }
      const path = join(dir, entry.name);
      if (entry.isDirectory()) visit(path);
      else if (entry.name.endsWith('.md')) out.push(toPosix(relative(root, path)));
    }
  };
  visit(root);
  return out;
}

export interface WorkspacePackage {
  name: string;
  /** Absolute folder. */
  dir: string;
  json: PackageJson;
}

/** The workspace packages of pnpm-workspace.yaml (`dir/*` globs, as this repository uses). */
export function workspacePackages(): WorkspacePackage[] {
  const yaml = readFileSync(join(REPO_ROOT, 'pnpm-workspace.yaml'), 'utf8');
  const section = yaml.slice(yaml.indexOf('packages:'));
  const globs = [...section.matchAll(/^\s+-\s+['"]?([^'"\s#]+)['"]?/gm)].map((m) => m[1] ?? '');
  const out: WorkspacePackage[] = [];
  for (const glob of globs) {
    const dirs = glob.endsWith('/*')
      ? readdirSync(join(REPO_ROOT, glob.slice(0, -2)))
          .map((d) => join(REPO_ROOT, glob.slice(0, -2), d))
          .filter((d) => statSync(d).isDirectory())
      : [join(REPO_ROOT, glob)];
    for (const dir of dirs) {
      const file = join(dir, 'package.json');
      if (!existsSync(file)) continue;
      const json = readJson(file);
      if (json.name) out.push({ name: json.name, dir, json });
    }
  }
  return out;
}

/** The folder of `mdFile` or its nearest ancestor (up to the root) that has a package.json. */
export function nearestPackageDir(mdFile: string): string {
  let dir = dirname(join(REPO_ROOT, mdFile));
  while (dir.startsWith(REPO_ROOT)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dir === REPO_ROOT) break;
    dir = dirname(dir);
  }
  return REPO_ROOT;
}

/** `path` relative to the repo root, with `/` (for messages). */
export function repoPath(path: string): string {
  return toPosix(relative(REPO_ROOT, path)) || '.';
}

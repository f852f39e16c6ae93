// The published packages, their manifests, and packing them the way `pnpm publish` would.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PUBLISHED } from '../../../scripts/published.mjs';
import { check } from './processes.js';

export { PUBLISHED };

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
export const SCOPE = '@secrets-engine';

export interface Manifest {
  name: string;
  version: string;
  packageManager?: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

export const readManifest = (dir: string): Manifest =>
  JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;

export const manifests = new Map(PUBLISHED.map((p) => [p, readManifest(join(ROOT, 'packages', p))]));

const manifest = (p: string): Manifest => {
  const m = manifests.get(p);
  if (!m) throw new Error(`${p} is not a published package (scripts/published.mjs)`);
  return m;
};

const shortName = (name: string) => name.slice(SCOPE.length + 1);

/** The published package plus its @secrets-engine runtime dependencies, transitively. */
export function closure(pkg: string): string[] {
  const seen = new Set<string>();
  const visit = (p: string) => {
    if (seen.has(p)) return;
    seen.add(p);
    for (const dep of Object.keys(manifest(p).dependencies ?? {})) {
      if (dep.startsWith(`${SCOPE}/`)) visit(shortName(dep));
    }
  };
  visit(pkg);
  return [...seen];
}

/** A devDependency version of the root package.json. */
export function rootDevVersion(name: string): string {
  const version = readManifest(ROOT).devDependencies?.[name];
  if (!version) throw new Error(`root package.json has no devDependency ${name}`);
  return version;
}

/**
 * `pnpm pack` of every published package into `dir` (one pnpm run, the workspace's pinned pnpm);
 * resolves with the tarball of each, by folder name.
 */
export async function packAll(dir: string): Promise<Map<string, string>> {
  const pnpm = readManifest(ROOT).packageManager;
  if (!pnpm?.startsWith('pnpm@')) throw new Error(`root package.json: packageManager is "${pnpm}"`);
  const filters = PUBLISHED.flatMap((p) => ['--filter', `${SCOPE}/${p}`]);
  const res = await check(
    'pnpm pack',
    'npx',
    ['--yes', pnpm, '-r', ...filters, 'pack', '--pack-destination', dir, '--json'],
    { cwd: ROOT },
  );
  const packed = JSON.parse(res.stdout) as { name: string; filename: string }[];
  const tarballs = new Map<string, string>();
  for (const p of PUBLISHED) {
    const files = packed.filter((t) => t.name === `${SCOPE}/${p}`).map((t) => t.filename);
    if (files.length !== 1) throw new Error(`pnpm pack (${p}) produced ${files.length} tarballs`);
    tarballs.set(p, files[0]!);
  }
  return tarballs;
}

/** Every `workspace:` range left in the package.json inside `tarball`, as `field.dep "range"`. */
export async function workspaceRanges(tarball: string, cwd: string): Promise<string[]> {
  const res = await check(`tar (${tarball})`, 'tar', ['-xzOf', tarball, 'package/package.json'], { cwd });
  const packed = JSON.parse(res.stdout) as Manifest;
  const left: string[] = [];
  for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies'] as const) {
    for (const [dep, range] of Object.entries(packed[field] ?? {})) {
      if (String(range).startsWith('workspace:')) left.push(`${packed.name}: ${field}.${dep} "${range}"`);
    }
  }
  return left;
}

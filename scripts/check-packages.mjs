// Packs every published package the way `pnpm publish` would and checks the tarball:
//   - publint --strict (package.json fields, exports, files);
//   - attw --profile esm-only (types resolve for ESM consumers; CJS resolution is not checked,
//     the packages are ESM-only);
//   - no tests, fixtures, test helpers or tsbuildinfo are shipped;
//   - every .d.ts.map / .js.map `sources` entry points at a file inside the tarball;
//   - no `workspace:` ranges are left in the packed package.json;
//   - versioning: the changesets `fixed` group is exactly the set of public workspace packages, they
//     all carry one version, each CHANGELOG.md has that version's entry, and internal dependencies
//     use `workspace:^`, except that a package importing another's `/internal` subpath (not covered
//     by semver) depends on it with `workspace:*`, i.e. its exact version once published, and only then. With --release-tag=vX.Y.Z (the release workflow), the tag must be that
//     version. --versioning-only stops after that check (no build, no packing).
// Builds first (turbo, cached) unless --no-build is given. Exits 1 with a summary on any problem.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { PUBLISHED } from './published.mjs';

const root = new URL('..', import.meta.url).pathname;

/** The text of every non-test .ts file under `dir`, joined (to find `/internal` imports). */
function sourceText(dir) {
  if (!existsSync(dir)) return '';
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.includes('__tests__'))
    .map((f) => readFileSync(join(dir, f), 'utf8'))
    .join('\n');
}
const bin = (name) => join(root, 'node_modules', '.bin', name);
const args = process.argv.slice(2);
const only = args.filter((a) => !a.startsWith('--'));
const packages = only.length ? PUBLISHED.filter((p) => only.includes(p)) : PUBLISHED;

function run(cmd, cmdArgs, opts = {}) {
  const r = spawnSync(cmd, cmdArgs, {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
    maxBuffer: 64 * 1024 * 1024,
    ...opts,
  });
  if (r.error) throw r.error;
  return { code: r.status ?? 1, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

const log = (s) => process.stdout.write(`${s}\n`);

const versioningOnly = args.includes('--versioning-only');
if (!args.includes('--no-build') && !versioningOnly) {
  log('building the published packages (turbo, cached)...');
  const filters = PUBLISHED.flatMap((p) => ['--filter', `@secrets-engine/${p}`]);
  const b = run(bin('turbo'), ['run', 'build', '--output-logs=errors-only', ...filters], {
    cwd: root,
    stdio: 'inherit',
  });
  if (b.code !== 0) {
    log('build failed');
    process.exit(1);
  }
}

// Paths (inside the tarball, without the leading `package/`) that must never be published.
const FORBIDDEN = [
  [/(^|\/)__tests__(\/|$)/, 'test helper or fixture (__tests__)'],
  [/\.test\.[cm]?[jt]s(\.map)?$/, 'test file'],
  [/\.test\.d\.[cm]?ts(\.map)?$/, 'test declaration'],
  [/(^|\/)fixtures?(\/|$)/, 'fixture'],
  [/\.tsbuildinfo$/, 'tsbuildinfo'],
  [/(^|\/)vitest\.config\./, 'vitest config'],
  [/(^|\/)tsconfig[^/]*\.json$/, 'tsconfig'],
  [/(^|\/)test-results\.json$/, 'test report'],
];

const results = [];

// Versioning: one fixed group, one version, a CHANGELOG entry for it, and the release tag.
{
  const problems = [];
  const manifests = [];
  for (const group of ['packages', 'examples', 'tests']) {
    for (const entry of readdirSync(join(root, group))) {
      const file = join(root, group, entry, 'package.json');
      if (existsSync(file))
        manifests.push({ dir: `${group}/${entry}`, ...JSON.parse(readFileSync(file, 'utf8')) });
    }
  }
  const isPublic = (m) => m.private !== true;
  const publicNames = manifests
    .filter(isPublic)
    .map((m) => m.name)
    .sort();
  const expected = PUBLISHED.map((p) => `@secrets-engine/${p}`).sort();
  if (JSON.stringify(publicNames) !== JSON.stringify(expected)) {
    problems.push(
      `public workspace packages are [${publicNames.join(', ')}]; scripts/published.mjs lists [${expected.join(', ')}]`,
    );
  }
  const changesets = JSON.parse(readFileSync(join(root, '.changeset', 'config.json'), 'utf8'));
  const fixed = changesets.fixed ?? [];
  if (fixed.length !== 1 || JSON.stringify([...fixed[0]].sort()) !== JSON.stringify(publicNames)) {
    problems.push(
      `.changeset/config.json: "fixed" must be one group of every public package (${publicNames.join(', ')}); it is ${JSON.stringify(fixed)}`,
    );
  }
  for (const name of changesets.ignore ?? []) {
    const glob = new RegExp(`^${name.replaceAll('*', '.*')}$`);
    if (!manifests.some((m) => glob.test(m.name)))
      problems.push(`.changeset/config.json: ignore names ${name}, which is no workspace package`);
  }
  const pub = manifests.filter(isPublic);
  const versions = [...new Set(pub.map((m) => m.version))];
  if (versions.length !== 1) {
    problems.push(
      `the fixed group has several versions: ${pub.map((m) => `${m.name}@${m.version}`).join(', ')}`,
    );
  }
  const version = pub[0]?.version;
  for (const m of pub) {
    const changelog = join(root, m.dir, 'CHANGELOG.md');
    if (!existsSync(changelog)) problems.push(`${m.dir}/CHANGELOG.md is missing`);
    else if (!readFileSync(changelog, 'utf8').split('\n').includes(`## ${m.version}`)) {
      problems.push(`${m.dir}/CHANGELOG.md has no "## ${m.version}" entry (run \`pnpm version-packages\`)`);
    }
    const sources = sourceText(join(root, m.dir, 'src'));
    for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
      for (const [dep, range] of Object.entries(m[field] ?? {})) {
        if (!expected.includes(dep)) continue;
        const internal = sources.includes(`'${dep}/internal'`);
        const want = internal ? 'workspace:*' : 'workspace:^';
        if (range !== want) {
          problems.push(
            internal
              ? `${m.name}: ${field}.${dep} is "${range}"; it imports ${dep}/internal, so it must pin the exact version: "workspace:*"`
              : `${m.name}: ${field}.${dep} is "${range}"; internal dependencies must be "workspace:^"`,
          );
        }
      }
    }
  }
  const tagArg = args.find((a) => a.startsWith('--release-tag='));
  if (tagArg !== undefined) {
    const tag = tagArg.slice('--release-tag='.length);
    if (tag !== `v${version}`)
      problems.push(
        `release tag "${tag}" does not match the packages' version ${version} (expected "v${version}")`,
      );
  }
  log(
    `\n--- versioning: ${pub.length} public packages at ${versions.join(', ')}${tagArg ? `, ${tagArg}` : ''}`,
  );
  for (const p of problems) log(`  PROBLEM: ${p}`);
  results.push({ name: 'versioning (changesets fixed group, CHANGELOGs, release tag)', problems });
}

if (versioningOnly) {
  const { problems } = results[0];
  log(problems.length === 0 ? 'versioning: ok' : `versioning: ${problems.length} problem(s)`);
  process.exit(problems.length === 0 ? 0 : 1);
}

const work = mkdtempSync(join(tmpdir(), 'check-packages-'));
try {
  for (const pkg of packages) {
    const dir = join(root, 'packages', pkg);
    const name = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name;
    const problems = [];
    const dest = join(work, pkg);
    mkdirSync(dest);
    log(`\n--- ${name}`);

    const packed = run('pnpm', ['pack', '--pack-destination', dest], { cwd: dir });
    const tarball = packed.out
      .split('\n')
      .map((l) => l.trim())
      .reverse()
      .find((l) => l.endsWith('.tgz'));
    if (packed.code !== 0 || !tarball) {
      log(packed.out);
      results.push({ name, problems: ['pnpm pack failed'] });
      continue;
    }

    // Contents.
    const files = run('tar', ['-tzf', tarball])
      .out.split('\n')
      .filter(Boolean)
      .map((f) => f.replace(/^package\//, ''));
    const shipped = new Set(files);
    for (const f of files) {
      for (const [re, what] of FORBIDDEN) {
        if (re.test(f)) problems.push(`ships ${what}: ${f}`);
      }
    }
    for (const must of ['package.json', 'README.md', 'CHANGELOG.md']) {
      if (!shipped.has(must)) problems.push(`does not ship ${must}`);
    }

    // Packed package.json.
    const unpack = join(dest, 'unpacked');
    mkdirSync(unpack);
    run('tar', ['-xzf', tarball, '-C', unpack]);
    const pkgDir = join(unpack, 'package');
    const manifest = readFileSync(join(pkgDir, 'package.json'), 'utf8');
    if (manifest.includes('workspace:')) problems.push('packed package.json still has workspace: ranges');

    // Source maps and declaration maps resolve inside the tarball.
    let maps = 0;
    for (const f of files.filter((x) => x.endsWith('.map'))) {
      maps++;
      const map = JSON.parse(readFileSync(join(pkgDir, f), 'utf8'));
      for (const src of map.sources ?? []) {
        const target = posix.normalize(posix.join(posix.dirname(f), map.sourceRoot ?? '', src));
        if (!shipped.has(target)) problems.push(`${f}: source ${src} -> ${target} is not in the tarball`);
      }
      const generated = posix.join(posix.dirname(f), map.file ?? posix.basename(f, '.map'));
      if (!shipped.has(generated)) problems.push(`${f}: its file ${map.file} is not in the tarball`);
    }

    // publint.
    const pl = run(bin('publint'), [tarball, '--strict'], { cwd: dirname(tarball) });
    log(pl.out.trim());
    if (pl.code !== 0) problems.push('publint --strict reported problems (see above)');

    // attw. A package with no typed entry point (the CLI) has nothing for attw to check.
    const exportsField = JSON.parse(manifest).exports ?? {};
    const typed = Object.keys(exportsField).some((k) => k !== './package.json');
    if (typed) {
      const at = run(bin('attw'), [tarball, '--profile', 'esm-only', '--format', 'ascii'], {
        cwd: dirname(tarball),
      });
      log(at.out.trim());
      if (at.code !== 0) problems.push('attw --profile esm-only reported problems (see above)');
    } else {
      log('attw: skipped (no importable entry point; bin only)');
    }

    log(`${files.length} files, ${maps} maps checked`);
    for (const p of problems) log(`  PROBLEM: ${p}`);
    results.push({ name, problems });
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

log('\n=== check:packages summary ===');
let bad = 0;
for (const { name, problems } of results) {
  if (problems.length === 0) {
    log(`  ok    ${name}`);
  } else {
    bad++;
    log(`  FAIL  ${name} (${problems.length} problem${problems.length === 1 ? '' : 's'})`);
    for (const p of problems.slice(0, 20)) log(`          ${p}`);
    if (problems.length > 20) log(`          ... and ${problems.length - 20} more`);
  }
}
log(
  `${results.length - bad} of ${results.length} checks pass (versioning; per package: publint, attw, tarball contents)`,
);
process.exit(bad > 0 ? 1 : 0);

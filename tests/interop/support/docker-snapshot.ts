// The docker tier's Go side, built from a LOCAL snapshot of Docker's public repository
// (github.com/docker/secrets-engine) named by SECRETS_ENGINE_DOCKER_SNAPSHOT: a git directory (bare,
// or a clone's .git). Docker's Go modules cannot be fetched through the module proxy here (403), but
// each of Docker's trees ships a go.work workspace with a vendor/ folder, so its modules build
// offline. The setup extracts the two trees below (`git archive REV | tar -x`) into a temp folder,
// puts OUR programs (go/<dir>/*.go) into each tree as one more workspace module (`use
// ./interop/<dir>`), and builds them with GOFLAGS=-mod=vendor GOPROXY=off GOTOOLCHAIN=local: no
// network, no module cache. Nothing of Docker's is copied into this repository, and the temp folder
// is removed once the binaries are built.
import { spawnSync } from 'node:child_process';
import {
  appendFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SNAPSHOT_ENV = 'SECRETS_ENGINE_DOCKER_SNAPSHOT';

export type TreeId = 'head' | 'old';

export interface DockerTree {
  id: TreeId;
  /** Full commit of docker/secrets-engine. */
  commit: string;
  /** What it is, for messages and README. */
  what: string;
}

/** The two trees the docker tier is built from (pinned: the evidence in docs/compatibility.md names them). */
export const DOCKER_TREES: Record<TreeId, DockerTree> = {
  head: {
    id: 'head',
    commit: 'e3231b00294b7bec09ab148df228901c1a3d6778',
    what: 'e3231b00 (2026-08-21; plugin/ = tag plugin/v0.3.2, client/ newer than tag client/v0.0.30)',
  },
  old: {
    id: 'old',
    commit: 'fa7ff07886bb9fed7491f5a29ceaf3649c1448b8',
    what: 'fa7ff078 (the last tree with engine/; plugin/ = tag plugin/v0.0.21, client/ = tag client/v0.0.17)',
  },
};

export interface PreparedTrees {
  /** The temp folder holding both trees; remove it with cleanup(). */
  root: string;
  dirs: Record<TreeId, string>;
  cleanup(): void;
}

/** Why the snapshot cannot be used, or undefined when it can: checked before anything is extracted. */
export function checkSnapshot(snapshot: string | undefined): { gitDir: string } | { error: string } {
  if (snapshot === undefined || snapshot.trim() === '') {
    return {
      error:
        `${SNAPSHOT_ENV} is not set: the docker tier needs a local git snapshot of Docker's public repository ` +
        '(see tests/interop/README.md, "Docker snapshot")',
    };
  }
  const candidate = existsSync(join(snapshot, '.git')) ? join(snapshot, '.git') : snapshot;
  if (!existsSync(candidate) || !statSync(candidate).isDirectory()) {
    return { error: `${SNAPSHOT_ENV}=${snapshot}: no such directory (expected a git directory)` };
  }
  const missing: string[] = [];
  for (const tree of Object.values(DOCKER_TREES)) {
    const res = git(candidate, ['cat-file', '-e', `${tree.commit}^{commit}`]);
    if (res.status !== 0) missing.push(`${tree.commit} (${tree.what})`);
  }
  if (missing.length > 0) {
    return {
      error:
        `${SNAPSHOT_ENV}=${snapshot}: not a git directory of docker/secrets-engine holding the commits the docker ` +
        `tier is built from; missing: ${missing.join(', ')}`,
    };
  }
  return { gitDir: candidate };
}

/** Extracts both trees into a new temp folder. Throws with git's or tar's own output. */
export function extractTrees(gitDir: string): PreparedTrees {
  const root = mkdtempSync(join(tmpdir(), 'se-interop-docker-'));
  const cleanup = () => rmSync(root, { recursive: true, force: true });
  try {
    const dirs = {} as Record<TreeId, string>;
    for (const tree of Object.values(DOCKER_TREES)) {
      const dir = join(root, tree.id);
      mkdirSync(dir);
      const res = spawnSync(
        'sh',
        [
          '-c',
          'git --git-dir="$1" archive --format=tar "$2" | tar -x -C "$3"',
          'extract',
          gitDir,
          tree.commit,
          dir,
        ],
        { encoding: 'utf8', timeout: 5 * 60_000 },
      );
      if (
        res.status !== 0 ||
        !existsSync(join(dir, 'go.work')) ||
        !existsSync(join(dir, 'vendor', 'modules.txt'))
      ) {
        throw new Error(
          `extracting ${tree.what} from ${gitDir} failed (or it has no go.work and vendor/modules.txt): ` +
            `${res.stderr || res.error || `exit ${res.status}`}`,
        );
      }
      dirs[tree.id] = dir;
    }
    return { root, dirs, cleanup };
  } catch (err) {
    cleanup();
    throw err;
  }
}

/**
 * Makes `programDir` (one of our go/<dir> folders: *.go files, no go.mod) a module of the tree's
 * workspace, at <tree>/interop/<name>. Its go.mod has no requirements: in a workspace, the other
 * workspace modules (Docker's plugin, client, engine, x) and everything in vendor/modules.txt are
 * what it builds against. Returns the module's folder.
 */
export function addProgram(treeDir: string, name: string, programDir: string): string {
  const dir = join(treeDir, 'interop', name);
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(programDir)) {
    if (f.endsWith('.go')) cpSync(join(programDir, f), join(dir, f));
  }
  writeFileSync(join(dir, 'go.mod'), `module secrets-engine-interop/${name}\n\ngo ${goDirective(treeDir)}\n`);
  appendFileSync(join(treeDir, 'go.work'), `\nuse ./interop/${name}\n`);
  return dir;
}

/** The tree's own `go` directive (go.work), so our module asks for no newer language version. */
function goDirective(treeDir: string): string {
  const m = /^go\s+(\S+)/m.exec(readFileSync(join(treeDir, 'go.work'), 'utf8'));
  return m?.[1] ?? '1.25.0';
}

/** Environment of an offline build in a tree's vendored workspace. */
export function vendoredBuildEnv(treeDir: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GOWORK: join(treeDir, 'go.work'),
    GOFLAGS: '-mod=vendor',
    GOPROXY: 'off',
    GOTOOLCHAIN: 'local',
  };
}

function git(gitDir: string, args: string[]) {
  return spawnSync('git', ['--git-dir', gitDir, ...args], { encoding: 'utf8' });
}

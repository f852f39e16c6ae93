// The Go side of the interop suite: which binaries exist, how they are built, and which peers the
// tests run against. Two tiers:
//   docker    our programs that IMPORT Docker's Go modules (plugin SDK v0.3.2 and v0.0.21, the
//             client of both trees, the Go engine of tree fa7ff078), built offline from a local
//             snapshot of Docker's repository (SECRETS_ENGINE_DOCKER_SNAPSHOT, docker-snapshot.ts):
//             the real proof of compatibility.
//   go-stack  our own Go peers on the Go stack those modules are built on (hashicorp/yamux v0.1.2,
//             connect-go, Go protobuf, net/http), written from protocol.md.
// INTEROP_TIERS (comma separated) selects tiers; by default go-stack, plus docker when the snapshot
// variable is set. A tier left out is announced, and a binary that cannot be built fails every test
// that needs it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findGo } from '@secrets-engine/test-utils/go.js';
import {
  addProgram,
  checkSnapshot,
  DOCKER_TREES,
  extractTrees,
  SNAPSHOT_ENV,
  type TreeId,
  vendoredBuildEnv,
} from './docker-snapshot.js';

export type Tier = 'docker' | 'go-stack';

export const GO_DIR = fileURLToPath(new URL('../go/', import.meta.url));
export const BIN_DIR = join(GO_DIR, 'bin');

export interface GoTarget {
  binary: string;
  tier: Tier;
  /** Module directory under go/. */
  dir: string;
  /** Package to build, relative to the module. */
  pkg: string;
  /** What it is, for messages. */
  what: string;
  /** docker tier: the Docker tree whose vendored workspace it is built in. */
  tree?: TreeId;
}

export const TARGETS: readonly GoTarget[] = [
  {
    binary: 'docker-plugin-head',
    tier: 'docker',
    dir: 'plugin-head',
    pkg: '.',
    what: "plugin on Docker's plugin SDK v0.3.2 (tree e3231b00)",
    tree: 'head',
  },
  {
    binary: 'docker-plugin-old',
    tier: 'docker',
    dir: 'plugin-old',
    pkg: '.',
    what: "plugin on Docker's plugin SDK v0.0.21 (tree fa7ff078)",
    tree: 'old',
  },
  {
    binary: 'docker-client',
    tier: 'docker',
    dir: 'client',
    pkg: '.',
    what: "CLI on Docker's client of tree e3231b00 (HEAD)",
    tree: 'head',
  },
  {
    binary: 'docker-client-old',
    tier: 'docker',
    dir: 'client-old',
    pkg: '.',
    what: "CLI on Docker's client of tree fa7ff078 (= client/v0.0.17, OLD)",
    tree: 'old',
  },
  {
    binary: 'docker-engine',
    tier: 'docker',
    dir: 'docker-engine',
    pkg: '.',
    what: "main of ours around Docker's Go engine.Run (tree fa7ff078)",
    tree: 'old',
  },
  {
    binary: 'gostack-plugin',
    tier: 'go-stack',
    dir: 'gostack',
    pkg: './cmd/plugin',
    what: 'our plugin on hashicorp/yamux v0.1.2 + connect-go',
  },
  {
    binary: 'gostack-client',
    tier: 'go-stack',
    dir: 'gostack',
    pkg: './cmd/client',
    what: 'our client on connect-go + net/http',
  },
];

export interface PluginPeer {
  /** Shown in test names. */
  id: string;
  binary: string;
  tier: Tier;
  protocol: 'head' | 'old';
  /** Extra environment for the plugin process. */
  env: Record<string, string>;
  /** What the plugin's exit marker says after the engine's Shutdown RPC (see README). */
  shutdownReason: string;
  /** What it says when the engine's socket closed under it (the engine died, §7.5). */
  engineGoneReason: string;
}

export const PLUGIN_PEERS: readonly PluginPeer[] = [
  {
    id: 'Docker SDK plugin v0.3.2 (HEAD)',
    binary: 'docker-plugin-head',
    tier: 'docker',
    protocol: 'head',
    env: {},
    shutdownReason: 'run returned nil',
    engineGoneReason: 'run returned nil',
  },
  {
    id: 'Docker SDK plugin v0.0.21 (OLD)',
    binary: 'docker-plugin-old',
    tier: 'docker',
    protocol: 'old',
    env: {},
    shutdownReason: 'run returned nil',
    engineGoneReason: 'run returned nil',
  },
  {
    id: 'go-stack plugin (HEAD routes)',
    binary: 'gostack-plugin',
    tier: 'go-stack',
    protocol: 'head',
    env: { INTEROP_PROTOCOL: 'head' },
    shutdownReason: 'shutdown rpc',
    engineGoneReason: 'engine gone: EOF',
  },
  {
    id: 'go-stack plugin (OLD routes)',
    binary: 'gostack-plugin',
    tier: 'go-stack',
    protocol: 'old',
    env: { INTEROP_PROTOCOL: 'old' },
    shutdownReason: 'shutdown rpc',
    engineGoneReason: 'engine gone: EOF',
  },
];

export interface ClientPeer {
  id: string;
  binary: string;
  tier: Tier;
  /** Speaks the OLD resolver.v1.ListService too (`list-old`). */
  oldList: boolean;
  /** `list` is the OLD ListService (name, version, pattern, external only). */
  listIsOld: boolean;
  /** Has `version`, `authorize`, and a not-available error (Docker's OLD client has none of them). */
  head: boolean;
  /** Has `enable NAME` / `disable NAME` (plugins.v1 PluginManagementService). */
  manage: boolean;
  /** Has `get-raw PATTERN` (sends a pattern without checking it). */
  raw: boolean;
}

export const CLIENT_PEERS: readonly ClientPeer[] = [
  {
    id: 'Docker client, tree e3231b00 (HEAD)',
    binary: 'docker-client',
    tier: 'docker',
    oldList: false,
    listIsOld: false,
    head: true,
    manage: true,
    raw: true,
  },
  {
    id: 'Docker client, tree fa7ff078 (OLD, = client/v0.0.17)',
    binary: 'docker-client-old',
    tier: 'docker',
    oldList: false,
    listIsOld: true,
    head: false,
    manage: false,
    raw: true,
  },
  {
    id: 'go-stack client',
    binary: 'gostack-client',
    tier: 'go-stack',
    oldList: true,
    listIsOld: false,
    head: true,
    manage: false,
    raw: false,
  },
];

/**
 * The tiers selected by INTEROP_TIERS. Default: go-stack, plus docker when SECRETS_ENGINE_DOCKER_SNAPSHOT
 * names a snapshot of Docker's repository (the Go module proxy refuses Docker's modules, README.md).
 * Unknown names are an error; INTEROP_TIERS=docker without the snapshot fails every docker test.
 */
export function selectedTiers(env: NodeJS.ProcessEnv = process.env): Tier[] {
  const raw = env.INTEROP_TIERS?.trim();
  if (!raw) return env[SNAPSHOT_ENV]?.trim() ? ['docker', 'go-stack'] : ['go-stack'];
  const tiers = raw.split(',').map((t) => t.trim());
  for (const t of tiers) {
    if (t !== 'docker' && t !== 'go-stack') {
      throw new Error(`INTEROP_TIERS: unknown tier ${JSON.stringify(t)} (expected docker and/or go-stack)`);
    }
  }
  return tiers as Tier[];
}

export interface GoBuild {
  binary: string;
  tier: Tier;
  what: string;
  ok: boolean;
  path: string;
  ms: number;
  /** Why it failed (go's own output), when !ok. */
  error?: string;
}

/**
 * Builds every target of `tiers` into go/bin: the go-stack ones in go/<dir> with GOFLAGS=-mod=mod
 * (modules from the proxy or the module cache), the docker ones inside the Docker tree they need,
 * extracted from the snapshot, offline (docker-snapshot.ts).
 */
export function buildAll(tiers: readonly Tier[]): { go: string | undefined; builds: GoBuild[] } {
  const found = findGo();
  const targets = TARGETS.filter((t) => tiers.includes(t.tier));
  if (found === undefined) {
    const error =
      'the Go toolchain was not found (tried $GO, `go` on PATH and /usr/local/go/bin/go); ' +
      'install Go >= 1.25: the interop suite cannot run without it';
    return {
      go: undefined,
      builds: targets.map((t) => ({ ...pick(t), ok: false, path: '', ms: 0, error })),
    };
  }
  mkdirSync(BIN_DIR, { recursive: true });
  const builds: GoBuild[] = [];
  const goStack = targets.filter((t) => t.tree === undefined);
  for (const t of goStack) {
    builds.push(
      goBuild(found.go, t, join(GO_DIR, t.dir), {
        ...process.env,
        GOFLAGS: '-mod=mod',
        GOTOOLCHAIN: 'local',
      }),
    );
  }
  const docker = targets.filter((t) => t.tree !== undefined);
  if (docker.length > 0) builds.unshift(...buildDocker(found.go, docker));
  return { go: found.version, builds };
}

/** The docker targets, each in its tree of the snapshot; a snapshot problem fails them all. */
function buildDocker(go: string, targets: readonly GoTarget[]): GoBuild[] {
  const checked = checkSnapshot(process.env[SNAPSHOT_ENV]);
  if ('error' in checked) {
    return targets.map((t) => ({ ...pick(t), ok: false, path: '', ms: 0, error: checked.error }));
  }
  const started = Date.now();
  let trees: ReturnType<typeof extractTrees>;
  try {
    trees = extractTrees(checked.gitDir);
  } catch (err) {
    const error = (err as Error).message;
    return targets.map((t) => ({ ...pick(t), ok: false, path: '', ms: Date.now() - started, error }));
  }
  try {
    const dirs = targets.map((t) => addProgram(trees.dirs[t.tree!], t.dir, join(GO_DIR, t.dir)));
    return targets.map((t, i) => goBuild(go, t, dirs[i]!, vendoredBuildEnv(trees.dirs[t.tree!])));
  } finally {
    trees.cleanup();
  }
}

function goBuild(go: string, t: GoTarget, cwd: string, env: NodeJS.ProcessEnv): GoBuild {
  const path = join(BIN_DIR, t.binary);
  const started = Date.now();
  // -trimpath: the docker trees live in a new temp folder each run; without it the paths would
  // be part of every action's key and nothing would come from the build cache.
  const res = spawnSync(go, ['build', '-trimpath', '-o', path, t.pkg], {
    cwd,
    encoding: 'utf8',
    env,
    timeout: 15 * 60_000,
  });
  const ms = Date.now() - started;
  if (res.status === 0 && existsSync(path)) return { ...pick(t), ok: true, path, ms };
  const output = `${res.stdout ?? ''}${res.stderr ?? ''}`.trim() || String(res.error ?? `exit ${res.status}`);
  const where = t.tree ? `go/${t.dir} in Docker's tree ${DOCKER_TREES[t.tree].what}` : `go/${t.dir}`;
  return { ...pick(t), ok: false, path, ms, error: `go build of ${where} failed:\n${output}` };
}

function pick(t: GoTarget) {
  return { binary: t.binary, tier: t.tier, what: t.what };
}

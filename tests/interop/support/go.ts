// The Go side of the interop suite: which binaries exist, how they are built, and which peers the
// tests run against. Two tiers:
//   docker    our programs that IMPORT Docker's published modules (github.com/docker/secrets-engine
//             plugin v0.3.2 and v0.0.21, client): the real proof of compatibility.
//   go-stack  our own Go peers on the Go stack those modules are built on (hashicorp/yamux v0.1.2,
//             connect-go, Go protobuf, net/http), written from protocol.md.
// INTEROP_TIERS (comma separated; default both) selects tiers; a tier left out is announced, and a
// binary that cannot be built fails every test that needs it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findGo } from '@secrets-engine/test-utils/go.js';

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
}

export const TARGETS: readonly GoTarget[] = [
  {
    binary: 'docker-plugin-head',
    tier: 'docker',
    dir: 'plugin-head',
    pkg: '.',
    what: 'plugin on github.com/docker/secrets-engine/plugin v0.3.2',
  },
  {
    binary: 'docker-plugin-old',
    tier: 'docker',
    dir: 'plugin-old',
    pkg: '.',
    what: 'plugin on github.com/docker/secrets-engine/plugin v0.0.21',
  },
  {
    binary: 'docker-client',
    tier: 'docker',
    dir: 'client',
    pkg: '.',
    what: 'CLI on github.com/docker/secrets-engine/client',
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
}

export const CLIENT_PEERS: readonly ClientPeer[] = [
  { id: 'Docker client module', binary: 'docker-client', tier: 'docker', oldList: false },
  { id: 'go-stack client', binary: 'gostack-client', tier: 'go-stack', oldList: true },
];

/**
 * The tiers selected by INTEROP_TIERS. Default: go-stack only, because the Go module proxy reachable
 * from this project's machines refuses every github.com/docker/secrets-engine/* module (403, see
 * README.md); set INTEROP_TIERS=docker,go-stack where they can be fetched. Unknown names are an error.
 */
export function selectedTiers(env: NodeJS.ProcessEnv = process.env): Tier[] {
  const raw = env.INTEROP_TIERS?.trim();
  if (!raw) return ['go-stack'];
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

/** Builds every target of `tiers` into go/bin (GOFLAGS=-mod=mod, GOTOOLCHAIN=local). */
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
  const builds = targets.map((t): GoBuild => {
    const path = join(BIN_DIR, t.binary);
    const started = Date.now();
    const res = spawnSync(found.go, ['build', '-o', path, t.pkg], {
      cwd: join(GO_DIR, t.dir),
      encoding: 'utf8',
      env: { ...process.env, GOFLAGS: '-mod=mod', GOTOOLCHAIN: 'local' },
      timeout: 15 * 60_000,
    });
    const ms = Date.now() - started;
    if (res.status === 0 && existsSync(path)) return { ...pick(t), ok: true, path, ms };
    const output =
      `${res.stdout ?? ''}${res.stderr ?? ''}`.trim() || String(res.error ?? `exit ${res.status}`);
    return { ...pick(t), ok: false, path, ms, error: `go build in go/${t.dir} failed:\n${output}` };
  });
  return { go: found.version, builds };
}

function pick(t: GoTarget) {
  return { binary: t.binary, tier: t.tier, what: t.what };
}

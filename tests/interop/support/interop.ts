// Per-test harness of the interop suite: temp folders and sockets, engines, Go processes, and
// bookkeeping so nothing outlives its test. Every Go plugin records its pid in INTEROP_PID_DIR at
// start and writes <pid>.exit ("<code> <reason>") when it exits by itself.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createConnectTransport } from '@connectrpc/connect-node';
import { createEngine, type Engine, type EngineOptions } from '@secrets-engine/runtime';
import { type ProcessTest, useProcessTest } from '@secrets-engine/test-utils/harness.js';
import type { SpawnedProcess } from '@secrets-engine/test-utils/process.js';
import { inject } from 'vitest';
import { CLIENT_PEERS, type ClientPeer, PLUGIN_PEERS, type PluginPeer } from './go.js';

// --- binaries and peers ---

/** The path of a built Go binary; throws the build error (loudly) when it could not be built. */
export function goBinary(binary: string): string {
  const build = inject('goBuilds').find((b) => b.binary === binary);
  if (build === undefined) {
    throw new Error(`interop: Go binary ${binary} was not built (its tier is not in INTEROP_TIERS)`);
  }
  if (!build.ok) {
    throw new Error(
      `interop: cannot run ${build.what}: the Go binary ${binary} could not be built.\n${build.error}`,
    );
  }
  return build.path;
}

export function pluginPeers(): PluginPeer[] {
  const tiers = inject('tiers');
  return PLUGIN_PEERS.filter((p) => tiers.includes(p.tier));
}

export function clientPeers(): ClientPeer[] {
  const tiers = inject('tiers');
  return CLIENT_PEERS.filter((p) => tiers.includes(p.tier));
}

// --- the static store every Go plugin serves (INTEROP_SECRETS) ---

export const GO_ZERO = '0001-01-01T00:00:00Z';
export const GO_ZERO_SECONDS = -62_135_596_800n;
export const BLOB = Uint8Array.from([0, 1, 2, 0x7f, 0x80, 0xfe, 0xff]);

export const GO_SECRETS = [
  {
    id: 'go/db/password',
    value: Buffer.from('hunter2').toString('base64'),
    version: 'sv3',
    metadata: { owner: 'go', 'rotated-by': 'ops@example.com' },
    createdAt: '2024-05-06T07:08:09.123456789Z',
    expiresAt: '2030-01-02T03:04:05Z',
  },
  {
    id: 'go/bin/blob',
    value: Buffer.from(BLOB).toString('base64'),
    version: '',
    metadata: {},
    createdAt: GO_ZERO,
    expiresAt: GO_ZERO,
  },
];

/** Environment of a Go plugin: the static store and the knobs of the contract (README). */
export function pluginEnv(peer: PluginPeer, pidDir: string, extra: Record<string, string> = {}) {
  return {
    INTEROP_SECRETS: JSON.stringify(GO_SECRETS),
    INTEROP_VERSION: 'v1.2.3',
    INTEROP_PATTERN: 'go/**',
    INTEROP_ERROR_ON: 'go/boom',
    INTEROP_PID_DIR: pidDir,
    ...peer.env,
    ...extra,
  };
}

// --- processes ---

export { isAlive, sleep, waitFor, waitForJsonLine } from '@secrets-engine/test-utils/process.js';

/**
 * Node 20 ships libuv 1.46, which binds and connects Linux abstract sockets with the whole
 * sockaddr_un length: the name is padded with NUL bytes to 108 bytes, so it is a different address
 * from the exact-length one Go uses (nodejs/node#50889, fixed in libuv 1.48, libuv/libuv#4266).
 */
export const NODE_PADS_ABSTRACT_SOCKETS = (() => {
  const [major = 0, minor = 0] = process.versions.uv.split('.').map(Number);
  return major === 1 && minor < 48;
})();

/** An engine in a process of its own (fixtures/engine.mjs), so a test can SIGKILL it. */
export const ENGINE_FIXTURE = fileURLToPath(new URL('../fixtures/engine.mjs', import.meta.url));

/** Lines a Go plugin's yamux printed on stderr (forwarded into the engine log): warnings, errors. */
export function goYamuxLines(lines: readonly string[]): string[] {
  return lines.filter((l) => l.includes('"stream":"output"') && /yamux/i.test(l));
}

/** Runs a Go client binary and parses the one JSON object it prints. */
export function runClient(binary: string, socketPath: string, ...args: string[]): Promise<ClientOutput> {
  return new Promise((resolve, reject) => {
    execFile(
      binary,
      ['-socket', socketPath, ...args],
      { timeout: 30_000, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        if (err) {
          reject(new Error(`${binary} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
          return;
        }
        try {
          resolve(JSON.parse(stdout) as ClientOutput);
        } catch {
          reject(new Error(`${binary} ${args.join(' ')} printed no JSON: ${stdout}\n${stderr}`));
        }
      },
    );
  });
}

export interface ClientEnvelope {
  id: string;
  /** base64 (Go's encoding of []byte). */
  value: string;
  provider: string;
  version: string;
  metadata: Record<string, string> | null;
  createdAt: string;
  resolvedAt: string;
  expiresAt: string;
}

export interface ClientPlugin {
  name: string;
  version: string;
  pattern: string;
  external: boolean;
  /** Absent from the OLD ListService's answer (Docker's OLD client). */
  disabled?: boolean;
  configurable?: boolean;
  runStatus?: string;
  statusMessage?: string;
}

export type ClientOutput =
  | {
      ok: true;
      envelopes?: ClientEnvelope[];
      plugins?: ClientPlugin[];
      version?: string;
      date?: string;
      commitHash?: string;
      decision?: string;
      expiresAt?: string;
    }
  | {
      ok: false;
      error: string;
      code: string;
      notFound: boolean;
      notAvailable: boolean;
      accessDenied?: boolean;
      invalidPattern?: boolean;
    };

/** A raw Connect transport on the engine socket, as any client would use. */
export function engineTransport(socketPath: string) {
  return createConnectTransport({
    httpVersion: '1.1',
    baseUrl: 'http://secrets-engine.localhost',
    useBinaryFormat: true,
    nodeOptions: { socketPath },
  });
}

// --- per-test context ---

export type { SpawnedProcess } from '@secrets-engine/test-utils/process.js';

export interface InteropContext extends ProcessTest {
  /** Puts `binary` into the plugins folder under `name` (a symlink, protocol.md §1.1). */
  addPlugin(name: string, binary: string): void;
  /** An engine on this test's socket and plugins folder; closed after the test. */
  engine(options?: EngineOptions): Engine;
  /**
   * Starts `peer`'s Go plugin by hand as `name`: it dials the test's engine socket (or
   * `extra.INTEROP_SOCKET`) and joins through /hijack.
   */
  startByHand(peer: PluginPeer, name: string, extra?: Record<string, string>): SpawnedProcess;
  /** The exit marker a Go plugin wrote when it exited by itself, if any. */
  exitMarker(pid: number): string | undefined;
  /**
   * How a Go plugin that exited by itself ended, from its markers: `<code> <reason>` when it also
   * got past its last output line, otherwise a sentence saying where it died.
   */
  exitState(pid: number): string;
  /** The pid of the helper a Go plugin started (INTEROP_HELPER=1), once it has written it. */
  helperPid(pid: number): number | undefined;
}

/** The test's temp folder, engines and processes (test-utils/harness.ts), with the Go plugins. */
export function useInterop(): InteropContext {
  const base = useProcessTest({
    tmpPrefix: 'se-interop-',
    verboseEnv: 'INTEROP_VERBOSE',
    reapTimeoutMs: 3_000,
  });
  return Object.assign(base, {
    addPlugin(name: string, binary: string) {
      symlinkSync(binary, join(base.pluginsDir, name));
    },
    engine(options: EngineOptions = {}) {
      return base.closeAfterTest(
        createEngine({
          socketPath: base.socketPath,
          pluginsDir: base.pluginsDir,
          logger: base.logger,
          ...options,
        }),
      );
    },
    startByHand(peer: PluginPeer, name: string, extra: Record<string, string> = {}) {
      return base.spawn(goBinary(peer.binary), [], {
        ...pluginEnv(peer, base.pidDir),
        INTEROP_SOCKET: base.socketPath,
        INTEROP_NAME: name,
        ...extra,
      });
    },
    exitMarker(pid: number) {
      const path = join(base.pidDir, `${pid}.exit`);
      return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
    },
    exitState(pid: number) {
      const marker = join(base.pidDir, `${pid}.exit`);
      if (!existsSync(marker)) {
        return `plugin ${pid} never reached its exit path (no <pid>.exit): killed by a signal before it, e.g. SIGPIPE on an earlier log line`;
      }
      const exit = readFileSync(marker, 'utf8');
      if (!existsSync(join(base.pidDir, `${pid}.exited`))) {
        return (
          `plugin ${pid} decided "${exit}" but died writing its last stderr line: SIGPIPE (wait status 141) on ` +
          'the output pipe into the dead engine; a launched plugin’s output must never be able to kill it (issue 13 item 1)'
        );
      }
      return exit;
    },
    helperPid(pid: number) {
      const path = join(base.pidDir, `${pid}.helper`);
      return existsSync(path) ? Number(readFileSync(path, 'utf8')) : undefined;
    },
  });
}

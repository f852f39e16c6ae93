// vitest globalSetup: builds the Go peers (go/cmd/go-engine, go/cmd/yamux-peer) into go/bin with
// GOFLAGS=-mod=mod GOTOOLCHAIN=local. A missing toolchain or a failed build FAILS the run, loudly:
// these wire checks must never turn into a silent skip.
import { spawnSync } from 'node:child_process';
import { findGo, goCandidates } from '@secrets-engine/test-utils/go.js';
import type { TestProject } from 'vitest/node';
import { GO_BIN_DIR, GO_DIR } from './paths.js';

declare module 'vitest' {
  export interface ProvidedContext {
    goVersion: string;
    goBuildMs: number;
  }
}

export default function setup(project: TestProject): void {
  const found = findGo();
  if (found === undefined) {
    throw new Error(
      `interop-go-peer: no Go toolchain found (tried ${goCandidates().join(', ')}). These checks need Go ≥ 1.25 ` +
        'and the Go module proxy (or a warm module cache); install Go or set $GO. They never skip.',
    );
  }
  const { go, version: goVersion } = found;
  const env = { ...process.env, GOFLAGS: '-mod=mod', GOTOOLCHAIN: 'local' };
  const started = Date.now();
  const build = spawnSync(go, ['build', '-o', `${GO_BIN_DIR}/`, './cmd/...'], {
    cwd: GO_DIR,
    env,
    encoding: 'utf8',
    timeout: 10 * 60_000,
  });
  if (build.status !== 0) {
    throw new Error(
      `interop-go-peer: \`go build ./cmd/...\` failed in ${GO_DIR} (${goVersion}, exit ${build.status ?? build.signal}):\n` +
        `${build.stderr}${build.error === undefined ? '' : `\n${build.error.message}`}`,
    );
  }
  project.provide('goVersion', goVersion);
  project.provide('goBuildMs', Date.now() - started);
}

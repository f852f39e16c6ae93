// Builds the Go binaries once per run and hands the results to the tests (inject('goBuilds')).
// A failed build does not stop the run here: every test that needs that binary fails with the
// build error (support/interop.ts goBinary()), so the report names each unproven case.
import type { TestProject } from 'vitest/node';
import { DOCKER_TREES, SNAPSHOT_ENV } from './docker-snapshot.js';
import { buildAll, type GoBuild, selectedTiers, type Tier } from './go.js';

declare module 'vitest' {
  export interface ProvidedContext {
    goBuilds: GoBuild[];
    goVersion: string;
    tiers: Tier[];
  }
}

export default function setup(project: TestProject): void {
  const tiers = selectedTiers();
  const { go, builds } = buildAll(tiers);
  const lines = [`interop: ${go ?? 'NO Go toolchain'}; tiers: ${tiers.join(', ')}`];
  if (tiers.includes('docker')) {
    lines.push(
      `  docker tier from ${SNAPSHOT_ENV}=${process.env[SNAPSHOT_ENV] ?? '(unset)'}:`,
      ...Object.values(DOCKER_TREES).map((t) => `    ${t.what}`),
    );
  }
  for (const b of builds) {
    lines.push(
      `  ${b.ok ? 'built ' : 'FAILED'} ${b.binary.padEnd(20)} ${String(b.ms).padStart(6)} ms  ${b.what}`,
    );
  }
  if (!tiers.includes('docker')) {
    lines.push(
      '  NOTE: the docker tier (Docker’s own plugin SDK, client and Go engine) is NOT run: it is built',
      `        from a local snapshot of Docker’s repository, and ${SNAPSHOT_ENV} is not set.`,
      '        Nothing in this run proves compatibility with Docker’s code, only with the Go stack it uses.',
      `        Opt in: ${SNAPSHOT_ENV}=/path/to/secrets-engine.git (tests/interop/README.md, "Docker snapshot")`,
    );
  }
  process.stderr.write(`${lines.join('\n')}\n`);
  const failed = builds.filter((b) => !b.ok);
  if (failed.length > 0) {
    const bar = '='.repeat(100);
    process.stderr.write(
      `${bar}\ninterop: ${failed.length} Go binar${failed.length === 1 ? 'y' : 'ies'} could not be built; ` +
        `every test that needs ${failed.length === 1 ? 'it' : 'one'} will FAIL:\n` +
        failed.map((b) => `--- ${b.binary} (${b.what})\n${b.error}`).join('\n') +
        `\n${bar}\n`,
    );
  }
  project.provide('goBuilds', builds);
  project.provide('goVersion', go ?? '');
  project.provide('tiers', tiers);
}

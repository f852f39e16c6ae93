// Builds the Go binaries once per run and hands the results to the tests (inject('goBuilds')).
// A failed build does not stop the run here: every test that needs that binary fails with the
// build error (support/interop.ts goBinary()), so the report names each unproven case.
import type { TestProject } from 'vitest/node';
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
  for (const b of builds) {
    lines.push(
      `  ${b.ok ? 'built ' : 'FAILED'} ${b.binary.padEnd(20)} ${String(b.ms).padStart(6)} ms  ${b.what}`,
    );
  }
  if (!tiers.includes('docker')) {
    lines.push(
      '  NOTE: the docker tier (Docker’s own Go modules) is NOT run: the module proxy here refuses',
      '        github.com/docker/secrets-engine/* (403). Nothing in this run proves compatibility with',
      '        Docker’s SDK or client, only with the Go stack they use. Opt in: INTEROP_TIERS=docker,go-stack',
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

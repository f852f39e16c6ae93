import { defineConfig, mergeConfig } from 'vitest/config';
import { packageConfig } from '../../vitest.shared.js';

// One tsc run over every block and one `--help` per CLI command happen in beforeAll hooks. The
// verbose reporter lists every checked block by file and line, and every skipped one with its reason.
const base = packageConfig({ include: ['*.test.ts', 'support/**/*.test.ts'], testTimeout: 60_000 });
const reporters = [base.test?.reporters ?? []].flat().map((r) => (r === 'default' ? 'verbose' : r));

export default mergeConfig(
  { ...base, test: { ...base.test, reporters } },
  defineConfig({ test: { exclude: ['node_modules/**', '.blocks/**', 'dist/**'] } }),
);

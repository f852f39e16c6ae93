// Shared vitest settings of every workspace package. Under CI each package also writes a JSON
// report that scripts/test-summary.mjs adds up into one "N passed, N failed" line.
import { defineConfig } from 'vitest/config';

export function packageConfig(options: { include?: string[]; testTimeout?: number } = {}) {
  return defineConfig({
    test: {
      include: options.include ?? ['src/**/*.test.ts'],
      exclude: ['dist/**', 'node_modules/**'],
      testTimeout: options.testTimeout ?? 20_000,
      hookTimeout: 20_000,
      restoreMocks: true,
      retry: process.env.CI ? 1 : 0,
      reporters: process.env.CI ? ['default', ['json', { outputFile: 'test-results.json' }]] : ['default'],
    },
  });
}

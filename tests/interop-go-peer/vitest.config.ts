import { defineConfig, mergeConfig } from 'vitest/config';
import { packageConfig } from '../../vitest.shared.js';

// Real processes and Go peers. globalSetup builds the Go programs first and fails the run if it
// cannot (no Go toolchain, no module proxy, a compile error): these checks never skip.
export default mergeConfig(
  packageConfig({ include: ['**/*.test.ts'], testTimeout: 60_000 }),
  defineConfig({
    test: {
      exclude: ['node_modules/**', 'fixtures/**', 'dist/**', 'go/**'],
      globalSetup: ['./support/build-go.ts'],
    },
  }),
);

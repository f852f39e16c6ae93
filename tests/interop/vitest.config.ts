import { defineConfig, mergeConfig } from 'vitest/config';
import { packageConfig } from '../../vitest.shared.js';

// Real Go processes and sockets. The Go binaries are built once, before any test, by the global
// setup; a binary that cannot be built fails every test that needs it (never a silent skip).
export default mergeConfig(
  packageConfig({ include: ['**/*.test.ts'], testTimeout: 60_000 }),
  defineConfig({
    test: {
      exclude: ['node_modules/**', 'go/**', 'dist/**'],
      globalSetup: ['./support/global-setup.ts'],
      // The first `go build` of a module may download it.
      hookTimeout: 60_000,
    },
  }),
);

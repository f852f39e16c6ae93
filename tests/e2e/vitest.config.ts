import { defineConfig, mergeConfig } from 'vitest/config';
import { packageConfig } from '../../vitest.shared.js';

// Real processes, sockets and signals: longer timeouts than unit tests.
export default mergeConfig(
  packageConfig({ include: ['**/*.test.ts'], testTimeout: 60_000 }),
  defineConfig({ test: { exclude: ['node_modules/**', 'fixtures/**', 'dist/**'] } }),
);

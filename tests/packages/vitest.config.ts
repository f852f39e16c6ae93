import { defineConfig, mergeConfig } from 'vitest/config';
import { packageConfig } from '../../vitest.shared.js';

// npm installs from the registry are slow: generous timeouts (no timing is asserted). No retry
// under CI: a retry would repeat the installs, and (c) and (e) reuse (b)'s and (d)'s installs,
// whose outcome is kept for the whole run.
export default mergeConfig(
  packageConfig({ include: ['*.test.ts'], testTimeout: 600_000 }),
  defineConfig({ test: { hookTimeout: 300_000, retry: 0 } }),
);

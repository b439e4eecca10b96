import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'cdk.out/**', '.data/**'],
    setupFiles: ['infra/local/node-compat.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Expected failures log warnings; tests that read logs pass their own logger.
    env: { LOG_LEVEL: 'silent' },
  },
});

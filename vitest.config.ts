import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', 'cdk.out/**', '.data/**'],
    setupFiles: ['infra/local/node-compat.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // Two forks on CI's 2 cores (Vitest's default is cores - 1, one fork there): the suites wait on
    // sockets, child processes and the Lambda sandbox thread much of the time, and two forks took the
    // whole run from 476 s to 391 s on this machine, every test passing.
    maxWorkers: 2,
    // Expected failures log warnings; tests that read logs pass their own logger.
    env: { LOG_LEVEL: 'silent' },
  },
});

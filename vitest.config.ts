import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globals: false,
    // VITEST_INCLUDE: the reporter's own test runs its fixtures through this config
    include: [process.env['VITEST_INCLUDE'] ?? 'test/**/*.test.ts'],
    // Native addons (onnxruntime-node, sharp, Prisma) are only safe in forked workers.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // The plain last line CI reads: `N passed, N failed`.
    reporters: ['default', './test/helpers/count-reporter.ts'],
  },
});

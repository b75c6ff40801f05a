// The test runner (vitest, as the design card names). Files run in parallel in child processes (tests spawn Redis,
// gateways and workers, and some set process-wide state); tests within a file run in order. Cross-process tests wait
// for real processes on a loaded 2-core machine, hence the generous timeouts: a test that waits on a condition
// fails with its own message long before these.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: Number(process.env.TEST_CONCURRENCY ?? 2),
    testTimeout: 300_000,
    hookTimeout: 300_000,
    teardownTimeout: 60_000,
  },
});

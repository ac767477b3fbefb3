import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('..', import.meta.url));

/**
 * One vitest run for the whole workspace: unit tests beside the code in packages/ and
 * services/, cross-process tests in test/. The global setup resolves KAFKA_BROKERS and
 * DATABASE_URL (given, or testcontainers when a Docker engine answers).
 */
export default defineConfig({
  root,
  test: {
    include: ['packages/*/src/**/*.test.ts', 'services/*/src/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['**/node_modules/**'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: integration suites share one broker and one PostgreSQL server.
    maxWorkers: 2,
    fileParallelism: true,
    reporters: ['default'],
  },
});

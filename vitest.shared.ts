import { join, relative } from 'node:path';
import { defineConfig } from 'vitest/config';

const root = import.meta.dirname;
// One JSON report per project, summed by scripts/run-tests.ts into the closing line.
const report = join(root, '.test-results', `${relative(root, process.cwd()).replace(/[\\/]/g, '_') || 'root'}.json`);

// Integration tests talk to real Redis and Postgres; give them room, and keep
// the two-core CI machine from being oversubscribed.
export const sharedTestConfig = defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'tests/**/*.test.ts', '*.test.ts', '**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default', 'json'],
    outputFile: { json: report },
    globalSetup: [join(root, 'libs/testing/src/global-setup.ts')],
  },
});

import { defineConfig } from 'vitest/config';

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
    globalSetup: [new URL('./libs/testing/src/global-setup.ts', import.meta.url).pathname],
  },
});

// One flat config for the whole workspace. Module boundaries follow the
// nx-examples convention, by layer: domain libraries (contracts, lifecycle,
// planning) import only domain; infrastructure libraries import domain and
// infrastructure; apps (the services and the CLI) import both but never one
// another; testing projects (the test library, the sandbox, the stack
// launcher, the suites) may import anything and never ship.
// Every package declares exactly what it imports: test/workspace/dependencies.test.ts.
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

/** Files that only tests run: they may use the testing library. */
const TEST_FILES = ['**/*.test.ts', '**/tests/**', '**/testing/**', '**/test-helpers.ts', '**/vitest.config.ts'];

export default [
  { ignores: ['**/node_modules/**', '**/dist/**', '**/.nx/**', '**/*.js', '**/*.mjs', 'bench/results/**', '**/vitest.config.ts', '**/json-schema/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { '@nx': nx },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'error',
      '@nx/enforce-module-boundaries': [
        'error',
        {
          allow: [],
          depConstraints: [
            { sourceTag: 'layer:domain', onlyDependOnLibsWithTags: ['layer:domain'] },
            { sourceTag: 'layer:infra', onlyDependOnLibsWithTags: ['layer:domain', 'layer:infra'] },
            { sourceTag: 'layer:app', onlyDependOnLibsWithTags: ['layer:domain', 'layer:infra'] },
            { sourceTag: 'layer:testing', onlyDependOnLibsWithTags: ['*'] },
          ],
        },
      ],
    },
  },
  {
    // Tests of any project may use the shared test infrastructure.
    files: TEST_FILES,
    rules: {
      '@nx/enforce-module-boundaries': ['error', { allow: ['@caracal-rotation/testing'], depConstraints: [{ sourceTag: '*', onlyDependOnLibsWithTags: ['*'] }] }],
    },
  },
  {
    // Command-line entry points and test reporters talk to a terminal on purpose.
    files: ['**/bin/**/*.ts', 'apps/caracal-rotate/src/**/*.ts', 'bench/**/*.ts', 'test/**/*.ts', '**/*.test.ts', 'tools/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
];

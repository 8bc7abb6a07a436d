import { defineConfig } from 'vitest/config';

// Tests import the workspace packages from their TypeScript sources (the "source" export condition),
// so a test run needs only the native addon built, not the tsc output.
export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 300_000,
  },
});

import { defineConfig } from 'vitest/config';

// Runs the rasterizer output-hash checker (not part of `npm test`): npx vitest run --config tools/raster-check/vitest.config.ts
export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: { include: ['tools/raster-check/*.check.ts'], pool: 'forks', testTimeout: 600_000 },
});

import { defineConfig } from "vitest/config";

/**
 * Shared vitest settings: workspace packages resolve to their TypeScript sources through the
 * `source` export condition, so tests never need a prior build.
 */
export default defineConfig({
  resolve: { conditions: ["source"] },
  ssr: { resolve: { conditions: ["source"], externalConditions: ["source"] } },
  test: {
    environment: "node",
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
  },
});

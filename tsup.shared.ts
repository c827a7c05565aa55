import { defineConfig, type Options } from "tsup";

/**
 * The build every workspace package and app shares: ESM for Node 20 with source maps; packages
 * also emit `.d.ts`. `overrides` adds or replaces fields (entries, `noExternal`, …).
 */
export function buildConfig(overrides: Options = {}) {
  return defineConfig({
    entry: ["src/index.ts"],
    format: ["esm"],
    dts: true,
    sourcemap: true,
    clean: true,
    target: "node20",
    platform: "node",
    ...overrides,
  });
}

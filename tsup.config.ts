import { defineConfig } from "tsup";

export default defineConfig([
  {
    // The library: ESM + type declarations. Subpaths are listed in package.json `exports`.
    entry: { index: "lib/index.ts", "cli/index": "lib/cli/index.ts" },
    format: ["esm"],
    dts: { entry: { index: "lib/index.ts" } },
    target: "node20",
    platform: "node",
    sourcemap: true,
    clean: true,
  },
]);

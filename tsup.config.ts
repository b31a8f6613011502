import { defineConfig } from "tsup";

export default defineConfig([
  {
    // The library: ESM + type declarations. Subpaths are listed in package.json `exports`.
    entry: { index: "lib/index.ts", "server/index": "lib/server/index.ts", "cli/index": "lib/cli/index.ts", "cli/child": "lib/cli/child.ts", protocol: "lib/protocol.ts" },
    format: ["esm"],
    dts: { entry: { index: "lib/index.ts", "server/index": "lib/server/index.ts", protocol: "lib/protocol.ts" } },
    target: "node20",
    platform: "node",
    sourcemap: true,
    clean: true,
  },
  {
    // The canvas: one self-contained browser bundle, served at /assets/daggr-canvas.js.
    entry: { "daggr-canvas": "elements/index.ts" },
    outDir: "dist/elements",
    format: ["esm"],
    platform: "browser",
    target: "es2022",
    noExternal: [/.*/],
    minify: true,
    loader: { ".txt": "text" },
    clean: false,
  },
  {
    // The 3D viewer (model-viewer + three.js, ~1 MB): its own file, loaded the first time a model is shown.
    entry: { "model-viewer": "elements/model-viewer.ts" },
    outDir: "dist/elements",
    format: ["esm"],
    platform: "browser",
    target: "es2022",
    noExternal: [/.*/],
    splitting: false,
    minify: true,
    clean: false,
  },
]);

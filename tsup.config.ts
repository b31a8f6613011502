import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Options, defineConfig } from "tsup";

/**
 * Where the build goes: dist/, unless DAGGR_BUILD_OUT names another directory. Every
 * build by `npm run build`, `npm install` or the `daggr` command writes a directory of its
 * own there, then swaps it for dist/ whole (lib/cli/build-state.mjs).
 */
const OUT = process.env.DAGGR_BUILD_OUT ?? "dist";

/**
 * Third-party code the bundles include (the browser packages are devDependencies, inlined
 * into dist/elements): each package's name, version, license and license text, written to
 * dist/THIRD-PARTY-NOTICES.md from what esbuild actually put in them.
 */
const bundled = new Map<string, string>();
/** Files copied from a package into the sources, by path: the layout worker is elkjs's own, as text. */
const VENDORED: Record<string, string> = { "elements/layout/elk-worker.txt": "elkjs" };
const notices: NonNullable<Options["esbuildPlugins"]>[number] = {
  name: "third-party-notices",
  setup(build) {
    build.initialOptions.metafile = true;
    build.onEnd((result) => {
      for (const [out, meta] of Object.entries(result.metafile?.outputs ?? {})) {
        if (out.endsWith(".map")) continue;
        for (const input of Object.keys(meta.inputs)) {
          const at = input.lastIndexOf("node_modules/");
          if (VENDORED[input]) bundled.set(VENDORED[input], join("node_modules", VENDORED[input]));
          if (at < 0) continue;
          const path = input.slice(at + "node_modules/".length).split("/");
          const name = path[0]!.startsWith("@") ? `${path[0]}/${path[1]}` : path[0]!;
          bundled.set(name, join(input.slice(0, at), "node_modules", name));
        }
      }
      writeNotices();
    });
  },
};

function writeNotices(): void {
  const parts = [...bundled.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([name, dir]) => {
    const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version: string; license?: string; repository?: string | { url?: string } };
    const source = typeof pkg.repository === "string" ? pkg.repository : pkg.repository?.url;
    const file = readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.(md|txt))?$/i.test(f));
    const text = file ? readFileSync(join(dir, file), "utf8").trim() : `(no license file; declared license: ${pkg.license ?? "none"})`;
    return `## ${name} ${pkg.version} — ${pkg.license ?? "unknown"}\n\n${source ? `Source: ${source.replace(/^git\+/, "")}\n\n` : ""}\`\`\`\n${text}\n\`\`\`\n`;
  });
  if (!existsSync(OUT)) return;
  writeFileSync(
    join(OUT, "THIRD-PARTY-NOTICES.md"),
    `# Third-party notices\n\nThe prebuilt files in dist/ include code from these packages, under their own licenses:\n${[...bundled.keys()].sort().map((n) => `\n- ${n}`).join("")}\n\n${parts.join("\n")}`,
  );
}

export default defineConfig([
  {
    // The library: ESM + type declarations. Subpaths are listed in package.json `exports`.
    // Dependencies stay imports; esbuild is imported only to bundle the canvas from source in a clone.
    entry: { index: "lib/index.ts", "server/index": "lib/server/index.ts", "cli/index": "lib/cli/index.ts", "cli/child": "lib/cli/child.ts", protocol: "lib/protocol.ts" },
    outDir: OUT,
    format: ["esm"],
    dts: { entry: { index: "lib/index.ts", "server/index": "lib/server/index.ts", protocol: "lib/protocol.ts" } },
    target: "node20",
    platform: "node",
    external: ["esbuild"],
    sourcemap: true,
    clean: true,
    esbuildPlugins: [notices],
  },
  {
    // The canvas: one self-contained browser bundle, served at /assets/daggr-canvas.js.
    entry: { "daggr-canvas": "elements/index.ts" },
    outDir: join(OUT, "elements"),
    format: ["esm"],
    platform: "browser",
    target: "es2022",
    noExternal: [/.*/],
    minify: true,
    loader: { ".txt": "text" },
    clean: false,
    esbuildPlugins: [notices],
  },
  {
    // The 3D viewer (model-viewer + three.js, ~1 MB) and the plots (Observable Plot + d3): each its own file, loaded the first time one is shown.
    entry: { "model-viewer": "elements/model-viewer.ts", plot: "elements/plot.ts" },
    outDir: join(OUT, "elements"),
    format: ["esm"],
    platform: "browser",
    target: "es2022",
    noExternal: [/.*/],
    splitting: false,
    minify: true,
    clean: false,
    esbuildPlugins: [notices],
  },
]);

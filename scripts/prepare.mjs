#!/usr/bin/env node
/**
 * `npm install` in a clone (and `npm ci`) runs this: it builds dist/ so that `npx daggr`
 * and `import … from "daggr"` work with no extra step. It skips the build when dist/ is
 * fresher than every source file (installing a project that links this clone runs it too),
 * and without the build tools (an install that omitted devDependencies) it says so and
 * succeeds: a packed daggr ships dist/ prebuilt. `npm run build` runs it with `--force`:
 * it always builds. Either way the build is the one `daggr` itself runs when sources
 * changed (lib/cli/build-state.mjs): one at a time, swapped in whole, stamped.
 */
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { rebuild, staleness } from "../lib/cli/build-state.mjs";

const root = fileURLToPath(new URL("..", import.meta.url)).replace(/[\\/]$/, "");
const force = process.argv.includes("--force");

if (!force && !staleness(root)) {
  console.log("daggr: dist/ is up to date");
  process.exit(0);
}
try {
  createRequire(import.meta.url).resolve("tsup/package.json");
} catch {
  console.log("daggr: the build tools (devDependencies) are not installed, so dist/ was not built. Run `npm install` with dev dependencies to build it.");
  process.exit(0);
}
try {
  const started = Date.now();
  if (await rebuild(root, { force, say: (line) => console.error(line) })) console.log(`daggr: built dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  else console.log("daggr: dist/ is up to date (another process built it)");
} catch (e) {
  console.error(`daggr: ${e.code === "E_STALE_BUILD" ? e.message : e.stack}`);
  process.exit(1);
}

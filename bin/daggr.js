#!/usr/bin/env node
/**
 * The `daggr` command's entry (package.json `bin`). In a source checkout (a clone: lib/ and
 * tsup.config.ts beside dist/), it first makes sure dist/ was built from the sources there,
 * rebuilding it with a one-line notice when a file under lib/ or elements/ is newer than the
 * last build, or stopping with E_STALE_BUILD when it cannot (lib/cli/build-state.mjs). In an
 * installed package there is no lib/: it goes straight to dist/. Then it runs dist/cli.
 * A file of its own because dist/cli/index.js, once imported, is already the old code.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url)).replace(/[\\/]$/, "");
const state = new URL("../lib/cli/build-state.mjs", import.meta.url);
if (existsSync(fileURLToPath(state))) {
  const { isSourceCheckout, rebuild } = await import(state.href);
  if (isSourceCheckout(root)) {
    try {
      await rebuild(root, { say: (line) => process.stderr.write(`${line}\n`) });
    } catch (e) {
      process.stderr.write(`daggr: ${e.code === "E_STALE_BUILD" ? e.message : e.stack}\n`);
      process.exit(1);
    }
    // The processes it starts (daggr dev's children) and the app's import "daggr" need not check again.
    process.env.DAGGR_BUILD_CHECKED = "1";
  }
}
await import("../dist/cli/index.js");

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
import { hostname } from "node:os";
import { fileURLToPath } from "node:url";

/**
 * A line of the log before the logger (in dist/) can be loaded: as lib/log.ts writes it,
 * one JSON object when stderr is not a terminal (or DAGGR_LOG_FORMAT=json), else the text;
 * DAGGR_LOG_LEVEL silences it as it would the logger.
 */
function say(level, msg, fields = {}) {
  const levels = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };
  if (level < (levels[process.env.DAGGR_LOG_LEVEL ?? ""] ?? 30)) return;
  const json = (process.env.DAGGR_LOG_FORMAT || (process.stderr.isTTY ? "pretty" : "json")) === "json";
  process.stderr.write(json ? `${JSON.stringify({ level, time: new Date().toISOString(), pid: process.pid, hostname: hostname(), ...fields, msg })}\n` : `${msg}\n`);
}

const root = fileURLToPath(new URL("..", import.meta.url)).replace(/[\\/]$/, "");
const state = new URL("../lib/cli/build-state.mjs", import.meta.url);
if (existsSync(fileURLToPath(state))) {
  const { isSourceCheckout, rebuild } = await import(state.href);
  if (isSourceCheckout(root)) {
    try {
      await rebuild(root, { say: (line) => say(30, line) });
    } catch (e) {
      say(50, `daggr: ${e.code === "E_STALE_BUILD" ? e.message : e.stack}`, e.code ? { code: e.code } : {});
      process.exit(1);
    }
    // The processes it starts (daggr dev's children) and the app's import "daggr" need not check again.
    process.env.DAGGR_BUILD_CHECKED = "1";
  }
}
await import("../dist/cli/index.js");

/**
 * `import "daggr"` (or `"daggr/server"`) from a source checkout whose dist/ is older than its sources fails here
 * with E_STALE_BUILD instead of running old code without a sign (lib/cli/build-state.mjs has
 * the whole story). It cannot rebuild: by the time this module runs, every module of the
 * old build is already linked. Under the `daggr` command (which checked, and rebuilt, at
 * its start: DAGGR_BUILD_CHECKED), when run from the sources (tsx, lib/) and in an
 * installed package, it does nothing.
 */
import { sep } from "node:path";
import { fileURLToPath } from "node:url";
import { DaggrError, ErrorCode } from "./graph/errors.js";
import { isSourceCheckout, staleMessage, staleness } from "./cli/build-state.mjs";

const here = import.meta.url.startsWith("file:") ? fileURLToPath(import.meta.url) : "";
const at = here.lastIndexOf(`${sep}dist${sep}`);
if (at >= 0 && process.env.DAGGR_BUILD_CHECKED !== "1") {
  const root = here.slice(0, at);
  const why = isSourceCheckout(root) ? staleness(root) : undefined;
  if (why) {
    const message = staleMessage(root, why, undefined, ", or start the app with `npx daggr dev <app.ts>`, which rebuilds first");
    throw new DaggrError(ErrorCode.STALE_BUILD, message.replace(/^\[E_STALE_BUILD\] /, ""), { root, ...why });
  }
}

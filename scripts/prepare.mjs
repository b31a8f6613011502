#!/usr/bin/env node
/**
 * `npm install` in a clone (and `npm ci`) runs this: it builds dist/ so that `npx daggr`
 * and `import … from "daggr"` work with no extra step. It skips the build when dist/ is
 * newer than every source file (installing a project that links this clone runs it too),
 * and without the build tools (an install that omitted devDependencies) it says so and
 * succeeds: a packed daggr ships dist/ prebuilt. `npm run build` always builds.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

const root = fileURLToPath(new URL("..", import.meta.url));
const stamp = join(root, "dist", ".built");

/** The newest modification time under the build's inputs. */
function newestSource() {
  let newest = 0;
  const stack = ["lib", "elements", "tsup.config.ts", "package.json", "tsconfig.json"].map((p) => join(root, p));
  while (stack.length) {
    const p = stack.pop();
    if (!existsSync(p)) continue;
    const s = statSync(p);
    if (s.isDirectory()) for (const e of readdirSync(p)) stack.push(join(p, e));
    else newest = Math.max(newest, s.mtimeMs);
  }
  return newest;
}

if (existsSync(stamp) && statSync(stamp).mtimeMs >= newestSource()) {
  console.log("daggr: dist/ is up to date");
  process.exit(0);
}
let tsup;
try {
  tsup = createRequire(import.meta.url).resolve("tsup/package.json");
} catch {
  console.log("daggr: the build tools (devDependencies) are not installed, so dist/ was not built. Run `npm install` with dev dependencies to build it.");
  process.exit(0);
}
const cli = tsup.replace(/package\.json$/, "dist/cli-default.js");
const r = spawnSync(process.execPath, [cli, "--silent"], { stdio: "inherit", cwd: root });
if (r.status === 0) writeFileSync(stamp, `${new Date().toISOString()}\n`);
process.exit(r.status ?? 1);

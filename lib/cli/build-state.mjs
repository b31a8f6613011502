/**
 * Whether `dist/` was built from the sources beside it, and rebuilding it when not.
 *
 * In a clone, `npx daggr`, `npm start`'s children and an app's `import "daggr"` run the
 * built `dist/`, and `git pull` brings new `lib/` sources without rebuilding it. So:
 * - every build (`npm run build`, `npm install`'s prepare step, the rebuild below) writes
 *   `dist/.built`, whose modification time is when the build *started* (a file saved during
 *   the build is newer: the next start rebuilds again) and whose text is `{"ms": …}`, how
 *   long it took (the next rebuild's notice says so);
 * - `bin/daggr.js` (the `daggr` command) compares the stamp with every file under the build's
 *   inputs before it loads `dist/`: when one is newer it rebuilds first, with a one-line
 *   notice, or, when it cannot (a read-only checkout, no build tools, a failing build), it
 *   stops with `E_STALE_BUILD` naming the command to run;
 * - `import "daggr"` (lib/build-guard.ts) cannot rebuild: its modules are already
 *   linked by the time any of them runs. It refuses the same way.
 * An installed package has no `lib/` (and no tsup.config.ts): nothing is checked there.
 *
 * The check stats each input file, stopping at the first newer one. Measured on the
 * project's 2-core test machine (~200 files in lib/ and elements/), in a fresh process as
 * each start is: 5–6 ms to check, 8 ms to load this module; `daggr --version` took 264 ms
 * through bin/daggr.js against 256 ms straight from dist/cli/index.js (means of 10).
 *
 * Builds never write into `dist/` in place: tsup writes `.dist-build-<pid>/`, which then
 * replaces `dist/` by two renames, so a running process or a concurrent start never sees a
 * half-written build. One build at a time: `.dist.lock` holds the builder's pid; another
 * start that finds it waits for it (a lock whose process is gone is taken over), then
 * checks again and finds the fresh build. Ctrl+C during a build stops it and leaves dist/
 * and no lock; what a harder kill leaves (its lock, its directory) the next build removes.
 *
 * Plain JavaScript with no dependency: the command runs it before `dist/` may exist.
 */
import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, readdirSync, renameSync, rmSync, statSync, utimesSync, writeFileSync, writeSync } from "node:fs";
import { createRequire } from "node:module";
import { constants } from "node:os";
import { dirname, join, relative } from "node:path";

/** The stamp every build writes in dist/. */
export const STAMP = ".built";
/** The build's inputs, relative to the package root: a file under these newer than the stamp means dist/ is stale. */
export const INPUTS = ["lib", "elements", "tsup.config.ts", "tsconfig.json", "package.json"];
const LOCK = ".dist.lock";

/** True in a source checkout (a clone): the sources dist/ is built from are there. An installed package has neither. */
export function isSourceCheckout(root) {
  return existsSync(join(root, "lib")) && existsSync(join(root, "tsup.config.ts"));
}

/**
 * Why dist/ is stale, or undefined when it is not: `{ built: false }` when no build has
 * stamped it, else `{ built: true, file }` with the first input file found newer than the
 * stamp (relative to root). Dotfiles (an editor's swap files) do not count.
 */
export function staleness(root) {
  let stamp;
  try {
    stamp = statSync(join(root, "dist", STAMP)).mtimeMs;
  } catch {
    return { built: false };
  }
  const stack = INPUTS.map((p) => join(root, p));
  while (stack.length) {
    const p = stack.pop();
    let entries;
    try {
      entries = readdirSync(p, { withFileTypes: true });
    } catch (e) {
      if (e.code === "ENOTDIR") {
        if (statSync(p).mtimeMs > stamp) return { built: true, file: relative(root, p) };
      }
      continue; // ENOENT: an optional input
    }
    for (const e of entries) {
      if (e.name.startsWith(".")) continue;
      const child = join(p, e.name);
      if (e.isDirectory()) stack.push(child);
      else if (statSync(child).mtimeMs > stamp) return { built: true, file: relative(root, child) };
    }
  }
  return undefined;
}

/** How long the last build took, from the stamp (undefined for a stamp of an older daggr, or none). */
export function lastBuildMs(root) {
  try {
    const ms = JSON.parse(readFileSync(join(root, "dist", STAMP), "utf8")).ms;
    return typeof ms === "number" ? ms : undefined;
  } catch {
    return undefined;
  }
}

/** The one-line notice of a rebuild. */
export function rebuildNotice(root, why) {
  const ms = lastBuildMs(root);
  const took = ms === undefined ? "" : ` (${Math.max(1, Math.round(ms / 1000))} s)`;
  return why.built ? `daggr: sources changed since the last build (${why.file}); rebuilding${took}…` : `daggr: dist/ is not built yet; building it${took}…`;
}

/** The message of `E_STALE_BUILD`: what is stale, why it was not rebuilt (`cause`), and the command to run (then `or`, another way). */
export function staleMessage(root, why, cause, or = "") {
  const what = why.forced ? "dist/ was asked to be rebuilt" : why.built ? `${why.file} changed since dist/ was built` : "dist/ has not been built";
  return `[E_STALE_BUILD] ${what} in ${root}, so daggr would run old code${cause ? `, and it could not rebuild: ${cause}` : ""}. Run \`npm run build\` in ${root}${or}.`;
}

/** An error whose message is `staleMessage`. */
export class StaleBuildError extends Error {
  code = "E_STALE_BUILD";
}

/**
 * Builds dist/ unless it is fresh (or always, with `force`), one process at a time, and
 * replaces it whole. `say` gets the notices (waiting for another build; rebuilding). Resolves
 * to true when this call built. Throws `StaleBuildError` when it cannot build.
 */
export async function rebuild(root, { force = false, say = () => {} } = {}) {
  const why = () => (force ? { built: true, forced: true } : staleness(root));
  if (!why()) return false;
  let tsup;
  try {
    tsup = join(dirname(createRequire(join(root, "package.json")).resolve("tsup/package.json")), "dist", "cli-default.js");
  } catch {
    throw new StaleBuildError(staleMessage(root, why(), "the build tools (devDependencies) are not installed; run `npm install` first"));
  }
  const release = await lock(root, why, say);
  const out = `.dist-build-${process.pid}`;
  // Ctrl+C during the build: stop it, leave dist/ as it was, no lock (exit as the signal would).
  let child;
  const interrupted = (signal) => {
    const done = () => {
      rmSync(join(root, out), { recursive: true, force: true });
      release();
      process.exit(128 + (constants.signals[signal] ?? 2));
    };
    if (child && child.exitCode === null && child.signalCode === null) child.once("exit", done).kill("SIGTERM");
    else done();
  };
  for (const s of SIGNALS) process.once(s, interrupted);
  try {
    // Another process may have built it while this one waited.
    const reason = why();
    if (!reason) return false;
    if (!force) say(rebuildNotice(root, reason));
    // What a build killed harder (SIGKILL, a crash) left: nobody else builds while this process holds the lock.
    for (const f of readdirSync(root)) if (/^\.dist-(build|old)-\d+$/.test(f)) rmSync(join(root, f), { recursive: true, force: true });
    const started = Date.now();
    const { code, output } = await new Promise((ok, fail) => {
      child = spawn(process.execPath, [tsup, "--silent"], { cwd: root, env: { ...process.env, DAGGR_BUILD_OUT: out }, stdio: ["ignore", "pipe", "pipe"] });
      let output = "";
      child.stdout.on("data", (d) => (output += d));
      child.stderr.on("data", (d) => (output += d));
      child.on("error", fail);
      child.on("close", (code) => ok({ code, output }));
    });
    if (code !== 0) {
      rmSync(join(root, out), { recursive: true, force: true });
      const tail = output.trim().split("\n").slice(-12).join("\n");
      throw new StaleBuildError(`${staleMessage(root, reason, `the build failed (exit ${code}; its last lines follow)`)}\n${tail}`);
    }
    const stamp = join(root, out, STAMP);
    writeFileSync(stamp, `${JSON.stringify({ ms: Date.now() - started, at: new Date(started).toISOString() })}\n`);
    utimesSync(stamp, started / 1000, started / 1000);
    const dist = join(root, "dist");
    const old = join(root, `.dist-old-${process.pid}`);
    if (existsSync(dist)) renameSync(dist, old);
    renameSync(join(root, out), dist);
    rmSync(old, { recursive: true, force: true });
    return true;
  } finally {
    for (const s of SIGNALS) process.off(s, interrupted);
    release();
  }
}

const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"];

/** Takes the build lock (`.dist.lock`, the holder's pid), waiting for a live holder; resolves to its release. */
async function lock(root, why, say) {
  const file = join(root, LOCK);
  for (let told = false; ; ) {
    try {
      const fd = openSync(file, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(file, { force: true });
    } catch (e) {
      if (e.code !== "EEXIST") throw new StaleBuildError(staleMessage(root, why() ?? { built: true, forced: true }, `${root} is not writable (${e.code})`));
    }
    let holder = NaN;
    try {
      holder = Number(readFileSync(file, "utf8"));
    } catch (e) {
      if (e.code === "ENOENT") continue; // released meanwhile
      throw new StaleBuildError(staleMessage(root, why() ?? { built: true, forced: true }, `its lock ${file} cannot be read (${e.code})`));
    }
    if (holder > 0 && !alive(holder)) {
      rmSync(file, { force: true }); // its builder was killed
      continue;
    }
    if (!told) say(`daggr: another daggr process (${holder || "starting"}) is rebuilding dist/; waiting for it…`);
    told = true;
    await new Promise((r) => setTimeout(r, 100));
  }
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === "EPERM";
  }
}

/**
 * `npm run bench:ab -- [<git ref>] [--pairs N]`: the engine at a commit (A, default
 * HEAD) against the working tree (B), both in one process.
 *
 * Each side's `lib/` is bundled with esbuild (packages left external, as `import "daggr"`
 * runs it), both bundles are loaded by one plain Node process (ab-run.ts), and the same
 * work runs on each in turn: the life of a 1,000-node DAG (build, open, full run, close)
 * and runs of a 1,000-wide fan-out of 10 ms nodes. Medians and B/A are printed.
 *
 * Why one process: on a shared machine, separate runs differ by more than most changes
 * do, and the engine suite's ratios against Observable move with the garbage each side
 * leaves for the other to collect. Two bundles side by side share load, JIT warmth and
 * garbage. Comparing a build with itself on a quiet machine gave B/A within 4% for the DAG's
e2e, open and run and the fan-out, and within 8% for build (1–2 ms, the noisiest): smaller
differences than those need several runs.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { root } from "./util.js";

const { values, positionals } = parseArgs({ allowPositionals: true, options: { pairs: { type: "string", default: "60" } } });
const ref = positionals[0] ?? "HEAD";
const pairs = Number(values.pairs);
if (!Number.isInteger(pairs) || pairs < 2) fail(`--pairs must be a whole number of at least 2 (got '${values.pairs}')`);

const git = (...args: string[]) => spawnSync("git", args, { cwd: root, encoding: "buffer", maxBuffer: 1 << 28 });
const resolved = git("rev-parse", "--verify", "--quiet", `${ref}^{commit}`);
if (resolved.status !== 0) fail(`'${ref}' is not a commit of this repository (try HEAD, HEAD~1, main or a commit id)`);
const sha = resolved.stdout.toString().trim();

// A's sources, once per commit, inside the repository so their imports find node_modules.
const out = join(root, "bench", ".out", "ab");
const tree = join(out, sha);
if (!existsSync(join(tree, "lib"))) {
  mkdirSync(tree, { recursive: true });
  const archive = git("archive", "--format=tar", sha, "lib");
  if (archive.status !== 0) fail(`git archive ${sha} lib failed: ${archive.stderr.toString()}`);
  const untar = spawnSync("tar", ["-x", "-C", tree], { input: archive.stdout });
  if (untar.status !== 0) fail(`unpacking ${sha}'s lib/ failed: ${untar.stderr.toString()}`);
}

const { build } = await import("esbuild");
const bundle = async (entry: string, file: string) => {
  const outfile = join(out, file);
  await build({ entryPoints: [entry], outfile, bundle: true, platform: "node", format: "esm", packages: "external", logLevel: "error" });
  return outfile;
};
const a = await bundle(join(tree, "lib", "index.ts"), `A-${sha.slice(0, 12)}.mjs`);
const b = await bundle(join(root, "lib", "index.ts"), "B-working-tree.mjs");
const runner = await bundle(join(root, "bench", "ab-run.ts"), "ab-run.mjs");

console.log(`A = ${ref} (${sha.slice(0, 7)}), B = the working tree`);
const run = spawnSync(process.execPath, ["--expose-gc", runner, a, b, String(pairs)], { cwd: root, stdio: "inherit" });
process.exit(run.status ?? 1);

function fail(message: string): never {
  console.error(`bench:ab: ${message}`);
  process.exit(1);
}

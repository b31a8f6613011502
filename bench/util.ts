import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { staleness } from "../lib/cli/build-state.mjs";

/** One benchmark figure. */
export interface Figure {
  name: string;
  value: number;
  unit: string;
  /** What the figure should be, e.g. "<= 1.0". */
  target?: string;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Runs `fn` `warmup` times unmeasured, then `runs` times; returns the median in ms. */
export async function timeMedian(fn: () => Promise<unknown> | unknown, runs = 5, warmup = 1): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return median(times);
}

export function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Prints `BENCH <name> <value>` lines and a readable table. */
export function report(figures: Figure[]): void {
  for (const f of figures) console.log(`BENCH ${f.name} ${round(f.value)}`);
  table(figures);
}

/** The readable table alone. */
export function table(figures: Figure[]): void {
  console.table(figures.map((f) => ({ name: f.name, value: round(f.value), unit: f.unit, target: f.target ?? "" })));
}

export const root = fileURLToPath(new URL("..", import.meta.url));

/**
 * Makes sure `dist/` holds the current sources, building it when a file under lib/ or
 * elements/ is newer than its build: the stamp check `daggr` and `import "daggr"` make
 * (lib/cli/build-state.mjs), so the bench never trips the import's E_STALE_BUILD.
 */
function ensureBuilt(): void {
  if (!staleness(root)) return;
  console.error("bench: dist/ is older than its sources; building it first (npm run build)");
  const r = spawnSync("npm", ["run", "build"], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
  if (r.status !== 0) throw new Error("bench: npm run build failed");
}

/**
 * A bench file made runnable by plain Node, as an app runs the package: bundled by
 * esbuild into bench/.out/ with every package left external, so `import "daggr"` is the
 * built dist/ (built first when stale). Under tsx, every file outside node_modules is
 * transpiled with helpers (`__name` on every closure made) that cost the engine's hot
 * path more than its own work, while a peer in node_modules runs untouched: timing
 * through tsx compares unlike with like.
 */
export async function nativeBundle(file: string): Promise<string> {
  ensureBuilt();
  const { build } = await import("esbuild");
  const out = join(root, "bench", ".out", file.replace(/\.ts$/, ".mjs"));
  await build({ entryPoints: [join(root, "bench", file)], outfile: out, bundle: true, platform: "node", format: "esm", packages: "external", logLevel: "error" });
  return out;
}

/** Runs a bench file under plain Node (see `nativeBundle`); it prints its figures as one `FIGURES <json>` line. */
export async function runNative(file: string): Promise<Figure[]> {
  const out = await nativeBundle(file);
  const child = spawnSync(process.execPath, [out], { cwd: root, encoding: "utf8", env: { ...process.env, DAGGR_BENCH_NATIVE: "1" }, stdio: ["ignore", "pipe", "inherit"], maxBuffer: 1 << 26 });
  const line = /^FIGURES (.*)$/m.exec(child.stdout ?? "");
  if (child.status !== 0 || !line) throw new Error(`bench: ${file} under node failed (status ${child.status}): ${(child.stdout ?? "").slice(-2000)}`);
  return JSON.parse(line[1]!) as Figure[];
}

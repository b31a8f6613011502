/**
 * The measuring half of `npm run bench:ab` (see ab.ts): loads two bundles of the engine
 * into this one process and runs the same work on each in turn, A B B A A B …, so both
 * share the machine's load, the JIT's warmth and each other's garbage. Run bundled,
 * under plain Node: `node ab-run.mjs <A.mjs> <B.mjs> <pairs>`.
 *
 * Each measure is taken twice: wall time, and the process's CPU time (user + system, GC
 * threads included). On a busy machine wall times swing with whatever else runs (±25%
 * between two runs at load 6), while CPU time stays within ~3% for a build against itself:
 * compare the CPU rows then.
 */
import { pathToFileURL } from "node:url";

type Lib = typeof import("../lib/index.js");

const [fileA, fileB, pairsArg] = process.argv.slice(2);
const pairs = Number(pairsArg ?? 60);
const libs: [Lib, Lib] = [await import(pathToFileURL(fileA!).href), await import(pathToFileURL(fileB!).href)];
/** Pairs run first and not counted: the JIT's warm-up. */
const warmup = Math.min(20, Math.ceil(pairs / 3));

/** Parents of node i in the DAG of the engine suite (bench/engine.ts): chains, with a fan-out edge every fourth node. */
function parentsOf(i: number): number[] {
  if (i === 0) return [];
  return i % 4 === 0 ? [i - 1, Math.floor(i / 2)] : [i - 1];
}
const add = (xs: { p0?: number; p1?: number }) => (xs.p0 ?? 0) + (xs.p1 ?? 0) + 1;

/** CPU time of this process so far, in ms. */
function cpu(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** One life of a 1,000-node DAG: [e2e, build, open, run, e2e CPU, run CPU] in ms (close is in e2e). */
async function lifetime(L: Lib): Promise<number[]> {
  const c0 = cpu();
  const t0 = performance.now();
  const nodes: InstanceType<Lib["FnNode"]>[] = [];
  for (let i = 0; i < 1000; i++) {
    const inputs = Object.fromEntries(parentsOf(i).map((p, k) => [`p${k}`, nodes[p]!.out.v]));
    nodes.push(new L.FnNode(add, { name: `n${i}`, inputs, outputs: { v: null } }));
  }
  const graph = new L.Graph({ name: "ab", nodes, persistKey: false });
  const t1 = performance.now();
  const session = await graph.session({ store: new L.MemoryStore() });
  const t2 = performance.now();
  const c2 = cpu();
  await session.run(undefined, { mode: "all" });
  const t3 = performance.now();
  const c3 = cpu();
  await session.close();
  return [performance.now() - t0, t1 - t0, t2 - t1, t3 - t2, cpu() - c0, c3 - c2];
}

/** `gc` as `node --expose-gc` gives it (ab.ts starts this process so). */
const gc = (globalThis as { gc?: (options?: { type: "minor" | "major" }) => void }).gc;
/** Runs of the fan-out measured together, after a young-generation collection. */
const FAN_BLOCK = 4;

/**
 * A 1,000-wide fan-out of 10 ms async nodes and their join, in one open session per side:
 * [wall, CPU] per run, averaged over a block of `FAN_BLOCK` runs. Each block starts with
 * the young generation collected, so it pays for its own garbage and not for the other
 * side's: one run allocates a few MB, and a collection of the young generation (5-10 ms
 * here) landed on whichever side filled it, swinging single runs' CPU by half.
 */
async function fanOut(L: Lib) {
  const nap = () => new Promise((r) => setTimeout(r, 10));
  const src = new L.FnNode(({ k }: { k: number }) => k, { name: "src", inputs: { k: L.gr.Number({ value: 0 }) }, outputs: { v: null } });
  const workers = Array.from({ length: 1000 }, (_, i) => new L.FnNode(async ({ v }: { v: number }) => (await nap(), v + i), { name: `w${i}`, inputs: { v: src.out.v }, concurrent: true, outputs: { v: null } }));
  const join = new L.FnNode((xs: Record<string, number>) => Object.keys(xs).length, { name: "join", inputs: Object.fromEntries(workers.map((w, i) => [`w${i}`, w.out.v])), outputs: { n: null } });
  const graph = new L.Graph({ name: "ab-fanout", nodes: [join], persistKey: false, autorun: false });
  const session = await graph.session({ store: new L.MemoryStore() });
  let k = 0;
  return {
    /** [wall, CPU] per run of one block, in ms. */
    async block(): Promise<number[]> {
      gc?.({ type: "minor" });
      const c0 = cpu();
      const t0 = performance.now();
      for (let i = 0; i < FAN_BLOCK; i++) {
        session.set(src.in.k, ++k);
        const summary = await session.run(join, { mode: "all" });
        if (summary.nodes.w0 !== "ran") throw new Error(`bench:ab: the fan-out's workers did not run (${summary.nodes.w0})`);
      }
      return [(performance.now() - t0) / FAN_BLOCK, (cpu() - c0) / FAN_BLOCK];
    },
    close: () => session.close(),
  };
}

const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[xs.length >> 1]!;

/** Runs `measure` on A and B alternately (the first of each pair alternates too); medians of the counted pairs. */
async function alternate<T extends number | number[]>(measure: (side: 0 | 1) => Promise<T>, n: number, skip: number): Promise<[T[], T[]]> {
  const got: [T[], T[]] = [[], []];
  for (let i = 0; i < n; i++) {
    const order: Array<0 | 1> = i % 2 ? [1, 0] : [0, 1];
    for (const side of order) {
      const v = await measure(side);
      if (i >= skip) got[side].push(v);
    }
  }
  return got;
}

const rows: Array<[string, number, number]> = [];
const [a, b] = await alternate((side) => lifetime(libs[side]), pairs, warmup);
for (const [k, name] of ["e2e", "build", "open", "run", "e2e CPU", "run CPU"].entries()) rows.push([`1,000-node DAG ${name}`, median(a.map((r) => r[k]!)), median(b.map((r) => r[k]!))]);

const fans = [await fanOut(libs[0]), await fanOut(libs[1])];
const fanPairs = Math.max(4, Math.ceil(pairs / 3));
const [fa, fb] = await alternate((side) => fans[side]!.block(), fanPairs, Math.min(5, Math.ceil(fanPairs / 4)));
rows.push(["1,000-wide fan-out wall", median(fa.map((r) => r[0]!)), median(fb.map((r) => r[0]!))]);
rows.push(["1,000-wide fan-out CPU", median(fa.map((r) => r[1]!)), median(fb.map((r) => r[1]!))]);
for (const f of fans) await f.close();

const counted = pairs - warmup;
console.log(`${counted} pairs counted after ${warmup} of warm-up (fan-out: ${fanPairs} pairs of ${FAN_BLOCK}-run blocks); medians in ms`);
console.log(`${"".padEnd(28)}${"A".padStart(9)}${"B".padStart(9)}${"B/A".padStart(8)}`);
for (const [name, x, y] of rows) console.log(`${name.padEnd(28)}${x.toFixed(2).padStart(9)}${y.toFixed(2).padStart(9)}${(y / x).toFixed(3).padStart(8)}`);
for (const [name, x, y] of rows) console.log(`BENCH ab_${name.replace(/^1,000-(node DAG|wide) /, "").replace(/[^a-z0-9]+/gi, "_").toLowerCase()}_b_over_a ${Math.round((y / x) * 1000) / 1000}`);
process.exit(0);

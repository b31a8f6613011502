/**
 * A chain of N FnNodes (default 1,000,000) built the documented way, from its last node:
 * `new Graph({ nodes: [last] })`, then opened and run in full. Prints `ok <ms> <heap MB>`
 * when the last node holds N. Run by bench/engine.ts in a child process with a large heap.
 */
import type * as Lib from "../lib/index.js";

// The built package, as an app imports it (bench/engine.ts builds it first when stale).
const { FnNode, Graph, MemoryStore } = (await import("daggr")) as unknown as typeof Lib;
type FnNode = Lib.FnNode;

const n = Number(process.argv[2] ?? 1_000_000);
const t0 = performance.now();
let prev: FnNode | undefined;
for (let i = 0; i < n; i++) {
  const inputs: Record<string, unknown> = prev ? { x: prev.out.v } : {};
  prev = new FnNode((xs: Record<string, any>) => (xs.x ?? 0) + 1, { name: `n${i}`, inputs, outputs: { v: null } });
}
const graph = new Graph({ name: "deep", nodes: [prev!], persistKey: false });
const s = await graph.session({ store: new MemoryStore() });
const summary = await s.run(undefined, { mode: "all" });
const value = s.get(prev!.out.v);
const heapMb = Math.round(process.memoryUsage().heapUsed / 1e6);
await s.close();
if (summary.status !== "done" || value !== n) {
  console.log(`failed: ${summary.status}, last value ${value}`);
  process.exit(1);
}
console.log(`ok ${Math.round(performance.now() - t0)} ${heapMb}`);

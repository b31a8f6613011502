/**
 * Engine benchmarks, each a ratio measured side by side in one process:
 * - engine_vs_observable: a full run of a 1,000-node DAG of trivial FnNodes through our
 *   engine vs the same DAG in @observablehq/runtime (target <= 1.0);
 * - overhead_us_per_node: engine time per trivial node (target <= 20 µs);
 * - incremental_10k_vs_100: recompute after an edit affecting 10 nodes, 10,000-node graph
 *   over 100-node graph (target <= 1.5);
 * - fanout_wall_vs_critical: 16 concurrent 50 ms FnNodes then a join (target <= 1.15).
 */
import { Runtime } from "@observablehq/runtime";
import { FnNode, Graph, InputNode, MemoryStore, gr, type Node } from "../lib/index.js";
import { type Figure, median, report, timeMedian } from "./util.js";

/** Parents of node i in the benchmark DAG: chains, with a fan-out edge every fourth node. */
function parentsOf(i: number): number[] {
  if (i === 0) return [];
  return i % 4 === 0 ? [i - 1, Math.floor(i / 2)] : [i - 1];
}

function daggrDag(n: number): { graph: Graph; last: Node } {
  const nodes: FnNode[] = [];
  for (let i = 0; i < n; i++) {
    const inputs = Object.fromEntries(parentsOf(i).map((p, k) => [`p${k}`, nodes[p]!.out.v]));
    nodes.push(new FnNode((xs: Record<string, number>) => (xs.p0 ?? 0) + (xs.p1 ?? 0) + 1, { name: `n${i}`, inputs, outputs: { v: null } }));
  }
  return { graph: new Graph({ name: `dag${n}`, nodes, persistKey: false }), last: nodes.at(-1)! };
}

async function observableRun(n: number): Promise<void> {
  const runtime = new Runtime();
  const main = runtime.module();
  let left = n;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const observer = { fulfilled: () => --left === 0 && done(), rejected: (e: unknown) => console.error(e) };
  for (let i = 0; i < n; i++) {
    const deps = parentsOf(i).map((p) => `n${p}`);
    main.variable(observer).define(`n${i}`, deps, (...xs: number[]) => (xs[0] ?? 0) + (xs[1] ?? 0) + 1);
  }
  await finished;
  runtime.dispose();
}

async function daggrRun(n: number): Promise<number> {
  const { graph } = daggrDag(n);
  const session = await graph.session({ store: new MemoryStore() });
  const t0 = performance.now();
  await session.run(undefined, { mode: "all" });
  const ms = performance.now() - t0;
  await session.close();
  return ms;
}

async function engineVsObservable(): Promise<Figure[]> {
  const n = 1000;
  // Both sides need about 6 runs before their times settle (JIT); GC pauses then land on
  // every third run or so of either side, so the medians take 15 alternating pairs.
  for (let i = 0; i < 10; i++) {
    await daggrRun(n); // warm up both (JIT)
    await observableRun(n);
  }
  const ours: number[] = [];
  const theirs: number[] = [];
  for (let i = 0; i < 15; i++) {
    ours.push(await daggrRun(n));
    theirs.push(await timeMedian(() => observableRun(n), 1, 0));
  }
  const o = median(ours);
  return [
    { name: "engine_vs_observable", value: o / median(theirs), unit: "ratio", target: "<= 1.0" },
    { name: "overhead_us_per_node", value: (o * 1000) / n, unit: "µs", target: "<= 20" },
    { name: "engine_1000_nodes_ms", value: o, unit: "ms" },
    { name: "observable_1000_nodes_ms", value: median(theirs), unit: "ms" },
  ];
}

/** `chains` independent chains of 10 FnNodes, each fed by its own InputNode. */
async function incremental(nodes: number): Promise<number> {
  const chains = nodes / 10;
  const heads: InputNode[] = [];
  const all: Node[] = [];
  for (let c = 0; c < chains; c++) {
    const head = new InputNode({ name: `in${c}`, ports: { x: gr.Number({ value: 0 }) } });
    heads.push(head);
    all.push(head);
    let prev: Node = head;
    for (let k = 0; k < 9; k++) {
      const from = prev === head ? head.out.x : (prev as FnNode).out.v;
      prev = new FnNode(({ x }: { x: number }) => x + 1, { name: `c${c}_${k}`, inputs: { x: from }, outputs: { v: null } });
      all.push(prev);
    }
  }
  const graph = new Graph({ name: `inc${nodes}`, nodes: all, persistKey: false });
  const session = await graph.session({ store: new MemoryStore(), debounceMs: 0 });
  await session.run(undefined, { mode: "all" });
  let v = 0;
  const ms = await timeMedian(async () => {
    session.set(heads[chains >> 1]!.in.x, ++v);
    await session.settled();
  }, 21, 3);
  await session.close();
  return ms;
}

async function fanout(): Promise<Figure[]> {
  const sleepMs = 50;
  const src = new FnNode(() => 0, { name: "src", outputs: { v: null } });
  const workers = Array.from({ length: 16 }, (_, i) =>
    new FnNode(async ({ v }: { v: number }) => (await new Promise((r) => setTimeout(r, sleepMs)), v + i), { name: `w${i}`, inputs: { v: src.out.v }, concurrent: true, outputs: { v: null } }),
  );
  const join = new FnNode((xs: Record<string, number>) => Object.values(xs).reduce((a, b) => a + b, 0), {
    name: "join",
    inputs: Object.fromEntries(workers.map((w, i) => [`w${i}`, w.out.v])),
    outputs: { sum: null },
  });
  const graph = new Graph({ name: "fanout", nodes: [join], persistKey: false });
  const wall = await timeMedian(async () => {
    const s = await graph.session({ store: new MemoryStore() });
    await s.run(join);
    await s.close();
  }, 5, 1);
  return [{ name: "fanout_wall_vs_critical", value: wall / sleepMs, unit: "ratio", target: "<= 1.15" }];
}

export async function benchEngine(): Promise<Figure[]> {
  const figures = await engineVsObservable();
  const small = await incremental(100);
  const large = await incremental(10_000);
  figures.push(
    { name: "incremental_10k_vs_100", value: large / small, unit: "ratio", target: "<= 1.5" },
    { name: "incremental_100_ms", value: small, unit: "ms" },
    { name: "incremental_10k_ms", value: large, unit: "ms" },
  );
  figures.push(...(await fanout()));
  return figures;
}

if (import.meta.url === `file://${process.argv[1]}`) report(await benchEngine());

import { getEventListeners } from "node:events";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join as joinPath } from "node:path";
import t from "tap";
import { FnNode, Graph, GradioNode, InputNode, MemoryStore, firstOf, gr, type EngineEvent } from "../lib/index.js";
import { keysGraph } from "./fixtures/keys-graph.js";
import { nextEvent, open, sleep } from "./helpers/engine.js";

/**
 * A fresh directory of this process, removed when the test ends. Not t.testdir(): its path is
 * the same for every process running this file, and test/queue.test.ts runs this file again
 * (in queue mode) while tap may run it beside.
 */
function tempDir(t: { teardown(fn: () => unknown): void }, files: Record<string, string> = {}): string {
  const dir = mkdtempSync(joinPath(tmpdir(), "daggr-engine-test-"));
  for (const [name, text] of Object.entries(files)) writeFileSync(joinPath(dir, name), text);
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** a → (b, c) → d: a diamond, with counters of how often each node ran. */
function diamond() {
  const runs = { a: 0, b: 0, c: 0, d: 0 };
  const a = new FnNode(({ text }) => (runs.a++, text.toUpperCase()), { name: "a", inputs: { text: gr.Textbox({ value: "x" }) }, outputs: { up: gr.Textbox() } });
  const b = new FnNode(({ v }) => (runs.b++, `${v}!`), { name: "b", inputs: { v: a.out.up }, outputs: { v: gr.Textbox() } });
  const c = new FnNode(({ v }) => (runs.c++, `${v}?`), { name: "c", inputs: { v: a.out.up }, outputs: { v: gr.Textbox() } });
  const d = new FnNode(({ l, r }) => (runs.d++, `${l}${r}`), { name: "d", inputs: { l: b.out.v, r: c.out.v }, outputs: { v: gr.Textbox() } });
  return { runs, a, b, c, d, graph: new Graph({ name: "diamond", nodes: [d] }) };
}

t.test("a result record holds id, key, own inputs, upstream result ids, outputs, status and timing", async (t) => {
  const { a, b, graph } = diamond();
  const { s } = await open(graph);
  await s.run(b, { mode: "to-here" });
  const rec = s.selected(b)!;
  t.match(rec, { nodeId: "b", status: "success", inputs: {}, outputs: { v: "X!" }, upstream: { v: s.selected(a)!.id } });
  t.type(rec.id, "string");
  t.type(rec.key, "string");
  t.type(rec.startedAt, "number");
  t.type(rec.ms, "number");
  t.same(s.selected(a)!.inputs, { text: "x" });
});

t.test("recipe keys use upstream values: an upstream rerun with the same value keeps downstream fresh", async (t) => {
  let n = 0;
  const src = new FnNode(({ mode }) => (mode === "same" ? "constant" : `v${++n}`), { name: "src", inputs: { mode: gr.Textbox({ value: "same" }) }, outputs: { v: null } });
  const down = new FnNode(({ v }) => v.length, { name: "down", inputs: { v: src.out.v }, outputs: { n: gr.Number() } });
  const { s } = await open(new Graph({ name: "g", nodes: [down], autorun: false }));
  await s.run(down);
  const key = s.currentKey(down);
  await s.run(src, { mode: "step" }); // a new sample with the same value
  t.equal(s.currentKey(down), key, "same upstream value, same key");
  t.equal(s.nodeState(down).freshness, "fresh");
  s.set(src.in.mode, "vary");
  await s.run(src, { mode: "step" });
  t.not(s.currentKey(down), key, "a different upstream value changes the key");
  t.equal(s.nodeState(down).freshness, "stale");
});

t.test("the fingerprint covers an FnNode's source: editing the function makes its results stale", async (t) => {
  const store = new MemoryStore();
  const v1 = new FnNode(({ x }) => x + 1, { name: "f", inputs: { x: gr.Number({ value: 1 }) } });
  const s1 = await new Graph({ name: "g", nodes: [v1] }).session({ store });
  await s1.run(v1);
  t.equal(s1.nodeState(v1).freshness, "fresh");
  await s1.close();
  const same = new FnNode(({ x }) => x + 1, { name: "f", inputs: { x: gr.Number({ value: 1 }) } });
  const s2 = await new Graph({ name: "g", nodes: [same] }).session({ store, sheet: s1.sheetId });
  t.equal(s2.nodeState(same).freshness, "fresh", "same source after a reload: still fresh");
  await s2.close();
  const edited = new FnNode(({ x }) => x + 2, { name: "f", inputs: { x: gr.Number({ value: 1 }) } });
  const s3 = await new Graph({ name: "g", nodes: [edited] }).session({ store, sheet: s1.sheetId });
  t.equal(s3.nodeState(edited).freshness, "stale", "edited source: stale");
  await s3.close();
});

t.test("freshness: a node is fresh when its selection matches its key; an edge when it consumed the upstream's selection", async (t) => {
  const { a, b, d, graph } = diamond();
  const { s, events } = await open(graph);
  t.equal(s.nodeState(d).freshness, "empty");
  await s.run(d);
  for (const n of ["a", "b", "c", "d"]) t.equal(s.nodeState(n).freshness, "fresh", `${n} fresh`);
  t.ok(s.edgeFresh("a.up->b.v"));
  await s.run(a, { mode: "step" }); // same value, new result: b consumed the old one
  t.notOk(s.edgeFresh("a.up->b.v"), "edge stale: b's result consumed a's previous result");
  t.equal(s.nodeState(b).freshness, "fresh", "node still fresh: same value, same key");
  const changes = events.filter((e): e is Extract<EngineEvent, { type: "freshness-changed" }> => e.type === "freshness-changed");
  t.ok(changes.some((e) => e.edges["a.up->b.v"] === false), "freshness-changed carries edge deltas");
});

t.test("editing an input makes everything downstream stale at once, before any rerun", async (t) => {
  const { a, graph } = diamond();
  const { s } = await open(graph, 50);
  await s.run("d");
  s.set(a.in.text, "y");
  t.same(["a", "b", "c", "d"].map((n) => s.nodeState(n).freshness), ["stale", "stale", "stale", "stale"]);
  await s.settled();
  t.same(["a", "b", "c", "d"].map((n) => s.nodeState(n).freshness), ["fresh", "fresh", "fresh", "fresh"]);
});

t.test("glitch-free: one edit runs each affected node once, the diamond's join once", async (t) => {
  const { runs, a, d, graph } = diamond();
  const { s } = await open(graph);
  await s.run(d);
  const seen: unknown[] = [];
  s.value(d.out.v).subscribe((v) => seen.push(v));
  s.set(a.in.text, "q");
  await s.settled();
  t.same(runs, { a: 2, b: 2, c: 2, d: 2 });
  t.same(seen, ["X!X?", "Q!Q?"], "subscribers see the old value, then the new one, nothing between");
});

t.test("autorun edits are debounced: three quick edits cause one recompute", async (t) => {
  const { runs, a, d, graph } = diamond();
  const { s } = await open(graph, 30);
  await s.run(d);
  s.set(a.in.text, "1");
  s.set(a.in.text, "12");
  s.set(a.in.text, "123");
  await s.settled();
  t.same(runs, { a: 2, b: 2, c: 2, d: 2 });
  t.equal(s.get(d.out.v), "123!123?");
});

t.test("a newer edit cancels the older recompute (its signal aborts) and wins", async (t) => {
  const aborted: string[] = [];
  const slow = new FnNode(
    async ({ text }, { signal }) => {
      signal.addEventListener("abort", () => aborted.push(text));
      // "first" answers only once it is cancelled (no clock: were it never cancelled, the test's timeout fails it).
      if (text === "first") await new Promise((r) => signal.addEventListener("abort", r));
      return text;
    },
    { name: "slow", inputs: { text: gr.Textbox() }, outputs: { v: gr.Textbox() } },
  );
  const { s } = await open(new Graph({ name: "g", nodes: [slow] }));
  s.set(slow.in.text, "first");
  await nextEvent(s, "node-started", "slow");
  s.set(slow.in.text, "second");
  await s.settled();
  t.same(aborted, ["first"]);
  t.equal(s.get(slow.out.v), "second");
  const history = await s.history(slow);
  t.same(history.results.map((r) => r.status), ["success", "cancelled"], "the cancelled run is recorded");
});

t.test("autorun is off for remote kinds: editing upstream leaves them stale and does not run them", async (t) => {
  let ran = 0;
  const a = new FnNode(({ x }) => x, { name: "a", inputs: { x: gr.Number({ value: 1 }) }, outputs: { x: null } });
  const manual = new FnNode(({ x }) => (ran++, x * 2), { name: "manual", inputs: { x: a.out.x }, autorun: false, outputs: { y: null } });
  const after = new FnNode(({ y }) => y + 1, { name: "after", inputs: { y: manual.out.y }, outputs: { z: gr.Number() } });
  const { s } = await open(new Graph({ name: "g", nodes: [after] }));
  await s.run(after);
  s.set(a.in.x, 5);
  await s.settled();
  t.equal(ran, 1, "the non-autorun node did not rerun");
  t.equal(s.nodeState(a).freshness, "fresh", "autorun upstream recomputed");
  t.equal(s.nodeState(manual).freshness, "stale");
  t.equal(s.nodeState(after).freshness, "stale", "and what reads from it waits, stale");
  t.equal(new Graph({ name: "r", nodes: [new GradioNode("a/b")] }).autorunOf(new GradioNode("a/b")), false);
});

t.test("run modes: step runs the node alone on selected (even stale) upstream values", async (t) => {
  const { runs, a, b, d, graph } = diamond();
  const { s } = await open(graph, 10_000);
  await s.run(d);
  s.set(a.in.text, "new"); // a is stale now; long debounce, so no autorun
  const summary = await s.run(b, { mode: "step" });
  t.same(summary.nodes, { b: "ran" });
  t.equal(s.get(b.out.v), "X!", "used a's selected value");
  t.equal(runs.a, 1);
  const c2 = new FnNode(({ v }) => v, { name: "lonely", inputs: { v: new FnNode(() => 1, { name: "never" }).out.output } });
  const s2 = (await open(new Graph({ name: "g2", nodes: [c2] }))).s;
  const res = await s2.run(c2, { mode: "step" });
  t.same(res.nodes, { lonely: "failed" });
  t.equal(s2.nodeState(c2).error!.code, "E_UPSTREAM_MISSING");
  t.match(s2.nodeState(c2).error!.message, /to-here/);
});

t.test("run modes: to-here reuses fresh ancestors and runs only stale ones, then the target anew", async (t) => {
  const { runs, a, b, c, d, graph } = diamond();
  const { s } = await open(graph, 10_000);
  t.same((await s.run(d)).nodes, { a: "ran", b: "ran", c: "ran", d: "ran" });
  t.same((await s.run(d)).nodes, { a: "reused", b: "reused", c: "reused", d: "ran" }, "an explicit run always executes the target anew");
  await s.run(c, { mode: "step" }); // new sample of c (same value), d's edge goes stale but d's key is unchanged
  s.set(a.in.text, "y");
  const summary = await s.run(b);
  t.same(summary.nodes, { a: "ran", b: "ran" });
  t.equal(s.nodeState(c).freshness, "stale");
  s.set(a.in.text, "x"); // back to the first value: a's stored result matches the key again
  const back = await s.run(d);
  t.same(back.nodes, { a: "cached", b: "cached", c: "reused", d: "ran" }, "ancestors whose key has a stored success are restored from the cache; c's selection matched again");
  t.same(runs, { a: 2, b: 2, c: 2, d: 3 });
});

t.test("run modes: all brings every stale node of the subgraph up to date", async (t) => {
  const { runs, a, d, graph } = diamond();
  const { s } = await open(graph, 10_000);
  await s.run(undefined, { mode: "all" });
  t.same(runs, { a: 1, b: 1, c: 1, d: 1 });
  s.set(a.in.text, "z");
  t.same((await s.run(d, { mode: "all" })).nodes, { a: "ran", b: "ran", c: "ran", d: "ran" });
  t.same((await s.run(d, { mode: "all" })).nodes, { a: "reused", b: "reused", c: "reused", d: "reused" }, "nothing stale, nothing runs");
  t.throws(() => s.run(d, { mode: "sideways" as never }), { code: "E_BAD_OPTION" });
});

t.test("selecting an old result restores its inputs and upstream selections, and cascades downstream", async (t) => {
  const { a, b, d, graph } = diamond();
  const { s } = await open(graph);
  await s.run(d);
  const oldB = s.selected(b)!;
  const oldD = s.selected(d)!;
  s.set(a.in.text, "second");
  await s.settled();
  t.equal(s.get(d.out.v), "SECOND!SECOND?");
  await s.select(b, oldB.id);
  t.equal(s.get(a.in.text), "x", "b's upstream chain restored a's input");
  t.equal(s.selected(a)!.id, oldB.upstream.v, "and selected the a result b consumed");
  t.equal(s.selected(d)!.id, oldD.id, "d re-selected its result matching the restored keys (cascade)");
  t.equal(s.get(d.out.v), "X!X?");
  for (const n of ["a", "b", "c", "d"]) t.equal(s.nodeState(n).freshness, "fresh", `${n} fresh after restore`);
  await t.rejects(s.select(b, "nope"), { code: "E_UNKNOWN_RESULT" });
});

t.test("restoring with no matching downstream result leaves downstream stale", async (t) => {
  const { a, b, c, d, graph } = diamond();
  const { s } = await open(graph, 10_000);
  await s.run(b); // a, b only
  const oldA = s.selected(a)!;
  s.set(a.in.text, "two");
  await s.run(d); // all on "two"
  await s.select(a, oldA.id);
  t.equal(s.selected(b)!.upstream.v, oldA.id, "b matched its old result");
  t.equal(s.nodeState(c).freshness, "stale", "c never ran on the old value: stale");
  t.equal(s.nodeState(d).freshness, "stale");
});

t.test("parallelism: ready concurrent nodes run at once; plain FnNodes one at a time per process", async (t) => {
  // Concurrent workers wait until all six have started (a barrier, no clock: run one at a
  // time, the first would wait forever and the test's timeout fails it); the others hold a
  // moment, so that any two the engine ran together would overlap.
  const probe = (concurrent: boolean) => {
    let active = 0;
    let peak = 0;
    let allStarted!: () => void;
    const together = new Promise<void>((r) => (allStarted = r));
    const src = new FnNode(() => 1, { name: "src", outputs: { v: null } });
    const workers = Array.from({ length: 6 }, (_, i) =>
      new FnNode(async ({ v }) => {
        peak = Math.max(peak, ++active);
        if (active === 6) allStarted();
        await (concurrent ? together : sleep(20));
        active--;
        return v + i;
      }, { name: `w${i}`, inputs: { v: src.out.v }, concurrent, outputs: { v: null } }),
    );
    const join = new FnNode((vals) => Object.values(vals).reduce((x: number, y) => x + (y as number), 0), {
      name: "join",
      inputs: Object.fromEntries(workers.map((w, i) => [`i${i}`, w.out.v])),
      outputs: { sum: gr.Number() },
    });
    return { graph: new Graph({ name: "p", nodes: [join] }), peak: () => peak, join };
  };
  const par = probe(true);
  await (await open(par.graph)).s.run(par.join);
  t.equal(par.peak(), 6, "concurrent FnNodes all ran at once");
  const ser = probe(false);
  await (await open(ser.graph)).s.run(ser.join);
  t.equal(ser.peak(), 1, "non-concurrent FnNodes ran one at a time");
});

t.test("concurrencyGroup + maxConcurrent is a process-wide limit, shared across sessions", async (t) => {
  // A call waits until it runs beside another one, or until all eight have started (no
  // clock): two at once is reached whatever the machine's speed, and a leaking limit lets
  // a third start while two wait.
  let active = 0;
  let peak = 0;
  let started = 0;
  const waiting: Array<() => void> = [];
  const check = () => {
    if (active >= 2 || started === 8) for (const w of waiting.splice(0)) w();
  };
  const make = (prefix: string) => {
    const nodes = Array.from({ length: 4 }, (_, i) =>
      new FnNode(async () => {
        peak = Math.max(peak, ++active);
        started++;
        const paired = new Promise<void>((r) => waiting.push(r));
        check();
        await paired;
        active--;
        return i;
      }, { name: `${prefix}${i}`, concurrent: true, concurrencyGroup: "gpu", maxConcurrent: 2, outputs: { v: null } }),
    );
    return new Graph({ name: prefix, nodes });
  };
  const [one, two] = await Promise.all([open(make("x")), open(make("y"))]);
  await Promise.all([one.s.run(undefined, { mode: "all" }), two.s.run(undefined, { mode: "all" })]);
  t.equal(peak, 2);
});

t.test("cancellation: the executor's AbortSignal fires; a cancelled result is recorded but never a cache hit", async (t) => {
  let calls = 0;
  let sawAbort = false;
  let listening!: () => void;
  const waitingOnSignal = new Promise<void>((r) => (listening = r));
  const f = new FnNode(
    async (_i, { signal }) => {
      calls++;
      if (calls === 1) {
        const aborted = new Promise((resolve) => signal.addEventListener("abort", resolve));
        listening();
        await aborted;
        sawAbort = true;
        throw signal.reason;
      }
      return "done";
    },
    { name: "f", concurrent: true, outputs: { v: gr.Textbox() } },
  );
  const { s } = await open(new Graph({ name: "g", nodes: [f] }));
  const running = s.run(f);
  const started = await nextEvent(s, "node-started", "f");
  await waitingOnSignal; // the function is waiting on its signal
  t.ok(s.cancel(started.runId));
  const summary = await running;
  t.equal(summary.status, "cancelled");
  t.same(summary.nodes, { f: "cancelled" });
  t.ok(sawAbort);
  t.equal(s.nodeState(f).activity, "cancelled");
  t.equal(s.nodeState(f).freshness, "empty");
  const again = await s.run(undefined, { mode: "all" });
  t.same(again.nodes, { f: "ran" }, "the same key reran: the cancelled record was not reused");
  t.equal(s.get(f.out.v), "done");
  t.equal((await s.history(f)).total, 2);
});

t.test("a mapped node's items share one abort listener on its execution's signal: no leak warning, and a cancel still stops every item", async (t) => {
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
  process.on("warning", onWarning);
  t.teardown(() => void process.off("warning", onWarning));
  const width = 30;
  let started = 0;
  let allStarted!: () => void;
  const inFlight = new Promise<void>((r) => (allStarted = r));
  let listeners = 0;
  const src = new FnNode(() => Array.from({ length: width }, (_, i) => i), { name: "src", outputs: { xs: null } });
  // timeoutMs gives the execution a signal of its own (the run's, the deadline's): the one every item gets.
  const each = new FnNode(
    async ({ x }, { signal }) => {
      if (++started === width) {
        listeners = getEventListeners(signal, "abort").length;
        allStarted();
      }
      await new Promise(() => {}); // never ends by itself
      return x;
    },
    { name: "each", inputs: { x: src.out.xs.each }, concurrent: true, timeoutMs: 60_000, outputs: { y: null } },
  );
  const { s } = await open(new Graph({ name: "g", nodes: [each] }));
  const running = s.run(each, { mode: "to-here" });
  const { runId } = await nextEvent(s, "node-started", "each");
  await inFlight;
  t.ok(listeners <= 2, `${width} items in flight, ${listeners} abort listener(s) on their shared signal`);
  t.ok(s.cancel(runId), "the run is cancelled");
  const summary = await running;
  t.equal(summary.status, "cancelled");
  t.same(summary.nodes.each, "cancelled", "every item stopped, though none listened");
  await new Promise((r) => setImmediate(r)); // a warning is emitted on the next tick
  t.same(warnings.filter((w) => /MaxListeners/.test(w)), [], "no leak warning");
});

t.test("cancelNode stops a node that ignores its signal at once, but keeps its slot until it really ends", async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const log: string[] = [];
  const f = new FnNode(async () => (await gate, log.push("stubborn returned"), "late"), { name: "stubborn", outputs: { v: null } });
  const other = new FnNode(() => (log.push("other ran"), "other"), { name: "other", outputs: { v: null } });
  const { s } = await open(new Graph({ name: "g", nodes: [f, other] }));
  const running = s.run(f);
  await nextEvent(s, "node-started", "stubborn");
  s.cancelNode(f);
  await running;
  t.same(log, [], "cancelled at once: the run ended while the function was still running");
  t.equal(s.nodeState(f).activity, "cancelled");
  const queued = nextEvent(s, "node-queued", "other");
  const next = s.run(other);
  await queued;
  t.same(log, [], "the next FnNode waits for the slot the stubborn function still holds");
  release();
  await next;
  t.same(log, ["stubborn returned", "other ran"], "and runs once it returned");
});

t.test("a failure stops only its dependants", async (t) => {
  const src = new FnNode(() => 1, { name: "src", outputs: { v: null } });
  const bad = new FnNode(() => {
    throw new Error("kaboom");
  }, { name: "bad", inputs: { v: src.out.v }, outputs: { v: null } });
  const good = new FnNode(({ v }) => v + 1, { name: "good", inputs: { v: src.out.v }, outputs: { v: null } });
  const afterBad = new FnNode(({ v }) => v, { name: "afterBad", inputs: { v: bad.out.v }, outputs: { v: null } });
  const afterGood = new FnNode(({ v }) => v, { name: "afterGood", inputs: { v: good.out.v }, outputs: { v: null } });
  const { s, events } = await open(new Graph({ name: "g", nodes: [afterBad, afterGood] }));
  const summary = await s.run(undefined, { mode: "all" });
  t.same(summary.nodes, { src: "ran", bad: "failed", good: "ran", afterBad: "blocked", afterGood: "ran" });
  t.equal(summary.status, "failed");
  t.equal(s.nodeState(bad).error!.message, "kaboom");
  t.ok(events.some((e) => e.type === "node-blocked" && e.nodeId === "afterBad" && /bad/.test(e.reason)));
  const failed = (await s.history(bad)).results[0]!;
  t.equal(failed.status, "failed");
  t.equal(await s.store.findByKey(s.sheetId, "bad", failed.key), undefined, "failed results are never cache hits");
});

t.test("a plan runs the same whether it covers the graph, much of it or a sliver: failures block only their in-plan dependants", async (t) => {
  // The scheduler keeps a whole or large plan's counts in typed arrays and a small one's in
  // maps: the same chain with a failing middle is planned at each size.
  for (const extra of [0, 2, 40]) {
    const src = new FnNode(({ k }: { k: number }) => k, { name: "src", inputs: { k: gr.Number({ value: 1 }) }, outputs: { v: null } });
    const bad = new FnNode(({ v }: { v: number }) => {
      if (v > 1) throw new Error("kaboom");
      return v;
    }, { name: "bad", inputs: { v: src.out.v }, outputs: { v: null } });
    const side = new FnNode(({ v }: { v: number }) => v + 1, { name: "side", inputs: { v: src.out.v }, outputs: { v: null } });
    const end = new FnNode(({ a, b }: { a: number; b: number }) => a + b, { name: "end", inputs: { a: bad.out.v, b: side.out.v }, outputs: { v: null } });
    // Unrelated nodes make the chain a smaller part of the graph.
    const others = Array.from({ length: extra }, (_, i) => new FnNode(() => i, { name: `other${i}`, outputs: { v: null } }));
    const { s } = await open(new Graph({ name: "g", nodes: [end, ...others], autorun: false }));
    const all = await s.run(undefined, { mode: "all" });
    t.equal(all.status, "done", `${extra} others: the whole graph runs`);
    t.equal(Object.keys(all.nodes).length, 4 + extra);
    s.set(src.in.k, 2);
    const toHere = await s.run(end, { mode: "to-here" });
    t.same(toHere.nodes, { src: "ran", bad: "failed", side: "ran", end: "blocked" }, `${extra} others: only the plan's nodes, the failure blocks its dependant`);
    for (const o of others) t.equal(s.nodeState(o).count, 1, `${extra} others: outside the plan, not run again`);
    s.set(src.in.k, 1);
    const again = await s.run(end, { mode: "to-here" });
    // bad kept its first result selected (a failure is never selected): it is fresh again.
    // The target of a to-here run always runs anew.
    t.same(again.nodes, { src: "cached", bad: "reused", side: "cached", end: "ran" }, `${extra} others: back to the first values: cache hits, a reuse, the target anew`);
  }
});

t.test("async-generator FnNodes stream partial outputs, then the final one", async (t) => {
  const stream = new FnNode(
    async function* ({ text }) {
      let acc = "";
      for (const w of text.split(" ")) {
        acc += (acc ? " " : "") + w;
        yield acc;
      }
    },
    { name: "stream", inputs: { text: gr.Textbox({ value: "one two three" }) }, outputs: { text: gr.Textbox() } },
  );
  const { s, events } = await open(new Graph({ name: "g", nodes: [stream] }));
  await s.run(stream);
  const partials = events.filter((e): e is Extract<EngineEvent, { type: "node-partial" }> => e.type === "node-partial").map((e) => e.outputs.text);
  t.same(partials, ["one", "one two", "one two three"]);
  t.equal(s.get(stream.out.text), "one two three");
});

t.test("ctx.progress(fraction, text) reaches the node's state and the event stream", async (t) => {
  const f = new FnNode(async (_i, ctx) => {
    ctx.progress(0.5, "halfway");
    await sleep(1);
    return 1;
  }, { name: "f", outputs: { v: null } });
  const { s, events } = await open(new Graph({ name: "g", nodes: [f] }));
  const states: unknown[] = [];
  s.state(f).subscribe((st) => st.progress && states.push(st.progress));
  await s.run(f);
  t.ok(events.some((e) => e.type === "node-progress" && e.progress.fraction === 0.5 && e.progress.text === "halfway"));
  t.same(states, [{ fraction: 0.5, text: "halfway" }]);
});

t.test("one closed event union: a run emits only known event types, in order", async (t) => {
  const { d, graph } = diamond();
  const { s, events } = await open(graph);
  await s.run(d);
  const known = new Set(["run-started", "run-finished", "node-queued", "node-started", "node-progress", "node-partial", "node-cached", "node-completed", "node-failed", "node-cancelled", "node-blocked", "input-changed", "selection-changed", "freshness-changed"]);
  t.ok(events.every((e) => known.has(e.type)));
  t.equal(events[0]!.type, "run-started");
  t.equal(events.at(-1)!.type, "run-finished");
  const order = events.filter((e) => e.type === "node-completed").map((e) => (e as { nodeId: string }).nodeId);
  t.equal(order[0], "a");
  t.equal(order.at(-1), "d");
});

t.test("a timeoutMs stops a slow node with a readable error", async (t) => {
  const f = new FnNode(async (_i, { signal }) => {
    await new Promise((r) => signal.addEventListener("abort", r));
    return 1;
  }, { name: "f", timeoutMs: 20, concurrent: true, outputs: { v: null } });
  const { s } = await open(new Graph({ name: "g", nodes: [f] }));
  await s.run(f);
  t.equal(s.nodeState(f).error!.code, "E_TIMEOUT");
});

t.test("primary.fallback(backup) runs the backup when the primary fails, and records who served", async (t) => {
  const primary = new FnNode(() => {
    throw new Error("quota");
  }, { name: "primary", inputs: { p: gr.Textbox({ value: "cat" }) }, outputs: { img: gr.Textbox() } });
  const backup = new FnNode(({ p }) => `backup:${p}`, { name: "backup", inputs: { p: "dog" }, outputs: { img: gr.Textbox() } });
  primary.fallback(backup);
  const { s } = await open(new Graph({ name: "g", nodes: [primary] }));
  await s.run(primary);
  t.equal(s.get(primary.out.img), "backup:dog");
  t.equal(s.selected(primary)!.servedBy, "backup");
  t.throws(() => primary.fallback(new FnNode(() => 1, { name: "x", outputs: { other: null } })), { code: "E_BAD_OPTION" });
});

t.test("file outputs are copied into the content-addressed files store", async (t) => {
  const dir = tempDir(t, { "pic.png": "not really a png" });
  const f = new FnNode(() => `${dir}/pic.png`, { name: "f", outputs: { image: gr.Image() } });
  const { s, store } = await open(new Graph({ name: "g", nodes: [f] }));
  await s.run(f);
  const path = s.get(f.out.image) as string;
  t.match(path, /\/[0-9a-f]{64}$/);
  const meta = await store.fileForPath(path);
  t.equal(meta!.mime, "image/png");
  t.equal(meta!.name, "pic.png");
  t.same(s.selected(f)!.files, [meta!.id]);
  const missing = new FnNode(() => "/definitely/not/here.png", { name: "m", outputs: { image: gr.Image() } });
  const s2 = (await open(new Graph({ name: "g2", nodes: [missing] }))).s;
  await s2.run(missing);
  t.match(s2.nodeState(missing).error!.message, /could not be read/);
});

t.test("on LevelDB, a sheet's inputs, selections, history and freshness survive a restart", async (t) => {
  const { openStore } = await import("../lib/store/index.js");
  const home = tempDir(t);
  const make = () => {
    const a = new FnNode(({ text }) => text.toUpperCase(), { name: "a", inputs: { text: gr.Textbox({ value: "one" }) }, outputs: { up: gr.Textbox() } });
    const b = new FnNode(({ v }) => `${v}!`, { name: "b", inputs: { v: a.out.up }, outputs: { v: gr.Textbox() } });
    return { a, b, graph: new Graph({ name: "Persisted app", nodes: [b] }) };
  };
  const first = make();
  let store = await openStore({ home, persistKey: "persisted_app" });
  let s = await first.graph.session({ store, debounceMs: 5 });
  await s.run(first.b);
  s.set(first.a.in.text, "two");
  await s.settled();
  const sheet = s.sheetId;
  const oldA = (await s.history(first.a)).results.at(-1)!;
  await s.close();
  await store.close();

  const second = make();
  store = await openStore({ home, persistKey: "persisted_app" });
  s = await second.graph.session({ store, sheet });
  t.equal(s.get(second.a.in.text), "two");
  t.equal(s.get(second.b.out.v), "TWO!");
  t.equal(s.nodeState(second.b).freshness, "fresh");
  t.equal(s.nodeState(second.a).count, 2, "history counts survive");
  await s.select(second.a, oldA.id);
  t.equal(s.get(second.b.out.v), "ONE!", "an old result restores across a restart, cascading");
  await s.close();
  await store.close();
});

t.test("session.validate() shows each node's start-up problem on the node", async (t) => {
  const { registerExecutor } = await import("../lib/index.js");
  const { fnExecutor } = await import("../lib/nodes/fn.js");
  // An FnNode kind whose check fails, to exercise the mechanism without the network.
  registerExecutor("fn", { ...fnExecutor, validate: async (n) => { if (n.id === "bad") throw Object.assign(new Error("unknown endpoint '/predcit'"), { code: "E_UNKNOWN_ENDPOINT" }); } });
  try {
    const bad = new FnNode(() => 1, { name: "bad" });
    const good = new FnNode(() => 1, { name: "good" });
    const { s, events } = await open(new Graph({ name: "v", nodes: [bad, good] }));
    const problems = await s.validate();
    t.same(Object.keys(problems), ["bad"]);
    t.equal(s.nodeState(bad).error!.code, "E_UNKNOWN_ENDPOINT");
    t.equal(s.nodeState(good).error, undefined);
    t.ok(events.some((e) => e.type === "node-invalid" && e.nodeId === "bad"));
  } finally {
    registerExecutor("fn", fnExecutor);
  }
});

t.test("session.start() returns the run id at once; autorunEmpty() computes empty autorun nodes only", async (t) => {
  let remoteRuns = 0;
  const a = new FnNode(({ x }) => x * 2, { name: "a", inputs: { x: gr.Number({ value: 2 }) }, outputs: { y: gr.Number() } });
  const manual = new FnNode(({ y }) => (remoteRuns++, y), { name: "manual", inputs: { y: a.out.y }, autorun: false, outputs: { z: null } });
  const { s, events } = await open(new Graph({ name: "g", nodes: [manual] }));
  s.autorunEmpty();
  await s.settled();
  t.equal(s.get(a.out.y), 4, "the empty autorun node computed");
  t.equal(remoteRuns, 0, "a node with autorun off did not");
  const { runId, done } = s.start(manual, { mode: "step" });
  t.ok(events.some((e) => e.type === "run-started" && e.runId === runId));
  t.equal((await done).runId, runId);
});

t.test("settled() ends when the session closes with an autorun pending (the server hung at exit on it)", { timeout: 20_000 }, async (t) => {
  // The server waits for settled() when the last tab leaves, and closes the session at
  // shutdown: with the debounce of runOnOpen still pending, settled() used to poll forever.
  const a = new FnNode(({ x }) => x * 2, { name: "a", inputs: { x: gr.Number({ value: 2 }) }, outputs: { y: gr.Number() } });
  const { s } = await open(new Graph({ name: "g", nodes: [a] }), 1_000);
  s.autorunEmpty();
  const settled = s.settled();
  await s.close();
  await settled;
  t.pass("settled() resolved once the session closed");
});

t.test("a session that is closing is never handed out again", async (t) => {
  const f = new FnNode(async () => (await sleep(30), 1), { name: "f", concurrent: true });
  const g = new Graph({ name: "g", nodes: [f] });
  const store = new MemoryStore();
  const first = await g.session({ store });
  void first.run(f);
  const closing = first.close();
  const second = await g.session({ store, sheet: first.sheetId });
  t.not(second, first);
  await closing;
  t.same((await second.run(f)).nodes, { f: "ran" }, "the new session works");
  await second.close();
});

/** Settings(title, zoom) → Render(zoom) → Histogram → Caption(title, Histogram), as in the demo. */
function captioned() {
  const settings = new InputNode({ name: "settings", ports: { title: gr.Textbox({ value: "first" }), zoom: gr.Number({ value: 10 }) } });
  const render = new FnNode(({ zoom }) => `render@${zoom}`, { name: "render", inputs: { zoom: settings.out.zoom }, outputs: { image: gr.Textbox() } });
  const histogram = new FnNode(({ image }) => `hist(${image})`, { name: "histogram", inputs: { image: render.out.image }, outputs: { bins: gr.Textbox() } });
  const caption = new FnNode(({ title, bins }) => `${title}: ${bins}`, { name: "caption", inputs: { title: settings.out.title, bins: histogram.out.bins }, outputs: { text: gr.Textbox() } });
  return { settings, render, histogram, caption, graph: new Graph({ name: "captioned", nodes: [caption] }) };
}

t.test("session.select(node, result) restores the inputs the node consumed directly, not an older one reached through a longer path", async (t) => {
  const { settings, render, caption, graph } = captioned();
  const { s } = await open(graph);
  await s.run(caption, { mode: "all" });
  const oldCaption = s.selected(caption)!;
  s.set(settings.in.title, "second");
  await s.settled();
  const newCaption = s.selected(caption)!;
  t.not(newCaption.id, oldCaption.id, "the title edit made a second caption");
  t.not(s.selected(render)!.upstream.zoom, newCaption.upstream.title, "render consumed an older settings result than the new caption did");

  await s.select(caption, newCaption.id);
  t.equal(s.get(settings.in.title), "second", "the newer caption's own title comes back");
  t.equal(s.selected(settings)!.id, newCaption.upstream.title, "settings selects the result caption consumed directly");
  t.equal(s.nodeState(caption).freshness, "fresh", "caption is fresh right after its own restore");

  await s.select(caption, oldCaption.id);
  t.equal(s.get(settings.in.title), "first", "the older caption restores the older title");
  t.equal(s.nodeState(caption).freshness, "fresh");
});

t.test("session.select() on a diamond chooses each node once: at equal distance the newer result wins", async (t) => {
  // a → (b, c) → d where b and c consumed different results of a.
  const { a, b, c, d, graph } = diamond();
  const { s } = await open(graph, 10_000);
  await s.run(d, { mode: "all" });
  s.set(a.in.text, "two");
  await s.run(c, { mode: "to-here" }); // a and c on "two"; b still on "x"
  await s.run(d, { mode: "step" }); // d consumes b(x) and c(two)
  const mixed = s.selected(d)!;
  const aOfB = (await s.store.getResult(s.sheetId, mixed.upstream.l!))!.upstream.v;
  const aOfC = (await s.store.getResult(s.sheetId, mixed.upstream.r!))!.upstream.v;
  t.not(aOfB, aOfC, "b and c consumed different results of a");
  s.set(a.in.text, "three");
  await s.run(d, { mode: "all" });
  await s.select(d, mixed.id);
  t.equal(s.selected(b)!.id, mixed.upstream.l, "b: the result d consumed");
  t.equal(s.selected(c)!.id, mixed.upstream.r, "c: the result d consumed");
  t.equal(s.selected(a)!.id, aOfC, "a: of the two at equal distance, the newer (c's)");
  t.equal(s.get(a.in.text), "two", "and its input");
  t.equal(s.nodeState(b).freshness, "stale", "b consumed the other a result: stale, honestly");
});

/** A chain of `n` sync FnNodes, each adding one to its parent's value; the last node is returned. */
function chain(n: number): FnNode {
  let prev: FnNode | undefined;
  for (let i = 0; i < n; i++) {
    const inputs: Record<string, unknown> = prev ? { x: prev.out.v } : { seed: gr.Number({ value: 0 }) };
    prev = new FnNode((xs: Record<string, any>) => (xs.x ?? xs.seed ?? 0) + 1, { name: `n${i}`, inputs, outputs: { v: null } });
  }
  return prev!;
}

t.test("a 20,000-deep chain built from its last node opens, runs and restores (no recursion on depth)", async (t) => {
  // Before: collecting the graph recursed once per level and threw RangeError past ~5,600.
  const last = chain(20_000);
  const graph = new Graph({ name: "deep", nodes: [last], autorun: false });
  const { s } = await open(graph);
  const first = await s.run(undefined, { mode: "all" });
  t.equal(first.status, "done");
  t.equal(s.get(last.out.v), 20_000);
  const oldResult = s.selected(last)!;
  s.set("n0__seed", 5);
  t.equal(s.nodeState(last).freshness, "stale", "an edit at the head reaches the tail");
  await s.run(last, { mode: "to-here" });
  t.equal(s.get(last.out.v), 20_005);
  await s.select(last, oldResult.id);
  t.equal(s.inputValues().n0__seed, 0, "the restore walked 20,000 links back to the head's input");
  t.equal(s.nodeState(last).freshness, "fresh");
  await s.close();
});

/** `width` sync parents joined by one node. */
function join(width: number) {
  const parents = Array.from({ length: width }, (_, i) => new FnNode(() => i, { name: `p${i}`, outputs: { v: null } }));
  const j = new FnNode((xs: Record<string, number>) => Object.keys(xs).length, {
    name: "join",
    inputs: Object.fromEntries(parents.map((p, i) => [`p${i}`, p.out.v])),
    outputs: { n: null },
  });
  return { parents, j, graph: new Graph({ name: `join${width}`, nodes: [j] }) };
}

t.test("a wide join costs O(1) per parent that completes: refresh work grows linearly with its width", async (t) => {
  // Counted, not timed: freshness evaluations plus edge checks of whole runs. Before, every
  // parent's completion rescanned all the join's edges and parents: O(width²) per run.
  const perParent: number[] = [];
  for (const width of [100, 3_000]) {
    const { j, graph } = join(width);
    const { s } = await open(graph);
    const before = s.work;
    await s.run(j, { mode: "to-here" });
    await s.run(undefined, { mode: "all" }); // everything fresh: reused
    t.equal(s.get(j.out.n), width);
    perParent.push((s.work - before) / width);
    await s.close();
  }
  t.ok(perParent[1]! <= perParent[0]! * 1.2, `work per parent at 3,000 wide (${perParent[1]}) ~ at 100 wide (${perParent[0]})`);
});

t.test("one parent's new value next to a wide join costs the same at any width: the join's key is not rehashed whole", async (t) => {
  // Counted, not timed: freshness evaluations, edge checks and reads hashed into keys.
  const perStep: number[] = [];
  for (const width of [100, 3_000]) {
    const parents = Array.from({ length: width }, (_, i) =>
      new FnNode(({ k }: { k: number }) => k + i, { name: `p${i}`, inputs: { k: gr.Number({ value: 0 }) }, outputs: { v: null } }),
    );
    const j = new FnNode((xs: Record<string, number>) => xs.p1, {
      name: "join",
      inputs: Object.fromEntries(parents.map((p, i) => [`p${i}`, p.out.v])),
      outputs: { n: null },
    });
    const { s } = await open(new Graph({ name: `steps${width}`, nodes: [j], autorun: false }));
    await s.run(j, { mode: "to-here" });
    t.equal(s.nodeState(j).freshness, "fresh");
    const p = parents[1]!;
    const before = s.work;
    for (const k of [5, 6, 7]) {
      s.set(p.in.k, k);
      await s.run(p, { mode: "step" });
      t.equal(s.nodeState(j).freshness, "stale", `the join reads p1 = ${k + 1} now, not 1`);
    }
    perStep.push((s.work - before) / 3);
    // p1 back at its first value: the join's key is its selected result's again.
    s.set(p.in.k, 0);
    await s.run(p, { mode: "step" });
    t.equal(s.nodeState(j).freshness, "fresh", "the join is fresh again once p1 is back at the value it consumed");
    t.equal(s.currentKey(j), s.selected(j)!.key, "the full key agrees");
    s.set(p.in.k, 9);
    await s.run(j, { mode: "to-here" });
    t.equal(s.get(j.out.n), 10);
    t.equal(s.nodeState(j).freshness, "fresh");
    await s.close();
  }
  t.ok(perStep[1]! <= perStep[0]!, `work per step at 3,000 wide (${perStep[1]}) <= at 100 wide (${perStep[0]})`);
});

t.test("1,000 concurrent async nodes all run at once, then their join runs once", async (t) => {
  let inFlight = 0;
  let peak = 0;
  let joins = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const workers = Array.from({ length: 1_000 }, (_, i) =>
    new FnNode(async () => {
      peak = Math.max(peak, ++inFlight);
      if (peak === 1_000) release();
      await gate;
      inFlight--;
      return i;
    }, { name: `w${i}`, concurrent: true, outputs: { v: null } }),
  );
  const j = new FnNode((xs: Record<string, number>) => (joins++, Object.values(xs).reduce((a, b) => a + b, 0)), {
    name: "join",
    inputs: Object.fromEntries(workers.map((w, i) => [`w${i}`, w.out.v])),
    outputs: { sum: null },
  });
  const { s } = await open(new Graph({ name: "wide", nodes: [j] }));
  const summary = await s.run(j);
  t.equal(summary.status, "done");
  t.equal(peak, 1_000, "every worker was in flight at once");
  t.equal(joins, 1, "the join ran once, after all of them");
  t.equal(s.get(j.out.sum), (999 * 1000) / 2);
});

t.test("a run's executions follow its cancellation through one list, not a listener each", async (t) => {
  const { RunAbort, NodeAbort } = await import("../lib/engine/abort.js");
  const { getEventListeners } = await import("node:events") as unknown as { getEventListeners(t: EventTarget, type: string): unknown[] };
  const run = new RunAbort();
  const nodes = Array.from({ length: 1_000 }, () => new NodeAbort(run));
  let seen = 0;
  for (const n of nodes) {
    n.signal.addEventListener("abort", () => seen++);
    n.onAbort(() => seen++);
  }
  t.equal(getEventListeners(run.signal, "abort").length, 0, "no listener per execution on the run's signal");
  t.equal(run.following, 1_000);
  nodes[0]!.dispose();
  t.equal(run.following, 999, "an ended execution stops following");
  nodes[999]!.dispose();
  nodes[500]!.dispose();
  nodes[999]!.dispose();
  t.equal(run.following, 997, "the newest, a middle one; ending twice counts once");
  nodes[1]!.abort(new Error("one node"));
  t.ok(nodes[1]!.aborted && !nodes[2]!.aborted, "cancelNode aborts one execution alone");
  run.abort(new Error("the run"));
  t.equal(run.following, 0);
  t.ok(nodes.every((n, i) => n.aborted && n.signal.aborted === ![0, 500, 999].includes(i)), "every live execution aborted; an ended one's signal is left alone");
  t.equal((nodes[2]!.reason as Error).message, "the run");
  t.equal((nodes[1]!.reason as Error).message, "one node", "an execution aborted alone keeps its own reason");
  t.equal(seen, 2 * 997, "each live execution's signal and callback fired once");

  // An execution ending from inside another's abort (one the abort already let go of).
  const other = new RunAbort();
  const [a, b, c] = [new NodeAbort(other), new NodeAbort(other), new NodeAbort(other)];
  const fired: string[] = [];
  a.onAbort(() => (fired.push("a"), c.dispose()));
  b.onAbort(() => fired.push("b"));
  c.onAbort(() => fired.push("c"));
  other.abort(new Error("stop"));
  t.same(fired, ["a", "b"], "oldest first; c ended before its turn");
  t.equal(other.following, 0);
});

/** split(script) → voice(.each) → loud (per item) → mix(.all()), counting each item's calls. */
function itemChain(fromInput: boolean) {
  const calls: string[] = [];
  const script = new InputNode({ name: "script", ports: { text: gr.Textbox({ value: "A: hi\nB: yo\nA: bye" }), lines: gr.JSON({ value: [{ who: "A", line: "hi" }, { who: "B", line: "yo" }] }) } });
  const split = new FnNode(({ text }) => text.split("\n").map((l) => ({ who: l.split(": ")[0], line: l.split(": ")[1] })), { name: "split", inputs: { text: script.out.text }, outputs: { lines: gr.JSON() } });
  const voice = new FnNode(({ line }) => (calls.push(`voice:${line}`), `v(${line})`), { name: "voice", inputs: { line: (fromInput ? script.out.lines : split.out.lines).each("line") }, outputs: { clip: gr.Textbox() } });
  const loud = new FnNode(({ clip }) => (calls.push(`loud:${clip}`), String(clip).toUpperCase()), { name: "loud", inputs: { clip: voice.out.clip }, outputs: { clip: gr.Textbox() } });
  const mix = new FnNode(({ all }) => (calls.push("mix"), all.join("+")), { name: "mix", inputs: { all: loud.out.clip.all() }, outputs: { episode: gr.Textbox() } });
  return { calls, script, split, voice, loud, mix, graph: new Graph({ name: "items", nodes: [mix] }) };
}

t.test("session.editItem(map, i, value) on another node's list: a new result of that node, then only item i's chain reruns", async (t) => {
  const p = itemChain(false);
  const { s } = await open(p.graph);
  await s.run(p.mix);
  const before = s.selected(p.split)!;
  const keys = s.selected(p.voice)!.items!.map((i) => i.key);
  p.calls.length = 0;
  const { done } = s.editItem(p.voice, 1, "YO!");
  const summary = await done;
  await s.settled();
  t.match(summary.nodes, { split: "edited", voice: "ran" });
  const edited = s.selected(p.split)!;
  t.not(edited.id, before.id, "the edit is a new result of split");
  t.same(edited.edited, { from: before.id, port: "lines", index: 1 }, "naming the result it copies");
  t.same(edited.outputs.lines, [{ who: "A", line: "hi" }, { who: "B", line: "YO!" }, { who: "A", line: "bye" }], ".each('line') replaced that field of item 1");
  t.equal(edited.key, before.key, "same recipe key: split stays fresh");
  t.equal(s.nodeState(p.split).freshness, "fresh");
  t.same(p.calls, ["voice:YO!", "loud:v(YO!)", "mix"], "item 1 ran through the chain, the gather gathered again; items 0 and 2 did not run");
  const after = s.selected(p.voice)!.items!.map((i) => i.key);
  t.same(after.map((k, i) => k === keys[i]), [true, false, true]);
  t.equal(s.get(p.mix.out.episode), "V(HI)+V(YO!)+V(BYE)");
  t.equal(s.nodeState(p.mix).freshness, "fresh");
  await s.select(p.split, before.id);
  t.same(s.get(p.split.out.lines), before.outputs.lines, "‹ › goes back to the list before the edit");
});

t.test("session.editItem on an InputNode's list edits that input; a bad index or a node without items is a coded error", async (t) => {
  const p = itemChain(true);
  const { s, events } = await open(p.graph);
  await s.run(p.mix);
  p.calls.length = 0;
  await s.editItem(p.voice, 0, "hello").done;
  await s.settled();
  t.same(s.get(p.script.in.lines), [{ who: "A", line: "hello" }, { who: "B", line: "yo" }], "the input holds the edited list");
  t.ok(events.some((e) => e.type === "input-changed" && e.nodeId === "script" && e.port === "lines"));
  t.same(p.calls, ["voice:hello", "loud:v(hello)", "mix"]);
  t.equal(s.get(p.mix.out.episode), "V(HELLO)+V(YO)");
  t.throws(() => s.editItem(p.voice, 2, "x"), { code: "E_BAD_OPTION", message: /has 2 items \(0 to 1\); there is no item 2/ });
  t.throws(() => s.editItem(p.mix, 0, "x"), { code: "E_BAD_OPTION", message: /'mix' does not run per item/ });
});

/**
 * Key scheme 2's keys and identities for keysGraph's first run. Scheme 3 made the same
 * identities and item keys; its recipe keys are the texts these keys are hashes of
 * (`schemeTwoKey`): none is over 512 characters.
 */
const SCHEME_2 = {
  text: { key: "0c3504dea8cc2cba041e1eeeccd14f9a0938a741", outputHashes: { text: '="hello world"', n: "=3" } },
  words: { key: "5e823f6d0d930b50a1055d46201b6be88a898186", outputHashes: { list: '=["hello","world"]' } },
  upper: {
    key: "dcecb03d0e75af0d4213f5f37dac4ea94151ad20",
    outputHashes: { u: "1fe135e72d650b88012189bad51d633bbd6b6905" },
    items: ["009a81072acb4dcb4a228d48a6974cf90b21cd5b", "d74de4f64cbb105f91b76fc4866814ca7ff1ddb6"],
  },
  gathered: { key: "04d948e3a84cc23640339eccb02ef408317d2943", outputHashes: { joined: '="HELLO!+WORLD!"', n: "=3" } },
  pick: { key: "8292d08c98c7e33db6c5e3ec4055be300b11c79e", outputHashes: { x: '="HELLO!+WORLD!"' } },
  wide: { key: "018c93a6f5db9586bff9ab3688857c7ea10ca6ea", outputHashes: { count: "=20" } },
};

/** What key scheme 1 made for keysGraph's first run (the code of e073cce to c0c1cdc); test/fixtures/store-scheme1 holds it. */
const SCHEME_1 = {
  text: { key: "15a4827a6fe802306d6bde4906c73e41612afd1c", outputHashes: { text: "9ddefe4435b21d901439e546d54a14a175a3493b", n: "4e07408562bedb8b60ce05c1decfe3ad16b72230" } },
  words: { key: "96ab96ef7a67818c9eea92fba2135ed49f075bd3", outputHashes: { list: "94bedb26fb1cb9547b5b77902e89522f313c7f7f" } },
  upper: {
    key: "b632445c6c9cd626a4b4e56ba0b9c570c1f3dc64",
    outputHashes: { u: "1fe135e72d650b88012189bad51d633bbd6b6905" },
    items: ["61c19fd244869e1088610ba6dd894d7db9b14322", "c1f718be9d7e909d2f08fdcd2a56423ad1f3c702"],
  },
  gathered: { key: "74e3722643fc90482519eba85a1c751fd74acf4c", outputHashes: { joined: "f6cf5e7b907a25ff680566944f642ee26b8ab56a", n: "4e07408562bedb8b60ce05c1decfe3ad16b72230" } },
  pick: { key: "6f31cb7b14ba45c79f073d49c462554658453866", outputHashes: { x: "f6cf5e7b907a25ff680566944f642ee26b8ab56a" } },
  wide: { key: "13656a3c39fb55f18082cce42f19d6ac24f5d40b", outputHashes: { count: "f5ca38f748a1d6eaf726b8a42fb575c3c71f1864" } },
};

t.test("recipe keys, item keys and output identities are pinned: a change that alters them needs a store migration", async (t) => {
  const { graph, wide, words, ids } = keysGraph({ FnNode, InputNode, Graph, gr, firstOf });
  const { fingerprintPart } = await import("../lib/engine/recipe-key.js");
  const s = await graph.session({ store: new MemoryStore() });
  const summary = await s.run(undefined, { mode: "all" });
  const { isTextKey, schemeTwoKey } = await import("../lib/engine/recipe-key.js");
  const got: Record<string, unknown> = {};
  for (const id of ids) {
    const r = s.selected(id)!;
    got[id] = { key: schemeTwoKey(r.key), outputHashes: r.outputHashes, ...(r.items ? { items: r.items.map((i) => i.key) } : {}) };
  }
  // Key scheme 2 (recipe-key.ts): values of at most 40 characters are their own identity;
  // a short fingerprint enters the key as text. SCHEME_1 below holds what scheme 1 made.
  t.same(got, SCHEME_2);
  // Key scheme 3: a key text of at most 512 characters is the key.
  t.same(ids.filter((id) => !isTextKey(s.selected(id)!.key)), [], "every key is its text (76 to 415 characters)");
  t.match(s.selected("wide")!.key, /^[0-9a-f]{40}\|\{\}\|\{"p0":/, "wide's long fingerprint enters its text as a hash");
  t.equal(s.selected("words")!.key, `${fingerprintPart(words.fingerprint())}|{}|{"s":"=\\"hello world\\""}`);
  // The wide node's provenance and the run's outcomes are ordinary objects to their readers.
  const prov = s.selected("wide")!.upstream;
  t.equal(Object.getPrototypeOf(prov), Object.prototype);
  t.equal(Object.keys(prov).length, 20);
  t.ok(prov.hasOwnProperty("p19"), "hasOwnProperty works on it");
  t.same(JSON.parse(JSON.stringify(prov)), { ...prov });
  t.equal(Object.getPrototypeOf(summary.nodes), Object.prototype);
  t.equal(summary.nodes.wide, "ran");
  t.equal(s.get(wide.out.count), 20, "the wide node got all 20 inputs");
  await s.close();
});

t.test("a wide node's values and provenance: made at their size when every port reads, as a dictionary when its reads are not its ports (a case, a skipped source)", async (t) => {
  const { branch } = await import("../lib/index.js");
  const parents = Array.from({ length: 30 }, (_, i) => new FnNode(() => i, { name: `p${i}`, outputs: { v: null } }));
  const ports = (extra: Record<string, unknown> = {}) => ({ ...Object.fromEntries(parents.map((p, i) => [`in${i}`, p.out.v])), ...extra }) as never;
  const seen: Array<Record<string, unknown>> = [];
  const sum = (xs: Record<string, unknown>) => (seen.push(xs), Object.values(xs).reduce<number>((a, v) => a + (typeof v === "number" ? v : 0), 0));
  const plain = new FnNode(sum, { name: "plain", inputs: ports(), outputs: { n: null } });
  // A case of a branch reads `$when` too; its `either` port has two sources, the first skipped.
  const mood = new FnNode(() => "happy", { name: "mood", outputs: { m: null } });
  const skipped = new FnNode(() => 100, { name: "skipped", outputs: { v: null } });
  branch(mood.out.m, { sad: skipped });
  const routed = new FnNode(sum, { name: "routed", inputs: ports({ either: firstOf(skipped.out.v, parents[1]!.out.v) }), outputs: { n: null } });
  branch(mood.out.m, { happy: routed });
  const { s } = await open(new Graph({ name: "wide-wiring", nodes: [plain, routed] }));
  const summary = await s.run(undefined, { mode: "all" });
  t.equal(summary.nodes.skipped, "skipped");
  t.equal(s.get(plain.out.n), 435, "30 values, 0 + 1 + … + 29");
  t.equal(s.get(routed.out.n), 436, "the same, and `either` took its second source (1)");
  const [plainIn, routedIn] = seen;
  t.same(Object.keys(plainIn!), parents.map((_, i) => `in${i}`), "values in port order");
  t.same(Object.keys(routedIn!), [...parents.map((_, i) => `in${i}`), "either"]);
  const ids = Object.fromEntries(parents.map((p, i) => [`in${i}`, s.selected(p)!.id]));
  t.same(s.selected(plain)!.upstream, ids, "provenance: every port and the result it read");
  t.same(Object.keys(s.selected(routed)!.upstream), ["$when", ...Object.keys(ids), "either"], "the case comes first");
  t.same(s.selected(routed)!.upstream, { $when: s.selected(mood)!.id, ...ids, either: s.selected(parents[1]!)!.id });
  for (const o of [plainIn, routedIn, s.selected(plain)!.upstream, s.selected(routed)!.upstream]) t.equal(Object.getPrototypeOf(o), Object.prototype);
});

t.test("identities: canonical text of up to 40 characters is the value itself, longer is hashed; a key the view makes is recipeKey of its parts, escapes included", async (t) => {
  const { contentHash, fingerprintPart, hashText, recipeKey } = await import("../lib/engine/recipe-key.js");
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const fn = (arg: string, body: string) => new Function(arg, body) as (x: any) => unknown;
  t.equal(contentHash(42), "=42");
  t.equal(contentHash(null), "=null");
  t.equal(contentHash({ b: 1, a: [true] }), '={"a":[true],"b":1}', "canonical: keys sorted");
  t.equal(contentHash("x".repeat(38)), `="${"x".repeat(38)}"`, "40 characters with the quotes: inline");
  t.equal(contentHash("x".repeat(39)), hashText(`"${"x".repeat(39)}"`), "41: hashed");
  t.match(contentHash("x".repeat(39)), /^[0-9a-f]{40}$/);
  const long = new FnNode(fn("", "return 1"), { name: "long", outputs: { v: null }, inputs: { pad: "y".repeat(300) } });
  t.match(fingerprintPart(long.fingerprint()), /^[0-9a-f]{40}$/, "a fingerprint over 256 characters enters keys as its hash");
  t.equal(fingerprintPart(`["fn"]`), `["fn"]`);

  // Values whose identity needs escapes inside the key's JSON: quotes, a backslash, a control character, non-ASCII.
  const odd = 'a"b\\c\u0001é';
  const src = new InputNode({ name: "src", ports: { s: gr.Textbox({ value: odd }) } });
  const parts = new FnNode(fn("{ s }", "return [s, s]"), { name: "parts", inputs: { s: src.out.s }, outputs: { list: null } });
  const each = new FnNode(fn("{ p, q }", "return p + q"), { name: "each", inputs: { p: parts.out.list.each, q: src.out.s }, outputs: { v: null } });
  const s = await new Graph({ name: "escapes", nodes: [each], persistKey: false }).session({ store: new MemoryStore() });
  await s.run(undefined, { mode: "all" });
  const id = s.selected("src")!.outputHashes.s!;
  t.equal(id, `=${JSON.stringify(odd)}`);
  t.equal(s.currentKey("parts"), recipeKey(fingerprintPart(parts.fingerprint()), {}, { s: id }), "a plain read");
  t.equal(s.selected("parts")!.key, s.currentKey("parts"));
  const list = s.selected("parts")!.outputHashes.list!;
  t.equal(list, contentHash([odd, odd]));
  t.equal(s.currentKey("each"), recipeKey(fingerprintPart(each.fingerprint()), {}, { p: `${list}|each:`, q: id }), "a scattered read and a plain one");
  t.same(s.get(each.out.v), [odd + odd, odd + odd]);
  await s.close();

  // Key scheme 3: the key is its text, unless the text is over 512 characters or holds a secret (the HF token).
  const { isTextKey, recipeText } = await import("../lib/engine/recipe-key.js");
  const { withHfToken } = await import("../lib/nodes/hf-token.js");
  const echo = new FnNode(fn("{ q }", "return q.length"), { name: "echo", inputs: { q: gr.Textbox({ value: "short" }) }, outputs: { n: null } });
  const e = await new Graph({ name: "key-texts", nodes: [echo], persistKey: false }).session({ store: new MemoryStore() });
  const textOf = (q: string) => recipeText(fingerprintPart(echo.fingerprint()), { q }, {});
  t.equal(e.currentKey("echo"), textOf("short"));
  const fits = "q".repeat(512 - textOf("").length);
  e.set(echo.in.q, fits);
  t.equal(e.currentKey("echo"), textOf(fits), "512 characters: the text");
  e.set(echo.in.q, `${fits}q`);
  t.equal(e.currentKey("echo"), hashText(textOf(`${fits}q`)), "513: hashed");
  const token = "hf_keyTextSecret0123456789";
  await withHfToken(token, async () => {
    e.set(echo.in.q, `my token is ${token}`);
    t.equal(e.currentKey("echo"), hashText(textOf(`my token is ${token}`)), "a text holding the token: hashed");
    await e.run(echo, { mode: "step" });
  });
  t.notOk(e.selected("echo")!.key.includes(token), "the stored key does not hold it");
  await e.close();
});

/**
 * The database an older daggr wrote for keysGraph (test/fixtures/make-store.ts: two runs,
 * the second selected), copied into a new home: `open` opens the app on it, again and again.
 */
function olderStore(t: { teardown(fn: () => unknown): void }, scheme: 1 | 2) {
  const name = `scheme${scheme}`;
  const db = joinPath(tempDir(t), "apps", name, "db");
  cpSync(joinPath(import.meta.dirname, "fixtures", `store-${name}`, "db"), db, { recursive: true });
  const open = async () => {
    const { openStore } = await import("../lib/store/index.js");
    const store = await openStore({ home: joinPath(db, "..", "..", ".."), persistKey: name });
    const g = keysGraph({ FnNode, InputNode, Graph, gr, firstOf }, name);
    return { store, g, s: await g.graph.session({ store }) };
  };
  return { db, open };
}

t.test("a store made with key scheme 1 keeps its results: fresh as they were, and found again under their old keys", async (t) => {
  const { SCHEMA_VERSION } = await import("../lib/store/index.js");
  // Written by the code of c0c1cdc, the last of scheme 1.
  const older = olderStore(t, 1);
  const openApp = older.open;
  let { store, g, s } = await openApp();
  t.equal(s.get(g.text.in.text), "good day sir");
  for (const id of g.ids) t.equal(s.nodeState(id).freshness, "fresh", `${id} is fresh under its scheme-1 key`);
  // (wide's fingerprint is long, so it enters both schemes as a hash, and its upstream identities are scheme 1's: its key is the same)
  for (const id of ["text", "words", "upper", "gathered", "pick"]) t.not(s.selected(id)!.key, s.currentKey(id), `${id}'s key changed with the scheme`);
  t.equal(s.get(g.wide.out.count), 20);
  t.same((await s.run(undefined, { mode: "all" })).nodes, Object.fromEntries(g.ids.map((id) => [id, "reused"])), "nothing reruns");

  // One word more: the mapped node reruns, and keeps the items it made under scheme 1 for the two words it had.
  const before = s.selected("upper")!.items!;
  s.set(g.text.in.text, "good day madam");
  t.equal((await s.run(undefined, { mode: "all" })).nodes.upper, "ran");
  const items = s.selected("upper")!.items!;
  t.same(items.map((i) => i.outputs.u), ["GOOD!", "DAY!", "MADAM!"]);
  t.same([items[0]!.key, items[0]!.startedAt, items[1]!.key], [before[0]!.key, before[0]!.startedAt, before[1]!.key], "the first two items are the stored ones");
  t.not(items[2]!.key, before[2]!.key);

  // Back to the first run's input: every node finds its old result by its old key.
  s.set(g.text.in.text, "hello world");
  t.equal(s.nodeState("words").freshness, "stale");
  t.same((await s.run(undefined, { mode: "all" })).nodes, Object.fromEntries(g.ids.map((id) => [id, "cached"])), "every node is a cache hit");
  for (const id of g.ids) t.equal(s.selected(id)!.key, SCHEME_1[id as keyof typeof SCHEME_1].key, `${id}: the result of scheme 1`);
  t.equal(s.get(g.pick.out.x), "HELLO!+WORLD!");

  // A new input runs under scheme 3.
  s.set(g.text.in.text, "one two three");
  const third = await s.run(undefined, { mode: "all" });
  t.same(third.nodes, Object.fromEntries(g.ids.map((id) => [id, "ran"])));
  t.equal(s.get(g.pick.out.x), "ONE!+TWO!+THREE!");
  t.equal(s.selected("words")!.outputHashes.list, '=["one","two","three"]', "a short value is its own identity");
  await s.close();
  await store.close();

  // Reopened: the database is at the new version, and the old results are still found.
  ({ store, g, s } = await openApp());
  const { Level } = await import("level");
  t.equal(SCHEMA_VERSION, 3);
  s.set(g.text.in.text, "good day sir");
  t.same((await s.run(undefined, { mode: "all" })).nodes, Object.fromEntries(g.ids.map((id) => [id, "cached"])));
  t.equal(s.get(g.pick.out.x), "GOOD!+DAY!+SIR!");
  await s.close();
  await store.close();
  const db = new Level<string, unknown>(older.db, { valueEncoding: "json" });
  t.equal(await db.get("version"), 3);
  t.equal(await db.get("legacy-keys"), 1, "the step to scheme 3 leaves the older mark: it covers both schemes");
  await db.close();
});

t.test("a store made with key scheme 2 keeps its results: fresh as they were, and found again under the hashes of their key texts", async (t) => {
  const { isTextKey, schemeTwoKey } = await import("../lib/engine/recipe-key.js");
  // Written by the code of ac24afe, the last of scheme 2.
  const older = olderStore(t, 2);
  const openApp = older.open;
  let { store, g, s } = await openApp();
  t.equal((await store.loadSheet(s.sheetId)).legacyKeys, 2, "marked as holding scheme-2 results, not scheme 1's");
  t.equal(s.get(g.text.in.text), "good day sir");
  for (const id of g.ids) t.equal(s.nodeState(id).freshness, "fresh", `${id} is fresh under its scheme-2 key`);
  for (const id of g.ids) {
    const key = s.currentKey(id)!;
    t.ok(isTextKey(key) && s.selected(id)!.key === schemeTwoKey(key), `${id}: the stored key is the hash of its text key`);
  }
  t.same((await s.run(undefined, { mode: "all" })).nodes, Object.fromEntries(g.ids.map((id) => [id, "reused"])), "nothing reruns");

  // One word more: the mapped node reruns and keeps its two items (item keys did not change).
  const before = s.selected("upper")!.items!;
  s.set(g.text.in.text, "good day madam");
  t.equal((await s.run(undefined, { mode: "all" })).nodes.upper, "ran");
  const items = s.selected("upper")!.items!;
  t.same([items[0]!.key, items[0]!.startedAt, items[1]!.key], [before[0]!.key, before[0]!.startedAt, before[1]!.key], "the first two items are the stored ones");

  // Back to the first run's input: every node finds its scheme-2 result.
  s.set(g.text.in.text, "hello world");
  t.same((await s.run(undefined, { mode: "all" })).nodes, Object.fromEntries(g.ids.map((id) => [id, "cached"])), "every node is a cache hit");
  for (const id of g.ids) t.equal(s.selected(id)!.key, SCHEME_2[id as keyof typeof SCHEME_2].key, `${id}: the result of scheme 2`);
  await s.close();
  await store.close();

  // Reopened: the results of both schemes are found.
  ({ store, g, s } = await openApp());
  s.set(g.text.in.text, "good day madam");
  t.same((await s.run(undefined, { mode: "all" })).nodes, Object.fromEntries(g.ids.map((id) => [id, "cached"])));
  t.ok(isTextKey(s.selected("words")!.key), "the result made under scheme 3");
  s.set(g.text.in.text, "good day sir");
  t.same((await s.run(undefined, { mode: "all" })).nodes, Object.fromEntries(g.ids.map((id) => [id, "cached"])));
  t.equal(s.get(g.pick.out.x), "GOOD!+DAY!+SIR!");
  await s.close();
  await store.close();
  const { Level } = await import("level");
  const db = new Level<string, unknown>(older.db, { valueEncoding: "json" });
  t.equal(await db.get("version"), 3);
  t.equal(await db.get("legacy-keys"), 2);
  await db.close();
});

t.test("a new store never looks for scheme-1 keys", async (t) => {
  const { openStore } = await import("../lib/store/index.js");
  const home = tempDir(t);
  const store = await openStore({ home, persistKey: "fresh" });
  const { graph } = keysGraph({ FnNode, InputNode, Graph, gr, firstOf }, "fresh");
  const s = await graph.session({ store });
  await s.run(undefined, { mode: "all" });
  const sheet = await store.loadSheet(s.sheetId);
  t.equal(sheet.legacyKeys, undefined);
  await s.close();
  await store.close();
});

t.test("ids: a one-letter prefix, nine base-36 digits of the time, three of a counter, four random; later ids sort after", async (t) => {
  const { newId } = await import("../lib/engine/records.js");
  const now = Date.UTC(2026, 10, 30, 5, 0, 0);
  const ids = Array.from({ length: 5000 }, () => newId("x", now));
  t.ok(ids.every((id) => /^x[0-9a-z]{16}$/.test(id)), "format");
  t.equal(ids[0]!.slice(1, 10), now.toString(36).padStart(9, "0"), "the time, in base 36");
  t.equal(new Set(ids).size, ids.length, "unique");
  t.ok(newId("x", now + 1) > ids[ids.length - 1]!, "a later millisecond sorts after");
  t.match(newId("run", now), /^run[0-9a-z]{16}$/, "a longer prefix is kept in front");
});

t.test("exactObject: keys to values at their size; '__proto__' and odd names stay own properties", async (t) => {
  const { exactObject } = await import("../lib/engine/keyed.js");
  t.same(exactObject(["v"], [1]), { v: 1 });
  t.same(exactObject(["a", "b", "c"], [1, 2, 3, 4], 2), { a: 1, b: 2 }, "count takes the first keys");
  const odd = exactObject(["__proto__", 'quote"d', "line\u2028sep"], ["x", "y", "z"]);
  t.equal(Object.getPrototypeOf(odd), Object.prototype, "__proto__ is not taken as the prototype");
  t.same(Object.keys(odd), ["__proto__", 'quote"d', "line\u2028sep"]);
  t.equal(Object.getOwnPropertyDescriptor(odd, "__proto__")?.value, "x");
  t.equal(odd['quote"d'], "y");
  const twice = exactObject(["k", "k"], [1, 2]);
  t.same(twice, { k: 2 }, "a repeated key keeps its last value, as filling an object would");
  t.not(exactObject(["v"], [1]), exactObject(["v"], [1]), "a new object each time");
  // keyedBy: a table's keys and makers, once per table; `one` for a single key, whatever its name.
  const { keyedBy } = await import("../lib/engine/keyed.js");
  const table = { a: null, b: null };
  t.equal(keyedBy(table), keyedBy(table), "made once per table");
  t.same(keyedBy(table).keys, ["a", "b"]);
  t.same(keyedBy(table).make([1, 2]), { a: 1, b: 2 });
  for (const name of ["v", "__proto__", 'quote"d']) {
    const one = keyedBy({ [name]: null }).one("x"); // a computed key is an own property, even __proto__
    t.equal(Object.getPrototypeOf(one), Object.prototype, `${name}: the usual prototype`);
    t.same(Object.keys(one), [name]);
    t.equal(Object.getOwnPropertyDescriptor(one, name)?.value, "x", `${name}: an own property`);
  }
  t.same(keyedBy({}).make([]), {}, "no keys: an empty object");
});

t.test("npm run bench:ab compares the engine at a commit with the working tree in one process: a table of medians and B/A per measure; an unknown commit is named", async (t) => {
  const { spawnSync } = await import("node:child_process");
  const { fileURLToPath } = await import("node:url");
  const root = fileURLToPath(new URL("..", import.meta.url));
  const ab = (...args: string[]) => spawnSync(process.execPath, ["--import", "tsx", "bench/ab.ts", ...args], { cwd: root, encoding: "utf8" });
  const ran = ab("HEAD", "--pairs", "3");
  t.equal(ran.status, 0, ran.stderr);
  t.match(ran.stdout, /^A = HEAD \([0-9a-f]{7}\), B = the working tree$/m);
  for (const name of ["e2e", "build", "open", "run", "fan_out_wall", "e2e_cpu", "run_cpu", "fan_out_cpu"]) {
    const ratio = new RegExp(`^BENCH ab_${name}_b_over_a (\\S+)$`, "m").exec(ran.stdout);
    t.ok(ratio && Number(ratio[1]) > 0, `a B/A for ${name}: ${ratio?.[1]}`);
  }
  t.match(ran.stdout, /1,000-node DAG run\s+\d+\.\d\d\s+\d+\.\d\d\s+\d\.\d{3}/, "the table: A, B and B/A");
  const unknown = ab("no-such-ref");
  t.equal(unknown.status, 1);
  t.match(unknown.stderr, /bench:ab: 'no-such-ref' is not a commit of this repository/);
  const bad = ab("HEAD", "--pairs", "1");
  t.equal(bad.status, 1);
  t.match(bad.stderr, /--pairs must be a whole number of at least 2 \(got '1'\)/);
});

t.test("a throw from the app's code says where: the result's error has details.file, line and column of the throw; a DaggrError or a thrown string adds none", async (t) => {
  const { DaggrError, ErrorCode } = await import("../lib/index.js");
  const here = Number(/engine\.test\.ts:(\d+):\d+/.exec(new Error().stack!)![1]);
  const thrower = new FnNode((): string => {
    throw new Error("no luck"); // here + 2
  }, { name: "thrower", outputs: { out: null } });
  const coded = new FnNode((): string => {
    throw new DaggrError(ErrorCode.BAD_INPUT, "not like that");
  }, { name: "coded", outputs: { out: null } });
  const plain = new FnNode((): string => {
    throw "a string"; // eslint-disable-line no-throw-literal
  }, { name: "plain", outputs: { out: null } });
  const { s } = await open(new Graph({ name: "where", nodes: [thrower, coded, plain], persistKey: false }));
  await s.run(undefined, { mode: "all" });
  const error = s.selected(thrower) ?? (await s.history(thrower)).results[0]!;
  t.same(error.error, { message: "no luck", details: { file: "test/engine.test.ts", line: here + 2, column: 11 } }, "the throw's file (relative to the working directory), line and column");
  t.same(s.nodeState(thrower).error?.details, { file: "test/engine.test.ts", line: here + 2, column: 11 }, "the node's state carries it to the canvas");
  const codedError = (await s.history(coded)).results[0]!.error!;
  t.equal(codedError.code, ErrorCode.BAD_INPUT);
  t.notOk(codedError.details && "file" in codedError.details, "a DaggrError is the engine's or a node kind's own: no place in the app");
  t.same((await s.history(plain)).results[0]!.error, { message: "a string" }, "a thrown non-Error has no stack");
});

t.test("an open session keeps its run code optimised through a full GC between runs (no 'weak objects' deopts of the engine's per-run classes)", async (t) => {
  const { spawnSync } = await import("node:child_process");
  const { fileURLToPath } = await import("node:url");
  const root = fileURLToPath(new URL("..", import.meta.url));
  const ran = spawnSync(process.execPath, ["--import", "tsx", "--trace-opt", "--trace-deopt", "test/fixtures/gc-keeps-code.ts"], { cwd: root, encoding: "utf8", maxBuffer: 1 << 28 });
  t.equal(ran.status, 0, ran.stderr.slice(-2000));
  const [before, after] = ran.stdout.split(/^GC$/m);
  t.ok(after?.includes("END"), "the run after the GC ended");
  // The check can only fail if the code was optimised before the GC.
  for (const name of ["Execution", "Call", "PlanRun"]) t.match(before, new RegExp(`completed optimizing \\S+ <JSFunction ${name} `), `${name} was optimised before the GC`);
  const discarded = [...(after ?? "").matchAll(/<SharedFunctionInfo ([^>]+)>\) \(opt id \d+\) for deoptimization, reason: weak objects/g)].map((m) => m[1]!);
  // The classes a session keeps one object of (lib/engine/kept.ts) and code that reads them. (A
  // node's input values are plain objects shaped by its ports: code reading them may still go.)
  const engine = ["Execution", "Call", "BaseContext", "NodeAbort", "CallContext", "Active", "PlanRun", "executeNode", "start", "running", "acquire", "judge", "drain", "outcomeAt", "setWaiting"];
  t.same(discarded.filter((f) => engine.includes(f)), [], `discarded after the GC: ${discarded.join(", ") || "nothing"}`);
});

t.test("a finished run is not held by its session: the summary a caller dropped is collected", async (t) => {
  const { setFlagsFromString } = await import("node:v8");
  const { runInNewContext } = await import("node:vm");
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  const a = new FnNode(({ x }: { x: number }) => x + 1, { name: "a", inputs: { x: gr.Number({ value: 1 }) }, outputs: { y: null } });
  const b = new FnNode(async ({ y }: { y: number }) => y * 2, { name: "b", inputs: { y: a.out.y }, outputs: { z: null } });
  const session = await new Graph({ name: "held", nodes: [b], persistKey: false, autorun: false }).session({ store: new MemoryStore() });
  t.teardown(() => session.close());
  const ran = async () => new WeakRef(await session.run(undefined, { mode: "all" }));
  const summary = await ran();
  t.equal(summary.deref()?.nodes.b, "ran");
  // A WeakRef's target lives to the end of the job that made it: collect in a later one.
  await new Promise((r) => setImmediate(r));
  gc();
  t.equal(summary.deref(), undefined, "collected");
});

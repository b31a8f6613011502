import t from "tap";
import {
  DaggrError, FnNode, branch, GradioNode, Graph, InferenceNode, InputNode, MemoryStore, firstOf, gr, type Node,
} from "../lib/index.js";
import { open } from "./helpers/engine.js";

const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return e as DaggrError;
  }
  throw new Error("did not throw");
};

t.test("Graph({ name }) requires a name and derives persistKey from it", async (t) => {
  const n = new FnNode(() => 1, { name: "one" });
  t.equal(codeOf(() => new Graph({ name: "", nodes: [n] })).code, "E_GRAPH_NAME_REQUIRED");
  t.equal(new Graph({ name: "My Cool App!", nodes: [n] }).persistKey, "my_cool_app");
  t.equal(new Graph({ name: "x", nodes: [n], persistKey: "custom" }).persistKey, "custom");
  t.equal(new Graph({ name: "x", nodes: [n], persistKey: false }).persistKey, false);
});

t.test("Graph adds upstream nodes of the listed nodes, in topological order", async (t) => {
  const a = new FnNode(() => 1, { name: "a", outputs: { v: gr.Number() } });
  const b = new FnNode(({ v }) => v, { name: "b", inputs: { v: a.out.v } });
  const c = new FnNode(({ v }) => v, { name: "c", inputs: { v: b.out.output } });
  const g = new Graph({ name: "g", nodes: [c] });
  t.same(g.nodes.map((n) => n.id), ["a", "b", "c"]);
  t.same(g.edges.map((e) => e.id), ["a.v->b.v", "b.output->c.v"]);
  t.same(g.subgraphs, [{ id: "main", nodes: ["a", "b", "c"] }]);
});

t.test("duplicate node ids are an error at construction, not a silent suffix", async (t) => {
  const a = new FnNode(() => 1, { name: "same" });
  const b = new FnNode(() => 2, { name: "same" });
  const e = codeOf(() => new Graph({ name: "g", nodes: [a, b] }));
  t.equal(e.code, "E_DUPLICATE_NODE");
  t.match(e.message, /distinct `name`/);
  // Derived names are deterministic: two anonymous functions collide and must be named.
  t.equal(codeOf(() => new Graph({ name: "g", nodes: [new FnNode(() => 1), new FnNode(() => 2)] })).code, "E_DUPLICATE_NODE");
});

t.test("a cycle is an error naming its members", async (t) => {
  const a = new FnNode(() => 1, { name: "a", outputs: { v: null } });
  const b = new FnNode(({ v }) => v, { name: "b", inputs: { v: a.out.v }, outputs: { v: null } });
  const backup = new FnNode(({ v }) => v, { name: "backup", inputs: { v: b.out.v }, outputs: { v: null } });
  a.fallback(backup); // a's backup reads from b, which reads from a
  const e = codeOf(() => new Graph({ name: "g", nodes: [b] }));
  t.equal(e.code, "E_CYCLE");
  t.match(e.message, /cycle through: a → b\./);
  t.same(e.details.nodes, ["a", "b"]);
});

t.test("node.out.<typo> and node.in.<typo> are coded errors with the nearest port", async (t) => {
  const gen = new FnNode(() => "x", { name: "gen", inputs: { prompt: gr.Textbox() }, outputs: { image: gr.Image() } });
  const e = codeOf(() => (gen.out as Record<string, unknown>).imgae);
  t.equal(e.code, "E_UNKNOWN_PORT");
  t.equal(e.details.nearest, "image");
  t.same(e.details.choices, ["image"]);
  t.match(e.message, /Did you mean 'image'\?/);
  const e2 = codeOf(() => (gen.in as Record<string, unknown>).promt);
  t.equal(e2.details.nearest, "prompt");
  // The tables stay plain objects to everything else: keys, `in`, awaiting, printing.
  t.same(Object.keys(gen.out), ["image"]);
  t.same(Object.keys(gen.in), ["prompt"]);
  t.ok("image" in gen.out);
  t.notOk("imgae" in gen.out);
  t.equal((gen.out as Record<string, unknown>).then, undefined);
  t.equal(await Promise.resolve(gen.out), gen.out);
  t.equal(typeof gen.out.toString(), "string");
  t.equal(gen.out.image, gen.out.image, "one port object");
});

t.test("an unknown option is a coded error with the nearest option", async (t) => {
  const e = codeOf(() => new FnNode(() => 1, { input: {} } as never));
  t.equal(e.code, "E_UNKNOWN_OPTION");
  t.equal(e.details.nearest, "inputs");
  t.equal(codeOf(() => new Graph({ name: "g", node: [] } as never)).code, "E_UNKNOWN_OPTION");
  t.equal(codeOf(() => new GradioNode("not a space")).code, "E_BAD_OPTION");
  t.equal(codeOf(() => new InferenceNode("nomodel")).code, "E_BAD_OPTION");
  t.equal(codeOf(() => new FnNode(() => 1, { outputs: { x: "text" } } as never)).code, "E_BAD_OPTION");
});

t.test("an unknown option or port is named next to its noun, before the node that lacks it", async (t) => {
  const shout = new FnNode(({ text }: { text: string }) => text, { name: "shout", inputs: { text: gr.Textbox() }, outputs: { loud: gr.Textbox() } });
  const port = codeOf(() => (shout.out as Record<string, unknown>).lodu);
  t.match(port.message, /^\[E_UNKNOWN_PORT\] Unknown output port 'lodu' of node 'shout'\. Did you mean 'loud'\? Valid choices: 'loud'\.$/);
  t.match(codeOf(() => (shout.in as Record<string, unknown>).txet).message, /Unknown editable input 'txet' of node 'shout'\. Did you mean 'text'\?/);
  const option = codeOf(() => new FnNode(() => 1, { outptus: {} } as never));
  t.match(option.message, /Unknown option 'outptus' of FnNode\. Did you mean 'outputs'\?/);
  t.match(option.details, { got: "outptus", nearest: "outputs" });
});

t.test("gr.* props are checked like node options: a misspelt prop is a coded error with the nearest one", async (t) => {
  const e = codeOf(() => gr.Textbox({ lable: "Prompt" }));
  t.equal(e.code, "E_UNKNOWN_OPTION");
  t.equal(e.details.nearest, "label");
  t.match(e.message, /Unknown prop 'lable' of gr\.Textbox\. Did you mean 'label'\?/);
  t.equal(codeOf(() => gr.Slider({ minimun: 1 })).details.nearest, "minimum");
  t.equal(codeOf(() => gr.Image({ lines: 3 })).code, "E_UNKNOWN_OPTION", "a prop of another component is refused too");
  t.equal(codeOf(() => gr.Textbox("Prompt" as never)).code, "E_BAD_OPTION");
  t.same(gr.Dropdown({ label: "Model", choices: ["a", "b"], value: "a", scale: 2 }).props, { label: "Model", choices: ["a", "b"], value: "a", scale: 2 }, "Gradio's own props pass");
});

t.test("wiring an editable input instead of an output is a coded error", async (t) => {
  const a = new FnNode(() => 1, { name: "a", inputs: { x: gr.Number() } });
  t.equal(codeOf(() => new FnNode(() => 1, { inputs: { y: a.in.x } })).code, "E_BAD_INPUT");
});

t.test("gr components are plain serialisable descriptors with Gradio's prop names", async (t) => {
  const c = gr.Slider({ label: "Steps", minimum: 1, maximum: 50, step: 1, value: 4 });
  t.same(JSON.parse(JSON.stringify(c)), { $kind: "component", type: "Slider", props: { label: "Steps", minimum: 1, maximum: 50, step: 1, value: 4 } });
  for (const name of Object.keys(gr)) t.equal((gr as Record<string, () => { type: string }>)[name]!().type, name);
});

t.test("remote nodes derive names and links from their Space or model", async (t) => {
  const g = new GradioNode("hf-applications/Z-Image-Turbo", { apiName: "generate_image" });
  t.equal(g.id, "Z_Image_Turbo");
  t.equal(g.apiName, "/generate_image");
  t.equal(g.link(), "https://huggingface.co/spaces/hf-applications/Z-Image-Turbo");
  const m = new InferenceNode("black-forest-labs/FLUX.1-dev:fal-ai");
  t.equal(m.provider, "fal-ai");
  t.equal(m.model, "black-forest-labs/FLUX.1-dev");
  const graph = new Graph({ name: "r", nodes: [g, m, new FnNode(() => 1, { name: "f" }), new InputNode({ ports: { a: gr.Textbox() } })] });
  t.same(graph.nodes.map((n) => graph.autorunOf(n)), [false, false, true, true], "autorun defaults: off for remote, on for fn/input");
  const forced = new Graph({ name: "r", nodes: [new FnNode(() => 1, { name: "f", autorun: true })], autorun: false });
  t.equal(forced.autorunOf(forced.nodes[0]!), true, "a node's own autorun wins over the graph's");
  const off = new Graph({ name: "r", nodes: [new FnNode(() => 1, { name: "f" })], autorun: false });
  t.equal(off.autorunOf(off.nodes[0]!), false, "the graph's autorun overrides the kind default");
});

t.test("an FnNode returning a misspelt output key fails with the nearest output", async (t) => {
  const f = new FnNode(() => ({ imge: 1, caption: "x" }), { name: "f", outputs: { image: gr.JSON(), caption: gr.Textbox() } });
  const { s } = await open(new Graph({ name: "g", nodes: [f] }));
  const summary = await s.run(f, { mode: "step" });
  t.equal(summary.nodes.f, "failed");
  const err = s.nodeState(f).error!;
  t.equal(err.code, "E_OUTPUT_KEY");
  t.match(err.message, /Did you mean 'image'\?/);
});

t.test("input kinds: component, port, fixed value and function (called each run, realised value recorded)", async (t) => {
  let calls = 0;
  const src = new FnNode(() => 10, { name: "src", outputs: { n: null } });
  const f = new FnNode(({ text, n, fixed, seed }) => `${text}:${n}:${fixed}:${seed}`, {
    name: "f",
    inputs: { text: gr.Textbox({ value: "hi" }), n: src.out.n, fixed: 7, seed: () => ++calls },
    outputs: { out: gr.Textbox() },
  });
  const { s } = await open(new Graph({ name: "g", nodes: [f] }));
  await s.run(f, { mode: "to-here" });
  t.equal(s.get(f.out.out), "hi:10:7:1", "hidden output (null) is still wireable");
  const first = s.selected(f)!;
  t.same(first.inputs, { text: "hi", fixed: 7, seed: 1 }, "own inputs recorded, the function's realised value included");
  t.equal(first.upstream.n, s.selected(src)!.id);
  t.equal(s.nodeState(f).freshness, "fresh", "a function input does not make the node stale by itself");
  await s.run(f, { mode: "step" });
  t.equal(s.get(f.out.out), "hi:10:7:2");
  t.equal(s.selected(f)!.key, first.key, "the function input enters the key as a marker");
});

t.test("preprocess(inputs) and postprocess(raw) reshape around the call", async (t) => {
  const f = new FnNode(({ a }) => [a, a * 2], {
    name: "f",
    inputs: { a: gr.Number({ value: 2 }) },
    outputs: { one: gr.Number(), two: gr.Number() },
    preprocess: (i) => ({ a: i.a + 1 }),
    postprocess: ([x, y]) => ({ one: x, two: y }),
  });
  const { s } = await open(new Graph({ name: "g", nodes: [f] }));
  await s.run(f);
  t.equal(s.get(f.out.one), 3);
  t.equal(s.get(f.out.two), 6);
});

t.test("InputNode ports are editable values and wireable outputs", async (t) => {
  const settings = new InputNode({ name: "Settings", ports: { prompt: gr.Textbox({ value: "cat" }), n: gr.Number({ value: 2 }) } });
  const rep = new FnNode(({ p, n }) => p.repeat(n), { name: "rep", inputs: { p: settings.out.prompt, n: settings.out.n }, outputs: { s: gr.Textbox() } });
  const { s } = await open(new Graph({ name: "g", nodes: [rep] }));
  await s.run(rep);
  t.equal(s.get(rep.out.s), "catcat");
  s.set(settings.in.n, 3);
  await s.settled();
  t.equal(s.get(rep.out.s), "catcatcat", "editing an InputNode port recomputes its autorun dependants");
  const e = codeOf(() => s.set("Settings__promt", "x"));
  t.equal(e.code, "E_UNKNOWN_INPUT_ID");
  t.equal(e.details.nearest, "Settings__prompt");
});

t.test("graph.call(inputs, { subgraph }) runs a subgraph once and returns its leaf outputs", async (t) => {
  const a = new FnNode(({ x }) => x + 1, { name: "a", inputs: { x: gr.Number({ value: 1 }) }, outputs: { y: gr.Number() } });
  const b = new FnNode(({ y }) => y * 10, { name: "b", inputs: { y: a.out.y }, outputs: { z: gr.Number() } });
  const lone = new FnNode(({ s }) => s.length, { name: "lone", inputs: { s: gr.Textbox({ value: "abc" }) }, outputs: { n: gr.Number() } });
  const g = new Graph({ name: "g", nodes: [b, lone], persistKey: false });
  t.same(g.subgraphs.map((s) => s.id), ["subgraph_0", "subgraph_1"]);
  t.equal((await g.call({}, { subgraph: "subgraph_0" }).catch((e) => e)).b?.z ?? null, 20);
  t.same(await g.call({ a__x: 4 }, { subgraph: "subgraph_0" }), { b: { z: 50 } });
  t.equal((await g.call({}).catch((e: DaggrError) => e.code)), "E_AMBIGUOUS_SUBGRAPH");
  const bad = await g.call({ a__z: 1 }, { subgraph: "subgraph_0" }).catch((e: DaggrError) => e);
  t.equal(bad.code, "E_UNKNOWN_INPUT_ID");
  t.equal(bad.details.nearest, "a__x");
  const failing = new FnNode(() => {
    throw new Error("boom");
  }, { name: "failing" });
  t.equal(await new Graph({ name: "f", nodes: [failing], persistKey: false }).call().catch((e: DaggrError) => e.code), "E_NODE_FAILED");
});

t.test("node.test(inputs?) runs one node, filling missing inputs from example values", async (t) => {
  const up = new FnNode(() => "x", { name: "up", outputs: { text: gr.Textbox({ value: "from upstream example" }) } });
  const f = new FnNode(({ prompt, n, other }) => `${prompt}|${n}|${other}`, {
    name: "f",
    inputs: { prompt: gr.Textbox(), n: gr.Slider({ minimum: 0, maximum: 10 }), other: up.out.text },
    outputs: { out: gr.Textbox() },
  });
  t.same(await f.test(), { out: "Hello!!|5|from upstream example" });
  t.same(await f.test({ prompt: "yo" }), { out: "yo|5|from upstream example" });
  t.equal(((await f.test({ promt: 1 }).catch((e: DaggrError) => e)) as DaggrError).details.nearest, "prompt");
  const img = new FnNode(({ image }) => image, { name: "img", inputs: { image: gr.Image() } });
  t.match(((await img.test().catch((e: DaggrError) => e)) as DaggrError).message, /pass a path/);
});

t.test("sessions on the same store and sheet share state (two tabs)", async (t) => {
  const f = new FnNode(({ a, b }) => `${a}-${b}`, { name: "f", inputs: { a: gr.Textbox(), b: gr.Textbox() }, outputs: { o: gr.Textbox() } });
  const g = new Graph({ name: "g", nodes: [f] });
  const store = new MemoryStore();
  const one = await g.session({ store, debounceMs: 5 });
  const two = await g.session({ store, sheet: one.sheetId, debounceMs: 5 });
  const seen: unknown[] = [];
  two.value(f.in.a).subscribe((v) => seen.push(v));
  one.set(f.in.a, "A");
  two.set(f.in.b, "B");
  await one.settled();
  t.equal(two.get(f.out.o), "A-B", "edits to different inputs are both kept");
  one.set(f.in.a, "first");
  two.set(f.in.a, "last");
  t.equal(one.get(f.in.a), "last", "edits to the same input converge on the last write");
  t.same(seen, ["", "A", "first", "last"]);
  await one.close();
  await two.settled();
  two.set(f.in.b, "still open");
  await two.close();
});

t.test("docs/errors.md lists every error code the source can raise", async (t) => {
  const { readFileSync, readdirSync, statSync } = await import("node:fs");
  const { join } = await import("node:path");
  const files = (dir: string): string[] => readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : f.endsWith(".ts") ? [join(dir, f)] : []));
  const codes = new Set(files("lib").flatMap((f) => readFileSync(f, "utf8").match(/"E_[A-Z_]+"/g) ?? []).map((c) => c.slice(1, -1)));
  const doc = readFileSync("docs/errors.md", "utf8");
  const missing = [...codes].filter((c) => !doc.includes(`### ${c}\n`));
  t.same(missing, [], "every code has a section");
  const documented = [...doc.matchAll(/^### (E_[A-Z_]+)$/gm)].map((m) => m[1]!);
  const mentioned = new Set(files("lib").flatMap((f) => readFileSync(f, "utf8").match(/\bE_[A-Z][A-Z_]+\b/g) ?? []));
  t.same(documented.filter((c) => !mentioned.has(c)), [], "and every section is a code the source raises (none stale or misspelt)");
  t.ok(codes.size > 40);
});

t.test("graph.call stops when its signal aborts", async (t) => {
  let aborted = false;
  let waiting!: () => void;
  const running = new Promise<void>((r) => (waiting = r));
  const slow = new FnNode(async (_i, { signal }) => {
    const abort = new Promise((r) => signal.addEventListener("abort", r));
    waiting();
    await abort;
    aborted = true;
    return 1;
  }, { name: "slow", concurrent: true });
  const ac = new AbortController();
  const pending = new Graph({ name: "g", nodes: [slow], persistKey: false }).call({}, { signal: ac.signal });
  // Aborted once the node runs (a fixed delay could abort before it starts on a loaded machine).
  await running;
  ac.abort();
  t.equal(((await pending.catch((e) => e)) as DaggrError).code, "E_CANCELLED");
  t.ok(aborted, "the node saw its signal abort");
});

t.test("Graph collects a 50,000-deep chain from its last node, without recursion", async (t) => {
  // Before: collection recursed once per level and threw RangeError past ~5,600 levels.
  let prev: FnNode | undefined;
  for (let i = 0; i < 50_000; i++) {
    const inputs: Record<string, unknown> = prev ? { x: prev.out.output } : { x: gr.Number() };
    prev = new FnNode(({ x }) => x, { name: `n${i}`, inputs });
  }
  const g = new Graph({ name: "deep", nodes: [prev!] });
  t.equal(g.nodes.length, 50_000);
  t.equal(g.nodes[0]!.id, "n0");
  t.equal(g.nodes.at(-1)!.id, "n49999");
  t.equal(g.ancestors(["n49999"]).length, 49_999);
  t.equal(g.descendants(["n0"]).length, 49_999);
  t.same(g.subgraphs.map((s) => s.nodes.length), [50_000]);
});

t.test("a node's fingerprint text is what JSON.stringify made of its parts before (recipe keys unchanged)", async (t) => {
  // The array form the fingerprint was written with until it was built piece by piece.
  const reference = (n: Node): string => {
    const inputs = Object.entries(n.inputs).map(([port, s]) => [
      port,
      s.kind,
      s.kind === "fixed" ? s.value : s.kind === "port" ? `${s.from}${s.scatter ? `.each(${s.scatter.key ?? ""})` : ""}${s.gather ? ".all" : ""}` : s.kind === "first" ? s.from.map(String) : null,
    ]);
    const guard = n.guard && [String(n.guard.from), n.guard.label];
    const config = (n as unknown as { kindConfig(): unknown }).kindConfig();
    const code = (n as unknown as { codeSources(): string[] }).codeSources();
    return JSON.stringify([n.kind, config, inputs, Object.keys(n.outputs), code, n.backups.map((b) => b.fingerprint()), guard]);
  };
  const src = new FnNode(() => [{ text: "a \"quoted\" line\n" }], { name: "src", outputs: { lines: gr.JSON(), "odd \u2028 name": null } });
  const a = new FnNode(({ x }: { x: number }) => x + 1, {
    name: "a",
    inputs: { x: gr.Number({ value: 1 }), fixed: { deep: [1, "two", null], skip: undefined }, none: undefined, seed: () => 7, big: 1e21 },
    outputs: { y: null },
    preprocess: (v) => v,
    postprocess: (r) => r,
    concurrent: true,
    maxConcurrent: 3,
  });
  const each = new FnNode(({ line }: { line: unknown }) => line, { name: "each", inputs: { line: src.out.lines.each("text"), all: src.out.lines, "ünï": a.out.y } });
  const gather = new FnNode((v: unknown) => v, { name: "gather", inputs: { all: each.out.output.all({ allowPartial: true }), first: firstOf(a.out.y, each.out.output) } });
  const backup = new FnNode(() => 1, { name: "backup", outputs: { output: null } });
  gather.fallback(backup);
  const gated = new InputNode({ name: "gated", ports: { q: gr.Textbox({ value: "hi" }) } });
  gated.guard = { from: a.out.y, label: "y > 1", match: () => true };
  const gradio = new GradioNode("owner/space", { apiName: "/predict", inputs: { prompt: a.out.y }, outputs: { image: gr.Image() } });
  const other = new GradioNode("owner/other", { apiName: "/predict", inputs: { prompt: a.out.y }, outputs: { image: gr.Image() } });
  // The same function again (its source's JSON comes from the memo), and the config's fast and slow forms.
  const shared = a.fn as (inputs: Record<string, unknown>) => unknown;
  const twin = new FnNode(shared, { name: "twin", inputs: { x: a.out.y }, outputs: { y: null }, concurrent: true, preprocess: a.options.preprocess });
  const grouped = new FnNode(shared, { name: "grouped", inputs: { x: twin.out.y }, concurrencyGroup: "gpu \"one\"" });
  // A wire from an output port whose name JSON escapes.
  const oddWire = new FnNode((v: unknown) => v, { name: "odd_wire", inputs: { v: (src.out as Record<string, Node["out"][string]>)["odd \u2028 name"]! } });
  // Sources with a Latin-1 character (kept one byte a character) and with one beyond it (kept as it is).
  const latin = new FnNode(new Function("x", "return 'café ' + x") as (x: unknown) => unknown, { name: "latin", inputs: { x: a.out.y } });
  const emoji = new FnNode(new Function("x", "return '\u{1F642} ' + x") as (x: unknown) => unknown, { name: "emoji", inputs: { x: a.out.y } });
  t.match(emoji.fingerprint(), /\u{1F642}/u);
  for (const n of [src, a, each, gather, backup, gated, gradio, gradio.or(other), twin, grouped, oddWire, latin, emoji]) t.equal(n.fingerprint(), reference(n), n.id);
  t.not(twin.fingerprint(), a.fingerprint(), "the config enters the text");
});

t.test("node.guard = … and node.fallback(…) clear the node's fingerprint memo (both enter the fingerprint)", async (t) => {
  const on = new FnNode(() => "a", { name: "on" });
  const n = new FnNode(() => 1, { name: "n", outputs: { v: null } });
  const before = n.fingerprint();
  n.fingerprintMemo = "hash of before";
  branch(on.out.output, { a: n });
  t.equal(n.fingerprintMemo, undefined);
  const guarded = n.fingerprint();
  t.not(guarded, before);
  n.fingerprintMemo = "hash of guarded";
  n.fallback(new FnNode(() => 2, { name: "b", outputs: { v: null } }));
  t.equal(n.fingerprintMemo, undefined);
  t.not(n.fingerprint(), guarded);
});

t.test("nodes with the same output ports and components share one frozen output table", async (t) => {
  const image = gr.Image();
  const a = new FnNode(() => 1, { name: "a", outputs: { v: null, img: image } });
  const b = new FnNode(() => 1, { name: "b", outputs: { v: null, img: image } });
  const c = new FnNode(() => 1, { name: "c", outputs: { v: null, img: gr.Image() } });
  const d = new FnNode(() => 1, { name: "d", outputs: { img: image, v: null } });
  t.equal(a.outputs, b.outputs);
  t.ok(Object.isFrozen(a.outputs));
  t.not(a.outputs, c.outputs, "another component object");
  t.not(a.outputs, d.outputs, "another order");
  t.same(Object.keys(d.outputs), ["img", "v"]);
  t.equal(c.outputs.img!.type, "Image");
  t.equal(codeOf(() => new FnNode(() => 1, { outputs: { v: null, img: "Image" } } as never)).code, "E_BAD_OPTION", "a bad port after a known prefix");
});

t.test("node.options keeps what the node does not hold itself: not name, inputs or outputs (those tables can be collected)", async (t) => {
  const pre = (x: Record<string, unknown>) => x;
  const given = { name: "a", inputs: { x: gr.Number() }, outputs: { y: null }, concurrent: true, preprocess: pre, timeoutMs: 5 };
  const a = new FnNode(() => 1, given);
  t.same(a.options, { concurrent: true, preprocess: pre, timeoutMs: 5 });
  t.same(Object.keys(given), ["name", "inputs", "outputs", "concurrent", "preprocess", "timeoutMs"], "the given object is left as it was");
  t.equal(a.name, "a");
  t.same(Object.keys(a.inputs), ["x"]);
  t.same(Object.keys(a.outputs), ["y"]);
  const b = new FnNode(() => 1, { name: "b", inputs: { x: a.out.y } });
  const c = new FnNode(() => 1, { name: "c", outputs: { z: null } });
  t.same(b.options, {});
  t.equal(b.options, c.options, "nodes with no other option share one empty object");
  t.ok(Object.isFrozen(b.options));
  const gen = new GradioNode("owner/space", { name: "gen", apiName: "/go", retries: 1 });
  t.same(gen.gradioOptions, { apiName: "/go", retries: 1 });
});

t.test("graph.edges lists every wire and its kind; edge ids, ends and ports by position agree with it before and after it is made", async (t) => {
  const list = new FnNode(() => [1, 2], { name: "list", outputs: { items: null, label: null } });
  const each = new FnNode(({ x }) => x, { name: "each", inputs: { x: list.out.items.each }, outputs: { y: null } });
  const all = new FnNode(({ ys }) => ys, { name: "all", inputs: { ys: each.out.y.all() }, outputs: { z: null } });
  const cat = new FnNode(() => "c", { name: "cat", outputs: { t: null } });
  const dog = new FnNode(() => "d", { name: "dog", inputs: { z: all.out.z }, outputs: { t: null } });
  branch(list.out.label, { cat, dog });
  const join = new FnNode(({ t }) => t, { name: "join", inputs: { t: firstOf(cat.out.t, dog.out.t), k: 3 } });
  const g = new Graph({ name: "g", nodes: [join] });
  const expected = [
    { id: "list.label->cat.$when", from: { node: "list", port: "label" }, to: { node: "cat", port: "$when" }, kind: "when" },
    { id: "list.items->each.x", from: { node: "list", port: "items" }, to: { node: "each", port: "x" }, kind: "each" },
    { id: "each.y->all.ys", from: { node: "each", port: "y" }, to: { node: "all", port: "ys" }, kind: "all" },
    { id: "all.z->dog.z", from: { node: "all", port: "z" }, to: { node: "dog", port: "z" } },
    { id: "list.label->dog.$when", from: { node: "list", port: "label" }, to: { node: "dog", port: "$when" }, kind: "when" },
    { id: "cat.t->join.t", from: { node: "cat", port: "t" }, to: { node: "join", port: "t" }, kind: "first" },
    { id: "dog.t->join.t", from: { node: "dog", port: "t" }, to: { node: "join", port: "t" }, kind: "first" },
  ];
  const byPosition = () =>
    expected.map((_, k) => ({ id: g.edgeId(k), from: g.nodes[g.edgeSrc[k]!]!.id, to: g.nodes[g.edgeDst[k]!]!.id, port: g.edgeInPort(k) }));
  const before = byPosition();
  t.same(g.nodes.map((n) => n.id), ["list", "cat", "each", "all", "dog", "join"]);
  t.strictSame(g.edges, expected);
  t.equal(g.edges, g.edges, "made once");
  t.same(before, byPosition());
  t.same(before, expected.map((e) => ({ id: e.id, from: e.from.node, to: e.to.node, port: e.to.port })));
  t.equal(g.edgeId(0), g.edges[0]!.id, "the Edge's own id once edges exist");
  // Per node, the run of its incoming edges.
  t.same(Array.from(g.inOff), [0, 0, 1, 2, 3, 5, 7]);
  t.same(g.describe().edges, expected);
});

t.test("parents, children, ancestors, descendants and subgraphs come from the graph's position tables", async (t) => {
  const a = new FnNode(() => 1, { name: "a", outputs: { v: null } });
  const b = new FnNode(() => 1, { name: "b", outputs: { v: null } });
  const c = new FnNode(() => 1, { name: "c", inputs: { y: b.out.v, x: a.out.v, z: a.out.v }, outputs: { v: null } });
  const d = new FnNode(() => 1, { name: "d", inputs: { x: a.out.v }, outputs: { v: null } });
  const e = new FnNode(() => 1, { name: "e", inputs: { c: c.out.v, d: d.out.v } });
  const lone = new FnNode(() => 1, { name: "lone" });
  const g = new Graph({ name: "g", nodes: [e, lone] });
  t.same(g.nodes.map((n) => n.id), ["b", "a", "lone", "c", "d", "e"]);
  t.same(g.parents("c"), ["b", "a"], "in the order the node reads them, each once");
  t.same(g.children("a"), ["c", "d"], "in topological order");
  t.same(g.parents("a"), []);
  t.same(g.children("nope"), []);
  t.same([g.parentCount("c"), g.parentCount("e"), g.parentCount("a"), g.parentCount("nope")], [2, 2, 0, 0]);
  t.not(g.parents("c"), g.parents("c"), "a new list each call: a caller may keep or change it");
  t.same(g.descendants(["a"]), ["c", "d", "e"]);
  t.same(g.descendants(["d", "a"], true), ["a", "c", "d", "e"]);
  t.same(g.ancestors(["e"]), ["b", "a", "c", "d"]);
  t.same(g.ancestors(["c", "nope"], true), ["nope", "b", "a", "c"], "an unknown id is kept, first, when inclusive");
  t.same(g.ancestors(["nope"]), []);
  t.same(g.subgraphs, [{ id: "subgraph_0", nodes: ["b", "a", "c", "d", "e"] }, { id: "subgraph_1", nodes: ["lone"] }]);
  for (let o = 0; o < g.nodes.length; o++) {
    const id = g.nodes[o]!.id;
    t.same(Array.from(g.parentAt.subarray(g.parentOff[o]!, g.parentOff[o + 1]!), (p) => g.nodes[p]!.id), g.parents(id));
    t.same(Array.from(g.childAt.subarray(g.childOff[o]!, g.childOff[o + 1]!), (p) => g.nodes[p]!.id), g.children(id));
  }
});

t.test("edge ends by position hold for wide joins and for many ports reading one node", async (t) => {
  const ups = Array.from({ length: 12 }, (_, i) => new FnNode(() => i, { name: `u${i}`, outputs: { v: null } }));
  const wide = new FnNode(() => 1, { name: "wide", inputs: Object.fromEntries(ups.map((u, i) => [`p${i}`, u.out.v])) });
  const same = new FnNode(() => 1, { name: "same", inputs: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`q${i}`, ups[11]!.out.v])) });
  const g = new Graph({ name: "g", nodes: [wide, same] });
  t.equal(g.edges.length, 32);
  t.equal(g.edgeSrc.length, 32, "the typed arrays are cut to the edge count");
  for (let k = 0; k < g.edges.length; k++) {
    const e = g.edges[k]!;
    t.equal(g.nodes[g.edgeSrc[k]!]!.id, e.from.node);
    t.equal(g.nodes[g.edgeDst[k]!]!.id, e.to.node);
  }
  t.same(g.edges.filter((e) => e.to.node === "wide").map((e) => e.from.node), ups.map((u) => u.id), "past the first eight parents too");
  t.same(g.parents("same"), ["u11"]);
  t.same([g.order("u0"), g.order("wide"), g.order("nope")], [g.nodes.findIndex((n) => n.id === "u0"), g.nodes.findIndex((n) => n.id === "wide"), -1]);
});

t.test("a blank node name is a coded error, whatever the blank; a named FnNode does not need its function's name", async (t) => {
  for (const name of ["", "   ", "\u00a0", "\t\n", 5]) t.equal(codeOf(() => new FnNode(() => 1, { name } as never)).code, "E_BAD_OPTION", JSON.stringify(name));
  t.equal(new FnNode(() => 1, { name: " a b " }).id, "a_b");
  t.equal(new FnNode(() => 1, { name: "\u00a0x" }).name, "\u00a0x");
  function shout() {}
  t.equal(new FnNode(shout).id, "shout");
  t.equal(new FnNode(shout, { name: "loud" }).id, "loud");
  t.equal(new FnNode(() => 1).id, "fn");
  t.equal(codeOf(() => new FnNode(() => 1, { name: "a", colour: 1 } as never)).code, "E_UNKNOWN_OPTION");
});

t.test("an edge's ports are those of the graph's construction, even if a branch condition changes later", async (t) => {
  const a = new FnNode(() => 1, { name: "a", outputs: { x: null, y: null } });
  const b = new FnNode(() => 1, { name: "b", inputs: { v: firstOf(a.out.x, a.out.y) } });
  branch(a.out.x, { one: b });
  const g = new Graph({ name: "g", nodes: [b] });
  b.guard = { from: a.out.y, label: "other", match: () => true };
  t.same([0, 1, 2].map((k) => g.edgeId(k)), ["a.x->b.v", "a.y->b.v", "a.x->b.$when"]);
  t.same(g.edges.map((e) => e.id), ["a.x->b.v", "a.y->b.v", "a.x->b.$when"]);
});

t.test("layering (DESIGN.md §2): each folder imports only itself and the folders above it; the engine no I/O package; elements only lib/protocol.ts", async (t) => {
  const { readFileSync, readdirSync, statSync } = await import("node:fs");
  const { dirname, join, relative, resolve } = await import("node:path");
  const { fileURLToPath } = await import("node:url");
  const root = fileURLToPath(new URL("..", import.meta.url));
  // Top to bottom: a folder may import the ones before it. Files directly in lib/ (log.ts, home.ts, free-port.ts, protocol.ts…) sit outside the order.
  const order = ["lib/graph", "lib/engine", "lib/nodes", "lib/store", "lib/queue", "lib/server", "lib/cli"];
  const sources = (dir: string): string[] =>
    readdirSync(join(root, dir)).flatMap((f) => {
      const p = `${dir}/${f}`;
      if (statSync(join(root, p)).isDirectory()) return sources(p);
      return /\.(ts|mts|mjs)$/.test(f) && !/\.d\.mts$/.test(f) ? [p] : [];
    });
  const folderOf = (p: string) => order.find((o) => p.startsWith(`${o}/`)) ?? (p.startsWith("elements/") ? "elements" : "lib");
  const wrong: string[] = [];
  let seen = 0;
  for (const file of [...sources("lib"), ...sources("elements")]) {
    const text = readFileSync(join(root, file), "utf8");
    const from = folderOf(file);
    for (const [, spec] of text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|\bimport\s+)["']([^"']+)["']/g)) {
      seen++;
      if (!spec!.startsWith(".")) {
        if (from === "lib/engine" && /^(ws|level|classic-level|lit|node:https?|http|https)(\/|$)/.test(spec!)) wrong.push(`${file} imports ${spec} (the engine does no I/O of its own)`);
        if (from === "lib/graph" && /^(ws|level|classic-level|lit|node:https?|node:fs|node:child_process)(\/|$)/.test(spec!)) wrong.push(`${file} imports ${spec} (the definition does no I/O)`);
        continue;
      }
      const target = relative(root, resolve(dirname(join(root, file)), spec!)).split("\\").join("/");
      const to = folderOf(target);
      if (to === from) continue;
      if (from === "elements") {
        if (!/^lib\/protocol\.[jt]s$/.test(target)) wrong.push(`${file} imports ${target} (elements speak only the wire protocol)`);
      } else if (to === "elements") wrong.push(`${file} imports ${target} (the library never imports the elements)`);
      else if (order.indexOf(to) > order.indexOf(from) && order.indexOf(from) >= 0) wrong.push(`${file} imports ${target} (${to} is below ${from})`);
    }
  }
  t.ok(seen > 500, `imports read: ${seen}`);
  t.same(wrong, [], "no import points upward");
});

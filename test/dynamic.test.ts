import t from "tap";
import { FnNode, Graph, InputNode, branch, choose, firstOf, gr } from "../lib/index.js";
import { open, sleep } from "./helpers/engine.js";

/**
 * script → speak (per line) → loud → mix. With `together: n`, each speak call waits until
 * n calls have started (no clock): run serially, the first would wait forever and the
 * test's timeout fails it.
 */
function podcast(fail: (line: string) => boolean = () => false, o: { together?: number } = {}) {
  const calls: string[] = [];
  const running = { now: 0, peak: 0 };
  let started = 0;
  let allStarted!: () => void;
  const together = new Promise<void>((r) => (allStarted = r));
  const script = new InputNode({ name: "script", ports: { lines: gr.JSON({ value: [{ who: "A", text: "hi" }, { who: "B", text: "yo" }, { who: "A", text: "bye" }] }) } });
  const speak = new FnNode(
    async ({ line: raw }) => {
      const line = String(raw);
      calls.push(line);
      running.peak = Math.max(running.peak, ++running.now);
      if (++started === o.together) allStarted();
      await (o.together ? together : sleep(10));
      running.now--;
      if (fail(line)) throw new Error(`no voice for '${line}'`);
      return `audio(${line})`;
    },
    { name: "speak", inputs: { line: script.out.lines.each("text") }, concurrent: true, outputs: { audio: gr.Textbox() } },
  );
  const loud = new FnNode(({ audio }) => audio.toUpperCase(), { name: "loud", inputs: { audio: speak.out.audio }, outputs: { audio: gr.Textbox() } });
  const mix = new FnNode(({ all }) => all.join("+"), { name: "mix", inputs: { all: loud.out.audio.all() }, outputs: { episode: gr.Textbox() } });
  const lenient = new FnNode(({ all }) => all.length, { name: "lenient", inputs: { all: loud.out.audio.all({ allowPartial: true }) }, outputs: { n: gr.Number() } });
  return { calls, running, script, speak, loud, mix, lenient, graph: new Graph({ name: "podcast", nodes: [mix, lenient] }) };
}

t.test("port.each runs the downstream node once per item, in parallel; .all() gathers in order", async (t) => {
  const p = podcast(undefined, { together: 3 });
  const { s } = await open(p.graph);
  await s.run(p.mix);
  t.equal(p.running.peak, 3, "items ran in parallel: all three were running at once");
  t.same(p.calls.sort(), ["bye", "hi", "yo"], "each('text') passed one field of each item");
  t.same(s.get(p.speak.out.audio), ["audio(hi)", "audio(yo)", "audio(bye)"]);
  t.same(s.get(p.loud.out.audio), ["AUDIO(HI)", "AUDIO(YO)", "AUDIO(BYE)"], "a plain read of a mapped node runs per item too");
  t.equal(s.get(p.mix.out.episode), "AUDIO(HI)+AUDIO(YO)+AUDIO(BYE)", "gathered in the original order");
  const rec = s.selected(p.speak)!;
  t.equal(rec.items!.length, 3);
  t.same(rec.items!.map((i) => i.inputs), [{ line: "hi" }, { line: "yo" }, { line: "bye" }]);
  t.ok(rec.items!.every((i) => i.status === "success" && typeof i.ms === "number" && typeof i.key === "string"), "each item has its own result, key and timing");
});

t.test("editing one item reruns only that item's chain", async (t) => {
  const p = podcast();
  const { s } = await open(p.graph);
  await s.run(p.mix);
  p.calls.length = 0;
  s.set(p.script.in.lines, [{ who: "A", text: "hi" }, { who: "B", text: "YO!" }, { who: "A", text: "bye" }]);
  await s.run(p.mix);
  t.same(p.calls, ["YO!"], "only the changed item ran");
  t.equal(s.get(p.mix.out.episode), "AUDIO(HI)+AUDIO(YO!)+AUDIO(BYE)");
});

t.test("a failed item is its own failure; a gather over it fails naming it unless allowPartial", async (t) => {
  const p = podcast((line) => line === "yo");
  const { s } = await open(p.graph);
  const summary = await s.run(undefined, { mode: "all" });
  const speak = s.selected(p.speak)!;
  t.same(speak.items!.map((i) => i.status), ["success", "failed", "success"]);
  t.match(speak.items![1]!.error!.message, /no voice for 'yo'/);
  t.same(s.get(p.speak.out.audio), ["audio(hi)", null, "audio(bye)"], "never silently turned into a value");
  t.equal(s.nodeState(p.speak).error!.code, "E_ITEMS_FAILED");
  t.equal(s.selected(p.loud)!.items![1]!.error!.code, "E_UPSTREAM_FAILED", "the failed item's chain stops");
  t.equal(summary.nodes.mix, "failed");
  t.equal(s.nodeState(p.mix).error!.code, "E_GATHER_FAILED");
  t.match(s.nodeState(p.mix).error!.message, /#2 \(failed upstream/);
  t.equal(s.get(p.lenient.out.n), 2, "allowPartial gathers the items that succeeded");
});

t.test("one item can be rerun alone", async (t) => {
  let attempt = 0;
  const p = podcast((line) => line === "yo" && attempt++ === 0);
  const { s } = await open(p.graph);
  await s.run(p.speak);
  t.equal(s.selected(p.speak)!.items![1]!.status, "failed");
  p.calls.length = 0;
  await s.run(p.speak, { mode: "step", item: 1 });
  t.same(p.calls, ["yo"], "only item #2 ran");
  t.same(s.get(p.speak.out.audio), ["audio(hi)", "audio(yo)", "audio(bye)"]);
});

t.test("choose(a, b): the selected variant runs with its own inputs; switching makes downstream stale", async (t) => {
  const fast = new FnNode(({ prompt }) => `fast:${prompt}`, { name: "fast", inputs: { prompt: gr.Textbox({ value: "cat" }) }, outputs: { image: gr.Textbox() } });
  const slow = new FnNode(({ prompt, steps }) => `slow:${prompt}:${steps}`, { name: "slow", inputs: { prompt: gr.Textbox({ value: "dog" }), steps: gr.Slider({ value: 20 }) }, outputs: { image: gr.Textbox() } });
  const model = choose(fast, slow, { name: "model" });
  const show = new FnNode(({ image }) => `[${image}]`, { name: "show", inputs: { image: model.out.image }, outputs: { shown: gr.Textbox() } });
  const g = new Graph({ name: "choice", nodes: [show] });
  t.same(g.node("model").editablePorts().sort(), ["fast.prompt", "slow.prompt", "slow.steps", "variant"]);
  const { s } = await open(g, 10_000);
  await s.run(show);
  t.equal(s.get(show.out.shown), "[fast:cat]");
  s.set("model__variant", "slow");
  t.equal(s.nodeState(show).freshness, "stale", "switching the variant makes downstream stale");
  s.set("model__slow.steps", 4);
  await s.run(show);
  t.equal(s.get(show.out.shown), "[slow:dog:4]", "the variant's own inputs are used");
  t.same(s.selected(model)!.inputs, { variant: "slow", "slow.prompt": "dog", "slow.steps": 4 }, "the variant is part of provenance");
  s.set("model__variant", "fast");
  const back = await s.run(show);
  t.equal(back.nodes.model, "cached", "the variant is part of the recipe key: back to fast reuses its result");
  t.equal(fast.or(slow).kind, "choice");
  t.throws(() => choose(fast, new FnNode(() => 1, { name: "odd", outputs: { other: null } })), { code: "E_BAD_OPTION" });
});

t.test("branch(): only the matching path runs; others are skipped, recorded, and a join takes the first non-skipped", async (t) => {
  const ran: string[] = [];
  const classify = new FnNode(({ text }) => (text.includes("meow") ? "cat" : "dog"), { name: "classify", inputs: { text: gr.Textbox({ value: "meow meow" }) }, outputs: { label: gr.Label() } });
  const cat = new FnNode(({ text }) => (ran.push("cat"), `cat says ${text}`), { name: "cat", inputs: { text: classify.out.label }, outputs: { reply: gr.Textbox() } });
  const dog = new FnNode(({ text }) => (ran.push("dog"), `dog says ${text}`), { name: "dog", inputs: { text: classify.out.label }, outputs: { reply: gr.Textbox() } });
  branch(classify.out.label, { cat, dog });
  const dogOnly = new FnNode(({ r }) => (ran.push("dogOnly"), r), { name: "dogOnly", inputs: { r: dog.out.reply }, outputs: { r: null } });
  const join = new FnNode(({ reply }) => (ran.push("join"), `>> ${reply}`), { name: "join", inputs: { reply: firstOf(cat.out.reply, dog.out.reply) }, outputs: { out: gr.Textbox() } });
  const g = new Graph({ name: "branch", nodes: [join, dogOnly] });
  t.ok(g.edges.some((e) => e.kind === "when" && e.to.node === "cat"), "branch conditions are edges of kind 'when'");
  const { s, events } = await open(g);
  const summary = await s.run(undefined, { mode: "all" });
  t.same(summary.nodes, { classify: "ran", cat: "ran", dog: "skipped", dogOnly: "skipped", join: "ran" });
  t.same(ran.sort(), ["cat", "join"]);
  t.equal(s.get(join.out.out), ">> cat says cat");
  t.equal(s.nodeState(dog).activity, "skipped");
  t.equal(s.nodeState(dog).freshness, "fresh", "skipped is neither stale nor failed");
  t.equal(s.selected(dog)!.status, "skipped", "the skip is recorded in provenance");
  t.equal(s.selected(dog)!.error!.message, 'Skipped: classify.out.label is "cat", not "dog".', "the reason writes both sides as values");
  t.ok(events.some((e) => e.type === "node-skipped" && e.nodeId === "dogOnly"), "skips propagate to nodes that depend only on skipped paths");
  s.set(classify.in.text, "woof");
  await s.settled();
  t.equal(s.get(join.out.out), ">> dog says dog", "autorun follows the new route");
  t.equal(s.nodeState(cat).activity, "skipped");
  const called = await g.call({ classify__text: "meow" }, {});
  t.same(called, { join: { out: ">> cat says cat" }, dogOnly: {} }, "graph.call returns skipped leaves as empty outputs");
});

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { MemoryStore, type Graph } from "../lib/index.js";

/** The offline examples run here for real; the others only type-check (they need the network). */
const load = async (name: string) => (await import(`../examples/${name}.js`)).default as Graph;

t.test("examples/demo.ts renders a fractal, a thumbnail, a chart and a streamed caption", async (t) => {
  const graph = await load("demo");
  const s = await graph.session({ store: new MemoryStore() });
  const summary = await s.run(undefined, { mode: "all" });
  t.equal(summary.status, "done");
  const image = s.selected("Render")!.outputs.image as string;
  t.same([...readFileSync(image).subarray(1, 4)], [...Buffer.from("PNG")]);
  t.match(s.selected("Caption")!.outputs.text, /^## Seahorse valley/);
  s.set("Settings__palette", "ocean");
  await s.settled();
  t.not(s.selected("Render")!.outputs.image, image, "editing the palette re-rendered");
  await s.close();
});

t.test("examples/podcast.ts voices each line separately and gathers an episode", async (t) => {
  const graph = await load("podcast");
  const s = await graph.session({ store: new MemoryStore() });
  await s.run("episode");
  t.equal((s.selected("voice")!.outputs.clip as string[]).length, 4);
  const before = s.selected("voice")!.items!.map((i) => i.key);
  s.set("Script__text", "Host: Welcome to the show\nGuest: Thanks a lot\nHost: Tell us about dataflow engines\nGuest: They recompute only what changed");
  await s.run("episode");
  const after = s.selected("voice")!.items!.map((i) => i.key);
  t.same(after.map((k, i) => k === before[i]), [true, false, true, true], "only the edited line was voiced again");
  t.ok(readFileSync(s.selected("episode")!.outputs.audio as string).length > 44);
  await s.close();
});

t.test("examples/choice.ts switches summariser variants", async (t) => {
  const graph = await load("choice");
  const s = await graph.session({ store: new MemoryStore(), debounceMs: 10_000 });
  await s.run("words");
  const lead = s.selected("words")!.outputs.n;
  s.set("summariser__variant", "keywords");
  t.equal(s.nodeState("words").freshness, "stale");
  await s.run("words");
  t.equal(s.selected("words")!.outputs.n, 4);
  t.not(lead, 4);
  await s.close();
});

t.test("examples/branch.ts routes a review and skips the other writer", async (t) => {
  const graph = await load("branch");
  t.same(await graph.call({ classify__text: "slow and broken" }), { reply: { text: "We are sorry (-2). A support engineer will contact you." } });
  t.same(await graph.call({ classify__text: "great" }), { reply: { text: "Thank you! We are glad it scored 1 with you." } });
});

t.test("the network examples build valid graphs", async (t) => {
  for (const name of ["quickstart", "image-to-3d"]) {
    const graph = await load(name);
    t.ok(graph.nodes.length >= 2, `${name} has its nodes`);
    t.ok(graph.nodes.every((n) => !graph.autorunOf(n) || n.kind === "fn"), "remote nodes wait to be asked");
  }
  const i3d = await load("image-to-3d");
  t.same(i3d.nodes.map((n) => [n.kind, n.id]), [
    ["gradio", "background_removal"], ["fn", "Downscale_image_for_Inference"], ["inference", "FLUX_2_klein_4B"], ["gradio", "TRELLIS_2"],
  ], "the published pipeline, in order");
});

t.test("examples/image-to-3d.ts downscales with sharp (Lanczos) by the slider's factor", async (t) => {
  const { downscaler } = await import("../examples/image-to-3d.js");
  const { default: sharp } = await import("sharp");
  const dir = mkdtempSync(join(tmpdir(), "daggr-i3d-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const src = join(dir, "photo.png");
  await sharp({ create: { width: 40, height: 20, channels: 4, background: { r: 200, g: 30, b: 30, alpha: 1 } } }).png().toFile(src);
  const out = (await downscaler.test({ image: src, scale: 0.5 })).image as string;
  t.match(await sharp(out).metadata(), { format: "png", width: 20, height: 10 });
  const quarter = (await downscaler.test({ image: src, scale: 0.25 })).image as string;
  t.match(await sharp(quarter).metadata(), { width: 10, height: 5 });
});

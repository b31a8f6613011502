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
  const chart = s.selected("Histogram")!.outputs.chart as Array<{ brightness: number; pixels: number }>;
  t.same(chart.map((r) => r.brightness), Array.from({ length: 16 }, (_, b) => b * 16), "the chart's rows are the 16 bins");
  t.equal(chart.reduce((a, r) => a + r.pixels, 0), 256 * 256, "every pixel is in a bin");
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

t.test("examples/image-to-3d.ts runs end to end against fake Spaces and a fake fal-ai: the downscaled image and the prompt reach FLUX, a GLB comes out", async (t) => {
  const { default: sharp } = await import("sharp");
  const { installFetchShim } = await import("./fixtures/fetch-shim.js");
  const { startFakeHf } = await import("./fixtures/fake-hf.js");
  const { startFakeGradio } = await import("./fixtures/fake-gradio.js");
  const { remoteTiming } = await import("../lib/nodes/hf-retry.js");
  const home = mkdtempSync(join(tmpdir(), "daggr-i3d-e2e-"));
  const env = { HF_HOME: process.env.HF_HOME, HF_TOKEN: process.env.HF_TOKEN };
  Object.assign(process.env, { HF_HOME: home, HF_TOKEN: "hf_exampletokenABCDEFGH12345" });
  const timing = { ...remoteTiming };
  Object.assign(remoteTiming, { backoffBaseMs: 10, backoffMaxMs: 80, pollMs: 20, maxPollMs: 50 });
  const shim = installFetchShim();
  const hf = await startFakeHf();
  const glb = Buffer.concat([Buffer.from("glTF", "latin1"), Buffer.from([2, 0, 0, 0, 20, 0, 0, 0]), Buffer.alloc(8)]);
  const seen: Record<string, unknown> = {};
  const rembg = await startFakeGradio({
    endpoints: [{
      name: "/image", parameters: [{ name: "image", component: "Image" }], returns: [{ label: "original_image", component: "Image" }, { label: "final_image", component: "Image" }],
      fn: async (j) => {
        const up = j.upload(j.args.image)!;
        const cut = await sharp(up.bytes).ensureAlpha().png().toBuffer();
        return [j.file(up.bytes, "original.png", "image/png"), j.file(cut, "final.png", "image/png")];
      },
    }],
  });
  const trellis = await startFakeGradio({
    endpoints: [{
      name: "/image_to_3d",
      parameters: [{ name: "image", component: "Image" }, { name: "ss_guidance_strength", component: "Number", default: 7.5 }, { name: "ss_sampling_steps", component: "Number", default: 12 }],
      returns: [{ label: "glb", component: "Model3D" }],
      fn: async (j) => {
        seen.trellis = { bytes: j.upload(j.args.image)!.bytes.length, ss_guidance_strength: j.args.ss_guidance_strength, ss_sampling_steps: j.args.ss_sampling_steps };
        return [j.file(glb, "asset.glb", "model/gltf-binary")];
      },
    }],
  });
  t.teardown(async () => {
    await Promise.all([rembg.close(), trellis.close(), hf.close()]);
    shim.uninstall();
    Object.assign(remoteTiming, timing);
    for (const [k, v] of Object.entries(env)) v === undefined ? delete process.env[k] : (process.env[k] = v);
    rmSync(home, { recursive: true, force: true });
  });
  for (const host of ["huggingface.co", "router.huggingface.co", "v3.fal.media"]) shim.route(host, hf.origin);
  hf.spaces.set("merve/background-removal", { stages: ["RUNNING"] });
  hf.spaces.set("microsoft/TRELLIS.2", { stages: ["RUNNING"] });
  shim.route("merve-background-removal.hf.space", rembg.origin);
  shim.route("microsoft-trellis.2.hf.space", trellis.origin);
  hf.models.set("black-forest-labs/FLUX.2-klein-4B", {
    pipeline_tag: "text-to-image",
    providers: { "fal-ai": { providerId: "fal-ai/flux-2/klein/4b/edit", task: "image-text-to-image" } },
    falStatuses: ["COMPLETED"],
  });

  const { default: graph, backgroundRemover, trellis3d } = await import("../examples/image-to-3d.js");
  const store = new MemoryStore();
  t.teardown(() => store.close());
  const photo = await sharp({ create: { width: 64, height: 32, channels: 3, background: { r: 10, g: 120, b: 200 } } }).png().toBuffer();
  const input = await store.putFile({ bytes: photo, name: "photo.png", mime: "image/png" });
  const out = (await graph.call({ [`${backgroundRemover.id}__image`]: input.path }, { store })) as Record<string, Record<string, string>>;
  t.equal(readFileSync(out[trellis3d.id]!.glb!).subarray(0, 4).toString("latin1"), "glTF", "the GLB reached the 3D output");
  const job = [...hf.falJobs.values()].find((j) => j.model === "black-forest-labs/FLUX.2-klein-4B")!;
  t.equal(job.body.prompt, "Transform this into a clean 3D asset render");
  const sent = Buffer.from(String(job.body.image_url).replace(/^data:image\/png;base64,/, ""), "base64");
  t.match(await sharp(sent).metadata(), { width: 16, height: 8, hasAlpha: true }, "FLUX got the cut-out, downscaled by 0.25 (Lanczos)");
  const { PNG } = await import("./fixtures/fake-hf.js");
  t.same(seen.trellis, { bytes: PNG.length, ss_guidance_strength: 7.5, ss_sampling_steps: 12 }, "TRELLIS got FLUX's image and the fixed settings");
});

t.test("every example imports \"daggr\" as an app would, as the README says: one can be copied into a project as it is", async (t) => {
  const { readdirSync } = await import("node:fs");
  const dir = join(import.meta.dirname, "..", "examples");
  const files = readdirSync(dir).filter((f) => f.endsWith(".ts"));
  t.ok(files.length >= 6, files.join(", "));
  t.match(readFileSync(join(import.meta.dirname, "..", "README.md"), "utf8"), /The examples import `"daggr"` as\s+your code would/);
  for (const f of files) {
    const source = readFileSync(join(dir, f), "utf8");
    t.match(source, /^import \{[^}]*\} from "daggr";$/m, `${f} imports "daggr"`);
    t.notMatch(source, /from "\.\.\/lib\//, `${f} reaches into no daggr internals`);
  }
});

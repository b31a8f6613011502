/**
 * The real thing: the examples and the remote nodes against live public Spaces and real
 * Inference Providers. `npm run test:live` runs this file; plain `npm test` never does
 * (tap's include is `test/*.test.ts`). Every test is skipped unless `DAGGR_LIVE=1`;
 * the provider tests also need `HF_TOKEN` (an `hf_…` token allowed to use Inference
 * Providers). Spaces on ZeroGPU spend the token's quota.
 *
 *   DAGGR_LIVE=1 HF_TOKEN=hf_… npm run test:live
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import t from "tap";
import { Graph, InferenceNode, MemoryStore, type Node, gr } from "../../lib/index.js";
import { executorFor } from "../../lib/engine/executor.js";
import { resolveTask } from "../../lib/nodes/inference.js";
import { hfToken } from "../../lib/nodes/hf-token.js";

const LIVE = process.env.DAGGR_LIVE === "1";
const TOKEN = hfToken();
const skipLive = LIVE ? false : "set DAGGR_LIVE=1 to run against live Spaces and providers";
const skipProvider = skipLive || (TOKEN?.startsWith("hf_") ? false : "needs HF_TOKEN (an hf_… token) for Inference Providers");

const dir = mkdtempSync(join(tmpdir(), "daggr-live-"));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** Checks every remote node of a graph against its live app or model (endpoints, parameters, outputs, task). */
async function validateAll(t: { resolves(p: Promise<unknown>, msg: string): Promise<unknown> }, graph: Graph) {
  const cache = new MemoryStore();
  for (const node of graph.nodes as Node[]) {
    const ex = executorFor(node);
    if (!ex.validate) continue;
    await t.resolves(ex.validate(node, { cache: { get: (k) => cache.getMeta(k), set: (k, v) => cache.setMeta(k, v) } }), `${node.id} matches the live API`);
  }
}

/** A photo-like test image: a red disc on a light background. */
async function testImage(): Promise<string> {
  const path = join(dir, "object.png");
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="512" height="512"><rect width="512" height="512" fill="#eef"/><circle cx="256" cy="256" r="150" fill="#c22"/></svg>`;
  await sharp(Buffer.from(svg)).png().toFile(path);
  return path;
}

const magic = (path: string, n: number) => readFileSync(path).subarray(0, n);

t.test("examples/quickstart.ts: Z-Image-Turbo → background-removal, for real", { skip: skipLive }, async (t) => {
  const { default: graph, imageGen, bgRemover } = await import("../../examples/quickstart.js");
  await validateAll(t, graph);
  const out = (await graph.call({ [`${imageGen.id}__prompt`]: "A red apple on a table, studio light" })) as Record<string, Record<string, string>>;
  const final = out[bgRemover.id]!.final_image!;
  t.ok((await sharp(final).metadata()).hasAlpha, "the final image has a transparent background");
});

t.test("examples/image-to-3d.ts matches the live Spaces' APIs and FLUX.2-klein's fal-ai mapping", { skip: skipLive }, async (t) => {
  const { default: graph, fluxEnhancer } = await import("../../examples/image-to-3d.js");
  await validateAll(t, graph);
  const { task } = await resolveTask(fluxEnhancer, TOKEN, { get: async () => undefined, set: async () => {} }, new AbortController().signal);
  t.equal(task, "image-text-to-image", "the task comes from fal-ai's mapping of FLUX.2-klein-4B");
});

t.test("examples/image-to-3d.ts: background removal → sharp → FLUX.2-klein on fal-ai → TRELLIS.2 GLB, for real", { skip: skipProvider }, async (t) => {
  const { default: graph, backgroundRemover, trellis3d } = await import("../../examples/image-to-3d.js");
  // A photo enters the way an upload does: as a file of the run's files store.
  const store = new MemoryStore();
  t.teardown(() => store.close());
  const photo = await store.putFile({ bytes: readFileSync(await testImage()), name: "object.png", mime: "image/png" });
  const out = (await graph.call({ [`${backgroundRemover.id}__image`]: photo.path }, { store })) as Record<string, Record<string, string>>;
  const glb = out[trellis3d.id]!.glb!;
  t.equal(magic(glb, 4).toString("latin1"), "glTF", "TRELLIS.2 produced a binary glTF (GLB)");
});

t.test("chat on novita streams tokens, with max_tokens passed through", { skip: skipProvider }, async (t) => {
  const node = new InferenceNode("meta-llama/Llama-3.1-8B-Instruct:novita", {
    inputs: { prompt: gr.Textbox(), max_tokens: 24, temperature: 0 },
    outputs: { text: gr.Markdown() },
  });
  const g = new Graph({ name: "live chat", nodes: [node], persistKey: false });
  const s = await g.session({ store: new MemoryStore() });
  const partials: unknown[] = [];
  const sub = s.events.subscribe((e) => void (e.type === "node-partial" && partials.push(e)));
  s.set(`${node.id}__prompt`, "Count from 1 to 10, separated by spaces.");
  await s.run(node.id);
  sub.unsubscribe();
  t.match(s.selected(node.id)!.outputs.text, /1 2 3/);
  t.ok(partials.length > 1, `tokens streamed as ${partials.length} partials`);
  await s.close();
});

t.test("text-to-image through the auto provider, saved into the files store", { skip: skipProvider }, async (t) => {
  const node = new InferenceNode("black-forest-labs/FLUX.1-schnell", { inputs: { prompt: gr.Textbox(), num_inference_steps: 2 }, outputs: { image: gr.Image() } });
  const out = await node.test({ prompt: "a lighthouse at dusk" });
  t.ok(["png", "jpeg", "webp"].includes((await sharp(out.image as string).metadata()).format ?? ""), "an image came back");
});

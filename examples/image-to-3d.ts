/**
 * Image to 3D: remove the background, downscale, restyle with a FLUX model through
 * Inference Providers, then lift the result to a 3D asset with a Gradio Space. Needs the
 * network and an HF token (`HF_TOKEN`). Each remote step runs when you ask (autorun is
 * off for remote nodes); the downscale FnNode reruns by itself.
 */
import { readFileSync } from "node:fs";
import { FnNode, GradioNode, Graph, InferenceNode, gr } from "../lib/index.js";

const cut = new GradioNode("hf-applications/background-removal", {
  apiName: "/image",
  inputs: { image: gr.Image({ label: "Your photo" }) },
  outputs: { original: null, final: gr.Image({ label: "Cut out" }) },
});

/** Caps the longest side at `max` pixels by telling the next step the target size (no decoding needed here). */
const downscale = new FnNode(
  ({ image, max }) => {
    const bytes = readFileSync(image);
    // PNG width/height live at fixed offsets of the IHDR chunk.
    const [w, h] = bytes.toString("ascii", 1, 4) === "PNG" ? [bytes.readUInt32BE(16), bytes.readUInt32BE(20)] : [max, max];
    const scale = Math.min(1, max / Math.max(w, h));
    return { image, size: { width: Math.round(w * scale), height: Math.round(h * scale) } };
  },
  {
    name: "downscale",
    inputs: { image: cut.out.final, max: gr.Slider({ label: "Max side", minimum: 256, maximum: 1024, step: 64, value: 768 }) },
    outputs: { image: gr.Image({ label: "Input for the model" }), size: gr.JSON({ label: "Target size" }) },
  },
);

const restyle = new InferenceNode("black-forest-labs/FLUX.1-Kontext-dev:fal-ai", {
  task: "image-to-image",
  inputs: {
    image: downscale.out.image,
    prompt: gr.Textbox({ label: "Style", value: "a clean 3D render of this object, studio lighting, white background" }),
    guidance_scale: 2.5,
  },
  outputs: { image: gr.Image({ label: "Restyled" }) },
});

const to3d = new GradioNode("trellis-community/TRELLIS", {
  apiName: "/image_to_3d",
  inputs: { image: restyle.out.image, seed: 0, ss_guidance_strength: 7.5, ss_sampling_steps: 12 },
  outputs: { video: gr.Video({ label: "Preview" }), model: gr.Model3D({ label: "3D asset" }) },
  timeoutMs: 10 * 60_000,
});

export default new Graph({ name: "Image to 3D", nodes: [to3d] });

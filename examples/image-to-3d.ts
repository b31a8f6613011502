/**
 * Image to 3D, the published daggr pipeline: remove the background of a photo with a
 * Gradio Space, downscale it with sharp (Lanczos, the factor on a slider), turn it into a
 * clean 3D-ready render with FLUX.2-klein-4B on fal-ai (image + prompt → image, through
 * Inference Providers), and lift that to a GLB with microsoft/TRELLIS.2, shown in the 3D
 * viewer. Needs the network and an HF token (`HF_TOKEN`) for the provider step; run it
 * with `npx daggr dev examples/image-to-3d.ts`. Remote steps run when you ask (autorun is
 * off for remote nodes); the downscale reruns by itself when you move the slider.
 *
 * Checked offline against the published Python version only: the parameter and output
 * names of the real Spaces are what that version uses (`image`; `original_image`,
 * `final_image`; `ss_guidance_strength`, `ss_sampling_steps`). `npm run test:live`
 * validates them against the live Spaces' API info.
 */
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import sharp from "sharp";
import { FnNode, GradioNode, Graph, InferenceNode, gr } from "daggr";

// The Python original runs this Space locally (`run_locally=True`); daggr calls the
// hosted Space until GradioNode can run one locally.
export const backgroundRemover = new GradioNode("merve/background-removal", {
  apiName: "/image",
  inputs: { image: gr.Image({ label: "Your photo" }) },
  outputs: { original_image: null, final_image: gr.Image({ label: "Final image" }) },
});

/** Resizes by `scale` (clamped to 0.05–1) with a Lanczos filter; the result is a PNG in the files store. */
export async function downscaleImage(image: string, scale: number, filesDir: string): Promise<string> {
  const s = Math.max(0.05, Math.min(1, Number(scale)));
  const { width = 1, height = 1 } = await sharp(image).metadata();
  const out = join(filesDir, `${randomUUID()}.png`);
  await sharp(image)
    .resize({ width: Math.max(1, Math.floor(width * s)), height: Math.max(1, Math.floor(height * s)), kernel: "lanczos3", fit: "fill" })
    .png()
    .toFile(out);
  return out;
}

export const downscaler = new FnNode(({ image, scale }, ctx) => downscaleImage(image, scale, ctx.filesDir), {
  name: "Downscale image for Inference",
  inputs: {
    image: backgroundRemover.out.final_image,
    scale: gr.Slider({ label: "Downscale factor", minimum: 0.25, maximum: 0.75, step: 0.05, value: 0.25 }),
  },
  outputs: { image: gr.Image({ label: "Downscaled image" }) },
});

// On fal-ai this model is mapped to the `image-text-to-image` task (its Hub pipeline tag
// says otherwise); daggr takes the task from that mapping and sends image and prompt.
export const fluxEnhancer = new InferenceNode("black-forest-labs/FLUX.2-klein-4B:fal-ai", {
  inputs: {
    image: downscaler.out.image,
    prompt: gr.Textbox({ label: "Prompt", value: "Transform this into a clean 3D asset render", lines: 3 }),
  },
  outputs: { image: gr.Image({ label: "3D-ready enhanced image" }) },
});

// The published Python version labels this output "3D Asset (GLB preview)"; daggr shows
// the GLB in its 3D viewer.
export const trellis3d = new GradioNode("microsoft/TRELLIS.2", {
  apiName: "/image_to_3d",
  inputs: { image: fluxEnhancer.out.image, ss_guidance_strength: 7.5, ss_sampling_steps: 12 },
  outputs: { glb: gr.Model3D({ label: "3D asset (GLB)" }) },
  timeoutMs: 10 * 60_000,
});

export default new Graph({ name: "Image to 3D Asset Pipeline", nodes: [backgroundRemover, downscaler, fluxEnhancer, trellis3d] });

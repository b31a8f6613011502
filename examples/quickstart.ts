/**
 * The quickstart: generate an image with one Space, remove its background with another.
 * Needs the network (and quota on the Spaces); run with `npx daggr dev examples/quickstart.ts`.
 */
import { GradioNode, Graph, gr } from "../lib/index.js";

const gen = new GradioNode("hf-applications/Z-Image-Turbo", {
  apiName: "/generate_image",
  inputs: {
    prompt: gr.Textbox({ label: "Prompt", value: "A cheetah in the savanna, golden hour", lines: 3 }),
    height: 1024,
    width: 1024,
    seed: () => Math.floor(Math.random() * 1e9),
  },
  outputs: { image: gr.Image({ label: "Generated image" }), seed: null },
});

const cut = new GradioNode("hf-applications/background-removal", {
  apiName: "/image",
  inputs: { image: gen.out.image },
  outputs: { original: null, final: gr.Image({ label: "Transparent background" }) },
});

export default new Graph({ name: "Transparent background", nodes: [cut] });

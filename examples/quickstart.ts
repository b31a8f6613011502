/**
 * The quickstart pair: generate an image with one Space (Z-Image-Turbo), remove its
 * background with another. Needs the network (and quota on the Spaces); run it with
 * `npx daggr dev examples/quickstart.ts`.
 *
 * The parameter and output names are those of the published Python quickstart
 * (`prompt`, `height`, `width`, `seed` → `image`; `image` → `original_image`,
 * `final_image`); `npm run test:live` checks them against the live Spaces.
 */
import { GradioNode, Graph, gr } from "daggr";

export const imageGen = new GradioNode("hf-applications/Z-Image-Turbo", {
  apiName: "/generate_image",
  inputs: {
    prompt: gr.Textbox({ label: "Prompt", value: "A cheetah sprints across the grassy savanna.", lines: 3 }),
    height: 1024, // a fixed value: sent, not shown
    width: 1024,
    seed: () => Math.floor(Math.random() * 2 ** 31), // called at every run; the value used is recorded
  },
  outputs: { image: gr.Image({ label: "Generated image" }) },
});

export const bgRemover = new GradioNode("hf-applications/background-removal", {
  apiName: "/image",
  inputs: { image: imageGen.out.image },
  outputs: { original_image: null, final_image: gr.Image({ label: "Final image" }) },
});

export default new Graph({ name: "Transparent background", nodes: [imageGen, bgRemover] });

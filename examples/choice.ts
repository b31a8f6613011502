/**
 * A choice-node comparison, offline: two summarisers with the same output and different
 * inputs. Pick one on the canvas (the choice is saved per sheet); switching makes the
 * downstream word count stale, and switching back reuses the earlier result.
 */
import { FnNode, Graph, choose, gr } from "daggr";

const text = new FnNode(({ t }) => t, {
  name: "article",
  inputs: { t: gr.Textbox({ label: "Article", lines: 5, value: "Dataflow engines recompute only what changed. They keep results. They let you compare variants side by side. Provenance tells you where each value came from." }) },
  outputs: { text: null },
});

const firstSentences = new FnNode(({ text, n }) => text.split(/(?<=\.)\s+/).slice(0, n).join(" "), {
  name: "lead",
  inputs: { text: text.out.text, n: gr.Slider({ label: "Sentences", minimum: 1, maximum: 5, step: 1, value: 2 }) },
  outputs: { summary: gr.Textbox({ label: "Summary" }) },
});

const keywords = new FnNode(
  ({ text, k }) => {
    const counts = new Map<string, number>();
    for (const w of text.toLowerCase().match(/[a-z]{5,}/g) ?? []) counts.set(w, (counts.get(w) ?? 0) + 1);
    return [...counts].sort((a, b) => b[1] - a[1]).slice(0, k).map(([w]) => w).join(", ");
  },
  { name: "keywords", inputs: { text: text.out.text, k: gr.Number({ label: "Keywords", value: 4 }) }, outputs: { summary: gr.Textbox({ label: "Summary" }) } },
);

const summary = choose(firstSentences, keywords, { name: "summariser" });

const words = new FnNode(({ s }) => s.split(/\s+/).length, { name: "words", inputs: { s: summary.out.summary }, outputs: { n: gr.Number({ label: "Words" }) } });

export default new Graph({ name: "Summariser comparison", nodes: [words] });

/**
 * A conditional branch, offline: a keyword classifier routes a review to the reply writer
 * for its mood; the other writer is skipped (dimmed on the canvas), and the join takes
 * the reply that was written.
 */
import { FnNode, Graph, branch, firstOf, gr } from "daggr";

const review = new FnNode(
  ({ text }) => {
    const score = (text.match(/\b(great|love|excellent|good)\b/gi)?.length ?? 0) - (text.match(/\b(bad|broken|hate|slow)\b/gi)?.length ?? 0);
    return { mood: score >= 0 ? "happy" : "unhappy", score };
  },
  { name: "classify", inputs: { text: gr.Textbox({ label: "Review", value: "I love it, great battery" }) }, outputs: { mood: gr.Label({ label: "Mood" }), score: gr.Number({ label: "Score" }) } },
);

const thank = new FnNode(({ score }) => `Thank you! We are glad it scored ${score} with you.`, { name: "thank", inputs: { score: review.out.score }, outputs: { reply: gr.Textbox() } });
const apologise = new FnNode(({ score }) => `We are sorry (${score}). A support engineer will contact you.`, { name: "apologise", inputs: { score: review.out.score }, outputs: { reply: gr.Textbox() } });

branch(review.out.mood, { happy: thank, unhappy: apologise });

const reply = new FnNode(({ reply }) => reply, { name: "reply", inputs: { reply: firstOf(thank.out.reply, apologise.out.reply) }, outputs: { text: gr.Markdown({ label: "Reply" }) } });

export default new Graph({ name: "Review replies", nodes: [reply] });

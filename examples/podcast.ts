/**
 * A podcast-style scatter/gather workflow, offline: a script is split into lines, each line
 * is "voiced" by its own run (`lines.each`), and the clips are gathered (`.all()`) into
 * one episode. Edit one line of the script and only that line is voiced again.
 */
import { FnNode, Graph, InputNode, gr } from "daggr";
import { readWav, saveWav, speak } from "./lib/wav.js";

const PITCH: Record<string, number> = { Host: 220, Guest: 330 };

const script = new InputNode({
  name: "Script",
  ports: {
    text: gr.Textbox({
      label: "Script (Speaker: line)",
      lines: 6,
      value: "Host: Welcome to the show\nGuest: Thanks for having me\nHost: Tell us about dataflow engines\nGuest: They recompute only what changed",
    }),
  },
});

const split = new FnNode(
  ({ text }) =>
    text
      .split("\n")
      .map((l) => l.trim())
      .filter(Boolean)
      .map((l) => {
        const [who, ...rest] = l.split(":");
        return { speaker: rest.length ? who!.trim() : "Host", line: (rest.length ? rest.join(":") : l).trim() };
      }),
  { name: "split", inputs: { text: script.out.text }, outputs: { lines: gr.JSON({ label: "Lines" }) } },
);

const voice = new FnNode(
  ({ item }, ctx) => {
    const { speaker, line } = item as { speaker: string; line: string };
    return saveWav(ctx.filesDir, "line", speak(line, PITCH[speaker] ?? 260));
  },
  { name: "voice", inputs: { item: split.out.lines.each }, concurrent: true, outputs: { clip: gr.Audio({ label: "Clip" }) } },
);

const episode = new FnNode(
  ({ clips }, ctx) => {
    const parts = (clips as string[]).map(readWav);
    const all = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      all.set(p, at);
      at += p.length;
    }
    return saveWav(ctx.filesDir, "episode", all);
  },
  { name: "episode", inputs: { clips: voice.out.clip.all() }, outputs: { audio: gr.Audio({ label: "Episode" }) } },
);

export default new Graph({ name: "Podcast", nodes: [episode] });

/**
 * `npm run bench`: every benchmark, each printing `BENCH <name> <value>` lines (ratios
 * measured side by side in one process) and one table at the end. A suite that cannot
 * run here (no Chromium, say) is reported and skipped.
 */
import { type Figure, table } from "./util.js";

const suites: Array<[string, () => Promise<Figure[]>]> = [
  ["startup", async () => (await import("./startup.js")).benchStartup()],
  ["engine", async () => (await import("./engine.js")).benchEngine()],
  ["store", async () => (await import("./store.js")).benchStore()],
  ["gradio", async () => (await import("./gradio.js")).benchGradio()],
  ["download", async () => (await import("./download.js")).benchDownload()],
  ["server", async () => (await import("./server.js")).benchServer()],
  ["canvas", async () => (await import("./canvas.js")).benchCanvas()],
  ["queue", async () => (await import("./queue.js")).benchQueue()],
];

const only = process.argv.slice(2);
const all: Figure[] = [];
for (const [name, run] of suites) {
  if (only.length && !only.includes(name)) continue;
  try {
    const figures = await run();
    for (const f of figures) console.log(`BENCH ${f.name} ${Math.round(f.value * 1000) / 1000}`);
    all.push(...figures);
  } catch (e) {
    console.error(`bench ${name} skipped: ${(e as Error).message}`);
  }
}
console.log("");
table(all);
process.exit(0);

/**
 * Start-up: what `import "daggr"` costs a fresh process, measured side by side with a
 * bare `node -e ''` and with the remote clients imported too (`@gradio/client`,
 * `@huggingface/inference`, `@huggingface/hub`, which daggr loads only at a remote
 * node's first call). The built package is imported (dist/, as an app does), by name.
 * `DAGGR_BENCH_DIST=<dir>` measures another build in the same run (e.g. one from an
 * earlier commit), as `startup.other_*` figures.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { median, report, type Figure } from "./util.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const REMOTE = ["@gradio/client", "@huggingface/inference", "@huggingface/hub"];

/** Wall time of one fresh `node --input-type=module -e <code>` from spawn to exit, in ms. */
function timeProcess(code: string): Promise<number> {
  return new Promise((ok, fail) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, ["--input-type=module", "-e", code], { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (c: Buffer) => (err += c));
    child.on("error", fail);
    child.on("exit", (status) => (status === 0 ? ok(performance.now() - t0) : fail(new Error(`node -e ${code} exited ${status}: ${err.slice(0, 500)}`))));
  });
}

/** Each variant's median over `runs` rounds, the variants interleaved within a round (one warm-up round). */
async function medians(variants: Record<string, string>, runs: number): Promise<Record<string, number>> {
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  for (let round = 0; round <= runs; round++) {
    for (const [name, code] of Object.entries(variants)) {
      const ms = await timeProcess(code);
      if (round > 0) times[name]!.push(ms);
    }
  }
  return Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
}

export async function benchStartup(runs = 15): Promise<Figure[]> {
  if (!existsSync(`${ROOT}dist/index.js`)) throw new Error("dist/ is not built (npm run build)");
  const remote = REMOTE.map((p) => `await import(${JSON.stringify(p)});`).join(" ");
  const other = process.env.DAGGR_BENCH_DIST;
  const otherUrl = other ? JSON.stringify(pathToFileURL(`${other.replace(/\/$/, "")}/index.js`).href) : undefined;
  const m = await medians(
    {
      bare: "",
      daggr: `await import("daggr");`,
      withRemote: `await import("daggr"); ${remote}`,
      ...(otherUrl ? { other: `await import(${otherUrl});` } : {}),
    },
    runs,
  );
  const own = m.daggr! - m.bare!;
  const withRemote = m.withRemote! - m.bare!;
  const figures: Figure[] = [
    { name: "startup.bare_node_ms", value: m.bare!, unit: "ms", target: "(reference)" },
    { name: "startup.import_daggr_ms", value: own, unit: "ms over bare node" },
    { name: "startup.import_daggr_with_remote_clients_ms", value: withRemote, unit: "ms over bare node" },
    { name: "startup.daggr_vs_with_remote_clients", value: own / withRemote, unit: "ratio", target: "< 1 (remote clients not loaded)" },
  ];
  if (m.other !== undefined) {
    figures.push(
      { name: "startup.other_import_ms", value: m.other - m.bare!, unit: `ms over bare node (${other})` },
      { name: "startup.daggr_vs_other", value: own / (m.other - m.bare!), unit: "ratio" },
    );
  }
  return figures;
}

if (import.meta.url === `file://${process.argv[1]}`) report(await benchStartup());

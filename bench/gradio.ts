/**
 * GradioNode benchmark, measured side by side in one process against the fake Gradio
 * server (real HTTP, real `@gradio/client`, the SSE queue protocol):
 * - gradio_parallel_wall_vs_critical: 16 independent GradioNode calls, each held 200 ms by
 *   the app (in a child process), then a join FnNode, run "to here". Wall time over the critical path, which
 *   is the same graph with one call (one call + the join, with all the same per-call
 *   costs: queue join, SSE stream, result mapping, records). Target <= 1.2: the calls
 *   overlap, sharing one client and one SSE stream per session.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { FnNode, Graph, GradioNode, MemoryStore } from "../lib/index.js";
import { type Figure, report, timeMedian } from "./util.js";

const SERVICE_MS = 200;

/** The fake app in a child process: a real Space does not share our event loop either. */
async function serveFake(): Promise<{ url: string; child: ChildProcess }> {
  const script = new URL("../test/fixtures/fake-gradio-serve.ts", import.meta.url).pathname;
  const child = spawn(process.execPath, ["--import", "tsx", script, String(SERVICE_MS)], { stdio: ["pipe", "pipe", "inherit"] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", resolve);
    child.once("exit", (code) => reject(new Error(`fake Gradio server exited (${code})`)));
  });
  return { url: (JSON.parse(line) as { url: string }).url, child };
}

export async function benchGradio(): Promise<Figure[]> {
  const fake = await serveFake();
  try {
    const build = (n: number) => {
      const calls = Array.from({ length: n }, (_, i) => new GradioNode(fake.url, { name: `call${i}`, inputs: { prompt: `p${i}` }, outputs: { out: null } }));
      const join = new FnNode((xs: Record<string, string>) => Object.values(xs).join(","), {
        name: "join",
        inputs: Object.fromEntries(calls.map((c, i) => [`c${i}`, c.out.out])),
        outputs: { all: null },
      });
      return { graph: new Graph({ name: `gradio${n}`, nodes: [join], persistKey: false }), join };
    };
    const once = async ({ graph, join }: ReturnType<typeof build>) => {
      // A fresh store each time: nothing is reused, every call really runs.
      const s = await graph.session({ store: new MemoryStore() });
      const summary = await s.run(join, { mode: "to-here" });
      await s.close();
      if (summary.status !== "done") throw new Error(`bench run ended ${summary.status}`);
    };
    const wide = build(16);
    const single = build(1);
    // The warm-up run also connects the (shared) client, so neither side pays for it.
    const critical = await timeMedian(() => once(single), 7, 1);
    const wall = await timeMedian(() => once(wide), 7, 1);
    return [
      { name: "gradio_parallel_wall_vs_critical", value: wall / critical, unit: "ratio", target: "<= 1.2" },
      { name: "gradio_parallel_wall_ms", value: wall, unit: "ms" },
      { name: "gradio_critical_path_ms", value: critical, unit: "ms" },
      { name: "gradio_call_overhead_ms", value: critical - SERVICE_MS, unit: "ms" },
    ];
  } finally {
    fake.child.stdin!.end();
    fake.child.kill();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  report(await benchGradio());
  process.exit(0);
}

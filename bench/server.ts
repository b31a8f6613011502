/**
 * Server benchmarks:
 * - ws_bytes_per_update: bytes a tab receives when one node of a 200-node graph
 *   finishes (run started → run finished); ws_bytes_per_update_50 the same at 50 nodes,
 *   and ws_bytes_200_vs_50 their ratio (target <= 1.05: deltas do not grow with the graph);
 * - snapshot_bytes_200: the one snapshot a tab gets on connect, for scale;
 * - dev_start_ms: `daggr dev app.ts` from command start to the first served page;
 * - dev_reload_ms: from saving a file the app imports to the restarted server answering
 *   with the new code (target < 1000).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import WebSocket from "ws";
import { FnNode, Graph, MemoryStore, gr } from "../lib/index.js";
import { launch } from "../lib/server/index.js";
import { freePort } from "../lib/server/options.js";
import { type Figure, median, report } from "./util.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** `n` nodes in chains of four, each chain head with an editable input. */
function chains(n: number): Graph {
  const nodes: FnNode[] = [];
  for (let i = 0; i < n; i++) {
    const head = i % 4 === 0;
    const inputs: Record<string, unknown> = head ? { text: gr.Textbox({ label: `Text ${i}`, value: `v${i}` }) } : { text: nodes[i - 1]!.out.text };
    nodes.push(new FnNode((x: Record<string, unknown>) => `${x.text}.`, { name: `n${i}`, inputs, outputs: { text: gr.Textbox({ label: `Out ${i}` }) } }));
  }
  return new Graph({ name: `chains${n}`, nodes, persistKey: false });
}

/** Bytes a connected tab receives for one step run of one node; also the snapshot's size. */
async function bytesPerUpdate(n: number): Promise<{ update: number; snapshot: number }> {
  const server = await launch(chains(n), { port: 0, store: new MemoryStore(), quiet: true });
  const ws = new WebSocket(`${server.url.replace("http", "ws")}/ws`);
  await new Promise((r) => ws.once("open", r));
  const frames: string[] = [];
  let wake: () => void = () => {};
  ws.on("message", (d) => {
    frames.push(d.toString());
    wake();
  });
  const until = async (pred: (m: { type: string; re?: string; event?: { type: string; runId?: string } }) => boolean, from: number) => {
    for (;;) {
      const i = frames.slice(from).findIndex((f) => pred(JSON.parse(f)));
      if (i >= 0) return from + i;
      await new Promise<void>((r) => (wake = r));
    }
  };
  ws.send(JSON.stringify({ v: 1, type: "hello", id: "h" }));
  const snap = await until((m) => m.type === "snapshot", 0);
  const sizes: number[] = [];
  for (let i = 0; i < 5; i++) {
    const target = `n${4 * i}`;
    const from = frames.length;
    ws.send(JSON.stringify({ v: 1, type: "run", nodeId: target, mode: "step" }));
    const end = await until((m) => m.type === "event" && m.event?.type === "run-finished", from);
    sizes.push(frames.slice(from, end + 1).filter((f) => !f.includes('"type":"ack"')).reduce((a, f) => a + Buffer.byteLength(f), 0));
  }
  ws.close();
  await server.close();
  return { update: median(sizes), snapshot: Buffer.byteLength(frames[snap]!) };
}

/** `daggr dev` on a small app: time to the first page, and to the reloaded app after an edit. */
async function devTimes(runs = 3): Promise<{ start: number; reload: number }> {
  const starts: number[] = [];
  const reloads: number[] = [];
  for (let r = 0; r < runs; r++) {
    const dir = mkdtempSync(join(tmpdir(), "daggr-bench-dev-"));
    const lib = pathToFileURL(join(ROOT, "lib/index.ts")).href;
    writeFileSync(join(dir, "helper.ts"), 'export const suffix = "!";\n');
    writeFileSync(
      join(dir, "app.ts"),
      `import { FnNode, Graph, gr } from ${JSON.stringify(lib)};\nimport { suffix } from "./helper.js";\n` +
        `const upper = new FnNode(({ text }) => text.toUpperCase() + suffix, { name: "upper", inputs: { text: gr.Textbox({ value: "hi" }) }, outputs: { upper: gr.Textbox() } });\n` +
        `export default new Graph({ name: "Bench app", nodes: [upper] });\n`,
    );
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const t0 = performance.now();
    const proc = spawn(process.execPath, ["--import", import.meta.resolve("tsx"), join(ROOT, "lib/cli/index.ts"), "dev", "app.ts", "--port", String(port)], {
      cwd: dir,
      env: { ...process.env, DAGGR_HOME: join(dir, "home"), DAGGR_DEBUG: "1" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let err = "";
    proc.stderr.on("data", (d) => (err += d));
    const poll = async (ok: (res: Response) => Promise<boolean>) => {
      for (;;) {
        try {
          const res = await fetch(url + "/", { signal: AbortSignal.timeout(1000) });
          if (await ok(res)) return;
        } catch {
          // not up yet
        }
        await new Promise((res) => setTimeout(res, 5));
      }
    };
    await poll(async (res) => res.status === 200);
    starts.push(performance.now() - t0);
    // A user edits a while after starting: let the warm standby come up first.
    while ((err.match(/standby ready/g) ?? []).length < 2) await new Promise((res) => setTimeout(res, 20));
    const t1 = performance.now();
    writeFileSync(join(dir, "helper.ts"), 'export const suffix = "?";\n');
    const call = () =>
      fetch(url + "/api/call", { method: "POST", headers: { "content-type": "application/json" }, body: '{"inputs":{"upper__text":"a"}}', signal: AbortSignal.timeout(1000) });
    for (;;) {
      const text = await call().then((res) => res.text(), () => "");
      if (text.includes("A?")) break;
      await new Promise((res) => setTimeout(res, 5));
    }
    reloads.push(performance.now() - t1);
    proc.kill("SIGINT");
    await new Promise((res) => proc.once("exit", res));
    rmSync(dir, { recursive: true, force: true });
  }
  return { start: median(starts), reload: median(reloads) };
}

export async function benchServer(): Promise<Figure[]> {
  const small = await bytesPerUpdate(50);
  const large = await bytesPerUpdate(200);
  const dev = await devTimes();
  return [
    { name: "ws_bytes_per_update", value: large.update, unit: "bytes" },
    { name: "ws_bytes_per_update_50", value: small.update, unit: "bytes" },
    { name: "ws_bytes_200_vs_50", value: large.update / small.update, unit: "ratio", target: "<= 1.05" },
    { name: "snapshot_bytes_200", value: large.snapshot, unit: "bytes" },
    { name: "dev_start_ms", value: dev.start, unit: "ms" },
    { name: "dev_reload_ms", value: dev.reload, unit: "ms", target: "< 1000" },
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) report(await benchServer());

/**
 * Server benchmarks:
 * - ws_bytes_per_update: bytes a tab receives when one node of a 200-node graph
 *   finishes (run started → run finished); ws_bytes_per_update_50 the same at 50 nodes,
 *   and ws_bytes_200_vs_50 their ratio (target <= 1.05: deltas do not grow with the graph);
 * - snapshot_bytes_200: the one snapshot a tab gets on connect, for scale;
 * - fanout_1000_tab_wall_vs_critical: the engine suite's 1,000-wide fan-out of 10 ms nodes,
 *   served, with a tab watching from another process: a run (from the tab's `run` to its
 *   `run-finished`) over the critical path, and the messages and KB the run sent the tab
 *   (fanout_1000_tab_messages_per_run, fanout_1000_tab_kb_per_run);
 * - snapshot_wire_bytes_{200,1000}: the bytes that snapshot takes on the socket with
 *   permessage-deflate (as browsers offer it), snapshot_wire_plain_bytes_* without, and
 *   snapshot_deflate_ratio_1000 the two side by side (compressed over plain);
 * - dev_start_ms: `daggr dev app.ts` from command start to the first served page;
 * - dev_reload_ms: from saving a file the app imports to the restarted server answering
 *   with the new code (target < 1000);
 * - a flood: one client (another process) sends 10,000 `run` messages as fast as it can
 *   at a node that takes 20 ms (one at a time), while a second client times `GET /api/schema`.
 *   flood_sent_per_s is the flood's rate;
 *   flood_runs_accepted_per_s the runs the server admitted (acks), flood_runs_executed_per_s
 *   those that finished, per second of the flood; schema_p95_flood_vs_idle the second
 *   client's p95 during the flood over its idle p95 (target <= 3); rss_*_mb the server's
 *   resident memory before and after (heap_*_mb its JS heap, after a GC when run with
 *   --expose-gc). The same flood against a server with its limits
 *   off gives the *_unlimited figures, for contrast.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import WebSocket from "ws";
import { FnNode, Graph, MemoryStore, gr } from "../lib/index.js";
import { type ServerOptions, launch } from "../lib/server/index.js";
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
      // A burst of events is one message: the predicate sees each event as its own message.
      const i = frames.slice(from).findIndex((f) => {
        const m = JSON.parse(f);
        return m.type === "events" ? m.events.some((event: { type: string }) => pred({ type: "event", event })) : pred(m);
      });
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

/** The snapshot's bytes on the socket for a client that offers permessage-deflate, and one that does not. */
export async function snapshotWireBytes(n: number): Promise<{ deflate: number; plain: number }> {
  const server = await launch(chains(n), { port: 0, store: new MemoryStore(), quiet: true });
  const one = async (perMessageDeflate: boolean) => {
    const ws = new WebSocket(`${server.url.replace("http", "ws")}/ws`, { perMessageDeflate });
    await new Promise((r) => ws.once("open", r));
    const socket = (ws as unknown as { _socket: { bytesRead: number } })._socket;
    const before = socket.bytesRead;
    const got = new Promise<void>((r) => ws.on("message", (d) => d.toString().startsWith('{"v":1,"type":"snapshot"') && r()));
    ws.send(JSON.stringify({ v: 1, type: "hello", id: "h" }));
    await got;
    const bytes = socket.bytesRead - before;
    ws.close();
    return bytes;
  };
  const deflate = await one(true);
  const plain = await one(false);
  await server.close();
  return { deflate, plain };
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

/**
 * The flooding tab, as its own process (its sending and reading must not slow the server's
 * event loop, which the probe measures): says hello, sends `count` run messages in batches,
 * and reports how many were acked, refused (by code) and finished once every reply is in.
 */
const FLOODER = `
import WebSocket from "ws";
const [url, count] = [process.argv[1], Number(process.argv[2])];
const ws = new WebSocket(url);
let replies = 0, acks = 0, finished = 0, t0 = 0, sentAt = 0;
const refused = {};
ws.on("message", (d) => {
  const m = JSON.parse(String(d));
  if (m.type === "snapshot") return start();
  if (m.type === "event" && m.event.type === "run-finished") finished++;
  if (m.type === "events") finished += m.events.filter((e) => e.type === "run-finished").length;
  if (m.re === undefined) return;
  replies++;
  if (m.type === "ack") acks++;
  else refused[m.code] = (refused[m.code] ?? 0) + 1;
  if (replies < count) return;
  // Every message has its reply: what was accepted, and what has run by now.
  process.stdout.write(JSON.stringify({ acks, finished, refused, ms: performance.now() - t0, sendMs: sentAt - t0 }) + "\\n");
  ws.close();
});
ws.on("open", () => ws.send(JSON.stringify({ v: 1, type: "hello" })));
function start() {
  process.stdout.write("start\\n");
  t0 = performance.now();
  let i = 0;
  const batch = () => {
    for (let k = 0; k < 100 && i < count; k++, i++) ws.send(JSON.stringify({ v: 1, type: "run", id: "r" + i, nodeId: "work", mode: "step" }));
    if (i < count) setImmediate(batch);
    else sentAt = performance.now();
  };
  batch();
}
`;

/**
 * The engine suite's fan-out (bench/engine.ts) as an app serves it: `src` (its input `k`
 * edited before each run, so every worker runs anew), `width` concurrent workers of
 * 10 ms each, and `join` reading them all. Nothing autoruns: runs are asked for.
 */
export function fanOutGraph(width: number): Graph {
  const src = new FnNode(({ k }: { k: number }) => k, { name: "src", autorun: false, inputs: { k: gr.Number({ value: 0 }) }, outputs: { v: gr.Number() } });
  const workers = Array.from({ length: width }, (_, i) =>
    new FnNode(async ({ v }: { v: number }) => (await new Promise((r) => setTimeout(r, 10)), v + i), { name: `w${i}`, autorun: false, concurrent: true, inputs: { v: src.out.v }, outputs: { v: gr.Number() } }),
  );
  const join = new FnNode((xs: Record<string, number>) => Object.keys(xs).length, {
    name: "join", autorun: false, inputs: Object.fromEntries(workers.map((w, i) => [`w${i}`, w.out.v])), outputs: { n: gr.Number() },
  });
  return new Graph({ name: "fan-out", nodes: [join], persistKey: false });
}

/**
 * A tab in its own process (as a browser is): hello, then rounds of an edit and a run of
 * the fan-out's join (mode all), each timed from the run message to its run-finished;
 * prints the median time, and the messages and bytes a run sent it.
 */
const TAB = `
import WebSocket from "ws";
const [url, origin, rounds] = [process.argv[1], process.argv[2], Number(process.argv[3])];
const ws = new WebSocket(url, { perMessageDeflate: true, headers: { origin } });
const queue = [];
let wake = () => {}, frames = 0, bytes = 0;
ws.on("message", (d) => {
  frames++;
  bytes += d.length;
  const m = JSON.parse(String(d));
  if (m.type === "events") for (const event of m.events) queue.push({ type: "event", event });
  else queue.push(m);
  wake();
});
const until = async (pred) => {
  for (;;) {
    const i = queue.findIndex(pred);
    if (i >= 0) return queue.splice(0, i + 1)[i];
    await new Promise((r) => (wake = r));
  }
};
await new Promise((r) => ws.once("open", r));
ws.send(JSON.stringify({ v: 1, type: "hello", id: "h" }));
await until((m) => m.type === "snapshot");
const runs = [];
for (let k = 1; k <= rounds; k++) {
  ws.send(JSON.stringify({ v: 1, type: "set-input", id: "s" + k, nodeId: "src", port: "k", value: k }));
  await until((m) => m.type === "ack" && m.re === "s" + k);
  const [f0, b0, t0] = [frames, bytes, performance.now()];
  ws.send(JSON.stringify({ v: 1, type: "run", id: "r" + k, nodeId: "join", mode: "all" }));
  const end = await until((m) => m.type === "event" && m.event.type === "run-finished");
  if (end.event.status !== "done") throw new Error("the run ended " + end.event.status);
  if (k > 5) runs.push({ ms: performance.now() - t0, frames: frames - f0, bytes: bytes - b0 });
}
const med = (k) => runs.map((r) => r[k]).sort((a, b) => a - b)[runs.length >> 1];
process.stdout.write(JSON.stringify({ ms: med("ms"), frames: med("frames"), bytes: med("bytes") }) + "\\n");
ws.close();
`;

/**
 * The 1,000-wide fan-out of 10 ms nodes (bench/engine.ts) served, with a tab watching
 * from another process: a run's time as the tab sees it, and what it sends the tab.
 */
export async function fanOutWatched(width = 1000, rounds = 25): Promise<{ ms: number; frames: number; bytes: number }> {
  const server = await launch(fanOutGraph(width), { port: 0, store: new MemoryStore(), quiet: true });
  try {
    const child = spawn(process.execPath, ["--input-type=module", "-e", TAB, `${server.url.replace("http", "ws")}/ws`, server.url, String(rounds)], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    const code = await new Promise<number | null>((r) => child.once("exit", r));
    if (code !== 0) throw new Error(`the tab exited with ${code}`);
    return JSON.parse(out) as { ms: number; frames: number; bytes: number };
  } finally {
    await server.close();
  }
}

/** The p95 of `GET /api/schema` latencies, probing one at a time until `stop()` says so (at least `min` probes). */
async function probe(url: string, stop: () => boolean, min: number): Promise<number> {
  const times: number[] = [];
  while (times.length < min || !stop()) {
    const t0 = performance.now();
    const res = await fetch(`${url}/api/schema`);
    await res.arrayBuffer();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.min(times.length - 1, Math.floor(times.length * 0.95))]!;
}

interface Flood {
  sentPerS: number;
  acceptedPerS: number;
  executedPerS: number;
  idleP95: number;
  floodP95: number;
  rssBefore: number;
  rssAfter: number;
  heapBefore: number;
  heapAfter: number;
  refused: Record<string, number>;
}

/** 10,000 run messages from one tab, with `options` as the server's limits. */
export async function flood(options: ServerOptions, count = 10_000): Promise<Flood> {
  // A node that takes 20 ms, one at a time (an FnNode's default): at most ~50 runs finish per second.
  const work = new FnNode(async ({ n }: { n: number }) => (await new Promise((r) => setTimeout(r, 20)), n + 1), {
    name: "work",
    autorun: false,
    inputs: { n: gr.Number({ value: 1 }) },
    outputs: { out: gr.Number() },
  });
  const server = await launch(new Graph({ name: "flood", nodes: [work], persistKey: false }), { port: 0, store: new MemoryStore(), quiet: true, ...options });
  (globalThis as { gc?: () => void }).gc?.();
  const { rss: rssBefore, heapUsed: heapBefore } = process.memoryUsage();
  const idle = await probe(server.url, () => true, 200);
  const child = spawn(process.execPath, ["--input-type=module", "-e", FLOODER, `${server.url.replace("http", "ws")}/ws`, String(count)], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  let started: () => void;
  const start = new Promise<void>((r) => (started = r));
  child.stdout.on("data", (d) => {
    out += d;
    if (out.startsWith("start\n")) started();
  });
  let exited = false;
  const exit = new Promise<void>((r) => child.once("exit", () => ((exited = true), r())));
  await start;
  const floodP95 = await probe(server.url, () => exited, 20);
  await exit;
  // Idle before and after the flood (the machine's own load varies): the lower of the two.
  const idleP95 = Math.min(idle, await probe(server.url, () => true, 200));
  const r = JSON.parse(out.slice("start\n".length)) as { acks: number; finished: number; refused: Record<string, number>; ms: number; sendMs: number };
  (globalThis as { gc?: () => void }).gc?.();
  const { rss: rssAfter, heapUsed: heapAfter } = process.memoryUsage();
  await server.close();
  const s = r.ms / 1000;
  return { sentPerS: count / (r.sendMs / 1000), acceptedPerS: r.acks / s, executedPerS: r.finished / s, idleP95, floodP95, rssBefore, rssAfter, heapBefore, heapAfter, refused: r.refused };
}

export async function benchServer(): Promise<Figure[]> {
  const limited = await flood({});
  const unlimited = await flood({ messageRate: false, maxRunsPerSheet: Infinity, maxRuns: Infinity });
  console.error(`flood refusals: limited ${JSON.stringify(limited.refused)}, unlimited ${JSON.stringify(unlimited.refused)}`);
  const small = await bytesPerUpdate(50);
  const large = await bytesPerUpdate(200);
  const dev = await devTimes();
  const wire200 = await snapshotWireBytes(200);
  const wire1000 = await snapshotWireBytes(1000);
  const watched = await fanOutWatched();
  const mb = (b: number) => b / 1024 / 1024;
  return [
    { name: "flood_sent_per_s", value: limited.sentPerS, unit: "msg/s" },
    { name: "flood_runs_accepted_per_s", value: limited.acceptedPerS, unit: "runs/s" },
    { name: "flood_runs_executed_per_s", value: limited.executedPerS, unit: "runs/s" },
    { name: "schema_p95_idle_ms", value: limited.idleP95, unit: "ms" },
    { name: "schema_p95_flood_ms", value: limited.floodP95, unit: "ms" },
    { name: "schema_p95_flood_vs_idle", value: limited.floodP95 / limited.idleP95, unit: "ratio", target: "<= 3" },
    { name: "rss_before_mb", value: mb(limited.rssBefore), unit: "MB" },
    { name: "rss_after_mb", value: mb(limited.rssAfter), unit: "MB" },
    { name: "heap_before_mb", value: mb(limited.heapBefore), unit: "MB" },
    { name: "heap_after_mb", value: mb(limited.heapAfter), unit: "MB" },
    { name: "flood_runs_accepted_per_s_unlimited", value: unlimited.acceptedPerS, unit: "runs/s" },
    { name: "flood_runs_executed_per_s_unlimited", value: unlimited.executedPerS, unit: "runs/s" },
    { name: "schema_p95_flood_vs_idle_unlimited", value: unlimited.floodP95 / unlimited.idleP95, unit: "ratio" },
    { name: "rss_after_mb_unlimited", value: mb(unlimited.rssAfter), unit: "MB" },
    { name: "heap_after_mb_unlimited", value: mb(unlimited.heapAfter), unit: "MB" },
    { name: "fanout_1000_tab_wall_vs_critical", value: watched.ms / 10, unit: "ratio" },
    { name: "fanout_1000_tab_messages_per_run", value: watched.frames, unit: "messages" },
    { name: "fanout_1000_tab_kb_per_run", value: watched.bytes / 1024, unit: "KB" },
    { name: "ws_bytes_per_update", value: large.update, unit: "bytes" },
    { name: "ws_bytes_per_update_50", value: small.update, unit: "bytes" },
    { name: "ws_bytes_200_vs_50", value: large.update / small.update, unit: "ratio", target: "<= 1.05" },
    { name: "snapshot_bytes_200", value: large.snapshot, unit: "bytes" },
    { name: "snapshot_wire_bytes_200", value: wire200.deflate, unit: "bytes" },
    { name: "snapshot_wire_plain_bytes_200", value: wire200.plain, unit: "bytes" },
    { name: "snapshot_wire_bytes_1000", value: wire1000.deflate, unit: "bytes" },
    { name: "snapshot_wire_plain_bytes_1000", value: wire1000.plain, unit: "bytes" },
    { name: "snapshot_deflate_ratio_1000", value: wire1000.deflate / wire1000.plain, unit: "ratio" },
    { name: "dev_start_ms", value: dev.start, unit: "ms" },
    { name: "dev_reload_ms", value: dev.reload, unit: "ms", target: "< 1000" },
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) report(await benchServer());

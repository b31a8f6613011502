/**
 * Canvas benchmark, in headless Debian Chromium (playwright-core) against real servers,
 * at three sizes side by side in one run: the 21-node ticker demo, 200 and 1,000 nodes
 * (the same kind of graph: `scaleGraph`). For each size `<n>`:
 * - canvas_ready_ms_<n>: page load (navigation start) to a laid-out, visible canvas
 *   (`daggr-ready`) in a fresh browser context (no cached layout), median of the loads;
 * - canvas_ready_again_ms_<n>: the same page reloaded (the layout comes from the cache);
 * - canvas_load_longest_task_ms_<n>: the longest main-thread task during a fresh load;
 * - canvas_update_ms_<n> (and _p95_): engine event to updated DOM, over 60 progress
 *   events of the Ticker node shown at 100 % (each event carries the engine's wall clock,
 *   read back from the card's DOM);
 * - canvas_update_long_tasks_<n> / canvas_update_longest_task_ms_<n>: main-thread tasks
 *   over 50 ms while those updates arrive, and the longest (target: none over 100);
 * - canvas_layers_<n>: composited layers in the page (Chromium's layer tree);
 * - canvas_full_cards_<n>: cards rendered in full (the rest are placeholders).
 * - canvas_fanout_1000_script_ms / canvas_fanout_1000_task_ms: what one run of the
 *   1,000-wide fan-out (bench/server.ts `fanOutGraph`; ~4,000 events) costs the tab's
 *   renderer, its script and all its tasks (Chromium's Performance metrics), median of runs.
 * And the snapshot of a 10,000-node graph: bytes and ms of the first message a tab gets
 * (`snapshot_bytes_10000`, `snapshot_ms_10000`), and of the whole sheet once every page
 * has arrived (`snapshot_all_bytes_10000`, `snapshot_all_ms_10000`), on a fresh sheet of
 * nodes that do not autorun. `npx tsx bench/canvas.ts snapshot` runs that part alone.
 */
import { existsSync } from "node:fs";
import type { Page } from "playwright-core";
import WebSocket from "ws";
import { MemoryStore } from "../lib/index.js";
import { launch } from "../lib/server/index.js";
import { CHROMIUM, canvasReady, startBrowser } from "../test/fixtures/canvas-browser.js";
import { bigGraph, scaleGraph } from "../test/fixtures/canvas-graphs.js";
import { fanOutGraph } from "./server.js";
import { type Figure, median, report } from "./util.js";

const SIZES = [21, 200, 1000];
const TICKS = 60;

interface Probe {
  ready?: number;
  tasks: Array<{ start: number; ms: number }>;
}

type Browser = Awaited<ReturnType<typeof startBrowser>>;

export async function benchCanvas(sizes = SIZES): Promise<Figure[]> {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}`);
  const browser = await startBrowser();
  const figures: Figure[] = [];
  try {
    for (const n of sizes) {
      try {
        const f = await atSize(browser, n);
        for (const x of f) console.log(`BENCH ${x.name} ${Math.round(x.value * 1000) / 1000}`);
        figures.push(...f);
      } catch (e) {
        console.error(`canvas bench at ${n} nodes failed: ${(e as Error).message.split("\n")[0]}`);
      }
    }
    const fan = await fanOutInTab(browser, 1000);
    for (const x of fan) console.log(`BENCH ${x.name} ${Math.round(x.value * 1000) / 1000}`);
    figures.push(...fan);
  } finally {
    await browser.close();
  }
  figures.push(...(await snapshotFigures(10_000)));
  return figures;
}

const PROBE = () => {
  const w = window as unknown as { __probe: Probe };
  w.__probe = { tasks: [] };
  new PerformanceObserver((l) => {
    for (const e of l.getEntries()) w.__probe.tasks.push({ start: e.startTime, ms: e.duration });
  }).observe({ type: "longtask", buffered: true });
  document.addEventListener("daggr-ready", () => (w.__probe.ready = performance.now()));
};

const probe = (page: Page) => page.evaluate(() => (window as unknown as { __probe: Probe }).__probe);

async function atSize(browser: Browser, n: number): Promise<Figure[]> {
  const server = await launch(scaleGraph(n, TICKS, 30), { port: 0, store: new MemoryStore(), quiet: true });
  try {
    await fetch(`${server.url}/assets/daggr-canvas.js`); // the server bundles on first request: not ours to time
    const cold: number[] = [];
    const longest: number[] = [];
    const again: number[] = [];
    const loads = n >= 1000 ? 2 : 3;
    for (let i = 0; i < loads; i++) {
      const ctx = await browser.context();
      const page = await ctx.newPage();
      await page.addInitScript(PROBE);
      await page.goto(server.url);
      await canvasReady(page, 120_000);
      const p = await probe(page);
      cold.push(p.ready!);
      longest.push(Math.max(0, ...p.tasks.map((t) => t.ms)));
      // Reloaded in the same context: its layout is cached.
      await page.reload();
      await canvasReady(page, 120_000);
      again.push((await probe(page)).ready!);
      await ctx.close();
    }
    const ctx = await browser.context();
    const page = await ctx.newPage();
    await page.addInitScript(PROBE);
    await page.goto(server.url);
    await canvasReady(page, 120_000);
    const layers = await layerCount(page);
    const u = (await page.evaluate(`(${MEASURE_UPDATES})(${TICKS})`)) as { lags: number[]; tasks: number[]; full: number };
    await ctx.close();
    const sorted = [...u.lags].sort((a, b) => a - b);
    return [
      { name: `canvas_ready_ms_${n}`, value: median(cold), unit: "ms", target: n >= 1000 ? "<= 1500" : n >= 200 ? "<= 1000" : undefined },
      { name: `canvas_ready_again_ms_${n}`, value: median(again), unit: "ms" },
      { name: `canvas_load_longest_task_ms_${n}`, value: median(longest), unit: "ms" },
      { name: `canvas_update_ms_${n}`, value: median(u.lags), unit: "ms", target: "<= 16" },
      { name: `canvas_update_p95_ms_${n}`, value: sorted[Math.floor(sorted.length * 0.95)] ?? NaN, unit: "ms" },
      { name: `canvas_update_long_tasks_${n}`, value: u.tasks.length, unit: "tasks" },
      { name: `canvas_update_longest_task_ms_${n}`, value: Math.max(0, ...u.tasks), unit: "ms", target: "<= 100" },
      { name: `canvas_layers_${n}`, value: layers, unit: "layers" },
      { name: `canvas_full_cards_${n}`, value: u.full, unit: "cards" },
    ];
  } finally {
    await server.close();
  }
}

/** The renderer's script and task time per run of the fan-out, the runs asked for by another client. */
async function fanOutInTab(browser: Browser, width: number, runs = 6): Promise<Figure[]> {
  const server = await launch(fanOutGraph(width), { port: 0, store: new MemoryStore(), quiet: true });
  try {
    const ctx = await browser.context();
    const page = await ctx.newPage();
    await page.addInitScript(() => {
      const w = window as unknown as { finished: number };
      w.finished = 0;
      document.addEventListener("daggr-event", (e) => (e as CustomEvent<{ type: string }>).detail.type === "run-finished" && w.finished++);
    });
    await page.goto(server.url);
    await canvasReady(page, 120_000);
    const cdp = await ctx.newCDPSession(page);
    await cdp.send("Performance.enable");
    const metrics = async () => {
      const { metrics: m } = (await cdp.send("Performance.getMetrics")) as { metrics: Array<{ name: string; value: number }> };
      return Object.fromEntries(m.map((x) => [x.name, x.value]));
    };
    const ws = new WebSocket(`${server.url.replace("http", "ws")}/ws`, { headers: { origin: server.url } });
    await new Promise((r) => ws.once("open", r));
    const replies = new Map<string, () => void>();
    ws.on("message", (d) => {
      const m = JSON.parse(String(d)) as { re?: string };
      if (m.re) replies.get(m.re)?.();
    });
    const ask = (msg: object, id: string) => new Promise<void>((r) => (replies.set(id, r), ws.send(JSON.stringify({ v: 1, id, ...msg }))));
    await ask({ type: "hello" }, "h");
    const script: number[] = [];
    const task: number[] = [];
    for (let k = 1; k <= runs + 1; k++) {
      await ask({ type: "set-input", nodeId: "src", port: "k", value: k }, `s${k}`);
      const before = await metrics();
      await ask({ type: "run", nodeId: "join", mode: "all" }, `r${k}`);
      await page.waitForFunction((n) => (window as unknown as { finished: number }).finished >= n, k, { timeout: 120_000 });
      // The run's last events handled; a frame later its rendering is done too.
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => setTimeout(r))));
      const after = await metrics();
      if (k === 1) continue; // the first run renders the full cards' first results
      script.push((after.ScriptDuration! - before.ScriptDuration!) * 1000);
      task.push((after.TaskDuration! - before.TaskDuration!) * 1000);
    }
    ws.close();
    await ctx.close();
    return [
      { name: `canvas_fanout_${width}_script_ms`, value: median(script), unit: "ms" },
      { name: `canvas_fanout_${width}_task_ms`, value: median(task), unit: "ms" },
    ];
  } finally {
    await server.close();
  }
}

/** Composited layers, from Chromium's layer tree (DevTools protocol). */
async function layerCount(page: Page): Promise<number> {
  const cdp = await page.context().newCDPSession(page);
  const layers = new Promise<number>((resolve) => {
    cdp.on("LayerTree.layerTreeDidChange", (e: { layers?: unknown[] }) => {
      if (e.layers) resolve(e.layers.length);
    });
  });
  await cdp.send("LayerTree.enable");
  // Something must paint for the tree to be reported.
  await page.evaluate(() => document.querySelector("daggr-canvas")!.style.setProperty("outline", "1px solid transparent"));
  const count = await Promise.race([layers, new Promise<number>((r) => setTimeout(() => r(NaN), 10_000))]);
  await cdp.send("LayerTree.disable").catch(() => undefined);
  await cdp.detach().catch(() => undefined);
  return count;
}

/**
 * Runs in the page (as source text: a bundler's helpers must not leak into it). Brings
 * the Ticker into view at 100 %, clicks its run button and records, for each progress
 * text that reaches the card's DOM, now minus the engine's stamp in it; and the long
 * tasks meanwhile.
 */
const MEASURE_UPDATES = `async (ticks) => {
  const canvas = document.querySelector("daggr-canvas");
  if (canvas.reveal) canvas.reveal("Ticker", { zoom: 1 });
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  const find = () => canvas.shadowRoot.querySelector('daggr-node[node-id="Ticker"]');
  for (let i = 0; i < 200 && !find()?.shadowRoot?.querySelector("button.run-step"); i++) await new Promise((r) => setTimeout(r, 20));
  const ticker = find();
  const lags = [];
  let last = "";
  const seen = new MutationObserver(() => {
    const text = ticker.shadowRoot.querySelector(".status-line")?.textContent ?? "";
    const m = /@(\\d+)/.exec(text);
    if (m && text !== last) {
      last = text;
      lags.push(Date.now() - Number(m[1]));
    }
  });
  seen.observe(ticker.shadowRoot, { subtree: true, childList: true, characterData: true, attributes: true });
  const from = performance.now();
  ticker.shadowRoot.querySelector("button.run-step").click();
  const t0 = Date.now();
  while (lags.length < ticks && Date.now() - t0 < 60000) await new Promise((r) => setTimeout(r, 20));
  const to = performance.now();
  seen.disconnect();
  await new Promise((r) => setTimeout(r, 100));
  const tasks = window.__probe.tasks.filter((t) => t.start >= from && t.start <= to).map((t) => t.ms);
  const full = canvas.shadowRoot.querySelectorAll("daggr-node").length;
  return { lags, tasks, full };
}`;

/**
 * The snapshot of an `n`-node graph over a raw WebSocket: the first message's bytes and
 * the time to it; then the whole sheet (every page asked for, when the server pages it).
 */
async function snapshotFigures(n: number): Promise<Figure[]> {
  // No autorun: the sheet stays as it opened (nothing runs while it is measured).
  const server = await launch(bigGraph(n, { autorun: false }), { port: 0, store: new MemoryStore(), quiet: true });
  try {
    const first: number[] = [];
    const firstBytes: number[] = [];
    const all: number[] = [];
    const allBytes: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await snapshotOnce(server.url);
      if (i === 0) continue; // the first builds the server's graph description: once per launch
      first.push(r.firstMs);
      firstBytes.push(r.firstBytes);
      all.push(r.allMs);
      allBytes.push(r.allBytes);
    }
    return [
      { name: `snapshot_bytes_${n}`, value: median(firstBytes), unit: "bytes" },
      { name: `snapshot_ms_${n}`, value: median(first), unit: "ms" },
      { name: `snapshot_all_bytes_${n}`, value: median(allBytes), unit: "bytes" },
      { name: `snapshot_all_ms_${n}`, value: median(all), unit: "ms" },
    ];
  } finally {
    await server.close();
  }
}

async function snapshotOnce(url: string): Promise<{ firstMs: number; firstBytes: number; allMs: number; allBytes: number }> {
  const ws = new WebSocket(`${url.replace("http", "ws")}/ws`, { maxPayload: 256 * 1024 * 1024 });
  await new Promise((r) => ws.once("open", r));
  const t0 = performance.now();
  let firstMs = 0;
  let firstBytes = 0;
  let allBytes = 0;
  const done = new Promise<void>((resolve) => {
    ws.on("message", (d) => {
      const text = d.toString();
      const m = JSON.parse(text) as { type: string; pendingResults?: number; last?: boolean };
      if (m.type === "snapshot") {
        firstMs = performance.now() - t0;
        firstBytes = allBytes = Buffer.byteLength(text);
        if (!m.pendingResults) resolve();
      } else if (m.type === "snapshot-page") {
        allBytes += Buffer.byteLength(text);
        if (m.last) resolve();
      }
    });
  });
  ws.send(JSON.stringify({ v: 1, type: "hello", id: "h" }));
  await done;
  const allMs = performance.now() - t0;
  ws.close();
  return { firstMs, firstBytes, allMs, allBytes };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv[2] === "snapshot") report(await snapshotFigures(10_000));
  else {
    const only = process.argv.slice(2).map(Number).filter((x) => x > 0);
    report(await benchCanvas(only.length ? only : SIZES));
  }
}

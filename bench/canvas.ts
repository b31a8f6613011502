/**
 * Canvas benchmark, in headless Debian Chromium (playwright-core) against a real server:
 * - canvas_200_nodes_ready_ms: page load (navigation start) to a laid-out, visible
 *   200-node canvas (`daggr-ready`), median of 3 fresh page loads.
 * - canvas_200_nodes_longest_task_ms: the longest main-thread task during those loads
 *   (layout runs in a worker; cards render in slices), median of the 3.
 * - canvas_update_ms (and _p95_ms): engine event to updated DOM, median (95th
 *   percentile) over 60 progress events; each event carries the engine's wall clock
 *   (Date.now(), so 1 ms resolution), read back from the card's DOM.
 * - canvas_update_other_cards_rendered: how many of the 20 other cards re-rendered
 *   during those 60 updates (target 0: one node's update re-renders only its card).
 */
import { existsSync } from "node:fs";
import { MemoryStore } from "../lib/index.js";
import { launch } from "../lib/server/index.js";
import { CHROMIUM, canvasReady, startBrowser } from "../test/fixtures/canvas-browser.js";
import { bigGraph, tickerGraph } from "../test/fixtures/canvas-graphs.js";
import { type Figure, median, report } from "./util.js";

interface Probe {
  ready?: number;
  longest: number;
}

export async function benchCanvas(): Promise<Figure[]> {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}`);
  const browser = await startBrowser();
  try {
    return [...(await readyFigures(browser)), ...(await updateFigures(browser))];
  } finally {
    await browser.close();
  }
}

async function readyFigures(browser: Awaited<ReturnType<typeof startBrowser>>): Promise<Figure[]> {
  const server = await launch(bigGraph(200), { port: 0, store: new MemoryStore(), quiet: true });
  try {
    await fetch(`${server.url}/assets/daggr-canvas.js`); // the server bundles on first request: not ours to time
    const ready: number[] = [];
    const longest: number[] = [];
    for (let i = 0; i < 3; i++) {
      const ctx = await browser.context();
      const page = await ctx.newPage();
      await page.addInitScript(() => {
        const w = window as unknown as { __probe: Probe };
        w.__probe = { longest: 0 };
        new PerformanceObserver((l) => {
          for (const e of l.getEntries()) w.__probe.longest = Math.max(w.__probe.longest, e.duration);
        }).observe({ type: "longtask", buffered: true });
        document.addEventListener("daggr-ready", () => (w.__probe.ready = performance.now()));
      });
      await page.goto(server.url);
      await canvasReady(page, 60_000);
      const p = await page.evaluate(() => (window as unknown as { __probe: Probe }).__probe);
      ready.push(p.ready!);
      longest.push(p.longest);
      await ctx.close();
    }
    return [
      { name: "canvas_200_nodes_ready_ms", value: median(ready), unit: "ms" },
      { name: "canvas_200_nodes_longest_task_ms", value: median(longest), unit: "ms" },
    ];
  } finally {
    await server.close();
  }
}

async function updateFigures(browser: Awaited<ReturnType<typeof startBrowser>>): Promise<Figure[]> {
  const TICKS = 60;
  const server = await launch(tickerGraph(TICKS, 30), { port: 0, store: new MemoryStore(), quiet: true });
  try {
    const ctx = await browser.context();
    const page = await ctx.newPage();
    await page.goto(server.url);
    await canvasReady(page);
    const result = (await page.evaluate(`(${MEASURE_UPDATES})(${TICKS})`)) as { lags: number[]; otherRenders: number };
    await ctx.close();
    return [
      { name: "canvas_update_ms", value: median(result.lags), unit: "ms" },
      { name: "canvas_update_p95_ms", value: [...result.lags].sort((a, b) => a - b)[Math.floor(result.lags.length * 0.95)] ?? NaN, unit: "ms" },
      { name: "canvas_update_other_cards_rendered", value: result.otherRenders, unit: "cards", target: "0" },
    ];
  } finally {
    await server.close();
  }
}

/**
 * Runs in the page (as source text: a bundler's helpers must not leak into it). Clicks
 * the ticker's run button and records, for each progress text that reaches the card's
 * DOM, now minus the engine's stamp in it.
 */
const MEASURE_UPDATES = `async (ticks) => {
  const canvas = document.querySelector("daggr-canvas");
  const cards = [...canvas.shadowRoot.querySelectorAll("daggr-node")];
  const ticker = cards.find((c) => c.nodeId === "Ticker");
  const before = cards.map((c) => c.renders);
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
  ticker.shadowRoot.querySelector("button.run-step").click();
  const t0 = Date.now();
  while (lags.length < ticks && Date.now() - t0 < 30000) await new Promise((r) => setTimeout(r, 20));
  seen.disconnect();
  const otherRenders = cards.filter((c, i) => c !== ticker && c.renders !== before[i]).length;
  return { lags, otherRenders };
}`;

if (import.meta.url === `file://${process.argv[1]}`) report(await benchCanvas());

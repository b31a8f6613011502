/**
 * Store benchmarks: how fast results commit (each with a small file, as a node that
 * returns an image does), how long 200 results finishing together take to commit next to
 * the same 200 one after another (they share synced batches), and how long opening a
 * sheet with a long history takes (a session needs its inputs, selections, selected
 * records and counts, not the history).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { newId, type ResultRecord } from "../lib/engine/records.js";
import { LevelStore } from "../lib/store/index.js";
import { median, report, timeMedian, type Figure } from "./util.js";

function record(sheetId: string, nodeId: string, files: string[], paths: string[]): ResultRecord {
  return {
    id: newId("r"),
    nodeId,
    sheetId,
    runId: "bench",
    key: newId("k"),
    inputs: { prompt: "A cheetah in the savanna, golden hour", seed: Math.floor(Math.random() * 1e9), height: 1024 },
    upstream: { image: newId("r") },
    outputs: { image: paths[0] ?? null, caption: "a cheetah" },
    outputHashes: { image: "0".repeat(64), caption: "1".repeat(64) },
    status: "success",
    startedAt: Date.now(),
    ms: 1234,
    files,
  };
}

async function withStore<T>(fn: (open: () => Promise<LevelStore>) => Promise<T>): Promise<T> {
  const home = mkdtempSync(join(tmpdir(), "daggr-bench-store-"));
  try {
    return await fn(() => LevelStore.open({ appDir: join(home, "apps", "bench"), filesDir: join(home, "files") }));
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

/** Result commits per second, each putting a distinct 2 KB file then committing with select. */
async function commitsPerSecond(n = 500, runs = 5): Promise<number> {
  const rates: number[] = [];
  for (let run = 0; run < runs + 1; run++) {
    const rate = await withStore(async (open) => {
      const store = await open();
      const sheet = await store.createSheet("local");
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        const f = await store.putFile({ bytes: randomBytes(2048), name: "out.png" });
        await store.commitResult(record(sheet.id, `n${i % 10}`, [f.id], [f.path]), { select: true });
      }
      const ms = performance.now() - t0;
      await store.close();
      return (n / ms) * 1000;
    });
    if (run > 0) rates.push(rate); // the first run warms up
  }
  return median(rates);
}

/**
 * 200 results committed at once (a fan-out's nodes finishing together) and 200 committed
 * one after another (a chain), alternately on one store: the medians of each, in ms.
 */
async function togetherAndInTurn(n = 200, runs = 4): Promise<{ together: number; inTurn: number }> {
  return withStore(async (open) => {
    const store = await open();
    const sheet = await store.createSheet("local");
    const together: number[] = [];
    const inTurn: number[] = [];
    for (let run = 0; run < runs + 1; run++) {
      let t0 = performance.now();
      for (let i = 0; i < n; i++) await store.commitResult(record(sheet.id, `n${i}`, [], []), { select: true });
      const one = performance.now() - t0;
      t0 = performance.now();
      await Promise.all(Array.from({ length: n }, (_, i) => store.commitResult(record(sheet.id, `n${i}`, [], []), { select: true })));
      if (run > 0) {
        inTurn.push(one);
        together.push(performance.now() - t0);
      }
    }
    await store.close();
    return { together: median(together), inTurn: median(inTurn) };
  });
}

/** loadSheet on a freshly reopened store whose sheet holds `results` results over 20 nodes. */
async function sheetOpenMs(results: number): Promise<number> {
  return withStore(async (open) => {
    let store = await open();
    const sheet = await store.createSheet("local");
    await store.setInputs(sheet.id, Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`n${i}__prompt`, `prompt ${i}`])));
    for (let i = 0; i < results; i++) await store.commitResult(record(sheet.id, `n${i % 20}`, [], []), { select: true });
    await store.close();
    const times: number[] = [];
    for (let run = 0; run < 6; run++) {
      store = await open();
      const ms = await timeMedian(() => store.loadSheet(sheet.id), 1, 0);
      if (run > 0) times.push(ms);
      await store.close();
    }
    return median(times);
  });
}

/** Every store figure: `store_commit_per_s`, `sheet_open_ms_10k`, and the 10k/100 open ratio. */
export async function benchStore(): Promise<Figure[]> {
  const rate = await commitsPerSecond();
  const burst = await togetherAndInTurn();
  const small = await sheetOpenMs(100);
  const large = await sheetOpenMs(10_000);
  return [
    { name: "store_commit_per_s", value: rate, unit: "commits/s" },
    { name: "store_200_together_vs_in_turn", value: burst.together / burst.inTurn, unit: "ratio" },
    { name: "store_200_together_ms", value: burst.together, unit: "ms" },
    { name: "store_200_in_turn_ms", value: burst.inTurn, unit: "ms" },
    { name: "sheet_open_ms_10k", value: large, unit: "ms", target: "<= 200" },
    { name: "sheet_open_10k_vs_100", value: large / small, unit: "ratio", target: "~1: O(nodes), not O(results)" },
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) report(await benchStore());

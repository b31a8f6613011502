/**
 * Remote file downloads (`downloadToStore`), measured side by side in one process
 * against a local HTTP server that streams a body made from one small repeated buffer:
 * - download_peak_mem_vs_buffered: peak live `arrayBuffers + external` (sampled after a
 *   forced GC) during a 128 MiB download over the same while reading that body whole
 *   into memory (`arrayBuffer()`, what a buffering download does), side by side.
 *   Target <= 0.1: the body streams to disk one chunk at a time.
 * - download_peak_kib_128M, download_buffered_peak_kib_128M: both peaks in KiB.
 * - download_ms_vs_plain_read: time to stream 128 MiB into the files store (hashing and
 *   writing a temp file, then renaming it) over the time to read the same body and drop
 *   it. What the store costs on top of the network.
 */
import { createServer } from "node:http";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryStore } from "../lib/index.js";
import { downloadToStore } from "../lib/nodes/hf-download.js";
import { type Figure, report, timeMedian } from "./util.js";

const MiB = 1024 * 1024;

export async function benchDownload(): Promise<Figure[]> {
  const block = Buffer.alloc(64 * 1024);
  const server = createServer((req, res) => {
    const total = Number(new URL(req.url!, "http://x").searchParams.get("size"));
    let sent = 0;
    let n = 0;
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(total) });
    const more = () => {
      while (sent < total) {
        block.writeUInt32LE(n++, 0); // distinct content per run and block
        const chunk = block.subarray(0, Math.min(block.length, total - sent));
        sent += chunk.length;
        if (!res.write(chunk)) return void res.once("drain", more);
      }
      res.end();
    };
    more();
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", () => ok()));
  const origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const dir = mkdtempSync(join(tmpdir(), "daggr-bench-dl-"));
  const store = new MemoryStore({ filesDir: join(dir, "files") });
  const files = { dir: store.filesDir, put: store.putFile.bind(store), lookup: store.fileForPath.bind(store) };
  const get = (size: number) =>
    downloadToStore(`${origin}/f?size=${size}&r=${Math.random()}`, { files, maxBytes: size, appOrigin: origin, label: "bench" });

  // Live memory, not garbage waiting for a collection: sample after a forced GC.
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  const peak = async (work: () => Promise<unknown>): Promise<number> => {
    const mem = () => {
      gc();
      const m = process.memoryUsage();
      return m.arrayBuffers + m.external;
    };
    const base = mem();
    let max = 0;
    const timer = setInterval(() => (max = Math.max(max, mem() - base)), 10);
    try {
      await work();
    } finally {
      clearInterval(timer);
    }
    return Math.max(max, 0);
  };
  const buffered = async (size: number) => {
    const res = await fetch(`${origin}/f?size=${size}`);
    const whole = Buffer.from(await res.arrayBuffer());
    await new Promise((r) => setTimeout(r, 30)); // held as a buffering download would hold it
    return whole.length;
  };

  try {
    await get(8 * MiB); // warm-up
    const big = Math.min(await peak(() => get(128 * MiB)), await peak(() => get(128 * MiB)));
    const whole = await peak(() => buffered(128 * MiB));
    const plain = await timeMedian(async () => {
      const res = await fetch(`${origin}/f?size=${128 * MiB}`);
      for await (const _ of res.body!);
    }, 3);
    const stored = await timeMedian(() => get(128 * MiB), 3);
    return [
      { name: "download_peak_mem_vs_buffered", value: big / Math.max(whole, 1), unit: "ratio", target: "<= 0.1" },
      { name: "download_peak_kib_128M", value: big / 1024, unit: "KiB" },
      { name: "download_buffered_peak_kib_128M", value: whole / 1024, unit: "KiB" },
      { name: "download_ms_vs_plain_read", value: stored / plain, unit: "ratio" },
    ];
  } finally {
    server.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) report(await benchDownload());

/**
 * Queue mode, measured side by side in one run (a redis-server of its own, `daggr worker`
 * child processes on the test app):
 * - `queue_overhead_ms_per_job`: a trivial FnNode run one job at a time through the queue
 *   (1 worker) minus the same in-process, per job;
 * - `queue_scatter_speedup_4_workers`: a 400-item scatter of I/O-bound items (a 50 ms wait
 *   each, `concurrent`: free to run anywhere) on 1 worker vs 4 workers, each worker
 *   running one job at a time (`--concurrency 1`): wall time ratio, target >= 3.5;
 * - `jobs_per_s`: trivial scatter items through one main process, 4 workers of 16 slots.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { MemoryStore } from "../lib/index.js";
import { startQueue } from "../lib/queue/index.js";
import app, { bump, trivial, wait50, waits } from "../test/fixtures/queue-app.js";
import { redisMissing, startRedis } from "../test/helpers/redis.js";
import type { Figure } from "./util.js";

const CLI = resolve("lib/cli/index.ts");
const APP = resolve("test/fixtures/queue-app.ts");

export async function benchQueue(): Promise<Figure[]> {
  const missing = redisMissing();
  if (missing) throw new Error(missing);
  const redis = await startRedis();
  process.env.REDIS_URL = redis.url;
  const files = mkdtempSync(join(tmpdir(), "daggr-bench-queue-"));
  const children: ChildProcess[] = [];
  const worker = async (db: number, concurrency: number) => {
    const child = spawn(process.execPath, ["--import", "tsx", CLI, "worker", APP, "--redis", `${redis.url}/${db}`, "--files", files, "--concurrency", String(concurrency)], {
      env: { ...process.env, REDIS_URL: redis.url },
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.push(child);
    await new Promise<void>((ok, fail) => {
      let out = "";
      // The worker says it runs on its log (stderr when logs are JSON).
      const onData = (b: Buffer) => {
        out += b.toString();
        if (/running/.test(out)) ok();
      };
      child.stdout!.on("data", onData);
      child.stderr!.on("data", onData);
      child.once("exit", (code) => fail(new Error(`worker exited (${code})`)));
    });
  };
  try {
    // Database 1: one worker of one slot; database 2: four of one slot; database 3: four of 16.
    await Promise.all([worker(1, 1), ...[0, 1, 2, 3].map(() => worker(2, 1)), ...[0, 1, 2, 3].map(() => worker(3, 16))]);
    const session = async () => app.session({ store: new MemoryStore(), debounceMs: 5, validate: false });

    // Overhead per job: the same trivial node, run one at a time.
    const N = 100;
    const timeRuns = async () => {
      const s = await session();
      for (let i = 0; i < 10; i++) await s.run(trivial, { mode: "step" }); // warm-up
      const t0 = performance.now();
      for (let i = 0; i < N; i++) await s.run(trivial, { mode: "step" });
      const ms = performance.now() - t0;
      await s.close();
      return ms / N;
    };
    const local = await timeRuns();
    let d = await startQueue(app, { redis: `${redis.url}/1`, files });
    const queued = await timeRuns();
    await d.close();

    // The 400-item scatter on 1 worker, then on 4.
    const items = Array.from({ length: 400 }, (_, i) => i);
    const scatter = async (db: number) => {
      const q = await startQueue(app, { redis: `${redis.url}/${db}`, files });
      const s = await session();
      s.set(waits.in.list, items);
      const t0 = performance.now();
      const summary = await s.run(wait50, { mode: "to-here" });
      const ms = performance.now() - t0;
      if (summary.status !== "done") throw new Error(`scatter ${summary.status}`);
      await s.close();
      await q.close();
      return ms;
    };
    const one = await scatter(1);
    const four = await scatter(2);

    // Throughput: 2,000 trivial items, 4 workers of 16 slots.
    d = await startQueue(app, { redis: `${redis.url}/3`, files });
    const s = await session();
    const many = Array.from({ length: 2000 }, (_, i) => i);
    s.set(waits.in.list, many);
    const t0 = performance.now();
    await s.run(bump, { mode: "to-here" });
    const jobsPerS = many.length / ((performance.now() - t0) / 1000);
    await s.close();
    await d.close();

    return [
      { name: "queue_overhead_ms_per_job", value: queued - local, unit: "ms", target: "small next to remote calls" },
      { name: "queue_scatter_speedup_4_workers", value: one / four, unit: "x", target: ">= 3.5" },
      { name: "queue_scatter_1_worker_s", value: one / 1000, unit: "s" },
      { name: "queue_scatter_4_workers_s", value: four / 1000, unit: "s" },
      { name: "jobs_per_s", value: jobsPerS, unit: "jobs/s" },
    ];
  } finally {
    for (const c of children) c.kill("SIGKILL");
    await Promise.all(children.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((ok) => c.once("exit", ok)) : undefined)));
    await redis.stop();
    rmSync(files, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { report } = await import("./util.js");
  report(await benchQueue());
  process.exit(0);
}

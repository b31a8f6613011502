import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Graph } from "../graph/index.js";
import { log } from "../server/log.js";
import { isGraph } from "./app.js";
import { loadAppsAsEsm } from "./esm.js";

export interface WorkerCliOptions {
  redis?: string;
  concurrency?: string;
  files?: string;
  "lock-ms"?: string;
}

/**
 * `daggr worker app.ts --redis redis://… [--concurrency N]`: loads the app like the main
 * process does (a `graph.launch()` in it does not serve here: its graph, and its
 * `queue.redis` when no `--redis` is given, are taken instead) and runs the app's queued
 * node calls until Ctrl+C, which lets the running ones finish.
 */
export async function worker(app: string, options: WorkerCliOptions): Promise<number> {
  if (!existsSync(resolve(app))) return fail(`no such file: ${app}`);
  const concurrency = options.concurrency === undefined ? 1 : Number(options.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1) return fail(`--concurrency must be a whole number of at least 1, got '${options.concurrency}'.`);
  const lockMs = options["lock-ms"] === undefined ? undefined : Number(options["lock-ms"]);
  if (lockMs !== undefined && !(Number.isInteger(lockMs) && lockMs >= 1000)) return fail(`--lock-ms must be a whole number of milliseconds, at least 1000, got '${options["lock-ms"]}'.`);
  const { register } = await import("tsx/esm/api");
  register();
  loadAppsAsEsm();
  const loaded = await loadGraph(app).catch((e: unknown) => e as Error);
  if (loaded instanceof Error) return fail(`${app} failed to load: ${loaded.message}`);
  const redis = options.redis ?? (typeof loaded.queue?.redis === "string" ? loaded.queue.redis : undefined) ?? process.env.DAGGR_QUEUE;
  if (!redis) return fail("which Redis? Pass --redis redis://host:port (or set DAGGR_QUEUE).");
  const { startWorker, defaultBlobDir } = await import("../queue/index.js");
  const { redact } = await import("../queue/dispatcher.js");
  const files = options.files ?? (typeof loaded.queue?.files === "string" ? loaded.queue.files : undefined) ?? defaultBlobDir();
  let w;
  try {
    w = await startWorker(loaded.graph, {
      redis,
      concurrency,
      files,
      ...(lockMs ? { lockMs, stalledIntervalMs: Math.max(500, Math.round(lockMs / 2)) } : {}),
      onJob: (j) => {
        if (j.outcome === "refused") log.error({ node: j.nodeId }, `refused a job of node '${j.nodeId}': ${j.message}`);
      },
    });
  } catch (e) {
    return fail((e as Error).message);
  }
  log.info({ worker: w.id }, `daggr worker ${w.id}: running "${loaded.graph.name}" jobs from ${redact(redis)} (concurrency ${concurrency}, files in ${files})`);
  await new Promise<void>((r) => {
    process.once("SIGINT", r);
    process.once("SIGTERM", r);
  });
  await w.close();
  return 0;
}

function fail(message: string): number {
  log.error(`daggr worker: ${message}`);
  return 1;
}

/** What a `launch()` in a worker's app hands over instead of serving. */
const HOOK = Symbol.for("daggr.worker.launch");

/**
 * Imports the app and finds its graph: the one it launches, else its default export, its
 * `graph` export or its only Graph export.
 */
async function loadGraph(file: string): Promise<{ graph: Graph; queue?: { redis?: unknown; files?: unknown } }> {
  let launched: { graph: Graph; options: { queue?: { redis?: unknown; files?: unknown } } } | undefined;
  (globalThis as Record<symbol, unknown>)[HOOK] = (graph: Graph, options: { queue?: { redis?: unknown } }) => {
    launched ??= { graph, options: options ?? {} };
    return { url: "", close: async () => {} };
  };
  const mod = (await import(pathToFileURL(resolve(file)).href)) as Record<string, unknown>;
  await new Promise((r) => setImmediate(r));
  if (launched) return { graph: launched.graph, queue: launched.options.queue };
  const all = Object.values(mod).filter(isGraph);
  const graph = (isGraph(mod.default) ? mod.default : isGraph(mod.graph) ? mod.graph : all.length === 1 ? all[0] : undefined) as Graph | undefined;
  if (!graph) throw new Error(`it neither exports a Graph nor calls graph.launch() (its exports: ${Object.keys(mod).join(", ") || "none"}).`);
  return { graph };
}

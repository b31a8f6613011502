import { hostname } from "node:os";
import { type Job, UnrecoverableError, Worker } from "bullmq";
import { Redis } from "ioredis";
import { DaggrError, ErrorCode, type Graph, type Node, unknownName } from "../graph/index.js";
import { type Origin, callNode, metaCache } from "../engine/index.js";
import { type BlobStore, outputsToRefs, refsToPaths } from "./blobs.js";
import {
  DEFAULT_TIMINGS, PREFIX, type JobData, type JobReport, type JobResult, type QueueTimings, cancelChannel, cancelKey, checkRedisUrl,
  connection, describeError, fingerprintOf, nodeIndex, queueName,
} from "./jobs.js";

export interface WorkerOptions extends QueueTimings {
  /** Redis URL, e.g. `redis://127.0.0.1:6379`. */
  redis: string;
  /** Where files cross to and from the main process. */
  blobs: BlobStore;
  /** Jobs this worker runs at once (default 1). */
  concurrency?: number;
  /** The app's queue (default: derived from the graph, as the main process does). */
  queue?: string;
  /** How this worker names itself in results and logs (default `host:pid`). */
  id?: string;
  /** Told about each job this worker refuses (another version of the app) or finishes. */
  onJob?(event: { jobId: string; nodeId: string; outcome: "done" | "failed" | "cancelled" | "refused"; message?: string }): void;
}

/**
 * A process that runs an app's node calls from its queue (`daggr worker app.ts --redis …`).
 * It loads the same app module as the main process; a job whose node has another
 * fingerprint here (the app's code or configuration differs) is refused with
 * E_QUEUE_VERSION, which says so on the node. A job runs exactly as it would in the
 * main process (preprocess → executor → postprocess → outputs); its progress, partial
 * outputs and result go back through the queue's events, its files through the blob
 * store. A cancel from the main process aborts the call's AbortSignal here.
 *
 * @example
 * const w = await QueueWorker.start(graph, { redis: "redis://127.0.0.1:6379", blobs: new SharedDirBlobs(dir), concurrency: 4 });
 * // … later
 * await w.close();
 */
export class QueueWorker {
  private readonly running = new Map<string, AbortController>();
  private readonly nodes: Map<string, Node>;
  private readonly cache = metaCache(undefined);

  private constructor(
    readonly id: string,
    private readonly name: string,
    graph: Graph,
    private readonly options: WorkerOptions,
    private readonly redis: Redis,
    private readonly sub: Redis,
    /** The connection handed to BullMQ (it does not close a connection it was given). */
    private readonly conn: Redis,
    private worker: Worker | undefined = undefined,
  ) {
    this.nodes = nodeIndex(graph);
  }

  static async start(graph: Graph, options: WorkerOptions): Promise<QueueWorker> {
    const url = checkRedisUrl(options.redis);
    const name = options.queue ?? queueName(graph);
    const redis = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true });
    const sub = new Redis(url, { maxRetriesPerRequest: null, lazyConnect: true });
    redis.on("error", () => {});
    sub.on("error", () => {});
    try {
      await Promise.all([redis.connect(), sub.connect()]);
    } catch (e) {
      redis.disconnect();
      sub.disconnect();
      throw new DaggrError(ErrorCode.QUEUE_UNAVAILABLE, `Cannot reach Redis for the worker: ${(e as Error).message}. Start Redis (redis-server) or fix --redis.`);
    }
    const conn = connection(url);
    const w = new QueueWorker(options.id ?? `${hostname()}:${process.pid}`, name, graph, options, redis, sub, conn);
    await sub.subscribe(cancelChannel(name));
    sub.on("message", (_channel, jobId: string) => w.running.get(jobId)?.abort(new DaggrError(ErrorCode.CANCELLED, "Cancelled by the user.")));
    const t = { ...DEFAULT_TIMINGS, ...definedOnly(options) };
    w.worker = new Worker<JobData, JobResult>(name, (job) => w.process(job), {
      connection: conn,
      prefix: PREFIX,
      concurrency: options.concurrency ?? 1,
      lockDuration: t.lockMs,
      stalledInterval: t.stalledIntervalMs,
      maxStalledCount: t.maxStalledCount,
    });
    w.worker.on("error", () => {});
    await w.worker.waitUntilReady();
    return w;
  }

  /** Stops taking jobs; waits for the running ones to finish. */
  async close(): Promise<void> {
    await this.worker?.close();
    this.redis.disconnect();
    this.sub.disconnect();
    this.conn.disconnect();
  }

  private async process(job: Job<JobData, JobResult>): Promise<JobResult> {
    const data = job.data;
    const jobId = job.id!;
    const node = this.nodes.get(data.nodeId);
    if (!node) {
      const e = unknownName(ErrorCode.QUEUE_VERSION, `node in worker ${this.id}'s version of the app`, data.nodeId, [...this.nodes.keys()], "The worker loaded another app, or another version of it: start workers with the main process's app file.");
      this.options.onJob?.({ jobId, nodeId: data.nodeId, outcome: "refused", message: e.message });
      throw new UnrecoverableError(e.message);
    }
    const mine = fingerprintOf(node);
    if (mine !== data.fingerprint) {
      const e = new DaggrError(
        ErrorCode.QUEUE_VERSION,
        `Worker ${this.id} refused node '${node.id}': its copy of the app differs from the main process's (node fingerprint ${mine.slice(0, 12)} here, ${data.fingerprint.slice(0, 12)} there): the node's code, configuration or ports changed. Restart the workers with the same app file as the main process.`,
        { got: data.fingerprint, worker: this.id },
      );
      this.options.onJob?.({ jobId, nodeId: node.id, outcome: "refused", message: e.message });
      throw new UnrecoverableError(e.message);
    }
    const abort = new AbortController();
    this.running.set(jobId, abort);
    try {
      if (await this.redis.exists(cancelKey(this.name, jobId))) abort.abort(new DaggrError(ErrorCode.CANCELLED, "Cancelled by the user."));
      const report = (r: JobReport) => void job.updateProgress(r as object).catch(() => {});
      // The job's own files: its inputs, and what its executor and outputs store.
      const blobs = this.options.blobs.job(jobId);
      let partials = Promise.resolve();
      let origin: Origin | undefined;
      const outputs = await callNode(node, await refsToPaths(data.inputs, blobs), abort.signal, blobs.sink(), {
        runId: data.runId,
        cache: this.cache,
        onProgress: (progress) => report({ type: "progress", progress }),
        onPartial: (o) => {
          partials = partials.then(async () => report({ type: "partial", outputs: await outputsToRefs(node, o, blobs) })).catch(() => {});
        },
        alive: () => report({ type: "alive" }),
        onOrigin: (o) => (origin = o),
      });
      await partials;
      const shipped = await outputsToRefs(node, outputs, blobs);
      this.options.onJob?.({ jobId, nodeId: node.id, outcome: "done" });
      return { ok: true, outputs: shipped, ...(origin ? { origin } : {}), worker: this.id };
    } catch (e) {
      const cancelled = abort.signal.aborted;
      const error = describeError(cancelled ? abort.signal.reason : e);
      this.options.onJob?.({ jobId, nodeId: node.id, outcome: cancelled ? "cancelled" : "failed", message: error.message });
      return { ok: false, cancelled, error, worker: this.id };
    } finally {
      this.running.delete(jobId);
    }
  }
}

function definedOnly(o: QueueTimings): QueueTimings {
  return Object.fromEntries(Object.entries({ lockMs: o.lockMs, stalledIntervalMs: o.stalledIntervalMs, maxStalledCount: o.maxStalledCount }).filter(([, v]) => v !== undefined));
}

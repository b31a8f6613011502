import { Queue, QueueEvents } from "bullmq";
import { Redis } from "ioredis";
import { DaggrError, ErrorCode, type Graph, type Node } from "../graph/index.js";
import { type DispatchContext, type Dispatcher, newId, setDispatcher } from "../engine/index.js";
import { type BlobStore, inputsToRefs, refsToFiles } from "./blobs.js";
import {
  DEFAULT_TIMINGS, PREFIX, type JobData, type JobReport, type JobResult, cancelChannel, cancelKey, checkRedisUrl, connection,
  errorFrom, fingerprintOf, queueName,
} from "./jobs.js";

/** One call waiting for its job. */
interface Pending {
  ctx: DispatchContext;
  resolve(outputs: Record<string, unknown>): void;
  reject(e: unknown): void;
  /** Reports are applied in order (a partial with files is stored before the next one). */
  chain: Promise<void>;
  settled: boolean;
}

export interface DispatcherOptions {
  /** Redis URL, e.g. `redis://127.0.0.1:6379`. */
  redis: string;
  /** Where files cross to and from workers. */
  blobs: BlobStore;
  /** The app's queue (default: derived from the graph, see `queueName`). */
  queue?: string;
  /** How long a cancelled job may take to stop before its slot is given back anyway (default: the lock time, 10 s). */
  cancelGraceMs?: number;
}

/**
 * The main process's side of queue mode: each node call becomes a BullMQ job (the node's
 * id and fingerprint, its resolved inputs, the recipe key); a worker runs it and its
 * progress, partial outputs and result come back as the queue's events. The engine
 * keeps everything else, so keys, provenance, freshness, limits and events are the same
 * as in-process. Concurrency limits hold across all workers because the engine holds a
 * node's slot until its job has ended, wherever it runs.
 *
 * Cancelling a call removes its job if no worker has it yet; otherwise the workers are
 * told (pub/sub, and a key for one that picks the job up later) and the running one
 * aborts the call's AbortSignal.
 *
 * @example
 * const d = await QueueDispatcher.open(graph, { redis: "redis://127.0.0.1:6379", blobs: new SharedDirBlobs(dir) });
 * // graph sessions now run their nodes on `daggr worker` processes
 * await d.close();
 */
export class QueueDispatcher implements Dispatcher {
  private readonly pending = new Map<string, Pending>();
  private closed = false;

  private constructor(
    private readonly graph: Graph,
    readonly name: string,
    private readonly queue: Queue,
    private readonly events: QueueEvents,
    private readonly redis: Redis,
    /** The connections handed to BullMQ (it does not close a connection it was given). */
    private readonly conns: Redis[],
    private readonly blobs: BlobStore,
    private readonly cancelGraceMs: number,
  ) {
    events.on("progress", ({ jobId, data }) => this.report(jobId, data as JobReport));
    events.on("completed", ({ jobId, returnvalue }) => this.completed(jobId, returnvalue as unknown));
    events.on("failed", ({ jobId, failedReason }) => this.failed(jobId, failedReason));
  }

  /** Connects to Redis and installs itself as the graph's dispatcher. Fails with E_QUEUE_UNAVAILABLE when Redis cannot be reached. */
  static async open(graph: Graph, options: DispatcherOptions): Promise<QueueDispatcher> {
    const url = checkRedisUrl(options.redis);
    const name = options.queue ?? queueName(graph);
    const redis = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true });
    redis.on("error", () => {});
    try {
      await redis.connect();
      await redis.ping();
    } catch (e) {
      redis.disconnect();
      throw new DaggrError(ErrorCode.QUEUE_UNAVAILABLE, `Cannot reach Redis at ${redact(url)} for queue mode: ${(e as Error).message.replace(/\.+$/, "")}. Start Redis (redis-server) or fix the URL.`, { got: redact(url) });
    }
    const conns = [connection(url), connection(url)];
    const queue = new Queue(name, { connection: conns[0]!, prefix: PREFIX });
    // Read events from the stream's present end, named: with the default '$' the reader
    // starts only once its connection is set up, and a fast job's events could pass first.
    const last = await redis.xrevrange(`${PREFIX}:${name}:events`, "+", "-", "COUNT", 1);
    const events = new QueueEvents(name, { connection: conns[1]!, prefix: PREFIX, lastEventId: last[0]?.[0] ?? "0-0" });
    queue.on("error", () => {});
    events.on("error", () => {});
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
    const d = new QueueDispatcher(graph, name, queue, events, redis, conns, options.blobs, options.cancelGraceMs ?? DEFAULT_TIMINGS.lockMs);
    setDispatcher(graph, d);
    return d;
  }

  async call(node: Node, inputs: Record<string, unknown>, ctx: DispatchContext): Promise<Record<string, unknown>> {
    if (this.closed) throw new DaggrError(ErrorCode.QUEUE_UNAVAILABLE, "The queue of this app is closed.");
    const data: JobData = {
      nodeId: node.id,
      fingerprint: fingerprintOf(node),
      inputs: await inputsToRefs(inputs, ctx.files, this.blobs),
      key: ctx.key,
      runId: ctx.runId,
    };
    const jobId = newId("j");
    const done = new Promise<Record<string, unknown>>((resolve, reject) => {
      this.pending.set(jobId, { ctx, resolve, reject, chain: Promise.resolve(), settled: false });
    });
    // Listening before the job exists: a fast worker's events cannot be missed.
    await this.queue.add(node.id, data, {
      jobId,
      attempts: 1,
      removeOnComplete: true,
      removeOnFail: { age: 3600 },
    });
    const signal = ctx.signal;
    const onAbort = () => void this.cancel(jobId);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    return done.finally(() => signal.removeEventListener("abort", onAbort));
  }

  /** Jobs of this process still waiting or running. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Stops dispatching: the graph runs in-process again, and calls still waiting fail. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    setDispatcher(this.graph, undefined);
    for (const [id, p] of this.pending) this.settle(id, p, () => p.reject(new DaggrError(ErrorCode.CANCELLED, "The queue was closed.")));
    await Promise.allSettled([this.events.close(), this.queue.close()]);
    this.redis.disconnect();
    for (const c of this.conns) c.disconnect();
  }

  private async cancel(jobId: string): Promise<void> {
    const p = this.pending.get(jobId);
    if (!p) return;
    try {
      // Mark it first: a worker taking the job from now on sees the mark and does not run it.
      await this.redis.set(cancelKey(this.name, jobId), "1", "EX", 3600);
      const job = await this.queue.getJob(jobId);
      const state = job ? await job.getState() : "unknown";
      if (job && (state === "waiting" || state === "delayed" || state === "prioritized")) {
        await job.remove().then(
          () => this.settle(jobId, p, () => p.reject(p.ctx.signal.reason)),
          () => undefined, // taken meanwhile: the worker sees the mark
        );
      }
      await this.redis.publish(cancelChannel(this.name), jobId);
    } catch {
      // Redis gone: the grace timer below still gives the slot back.
    }
    // A worker that died mid-job or never answers must not hold the node's slot forever.
    setTimeout(() => this.settle(jobId, p, () => p.reject(p.ctx.signal.reason)), this.cancelGraceMs).unref();
  }

  private report(jobId: string, r: JobReport): void {
    const p = this.pending.get(jobId);
    if (!p || p.settled || typeof r !== "object" || r === null) return;
    const { ctx } = p;
    if (r.type === "progress") ctx.progress(r.progress);
    else if (r.type === "alive") ctx.alive();
    else if (r.type === "partial") {
      p.chain = p.chain.then(async () => ctx.partial(await refsToFiles(r.outputs, ctx.files, this.blobs))).catch(() => {});
    }
  }

  private completed(jobId: string, raw: unknown): void {
    const p = this.pending.get(jobId);
    if (!p) return;
    let result: JobResult;
    try {
      result = (typeof raw === "string" ? JSON.parse(raw) : raw) as JobResult;
    } catch {
      return this.settle(jobId, p, () => p.reject(new Error(`Job ${jobId} returned an unreadable result.`)));
    }
    p.chain = p.chain.then(async () => {
      if (!result.ok) {
        const e = result.cancelled && p.ctx.signal.aborted ? p.ctx.signal.reason : errorFrom(result.error);
        return this.settle(jobId, p, () => p.reject(e));
      }
      try {
        const outputs = await refsToFiles(result.outputs, p.ctx.files, this.blobs);
        this.settle(jobId, p, () => p.resolve(outputs));
      } catch (e) {
        this.settle(jobId, p, () => p.reject(e));
      }
    });
  }

  private failed(jobId: string, reason: string): void {
    const p = this.pending.get(jobId);
    if (!p) return;
    const coded = /^\[(E_[A-Z_]+)\] ([\s\S]*)$/.exec(reason);
    let e: Error;
    if (coded) e = errorFrom({ code: coded[1], message: coded[2]! });
    else if (/stalled more than allowable limit/i.test(reason)) {
      e = new DaggrError(
        ErrorCode.WORKER_LOST,
        `Node '${p.ctx.nodeId}' was interrupted: the worker running it stopped (killed or lost) more often than the queue retries (${reason}). Nothing of those attempts was kept; run it again.`,
      );
    } else e = new DaggrError(ErrorCode.NODE_FAILED, `The queue job of node '${p.ctx.nodeId}' failed: ${reason}`);
    p.chain = p.chain.then(() => this.settle(jobId, p, () => p.reject(e)));
  }

  private settle(jobId: string, p: Pending, how: () => void): void {
    if (p.settled) return;
    p.settled = true;
    this.pending.delete(jobId);
    how();
  }
}

/** A Redis URL without its password, for messages. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@");
}

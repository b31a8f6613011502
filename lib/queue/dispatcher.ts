import { randomBytes } from "node:crypto";
import { Queue, QueueEvents } from "bullmq";
import { Redis } from "ioredis";
import { DaggrError, ErrorCode, type Graph, type Node } from "../graph/index.js";
import { type DispatchContext, type Dispatcher, type Origin, newId, schemeTwoKey, setDispatcher } from "../engine/index.js";
import { noteRevision } from "../nodes/upstream.js";
import { type BlobStore, DEFAULT_FILES_MAX_AGE_MS, inputsToRefs, refsToFiles } from "./blobs.js";
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
  /**
   * Files of jobs nobody has touched for this long are swept from the blob store (left by
   * a crashed process; default 24 h). Processes sharing one files directory should use
   * the same value. See {@link BlobStore}.
   */
  filesMaxAgeMs?: number;
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
  /** Jobs given up on (cancelled, no answer within the grace time): released if they end later. */
  private readonly abandoned = new Set<string>();
  /** Ends this process's job ids: two main processes sharing a files directory never name a job alike. */
  private readonly tag = randomBytes(3).toString("hex");
  private sweeper: NodeJS.Timeout | undefined = undefined;
  /** The latest sweep: sweeps run one after another. */
  private sweeping: Promise<unknown> = Promise.resolve();
  private sweeps = 0;
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
    /** See {@link DispatcherOptions.filesMaxAgeMs}. */
    readonly filesMaxAgeMs: number,
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
    const maxAge = options.filesMaxAgeMs ?? DEFAULT_FILES_MAX_AGE_MS;
    const d = new QueueDispatcher(graph, name, queue, events, redis, conns, options.blobs, options.cancelGraceMs ?? DEFAULT_TIMINGS.lockMs, maxAge);
    setDispatcher(graph, d);
    void d.sweep();
    // The timer's sweeps never pile up behind a slow disk.
    d.sweeper = setInterval(() => void (d.sweeps || d.sweep()), Math.max(1000, Math.min(maxAge / 4, 3_600_000)));
    d.sweeper.unref();
    return d;
  }

  async call(node: Node, inputs: Record<string, unknown>, ctx: DispatchContext): Promise<Record<string, unknown>> {
    if (this.closed) throw new DaggrError(ErrorCode.QUEUE_UNAVAILABLE, "The queue of this app is closed.");
    const jobId = `${newId("j")}-${this.tag}`;
    const done = new Promise<Record<string, unknown>>((resolve, reject) => {
      // Pending from its first file on: a sweep meanwhile keeps the job's files.
      this.pending.set(jobId, { ctx, resolve, reject, chain: Promise.resolve(), settled: false });
    });
    try {
      const data: JobData = {
        nodeId: node.id,
        fingerprint: fingerprintOf(node),
        inputs: await inputsToRefs(inputs, ctx.files, this.blobs.job(jobId)),
        key: schemeTwoKey(ctx.key),
        runId: ctx.runId,
      };
      // Listening before the job exists: a fast worker's events cannot be missed.
      await this.queue.add(node.id, data, {
        jobId,
        attempts: 1,
        removeOnComplete: true,
        removeOnFail: { age: 3600 },
      });
    } catch (e) {
      this.pending.delete(jobId);
      await this.blobs.release(jobId).catch(() => {});
      throw e;
    }
    const onAbort = () => void this.cancel(jobId);
    // A scatter's jobs share their execution's signal: no listener on it per job (a call
    // after the job ended finds nothing pending and does nothing).
    if (ctx.onAbort) {
      ctx.onAbort(onAbort);
      return done;
    }
    const signal = ctx.signal;
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    return done.finally(() => signal.removeEventListener("abort", onAbort));
  }

  /** Jobs of this process still waiting or running. */
  get inFlight(): number {
    return this.pending.size;
  }

  /**
   * Sweeps the blob store now (it also runs when the dispatcher opens and then every
   * `filesMaxAgeMs / 4`, at most hourly): files of this process's jobs still in flight
   * are marked fresh, those of jobs nobody touched for `filesMaxAgeMs` are removed.
   * Resolves with what was removed.
   */
  sweep(): Promise<string[]> {
    // One after another (a sweep asked for during another sees what changed since).
    this.sweeps++;
    const next = this.sweeping
      .then(() => this.blobs.sweep({ maxAgeMs: this.filesMaxAgeMs, live: this.pending.keys() }))
      .catch(() => [] as string[])
      .finally(() => this.sweeps--);
    this.sweeping = next;
    return next;
  }

  /** Stops dispatching: the graph runs in-process again, and calls still waiting fail. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
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
          () => this.over(jobId, p, () => p.reject(p.ctx.signal.reason)),
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
      p.chain = p.chain.then(async () => ctx.partial(await refsToFiles(r.outputs, ctx.files, this.blobs.job(jobId)))).catch(() => {});
    }
  }

  /** A job of this process ended after it was given up on: nobody takes its files now. */
  private ended(jobId: string): boolean {
    if (!this.abandoned.delete(jobId)) return false;
    void this.blobs.release(jobId).catch(() => {});
    return true;
  }

  private completed(jobId: string, raw: unknown): void {
    const p = this.pending.get(jobId);
    if (!p) return void this.ended(jobId);
    let result: JobResult;
    try {
      result = (typeof raw === "string" ? JSON.parse(raw) : raw) as JobResult;
    } catch {
      return void this.over(jobId, p, () => p.reject(new Error(`Job ${jobId} returned an unreadable result.`)));
    }
    p.chain = p.chain.then(async () => {
      if (!result.ok) {
        const e = result.cancelled && p.ctx.signal.aborted ? p.ctx.signal.reason : errorFrom(result.error);
        return this.over(jobId, p, () => p.reject(e));
      }
      try {
        // Copied into the main store: the job's blobs can go.
        const outputs = await refsToFiles(result.outputs, p.ctx.files, this.blobs.job(jobId));
        if (result.origin) await this.origin(p.ctx, result.origin);
        await this.over(jobId, p, () => p.resolve(outputs));
      } catch (e) {
        await this.over(jobId, p, () => p.reject(e));
      }
    });
  }

  /**
   * The origin the worker's executor reported, recorded as an in-process call's is (and
   * the remote's revision noted for the start-up check, as the executor does in-process).
   */
  private async origin(ctx: DispatchContext, origin: Origin): Promise<void> {
    ctx.origin?.(origin);
    if (origin.kind && origin.revision) await noteRevision(ctx.cache, origin.kind, origin.remote, origin.revision).catch(() => {});
  }

  private failed(jobId: string, reason: string): void {
    const p = this.pending.get(jobId);
    if (!p) return void this.ended(jobId);
    const coded = /^\[(E_[A-Z_]+)\] ([\s\S]*)$/.exec(reason);
    let e: Error;
    if (coded) e = errorFrom({ code: coded[1], message: coded[2]! });
    else if (/stalled more than allowable limit/i.test(reason)) {
      e = new DaggrError(
        ErrorCode.WORKER_LOST,
        `Node '${p.ctx.nodeId}' was interrupted: the worker running it stopped (killed or lost) more often than the queue retries (${reason}). Nothing of those attempts was kept; run it again.`,
      );
    } else e = new DaggrError(ErrorCode.NODE_FAILED, `The queue job of node '${p.ctx.nodeId}' failed: ${reason}`);
    p.chain = p.chain.then(() => this.over(jobId, p, () => p.reject(e)));
  }

  /**
   * The job has ended (its result is in the main store, or it failed, or it was removed
   * before a worker took it): its blobs are released, then the call settles. So once a
   * node's result is committed, its job's files are gone.
   */
  private async over(jobId: string, p: Pending, how: () => void): Promise<void> {
    await this.blobs.release(jobId).catch(() => {});
    this.settle(jobId, p, how, true);
  }

  /**
   * Settles a call once. A call settled before its job ended (given up on: cancelled with
   * no answer within the grace time, or the queue closed) leaves the job's blobs to its
   * end (see `ended`), or to the sweep.
   */
  private settle(jobId: string, p: Pending, how: () => void, over = false): void {
    if (over) this.abandoned.delete(jobId);
    if (p.settled) return;
    p.settled = true;
    this.pending.delete(jobId);
    how();
    if (!over) this.abandoned.add(jobId);
  }
}

/** A Redis URL without its password, for messages. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@");
}

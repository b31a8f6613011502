import { join, resolve } from "node:path";
import { DaggrError, ErrorCode, type Graph } from "../graph/index.js";
import { defaultHome } from "../home.js";
import { DEFAULT_FILES_MAX_AGE_MS, SharedDirBlobs } from "./blobs.js";
import { QueueDispatcher } from "./dispatcher.js";
import type { QueueTimings } from "./jobs.js";
import { QueueWorker, type WorkerOptions } from "./worker.js";

/**
 * Queue mode: the main process (the canvas, the API, the engine and the store) enqueues
 * each node call on Redis; `daggr worker` processes, on this machine or others, run them.
 *
 * ```
 *  browser ──ws──▶ main process ──BullMQ jobs──▶ Redis ◀──── worker 1..N (same app file)
 *                  engine, store  ◀──events─────        ───▶ shared files dir (by sha256)
 * ```
 */
export { QueueDispatcher, type DispatcherOptions } from "./dispatcher.js";
export { QueueWorker, type WorkerOptions } from "./worker.js";
export { DEFAULT_FILES_MAX_AGE_MS, SharedDirBlobs, type BlobStore, type FileRef, type JobBlobs } from "./blobs.js";
export { DEFAULT_TIMINGS, queueName, fingerprintOf, type QueueTimings } from "./jobs.js";

/** What `launch({ queue })` takes. */
export interface QueueOptions {
  /** Redis URL, e.g. `redis://127.0.0.1:6379`. */
  redis: string;
  /** The directory files cross through, shared with the workers (default `<DAGGR_HOME>/queue-files`). */
  files?: string;
  /**
   * A job's files there are removed once its result is in the main store (or it failed);
   * files nobody touched for this long, left by a crashed process, are swept (default
   * `DAGGR_QUEUE_FILES_MAX_AGE_MS`, else 24 h). See `BlobStore`.
   */
  filesMaxAgeMs?: number;
}

/** The shared files directory when none is given: the same on every process of one machine. */
export function defaultBlobDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.DAGGR_QUEUE_FILES ? resolve(env.DAGGR_QUEUE_FILES) : join(defaultHome(env), "queue-files");
}

/**
 * `DAGGR_QUEUE_FILES_MAX_AGE_MS`: how long files nobody touched stay in the shared folder
 * (`QueueOptions.filesMaxAgeMs`, which wins when given); undefined when unset. A value
 * that is not a positive number is refused by name, with the default it would replace.
 */
export function filesMaxAgeFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env.DAGGR_QUEUE_FILES_MAX_AGE_MS?.trim();
  if (!raw) return undefined;
  const ms = Number(raw);
  if (Number.isFinite(ms) && ms > 0) return ms;
  throw new DaggrError(
    ErrorCode.BAD_OPTION,
    `Invalid DAGGR_QUEUE_FILES_MAX_AGE_MS ${JSON.stringify(raw)}: use a number of milliseconds above 0 (the default is ${DEFAULT_FILES_MAX_AGE_MS}, 24 h).`,
    { got: raw },
  );
}

/** Sends the graph's node calls to its queue (what `launch({ queue })` does). */
export function startQueue(graph: Graph, options: QueueOptions): Promise<QueueDispatcher> {
  const filesMaxAgeMs = options.filesMaxAgeMs ?? filesMaxAgeFromEnv();
  return QueueDispatcher.open(graph, { redis: options.redis, blobs: new SharedDirBlobs(options.files ?? defaultBlobDir()), filesMaxAgeMs });
}

/** Runs the graph's queued node calls in this process (what `daggr worker` does). */
export function startWorker(
  graph: Graph,
  options: Omit<WorkerOptions, "blobs"> & QueueTimings & { files?: string },
): Promise<QueueWorker> {
  return QueueWorker.start(graph, { ...options, blobs: new SharedDirBlobs(options.files ?? defaultBlobDir()) });
}

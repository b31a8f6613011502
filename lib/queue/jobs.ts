import { createHash } from "node:crypto";
import { Redis } from "ioredis";
import { DaggrError, ErrorCode, type Graph, type Node } from "../graph/index.js";
import { type Origin, type ResultError, toResultError } from "../engine/index.js";
import { type CodePlace, THROWN_AT } from "../graph/frames.js";

/**
 * What the main process and the workers agree on: the queue's name, what a job carries
 * and what it answers, and the BullMQ timings that decide how soon a dead worker's job
 * is taken up again.
 */

/** Data of one job: one call of one node. */
export interface JobData {
  nodeId: string;
  /** sha256 of the node's fingerprint (kind, configuration, ports, code): the worker must have the same. */
  fingerprint: string;
  /** The node's resolved inputs (own and wired); files as {@link FileRef}s. */
  inputs: Record<string, unknown>;
  /** The recipe key of the execution, and its run: for logs and tracing. */
  key: string;
  runId: string;
}

/**
 * What a job returns: the node's outputs (files as refs) and where they come from (what
 * the executor reported through `ctx.origin`, kept on the record as in-process), or the
 * node's own failure.
 */
export type JobResult =
  | { ok: true; outputs: Record<string, unknown>; origin?: Origin; worker: string }
  | { ok: false; cancelled: boolean; error: ResultError; worker: string };

/** What a job reports while it runs (BullMQ `job.updateProgress`). */
export type JobReport =
  | { type: "progress"; progress: { fraction?: number; text?: string } }
  | { type: "partial"; outputs: Record<string, unknown> }
  | { type: "alive" };

/**
 * Job lock and stall check timings. A worker renews its job's lock every `lockMs / 2`;
 * once a lock has expired (the worker was killed, or its machine vanished) the next
 * stall check of any live worker puts the job back in the queue, so a dead worker's job
 * runs again within about `lockMs + stalledIntervalMs` (15 s by default; BullMQ's own
 * defaults take up to a minute). After `maxStalledCount` such restarts the job fails
 * with E_WORKER_LOST. A synchronous function that blocks a worker's event loop longer
 * than `lockMs` loses its lock too: raise `lockMs` for such nodes.
 */
export interface QueueTimings {
  lockMs?: number;
  stalledIntervalMs?: number;
  maxStalledCount?: number;
}

export const DEFAULT_TIMINGS: Required<QueueTimings> = { lockMs: 10_000, stalledIntervalMs: 5_000, maxStalledCount: 2 };

/** Redis keys of daggr's queues start with this (BullMQ's `prefix`). */
export const PREFIX = "daggr";

/** The queue of an app: one per app (its persist key, else its name), shared by its main process and its workers. */
export function queueName(graph: Graph): string {
  const key = graph.persistKey === false ? graph.name : graph.persistKey;
  return `app-${key.toLowerCase().replace(/[^a-z0-9._-]+/g, "-")}`;
}

/** The pub/sub channel on which the main process asks workers to abort a job. */
export function cancelChannel(queue: string): string {
  return `${PREFIX}:${queue}:cancel`;
}

/** A key marking a job cancelled, for a worker that picks it up after the message went out. */
export function cancelKey(queue: string, jobId: string): string {
  return `${PREFIX}:${queue}:cancelled:${jobId}`;
}

const fingerprints = new WeakMap<Node, string>();
/** sha256 of a node's fingerprint (memoised: an FnNode's includes its source). */
export function fingerprintOf(node: Node): string {
  let f = fingerprints.get(node);
  if (!f) fingerprints.set(node, (f = createHash("sha256").update(node.fingerprint()).digest("hex")));
  return f;
}

/**
 * Every node a job may name: the graph's nodes and their backups (a backup is called
 * when its primary fails, and is dispatched like it). A worklist, not recursion.
 */
export function nodeIndex(graph: Graph): Map<string, Node> {
  const out = new Map<string, Node>();
  const todo: Node[] = [...graph.nodes];
  while (todo.length) {
    const n = todo.pop()!;
    if (out.has(n.id)) continue;
    out.set(n.id, n);
    todo.push(...n.backups);
  }
  return out;
}

/**
 * A Redis URL checked up front: a typo gets a coded error rather than a client that
 * retries forever.
 */
export function checkRedisUrl(url: unknown): string {
  if (typeof url !== "string" || !/^rediss?:\/\/[^\s]+$/i.test(url)) {
    throw new DaggrError(
      ErrorCode.BAD_OPTION,
      `The queue needs a Redis URL such as redis://127.0.0.1:6379 (rediss:// for TLS), got ${JSON.stringify(url)}.`,
      { got: String(url), choices: ["redis://host:port", "rediss://host:port"] },
    );
  }
  return url;
}

/**
 * A Redis connection for a BullMQ queue, worker or event reader. A client instance, not
 * options: BullMQ loads ioredis by itself only under CommonJS. Blocking commands need
 * `maxRetriesPerRequest: null`. Errors are reported by the caller's commands, not thrown
 * as unhandled events.
 */
export function connection(url: string): Redis {
  const r = new Redis(url, { maxRetriesPerRequest: null });
  r.on("error", () => {});
  return r;
}

/**
 * A plain error description that survives JSON: the engine's own (`toResultError`: a
 * DaggrError's code and details, or where in the app a throw happened, found here in the
 * worker), with its details copied through JSON.
 */
export function describeError(e: unknown): ResultError {
  const error = toResultError(e)!;
  return error.details ? { ...error, details: JSON.parse(JSON.stringify(error.details)) as Record<string, unknown> } : error;
}

/** Rebuilds a coded error from its description (the message keeps its `[E_…]` prefix once). */
export function errorFrom(err: ResultError): Error {
  if (err.code && (Object.values(ErrorCode) as string[]).includes(err.code)) {
    return new DaggrError(err.code as ErrorCode, err.message.replace(/^\[E_[A-Z_]+\] /, ""), (err.details as Record<string, unknown>) ?? {});
  }
  // The worker's error: its place in the app as the worker found it, and no stack of this
  // process's own (which would point into the queue's code, or nowhere in the app).
  const e = new Error(err.message);
  e.stack = `Error: ${err.message}`;
  const d = err.details;
  if (typeof d?.file === "string" && typeof d.line === "number" && typeof d.column === "number") {
    (e as { [THROWN_AT]?: CodePlace })[THROWN_AT] = { file: d.file, line: d.line, column: d.column };
  }
  return e;
}

import { DaggrError, ErrorCode, type Graph, type Node, type NodeKind } from "../graph/index.js";
import type { Progress } from "./events.js";
import type { Origin } from "./records.js";
import type { FileMeta, PutFileInput } from "./store.js";

/** What an executor gets for one execution. */
export interface ExecContext {
  /** Aborted on cancel, on a newer edit, or on timeout. Executors must stop remote work too. */
  signal: AbortSignal;
  progress(progress: Progress): void;
  /** Reports a partial raw result (a generator step, streamed tokens); mapped like the final one. */
  partial(raw: unknown): void;
  /**
   * Says the execution is still alive without reporting anything (a message from the
   * remote, downloaded bytes). `progress` and `partial` count too. A node with an
   * inactivity deadline (`inactivityMs`) is aborted with E_IDLE_TIMEOUT after that long
   * without any of them. Optional so hand-made contexts (tests) need not provide it.
   */
  alive?(): void;
  /**
   * Says where the outputs come from (a remote node: its app or model, revision, local or
   * remote copy); kept on the result record as `origin`. Optional like `alive`.
   */
  origin?(origin: Origin): void;
  /** The files store: save produced files here, and read uploaded ones. */
  files: FileSink;
  /** App-level cache surviving restarts (API info, model tasks). */
  cache: MetaCache;
  nodeId: string;
  runId: string;
}

export interface FileSink {
  /** Directory of the files store. */
  readonly dir: string;
  /**
   * Stores a file: a local path, bytes, or a `stream` of chunks (written to a temp file
   * in the files directory while hashed, renamed to its sha256; removed if the source
   * throws, e.g. past a size cap or aborted), so a download never sits whole in memory.
   */
  put(input: PutFileInput): Promise<FileMeta>;
  /** The stored file at this path, if the path is inside the files store. */
  lookup(path: string): Promise<FileMeta | undefined>;
}

export interface MetaCache {
  get<T = unknown>(key: string): Promise<T | undefined>;
  set(key: string, value: unknown): Promise<void>;
}

/**
 * Runs nodes of one kind. One interface, one implementation per kind in `lib/nodes`,
 * checked by one shared suite.
 */
export interface Executor<N extends Node = Node> {
  /** Produces the node's raw result from its resolved (and preprocessed) inputs. */
  execute(node: N, inputs: Record<string, unknown>, ctx: ExecContext): Promise<unknown>;
  /**
   * Whether an array raw result maps to outputs in order (Gradio endpoints return a
   * tuple). Otherwise one output takes the raw value and several take an object's keys.
   */
  readonly positional?: boolean;
  /**
   * Default inactivity deadline of nodes of this kind (ms without progress, partial or
   * `alive()` before the execution is aborted); a node's `inactivityMs` overrides it, 0
   * turns it off. Remote kinds set it; local functions have none.
   */
  readonly inactivityMs?: number;
  /** Start-up checks against the remote (endpoint exists, parameters…); throws coded errors. */
  validate?(node: N, ctx: { cache: MetaCache; signal?: AbortSignal }): Promise<void>;
}

const executors = new Map<string, Executor<any>>();

/** Installs the executor of a node kind (done by `lib/nodes/index.ts`). */
export function registerExecutor<N extends Node>(kind: NodeKind, executor: Executor<N>): void {
  executors.set(kind, executor);
}

/** The default inactivity deadline of a node's kind (undefined: none, or no executor yet). */
export function defaultInactivityMs(node: Node): number | undefined {
  return executors.get(node.kind)?.inactivityMs;
}

export function executorFor(node: Node): Executor {
  const e = executors.get(node.kind);
  if (!e) {
    throw new DaggrError(ErrorCode.NO_EXECUTOR, `No executor is registered for ${node.kind} nodes. Import from 'daggr' so the node kinds are loaded.`);
  }
  return e;
}

/**
 * Where a graph's node calls run. Without one (the default) they run in this process:
 * preprocess → the kind's {@link Executor} → postprocess → output mapping. A dispatcher
 * runs that whole call elsewhere, e.g. on a queue of worker processes (`lib/queue`,
 * installed by `launch({ queue })`); the engine keeps everything else (keys,
 * selection, limits, commits, events), so both places behave the same.
 *
 * @example
 * setDispatcher(graph, { call: (node, inputs, ctx) => runSomewhere(node.id, inputs, ctx.signal) });
 */
export interface Dispatcher {
  /**
   * Runs one call of `node` on `inputs` (its own and wired inputs, resolved) and
   * resolves with its outputs by port. It settles once the work has really stopped:
   * the engine holds the node's concurrency slot until then, so limits hold wherever
   * the work runs.
   */
  call(node: Node, inputs: Record<string, unknown>, ctx: DispatchContext): Promise<Record<string, unknown>>;
}

/** What a dispatcher gets: an executor's context, with partial outputs already mapped to ports. */
export interface DispatchContext extends Omit<ExecContext, "partial" | "alive"> {
  partial(outputs: Record<string, unknown>): void;
  alive(): void;
  /** The recipe key of the execution this call belongs to ("" for a one-off call). */
  key: string;
  /**
   * Calls `cb` with the reason once the call is aborted, without a listener per call on
   * the signal the calls of one execution share (a mapped node's items, a job each).
   */
  onAbort?(cb: (reason: unknown) => void): void;
}

const dispatchers = new WeakMap<Graph, Dispatcher>();

/** Runs the graph's node calls through `dispatcher` (undefined: back in this process). */
export function setDispatcher(graph: Graph, dispatcher: Dispatcher | undefined): void {
  if (dispatcher) dispatchers.set(graph, dispatcher);
  else dispatchers.delete(graph);
}

/** The dispatcher of a graph's node calls, if they do not run in this process. */
export function dispatcherOf(graph: Graph): Dispatcher | undefined {
  return dispatchers.get(graph);
}

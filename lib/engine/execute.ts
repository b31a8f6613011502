import { setMaxListeners } from "node:events";
import { DaggrError, ErrorCode, type Node } from "../graph/index.js";
import type { Progress } from "./events.js";
import type { NodeAbort } from "./abort.js";
import type { CallHooks, Cancel, Delivery } from "./call.js";
import { LATER } from "./scheduler.js";
import { type Dispatcher, type FileSink, type MetaCache, defaultInactivityMs, dispatcherOf } from "./executor.js";
import { IdleDeadline } from "./idle.js";
import type { Kept } from "./kept.js";
import { type Maybe, isKnown } from "./known.js";
import type { Semaphore } from "./limits.js";
import { hasFilePorts } from "./outputs.js";
import { currentSecrets, redactValue } from "./redact.js";
import { type Origin, type ResultRecord, ResultStatus, newId } from "./records.js";
import type { SheetView } from "./state.js";
import { resolveWiring } from "./wiring.js";
import { NO_OWN, callPrimary, callWithBackups } from "./backups.js";
import { runItems } from "./items.js";
import { NO_FILES, finish, hasAnyFiles, redactRecord, skip, toResultError } from "./produce.js";
import type { Store } from "./store.js";

export { callNode, metaCache, type CallHooks } from "./call.js";

/** Where an execution reports what happens to it (the session implements this). */
export interface ExecHost {
  queued(nodeId: string, runId: string): void;
  started(nodeId: string, runId: string, startedAt: number): void;
  progress(nodeId: string, runId: string, p: Progress): void;
  partial(nodeId: string, runId: string, outputs: Record<string, unknown>): void;
}

/** What every execution of a session shares (made once per session). */
export interface ExecEnv {
  view: SheetView;
  /** The files store and app cache. */
  files: FileSink;
  cache: MetaCache;
  host: ExecHost;
  /** The newest object of each kind a run drops, kept so a GC between runs keeps their code (see `Kept`). */
  kept: Kept;
}

/** The files store as executors see it. */
export function fileSink(store: Store): FileSink {
  return {
    // Read when a node first needs it: a memory store names its folder only then.
    get dir() {
      return store.filesDir;
    },
    put: (i) => store.putFile(i),
    lookup: (p) => store.fileForPath(p),
  };
}

/**
 * Executes one node once and returns its result record (never throws for the node's
 * own failure: a failed or cancelled execution is a record too, so it can be shown and
 * kept in history, but it is never reused as a cache hit). A node routed around by a
 * branch yields a `skipped` record; a node reading lists per item runs once per item.
 *
 * When every step has its answer at once (a free slot, a sync function, no files) the
 * record is returned directly, in the same tick; otherwise `LATER`, and the record is
 * handed to `sink` once it is there (no promise of it per execution).
 */
export function executeNode(
  env: ExecEnv,
  node: Node,
  /** The node's position in the graph (`graph.nodes`). */
  at: number,
  runId: string,
  abort: NodeAbort,
  limiter: Semaphore | undefined,
  /** Rerun only this item of a mapped node, keeping the others as selected. */
  onlyItem: number | undefined,
  sink: RecordSink,
): ResultRecord | typeof LATER {
  const x = (env.kept.execution = new Execution(env, node, at, runId, abort, limiter, onlyItem));
  let record: Maybe<ResultRecord> | typeof LATER;
  try {
    record = x.start();
  } catch (e) {
    x.fail(e);
    return x.end();
  }
  if (record instanceof Promise) {
    // A step that still works with promises (a slot to wait for, items, backups, files to store).
    record.then(
      (r) => sink.recorded(x, r),
      (e) => sink.broke(x, e),
    );
    return LATER;
  }
  if (record === LATER) x.sink = sink;
  return record;
}

/**
 * Where an execution that waits hands its record (the runner), so that waiting costs no
 * promise of the record, no reactions to chain and no object per execution.
 */
export interface RecordSink {
  /** The execution ended (succeeded, failed or was cancelled): its record, once. */
  recorded(x: Execution, record: ResultRecord): void;
  /** The execution broke without a record to store (a bug in ending it, say). */
  broke(x: Execution, e: unknown): void;
}

/** One execution of one node: its record, its cancellation, and the steps that fill the record. */
export class Execution implements Cancel, Delivery {
  readonly record: ResultRecord;
  /**
   * Where the record goes once a call that waits has ended (set by `executeNode` when
   * `start` returned `LATER`), the slot that call holds, and whether it has ended.
   */
  sink: RecordSink | undefined = undefined;
  private held: Call | undefined = undefined;
  private over = false;
  /** Set when the node has a deadline: the run's, the node's and the deadlines' aborts in one. */
  private readonly timed: AbortSignal | undefined;
  /** The inactivity deadline (remote nodes by default; `inactivityMs`). */
  private readonly idle: IdleDeadline | undefined;
  /** What to call when `timed` aborts (see `onAbort`), made with its one listener. */
  private onTimedAbort: Array<(reason: unknown) => void> | undefined = undefined;
  private readonly t0 = performance.now();
  private started = false;
  servedBy: string | undefined = undefined;
  origin: Origin | undefined = undefined;

  constructor(
    readonly env: ExecEnv,
    readonly node: Node,
    at: number,
    readonly runId: string,
    readonly abort: NodeAbort,
    readonly limiter: Semaphore | undefined,
    readonly onlyItem: number | undefined,
  ) {
    const view = env.view;
    const now = Date.now();
    // Keys are kept current by SheetView.refresh; recomputing here would hash twice per node.
    this.record = {
      id: newId("x", now), nodeId: node.id, sheetId: view.sheetId, runId, key: view.keyAt(at) ?? "",
      // Each part is replaced when known, made at its size (the shared empty one is frozen).
      inputs: NO_OWN, upstream: NO_OWN as Record<string, string>, outputs: NO_OWN, outputHashes: NO_OWN as Record<string, string>, status: ResultStatus.SUCCESS,
      // A list only for a node with file ports (the others reference no files).
      startedAt: now, ms: 0, files: hasAnyFiles(hasFilePorts(node)) ? [] : NO_FILES,
    };
    const timeout = node.options.timeoutMs;
    const idleMs = node.options.inactivityMs ?? defaultInactivityMs(node);
    this.idle = idleMs && idleMs > 0 ? new IdleDeadline(idleMs, node.id) : undefined;
    this.timed =
      timeout || this.idle
        ? AbortSignal.any([abort.signal, ...(timeout ? [AbortSignal.timeout(timeout)] : []), ...(this.idle ? [this.idle.signal] : [])])
        : undefined;
    // Every call of the execution gets this signal (a mapped node's items, each with its
    // client's listener): many listeners are expected here, not a leak to warn about.
    if (this.timed) setMaxListeners(0, this.timed);
  }

  /** The execution showed a sign of life (progress, a partial, `ctx.alive()`). */
  touch(): void {
    this.idle?.touch();
  }

  get aborted(): boolean {
    return this.timed ? this.timed.aborted : this.abort.aborted;
  }

  get reason(): unknown {
    return this.timed ? this.timed.reason : this.abort.reason;
  }

  get signal(): AbortSignal {
    return this.timed ?? this.abort.signal;
  }

  onAbort(cb: (reason: unknown) => void): void {
    const timed = this.timed;
    if (!timed) return this.abort.onAbort(cb);
    if (timed.aborted) return cb(timed.reason);
    // One listener for all the execution's calls (a mapped node's items, a queue job
    // each): a listener per call made the signal check each new one against all the
    // others, and past ten of them Node warned of a leak.
    if (!this.onTimedAbort) {
      const callbacks: Array<(reason: unknown) => void> = (this.onTimedAbort = []);
      timed.addEventListener("abort", () => {
        for (const f of callbacks) f(timed.reason);
      }, { once: true });
    }
    this.onTimedAbort.push(cb);
  }

  /**
   * Runs the node: its ended record, or a promise of it. The record is ended in the same
   * reaction that stores the outputs (no promise hop of its own per execution).
   */
  start(): Maybe<ResultRecord> | typeof LATER {
    const node = this.node;
    const view = this.env.view;
    // Input values are read now, before waiting for a slot, so what the key promised is
    // what runs even if the user edits while this waits.
    const own = view.editableValues(node);
    const wiring = resolveWiring(node, view, this.record, own);
    if (wiring.skipped) {
      skip(this.record, node, wiring.skipped);
      return this.end();
    }
    const editable = node.backups.length || wiring.lists.length ? [own, ...node.backups.map((n) => view.editableValues(n))] : undefined;
    if (wiring.lists.length) return this.endAfter(runItems(this, editable!, wiring));
    const call = this.acquire(false);
    if (call instanceof Promise) {
      return call.then(
        (c) => {
          try {
            // Not delivering: a call that waits returns a promise here, never LATER.
            return this.call(c, own, editable, wiring.values) as Maybe<ResultRecord>;
          } catch (e) {
            return this.failed(e);
          }
        },
        (e) => this.failed(e),
      );
    }
    // A slot taken at once: a call that waits delivers its end here (`delivered`, `refused`).
    return this.call(call, own, editable, wiring.values, true);
  }

  /** The record once `work` settles: ended as it succeeded, or as it failed. */
  private endAfter(work: Promise<void>): Promise<ResultRecord> {
    return work.then(
      () => this.end(),
      (e) => this.failed(e),
    );
  }

  /** Fails the execution with `e` and ends it. */
  failed(e: unknown): ResultRecord {
    this.fail(e);
    return this.end();
  }

  /**
   * Waits for a concurrency slot. The slot is held until the executor's own promise
   * settles, even after a cancel, so a limit of N never has more than N executions
   * really running.
   */
  acquire(quiet: boolean): Maybe<Call> {
    const limiter = this.limiter;
    // A slot taken at once starts the node when its record did.
    if (!limiter || limiter.tryTake()) return this.running(new Call(this, limiter, quiet), this.record.startedAt);
    this.env.host.queued(this.node.id, this.runId);
    return limiter.wait(this.signal).then(() => this.running(new Call(this, limiter, quiet), Date.now()));
  }

  private running(call: Call, at: number): Call {
    this.env.kept.call = call;
    this.idle?.start();
    if (!this.started) {
      this.started = true;
      this.env.host.started(this.node.id, this.runId, at);
    }
    return call;
  }

  /**
   * Calls the node (or its backups) holding a slot, then stores its outputs and ends the
   * record. A synchronous throw is the caller's to record (executeNode does).
   */
  private call(held: Call, own: Record<string, unknown>, editable: Record<string, unknown>[] | undefined, wired: Record<string, unknown>, deliver = false): Maybe<ResultRecord> | typeof LATER {
    const { node } = this;
    const { files } = this.env;
    let outputs: Maybe<Record<string, unknown>> | typeof LATER;
    let stored: Maybe<void>;
    try {
      if (editable) outputs = callWithBackups(this, this.record, editable, wired, held).then((r) => ((this.servedBy = r.servedBy), r.outputs));
      else if (deliver) {
        this.held = held;
        outputs = callPrimary(this, own, wired, held, this.record, this);
        if (outputs === LATER) return LATER;
      } else outputs = callPrimary(this, own, wired, held);
      if (outputs instanceof Promise) {
        // One reaction stores the outputs, frees the slot and ends the record (a file copy waits in between).
        return outputs.then(
          (out) => {
            let later: Maybe<void>;
            try {
              later = finish(node, this.record, out, files);
            } catch (e) {
              held.release();
              return this.failed(e);
            }
            if (!later) {
              held.release();
              return this.end();
            }
            return this.stored(later, held);
          },
          (e) => {
            held.release();
            return this.failed(e);
          },
        );
      }
      stored = finish(node, this.record, outputs, files);
    } catch (e) {
      held.release();
      throw e;
    }
    if (!stored) {
      held.release();
      return this.end();
    }
    return this.stored(stored, held);
  }

  /** Ends the record once the outputs' files are stored, freeing the slot either way. */
  private stored(files: Promise<void>, held: Call): Promise<ResultRecord> {
    return files.then(
      () => {
        held.release();
        return this.end();
      },
      (e) => {
        held.release();
        return this.failed(e);
      },
    );
  }

  /** @internal The waiting call's outputs (see `invokeTo`): stored, and the record handed to the sink. */
  delivered(outputs: Record<string, unknown>): void {
    if (this.over) return;
    this.over = true;
    const held = this.held!;
    let later: Maybe<void>;
    try {
      later = finish(this.node, this.record, outputs, this.env.files);
    } catch (e) {
      held.release();
      return this.handFailed(e);
    }
    if (later) return this.hand(this.stored(later, held));
    held.release();
    let record: ResultRecord;
    try {
      record = this.end();
    } catch (e) {
      return this.sink!.broke(this, e);
    }
    this.sink!.recorded(this, record);
  }

  /** @internal The waiting call failed or was aborted (see `invokeTo`). */
  refused(reason: unknown): void {
    if (this.over) return;
    this.over = true;
    this.held!.release();
    this.handFailed(reason);
  }

  private handFailed(e: unknown): void {
    let record: ResultRecord;
    try {
      record = this.failed(e);
    } catch (broken) {
      return this.sink!.broke(this, broken);
    }
    this.sink!.recorded(this, record);
  }

  private hand(record: Promise<ResultRecord>): void {
    const sink = this.sink!;
    record.then(
      (r) => sink.recorded(this, r),
      (e) => sink.broke(this, e),
    );
  }

  /** Records why the execution failed (or was cancelled, or timed out). */
  fail(e: unknown): void {
    const { node, abort } = this;
    const record = this.record;
    const cancelled = abort.aborted;
    const deadline = !cancelled && this.timed?.aborted ? this.timed.reason : undefined;
    const idled = deadline instanceof DaggrError && deadline.code === ErrorCode.IDLE_TIMEOUT;
    record.status = cancelled ? ResultStatus.CANCELLED : ResultStatus.FAILED;
    record.outputs = {};
    record.outputHashes = {};
    record.error = idled
      ? toResultError(deadline)
      : deadline !== undefined
        ? { code: ErrorCode.TIMEOUT, message: `Node '${node.id}' took longer than its timeoutMs (${node.options.timeoutMs} ms) and was stopped.` }
        : toResultError(cancelled ? (abort.reason ?? e) : e);
  }

  end(): ResultRecord {
    const record = this.record;
    this.idle?.stop();
    redactRecord(record);
    if (this.servedBy && record.status === ResultStatus.SUCCESS) record.servedBy = this.servedBy;
    if (this.origin && record.status === ResultStatus.SUCCESS) record.origin = this.origin;
    record.ms = Math.round((performance.now() - this.t0) * 10) / 10;
    return record;
  }
}

/**
 * One call of a node: the concurrency slot it holds (released when the executor's own
 * work settles) and the hooks it reports through, as prototype methods, so the hot path
 * allocates no closures.
 */
export class Call implements CallHooks {
  readonly runId: string;
  readonly cache: MetaCache;
  private work: Promise<unknown> | undefined = undefined;
  constructor(
    private readonly x: Execution,
    private readonly limiter: Semaphore | undefined,
    /** Items of a mapped node show no partial outputs. */
    private readonly quiet: boolean,
  ) {
    this.runId = x.runId;
    this.cache = x.env.cache;
  }
  release(): void {
    const limiter = this.limiter;
    if (!limiter) return;
    if (this.work) this.work.then(() => limiter.give(), () => limiter.give());
    else limiter.give();
  }
  get files(): FileSink {
    return this.x.env.files;
  }
  /** Where the call runs when not in this process (looked up per call: a graph gets one at launch). */
  get dispatcher(): Dispatcher | undefined {
    return dispatcherOf(this.x.env.view.graph);
  }
  get key(): string {
    return this.x.record.key;
  }
  onProgress(p: Progress): void {
    this.x.touch();
    this.x.env.host.progress(this.x.node.id, this.x.runId, redactValue(p, currentSecrets()));
  }
  onPartial(outputs: Record<string, unknown>): void {
    this.x.touch();
    if (!this.quiet) this.x.env.host.partial(this.x.node.id, this.x.runId, redactValue(outputs, currentSecrets()));
  }
  alive(): void {
    this.x.touch();
  }
  onOrigin(origin: Origin): void {
    this.x.origin = origin;
  }
  track(work: Promise<unknown>, context: object): void {
    this.x.env.kept.context = context;
    if (this.limiter && !isKnown(work)) this.work = work;
  }
}

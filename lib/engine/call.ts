import type { Node } from "../graph/index.js";
import type { Progress } from "./events.js";
import { type DispatchContext, type Dispatcher, type ExecContext, type Executor, type FileSink, type MetaCache, executorFor } from "./executor.js";
import { type Maybe, isKnown, knownValue } from "./known.js";
import { mapOutputs } from "./outputs.js";
import type { Store } from "./store.js";
import type { Origin } from "./records.js";
import { LATER } from "./scheduler.js";

/** What an executor's cancellation is read from. */
export interface Cancel {
  readonly aborted: boolean;
  readonly reason: unknown;
  /** The AbortSignal handed to the executor. */
  readonly signal: AbortSignal;
  /**
   * Calls `cb` with the reason once aborted, without making or listening to a signal
   * (see NodeAbort); without it, `signal` is listened to.
   */
  onAbort?(cb: (reason: unknown) => void): void;
}

export interface CallHooks {
  runId: string;
  onProgress(p: Progress): void;
  onPartial(outputs: Record<string, unknown>): void;
  /** A sign of life without a report (see `ExecContext.alive`). */
  alive?(): void;
  /** Where the outputs come from (see `ExecContext.origin`). */
  onOrigin?(origin: Origin): void;
  cache?: ExecContext["cache"];
  store?: Store;
  /** Receives the executor's own promise, which may outlive a cancellation, and the context it was given. */
  track?(work: Promise<unknown>, context: object): void;
  /** Where the call runs when not in this process (see `Dispatcher`). */
  readonly dispatcher?: Dispatcher;
  /** The recipe key of the execution, for a dispatcher. */
  readonly key?: string;
}

/** preprocess → executor → postprocess → output mapping; partial results take the same path. */
export async function callNode(
  node: Node,
  inputs: Record<string, unknown>,
  signal: AbortSignal,
  files: FileSink,
  o: CallHooks,
): Promise<Record<string, unknown>> {
  return invoke(node, inputs, new SignalCancel(signal), files, o);
}

/** A Cancel that reads a plain AbortSignal live. */
class SignalCancel implements Cancel {
  constructor(readonly signal: AbortSignal) {}
  get aborted(): boolean {
    return this.signal.aborted;
  }
  get reason(): unknown {
    return this.signal.reason;
  }
}

/**
 * The call itself. When the executor's promise is already fulfilled (see `known.ts`) the
 * outputs are mapped in this tick; otherwise the call settles as soon as the signal
 * aborts, even if the work ignores it, and the work's late result is dropped.
 */
export function invoke(node: Node, inputs: Record<string, unknown>, cancel: Cancel, files: FileSink, o: CallHooks): Maybe<Record<string, unknown>> {
  const dispatcher = o.dispatcher;
  if (dispatcher) {
    const context = new DispatchedContext(node, cancel, files, o);
    const work = dispatcher.call(node, inputs, context);
    o.track?.(work, context);
    return abortable(work, cancel);
  }
  const executor = executorFor(node);
  if (node.options.preprocess) return invokeAsync(executor, node, inputs, cancel, files, o);
  const work = begin(executor, node, inputs, cancel, files, o);
  return outputsNow(executor, node, work, cancel) ?? abortable(work, cancel, (raw) => shape(executor, node, raw));
}

/** Starts the executor's work for a call in this process, and tells `track` of it. */
function begin(executor: Executor, node: Node, inputs: Record<string, unknown>, cancel: Cancel, files: FileSink, o: CallHooks): Promise<unknown> {
  const context = new CallContext(executor, node, cancel, files, o);
  const work = executor.execute(node, inputs, context);
  o.track?.(work, context);
  return work;
}

/** The call's outputs now, when the work's value is already known (see `known.ts`); else undefined. */
function outputsNow(executor: Executor, node: Node, work: Promise<unknown>, cancel: Cancel): Record<string, unknown> | undefined {
  if (!isKnown(work)) return undefined;
  if (cancel.aborted) throw cancel.reason;
  return shape(executor, node, knownValue(work));
}

/**
 * Where a call that waits delivers its end: the node's outputs, or why there are none (the
 * work failed, its value did not fit the outputs, or the call was aborted first). Whichever
 * comes first is the call's end; a receiver ignores the other (see `Execution`).
 */
export interface Delivery {
  delivered(outputs: Record<string, unknown>): void;
  refused(reason: unknown): void;
}

/**
 * `invoke` for a caller that takes a waiting call's end as a delivery instead of a promise:
 * the outputs at once when the executor's value is known, or `LATER`, and then exactly one
 * of `to.delivered` or `to.refused` (more than one may arrive; the first counts). A call
 * that waits then costs one reaction on the executor's promise and two small closures,
 * where `invoke` chains promises for the abort race and the shaping: at a thousand calls
 * in flight that was most of what they held (1.3 of 2.4 KB each) and of what the young
 * generation copied. A node with a preprocess step, calls that run elsewhere (a
 * dispatcher) or a plain signal to watch take `invoke`'s path, its promise delivered.
 */
export function invokeTo(node: Node, inputs: Record<string, unknown>, cancel: Cancel, files: FileSink, o: CallHooks, to: Delivery): Record<string, unknown> | typeof LATER {
  if (o.dispatcher || node.options.preprocess || !cancel.onAbort) {
    const outputs = invoke(node, inputs, cancel, files, o);
    if (!(outputs instanceof Promise)) return outputs;
    outputs.then(
      (out) => to.delivered(out),
      (e) => to.refused(e),
    );
    return LATER;
  }
  const executor = executorFor(node);
  const work = begin(executor, node, inputs, cancel, files, o);
  const now = outputsNow(executor, node, work, cancel);
  if (now) return now;
  if (cancel.aborted) throw cancel.reason;
  const refused = (reason: unknown) => to.refused(reason);
  // The callback outlives the work harmlessly: the delivery takes the first end only.
  cancel.onAbort(refused);
  work.then((raw) => {
    let outputs: Record<string, unknown>;
    try {
      outputs = shape(executor, node, raw);
    } catch (e) {
      return to.refused(e);
    }
    to.delivered(outputs);
  }, refused);
  return LATER;
}

async function invokeAsync(executor: Executor, node: Node, inputs: Record<string, unknown>, cancel: Cancel, files: FileSink, o: CallHooks): Promise<Record<string, unknown>> {
  const args = await node.options.preprocess!({ ...inputs });
  return shape(executor, node, await abortable(begin(executor, node, args, cancel, files, o), cancel));
}

function shape(executor: Executor, node: Node, raw: unknown): Record<string, unknown> {
  const { postprocess } = node.options;
  return mapOutputs(node, postprocess ? postprocess(raw) : raw, !!executor.positional);
}

/**
 * What every call's context holds, in the executor's process or a dispatcher's. Its
 * signal is read lazily (see NodeAbort); a class, because an object literal with a
 * getter costs microseconds to make.
 */
abstract class BaseContext {
  readonly nodeId: string;
  readonly runId: string;
  readonly cache: MetaCache;
  constructor(
    node: Node,
    private readonly cancel: Cancel,
    readonly files: FileSink,
    protected readonly o: CallHooks,
  ) {
    this.nodeId = node.id;
    this.runId = o.runId;
    this.cache = o.cache ?? metaCache(o.store);
  }
  get signal(): AbortSignal {
    return this.cancel.signal;
  }
  /**
   * Calls `cb` with the reason once the call is aborted. The calls of one execution (a
   * mapped node's items) share its signal; this adds no listener to it per call.
   */
  onAbort(cb: (reason: unknown) => void): void {
    const cancel = this.cancel;
    if (cancel.onAbort) return cancel.onAbort(cb);
    const signal = cancel.signal;
    if (signal.aborted) return cb(signal.reason);
    signal.addEventListener("abort", () => cb(signal.reason), { once: true });
  }
  alive(): void {
    this.o.alive?.();
  }
}

/** What the executor gets: partial outputs are mapped here, as the final result is. */
class CallContext extends BaseContext implements ExecContext {
  private reporters: Pick<ExecContext, "progress" | "partial"> | undefined = undefined;
  constructor(
    private readonly executor: Executor,
    private readonly node: Node,
    cancel: Cancel,
    files: FileSink,
    o: CallHooks,
  ) {
    super(node, cancel, files, o);
  }
  origin(origin: Origin): void {
    this.o.onOrigin?.(origin);
  }
  // progress and partial are functions made on first use (most nodes never report), and
  // they work detached too (`const { progress } = ctx`).
  get progress(): ExecContext["progress"] {
    return this.report().progress;
  }
  get partial(): ExecContext["partial"] {
    return this.report().partial;
  }
  private report(): Pick<ExecContext, "progress" | "partial"> {
    const { executor, node, o } = this;
    return (this.reporters ??= {
      progress: (p) => o.onProgress(p),
      partial: (raw) => {
        try {
          o.onPartial(shape(executor, node, raw));
        } catch {
          // A partial that cannot be shaped yet is not shown; the final result is checked strictly.
        }
      },
    });
  }
}

/** What a dispatcher gets: partial outputs come back mapped already (the work did it). */
class DispatchedContext extends BaseContext implements DispatchContext {
  readonly key: string;
  constructor(node: Node, cancel: Cancel, files: FileSink, o: CallHooks) {
    super(node, cancel, files, o);
    this.key = o.key ?? "";
  }
  progress(p: Progress): void {
    this.o.onProgress(p);
  }
  partial(outputs: Record<string, unknown>): void {
    this.o.onPartial(outputs);
  }
  /** Where the outputs come from, as the work elsewhere reported it (see `ExecContext.origin`). */
  origin(origin: Origin): void {
    this.o.onOrigin?.(origin);
  }
}

export function metaCache(store: Store | undefined): ExecContext["cache"] {
  const mem = new Map<string, unknown>();
  return store
    ? { get: (k) => store.getMeta(k), set: (k, v) => store.setMeta(k, v) }
    : { get: async (k) => mem.get(k) as never, set: async (k, v) => void mem.set(k, v) };
}

/**
 * Settles as soon as the signal aborts, even if the work ignores it (a sync FnNode
 * cannot be interrupted); the work's late result is dropped. `map` shapes the work's
 * value inside the same reaction (one promise per call, not one per step).
 */
function abortable<T, R = T>(work: Promise<T>, cancel: Cancel, map?: (v: T) => R): Promise<R> {
  if (cancel.aborted) return Promise.reject(cancel.reason);
  return new Promise<R>((resolve, reject) => {
    const done = map
      ? (v: T) => {
          try {
            resolve(map(v));
          } catch (e) {
            reject(e);
          }
        }
      : (resolve as (v: T) => void);
    if (cancel.onAbort) {
      // The callback outlives the work harmlessly: a settled promise ignores a late reject.
      cancel.onAbort(reject);
      work.then(done, reject);
      return;
    }
    const signal = cancel.signal;
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        done(v);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

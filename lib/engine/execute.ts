import { setMaxListeners } from "node:events";
import { DaggrError, ErrorCode, type Node } from "../graph/index.js";
import type { Progress } from "./events.js";
import type { NodeAbort } from "./abort.js";
import { type CallHooks, type Cancel, invoke } from "./call.js";
import { type Dispatcher, type FileSink, type MetaCache, defaultInactivityMs, dispatcherOf } from "./executor.js";
import { IdleDeadline } from "./idle.js";
import { type Maybe, isKnown, isThenable } from "./known.js";
import type { Semaphore } from "./limits.js";
import { hasFilePorts, ingestFiles, inputFileIds } from "./outputs.js";
import { canonical, contentHash, hashText } from "./recipe-key.js";
import { currentSecrets, redactValue } from "./redact.js";
import { keyedBy } from "./keyed.js";
import { type ItemResult, type Origin, type ResultRecord, ResultStatus, newId } from "./records.js";
import { SKIPPED_HASH, type SheetView } from "./state.js";
import { type Wiring, resolveWiring } from "./wiring.js";
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
 * record is returned directly, in the same tick; otherwise a promise of it.
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
  onlyItem?: number,
): Maybe<ResultRecord> {
  const x = new Execution(env, node, at, runId, abort, limiter, onlyItem);
  try {
    return x.start();
  } catch (e) {
    x.fail(e);
    return x.end();
  }
}

/** One execution of one node: its record, its cancellation, and the steps that fill the record. */
class Execution implements Cancel {
  readonly record: ResultRecord;
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
  start(): Maybe<ResultRecord> {
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
            return this.call(c, own, editable, wiring.values);
          } catch (e) {
            return this.failed(e);
          }
        },
        (e) => this.failed(e),
      );
    }
    return this.call(call, own, editable, wiring.values);
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
  private call(held: Call, own: Record<string, unknown>, editable: Record<string, unknown>[] | undefined, wired: Record<string, unknown>): Maybe<ResultRecord> {
    const { node } = this;
    const { files } = this.env;
    let outputs: Maybe<Record<string, unknown>>;
    let stored: Maybe<void>;
    try {
      outputs = editable
        ? callWithBackups(this, this.record, editable, wired, held).then((r) => ((this.servedBy = r.servedBy), r.outputs))
        : callPrimary(this, own, wired, held);
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
class Call implements CallHooks {
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
  track(work: Promise<unknown>): void {
    if (this.limiter && !isKnown(work)) this.work = work;
  }
}

interface Produced {
  inputs: Record<string, unknown>;
  outputs: Record<string, unknown>;
  outputHashes: Record<string, string>;
  files?: string[];
}

/**
 * Copies produced files into the store, notes the files the result references, hashes
 * outputs. Synchronous for a node without file ports.
 */
function finish(node: Node, target: Produced, outputs: Record<string, unknown>, files: FileSink, fp = hasFilePorts(node)): Maybe<void> {
  if (fp.outputs || (fp.inputs && target.files)) return finishFiles(node, target, outputs, files);
  target.outputs = outputs;
  hashOutputs(node, target);
}

async function finishFiles(node: Node, target: Produced, outputs: Record<string, unknown>, files: FileSink): Promise<void> {
  const ingested = await ingestFiles(node, outputs, files);
  target.outputs = ingested.outputs;
  if (target.files) {
    for (const id of [...ingested.fileIds, ...(await inputFileIds(node, target.inputs, files))]) {
      if (!target.files.includes(id)) target.files.push(id);
    }
  }
  hashOutputs(node, target);
}

const NO_FILES = Object.freeze([]) as unknown as string[];

function hasAnyFiles(fp: { inputs: boolean; outputs: boolean }): boolean {
  return fp.inputs || fp.outputs;
}

/** Hashes each output, keyed in the node's port order (a backup's outputs are the same ports). */
function hashOutputs(node: Node, target: Produced): void {
  const outputs = target.outputs;
  const { keys: ports, make, one } = keyedBy(node.outputs);
  if (ports.length === 1) {
    target.outputHashes = one(contentHash(outputs[ports[0]!])) as Record<string, string>;
    return;
  }
  const hashes: string[] = new Array(ports.length);
  for (let i = 0; i < ports.length; i++) hashes[i] = contentHash(outputs[ports[i]!]);
  target.outputHashes = make(hashes) as Record<string, string>;
}

function skip(record: ResultRecord, node: Node, reason: string): ResultRecord {
  record.status = ResultStatus.SKIPPED;
  record.error = { message: `Skipped: ${reason}.` };
  const { keys: ports, make } = keyedBy(node.outputs);
  record.outputHashes = make(ports.map(() => SKIPPED_HASH)) as Record<string, string>;
  return record;
}

/**
 * Runs a mapped node once per item, in parallel within its concurrency limit. Each item
 * has its own key: an item whose key matches an item of the current selection is reused,
 * so editing one element of a list reruns only that element's chain. `onlyItem` reruns
 * one item alone and keeps the others as selected.
 */
async function runItems(x: Execution, editable: Record<string, unknown>[], wiring: Wiring): Promise<void> {
  const { node, onlyItem } = x;
  const { view, files } = x.env;
  const record = x.record;
  const n = wiring.lists[0]!.items.length;
  const previous = view.selected.get(node.id)?.items ?? [];
  const byKey = new Map(previous.filter((i) => i.status === ResultStatus.SUCCESS).map((i) => [i.key, i]));
  let done = 0;
  const base = view.itemBaseKey(node, wiring.lists.map((l) => l.port));
  const one = async (i: number): Promise<ItemResult> => {
    const perItem = Object.fromEntries(wiring.lists.map((l) => [l.port, l.items[i]]));
    const item: ItemResult = {
      key: hashText(`${base}|${canonical(perItem)}`), inputs: perItem, outputs: {}, outputHashes: {},
      status: ResultStatus.SUCCESS, startedAt: Date.now(), ms: 0,
    };
    const keep = onlyItem === undefined ? byKey.get(item.key) : onlyItem === i ? undefined : previous[i];
    if (keep) return keep;
    const upstreamFailed = wiring.lists.map((l) => l.failed[i]).find(Boolean);
    if (upstreamFailed) {
      return { ...item, status: ResultStatus.FAILED, error: { code: ErrorCode.UPSTREAM_FAILED, message: `failed upstream: ${upstreamFailed.error?.message ?? upstreamFailed.status}` } };
    }
    const t0 = performance.now();
    const call = await x.acquire(true);
    try {
      const outputs = node.backups.length
        ? (await callWithBackups(x, { ...record, inputs: {} }, editable, { ...wiring.values, ...perItem }, call)).outputs
        : await callPrimary(x, editable[0]!, { ...wiring.values, ...perItem }, call, { inputs: {} });
      const produced: Produced = { inputs: perItem, outputs: {}, outputHashes: {}, files: record.files };
      await finish(node, produced, outputs, files);
      return { ...item, outputs: produced.outputs, outputHashes: produced.outputHashes, ms: Math.round(performance.now() - t0) };
    } catch (e) {
      if (x.aborted) throw e;
      return { ...item, status: ResultStatus.FAILED, error: toResultError(e), ms: Math.round(performance.now() - t0) };
    } finally {
      call.release();
      x.touch();
      x.env.host.progress(node.id, x.runId, { fraction: ++done / n, text: `${done}/${n} items` });
    }
  };
  const items = await Promise.all(Array.from({ length: n }, (_, i) => one(i)));
  record.inputs = await resolveOwn(node, editable[0]!);
  record.items = items;
  record.outputs = {};
  record.outputHashes = {};
  for (const port of Object.keys(node.outputs)) {
    record.outputs[port] = items.map((i) => (i.status === ResultStatus.SUCCESS ? i.outputs[port] : null));
    record.outputHashes[port] = contentHash(items.map((i) => [i.status, i.outputHashes[port] ?? null]));
  }
  const failed = items.map((it, i) => ({ it, i })).filter(({ it }) => it.status !== ResultStatus.SUCCESS);
  if (failed.length) {
    record.error = {
      code: ErrorCode.ITEMS_FAILED,
      message: `${failed.length} of ${n} items failed: ${failed.map(({ it, i }) => `#${i + 1}: ${it.error?.message}`).join("; ")}`,
      details: { items: failed.map(({ i }) => i) },
    };
  }
}

/**
 * Own inputs: editable values, fixed values, and function inputs realised now (recorded).
 * Synchronous unless a function input returns a promise; function inputs are called one
 * after the other, each once its predecessor's value is there.
 */
function resolveOwn(node: Node, editable: Record<string, unknown>): Maybe<Record<string, unknown>> {
  // Made at the first own port: a node whose inputs are all wired shares one empty record.
  let own: Record<string, unknown> | undefined;
  const ports = node.activePorts(editable);
  for (let i = 0; i < ports.length; i++) {
    const port = ports[i]!;
    const spec = node.inputs[port];
    if (!spec || spec.kind === "component") (own ??= {})[port] = editable[port];
    else if (spec.kind === "fixed") (own ??= {})[port] = spec.value;
    else if (spec.kind === "fn") {
      const v = spec.fn();
      if (isThenable(v)) return resolveRest(node, editable, (own ??= {}), ports, i, v);
      (own ??= {})[port] = v;
    }
  }
  return own ?? NO_OWN;
}

/** The own inputs of a node that has none (frozen: records share it). */
const NO_OWN: Record<string, unknown> = Object.freeze({});

async function resolveRest(node: Node, editable: Record<string, unknown>, own: Record<string, unknown>, ports: string[], at: number, pending: PromiseLike<unknown>) {
  own[ports[at]!] = await pending;
  for (let i = at + 1; i < ports.length; i++) {
    const port = ports[i]!;
    const spec = node.inputs[port];
    if (!spec || spec.kind === "component") own[port] = editable[port];
    else if (spec.kind === "fixed") own[port] = spec.value;
    else if (spec.kind === "fn") own[port] = await spec.fn();
  }
  return own;
}

/** Calls a node that has no backups: its own inputs are recorded, then it runs. */
function callPrimary(
  x: Execution,
  editable: Record<string, unknown>,
  wired: Record<string, unknown>,
  call: Call,
  target: { inputs: Record<string, unknown> } = x.record,
): Maybe<Record<string, unknown>> {
  const node = x.node;
  const own = resolveOwn(node, editable);
  if (own instanceof Promise) {
    return own.then((v) => {
      target.inputs = v;
      return invoke(node, merge(v, wired), x, x.env.files, call);
    });
  }
  target.inputs = own;
  return invoke(node, merge(own, wired), x, x.env.files, call);
}

/** The inputs a node is called with: its own, then its wired ones (those alone when it has no own). */
function merge(own: Record<string, unknown>, wired: Record<string, unknown>): Record<string, unknown> {
  for (const _ in own) return { ...own, ...wired };
  return wired;
}

async function callWithBackups(
  x: Execution,
  record: ResultRecord,
  editable: Record<string, unknown>[],
  primaryWired: Record<string, unknown>,
  call: Call,
): Promise<{ outputs: Record<string, unknown>; servedBy?: string }> {
  const primary = x.node;
  const candidates = [primary, ...primary.backups];
  const errors: string[] = [];
  for (const [i, node] of candidates.entries()) {
    const own = await resolveOwn(node, editable[i]!);
    const wired = i === 0 ? primaryWired : resolveWiring(node, x.env.view, { ...record, upstream: {} }, editable[i]!).values;
    if (i === 0) record.inputs = own;
    try {
      const outputs = await invoke(node, { ...own, ...wired }, x, call.files, call);
      return { outputs, servedBy: i === 0 ? undefined : node.id };
    } catch (e) {
      if (x.aborted || i === candidates.length - 1) {
        if (i > 0) throw new DaggrError(ErrorCode.NODE_FAILED, `Node '${primary.id}' and its backups failed: ${[...errors, `${node.id}: ${(e as Error).message}`].join("; ")}`);
        throw e;
      }
      errors.push(`${node.id}: ${(e as Error).message}`);
      call.onProgress({ text: `'${node.id}' failed; trying backup '${candidates[i + 1]!.id}'` });
    }
  }
  throw new Error("unreachable");
}

/**
 * Hides secrets (the HF token) in what a record keeps: its inputs, outputs, error and
 * items, whatever the node kind, before it is stored or sent. Hashes of outputs that
 * changed are recomputed, so they describe what is stored.
 */
function redactRecord(record: ResultRecord): void {
  const secrets = currentSecrets();
  if (!secrets.length) return;
  record.inputs = redactValue(record.inputs, secrets);
  record.error = redactValue(record.error, secrets);
  const outputs = redactValue(record.outputs, secrets);
  if (outputs !== record.outputs) {
    for (const port in outputs) if (outputs[port] !== record.outputs[port]) record.outputHashes[port] = contentHash(outputs[port]);
    record.outputs = outputs;
  }
  if (record.items) record.items = redactValue(record.items, secrets);
}

function toResultError(e: unknown): ResultRecord["error"] {
  if (e instanceof DaggrError) return { code: e.code, message: e.message, ...(hasExtra(e.details) ? { details: e.details } : {}) };
  if (e instanceof Error) return { message: e.message || e.name };
  return { message: String(e) };
}

function hasExtra(d: Record<string, unknown>): boolean {
  return Object.keys(d).length > 0;
}

import { DaggrError, ErrorCode, type Node } from "../graph/index.js";
import type { Progress } from "./events.js";
import { type ExecContext, type FileSink, type MetaCache, executorFor } from "./executor.js";
import type { Semaphore } from "./limits.js";
import { ingestFiles, inputFileIds, mapOutputs } from "./outputs.js";
import { canonical, contentHash, hashText } from "./recipe-key.js";
import { type ItemResult, type ResultRecord, ResultStatus, newId } from "./records.js";
import { SKIPPED_HASH, type SheetView } from "./state.js";
import { type Wiring, resolveWiring } from "./wiring.js";
import type { Store } from "./store.js";

/** Where an execution reports what happens to it (the session implements this). */
export interface ExecHost {
  queued(nodeId: string, runId: string): void;
  started(nodeId: string, runId: string, startedAt: number): void;
  progress(nodeId: string, runId: string, p: Progress): void;
  partial(nodeId: string, runId: string, outputs: Record<string, unknown>): void;
}

export interface ExecuteOptions {
  node: Node;
  view: SheetView;
  runId: string;
  signal: AbortSignal;
  limiter: Semaphore | undefined;
  /** The files store and app cache, made once per session. */
  files: FileSink;
  cache: MetaCache;
  host: ExecHost;
  /** Rerun only this item of a mapped node, keeping the others as selected. */
  onlyItem?: number;
  /** @internal Whether onStarted was reported (once per execution, even with many items). */
  started?: boolean;
}

/** The files store as executors see it. */
export function fileSink(store: Store): FileSink {
  return { dir: store.filesDir, put: (i) => store.putFile(i), lookup: (p) => store.fileForPath(p) };
}

/**
 * Executes one node once and returns its result record (never throws for the node's
 * own failure: a failed or cancelled execution is a record too, so it can be shown and
 * kept in history, but it is never reused as a cache hit). A node routed around by a
 * branch yields a `skipped` record; a node reading lists per item runs once per item.
 */
export async function executeNode(o: ExecuteOptions): Promise<ResultRecord> {
  const { node, view } = o;
  // Keys are kept current by SheetView.refresh; recomputing here would hash twice per node.
  const key = view.key(node.id) ?? view.currentKey(node) ?? "";
  const record: ResultRecord = {
    id: newId("x"), nodeId: node.id, sheetId: view.sheetId, runId: o.runId, key,
    inputs: {}, upstream: {}, outputs: {}, outputHashes: {}, status: ResultStatus.SUCCESS,
    startedAt: Date.now(), ms: 0, files: [],
  };
  const timeout = node.options.timeoutMs;
  const signal = timeout ? AbortSignal.any([o.signal, AbortSignal.timeout(timeout)]) : o.signal;
  const t0 = performance.now();
  const files = o.files;
  try {
    // Input values are read now, before waiting for a slot, so what the key promised is
    // what runs even if the user edits while this waits.
    const editable = [node, ...node.backups].map((n) => view.editableValues(n));
    const wiring = resolveWiring(node, view, record, editable[0]!);
    if (wiring.skipped) return skip(record, node, wiring.skipped);
    if (wiring.lists.length) {
      await runItems(o, record, editable, wiring, signal, files);
    } else {
      const slot = await acquire(o, signal);
      try {
        const { outputs, servedBy } = await callWithBackups(node, view, record, editable, wiring.values, signal, new NodeCall(o, slot));
        await finish(node, record, outputs, files);
        if (servedBy) record.servedBy = servedBy;
      } finally {
        slot.release();
      }
    }
  } catch (e) {
    const cancelled = o.signal.aborted;
    const timedOut = !cancelled && signal.aborted;
    record.status = cancelled ? ResultStatus.CANCELLED : ResultStatus.FAILED;
    record.outputs = {};
    record.outputHashes = {};
    record.error = timedOut
      ? { code: ErrorCode.TIMEOUT, message: `Node '${node.id}' took longer than its timeoutMs (${timeout} ms) and was stopped.` }
      : toResultError(cancelled ? (o.signal.reason ?? e) : e);
  } finally {
    record.ms = Math.round((performance.now() - t0) * 10) / 10;
  }
  return record;
}

/**
 * Waits for a concurrency slot. The slot is held until the executor's own promise
 * settles, even after a cancel, so a limit of N never has more than N executions
 * really running.
 */
async function acquire(o: ExecuteOptions, signal: AbortSignal) {
  if (o.limiter && !o.limiter.free) o.host.queued(o.node.id, o.runId);
  const release = await o.limiter?.acquire(signal);
  let work: Promise<unknown> | undefined;
  if (!o.started) {
    o.started = true;
    o.host.started(o.node.id, o.runId, Date.now());
  }
  return new Slot(release);
}

/** A held concurrency slot, released when the executor's own work settles. */
class Slot {
  private work: Promise<unknown> | undefined;
  constructor(private readonly free: (() => void) | undefined) {}
  track(work: Promise<unknown>): void {
    this.work = work;
  }
  release(): void {
    if (!this.free) return;
    if (this.work) this.work.then(this.free, this.free);
    else this.free();
  }
}

/** The hooks of one call: prototype methods, so the hot path allocates no closures. */
class NodeCall implements CallHooks {
  readonly runId: string;
  readonly cache: MetaCache;
  constructor(
    private readonly o: ExecuteOptions,
    private readonly slot: Slot,
    private readonly quiet = false,
  ) {
    this.runId = o.runId;
    this.cache = o.cache;
  }
  get files(): FileSink {
    return this.o.files;
  }
  onProgress(p: Progress): void {
    this.o.host.progress(this.o.node.id, this.o.runId, p);
  }
  onPartial(outputs: Record<string, unknown>): void {
    if (!this.quiet) this.o.host.partial(this.o.node.id, this.o.runId, outputs);
  }
  track(work: Promise<unknown>): void {
    this.slot.track(work);
  }
}

interface Produced {
  inputs: Record<string, unknown>;
  outputs: Record<string, unknown>;
  outputHashes: Record<string, string>;
  files?: string[];
}

/** Copies produced files into the store, notes the files the result references, hashes outputs. */
async function finish(node: Node, target: Produced, outputs: Record<string, unknown>, files: FileSink): Promise<void> {
  const ingested = await ingestFiles(node, outputs, files);
  target.outputs = ingested.outputs;
  if (target.files) {
    for (const id of [...ingested.fileIds, ...(await inputFileIds(node, target.inputs, files))]) {
      if (!target.files.includes(id)) target.files.push(id);
    }
  }
  for (const [port, v] of Object.entries(target.outputs)) target.outputHashes[port] = contentHash(v);
}

function skip(record: ResultRecord, node: Node, reason: string): ResultRecord {
  record.status = ResultStatus.SKIPPED;
  record.error = { message: `Skipped: ${reason}.` };
  for (const port of Object.keys(node.outputs)) record.outputHashes[port] = SKIPPED_HASH;
  return record;
}

/**
 * Runs a mapped node once per item, in parallel within its concurrency limit. Each item
 * has its own key: an item whose key matches an item of the current selection is reused,
 * so editing one element of a list reruns only that element's chain. `onlyItem` reruns
 * one item alone and keeps the others as selected.
 */
async function runItems(o: ExecuteOptions, record: ResultRecord, editable: Record<string, unknown>[], wiring: Wiring, signal: AbortSignal, files: FileSink): Promise<void> {
  const { node, view } = o;
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
    const keep = o.onlyItem === undefined ? byKey.get(item.key) : o.onlyItem === i ? undefined : previous[i];
    if (keep) return keep;
    const upstreamFailed = wiring.lists.map((l) => l.failed[i]).find(Boolean);
    if (upstreamFailed) {
      return { ...item, status: ResultStatus.FAILED, error: { code: ErrorCode.UPSTREAM_FAILED, message: `failed upstream: ${upstreamFailed.error?.message ?? upstreamFailed.status}` } };
    }
    const t0 = performance.now();
    const slot = await acquire(o, signal);
    try {
      const { outputs } = await callWithBackups(node, view, { ...record, inputs: {} }, editable, { ...wiring.values, ...perItem }, signal, new NodeCall(o, slot, true));
      const produced: Produced = { inputs: perItem, outputs: {}, outputHashes: {}, files: record.files };
      await finish(node, produced, outputs, files);
      return { ...item, outputs: produced.outputs, outputHashes: produced.outputHashes, ms: Math.round(performance.now() - t0) };
    } catch (e) {
      if (signal.aborted) throw e;
      return { ...item, status: ResultStatus.FAILED, error: toResultError(e), ms: Math.round(performance.now() - t0) };
    } finally {
      slot.release();
      o.host.progress(node.id, o.runId, { fraction: ++done / n, text: `${done}/${n} items` });
    }
  };
  const items = await Promise.all(Array.from({ length: n }, (_, i) => one(i)));
  record.inputs = await resolveOwn(node, editable[0]!);
  record.items = items;
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

/** Own inputs: editable values, fixed values, and function inputs realised now (recorded). */
async function resolveOwn(node: Node, editable: Record<string, unknown>): Promise<Record<string, unknown>> {
  const own: Record<string, unknown> = {};
  for (const port of node.activePorts(editable)) {
    const spec = node.inputs[port];
    if (!spec || spec.kind === "component") own[port] = editable[port];
    else if (spec.kind === "fixed") own[port] = spec.value;
    else if (spec.kind === "fn") own[port] = await spec.fn();
  }
  return own;
}

async function callWithBackups(
  primary: Node,
  view: SheetView,
  record: ResultRecord,
  editable: Record<string, unknown>[],
  primaryWired: Record<string, unknown>,
  signal: AbortSignal,
  call: NodeCall,
): Promise<{ outputs: Record<string, unknown>; servedBy?: string }> {
  const candidates = [primary, ...primary.backups];
  const errors: string[] = [];
  for (const [i, node] of candidates.entries()) {
    const own = await resolveOwn(node, editable[i]!);
    const wired = i === 0 ? primaryWired : resolveWiring(node, view, { ...record, upstream: {} }, editable[i]!).values;
    if (i === 0) record.inputs = own;
    try {
      const outputs = await callNode(node, { ...own, ...wired }, signal, call.files, call);
      return { outputs, servedBy: i === 0 ? undefined : node.id };
    } catch (e) {
      if (signal.aborted || i === candidates.length - 1) {
        if (i > 0) throw new DaggrError(ErrorCode.NODE_FAILED, `Node '${primary.id}' and its backups failed: ${[...errors, `${node.id}: ${(e as Error).message}`].join("; ")}`);
        throw e;
      }
      errors.push(`${node.id}: ${(e as Error).message}`);
      call.onProgress({ text: `'${node.id}' failed; trying backup '${candidates[i + 1]!.id}'` });
    }
  }
  throw new Error("unreachable");
}

export interface CallHooks {
  runId: string;
  onProgress(p: Progress): void;
  onPartial(outputs: Record<string, unknown>): void;
  cache?: ExecContext["cache"];
  store?: Store;
  /** Receives the executor's own promise, which may outlive a cancellation. */
  track?(work: Promise<unknown>): void;
}

/** preprocess → executor → postprocess → output mapping; partial results take the same path. */
export async function callNode(
  node: Node,
  inputs: Record<string, unknown>,
  signal: AbortSignal,
  files: FileSink,
  o: CallHooks,
): Promise<Record<string, unknown>> {
  const executor = executorFor(node);
  const { preprocess, postprocess } = node.options;
  const shape = (raw: unknown) => mapOutputs(node, postprocess ? postprocess(raw) : raw, !!executor.positional);
  const ctx: ExecContext = {
    signal,
    nodeId: node.id,
    runId: o.runId,
    files,
    cache: o.cache ?? metaCache(o.store),
    progress: (p) => o.onProgress(p),
    partial: (raw) => {
      try {
        o.onPartial(shape(raw));
      } catch {
        // A partial that cannot be shaped yet is not shown; the final result is checked strictly.
      }
    },
  };
  const args = preprocess ? await preprocess({ ...inputs }) : inputs;
  const work = executor.execute(node, args, ctx);
  o.track?.(work);
  const raw = await abortable(work, signal);
  return shape(raw);
}

export function metaCache(store: Store | undefined): ExecContext["cache"] {
  const mem = new Map<string, unknown>();
  return store
    ? { get: (k) => store.getMeta(k), set: (k, v) => store.setMeta(k, v) }
    : { get: async (k) => mem.get(k) as never, set: async (k, v) => void mem.set(k, v) };
}

/**
 * Settles as soon as the signal aborts, even if the work ignores it (a sync FnNode
 * cannot be interrupted); the work's late result is dropped.
 */
function abortable<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

function toResultError(e: unknown): ResultRecord["error"] {
  if (e instanceof DaggrError) return { code: e.code, message: e.message, ...(hasExtra(e.details) ? { details: e.details } : {}) };
  if (e instanceof Error) return { message: e.message || e.name };
  return { message: String(e) };
}

function hasExtra(d: Record<string, unknown>): boolean {
  return Object.keys(d).length > 0;
}

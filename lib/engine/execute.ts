import { DaggrError, ErrorCode, type Node } from "../graph/index.js";
import type { Progress } from "./events.js";
import { type ExecContext, type FileSink, executorFor } from "./executor.js";
import type { Semaphore } from "./limits.js";
import { ingestFiles, inputFileIds, mapOutputs } from "./outputs.js";
import { contentHash } from "./recipe-key.js";
import { type ResultRecord, ResultStatus, newId } from "./records.js";
import type { SheetView } from "./state.js";
import type { Store } from "./store.js";

export interface ExecuteOptions {
  node: Node;
  view: SheetView;
  store: Store;
  runId: string;
  signal: AbortSignal;
  limiter: Semaphore | undefined;
  onQueued(): void;
  onStarted(startedAt: number): void;
  onProgress(p: Progress): void;
  onPartial(outputs: Record<string, unknown>): void;
}

/** The files store as executors see it. */
export function fileSink(store: Store): FileSink {
  return { dir: store.filesDir, put: (i) => store.putFile(i), lookup: (p) => store.fileForPath(p) };
}

/**
 * Executes one node once and returns its result record (never throws for the node's
 * own failure: a failed or cancelled execution is a record too, so it can be shown and
 * kept in history, but it is never reused as a cache hit).
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
  let release: (() => void) | undefined;
  // The executor's own promise: a slot is held until it settles, even after a cancel,
  // so a limit of N never has more than N executions really running.
  let work: Promise<unknown> | undefined;
  const t0 = performance.now();
  try {
    // Upstream values are read before waiting for a slot, so what the key promised is what runs.
    const wired = resolveWired(node, view, record);
    if (o.limiter && !o.limiter.free) o.onQueued();
    release = await o.limiter?.acquire(signal);
    record.startedAt = Date.now();
    o.onStarted(record.startedAt);
    const files = fileSink(o.store);
    const { outputs, servedBy } = await callWithBackups(node, view, record, wired, signal, files, { ...o, track: (w) => (work = w) });
    const ingested = await ingestFiles(node, outputs, files);
    record.outputs = ingested.outputs;
    record.files = [...new Set([...ingested.fileIds, ...(await inputFileIds(node, record.inputs, files))])];
    for (const [port, v] of Object.entries(record.outputs)) record.outputHashes[port] = contentHash(v);
    if (servedBy) record.servedBy = servedBy;
  } catch (e) {
    const cancelled = o.signal.aborted;
    const timedOut = !cancelled && signal.aborted;
    record.status = cancelled ? ResultStatus.CANCELLED : ResultStatus.FAILED;
    record.outputs = {};
    record.error = timedOut
      ? { code: ErrorCode.TIMEOUT, message: `Node '${node.id}' took longer than its timeoutMs (${timeout} ms) and was stopped.` }
      : toResultError(cancelled ? (o.signal.reason ?? e) : e);
  } finally {
    if (release) {
      if (work) work.then(release, release);
      else release();
    }
    record.ms = Math.round((performance.now() - t0) * 10) / 10;
  }
  return record;
}

/** Values of wired inputs, from the selected upstream results; records provenance. */
function resolveWired(node: Node, view: SheetView, record: ResultRecord): Record<string, unknown> {
  const wired: Record<string, unknown> = {};
  for (const [port, spec] of Object.entries(node.inputs)) {
    if (spec.kind !== "port") continue;
    const up = view.selected.get(spec.from.node.id);
    if (!up) throw new DaggrError(ErrorCode.UPSTREAM_MISSING, `Node '${node.id}' reads '${spec.from.port}' from '${spec.from.node.id}', which has no result yet.`);
    wired[port] = up.outputs[spec.from.port];
    record.upstream[port] = up.id;
  }
  return wired;
}

/** Own inputs: editable values, fixed values, and function inputs realised now (recorded). */
async function resolveOwn(node: Node, view: SheetView): Promise<Record<string, unknown>> {
  const own: Record<string, unknown> = {};
  for (const port of node.editablePorts()) own[port] = view.inputValue(node, port);
  for (const [port, spec] of Object.entries(node.inputs)) {
    if (spec.kind === "fixed") own[port] = spec.value;
    else if (spec.kind === "fn") own[port] = await spec.fn();
  }
  return own;
}

async function callWithBackups(
  primary: Node,
  view: SheetView,
  record: ResultRecord,
  primaryWired: Record<string, unknown>,
  signal: AbortSignal,
  files: FileSink,
  o: ExecuteOptions & { store: Store; track(work: Promise<unknown>): void },
): Promise<{ outputs: Record<string, unknown>; servedBy?: string }> {
  const candidates = [primary, ...primary.backups];
  const errors: string[] = [];
  for (const [i, node] of candidates.entries()) {
    const own = await resolveOwn(node, view);
    const wired = i === 0 ? primaryWired : resolveWired(node, view, { ...record, upstream: {} });
    if (i === 0) record.inputs = own;
    try {
      const outputs = await callNode(node, { ...own, ...wired }, signal, files, o);
      return { outputs, servedBy: i === 0 ? undefined : node.id };
    } catch (e) {
      if (signal.aborted || i === candidates.length - 1) {
        if (i > 0) throw new DaggrError(ErrorCode.NODE_FAILED, `Node '${primary.id}' and its backups failed: ${[...errors, `${node.id}: ${(e as Error).message}`].join("; ")}`);
        throw e;
      }
      errors.push(`${node.id}: ${(e as Error).message}`);
      o.onProgress({ text: `'${node.id}' failed; trying backup '${candidates[i + 1]!.id}'` });
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

import { DaggrError, ErrorCode, type Graph, type Node } from "../graph/index.js";
import { NodeAbort, RunAbort } from "./abort.js";
import type { Progress } from "./events.js";
import { type ExecEnv, type ExecHost, type Execution, type RecordSink, executeNode, fileSink, metaCache } from "./execute.js";
import { Kept } from "./kept.js";
import { keyedObject } from "./keyed.js";
import { type Maybe, isKnown, knownValue } from "./known.js";
import { limits } from "./limits.js";
import { type ResultError, type ResultRecord, type RunMode, type RunRecord, RunMode as Modes, RunStatus, ResultStatus, newId } from "./records.js";
import { LATER, runPlan, type Outcome, type Outcomes } from "./scheduler.js";
import { Activity, type NodeState, type SheetView } from "./state.js";
import type { Store } from "./store.js";
import type { Writes } from "./writes.js";

/** How each node of a run was handled, for callers and tests. */
export type NodeOutcome = "ran" | "cached" | "reused" | "skipped" | "failed" | "cancelled" | "blocked" | "edited";

export interface RunSummary {
  runId: string;
  status: RunStatus;
  nodes: Record<string, NodeOutcome>;
}

export interface RunOptions {
  /** `step`: this node alone; `to-here`: stale ancestors then this node; `all`: every stale node of its subgraph. */
  mode?: RunMode;
  /** With `step` on a mapped (MAP) node: rerun only this item (0-based), keep the others. */
  item?: number;
}

export interface RunHandle {
  id: string;
  mode: RunMode;
  abort: RunAbort;
  done: Promise<RunSummary>;
  roots: string[];
  item?: number;
  /** The node a `step` or `to-here` run is for: it always executes anew. */
  target?: string;
  summary: RunSummary;
  /** Whether a node of the run failed (the run then failed). */
  failed: boolean;
  /** The run's record as last written (runs the user started are recorded; autoruns are not). */
  record?: RunRecord;
  /** The nodes it started so far, and whether a write of them is queued. */
  started?: string[];
  startsQueued?: boolean;
  /** Settles once the run's first record is on disk (at once for an autorun). */
  recorded?: Promise<unknown>;
  /** The plan's outcomes, once a node of it waits (where its record's outcome is settled). */
  outcomes?: Outcomes;
  /** An edited result (one item of a list, `session.editItem`) committed and selected before the plan runs. */
  edit?: ResultRecord;
}

/** A node executing now: its cancellation (what cancelNode aborts), and what another run visiting it waits for. */
class Active extends NodeAbort {
  private waiters: Array<() => void> | undefined = undefined;
  constructor(
    readonly runId: string,
    run: RunAbort,
    /** The node's position in the graph. */
    readonly at: number,
  ) {
    super(run);
  }

  /** Resolves once the execution has ended. */
  done(): Promise<void> {
    return new Promise((resolve) => (this.waiters ??= []).push(resolve));
  }

  end(): void {
    this.dispose();
    if (this.waiters) for (const w of this.waiters) w();
  }
}

/**
 * The runs of one session: it plans each run, drives its nodes through the scheduler,
 * decides per node (reuse, cache hit, execute, block), commits results and reports what
 * executions do as engine events. The session is its facade.
 */
export class Runner implements ExecHost, RecordSink {
  readonly runs = new Map<string, RunHandle>();
  /**
   * The execution in progress per node position, and how many there are. A table the
   * graph's size, not a map by id: a thousand executions in flight grew and shrank a map
   * (and reallocated its table) every run.
   */
  private readonly activeAt: Array<Active | undefined>;
  private activeCount = 0;
  /** What every execution shares: the view, the files store, the app cache, this runner as host. */
  readonly env: ExecEnv;
  private readonly sheetId: string;

  constructor(
    private readonly graph: Graph,
    private readonly store: Store,
    private readonly view: SheetView,
    private readonly writes: Writes,
  ) {
    this.sheetId = view.sheetId;
    this.activeAt = new Array<Active | undefined>(graph.nodes.length).fill(undefined);
    this.env = { view, files: fileSink(store), cache: metaCache(store), host: this, kept: new Kept() };
  }

  private persist<T>(write: () => Promise<T>): Promise<T> {
    return this.writes.persist(write);
  }

  // ── ExecHost: what executions report ──────────────────────────────────────

  /** @internal */
  queued(nodeId: string, runId: string): void {
    this.view.active(nodeId, Activity.QUEUED, runId);
    if (this.view.watched) this.view.emit({ type: "node-queued", sheetId: this.sheetId, runId, nodeId });
  }

  /** @internal */
  started(nodeId: string, runId: string, startedAt: number): void {
    // The run record lists the nodes it started, so recovery can mark them interrupted.
    // One write per batch of starts, not per node: a record rewritten (and its list copied)
    // at every start was quadratic in the run's size.
    const run = this.runs.get(runId);
    if (run?.record) {
      (run.started ??= []).push(nodeId);
      if (!run.startsQueued) {
        run.startsQueued = true;
        this.persist(() => {
          run.startsQueued = false;
          const record = (run.record = { ...run.record!, started: [...run.started!] });
          return this.store.putRun(record);
        });
      }
    }
    this.view.active(nodeId, Activity.RUNNING, runId, startedAt);
    if (this.view.watched) this.view.emit({ type: "node-started", sheetId: this.sheetId, runId, nodeId, startedAt });
  }

  /** @internal */
  progress(nodeId: string, runId: string, progress: Progress): void {
    this.view.patchState(nodeId, { progress });
    this.view.emit({ type: "node-progress", sheetId: this.sheetId, runId, nodeId, progress });
  }

  /** @internal */
  partial(nodeId: string, runId: string, outputs: Record<string, unknown>): void {
    this.view.patchState(nodeId, { partial: outputs });
    this.view.emit({ type: "node-partial", sheetId: this.sheetId, runId, nodeId, outputs });
  }

  // ── cancelling ─────────────────────────────────────────────────────────────

  /** Cancels a run (its executing nodes are aborted, remote jobs included). */
  cancel(runId: string): boolean {
    const run = this.runs.get(runId);
    run?.abort.abort(new DaggrError(ErrorCode.CANCELLED, "Cancelled by the user."));
    return !!run;
  }

  /** Cancels the node's execution in progress, whichever run it belongs to. */
  cancelNode(nodeId: string): boolean {
    const at = this.graph.order(nodeId);
    const a = at < 0 ? undefined : this.activeAt[at];
    a?.abort(new DaggrError(ErrorCode.CANCELLED, "Cancelled by the user."));
    return !!a;
  }

  // ── running ────────────────────────────────────────────────────────────────

  startRun(mode: RunMode, roots: string[], item?: number, edit?: ResultRecord): RunHandle {
    const id = newId("r");
    const target = mode === Modes.STEP || mode === Modes.TO_HERE ? roots[0] : undefined;
    const summary: RunSummary = { runId: id, status: RunStatus.DONE, nodes: keyedObject() };
    const handle: RunHandle = { id, mode, abort: new RunAbort(), roots, item, target, summary, failed: false, edit, done: undefined as unknown as Promise<RunSummary> };
    this.runs.set(id, handle);
    handle.done = this.execRun(handle).finally(() => this.runs.delete(id));
    return handle;
  }

  private plan(mode: RunMode, roots: string[]): string[] {
    const g = this.graph;
    switch (mode) {
      case Modes.STEP:
        return roots;
      case Modes.TO_HERE:
        return g.ancestors(roots, true);
      case Modes.ALL:
        return roots.length ? g.subgraph(roots[0]!).nodes : g.nodes.map((n) => n.id);
      default:
        return g.descendants(roots, true);
    }
  }

  private async execRun(run: RunHandle): Promise<RunSummary> {
    const plan = this.plan(run.mode, run.roots);
    const target = run.target;
    const startedAt = Date.now();
    const summary = run.summary;
    if (run.mode !== Modes.AUTO) {
      const record = (run.record = { id: run.id, sheetId: this.sheetId, mode: run.mode, target, nodes: plan, status: RunStatus.RUNNING, startedAt });
      run.recorded = this.persist(() => this.store.putRun(record));
    }
    if (this.view.watched) this.view.emit({ type: "run-started", sheetId: this.sheetId, runId: run.id, mode: run.mode, target, nodes: plan });
    // run-started is emitted inside run() (the server takes the run id from it); node events
    // come after run() has returned, so a caller may subscribe to them once it started a run.
    await Promise.resolve();
    if (run.edit) {
      // The edited list is a result of its node like any other: stored, selected, reported.
      const edit = { ...run.edit, runId: run.id };
      const active = new Active(run.id, run.abort, this.graph.order(edit.nodeId));
      this.track(active);
      if ((await this.commit(run, edit, active)) === "ok") summary.nodes[edit.nodeId] = "edited";
    }
    if (!run.failed) this.env.kept.plan = await runPlan(this.graph, plan, (at, outcomes) => this.visit(run, at, outcomes));
    summary.status = run.abort.aborted
      ? RunStatus.CANCELLED
      : run.failed || (target && summary.nodes[target] !== "ran")
        ? RunStatus.FAILED
        : RunStatus.DONE;
    // run-finished is an acknowledgement: it leaves once the run's record (and every
    // write queued before it: selections, inputs) is on disk. If that write fails, the
    // run is reported failed, as it will read after a restart.
    const final = run.record && { ...run.record, ...(run.started ? { started: [...run.started] } : {}), status: summary.status, finishedAt: Date.now() };
    const saved = final ? this.persist(() => this.store.putRun(final)) : this.writes.idle;
    await saved.catch(() => {
      if (summary.status === RunStatus.DONE) summary.status = RunStatus.FAILED;
    });
    this.view.emit({ type: "run-finished", sheetId: this.sheetId, runId: run.id, status: summary.status });
    return summary;
  }

  /**
   * Decides what one node of a run does: reuse, restore a cached result, execute, or stop.
   * Every step that has its answer at once (an in-memory store, a sync function) is taken
   * in the same tick; the outcome is a promise only when something really waits.
   */
  private visit(run: RunHandle, at: number, outcomes: Outcomes): Maybe<Outcome | typeof LATER> {
    if (run.abort.aborted) return "cancelled";
    // A node already executing in another run is awaited, then judged afresh.
    const busy = this.activeCount ? this.activeAt[at] : undefined;
    if (busy && busy.runId !== run.id) return busy.done().then(() => this.judge(run, at, outcomes));
    return this.judge(run, at, outcomes);
  }

  /** Judges the node at position `at` of the graph: its parents are read by position too. */
  private judge(run: RunHandle, at: number, outcomes: Outcomes): Maybe<Outcome | typeof LATER> {
    if (run.abort.aborted) return "cancelled";
    const { nodes, parentOff, parentAt } = this.graph;
    const node = nodes[at]!;
    const id = node.id;
    const from = parentOff[at]!;
    const to = parentOff[at + 1]!;
    for (let k = from; k < to; k++) {
      const o = outcomes.outcomeAt(parentAt[k]!);
      if (o !== undefined && o !== "ok") return this.blocked(run, id, `'${nodes[parentAt[k]!]!.id}' ${o === "blocked" ? "did not run" : o}`);
    }
    if (id === run.target) {
      for (let k = from; k < to; k++) {
        const missing = nodes[parentAt[k]!]!.id;
        if (this.view.selected.has(missing)) continue;
        const err = new DaggrError(ErrorCode.UPSTREAM_MISSING, `Node '${id}' reads from '${missing}', which has no result yet. Run '${id}' with mode 'to-here' to run '${missing}' first.`);
        return this.fail(run, node, err);
      }
      return this.execute(run, node, at, outcomes);
    }
    for (let k = from; k < to; k++) {
      if (this.view.freshnessAt(parentAt[k]!) !== "fresh") return this.blocked(run, id, `'${nodes[parentAt[k]!]!.id}' is not up to date`);
    }
    if (this.view.freshnessAt(at) === "fresh") {
      if (run.mode !== Modes.AUTO) run.summary.nodes[id] = "reused";
      return "ok";
    }
    const key = this.view.keyAt(at);
    if (key === undefined) return this.cachedOrExecute(run, node, at, outcomes, undefined);
    const found = this.view.legacyScheme ? findByRecipe(this.store, this.view, node, key) : this.store.findByKey(this.sheetId, id, key);
    if (isKnown(found)) return this.cachedOrExecute(run, node, at, outcomes, knownValue(found));
    // The key may change while the store looks (an edit): a hit for the old key is no hit.
    return found.then((hit) => this.cachedOrExecute(run, node, at, outcomes, hit && this.view.keyAt(at) === key ? hit : undefined));
  }

  /** Selects a stored result with the node's current key (a cache hit), else executes the node. */
  private cachedOrExecute(run: RunHandle, node: Node, at: number, outcomes: Outcomes, hit: ResultRecord | undefined): Maybe<Outcome | typeof LATER> {
    const id = node.id;
    if (hit) {
      this.selectResult(hit);
      if (this.view.watched) this.view.emit({ type: "node-cached", sheetId: this.sheetId, runId: run.id, nodeId: id, result: hit });
      run.summary.nodes[id] = "cached";
      return "ok";
    }
    if (run.mode === Modes.AUTO && !this.graph.autorunOf(node)) return "blocked";
    return this.execute(run, node, at, outcomes);
  }

  private blocked(run: RunHandle, id: string, reason: string): Outcome {
    if (run.mode !== Modes.AUTO) {
      if (this.view.watched) this.view.emit({ type: "node-blocked", sheetId: this.sheetId, runId: run.id, nodeId: id, reason });
      run.summary.nodes[id] = "blocked";
    }
    return "blocked";
  }

  /**
   * Executes the node. One that ends in this tick returns its outcome; one that waits
   * returns `LATER` and settles its outcome in the plan from the reaction that commits
   * its record (no promise of the outcome to chain).
   */
  private execute(run: RunHandle, node: Node, at: number, outcomes: Outcomes): Maybe<Outcome | typeof LATER> {
    const id = node.id;
    const active = (this.env.kept.active = new Active(run.id, run.abort, at));
    let record: ResultRecord | typeof LATER;
    try {
      record = executeNode(this.env, node, at, run.id, active, limits.for(node), run.roots[0] === id ? run.item : undefined, this);
    } catch (e) {
      this.ended(active);
      throw e;
    }
    if (record === LATER) {
      // Only an execution that waits is registered as in progress (for cancelNode, and for
      // another run visiting the node): one that finished in this tick was never observable
      // as running, and a map entry made and deleted per node cost more than the node.
      // Its record lands in `recorded`, its outcome in the plan's outcomes.
      run.outcomes = outcomes;
      this.track(active);
      return LATER;
    }
    return this.commit(run, record, active);
  }

  /** @internal The record of an execution that waited: committed, then its outcome settled in the plan. */
  recorded(x: Execution, record: ResultRecord): void {
    const run = this.runs.get(x.runId)!;
    const outcomes = run.outcomes!;
    const active = x.abort as Active;
    const at = active.at;
    let outcome: Maybe<Outcome>;
    try {
      outcome = this.commit(run, record, active);
    } catch {
      return outcomes.settle(at, "failed");
    }
    if (typeof outcome === "string") outcomes.settle(at, outcome);
    else
      outcome.then(
        (o) => outcomes.settle(at, o),
        () => outcomes.settle(at, "failed"),
      );
  }

  /** @internal An execution that waited broke without a record: it failed, with nothing to store. */
  broke(x: Execution): void {
    const active = x.abort as Active;
    this.ended(active);
    this.runs.get(x.runId)!.outcomes!.settle(active.at, "failed");
  }

  /** Stores an execution's record, then selects it (when it succeeded) and reports it. */
  private commit(run: RunHandle, record: ResultRecord, active: Active): Maybe<Outcome> {
    const ok = record.status === ResultStatus.SUCCESS || record.status === ResultStatus.SKIPPED;
    let stored: Promise<void>;
    try {
      stored = this.store.commitResult(record, ok ? SELECT : KEEP);
    } catch (e) {
      this.ended(active);
      throw e;
    }
    if (isKnown(stored)) return this.committed(run, record, active);
    // Waiting for the store: the node counts as in progress until its result is committed.
    if (this.activeAt[active.at] !== active) this.track(active);
    return stored.then(
      () => this.committed(run, record, active),
      (e) => this.unsaved(run, record, active, e),
    );
  }

  /**
   * The store refused a node's result (disk full, I/O error): the node fails with that
   * error, shown like any failure, so it never stays "running"; nothing is selected.
   */
  private unsaved(run: RunHandle, record: ResultRecord, active: Active, e: unknown): Outcome {
    const id = record.nodeId;
    try {
      const error: ResultError = { code: (e as DaggrError)?.code ?? ErrorCode.NODE_FAILED, message: (e as Error)?.message ?? String(e) };
      const failed: ResultRecord = { ...record, status: ResultStatus.FAILED, error };
      this.view.patchState(id, { activity: Activity.FAILED, error, progress: undefined, partial: undefined });
      this.view.emit({ type: "node-failed", sheetId: this.sheetId, runId: run.id, nodeId: id, result: failed, error });
      this.failed(run, id);
      return "failed";
    } finally {
      this.ended(active);
    }
  }

  private committed(run: RunHandle, record: ResultRecord, active: Active): Outcome {
    const id = record.nodeId;
    try {
      const skipped = record.status === ResultStatus.SKIPPED;
      const count = this.view.count(id) + 1;
      const watched = this.view.watched;
      if (skipped || record.status === ResultStatus.SUCCESS) {
        this.view.finished(id, skipped ? Activity.SKIPPED : Activity.IDLE, count, skipped ? undefined : record.error, itemStates(record));
        this.selectResult(record, false);
        if (watched) {
          this.view.emit(
            skipped
              ? { type: "node-skipped", sheetId: this.sheetId, runId: run.id, nodeId: id, result: record, reason: record.error!.message }
              : { type: "node-completed", sheetId: this.sheetId, runId: run.id, nodeId: id, result: record },
          );
        }
        run.summary.nodes[id] = skipped ? "skipped" : "ran";
        return "ok";
      }
      const cancelled = record.status === ResultStatus.CANCELLED;
      this.view.patchState(id, { activity: cancelled ? Activity.CANCELLED : Activity.FAILED, count, error: record.error, progress: undefined });
      if (watched) {
        this.view.emit(
          cancelled
            ? { type: "node-cancelled", sheetId: this.sheetId, runId: run.id, nodeId: id, result: record }
            : { type: "node-failed", sheetId: this.sheetId, runId: run.id, nodeId: id, result: record, error: record.error! },
        );
      }
      if (cancelled) run.summary.nodes[id] = "cancelled";
      else this.failed(run, id);
      return cancelled ? "cancelled" : "failed";
    } finally {
      this.ended(active);
    }
  }

  private failed(run: RunHandle, id: string): void {
    run.summary.nodes[id] = "failed";
    run.failed = true;
  }

  /** Registers an execution as the node's in progress. */
  private track(active: Active): void {
    if (this.activeAt[active.at] === undefined) this.activeCount++;
    this.activeAt[active.at] = active;
  }

  private ended(active: Active): void {
    if (this.activeAt[active.at] === active) {
      this.activeAt[active.at] = undefined;
      this.activeCount--;
    }
    active.end();
  }

  private async fail(run: RunHandle, node: Node, err: DaggrError): Promise<Outcome> {
    const now = Date.now();
    const record: ResultRecord = {
      id: newId("x"), nodeId: node.id, sheetId: this.sheetId, runId: run.id, key: this.view.key(node.id) ?? "",
      inputs: {}, upstream: {}, outputs: {}, outputHashes: {}, status: ResultStatus.FAILED,
      error: { code: err.code, message: err.message }, startedAt: now, ms: 0, files: [],
    };
    await this.store.commitResult(record, { select: false });
    this.view.patchState(node.id, { activity: Activity.FAILED, error: record.error, count: this.view.count(node.id) + 1 });
    this.view.emit({ type: "node-failed", sheetId: this.sheetId, runId: run.id, nodeId: node.id, result: record, error: record.error! });
    this.failed(run, node.id);
    return "failed";
  }

  selectResult(record: ResultRecord, persist = true): void {
    if (persist) this.view.patchState(record.nodeId, { activity: record.status === ResultStatus.SKIPPED ? Activity.SKIPPED : Activity.IDLE, items: itemStates(record) });
    this.view.select(record);
    this.view.reselected(record.nodeId);
    if (persist) this.persist(() => this.store.setSelections(this.sheetId, { [record.nodeId]: record.id }));
  }
}

const SELECT = Object.freeze({ select: true });
const KEEP = Object.freeze({ select: false });

export function itemStates(record: ResultRecord): NodeState["items"] {
  return record.items?.map((i) => ({ status: i.status, ms: i.ms, ...(i.error ? { error: i.error } : {}) }));
}

/**
 * The newest successful result of the node stored under `key`, or, in a sheet whose store
 * holds results of older recipe key schemes, under the keys its recipe had then (those
 * results stay findable; they are not re-keyed, since their fingerprints were never stored).
 */
export async function findByRecipe(store: Store, view: SheetView, node: Node, key: string): Promise<ResultRecord | undefined> {
  const hit = await store.findByKey(view.sheetId, node.id, key);
  if (hit || !view.legacyScheme) return hit;
  for (const older of view.olderKeys(node, key)) {
    const found = await store.findByKey(view.sheetId, node.id, older);
    if (found) return found;
  }
  return undefined;
}

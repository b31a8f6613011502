import { type Observable, distinctUntilChanged } from "rxjs";
import {
  DaggrError, ErrorCode, type Graph, type Node, InPort, OutPort, inputId, unknownName,
} from "../graph/index.js";
import type { EngineEvent } from "./events.js";
import { NodeAbort, RunAbort } from "./abort.js";
import { type ExecEnv, type ExecHost, executeNode, fileSink, metaCache } from "./execute.js";
import { type Maybe, isKnown, knownValue } from "./known.js";
import type { Progress } from "./events.js";
import { limits } from "./limits.js";
import { validateGraph } from "./validate.js";
import { type ResultError, type ResultRecord, type RunMode, type RunRecord, RunMode as Modes, RunStatus, ResultStatus, newId } from "./records.js";
import { runPlan, type Outcome, type Outcomes } from "./scheduler.js";
import { Activity, type NodeState, SheetView } from "./state.js";
import type { HistoryPage, SheetInfo, Store } from "./store.js";

/** How each node of a run was handled, for callers and tests. */
export type NodeOutcome = "ran" | "cached" | "reused" | "skipped" | "failed" | "cancelled" | "blocked";

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

interface RunHandle {
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
  /** Settles once the run's first record is on disk (at once for an autorun). */
  recorded?: Promise<unknown>;
}

/** A node executing now: its cancellation (what cancelNode aborts), and what another run visiting it waits for. */
class Active extends NodeAbort {
  private waiters: Array<() => void> | undefined = undefined;
  constructor(
    readonly runId: string,
    run: RunAbort,
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

export interface SessionInit {
  graph: Graph;
  store: Store;
  sheet: SheetInfo;
  view: SheetView;
  debounceMs: number;
  /** Whether edits trigger automatic recomputes (off for one-shot `graph.call`). */
  autorun: boolean;
  onClose?: () => void;
}

/**
 * A live session on one sheet: observe values and node states, edit inputs, run nodes,
 * restore old results. Everything that happens is emitted on `events`.
 *
 * @example
 * const s = await graph.session();
 * s.value(upper.out.upper).subscribe((v) => console.log(v));
 * s.set(upper.in.text, "hello");          // autorun FnNodes recompute
 * await s.run(gen, { mode: "to-here" });   // remote nodes run when asked
 */
export class Session implements ExecHost {
  readonly graph: Graph;
  readonly store: Store;
  readonly sheetId: string;
  /** Every engine event of this sheet. */
  readonly events: Observable<EngineEvent>;
  private readonly view: SheetView;
  private readonly debounceMs: number;
  private readonly autorun: boolean;
  private readonly runs = new Map<string, RunHandle>();
  /** The execution in progress per node (entries are cleared, not deleted: a node runs again soon). */
  private readonly active = new Map<string, Active | undefined>();
  private readonly pendingEdits = new Set<string>();
  private autorunTimer: ReturnType<typeof setTimeout> | undefined;
  /** Resolves when the pending debounce fires and its run has started (what `settled` waits on). */
  private autorunFired: { promise: Promise<void>; resolve: () => void } | undefined;
  private autorunRun: RunHandle | undefined;
  private writes: Promise<unknown> = Promise.resolve();
  private refs = 1;
  private closed = false;
  private readonly onClose?: () => void;
  /** What every execution shares: the view, the files store, the app cache, this session as host. */
  private readonly env: ExecEnv;
  sheet: SheetInfo;

  constructor(init: SessionInit) {
    this.graph = init.graph;
    this.store = init.store;
    this.sheet = init.sheet;
    this.sheetId = init.sheet.id;
    this.view = init.view;
    this.debounceMs = init.debounceMs;
    this.autorun = init.autorun;
    this.events = this.view.events.asObservable();
    this.onClose = init.onClose;
    this.env = { view: this.view, files: fileSink(this.store), cache: metaCache(this.store), host: this };
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
    const run = this.runs.get(runId);
    if (run?.record) {
      const record = (run.record = { ...run.record, started: [...(run.record.started ?? []), nodeId] });
      this.persist(() => this.store.putRun(record));
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

  // ── reading ────────────────────────────────────────────────────────────────

  /**
   * The selected value of an output port (or the value of an editable input), as an
   * Observable that emits the current value, then each change. Values change only when
   * a node completes or a result is selected, so subscribers never see a half-updated graph.
   */
  value<T>(port: OutPort<T> | InPort<T>): Observable<T> {
    this.checkPort(port);
    if (port instanceof InPort) {
      return this.view.value$(port.node.id, "in", port.port, () => this.view.inputValue(port.node, port.port)).pipe(distinctUntilChanged<unknown>()) as Observable<T>;
    }
    return this.view
      .value$(port.node.id, "out", port.port, () => this.view.selected.get(port.node.id)?.outputs[port.port])
      .pipe(distinctUntilChanged<unknown>()) as Observable<T>;
  }

  /** The current value of a port, synchronously. */
  get<T>(port: OutPort<T> | InPort<T>): T {
    this.checkPort(port);
    if (port instanceof InPort) return this.view.inputValue(port.node, port.port) as T;
    return this.view.selected.get(port.node.id)?.outputs[port.port] as T;
  }

  /** A node's state (freshness, activity, selection, progress, error) as an Observable. */
  state(node: Node | string): Observable<NodeState> {
    return this.view.state$(this.nodeOf(node).id).asObservable();
  }

  /** A node's state now. */
  nodeState(node: Node | string): NodeState {
    return this.view.state(this.nodeOf(node).id);
  }

  /** The selected result of a node, if it has one. */
  selected(node: Node | string): ResultRecord | undefined {
    return this.view.selected.get(this.nodeOf(node).id);
  }

  /** Whether an edge's downstream consumed its upstream's selected result. */
  edgeFresh(edgeId: string): boolean {
    return this.view.edgeIsFresh(edgeId);
  }

  /** The recipe key a node would run with now. */
  currentKey(node: Node | string): string | undefined {
    return this.view.key(this.nodeOf(node).id);
  }

  /** A page of a node's history, newest first. */
  history(node: Node | string, page?: { before?: string; limit?: number }): Promise<HistoryPage> {
    return this.store.listResults(this.sheetId, this.nodeOf(node).id, page);
  }

  /** @internal Freshness evaluations and edge checks made so far: what refreshes cost, counted. */
  get work(): number {
    return this.view.work;
  }

  /** The revision of each input edited so far, by `node__port` (absent: 0). */
  inputRevisions(): Record<string, number> {
    return Object.fromEntries(this.view.inputRevs);
  }

  /** Every editable input value by `node__port` (defaults included). */
  inputValues(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const n of this.graph.nodes) for (const p of n.editablePorts()) out[inputId(n.id, p)] = this.view.inputValue(n, p);
    return out;
  }

  // ── editing ────────────────────────────────────────────────────────────────

  /**
   * Edits an input (`node.in.port`, or its id `node__port`). Everything downstream turns
   * stale at once; autorun nodes recompute after a short debounce, and a newer edit
   * cancels the older recompute.
   */
  set(target: InPort | string, value: unknown, origin?: string): void {
    this.setMany({ [typeof target === "string" ? target : inputId(target.node.id, target.port)]: value }, origin);
  }

  /** Edits several inputs at once (one recompute). */
  setMany(values: Record<string, unknown>, origin?: string): void {
    void this.apply(values, origin);
  }

  /**
   * Edits an input like `set()`, and resolves with the input's new revision once the
   * edit is on disk: what a server acknowledges. `expect` is the revision the editor
   * saw (from the snapshot, an `input-changed` or its last edit): if the input has moved
   * on since, the edit is refused with `E_INPUT_CONFLICT`, whose details carry the
   * current `value` and `rev`, and nothing changes. A failed write rejects (`E_STORAGE`).
   *
   * @example
   * const rev = await s.edit(upper.in.text, "a cat");            // on disk now
   * await s.edit(upper.in.text, "a dog", { expect: rev - 1 });    // E_INPUT_CONFLICT
   */
  async edit(target: InPort | string, value: unknown, options: { origin?: string; expect?: number } = {}): Promise<number> {
    const id = typeof target === "string" ? target : inputId(target.node.id, target.port);
    const { node, port } = this.resolveInput(id);
    const rev = this.view.inputRev(id);
    if (options.expect !== undefined && options.expect !== rev) {
      throw new DaggrError(
        ErrorCode.INPUT_CONFLICT,
        `Input '${port}' of node '${node.id}' was changed elsewhere (another tab?) since this edit's revision ${options.expect}; it is at revision ${rev} now. The edit was not applied: the current value is in details.value.`,
        { got: String(options.expect), nodeId: node.id, port, rev, value: this.view.inputValue(node, port) },
      );
    }
    await this.apply({ [id]: value }, options.origin);
    return this.view.inputRev(id);
  }

  /** Applies edits to the view now; the promise settles when they are on disk. */
  private apply(values: Record<string, unknown>, origin?: string): Promise<unknown> {
    this.assertOpen();
    const touched = new Set<string>();
    const resolved = Object.entries(values).map(([id, v]) => ({ ...this.resolveInput(id), id, v }));
    for (const { node, port, id, v } of resolved) {
      this.view.setInput(node, port, v);
      touched.add(node.id);
      this.view.emit({ type: "input-changed", sheetId: this.sheetId, nodeId: node.id, port, value: v, origin, rev: this.view.inputRev(id) });
    }
    const saved = this.persist(() => this.store.setInputs(this.sheetId, Object.fromEntries(resolved.map((r) => [r.id, r.v]))));
    this.view.refresh(touched);
    if (this.autorun) {
      for (const id of touched) this.pendingEdits.add(id);
      this.scheduleAutorun();
    }
    return saved;
  }

  private scheduleAutorun(): void {
    clearTimeout(this.autorunTimer);
    this.autorunFired ??= deferred();
    this.autorunTimer = setTimeout(() => {
      this.autorunTimer = undefined;
      const fired = this.autorunFired;
      this.autorunFired = undefined;
      const roots = new Set(this.pendingEdits);
      this.pendingEdits.clear();
      const older = this.autorunRun;
      if (older) {
        for (const r of older.roots) roots.add(r);
        older.abort.abort(new DaggrError(ErrorCode.CANCELLED, "Superseded by a newer edit."));
      }
      this.autorunRun = this.startRun(Modes.AUTO, [...roots]);
      const mine = this.autorunRun;
      void mine.done.then(() => {
        if (this.autorunRun === mine) this.autorunRun = undefined;
      });
      fired?.resolve();
    }, this.debounceMs);
  }

  // ── running ────────────────────────────────────────────────────────────────

  /**
   * Runs a node. `step` executes it alone on the selected upstream values; `to-here`
   * (the default) first brings every stale ancestor up to date (reusing stored results
   * whose key matches) and then executes the node; `all` brings every stale node of the
   * node's subgraph up to date (or of the whole graph when no node is given). An
   * explicit run always executes the target anew and selects the new result.
   */
  run(node?: Node | string, options: RunOptions = {}): Promise<RunSummary> {
    return this.start(node, options).done;
  }

  /**
   * Starts a run like `run()`, returning its id at once (to cancel it, or to match its
   * events) with the summary to come.
   */
  start(node?: Node | string, options: RunOptions = {}): { runId: string; done: Promise<RunSummary>; recorded: Promise<void> } {
    this.assertOpen();
    const mode = options.mode ?? (node ? Modes.TO_HERE : Modes.ALL);
    if (!Object.values(Modes).includes(mode) || mode === Modes.AUTO) {
      throw unknownName(ErrorCode.BAD_OPTION, "run mode", String(mode), [Modes.STEP, Modes.TO_HERE, Modes.ALL]);
    }
    const target = node === undefined ? undefined : this.nodeOf(node).id;
    if (mode !== Modes.ALL && !target) throw new DaggrError(ErrorCode.BAD_OPTION, `Run mode '${mode}' needs a node.`);
    const handle = this.startRun(mode, target ? [target] : [], options.item);
    // `recorded`: the run's record is on disk (what a server waits for before acknowledging the run).
    return { runId: handle.id, done: handle.done, recorded: (handle.recorded ?? Promise.resolve()).then(() => undefined) };
  }

  /**
   * Computes every autorun node that has no result yet (and what it feeds), as an edit
   * would: how a freshly opened canvas shows its cheap local results without a click.
   * Remote nodes (autorun off) are never run by this.
   */
  autorunEmpty(): void {
    this.assertOpen();
    const roots = this.graph.nodes.filter((n) => this.graph.autorunOf(n) && !this.view.selected.has(n.id)).map((n) => n.id);
    if (!roots.length || !this.autorun) return;
    for (const id of roots) this.pendingEdits.add(id);
    this.scheduleAutorun();
  }

  /** Cancels a run (its executing nodes are aborted, remote jobs included). */
  cancel(runId: string): boolean {
    const run = this.runs.get(runId);
    run?.abort.abort(new DaggrError(ErrorCode.CANCELLED, "Cancelled by the user."));
    return !!run;
  }

  /** Cancels the node's execution in progress, whichever run it belongs to. */
  cancelNode(node: Node | string): boolean {
    const a = this.active.get(this.nodeOf(node).id);
    a?.abort(new DaggrError(ErrorCode.CANCELLED, "Cancelled by the user."));
    return !!a;
  }

  /**
   * Resolves once no edit is waiting for its debounce and no run is in progress: it waits
   * on the debounce firing and on the runs' own completion, never on a timer of its own.
   */
  async settled(): Promise<void> {
    for (;;) {
      if (this.autorunFired) await this.autorunFired.promise;
      else if (this.runs.size) await Promise.all([...this.runs.values()].map((r) => r.done));
      else break;
    }
    await this.writes;
  }

  private startRun(mode: RunMode, roots: string[], item?: number): RunHandle {
    const id = newId("r");
    const target = mode === Modes.STEP || mode === Modes.TO_HERE ? roots[0] : undefined;
    const summary: RunSummary = { runId: id, status: RunStatus.DONE, nodes: {} };
    const handle: RunHandle = { id, mode, abort: new RunAbort(), roots, item, target, summary, failed: false, done: undefined as unknown as Promise<RunSummary> };
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
    await runPlan(this.graph, plan, (id, outcomes) => this.visit(run, id, outcomes));
    summary.status = run.abort.aborted
      ? RunStatus.CANCELLED
      : run.failed || (target && summary.nodes[target] !== "ran")
        ? RunStatus.FAILED
        : RunStatus.DONE;
    // run-finished is an acknowledgement: it leaves once the run's record (and every
    // write queued before it: selections, inputs) is on disk. If that write fails, the
    // run is reported failed, as it will read after a restart.
    const final = run.record && { ...run.record, status: summary.status, finishedAt: Date.now() };
    const saved = final ? this.persist(() => this.store.putRun(final)) : this.writes;
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
  private visit(run: RunHandle, id: string, outcomes: Outcomes): Maybe<Outcome> {
    if (run.abort.aborted) return "cancelled";
    // A node already executing in another run is awaited, then judged afresh.
    const busy = this.active.get(id);
    if (busy && busy.runId !== run.id) return busy.done().then(() => this.judge(run, id, outcomes));
    return this.judge(run, id, outcomes);
  }

  private judge(run: RunHandle, id: string, outcomes: Outcomes): Maybe<Outcome> {
    if (run.abort.aborted) return "cancelled";
    const node = this.graph.node(id);
    const parents = this.graph.parents(id);
    for (const p of parents) {
      const o = outcomes.outcome(p);
      if (o !== undefined && o !== "ok") return this.blocked(run, id, `'${p}' ${o === "blocked" ? "did not run" : o}`);
    }
    if (id === run.target) {
      const missing = parents.find((p) => !this.view.selected.has(p));
      if (missing) {
        const err = new DaggrError(ErrorCode.UPSTREAM_MISSING, `Node '${id}' reads from '${missing}', which has no result yet. Run '${id}' with mode 'to-here' to run '${missing}' first.`);
        return this.fail(run, node, err);
      }
      return this.execute(run, node);
    }
    for (const p of parents) if (this.view.freshnessOf(p) !== "fresh") return this.blocked(run, id, `'${p}' is not up to date`);
    if (this.view.freshnessOf(id) === "fresh") {
      if (run.mode !== Modes.AUTO) run.summary.nodes[id] = "reused";
      return "ok";
    }
    const key = this.view.key(id);
    if (key === undefined) return this.cachedOrExecute(run, node, undefined);
    const found = this.store.findByKey(this.sheetId, id, key);
    if (isKnown(found)) return this.cachedOrExecute(run, node, knownValue(found));
    // The key may change while the store looks (an edit): a hit for the old key is no hit.
    return found.then((hit) => this.cachedOrExecute(run, node, hit && this.view.key(id) === key ? hit : undefined));
  }

  /** Selects a stored result with the node's current key (a cache hit), else executes the node. */
  private cachedOrExecute(run: RunHandle, node: Node, hit: ResultRecord | undefined): Maybe<Outcome> {
    const id = node.id;
    if (hit) {
      this.selectResult(hit);
      if (this.view.watched) this.view.emit({ type: "node-cached", sheetId: this.sheetId, runId: run.id, nodeId: id, result: hit });
      run.summary.nodes[id] = "cached";
      return "ok";
    }
    if (run.mode === Modes.AUTO && !this.graph.autorunOf(node)) return "blocked";
    return this.execute(run, node);
  }

  private blocked(run: RunHandle, id: string, reason: string): Outcome {
    if (run.mode !== Modes.AUTO) {
      if (this.view.watched) this.view.emit({ type: "node-blocked", sheetId: this.sheetId, runId: run.id, nodeId: id, reason });
      run.summary.nodes[id] = "blocked";
    }
    return "blocked";
  }

  private execute(run: RunHandle, node: Node): Maybe<Outcome> {
    const id = node.id;
    const active = new Active(run.id, run.abort);
    this.active.set(id, active);
    let record: Maybe<ResultRecord>;
    try {
      record = executeNode(this.env, node, run.id, active, limits.for(node), run.roots[0] === id ? run.item : undefined);
    } catch (e) {
      this.ended(id, active);
      throw e;
    }
    if (record instanceof Promise) {
      return record.then(
        (r) => this.commit(run, r, active),
        (e) => {
          this.ended(id, active);
          throw e;
        },
      );
    }
    return this.commit(run, record, active);
  }

  /** Stores an execution's record, then selects it (when it succeeded) and reports it. */
  private commit(run: RunHandle, record: ResultRecord, active: Active): Maybe<Outcome> {
    const ok = record.status === ResultStatus.SUCCESS || record.status === ResultStatus.SKIPPED;
    let stored: Promise<void>;
    try {
      stored = this.store.commitResult(record, { select: ok });
    } catch (e) {
      this.ended(record.nodeId, active);
      throw e;
    }
    if (isKnown(stored)) return this.committed(run, record, active);
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
      this.ended(id, active);
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
      this.ended(id, active);
    }
  }

  private failed(run: RunHandle, id: string): void {
    run.summary.nodes[id] = "failed";
    run.failed = true;
  }

  private ended(id: string, active: Active): void {
    if (this.active.get(id) === active) this.active.set(id, undefined);
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

  private selectResult(record: ResultRecord, persist = true): void {
    if (persist) this.view.patchState(record.nodeId, { activity: record.status === ResultStatus.SKIPPED ? Activity.SKIPPED : Activity.IDLE, items: itemStates(record) });
    this.view.select(record);
    this.view.reselected(record.nodeId);
    if (persist) this.persist(() => this.store.setSelections(this.sheetId, { [record.nodeId]: record.id }));
  }

  // ── history ────────────────────────────────────────────────────────────────

  /**
   * Selects an older result of a node and restores what made it: that result's own
   * inputs go back into the sheet, and the upstream results it consumed are selected.
   * The restore is one consistent choice, computed before anything is written
   * ({@link provenanceOf}): a result the selected node consumed directly wins over one
   * reached through a longer path. Every other node downstream then selects its newest
   * result whose key matches its new current key, if there is one; otherwise it shows
   * stale.
   */
  async select(node: Node | string, resultId: string): Promise<void> {
    this.assertOpen();
    const nodeId = this.nodeOf(node).id;
    const first = await this.store.getResult(this.sheetId, resultId);
    if (!first || first.nodeId !== nodeId) {
      throw new DaggrError(ErrorCode.UNKNOWN_RESULT, `Node '${nodeId}' has no result '${resultId}' in this sheet.`, { got: resultId });
    }
    if (first.status !== ResultStatus.SUCCESS) {
      if (first.status !== ResultStatus.SKIPPED) {
        throw new DaggrError(ErrorCode.UNKNOWN_RESULT, `Result '${resultId}' of node '${nodeId}' ${first.status}; only successful results can be selected.`, { got: resultId });
      }
    }
    // 1. Choose, then write: the inputs and selections of every node on the provenance chain.
    const restored = await this.provenanceOf(first);
    const inputs: Record<string, unknown> = {};
    for (const r of restored.values()) {
      const n = this.graph.node(r.nodeId);
      for (const port of n.editablePorts()) {
        if (port in r.inputs) {
          inputs[inputId(n.id, port)] = r.inputs[port];
          this.view.setInput(n, port, r.inputs[port]);
        }
      }
    }
    const selections: Record<string, string | null> = {};
    for (const r of restored.values()) {
      this.view.select(r);
      this.view.patchState(r.nodeId, { activity: r.status === ResultStatus.SKIPPED ? Activity.SKIPPED : Activity.IDLE, items: itemStates(r), error: r.status === ResultStatus.SKIPPED ? undefined : r.error });
      selections[r.nodeId] = r.id;
    }
    for (const [id, value] of Object.entries(inputs)) {
      const { node: n, port } = this.resolveInput(id);
      this.view.emit({ type: "input-changed", sheetId: this.sheetId, nodeId: n.id, port, value, origin: "restore" });
    }
    this.view.refresh(restored.keys(), restored.keys());
    // 2. Cascade: every other downstream node picks its newest result matching its new key.
    for (const id of this.graph.descendants(restored.keys())) {
      if (restored.has(id)) continue;
      const key = this.view.key(id);
      const sel = this.view.selected.get(id);
      if (key === undefined || sel?.key === key) continue;
      const match = await this.store.findByKey(this.sheetId, id, key);
      if (match) {
        this.view.select(match);
        this.view.reselected(id);
        selections[id] = match.id;
      }
    }
    // Resolves once the restore is on disk (the server acknowledges it then); rejects if it could not be saved.
    await this.persist(async () => {
      if (Object.keys(inputs).length) await this.store.setInputs(this.sheetId, inputs);
      await this.store.setSelections(this.sheetId, selections);
    });
  }

  /**
   * The results a restore selects, by node: a breadth-first walk of the `upstream` links
   * from `first`, where each node is chosen once, by the consumer nearest to `first`. At
   * equal distance the newer result wins. Only a chosen result's own links are followed,
   * so every chosen result is consistent with the ones that consumed it.
   */
  private async provenanceOf(first: ResultRecord): Promise<Map<string, ResultRecord>> {
    const chosen = new Map<string, ResultRecord>([[first.nodeId, first]]);
    let level = [first];
    while (level.length) {
      const ids = new Set<string>();
      for (const r of level) for (const upId of Object.values(r.upstream)) ids.add(upId);
      const found = await Promise.all([...ids].map((id) => this.store.getResult(this.sheetId, id)));
      const next = new Map<string, ResultRecord>();
      for (const up of found) {
        if (!up || chosen.has(up.nodeId) || !this.graph.has(up.nodeId)) continue;
        const rival = next.get(up.nodeId);
        if (!rival || newer(up, rival)) next.set(up.nodeId, up);
      }
      for (const r of next.values()) chosen.set(r.nodeId, r);
      level = [...next.values()];
    }
    return chosen;
  }

  /**
   * Runs the nodes' start-up checks (shared by every session of the graph) and shows each
   * problem on its node as an error. Resolves with the problems by node id.
   */
  async validate(): Promise<Record<string, ResultError>> {
    const problems = await validateGraph(this.graph, this.env.cache);
    for (const [nodeId, error] of problems) {
      if (this.closed) break;
      this.view.patchState(nodeId, { error });
      this.view.emit({ type: "node-invalid", sheetId: this.sheetId, nodeId, error });
    }
    return Object.fromEntries(problems);
  }

  // ── lifecycle ──────────────────────────────────────────────────────────────

  /** @internal Another handle on the same sheet. */
  retain(): this {
    this.refs++;
    return this;
  }

  /** Releases this handle; the last one cancels pending runs and frees the session. */
  async close(): Promise<void> {
    if (--this.refs > 0 || this.closed) return;
    this.closed = true;
    // Forget the session first, so an open() while this one winds down gets a new one.
    this.onClose?.();
    clearTimeout(this.autorunTimer);
    this.autorunTimer = undefined;
    this.autorunFired?.resolve();
    this.autorunFired = undefined;
    for (const r of this.runs.values()) r.abort.abort(new DaggrError(ErrorCode.CANCELLED, "Session closed."));
    await Promise.all([...this.runs.values()].map((r) => r.done));
    await this.writes;
    this.view.complete();
  }

  // ── helpers ────────────────────────────────────────────────────────────────

  /**
   * Serialises store writes of edits, selections and run records so they land in order.
   * Returns the write's own outcome (for an acknowledgement); a failure is also reported
   * to every watcher, so a write nobody awaits is never silently lost.
   */
  private persist<T>(write: () => Promise<T>): Promise<T> {
    const done = this.writes.then(write);
    this.writes = done.catch((e) => {
      this.view.emit({ type: "node-progress", sheetId: this.sheetId, runId: "", nodeId: "", progress: { text: `Could not save: ${(e as Error).message}` } });
    });
    return done;
  }

  private assertOpen(): void {
    if (this.closed) throw new DaggrError(ErrorCode.BAD_OPTION, "This session is closed.");
  }

  private nodeOf(node: Node | string): Node {
    if (typeof node === "string") return this.graph.node(node);
    if (!this.graph.has(node.id) || this.graph.node(node.id) !== node) {
      throw unknownName(ErrorCode.UNKNOWN_NODE, "node", node.id, this.graph.nodes.map((n) => n.id), "It is not part of this graph.");
    }
    return node;
  }

  private checkPort(port: OutPort | InPort): void {
    if (!(port instanceof OutPort) && !(port instanceof InPort)) {
      throw new DaggrError(ErrorCode.UNKNOWN_PORT, `Expected a port reference such as node.out.image or node.in.prompt, got ${typeof port}.`);
    }
    this.nodeOf(port.node);
  }

  /** Parses `node__port` (or the node and port of an InPort) into an editable input, with did-you-mean errors. */
  private resolveInput(id: string): { node: Node; port: string } {
    const sep = id.lastIndexOf("__");
    const nodeId = sep > 0 ? id.slice(0, sep) : "";
    const port = sep > 0 ? id.slice(sep + 2) : "";
    if (!this.graph.has(nodeId) || !this.graph.node(nodeId).editablePorts().includes(port)) {
      throw unknownName(ErrorCode.UNKNOWN_INPUT_ID, "input", id, this.graph.inputIds(), "Inputs are named node__port.");
    }
    return { node: this.graph.node(nodeId), port };
  }
}

function itemStates(record: ResultRecord): NodeState["items"] {
  return record.items?.map((i) => ({ status: i.status, ms: i.ms, ...(i.error ? { error: i.error } : {}) }));
}

/** Whether `a` was made after `b` (ids break ties: they grow with time). */
function newer(a: ResultRecord, b: ResultRecord): boolean {
  return a.startedAt !== b.startedAt ? a.startedAt > b.startedAt : a.id > b.id;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

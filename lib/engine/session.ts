import { type Observable, distinctUntilChanged } from "rxjs";
import {
  DaggrError, ErrorCode, type Graph, type Node, InPort, OutPort, inputId, unknownName,
} from "../graph/index.js";
import type { EngineEvent } from "./events.js";
import { validateGraph } from "./validate.js";
import { planItemEdit } from "./edit-item.js";
import { type ResultError, type ResultRecord, RunMode as Modes, RunStatus } from "./records.js";
import { restore } from "./restore.js";
import { type RunHandle, type RunOptions, type RunSummary, Runner } from "./runner.js";
import type { NodeState, SheetView } from "./state.js";
import type { HistoryPage, SheetInfo, Store } from "./store.js";
import { Writes } from "./writes.js";

export type { NodeOutcome, RunOptions, RunSummary } from "./runner.js";

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
export class Session {
  readonly graph: Graph;
  readonly store: Store;
  readonly sheetId: string;
  /** Every engine event of this sheet. */
  readonly events: Observable<EngineEvent>;
  private readonly view: SheetView;
  private readonly debounceMs: number;
  private readonly autorun: boolean;
  /** The runs: planning, per-node decisions, executions, commits (runner.ts). */
  private readonly runner: Runner;
  /** Store writes of edits, selections and run records, in order (writes.ts). */
  private readonly writes: Writes;
  private readonly pendingEdits = new Set<string>();
  private autorunTimer: ReturnType<typeof setTimeout> | undefined;
  /** Resolves when the pending debounce fires and its run has started (what `settled` waits on). */
  private autorunFired: { promise: Promise<void>; resolve: () => void } | undefined;
  private autorunRun: RunHandle | undefined;
  private refs = 1;
  private closed = false;
  private readonly onClose?: () => void;
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
    this.writes = new Writes((e) => {
      this.view.emit({ type: "node-progress", sheetId: this.sheetId, runId: "", nodeId: "", progress: { text: `Could not save: ${(e as Error).message}` } });
    });
    this.runner = new Runner(this.graph, this.store, this.view, this.writes);
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

  /** @internal Freshness evaluations, edge checks and reads hashed into keys so far: what refreshes cost, counted. */
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
      this.autorunRun = this.runner.startRun(Modes.AUTO, [...roots]);
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
    const handle = this.runner.startRun(mode, target ? [target] : [], options.item);
    // `recorded`: the run's record is on disk (what a server waits for before acknowledging the run).
    return { runId: handle.id, done: handle.done, recorded: (handle.recorded ?? Promise.resolve()).then(() => undefined) };
  }

  /**
   * Edits one item of the list a MAP node maps over (its first `.each` input) and reruns
   * that item alone: the other items keep their results, as their keys are unchanged.
   * With `.each("field")` the value replaces that field of the item. A list held by an
   * `InputNode` is edited as its input; a list another node produced gets a new result
   * of that node (`edited` names the result it copies; ‹ › goes back to it). Once the item
   * has run, autorun nodes downstream recompute, so a chained per-item node reruns that
   * item too and a gather (`.all()`) gathers again.
   *
   * @example
   * await s.editItem(voice, 1, { speaker: "Guest", line: "Thanks a lot" }).done;
   */
  editItem(node: Node | string, index: number, value: unknown): { runId: string; done: Promise<RunSummary>; recorded: Promise<void> } {
    this.assertOpen();
    const map = this.nodeOf(node);
    const plan = planItemEdit(map, this.view, index, value);
    let saved: Promise<unknown> = Promise.resolve();
    if (plan.kind === "input") {
      // Without the autorun it schedules: this run brings the input's node up to date itself.
      const { node: source, port } = this.resolveInput(plan.inputId);
      this.view.setInput(source, port, plan.list);
      this.view.emit({ type: "input-changed", sheetId: this.sheetId, nodeId: source.id, port, value: plan.list, rev: this.view.inputRev(plan.inputId) });
      saved = this.persist(() => this.store.setInputs(this.sheetId, { [plan.inputId]: plan.list }));
      this.view.refresh(new Set([source.id]));
    }
    // An edited input's node runs first (to-here); an edited result is run on as it is (step).
    const handle = plan.kind === "input" ? this.runner.startRun(Modes.TO_HERE, [map.id], index) : this.runner.startRun(Modes.STEP, [map.id], index, plan.record);
    const done = handle.done.then((summary) => {
      if (summary.status === RunStatus.DONE && this.autorun && !this.closed) {
        this.pendingEdits.add(map.id);
        this.scheduleAutorun();
      }
      return summary;
    });
    return { runId: handle.id, done, recorded: Promise.all([saved, handle.recorded ?? Promise.resolve()]).then(() => undefined) };
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
    return this.runner.cancel(runId);
  }

  /** Cancels the node's execution in progress, whichever run it belongs to. */
  cancelNode(node: Node | string): boolean {
    return this.runner.cancelNode(this.nodeOf(node).id);
  }

  /**
   * Resolves once no edit is waiting for its debounce and no run is in progress: it waits
   * on the debounce firing and on the runs' own completion, never on a timer of its own.
   */
  async settled(): Promise<void> {
    for (;;) {
      if (this.autorunFired) await this.autorunFired.promise;
      else if (this.runner.runs.size) await Promise.all([...this.runner.runs.values()].map((r) => r.done));
      else break;
    }
    await this.writes.idle;
  }

  // ── history ────────────────────────────────────────────────────────────────

  /**
   * Selects an older result of a node and restores what made it: that result's own
   * inputs go back into the sheet, and the upstream results it consumed are selected.
   * The restore is one consistent choice, computed before anything is written
   * (`provenanceOf` in restore.ts): a result the selected node consumed directly wins over one
   * reached through a longer path. Every other node downstream then selects its newest
   * result whose key matches its new current key, if there is one; otherwise it shows
   * stale.
   */
  async select(node: Node | string, resultId: string): Promise<void> {
    this.assertOpen();
    await restore(this.graph, this.store, this.view, this.writes, this.nodeOf(node).id, resultId);
  }

  /**
   * Runs the nodes' start-up checks (shared by every session of the graph) and shows each
   * problem on its node as an error. Resolves with the problems by node id.
   */
  async validate(): Promise<Record<string, ResultError>> {
    const problems = await validateGraph(this.graph, this.runner.env.cache);
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
    const runs = [...this.runner.runs.values()];
    for (const r of runs) r.abort.abort(new DaggrError(ErrorCode.CANCELLED, "Session closed."));
    await Promise.all(runs.map((r) => r.done));
    await this.writes.idle;
    this.view.complete();
  }

  // ── helpers ────────────────────────────────────────────────────────────────

  private persist<T>(write: () => Promise<T>): Promise<T> {
    return this.writes.persist(write);
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

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

import type {
  ConflictDetails, EdgeWire, EventWire, GraphWire, NodeStateWire, NodeWire, ResultWire, SheetWire, SnapshotMessage,
} from "../wire.js";

/** What changed, so each view re-renders only its part. */
export type Topic =
  | { kind: "graph" }
  | { kind: "sheets" }
  | { kind: "node"; id: string }
  | { kind: "edges"; ids: string[] };

type Listener = (t: Topic) => void;

/** A note shown on a card for a short while (e.g. why a node of a run did not run). */
export interface Notice {
  text: string;
  at: number;
}

/**
 * The canvas's copy of one sheet: graph, input values, node states, selected results,
 * edge freshness and the sheet list, kept current from the snapshot and the event
 * stream. It emits fine-grained topics: an event about one node notifies that node's
 * card and the edges touching it, nothing else.
 */
export class CanvasStore {
  graph: GraphWire | undefined;
  /** A signature of the graph's shape: the layout is recomputed only when it changes. */
  shape = "";
  user = "";
  sheet: SheetWire | undefined;
  sheets: SheetWire[] = [];
  readonly nodes = new Map<string, NodeWire>();
  readonly states = new Map<string, NodeStateWire>();
  readonly results = new Map<string, ResultWire>();
  readonly inputs = new Map<string, unknown>();
  /** The revision of each input (`node__port`) this canvas last saw; an edit names it (`rev`). */
  readonly inputRevs = new Map<string, number>();
  /** When an edit of an input (`node__port`) was last refused as stale: a card drops its draft of it. */
  readonly conflicts = new Map<string, number>();
  readonly edgeFresh = new Map<string, boolean>();
  readonly notices = new Map<string, Notice>();
  /** Nodes a run still plans to visit, by run id (they show as waiting). */
  readonly runs = new Map<string, Set<string>>();
  /** Each planned run's mode and target. */
  private readonly runInfo = new Map<string, { mode: string; target?: string }>();
  readonly edgeById = new Map<string, EdgeWire>();
  readonly edgesInto = new Map<string, EdgeWire[]>();
  readonly edgesOutOf = new Map<string, EdgeWire[]>();
  /** MAP nodes: they scatter a list (`port.each`) or read a MAP node's outputs plainly. */
  readonly mapped = new Set<string>();
  /** The item of a MAP node being rerun alone (`run` with `item`), until its result comes. */
  readonly rerunning = new Map<string, number>();
  /** Items of a MAP node whose result changed with its last new result (others were kept). */
  readonly changedItems = new Map<string, Set<number>>();
  private readonly parents = new Map<string, string[]>();
  private readonly listeners = new Set<Listener>();

  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private emit(t: Topic): void {
    for (const fn of this.listeners) fn(t);
  }

  private touch(id: string): void {
    this.emit({ kind: "node", id });
  }

  // ── reading ────────────────────────────────────────────────────────────────

  node(id: string): NodeWire | undefined {
    return this.nodes.get(id);
  }

  state(id: string): NodeStateWire {
    return this.states.get(id) ?? { nodeId: id, freshness: "empty", activity: "idle", selectedId: null, count: 0 };
  }

  input(nodeId: string, port: string): unknown {
    return this.inputs.get(`${nodeId}__${port}`);
  }

  /** The revision of an input this canvas last saw (0: never written). */
  inputRev(nodeId: string, port: string): number {
    return this.inputRevs.get(`${nodeId}__${port}`) ?? 0;
  }

  /**
   * The revision an edit started from `base` names, counting the edit itself when it is
   * current: a second edit sent before the first one's echo names the first's revision,
   * not a stale one. A base another tab has moved past stays stale (a conflict).
   */
  claimRev(nodeId: string, port: string, base = this.inputRev(nodeId, port)): number {
    if (base === this.inputRev(nodeId, port)) this.inputRevs.set(`${nodeId}__${port}`, base + 1);
    return base;
  }

  /**
   * An edit refused because another tab changed the input first (`E_INPUT_CONFLICT`):
   * the input takes the current value and the card says why for a moment.
   */
  applyConflict(d: ConflictDetails): void {
    const key = `${d.nodeId}__${d.port}`;
    this.inputs.set(key, d.value);
    this.inputRevs.set(key, d.rev);
    this.conflicts.set(key, Date.now());
    this.notices.set(d.nodeId, { text: `'${d.port}' was changed in another tab: showing its current value.`, at: Date.now() });
    this.touch(d.nodeId);
  }

  /** The run a node belongs to right now: executing, queued, or still planned. */
  runOf(id: string): string | undefined {
    const s = this.states.get(id);
    if (s?.runId && (s.activity === "running" || s.activity === "queued")) return s.runId;
    for (const [runId, nodes] of this.runs) if (nodes.has(id)) return runId;
    return undefined;
  }

  /**
   * Whether a run still plans to execute the node: it is in a run's plan and would really
   * run there: the run's target, or not fresh (a fresh node is reused, and shows as it
   * is until an upstream change makes it stale), and not a node an automatic run leaves
   * alone (autorun off).
   */
  waiting(id: string): boolean {
    for (const [runId, nodes] of this.runs) {
      if (!nodes.has(id)) continue;
      const run = this.runInfo.get(runId);
      if (run?.target === id) return true;
      if (run?.mode === "auto" && this.nodes.get(id)?.autorun === false) continue;
      if (this.state(id).freshness !== "fresh") return true;
    }
    return false;
  }

  ancestors(id: string): string[] {
    const seen = new Set<string>([id]);
    const stack = [id];
    while (stack.length) {
      for (const p of this.parents.get(stack.pop()!) ?? []) {
        if (!seen.has(p)) {
          seen.add(p);
          stack.push(p);
        }
      }
    }
    return [...seen];
  }

  /** A MAP node's items: its selected result's (with outputs), else its state's. */
  items(id: string): ItemView[] | undefined {
    return this.results.get(id)?.items ?? this.states.get(id)?.items;
  }

  /** Whether the node runs per item (a MAP node), known from the graph or from its items. */
  isMapped(id: string): boolean {
    return this.mapped.has(id) || !!this.items(id)?.length;
  }

  /** The selected variant of a choice node (its `variant` input, else the first variant). */
  variantOf(id: string): string | undefined {
    const n = this.nodes.get(id);
    if (n?.kind !== "choice") return undefined;
    const v = this.input(id, VARIANT_PORT) ?? n.inputs.find((i) => i.port === VARIANT_PORT)?.component?.props.value;
    return typeof v === "string" ? v : undefined;
  }

  /** Rerunning one item of a MAP node: shown on that item until the node's result comes. */
  markItemRun(id: string, item: number): void {
    this.rerunning.set(id, item);
    this.touch(id);
  }

  subgraphOf(id: string): string[] {
    return this.graph?.subgraphs.find((s) => s.nodes.includes(id))?.nodes ?? [id];
  }

  // ── applying the server's messages ─────────────────────────────────────────

  applySnapshot(s: SnapshotMessage): void {
    const shape = graphShape(s.graph);
    const graphChanged = shape !== this.shape;
    this.graph = s.graph;
    this.shape = shape;
    this.user = s.user;
    this.sheet = s.sheet;
    this.sheets = s.sheets;
    this.nodes.clear();
    this.edgeById.clear();
    this.edgesInto.clear();
    this.edgesOutOf.clear();
    this.parents.clear();
    for (const n of s.graph.nodes) this.nodes.set(n.id, n);
    for (const e of s.graph.edges) {
      this.edgeById.set(e.id, e);
      push(this.edgesInto, e.to.node, e);
      push(this.edgesOutOf, e.from.node, e);
      const ps = this.parents.get(e.to.node) ?? [];
      if (!ps.includes(e.from.node)) ps.push(e.from.node);
      this.parents.set(e.to.node, ps);
    }
    this.mapped.clear();
    for (const id of mappedNodes(s.graph)) this.mapped.add(id);
    this.rerunning.clear();
    this.changedItems.clear();
    this.states.clear();
    for (const [id, st] of Object.entries(s.nodes)) {
      this.states.set(id, { ...st, count: s.counts[id] ?? st.count });
    }
    this.results.clear();
    for (const [id, r] of Object.entries(s.results)) this.results.set(id, r);
    this.inputs.clear();
    for (const [k, v] of Object.entries(s.inputs)) this.inputs.set(k, v);
    this.inputRevs.clear();
    for (const [k, r] of Object.entries(s.inputRevs ?? {})) this.inputRevs.set(k, r);
    this.edgeFresh.clear();
    for (const [k, v] of Object.entries(s.edges)) this.edgeFresh.set(k, v);
    this.notices.clear();
    this.runs.clear();
    this.runInfo.clear();
    this.emit({ kind: "sheets" });
    if (graphChanged) {
      this.emit({ kind: "graph" });
    } else {
      for (const id of this.nodes.keys()) this.touch(id);
      this.emit({ kind: "edges", ids: s.graph.edges.map((e) => e.id) });
    }
  }

  /**
   * More selected results of the last snapshot (a big sheet's arrive in pages, before
   * any later event): each node's card updates.
   */
  applyResultsPage(results: Record<string, ResultWire>): void {
    for (const [id, r] of Object.entries(results)) {
      if (!this.nodes.has(id)) continue;
      this.results.set(id, r);
      this.touch(id);
    }
  }

  /**
   * A new sheet list (created, renamed, deleted). The sheet this canvas shows changes
   * only with a snapshot, never here: a list can overtake the snapshot of a switch.
   */
  applySheets(sheets: SheetWire[]): void {
    this.sheets = sheets;
    const mine = this.sheet && sheets.find((s) => s.id === this.sheet!.id);
    if (mine) this.sheet = { ...mine, viewport: this.sheet!.viewport ?? mine.viewport };
    this.emit({ kind: "sheets" });
  }

  applyEvent(ev: EventWire): void {
    switch (ev.type) {
      case "run-started": {
        this.runs.set(ev.runId, new Set(ev.nodes));
        this.runInfo.set(ev.runId, { mode: ev.mode, ...(ev.target ? { target: ev.target } : {}) });
        for (const id of ev.nodes) this.touch(id);
        return;
      }
      case "run-finished": {
        const nodes = this.runs.get(ev.runId);
        this.runs.delete(ev.runId);
        this.runInfo.delete(ev.runId);
        for (const id of nodes ?? []) this.touch(id);
        return;
      }
      case "node-queued":
        return this.patch(ev.nodeId, { activity: "queued", runId: ev.runId, error: undefined, progress: undefined, partial: undefined });
      case "node-started":
        this.notices.delete(ev.nodeId);
        this.patch(ev.nodeId, { activity: "running", runId: ev.runId, startedAt: ev.startedAt, error: undefined, progress: undefined, partial: undefined }, false);
        return this.touchWithEdges(ev.nodeId);
      case "node-progress":
        if (!ev.nodeId) return; // a store warning, not about a node
        return this.patch(ev.nodeId, { progress: ev.progress });
      case "node-partial":
        return this.patch(ev.nodeId, { partial: ev.outputs });
      case "node-cached":
        this.done(ev.runId, ev.nodeId);
        this.notices.delete(ev.nodeId);
        this.setResult(ev.nodeId, ev.result);
        this.patch(ev.nodeId, { activity: "idle", selectedId: ev.result.id, lastMs: ev.result.ms, progress: undefined, partial: undefined, error: undefined }, false);
        return this.touchWithEdges(ev.nodeId);
      case "node-completed":
        this.done(ev.runId, ev.nodeId);
        this.notices.delete(ev.nodeId);
        this.setResult(ev.nodeId, ev.result);
        this.patch(ev.nodeId, { activity: "idle", selectedId: ev.result.id, count: this.state(ev.nodeId).count + 1, lastMs: ev.result.ms, progress: undefined, partial: undefined, error: undefined }, false);
        return this.touchWithEdges(ev.nodeId);
      case "node-failed":
        this.done(ev.runId, ev.nodeId);
        this.rerunning.delete(ev.nodeId);
        this.patch(ev.nodeId, { activity: "failed", count: this.state(ev.nodeId).count + 1, lastMs: ev.result.ms, error: ev.error, progress: undefined, partial: undefined }, false);
        return this.touchWithEdges(ev.nodeId);
      case "node-cancelled":
        this.done(ev.runId, ev.nodeId);
        this.rerunning.delete(ev.nodeId);
        this.patch(ev.nodeId, { activity: "cancelled", count: this.state(ev.nodeId).count + 1, lastMs: ev.result.ms, progress: undefined, partial: undefined }, false);
        return this.touchWithEdges(ev.nodeId);
      case "node-skipped":
        // Selected like a result: the card dims and shows why (the result's error message).
        this.done(ev.runId, ev.nodeId);
        this.notices.delete(ev.nodeId);
        this.setResult(ev.nodeId, ev.result);
        this.patch(ev.nodeId, { activity: "skipped", selectedId: ev.result.id, count: this.state(ev.nodeId).count + 1, progress: undefined, partial: undefined, error: undefined }, false);
        return this.touchWithEdges(ev.nodeId);
      case "node-invalid":
        // A start-up check failed: shown as the node's error until it runs successfully.
        return this.patch(ev.nodeId, { error: ev.error });
      case "node-blocked":
        this.done(ev.runId, ev.nodeId);
        this.notices.set(ev.nodeId, { text: `Did not run: ${ev.reason}`, at: Date.now() });
        return this.touch(ev.nodeId);
      case "input-changed":
        this.inputs.set(`${ev.nodeId}__${ev.port}`, ev.value);
        if (ev.rev !== undefined) this.inputRevs.set(`${ev.nodeId}__${ev.port}`, Math.max(ev.rev, this.inputRevs.get(`${ev.nodeId}__${ev.port}`) ?? 0));
        // Another variant of a choice: the edges into its ports change emphasis.
        if (ev.port === VARIANT_PORT && this.nodes.get(ev.nodeId)?.kind === "choice") return this.touchWithEdges(ev.nodeId);
        return this.touch(ev.nodeId);
      case "selection-changed": {
        // The server sends a completion's result once: with node-completed / node-cached,
        // then the selection without it. A selection of null clears the node.
        if (ev.result) this.setResult(ev.nodeId, ev.result);
        else if (ev.resultId === null) this.results.delete(ev.nodeId);
        const r = this.results.get(ev.nodeId);
        return this.patch(ev.nodeId, { selectedId: ev.resultId, ...(r?.id === ev.resultId ? { lastMs: r.ms } : {}) });
      }
      case "freshness-changed": {
        for (const [id, f] of Object.entries(ev.nodes)) {
          const s = this.states.get(id);
          if (s) this.states.set(id, { ...s, freshness: f });
          this.touch(id);
        }
        const ids = Object.keys(ev.edges);
        for (const id of ids) this.edgeFresh.set(id, ev.edges[id]!);
        if (ids.length) this.emit({ kind: "edges", ids });
        return;
      }
    }
  }

  private done(runId: string, nodeId: string): void {
    this.runs.get(runId)?.delete(nodeId);
  }

  private patch(id: string, p: Partial<NodeStateWire>, notify = true): void {
    this.states.set(id, { ...this.state(id), ...p });
    if (notify) this.touch(id);
  }

  /** A new selected result; for a MAP node, notes which items it changed (the others were kept). */
  private setResult(id: string, r: ResultWire): void {
    const before = this.results.get(id)?.items;
    this.results.set(id, r);
    this.rerunning.delete(id);
    if (!r.items) return void this.changedItems.delete(id);
    const same = (i: number) => before?.[i] && before[i]!.key === r.items![i]!.key && before[i]!.startedAt === r.items![i]!.startedAt;
    this.changedItems.set(id, new Set(r.items.flatMap((_, i) => (same(i) ? [] : [i]))));
  }

  /** Activity changes restyle the edges around the node (animated while it runs, dimmed when skipped). */
  private touchWithEdges(id: string): void {
    this.touch(id);
    const ids = [...(this.edgesInto.get(id) ?? []), ...(this.edgesOutOf.get(id) ?? [])].map((e) => e.id);
    if (ids.length) this.emit({ kind: "edges", ids });
  }
}

/** One item of a MAP node, as the card lists it. */
export type ItemView = NonNullable<ResultWire["items"]>[number] | NonNullable<NodeStateWire["items"]>[number];

/** The editable port of a choice node that picks its variant (lib/graph/choice-node.ts). */
export const VARIANT_PORT = "variant";

/**
 * Nodes that run per item, from the graph alone: a node with a scattered input
 * (`port.each`), and, transitively, a node reading a MAP node's output plainly (not
 * gathered with `.all()`).
 */
export function mappedNodes(g: GraphWire): Set<string> {
  const mapped = new Set(g.nodes.filter((n) => n.inputs.some((i) => i.each !== undefined)).map((n) => n.id));
  for (let changed = true; changed; ) {
    changed = false;
    for (const n of g.nodes) {
      if (mapped.has(n.id)) continue;
      if (n.inputs.some((i) => i.source === "port" && !i.all && i.from && mapped.has(i.from.node))) {
        mapped.add(n.id);
        changed = true;
      }
    }
  }
  return mapped;
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

/** Node ids, their ports and the edges: what the layout depends on (values do not). */
export function graphShape(g: GraphWire): string {
  const nodes = g.nodes.map((n) => `${n.id}(${n.inputs.map((i) => `${i.port}:${i.source}:${i.component?.type ?? ""}`).join(",")}|${n.outputs.map((o) => `${o.port}:${o.component?.type ?? ""}`).join(",")})`);
  const edges = g.edges.map((e) => e.id);
  return `${nodes.join(";")}#${edges.join(";")}`;
}

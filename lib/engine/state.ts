import { BehaviorSubject, Subject } from "rxjs";
import { type Edge, type Graph, type Node, initialValue, inputId } from "../graph/index.js";
import type { EngineEvent, Freshness, Progress } from "./events.js";
import { FN_INPUT_MARKER, hashText, recipeKey } from "./recipe-key.js";
import { type ResultError, type ResultRecord, ResultStatus } from "./records.js";

/** What a skipped node's outputs hash to: downstream keys see "skipped", not a value. */
export const SKIPPED_HASH = "$skipped";
import type { SheetState } from "./store.js";

/** What a node is doing, or how its last run ended. */
export const Activity = {
  IDLE: "idle",
  /** Routed around by a branch: shown dimmed, neither stale nor failed. */
  SKIPPED: "skipped",
  QUEUED: "queued",
  RUNNING: "running",
  FAILED: "failed",
  CANCELLED: "cancelled",
} as const;
export type Activity = (typeof Activity)[keyof typeof Activity];

/** Everything the canvas shows about one node, as one immutable object. */
export interface NodeState {
  nodeId: string;
  freshness: Freshness;
  activity: Activity;
  /** The selected result id, or null when the node has none. */
  selectedId: string | null;
  /** How many results the node's history holds. */
  count: number;
  runId?: string;
  startedAt?: number;
  /** Duration of the selected result's execution. */
  lastMs?: number;
  progress?: Progress;
  partial?: Record<string, unknown>;
  error?: ResultError;
  /** For a mapped node: each item's status and timing, in order. */
  items?: Array<{ status: string; ms: number; error?: ResultError }>;
}

/**
 * The in-memory state of one open sheet: input values, selections, recipe keys and
 * freshness, with Observables over them. Key and freshness updates are incremental:
 * a change recomputes only the changed node and what lies downstream of it.
 */
export class SheetView {
  readonly events = new Subject<EngineEvent>();
  readonly inputs = new Map<string, unknown>();
  readonly selected = new Map<string, ResultRecord>();
  private readonly keys = new Map<string, string | undefined>();
  private readonly freshness = new Map<string, Freshness>();
  private readonly edgeFresh = new Map<string, boolean>();
  private readonly states = new Map<string, NodeState>();
  private readonly stateSubjects = new Map<string, BehaviorSubject<NodeState>>();
  private readonly valueSubjects = new Map<string, BehaviorSubject<unknown>>();
  private readonly fingerprints = new Map<string, string>();
  private readonly edgesInto = new Map<string, Edge[]>();

  constructor(
    readonly graph: Graph,
    readonly sheetId: string,
    loaded: SheetState,
  ) {
    for (const e of graph.edges) {
      let list = this.edgesInto.get(e.to.node);
      if (!list) this.edgesInto.set(e.to.node, (list = []));
      list.push(e);
    }
    for (const [id, v] of Object.entries(loaded.inputs)) this.inputs.set(id, v);
    for (const r of loaded.selected) if (graph.has(r.nodeId)) this.selected.set(r.nodeId, r);
    for (const n of graph.nodes) {
      this.fingerprints.set(n.id, hashText(n.fingerprint()));
      const sel = this.selected.get(n.id);
      this.states.set(n.id, {
        nodeId: n.id,
        freshness: "empty",
        activity: sel?.status === ResultStatus.SKIPPED ? Activity.SKIPPED : Activity.IDLE,
        selectedId: sel?.id ?? null,
        count: loaded.counts[n.id] ?? 0,
        lastMs: sel?.ms,
      });
    }
    const all = graph.nodes.map((n) => n.id);
    this.refresh(all, all, false);
  }

  emit(event: EngineEvent): void {
    this.events.next(event);
  }

  /** The value an editable port holds (the component's initial value until edited). */
  inputValue(node: Node, port: string): unknown {
    const id = inputId(node.id, port);
    if (this.inputs.has(id)) return this.inputs.get(id);
    const c = node.editableComponent(port);
    return c ? initialValue(c) : undefined;
  }

  /** Own values of editable ports (defaults included), before choosing active ports. */
  editableValues(node: Node): Record<string, unknown> {
    const own: Record<string, unknown> = {};
    for (const port of node.editablePorts()) own[port] = this.inputValue(node, port);
    return own;
  }

  /** Own inputs as they enter the recipe key (active ports only): function inputs become a marker. */
  ownInputsForKey(node: Node): Record<string, unknown> {
    const editable = this.editableValues(node);
    const own: Record<string, unknown> = {};
    for (const port of node.activePorts(editable)) {
      const spec = node.inputs[port];
      if (!spec || spec.kind === "component") {
        if (port in editable) own[port] = editable[port];
      } else if (spec.kind === "fixed") own[port] = spec.value;
      else if (spec.kind === "fn") own[port] = FN_INPUT_MARKER;
    }
    return own;
  }

  /**
   * Content hashes of the selected upstream values a node would consume (active ports
   * and a branch condition), or undefined while one of them has no result.
   */
  upstreamHashes(node: Node): Record<string, string> | undefined {
    const hashes: Record<string, string> = {};
    const hashOf = (from: { node: Node; port: string }) => {
      const sel = this.selected.get(from.node.id);
      if (!sel) return undefined;
      return sel.status === ResultStatus.SKIPPED ? SKIPPED_HASH : sel.outputHashes[from.port];
    };
    if (node.guard) {
      const h = hashOf(node.guard.from);
      if (h === undefined) return undefined;
      hashes.$when = h;
    }
    for (const port of node.activePorts(this.editableValues(node))) {
      const spec = node.inputs[port];
      if (spec?.kind === "port") {
        const h = hashOf(spec.from);
        if (h === undefined) return undefined;
        hashes[port] = spec.scatter ? `${h}|each:${spec.scatter.key ?? ""}` : h;
      } else if (spec?.kind === "first") {
        const all = spec.from.map(hashOf);
        if (all.includes(undefined)) return undefined;
        hashes[port] = all.find((h) => h !== SKIPPED_HASH) ?? SKIPPED_HASH;
      }
    }
    return hashes;
  }

  /** The nodes a node reads from right now (a choice node: only its selected variant's sources). */
  activeParents(node: Node): string[] {
    const ids = new Set<string>();
    if (node.guard) ids.add(node.guard.from.node.id);
    for (const port of node.activePorts(this.editableValues(node))) {
      const spec = node.inputs[port];
      if (spec?.kind === "port") ids.add(spec.from.node.id);
      else if (spec?.kind === "first") for (const p of spec.from) ids.add(p.node.id);
    }
    return [...ids];
  }

  /** The recipe key the node would run with now; undefined while an upstream has no result. */
  currentKey(node: Node): string | undefined {
    const up = this.upstreamHashes(node);
    return up && recipeKey(this.fingerprints.get(node.id)!, this.ownInputsForKey(node), up);
  }

  /**
   * The part of a mapped node's key shared by all its items: everything except the
   * per-item lists, so one item's key changes only when that item's values do.
   */
  itemBaseKey(node: Node, listPorts: string[]): string {
    const up = { ...this.upstreamHashes(node) };
    for (const p of listPorts) delete up[p];
    return recipeKey(this.fingerprints.get(node.id)!, this.ownInputsForKey(node), up);
  }

  /** The node's current recipe key, computed on first use after a change (refresh invalidates it). */
  key(nodeId: string): string | undefined {
    if (this.keys.has(nodeId)) return this.keys.get(nodeId);
    const key = this.currentKey(this.graph.node(nodeId));
    this.keys.set(nodeId, key);
    return key;
  }

  freshnessOf(nodeId: string): Freshness {
    return this.freshness.get(nodeId) ?? "empty";
  }

  edgeIsFresh(edgeId: string): boolean {
    return this.edgeFresh.get(edgeId) ?? false;
  }

  /**
   * Recomputes keys and freshness from `ids` downstream, in topological order, and emits
   * one `freshness-changed` event with what changed. A node is fresh when its selected
   * result was made from its current key and everything it reads from is fresh, so an
   * edit makes the whole downstream stale at once.
   *
   * The walk is incremental: a node's children are visited only when its selection
   * changed (their keys depend on its values) or its freshness changed (theirs depends
   * on it). A completed node in a long chain thus costs O(children), not O(graph).
   */
  refresh(ids: Iterable<string>, selectionChanged: Iterable<string> = [], emit = true): void {
    const nodes: Record<string, Freshness> = {};
    const edges: Record<string, boolean> = {};
    const pushChildren = new Set(selectionChanged);
    const queue = new MinQueue((id: string) => this.graph.order(id));
    for (const id of ids) queue.push(id);
    for (const id of pushChildren) for (const c of this.graph.children(id)) queue.push(c);
    for (let id = queue.pop(); id !== undefined; id = queue.pop()) {
      const node = this.graph.node(id);
      // Keys are lazy: a node without a selection is "empty" whatever its key, so a first
      // full run hashes each node's recipe once, when it executes.
      this.keys.delete(id);
      const sel = this.selected.get(id);
      let f: Freshness = "empty";
      if (sel) {
        const parentsFresh = this.activeParents(node).every((p) => this.freshness.get(p) === "fresh");
        f = parentsFresh && sel.key === this.key(id) ? "fresh" : "stale";
      }
      if (this.freshness.get(id) !== f) {
        this.freshness.set(id, f);
        nodes[id] = f;
        this.patchState(id, { freshness: f });
        for (const c of this.graph.children(id)) queue.push(c);
      }
      for (const e of this.edgesInto.get(id) ?? []) {
        const up = this.selected.get(e.from.node);
        const ef = !!sel && !!up && sel.upstream[e.to.port] === up.id;
        if (this.edgeFresh.get(e.id) !== ef) {
          this.edgeFresh.set(e.id, ef);
          edges[e.id] = ef;
        }
      }
    }
    if (emit && (Object.keys(nodes).length || Object.keys(edges).length)) {
      this.emit({ type: "freshness-changed", sheetId: this.sheetId, nodes, edges });
    }
  }

  /** Makes `record` the node's selection and updates values, keys and freshness downstream. */
  select(record: ResultRecord | null, nodeId = record?.nodeId): void {
    if (!nodeId) return;
    if (record) this.selected.set(nodeId, record);
    else this.selected.delete(nodeId);
    this.patchState(nodeId, { selectedId: record?.id ?? null, lastMs: record?.ms });
    this.emit({ type: "selection-changed", sheetId: this.sheetId, nodeId, resultId: record?.id ?? null, result: record ?? undefined });
    const node = this.graph.node(nodeId);
    for (const port of Object.keys(node.outputs)) this.valueSubjects.get(`${nodeId}.out.${port}`)?.next(record?.outputs[port]);
  }

  setInput(node: Node, port: string, value: unknown): void {
    this.inputs.set(inputId(node.id, port), value);
    this.valueSubjects.get(`${node.id}.in.${port}`)?.next(value);
  }

  state(nodeId: string): NodeState {
    return this.states.get(nodeId)!;
  }

  patchState(nodeId: string, patch: Partial<NodeState>): void {
    const next = { ...this.states.get(nodeId)!, ...patch };
    this.states.set(nodeId, next);
    this.stateSubjects.get(nodeId)?.next(next);
  }

  state$(nodeId: string): BehaviorSubject<NodeState> {
    let s = this.stateSubjects.get(nodeId);
    if (!s) this.stateSubjects.set(nodeId, (s = new BehaviorSubject(this.state(nodeId))));
    return s;
  }

  /** A BehaviorSubject per port, created on first use so unobserved ports cost nothing. */
  value$(nodeId: string, side: "in" | "out", port: string, current: () => unknown): BehaviorSubject<unknown> {
    const k = `${nodeId}.${side}.${port}`;
    let s = this.valueSubjects.get(k);
    if (!s) this.valueSubjects.set(k, (s = new BehaviorSubject(current())));
    return s;
  }

  complete(): void {
    for (const s of this.stateSubjects.values()) s.complete();
    for (const s of this.valueSubjects.values()) s.complete();
    this.events.complete();
  }
}

/** A priority queue of node ids by topological order, ignoring ids already queued. */
class MinQueue {
  private readonly heap: string[] = [];
  private readonly queued = new Set<string>();
  constructor(private readonly rank: (id: string) => number) {}

  push(id: string): void {
    if (this.queued.has(id)) return;
    this.queued.add(id);
    const h = this.heap;
    h.push(id);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.rank(h[p]!) <= this.rank(h[i]!)) break;
      [h[p], h[i]] = [h[i]!, h[p]!];
      i = p;
    }
  }

  pop(): string | undefined {
    const h = this.heap;
    if (!h.length) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.rank(h[l]!) < this.rank(h[m]!)) m = l;
        if (r < h.length && this.rank(h[r]!) < this.rank(h[m]!)) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    this.queued.delete(top);
    return top;
  }
}

import { BehaviorSubject, Subject } from "rxjs";
import type { Graph, Node } from "../graph/index.js";
import type { EngineEvent, Freshness, Progress } from "./events.js";
import { fingerprintPart } from "./recipe-key.js";
import { type ResultError, type ResultRecord, ResultStatus } from "./records.js";
import { Slot, auxOf } from "./slot.js";
import type { SheetState } from "./store.js";

/*
 * The first layer of `SheetView` (state.ts): one slot per node, made from the sheet's
 * stored state, and what is shown of each node — its activity, history count, run
 * progress and error — as immutable `NodeState` objects, subjects and events. The layers
 * above add the flat lists over the slots (sheet-tables.ts), recipe keys
 * (sheet-keys.ts), and freshness (state.ts).
 */

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

/** The fields `patchState` sets: an activity, a history count, and what a node's run reports. */
export type StatePatch = Partial<Pick<NodeState, "activity" | "count" | "progress" | "partial" | "error" | "items">>;

const EXTRA_KEYS = ["progress", "partial", "error", "items"] as const;

/**
 * A node's fingerprint as keys take it (`fingerprintPart`), made once per node rather
 * than at every session open (the fingerprint is a JSON text with function sources). A
 * node is fixed once built, except for a branch guard and backups added later: those
 * clear the memo.
 */
function fingerprintOf(n: Node): string {
  return (n.fingerprintMemo ??= fingerprintPart(n.fingerprint()));
}

/** The selected result of each node, as a read-only map over the view's slots. */
export class Selections {
  constructor(private readonly view: NodeStates) {}
  get(nodeId: string): ResultRecord | undefined {
    return this.view.slotOf(nodeId)?.sel;
  }
  has(nodeId: string): boolean {
    return this.view.slotOf(nodeId)?.sel !== undefined;
  }
}

/**
 * Node states are immutable objects for everyone outside: the view keeps their fields
 * on its slots and makes a `NodeState` only when one is asked for or observed, so a node
 * that nobody watches costs no objects as it goes queued → running → done.
 */
export abstract class NodeStates {
  readonly events = new Subject<EngineEvent>();
  /** The selected result per node, read from the slots (no map of its own to keep in step). */
  readonly selected: Selections = new Selections(this);
  /** Slots in topological order (a node's order comes from the graph: no map of our own). */
  protected readonly slotAt: Slot[];
  /** When each node's running execution started (NaN: none since the sheet opened), by order. */
  private readonly startedAt: Float64Array;
  protected readonly valueSubjects = new Map<string, BehaviorSubject<unknown>>();

  constructor(
    readonly graph: Graph,
    readonly sheetId: string,
    loaded: SheetState,
  ) {
    const loadedSel = new Map<string, ResultRecord>();
    for (const r of loaded.selected) if (graph.has(r.nodeId)) loadedSel.set(r.nodeId, r);
    // A node a restart cut short shows as failed with the interruption's error until it runs again.
    const cut = new Map((loaded.interrupted ?? []).map((r) => [r.nodeId, r]));
    const nodes = graph.nodes;
    const n = nodes.length;
    const slots = (this.slotAt = new Array<Slot>(n));
    this.startedAt = new Float64Array(n).fill(Number.NaN);
    for (let order = 0; order < n; order++) {
      const node = nodes[order]!;
      const sel = loadedSel.get(node.id);
      const interrupted = cut.get(node.id);
      const activity = interrupted ? Activity.FAILED : sel?.status === ResultStatus.SKIPPED ? Activity.SKIPPED : Activity.IDLE;
      const slot = (slots[order] = new Slot(node, fingerprintOf(node), order, sel, activity, loaded.counts[node.id] ?? 0));
      if (interrupted?.error) auxOf(slot).error = interrupted.error;
    }
  }

  /** Whether anyone listens to the events (building an event nobody reads is skipped). */
  get watched(): boolean {
    return this.events.observed;
  }

  emit(event: EngineEvent): void {
    this.events.next(event);
  }

  protected slot(nodeId: string): Slot {
    const s = this.slotOf(nodeId);
    if (!s) this.graph.node(nodeId); // throws the coded unknown-node error
    return s!;
  }

  /**
   * @internal The node's slot, or undefined for a node not in the graph. The last one
   * found is kept: a node's end asks for its slot five times in a row (its count, state,
   * selection and walk), and the id is the same string each time.
   */
  slotOf(nodeId: string): Slot | undefined {
    const last = this.lastSlot;
    if (last !== undefined && last.node.id === nodeId) return last;
    const s = this.slotAt[this.graph.order(nodeId)];
    if (s !== undefined) this.lastSlot = s;
    return s;
  }
  private lastSlot: Slot | undefined = undefined;

  /** The node's state now, as an immutable object. */
  state(nodeId: string): NodeState {
    const s = this.slot(nodeId);
    const aux = auxOf(s);
    return (aux.snapshot ??= this.stateOf(s));
  }

  /** How many results the node's history holds. */
  count(nodeId: string): number {
    return this.slot(nodeId).count;
  }

  /** The node is waiting for a slot (queued) or has one (running): its run's progress, partial and error are cleared. */
  active(nodeId: string, activity: typeof Activity.QUEUED | typeof Activity.RUNNING, runId: string, startedAt?: number): void {
    const s = this.slot(nodeId);
    s.activity = activity;
    s.runId = runId;
    if (activity === Activity.RUNNING) this.startedAt[s.order] = startedAt ?? Number.NaN;
    const x = s.aux;
    if (x) x.error = x.progress = x.partial = undefined;
    this.changed(s);
  }

  /** An execution of the node ended: its activity, history count, error and items; progress cleared. */
  finished(nodeId: string, activity: Activity, count: number, error: ResultError | undefined, items: NodeState["items"]): void {
    const s = this.slot(nodeId);
    s.activity = activity;
    s.count = count;
    const x = error || items ? auxOf(s) : s.aux;
    if (x) {
      x.progress = x.partial = undefined;
      x.error = error;
      x.items = items;
    }
    this.changed(s);
  }

  patchState(nodeId: string, patch: StatePatch): void {
    const s = this.slot(nodeId);
    if (patch.activity !== undefined) s.activity = patch.activity;
    if (patch.count !== undefined) s.count = patch.count;
    for (const k of EXTRA_KEYS) {
      if (!(k in patch)) continue;
      const v = patch[k];
      if (v !== undefined || s.aux) (auxOf(s) as unknown as Record<string, unknown>)[k] = v;
    }
    this.changed(s);
  }

  /** Something shown of the node changed: its kept state is dropped, and an observed one is sent anew. */
  protected changed(s: Slot): void {
    const aux = s.aux;
    if (!aux) return;
    aux.snapshot = undefined;
    if (aux.subject) aux.subject.next((aux.snapshot = this.stateOf(s)));
  }

  /** A slot's fields as a `NodeState` (every field present, so all states share one shape). */
  private stateOf(s: Slot): NodeState {
    const sel = s.sel;
    const x = s.aux;
    const startedAt = this.startedAt[s.order]!;
    return {
      nodeId: s.node.id,
      freshness: s.freshness,
      activity: s.activity,
      selectedId: sel?.id ?? null,
      count: s.count,
      runId: s.runId,
      startedAt: Number.isNaN(startedAt) ? undefined : startedAt,
      lastMs: sel?.ms,
      progress: x?.progress,
      partial: x?.partial,
      error: x?.error,
      items: x?.items,
    };
  }

  state$(nodeId: string): BehaviorSubject<NodeState> {
    const s = this.slot(nodeId);
    const aux = auxOf(s);
    return (aux.subject ??= new BehaviorSubject(this.state(nodeId)));
  }

  /** A BehaviorSubject per port, created on first use so unobserved ports cost nothing. */
  value$(nodeId: string, side: "in" | "out", port: string, current: () => unknown): BehaviorSubject<unknown> {
    const k = `${nodeId}.${side}.${port}`;
    let s = this.valueSubjects.get(k);
    if (!s) {
      this.valueSubjects.set(k, (s = new BehaviorSubject(current())));
      if (side === "out") (auxOf(this.slot(nodeId)).outs ??= new Map()).set(port, s);
    }
    return s;
  }

  complete(): void {
    for (const s of this.slotAt) s.aux?.subject?.complete();
    for (const s of this.valueSubjects.values()) s.complete();
    this.events.complete();
  }
}

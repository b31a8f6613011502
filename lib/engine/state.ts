import { BehaviorSubject, Subject } from "rxjs";
import { type Edge, type Graph, type Node, initialValue, inputId } from "../graph/index.js";
import type { EngineEvent, Freshness, Progress } from "./events.js";
import { FN_INPUT_MARKER, canonical, hashText, quote, recipeKey } from "./recipe-key.js";
import { type ResultError, type ResultRecord, ResultStatus } from "./records.js";
import { MinQueue, NO_VALUES, type Read, Slot, append, enqueueAll, hasStaticPorts, parentsOf, readsOf } from "./slot.js";
import type { SheetState } from "./store.js";
import { hasFilePorts } from "./outputs.js";

/**
 * A node's fingerprint hash, made once per node rather than at every session open (the
 * fingerprint is a JSON text with function sources). A node is fixed once built, except
 * for a branch guard and backups added later: those clear the memo.
 */
function fingerprintHash(n: Node): string {
  return (n.fingerprintMemo ??= hashText(n.fingerprint()));
}

/** What a skipped node's outputs hash to: downstream keys see "skipped", not a value. */
export const SKIPPED_HASH = "$skipped";

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
 *
 * Node states are immutable objects for everyone outside: the view patches a private
 * working copy and makes a snapshot only when one is asked for or observed, so a node
 * that nobody watches costs no copies as it goes queued → running → done.
 */
export class SheetView {
  readonly events = new Subject<EngineEvent>();
  readonly inputs = new Map<string, unknown>();
  /** Revision of each edited input (`node__port`): how many writes it has had. */
  readonly inputRevs = new Map<string, number>();
  /** The selected result per node, read from the slots (no map of its own to keep in step). */
  readonly selected: Selections;
  private readonly slots = new Map<string, Slot>();
  /** Where each edge's freshness is kept (its downstream node, its index there), made on first ask. */
  private edgeAt: Map<string, { slot: Slot; index: number }> | undefined = undefined;
  private readonly valueSubjects = new Map<string, BehaviorSubject<unknown>>();
  /** The refresh queue, reused by every refresh that does not run inside another. */
  private readonly queue = new MinQueue();
  /**
   * Edges whose freshness may have changed (a selection at either end changed), as their
   * downstream slot and index there; the next walk rechecks these alone. An edge's
   * freshness depends only on selections, so a wide join costs O(1) per parent that
   * completes, not a rescan of all its edges.
   */
  private dirtySlots: Slot[] = [];
  private dirtyIndex: number[] = [];
  /** @internal Edge checks, freshness evaluations and reads hashed into keys so far (what a refresh costs, counted). */
  work = 0;

  constructor(
    readonly graph: Graph,
    readonly sheetId: string,
    loaded: SheetState,
  ) {
    const edgesInto = new Map<string, Edge[]>();
    for (const e of graph.edges) {
      let list = edgesInto.get(e.to.node);
      if (!list) edgesInto.set(e.to.node, (list = []));
      list.push(e);
    }
    for (const [id, v] of Object.entries(loaded.inputs)) this.inputs.set(id, v);
    for (const [id, rev] of Object.entries(loaded.inputRevs ?? {})) this.inputRevs.set(id, rev);
    this.selected = new Selections(this.slots);
    const loadedSel = new Map<string, ResultRecord>();
    for (const r of loaded.selected) if (graph.has(r.nodeId)) loadedSel.set(r.nodeId, r);
    // A node a restart cut short shows as failed with the interruption's error until it runs again.
    const cut = new Map((loaded.interrupted ?? []).map((r) => [r.nodeId, r]));
    graph.nodes.forEach((n, order) => {
      const sel = loadedSel.get(n.id);
      const interrupted = cut.get(n.id);
      const state: NodeState = {
        nodeId: n.id,
        freshness: "empty",
        activity: interrupted ? Activity.FAILED : sel?.status === ResultStatus.SKIPPED ? Activity.SKIPPED : Activity.IDLE,
        selectedId: sel?.id ?? null,
        count: loaded.counts[n.id] ?? 0,
        lastMs: sel?.ms,
        ...(interrupted?.error ? { error: interrupted.error } : {}),
      };
      const slot = new Slot(n, fingerprintHash(n), order, fit(edgesInto.get(n.id)), state, sel, hasStaticPorts(n));
      this.slots.set(n.id, slot);
    });
    for (const slot of this.slots.values()) {
      slot.childSlots = sized(graph.children(slot.node.id), (c) => this.slots.get(c)!);
      if (slot.reads) {
        const parents = sized(parentsOf(slot.node, slot.node.activePorts(NO_VALUES)), (p) => this.slots.get(p)!);
        slot.parentSlots = parents;
        slot.staleParents = parents.length; // every slot starts "empty"
        for (const p of parents) p.watchers = append(p.watchers, slot);
      }
      if (slot.reads) {
        for (const r of slot.reads) {
          r.slots = r.from.map((f) => this.slots.get(f.node.id)!);
          r.owner = slot;
          for (const f of r.slots) f.outReads = append(f.outReads, r);
        }
      }
      slot.edgeFrom = sized(slot.edgesIn, (e) => this.slots.get(e.from.node)!);
      for (let i = 0; i < slot.edgeFrom.length; i++) {
        const from = slot.edgeFrom[i]!;
        from.outSlots = append(from.outSlots, slot);
        from.outIndex = append(from.outIndex, i);
      }
      if (slot.sel) this.edgesChanged(slot);
    }
    for (const slot of this.slots.values()) {
      // Most often a node's watchers and out-edges' nodes are its children, in order: one list then.
      slot.watchers = same(slot.watchers, slot.childSlots) ? slot.childSlots : fit(slot.watchers);
      slot.outSlots = same(slot.outSlots, slot.childSlots) ? slot.childSlots : fit(slot.outSlots);
      slot.outIndex = fit(slot.outIndex);
      slot.outReads = fit(slot.outReads);
      if (slot.reads) for (const r of slot.reads) r.now = readHash(r);
    }
    const all = graph.nodes.map((n) => n.id);
    this.refresh(all, all, false);
  }

  /** Whether anyone listens to the events (building an event nobody reads is skipped). */
  get watched(): boolean {
    return this.events.observed;
  }

  emit(event: EngineEvent): void {
    this.events.next(event);
  }

  private slot(nodeId: string): Slot {
    const s = this.slots.get(nodeId);
    if (!s) this.graph.node(nodeId); // throws the coded unknown-node error
    return s!;
  }

  /** The value an editable port holds (the component's initial value until edited). */
  inputValue(node: Node, port: string): unknown {
    const id = inputId(node.id, port);
    if (this.inputs.has(id)) return this.inputs.get(id);
    const c = node.editableComponent(port);
    return c ? initialValue(c) : undefined;
  }

  /** Own values of editable ports (defaults included), before choosing active ports. Read-only. */
  editableValues(node: Node): Record<string, unknown> {
    const ports = node.editablePorts();
    if (ports.length === 0) return NO_VALUES;
    const own: Record<string, unknown> = {};
    for (const port of ports) own[port] = this.inputValue(node, port);
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

  /** The hash a downstream key takes from one upstream output: its content hash, or "skipped". */
  private hashOf(from: { node: Node; port: string }): string | undefined {
    const sel = this.selected.get(from.node.id);
    if (!sel) return undefined;
    return sel.status === ResultStatus.SKIPPED ? SKIPPED_HASH : sel.outputHashes[from.port];
  }

  /**
   * Content hashes of the selected upstream values a node would consume (active ports
   * and a branch condition), or undefined while one of them has no result.
   */
  upstreamHashes(node: Node): Record<string, string> | undefined {
    const hashes: Record<string, string> = {};
    if (node.guard) {
      const h = this.hashOf(node.guard.from);
      if (h === undefined) return undefined;
      hashes.$when = h;
    }
    const ports = hasStaticPorts(node) ? node.activePorts(NO_VALUES) : node.activePorts(this.editableValues(node));
    for (const port of ports) {
      const spec = node.inputs[port];
      if (spec?.kind === "port") {
        const h = this.hashOf(spec.from);
        if (h === undefined) return undefined;
        hashes[port] = spec.scatter ? `${h}|each:${spec.scatter.key ?? ""}` : h;
      } else if (spec?.kind === "first") {
        let picked: string | undefined;
        for (const p of spec.from) {
          const h = this.hashOf(p);
          if (h === undefined) return undefined;
          if (picked === undefined && h !== SKIPPED_HASH) picked = h;
        }
        hashes[port] = picked ?? SKIPPED_HASH;
      }
    }
    return hashes;
  }

  /** The nodes a node reads from right now (a choice node: only its selected variant's sources). */
  activeParents(node: Node): readonly string[] {
    const parents = this.slot(node.id).parentSlots;
    return parents ? parents.map((p) => p.node.id) : parentsOf(node, node.activePorts(this.editableValues(node)));
  }

  /**
   * The recipe key the node would run with now; undefined while an upstream has no result.
   * It is `recipeKey(fingerprint, ownInputsForKey(node), upstreamHashes(node))`, with the
   * canonical JSON of the upstream hashes written straight from the presorted reads.
   */
  currentKey(node: Node): string | undefined {
    return this.keyText(this.slot(node.id));
  }

  /**
   * The key of `currentKey`, from the slot. The text is built by concatenation, not an
   * array join (a join of a few short strings costs more than the rest of the key): the
   * hash reads it once, flattened.
   */
  private keyText(s: Slot): string | undefined {
    const node = s.node;
    const reads = s.reads ?? readsOf(node, node.activePorts(this.editableValues(node)));
    const own = (s.ownText = s.hasOwn ? canonical(this.ownInputsForKey(node)) : "{}");
    let text = `${s.fingerprint}|${own}|{`;
    this.work += reads.length;
    for (let i = 0; i < reads.length; i++) {
      const r = reads[i]!;
      let h: string | undefined;
      if (r.from.length === 1) h = r.slots ? selectedHash(r.slots[0]!, r.from[0]!.port) : this.hashOf(r.from[0]!);
      else {
        for (const from of r.from) {
          const each = this.hashOf(from);
          if (each === undefined) return undefined;
          if (h === undefined && each !== SKIPPED_HASH) h = each;
        }
        h ??= SKIPPED_HASH;
      }
      if (h === undefined) return undefined;
      r.hash = h;
      if (i > 0) text += ",";
      // An output hash is a hex digest (or the skipped marker): as JSON it only needs quotes.
      text += r.each === undefined ? `${r.label}"${h}"` : r.label + quote(`${h}|each:${r.each}`);
    }
    return hashText(`${text}}`);
  }

  /**
   * The part of a mapped node's key shared by all its items: everything except the
   * per-item lists, so one item's key changes only when that item's values do.
   */
  itemBaseKey(node: Node, listPorts: string[]): string {
    const up = { ...this.upstreamHashes(node) };
    for (const p of listPorts) delete up[p];
    return recipeKey(this.slot(node.id).fingerprint, this.ownInputsForKey(node), up);
  }

  /** The node's current recipe key, computed on first use after a change (refresh invalidates it). */
  key(nodeId: string): string | undefined {
    return this.keyOf(this.slot(nodeId));
  }

  private keyOf(s: Slot): string | undefined {
    if (!s.keyed) {
      s.key = this.keyText(s);
      s.keyed = true;
    }
    return s.key;
  }

  /** Whether a node has file-typed inputs or outputs (looked up once per session). */
  filePorts(nodeId: string): { inputs: boolean; outputs: boolean } {
    return hasFilePorts(this.slot(nodeId).node);
  }

  freshnessOf(nodeId: string): Freshness {
    return this.slots.get(nodeId)?.freshness ?? "empty";
  }

  edgeIsFresh(edgeId: string): boolean {
    if (!this.edgeAt) {
      this.edgeAt = new Map();
      for (const slot of this.slots.values()) slot.edgesIn.forEach((e, index) => this.edgeAt!.set(e.id, { slot, index }));
    }
    const at = this.edgeAt.get(edgeId);
    return at ? edgeFresh(at.slot, at.index) : false;
  }

  /** Queues every edge into and out of a node whose selection changed, for the next walk. */
  private edgesChanged(s: Slot): void {
    for (let i = 0; i < s.edgesIn.length; i++) {
      this.dirtySlots.push(s);
      this.dirtyIndex.push(i);
    }
    for (let i = 0; i < s.outSlots.length; i++) {
      this.dirtySlots.push(s.outSlots[i]!);
      this.dirtyIndex.push(s.outIndex[i]!);
    }
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
    const queue = this.takeQueue();
    try {
      for (const id of ids) {
        const s = this.slot(id);
        s.keyed = false;
        queue.push(s);
      }
      for (const id of selectionChanged) enqueueAll(queue, this.slot(id).childSlots);
      this.walk(queue, emit);
    } finally {
      queue.clear();
    }
  }

  /**
   * `refresh([id], [id])` after a node's selection changed and nothing else: its own key
   * (made of its inputs and upstream values) stays valid, its children's are recomputed.
   */
  reselected(nodeId: string): void {
    const queue = this.takeQueue();
    try {
      const s = this.slot(nodeId);
      queue.push(s);
      enqueueAll(queue, s.childSlots);
      this.walk(queue, true);
    } finally {
      queue.clear();
    }
  }

  /**
   * The reused queue, or a new one for a refresh inside another (a subscriber may edit
   * from inside a refresh, since patches notify synchronously).
   */
  private takeQueue(): MinQueue {
    const queue = this.queue.idle ? this.queue : new MinQueue();
    queue.idle = false;
    return queue;
  }

  private walk(queue: MinQueue, emit: boolean): void {
    const watched = emit && this.events.observed;
    let nodes: Record<string, Freshness> | undefined;
    let edges: Record<string, boolean> | undefined;
    for (let s = queue.pop(); s !== undefined; s = queue.pop()) {
      this.work++;
      const sel = s.sel;
      let f: Freshness = "empty";
      if (sel) f = this.parentsFresh(s) && this.keyMatches(s, sel) ? "fresh" : "stale";
      if (s.freshness !== f) {
        const was = s.freshness === "fresh";
        s.freshness = f;
        if (was !== (f === "fresh")) {
          const w = s.watchers;
          for (let i = 0; i < w.length; i++) w[i]!.staleParents += was ? 1 : -1;
        }
        if (watched) (nodes ??= {})[s.node.id] = f;
        s.state.freshness = f;
        this.changed(s);
        enqueueAll(queue, s.childSlots);
      }
    }
    if (this.dirtySlots.length) {
      const slots = this.dirtySlots;
      const index = this.dirtyIndex;
      this.dirtySlots = [];
      this.dirtyIndex = [];
      for (let k = 0; k < slots.length; k++) {
        this.work++;
        const s = slots[k]!;
        const i = index[k]!;
        const ef = edgeFresh(s, i);
        if (s.edgeFresh[i] !== ef) {
          s.edgeFresh[i] = ef;
          if (watched) (edges ??= {})[s.edgesIn[i]!.id] = ef;
        }
      }
    }
    if (nodes || edges) this.emit({ type: "freshness-changed", sheetId: this.sheetId, nodes: nodes ?? {}, edges: edges ?? {} });
  }

  /**
   * Whether the node's current key is its selected result's. Once confirmed by a full
   * key, the answer is kept per read (see `Slot.basisSel`): while the selection stays,
   * it is "no read differs from its basis, and the own inputs are as then", so a wide
   * join is not rehashed whole each time one parent changes.
   */
  private keyMatches(s: Slot, sel: ResultRecord): boolean {
    if (!s.keyed && s.basisSel === sel) {
      if (s.diffs !== 0) return false;
      if (!s.hasOwn || canonical(this.ownInputsForKey(s.node)) === s.basisOwn) return true;
    }
    if (this.keyOf(s) !== sel.key) return false;
    const reads = s.reads;
    if (reads && s.basisSel !== sel) {
      // The key was made from every read's hash (kept in `hash` while the key stays valid): those are the basis.
      for (let i = 0; i < reads.length; i++) {
        const r = reads[i]!;
        r.now = r.basis = r.hash;
      }
      s.basisSel = sel;
      s.basisOwn = s.ownText;
      s.diffs = 0;
    }
    return true;
  }

  /** A node's selection changed: the reads of its children that take its values follow. */
  private readsChanged(s: Slot): void {
    const out = s.outReads;
    for (let i = 0; i < out.length; i++) {
      const r = out[i]!;
      const was = r.now;
      const now = readHash(r);
      if (now === was) continue;
      r.now = now;
      const owner = r.owner!;
      owner.keyed = false;
      if (owner.basisSel) {
        if (was === r.basis) owner.diffs++;
        else if (now === r.basis) owner.diffs--;
      }
    }
  }

  private parentsFresh(s: Slot): boolean {
    if (s.parentSlots) return s.staleParents === 0;
    return this.activeParents(s.node).every((p) => this.slots.get(p)?.freshness === "fresh");
  }

  /** Makes `record` the node's selection and updates values, keys and freshness downstream. */
  select(record: ResultRecord | null, nodeId = record?.nodeId): void {
    if (!nodeId) return;
    const s = this.slot(nodeId);
    s.sel = record ?? undefined;
    s.state.selectedId = record?.id ?? null;
    s.state.lastMs = record?.ms;
    this.edgesChanged(s);
    this.readsChanged(s);
    this.changed(s);
    if (this.events.observed) this.emit({ type: "selection-changed", sheetId: this.sheetId, nodeId, resultId: record?.id ?? null, result: record ?? undefined });
    if (s.outs) for (const port of Object.keys(s.node.outputs)) s.outs.get(port)?.next(record?.outputs[port]);
  }

  /** The revision of an editable input (0 until first written). */
  inputRev(id: string): number {
    return this.inputRevs.get(id) ?? 0;
  }

  setInput(node: Node, port: string, value: unknown): void {
    const id = inputId(node.id, port);
    this.inputRevs.set(id, this.inputRev(id) + 1);
    this.inputs.set(id, value);
    this.valueSubjects.get(`${node.id}.in.${port}`)?.next(value);
  }

  /** The node's state now, as an immutable object. */
  state(nodeId: string): NodeState {
    const s = this.slot(nodeId);
    return (s.snapshot ??= { ...s.state });
  }

  /** How many results the node's history holds. */
  count(nodeId: string): number {
    return this.slot(nodeId).state.count;
  }

  /** The node is waiting for a slot (queued) or has one (running): its run's progress, partial and error are cleared. */
  active(nodeId: string, activity: typeof Activity.QUEUED | typeof Activity.RUNNING, runId: string, startedAt?: number): void {
    const s = this.slot(nodeId);
    const st = s.state;
    st.activity = activity;
    st.runId = runId;
    if (activity === Activity.RUNNING) st.startedAt = startedAt;
    st.error = undefined;
    st.progress = undefined;
    st.partial = undefined;
    this.changed(s);
  }

  /** An execution of the node ended: its activity, history count, error and items; progress cleared. */
  finished(nodeId: string, activity: Activity, count: number, error: ResultError | undefined, items: NodeState["items"]): void {
    const s = this.slot(nodeId);
    const st = s.state;
    st.activity = activity;
    st.count = count;
    st.progress = undefined;
    st.partial = undefined;
    st.error = error;
    st.items = items;
    this.changed(s);
  }

  patchState(nodeId: string, patch: Partial<NodeState>): void {
    this.patchSlot(this.slot(nodeId), patch);
  }

  private patchSlot(s: Slot, patch: Partial<NodeState>): void {
    Object.assign(s.state, patch);
    this.changed(s);
  }

  private changed(s: Slot): void {
    s.snapshot = undefined;
    if (s.subject) s.subject.next((s.snapshot = { ...s.state }));
  }

  state$(nodeId: string): BehaviorSubject<NodeState> {
    const s = this.slot(nodeId);
    return (s.subject ??= new BehaviorSubject(this.state(nodeId)));
  }

  /** A BehaviorSubject per port, created on first use so unobserved ports cost nothing. */
  value$(nodeId: string, side: "in" | "out", port: string, current: () => unknown): BehaviorSubject<unknown> {
    const k = `${nodeId}.${side}.${port}`;
    let s = this.valueSubjects.get(k);
    if (!s) {
      this.valueSubjects.set(k, (s = new BehaviorSubject(current())));
      if (side === "out") (this.slot(nodeId).outs ??= new Map()).set(port, s);
    }
    return s;
  }

  complete(): void {
    for (const s of this.slots.values()) s.subject?.complete();
    for (const s of this.valueSubjects.values()) s.complete();
    this.events.complete();
  }
}

/** Whether the downstream of an edge consumed its upstream's selected result. */
function edgeFresh(s: Slot, i: number): boolean {
  const sel = s.sel;
  const up = sel && s.edgeFrom[i]!.sel;
  return !!up && sel!.upstream[s.edgesIn[i]!.to.port] === up.id;
}

/** The upstream hash a static read enters its owner's key with now (undefined while one of its sources has none). */
function readHash(r: Read): string | undefined {
  const slots = r.slots!;
  if (slots.length === 1) return selectedHash(slots[0]!, r.from[0]!.port);
  let h: string | undefined;
  for (let i = 0; i < slots.length; i++) {
    const each = selectedHash(slots[i]!, r.from[i]!.port);
    if (each === undefined) return undefined;
    if (h === undefined && each !== SKIPPED_HASH) h = each;
  }
  return h ?? SKIPPED_HASH;
}

/** The hash a downstream key takes from a slot's selected output (see `hashOf`). */
function selectedHash(s: Slot, port: string): string | undefined {
  const sel = s.sel;
  if (!sel) return undefined;
  return sel.status === ResultStatus.SKIPPED ? SKIPPED_HASH : sel.outputHashes[port];
}

const NONE = Object.freeze([]) as unknown as never[];

/** Whether two lists hold the same items in the same order. */
function same<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** `list.map(f)`, or the shared empty list (per-node lists are kept for the session). */
function sized<T, U>(list: readonly T[], f: (x: T) => U): U[] {
  return list.length === 0 ? NONE : list.map(f);
}

/** The selected result of each node, as a read-only map over the view's slots. */
export class Selections {
  constructor(private readonly slots: Map<string, Slot>) {}
  get(nodeId: string): ResultRecord | undefined {
    return this.slots.get(nodeId)?.sel;
  }
  has(nodeId: string): boolean {
    return this.slots.get(nodeId)?.sel !== undefined;
  }
}

/**
 * An array built by `push` holds room for 17 items; a copy holds exactly what it has.
 * Per-node lists are made once and kept for the session, so they are copied to size.
 */
function fit<T>(list: T[] | undefined): T[] {
  return !list || list.length === 0 ? NONE : list.slice();
}

import { BehaviorSubject, Subject } from "rxjs";
import { type Edge, type Graph, type Node, initialValue, inputId } from "../graph/index.js";
import type { EngineEvent, Freshness, Progress } from "./events.js";
import { FN_INPUT_MARKER, canonical, hashText, quote, recipeKey } from "./recipe-key.js";
import { type ResultError, type ResultRecord, ResultStatus } from "./records.js";
import { MinQueue, NO_VALUES, Slot, type Source, auxOf, hasStaticPorts, parentsOf, readsOf } from "./slot.js";
import type { SheetState } from "./store.js";

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
 * Node states are immutable objects for everyone outside: the view keeps their fields
 * on its slots and makes a `NodeState` only when one is asked for or observed, so a node
 * that nobody watches costs no objects as it goes queued → running → done.
 *
 * Per-node lists (children, watchers, edges in and out, reads) are flat lists shared by
 * all slots, each node's items a range given by an offset table indexed by topological
 * order: a few objects per view, not ten arrays per node.
 */
export class SheetView {
  readonly events = new Subject<EngineEvent>();
  readonly inputs = new Map<string, unknown>();
  /** Revision of each edited input (`node__port`): how many writes it has had. */
  readonly inputRevs = new Map<string, number>();
  /** The selected result per node, read from the slots (no map of its own to keep in step). */
  readonly selected: Selections;
  /** Slots in topological order (a node's order comes from the graph: no map of our own). */
  private readonly slotAt: Slot[];
  /** Children of each node (`childOff[o]` to `childOff[o + 1]` in `childAt`), as orders. */
  private readonly childOff: Int32Array;
  private readonly childAt: Int32Array;
  /** The fixed-read nodes that read from each node (they count its freshness in `staleParents`), as orders. */
  private readonly watchOff: Int32Array;
  private readonly watchAt: Int32Array;
  /**
   * The fixed reads of all nodes, a node's in key order from `readOff[o]`, as parallel
   * lists by read: its label, source(s), owner, the source's order (-1 for a `firstOf`
   * list, whose slots are in `readSlots`), its item field when scattered (`readEach`), its
   * upstream hash now (kept as upstream selections change) and its basis (see `Slot.basisSel`).
   */
  private readonly readOff: Int32Array;
  private readonly readLabel: string[] = [];
  private readonly readFrom: Array<Source | readonly Source[]> = [];
  private readonly readOwner: Int32Array;
  private readonly readSrc: Int32Array;
  private readonly readSlots = new Map<number, Slot[]>();
  private readonly readEach = new Map<number, string>();
  private readonly readNow: Array<string | undefined> = [];
  private readonly readBasis: Array<string | undefined> = [];
  /** The fixed reads that take each node's values (their `now` follows its selection), as read indexes. */
  private readonly outReadOff: Int32Array;
  private readonly outReadAt: Int32Array;
  /** Edges grouped by their downstream node (`inOff`), with each one's source and target order and freshness. */
  private readonly inOff: Int32Array;
  private readonly edges: Edge[];
  private readonly edgeSrc: Int32Array;
  private readonly edgeDst: Int32Array;
  private readonly edgeFreshAt: Uint8Array;
  /** The edges out of each node (`outOff`), as indexes into `edges`. */
  private readonly outOff: Int32Array;
  private readonly outAt: Int32Array;
  /** When each node's running execution started (NaN: none since the sheet opened), by order. */
  private readonly startedAt: Float64Array;
  /** Where each edge's freshness is kept (its index in `edges`), made on first ask. */
  private edgeIndex: Map<string, number> | undefined = undefined;
  private readonly valueSubjects = new Map<string, BehaviorSubject<unknown>>();
  /** The refresh queue, reused by every refresh that does not run inside another. */
  private readonly queue = new MinQueue();
  /**
   * Edges whose freshness may have changed (a selection at either end changed), as
   * indexes into `edges`; the next walk rechecks these alone. An edge's freshness
   * depends only on selections, so a wide join costs O(1) per parent that completes,
   * not a rescan of all its edges.
   */
  private dirty: number[] = [];
  /** @internal Edge checks, freshness evaluations and reads hashed into keys so far (what a refresh costs, counted). */
  work = 0;

  constructor(
    readonly graph: Graph,
    readonly sheetId: string,
    loaded: SheetState,
  ) {
    for (const [id, v] of Object.entries(loaded.inputs)) this.inputs.set(id, v);
    for (const [id, rev] of Object.entries(loaded.inputRevs ?? {})) this.inputRevs.set(id, rev);
    this.selected = new Selections(this);
    const loadedSel = new Map<string, ResultRecord>();
    for (const r of loaded.selected) if (graph.has(r.nodeId)) loadedSel.set(r.nodeId, r);
    // A node a restart cut short shows as failed with the interruption's error until it runs again.
    const cut = new Map((loaded.interrupted ?? []).map((r) => [r.nodeId, r]));
    const nodes = graph.nodes;
    const n = nodes.length;
    const slots = (this.slotAt = new Array<Slot>(n));
    this.startedAt = new Float64Array(n).fill(Number.NaN);
    const orderOf = (id: string) => graph.order(id);
    for (let order = 0; order < n; order++) {
      const node = nodes[order]!;
      const sel = loadedSel.get(node.id);
      const interrupted = cut.get(node.id);
      const activity = interrupted ? Activity.FAILED : sel?.status === ResultStatus.SKIPPED ? Activity.SKIPPED : Activity.IDLE;
      const slot = (slots[order] = new Slot(node, fingerprintHash(node), order, sel, activity, loaded.counts[node.id] ?? 0));
      if (interrupted?.error) auxOf(slot).error = interrupted.error;
    }

    // Children, and the fixed reads with the parents they count.
    const children = new Lists(n);
    const watchers = new Lists(n);
    const readOff = (this.readOff = new Int32Array(n + 1));
    const outReads = new Lists(n);
    const readOwner: number[] = [];
    const readSrc: number[] = [];
    for (let o = 0; o < n; o++) {
      const slot = slots[o]!;
      for (const c of graph.children(slot.node.id)) children.add(o, orderOf(c));
      readOff[o + 1] = readOff[o]!;
      if (!slot.fixed) continue;
      const ports = slot.node.activePorts(NO_VALUES);
      const parents = parentsOf(slot.node, ports);
      slot.staleParents = parents.length; // every slot starts "empty"
      for (const p of parents) watchers.add(orderOf(p), o);
      for (const r of readsOf(slot.node, ports)) {
        const i = this.readLabel.push(r.label) - 1;
        this.readFrom.push(r.from);
        readOwner.push(o);
        this.readNow.push(undefined);
        this.readBasis.push(undefined);
        if (r.each !== undefined) this.readEach.set(i, r.each);
        if (Array.isArray(r.from)) {
          const at = (r.from as readonly Source[]).map((f) => slots[orderOf(f.node.id)]!);
          this.readSlots.set(i, at);
          readSrc.push(-1);
          for (const f of at) outReads.add(f.order, i);
        } else {
          const src = orderOf((r.from as Source).node.id);
          readSrc.push(src);
          outReads.add(src, i);
        }
      }
      readOff[o + 1] = this.readLabel.length;
    }
    [this.childOff, this.childAt] = children.done();
    [this.watchOff, this.watchAt] = watchers.done();
    let at: Int32Array;
    [this.outReadOff, this.outReadAt] = outReads.done();
    this.readOwner = Int32Array.from(readOwner);
    this.readSrc = Int32Array.from(readSrc);

    // Edges, grouped by downstream node (in the graph's order among one node's), and out of each node.
    const into = new Lists(n);
    const all = graph.edges;
    for (let k = 0; k < all.length; k++) into.add(orderOf(all[k]!.to.node), k);
    [this.inOff, at] = into.done();
    const m = at.length;
    this.edges = Array.from(at, (k) => all[k]!);
    this.edgeSrc = new Int32Array(m);
    this.edgeDst = new Int32Array(m);
    this.edgeFreshAt = new Uint8Array(m);
    const out = new Lists(n);
    for (let o = 0; o < n; o++) {
      for (let k = this.inOff[o]!; k < this.inOff[o + 1]!; k++) {
        const src = orderOf(this.edges[k]!.from.node);
        this.edgeSrc[k] = src;
        this.edgeDst[k] = o;
        out.add(src, k);
      }
    }
    [this.outOff, this.outAt] = out.done();

    for (let i = 0; i < this.readLabel.length; i++) this.readNow[i] = this.readHash(i);
    for (const slot of slots) if (slot.sel) this.edgesChanged(slot);
    const ids = nodes.map((node) => node.id);
    this.refresh(ids, ids, false);
  }

  /** Whether anyone listens to the events (building an event nobody reads is skipped). */
  get watched(): boolean {
    return this.events.observed;
  }

  emit(event: EngineEvent): void {
    this.events.next(event);
  }

  private slot(nodeId: string): Slot {
    const s = this.slotAt[this.graph.order(nodeId)];
    if (!s) this.graph.node(nodeId); // throws the coded unknown-node error
    return s!;
  }

  /** @internal The node's slot, or undefined for a node not in the graph. */
  slotOf(nodeId: string): Slot | undefined {
    return this.slotAt[this.graph.order(nodeId)];
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
    return parentsOf(node, this.slot(node.id).fixed ? node.activePorts(NO_VALUES) : node.activePorts(this.editableValues(node)));
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
    const own = (s.ownText = s.hasOwn ? canonical(this.ownInputsForKey(node)) : "{}");
    let text = `${s.fingerprint}|${own}|{`;
    if (s.fixed) {
      // A fixed read's upstream hash now is kept by the view (`now`): nothing to look up.
      const start = this.readOff[s.order]!;
      const end = this.readOff[s.order + 1]!;
      this.work += end - start;
      for (let i = start; i < end; i++) {
        const h = this.readNow[i];
        if (h === undefined) return undefined;
        if (i > start) text += ",";
        const each = this.readEach.size ? this.readEach.get(i) : undefined;
        text += keyPiece(this.readLabel[i]!, each, h);
      }
    } else {
      const reads = readsOf(node, node.activePorts(this.editableValues(node)));
      this.work += reads.length;
      for (let i = 0; i < reads.length; i++) {
        const r = reads[i]!;
        let h: string | undefined;
        if (!Array.isArray(r.from)) h = this.hashOf(r.from as Source);
        else {
          for (const from of r.from as readonly Source[]) {
            const each = this.hashOf(from);
            if (each === undefined) return undefined;
            if (h === undefined && each !== SKIPPED_HASH) h = each;
          }
          h ??= SKIPPED_HASH;
        }
        if (h === undefined) return undefined;
        if (i > 0) text += ",";
        text += keyPiece(r.label, r.each, h);
      }
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

  freshnessOf(nodeId: string): Freshness {
    return this.slotOf(nodeId)?.freshness ?? "empty";
  }

  edgeIsFresh(edgeId: string): boolean {
    if (!this.edgeIndex) {
      this.edgeIndex = new Map();
      for (let k = 0; k < this.edges.length; k++) this.edgeIndex.set(this.edges[k]!.id, k);
    }
    const k = this.edgeIndex.get(edgeId);
    return k !== undefined && this.edgeFreshAt[k] === 1;
  }

  /** Queues every edge into and out of a node whose selection changed, for the next walk. */
  private edgesChanged(s: Slot): void {
    const o = s.order;
    for (let k = this.inOff[o]!; k < this.inOff[o + 1]!; k++) this.dirty.push(k);
    for (let i = this.outOff[o]!; i < this.outOff[o + 1]!; i++) this.dirty.push(this.outAt[i]!);
  }

  /** Queues a node's children (whose keys or freshness may follow its own). */
  private enqueueChildren(queue: MinQueue, s: Slot): void {
    const end = this.childOff[s.order + 1]!;
    for (let i = this.childOff[s.order]!; i < end; i++) {
      const c = this.slotAt[this.childAt[i]!]!;
      if (!c.fixed) c.keyed = false;
      queue.push(c);
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
      for (const id of selectionChanged) this.enqueueChildren(queue, this.slot(id));
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
      this.enqueueChildren(queue, s);
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
          const end = this.watchOff[s.order + 1]!;
          for (let i = this.watchOff[s.order]!; i < end; i++) this.slotAt[this.watchAt[i]!]!.staleParents += was ? 1 : -1;
        }
        if (watched) (nodes ??= {})[s.node.id] = f;
        this.changed(s);
        this.enqueueChildren(queue, s);
      }
    }
    if (this.dirty.length) {
      const dirty = this.dirty;
      this.dirty = [];
      for (let j = 0; j < dirty.length; j++) {
        this.work++;
        const k = dirty[j]!;
        const ef = this.edgeFresh(k) ? 1 : 0;
        if (this.edgeFreshAt[k] !== ef) {
          this.edgeFreshAt[k] = ef;
          if (watched) (edges ??= {})[this.edges[k]!.id] = ef === 1;
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
    // The same text as the selection's key: keep one string of the two.
    s.key = sel.key;
    if (s.fixed && s.basisSel !== sel) {
      // The key was made from every read's hash now (a read that changes drops the key): those are the basis.
      const end = this.readOff[s.order + 1]!;
      for (let i = this.readOff[s.order]!; i < end; i++) this.readBasis[i] = this.readNow[i];
      s.basisSel = sel;
      s.basisOwn = s.ownText;
      s.diffs = 0;
    }
    return true;
  }

  /** A node's selection changed: the reads of its children that take its values follow. */
  private readsChanged(s: Slot): void {
    const end = this.outReadOff[s.order + 1]!;
    for (let j = this.outReadOff[s.order]!; j < end; j++) {
      const i = this.outReadAt[j]!;
      const was = this.readNow[i];
      const now = this.readHash(i);
      if (now === was) continue;
      this.readNow[i] = now;
      const owner = this.slotAt[this.readOwner[i]!]!;
      owner.keyed = false;
      if (owner.basisSel) {
        const basis = this.readBasis[i];
        if (was === basis) owner.diffs++;
        else if (now === basis) owner.diffs--;
      }
    }
  }

  private parentsFresh(s: Slot): boolean {
    if (s.fixed) return s.staleParents === 0;
    return this.activeParents(s.node).every((p) => this.slotOf(p)?.freshness === "fresh");
  }

  /** Makes `record` the node's selection and updates values, keys and freshness downstream. */
  select(record: ResultRecord | null, nodeId = record?.nodeId): void {
    if (!nodeId) return;
    const s = this.slot(nodeId);
    s.sel = record ?? undefined;
    this.edgesChanged(s);
    this.readsChanged(s);
    this.changed(s);
    if (this.events.observed) this.emit({ type: "selection-changed", sheetId: this.sheetId, nodeId, resultId: record?.id ?? null, result: record ?? undefined });
    const outs = s.aux?.outs;
    if (outs) for (const port of Object.keys(s.node.outputs)) outs.get(port)?.next(record?.outputs[port]);
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

  private changed(s: Slot): void {
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

  /** Whether the downstream of edge `k` consumed its upstream's selected result. */
  private edgeFresh(k: number): boolean {
    const sel = this.slotAt[this.edgeDst[k]!]!.sel;
    const up = sel && this.slotAt[this.edgeSrc[k]!]!.sel;
    return !!up && sel!.upstream[this.edges[k]!.to.port] === up.id;
  }

  /** The upstream hash fixed read `i` enters its owner's key with now (undefined while one of its sources has none). */
  private readHash(i: number): string | undefined {
    const src = this.readSrc[i]!;
    if (src >= 0) return selectedHash(this.slotAt[src]!, (this.readFrom[i] as Source).port);
    const slots = this.readSlots.get(i)!;
    const from = this.readFrom[i] as readonly Source[];
    let h: string | undefined;
    for (let k = 0; k < slots.length; k++) {
      const each = selectedHash(slots[k]!, from[k]!.port);
      if (each === undefined) return undefined;
      if (h === undefined && each !== SKIPPED_HASH) h = each;
    }
    return h ?? SKIPPED_HASH;
  }

  complete(): void {
    for (const s of this.slotAt) s.aux?.subject?.complete();
    for (const s of this.valueSubjects.values()) s.complete();
    this.events.complete();
  }
}

/** The fields `patchState` sets: an activity, a history count, and what a node's run reports. */
export type StatePatch = Partial<Pick<NodeState, "activity" | "count" | "progress" | "partial" | "error" | "items">>;

const EXTRA_KEYS = ["progress", "partial", "error", "items"] as const;

/** A read's piece of the key text: `"port":"hash"`, as canonical JSON writes it. */
function keyPiece(label: string, each: string | undefined, h: string): string {
  // An output hash is a hex digest (or the skipped marker): as JSON it only needs quotes.
  return each === undefined ? `${label}"${h}"` : label + quote(`${h}|each:${each}`);
}

/** The hash a downstream key takes from a slot's selected output (see `hashOf`). */
function selectedHash(s: Slot, port: string): string | undefined {
  const sel = s.sel;
  if (!sel) return undefined;
  return sel.status === ResultStatus.SKIPPED ? SKIPPED_HASH : sel.outputHashes[port];
}

/** The selected result of each node, as a read-only map over the view's slots. */
export class Selections {
  constructor(private readonly view: SheetView) {}
  get(nodeId: string): ResultRecord | undefined {
    return this.view.slotOf(nodeId)?.sel;
  }
  has(nodeId: string): boolean {
    return this.view.slotOf(nodeId)?.sel !== undefined;
  }
}

/**
 * Pairs (owner, item) gathered in any order, made into an offset table by owner and one
 * flat list of items (a counting sort: an owner's items keep the order they came in).
 */
class Lists {
  private readonly owners: number[] = [];
  private readonly items: number[] = [];
  constructor(private readonly n: number) {}

  add(owner: number, item: number): void {
    this.owners.push(owner);
    this.items.push(item);
  }

  done(): [Int32Array, Int32Array] {
    const n = this.n;
    const off = new Int32Array(n + 1);
    for (const o of this.owners) off[o + 1] = off[o + 1]! + 1;
    for (let i = 0; i < n; i++) off[i + 1] = off[i + 1]! + off[i]!;
    const at = new Int32Array(this.owners.length);
    const next = off.slice(0, n);
    for (let k = 0; k < this.owners.length; k++) {
      const o = this.owners[k]!;
      at[next[o]!] = this.items[k]!;
      next[o] = next[o]! + 1;
    }
    return [off, at];
  }
}

import type { Graph } from "../graph/index.js";
import type { Freshness } from "./events.js";
import { keyedObject } from "./keyed.js";
import { canonical } from "./recipe-key.js";
import type { ResultRecord } from "./records.js";
import { SheetKeys } from "./sheet-keys.js";
import { MinQueue, type Slot } from "./slot.js";
import type { SheetState } from "./store.js";

export { Activity, type NodeState, Selections, type StatePatch } from "./node-states.js";
export { SKIPPED_HASH } from "./sheet-keys.js";

/**
 * The in-memory state of one open sheet: input values, selections, recipe keys and
 * freshness, with Observables over them. Key and freshness updates are incremental:
 * a change recomputes only the changed node and what lies downstream of it.
 *
 * It is built in layers, each a class extending the one before and each one idea:
 * node-states.ts (a slot per node, and the `NodeState`s and events made from the slots),
 * sheet-tables.ts (the flat per-node lists the walks follow), sheet-keys.ts (input values
 * and recipe keys), and this file (freshness: the walk that keeps keys and freshness
 * current downstream of a change). One class at the end means one object shape: the hot
 * paths read fields of `this` as before the split, with no object between them.
 */
export class SheetView extends SheetKeys {
  /** Edge ids to edge indexes (`graph.edges` order), made on first ask. */
  private edgeIndex: Map<string, number> | undefined = undefined;
  /** The refresh queue, reused by every refresh that does not run inside another. */
  private readonly queue = new MinQueue();
  /**
   * Edges whose freshness may have changed (a selection at either end changed), as
   * edge indexes; the next walk rechecks these alone. An edge's freshness
   * depends only on selections, so a wide join costs O(1) per parent that completes,
   * not a rescan of all its edges. A typed list kept between walks with its count: a
   * fresh `[]` per walk grew a new store (152 bytes) for every node selected.
   */
  private dirty = new Int32Array(16);
  private dirtyN = 0;

  constructor(graph: Graph, sheetId: string, loaded: SheetState) {
    super(graph, sheetId, loaded);
    for (const slot of this.slotAt) if (slot.sel) this.edgesChanged(slot);
    // Every key and freshness from scratch: `refresh(all, all)`, by position (every child is queued already).
    const queue = this.takeQueue();
    try {
      for (const slot of this.slotAt) {
        slot.keyed = false;
        queue.push(slot);
      }
      this.walk(queue, false);
    } finally {
      queue.clear();
    }
  }

  freshnessOf(nodeId: string): Freshness {
    return this.slotOf(nodeId)?.freshness ?? "empty";
  }

  /** @internal `freshnessOf` the node at position `at` of `graph.nodes`. */
  freshnessAt(at: number): Freshness {
    return this.slotAt[at]!.freshness;
  }

  edgeIsFresh(edgeId: string): boolean {
    if (!this.edgeIndex) {
      this.edgeIndex = new Map();
      for (let k = 0; k < this.edgeSrc.length; k++) this.edgeIndex.set(this.graph.edgeId(k), k);
    }
    const k = this.edgeIndex.get(edgeId);
    return k !== undefined && this.edgeFreshAt[k] === 1;
  }

  /** Queues every edge into and out of a node whose selection changed, for the next walk. */
  private edgesChanged(s: Slot): void {
    const o = s.order;
    for (let k = this.inOff[o]!; k < this.inOff[o + 1]!; k++) this.markDirty(k);
    for (let i = this.outOff[o]!; i < this.outOff[o + 1]!; i++) this.markDirty(this.outAt[i]!);
  }

  private markDirty(k: number): void {
    if (this.dirtyN === this.dirty.length) {
      const grown = new Int32Array(this.dirty.length * 2);
      grown.set(this.dirty);
      this.dirty = grown;
    }
    this.dirty[this.dirtyN++] = k;
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

  /**
   * When someone watches, the changes are gathered for one `freshness-changed` event, in
   * maps made for many keys (a `{}` given a new node or edge id each time grew V8's
   * table of shapes and went to the runtime per key: ~4 us a completion), with edge ids
   * from the graph's edge list, made once (`edgeId` would build each id anew).
   */
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
        if (watched) (nodes ??= keyedObject())[s.node.id] = f;
        this.changed(s);
        this.enqueueChildren(queue, s);
      }
    }
    if (this.dirtyN) {
      // Checking an edge marks none, so the list is read in place and emptied first.
      const dirty = this.dirty;
      const n = this.dirtyN;
      this.dirtyN = 0;
      for (let j = 0; j < n; j++) {
        this.work++;
        const k = dirty[j]!;
        const ef = this.edgeFresh(k) ? 1 : 0;
        if (this.edgeFreshAt[k] !== ef) {
          this.edgeFreshAt[k] = ef;
          if (watched) (edges ??= keyedObject())[this.graph.edges[k]!.id] = ef === 1;
        }
      }
      // Opening a restored sheet marks every edge at once: that store is not kept for the small walks after.
      if (dirty.length > 4096) this.dirty = new Int32Array(16);
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
    const key = this.keyOf(s);
    if (key === sel.key) s.key = sel.key; // the same text as the selection's key: keep one string of the two
    else if (!this.legacyScheme || key === undefined || !this.isOlderKey(s.node, key, sel.key)) return false;
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

  /** Whether the downstream of edge `k` consumed its upstream's selected result. */
  private edgeFresh(k: number): boolean {
    const sel = this.slotAt[this.edgeDst[k]!]!.sel;
    const up = sel && this.slotAt[this.edgeSrc[k]!]!.sel;
    return !!up && sel!.upstream[this.graph.edgeInPort(k)] === up.id;
  }
}

import type { Graph, Node } from "../graph/index.js";
import { NodeStates } from "./node-states.js";
import { NO_VALUES, type Slot, type Source, parentsOf, readsOf } from "./slot.js";
import type { SheetState } from "./store.js";

/*
 * The second layer of `SheetView` (state.ts): the per-node lists the key and freshness
 * walks follow — children, watchers, fixed reads, edges in and out — built once from
 * the graph when the sheet opens.
 *
 * They are flat lists shared by all slots, each node's items a range given by an offset
 * table indexed by topological order: a few objects per view, not ten arrays per node.
 */
export abstract class SheetTables extends NodeStates {
  /** Children of each node (`childOff[o]` to `childOff[o + 1]` in `childAt`), as orders: the graph's own table. */
  protected readonly childOff: Int32Array;
  protected readonly childAt: Int32Array;
  /** The fixed-read nodes that read from each node (they count its freshness in `staleParents`), as orders. */
  protected readonly watchOff: Int32Array;
  protected readonly watchAt: Int32Array;
  /**
   * The fixed reads of all nodes, a node's in key order from `readOff[o]`, as parallel
   * lists by read: its label, source(s), owner, the source's order (-1 for a `firstOf`
   * list, whose slots are in `readSlots`), its item field when scattered (`readEach`), its
   * upstream hash now (kept as upstream selections change) and its basis (see `Slot.basisSel`).
   */
  protected readonly readOff: Int32Array;
  protected readonly readLabel: string[] = [];
  protected readonly readFrom: Array<Source | readonly Source[]> = [];
  protected readonly readOwner: Int32Array;
  protected readonly readSrc: Int32Array;
  protected readonly readSlots = new Map<number, Slot[]>();
  protected readonly readEach = new Map<number, string>();
  protected readonly readNow: Array<string | undefined> = [];
  protected readonly readBasis: Array<string | undefined> = [];
  /** The fixed reads that take each node's values (their `now` follows its selection), as read indexes. */
  protected readonly outReadOff: Int32Array;
  protected readonly outReadAt: Int32Array;
  /**
   * Edges by their index in `graph.edges`, grouped by downstream node (`inOff`), with each
   * one's source and target order (the graph's own tables, shared) and freshness.
   */
  protected readonly inOff: Int32Array;
  protected readonly edgeSrc: Int32Array;
  protected readonly edgeDst: Int32Array;
  protected readonly edgeFreshAt: Uint8Array;
  /** The edges out of each node (`outOff`), as edge indexes. */
  protected readonly outOff: Int32Array;
  protected readonly outAt: Int32Array;

  constructor(graph: Graph, sheetId: string, loaded: SheetState) {
    super(graph, sheetId, loaded);
    const slots = this.slotAt;
    const n = slots.length;
    const { parentOff, parentAt, nodes } = graph;
    /** The position of `node`, a parent of the node at `o`: found among its first few parents, else by id. */
    const orderOf = (node: Node, o: number): number => {
      const end = Math.min(parentOff[o + 1]!, parentOff[o]! + 8);
      for (let k = parentOff[o]!; k < end; k++) if (nodes[parentAt[k]!] === node) return parentAt[k]!;
      return graph.order(node.id);
    };

    // Children, and the fixed reads with the parents they count.
    const watchers = new Lists(n);
    const readOff = (this.readOff = new Int32Array(n + 1));
    const outReads = new Lists(n);
    const readOwner: number[] = [];
    const readSrc: number[] = [];
    for (let o = 0; o < n; o++) {
      const slot = slots[o]!;
      readOff[o + 1] = readOff[o]!;
      if (!slot.fixed) continue;
      const ports = slot.node.activePorts(NO_VALUES);
      // Every slot starts "empty". A fixed node without backups reads from all its graph parents.
      if (!slot.node.backups.length) {
        slot.staleParents = parentOff[o + 1]! - parentOff[o]!;
        for (let k = parentOff[o]!; k < parentOff[o + 1]!; k++) watchers.add(parentAt[k]!, o);
      } else {
        const parents = parentsOf(slot.node, ports);
        slot.staleParents = parents.length;
        for (const p of parents) watchers.add(graph.order(p), o);
      }
      for (const r of readsOf(slot.node, ports)) {
        const i = this.readLabel.push(r.label) - 1;
        this.readFrom.push(r.from);
        readOwner.push(o);
        this.readNow.push(undefined);
        this.readBasis.push(undefined);
        if (r.each !== undefined) this.readEach.set(i, r.each);
        if (Array.isArray(r.from)) {
          const at = (r.from as readonly Source[]).map((f) => slots[orderOf(f.node, o)]!);
          this.readSlots.set(i, at);
          readSrc.push(-1);
          for (const f of at) outReads.add(f.order, i);
        } else {
          const src = orderOf((r.from as Source).node, o);
          readSrc.push(src);
          outReads.add(src, i);
        }
      }
      readOff[o + 1] = this.readLabel.length;
    }
    this.childOff = graph.childOff;
    this.childAt = graph.childAt;
    [this.watchOff, this.watchAt] = watchers.done();
    [this.outReadOff, this.outReadAt] = outReads.done();
    this.readOwner = Int32Array.from(readOwner);
    this.readSrc = Int32Array.from(readSrc);

    // Edges, as the graph numbers them (grouped by downstream node), and out of each node.
    this.inOff = graph.inOff;
    const src = (this.edgeSrc = graph.edgeSrc);
    this.edgeDst = graph.edgeDst;
    this.edgeFreshAt = new Uint8Array(src.length);
    const out = new Lists(n);
    for (let k = 0; k < src.length; k++) out.add(src[k]!, k);
    [this.outOff, this.outAt] = out.done();
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

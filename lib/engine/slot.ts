import type { BehaviorSubject } from "rxjs";
import { type Edge, Node } from "../graph/index.js";
import type { Freshness } from "./events.js";
import { quote } from "./recipe-key.js";
import type { ResultRecord } from "./records.js";
import type { NodeState } from "./state.js";

/**
 * What the view keeps per node, in one object so the hot path makes one lookup. Every
 * field is set in the constructor, so all slots share one shape.
 */
export class Slot {
  /** The current recipe key, valid while `keyed`. */
  key: string | undefined = undefined;
  keyed = false;
  freshness: Freshness = "empty";
  /** The selected result (the view's `selected` map holds the same). */
  sel: ResultRecord | undefined;
  /** The working copy of the node's state; never handed out (see `snapshot`). */
  readonly state: NodeState;
  /** An immutable copy of `state`, made when someone asks and dropped on the next patch. */
  snapshot: NodeState | undefined = undefined;
  subject: BehaviorSubject<NodeState> | undefined = undefined;
  /** Subjects of this node's observed output ports. */
  outs: Map<string, BehaviorSubject<unknown>> | undefined = undefined;
  /** Freshness of each edge into the node, in `edgesIn` order. */
  readonly edgeFresh: boolean[];
  /**
   * Slots of its children, of the nodes it reads from (when static, like `reads`) and of
   * each edge's source, linked once every slot exists.
   */
  childSlots: Slot[] = NO_SLOTS;
  parentSlots: Slot[] | undefined = undefined;
  edgeFrom: Slot[] = NO_SLOTS;
  /** How many of `parentSlots` are not fresh, kept by the walk: "are my parents fresh?" in O(1). */
  staleParents = 0;
  /** The slots whose `parentSlots` hold this one (they count its freshness in `staleParents`). */
  watchers: Slot[] = NO_SLOTS;
  /** The edges out of this node, as their downstream slot and index there (parallel arrays). */
  outSlots: Slot[] = NO_SLOTS;
  outIndex: number[] = NO_SLOTS as unknown as number[];
  /** The static reads of other nodes that read from this one (their `now` follows its selection). */
  outReads: Read[] = NO_SLOTS as unknown as Read[];
  /**
   * The selection whose key was last confirmed equal to the current key, with the own
   * inputs' key text then (each read keeps its hash then as `basis`), and how many reads
   * differ from their basis now. While the selection stays and no read differs, the key
   * still matches: a wide join answers "is my key still the selected one?" in O(1) per
   * parent that changed, not by hashing all its reads again.
   */
  basisSel: ResultRecord | undefined = undefined;
  basisOwn = "";
  diffs = 0;
  /** The own inputs' key text of the key last computed. */
  ownText = "";
  /** The refresh queue this node waits in, if any. */
  queuedIn: MinQueue | undefined = undefined;
  /** Its upstream reads in key order, when they do not depend on its own input values (all but choice nodes). */
  readonly reads: readonly Read[] | undefined;
  /** Whether its key has own inputs (otherwise their part of the key is `{}`). */
  readonly hasOwn: boolean;

  constructor(
    readonly node: Node,
    readonly fingerprint: string,
    readonly order: number,
    readonly edgesIn: readonly Edge[],
    state: NodeState,
    selected: ResultRecord | undefined,
    staticPorts: boolean,
  ) {
    this.sel = selected;
    this.state = state;
    this.edgeFresh = edgesIn.length ? edgesIn.map(() => false) : (NO_FLAGS as boolean[]);
    const ports = staticPorts ? node.activePorts(NO_VALUES) : undefined;
    this.reads = ports && readsOf(node, ports);
    this.hasOwn = !ports || ports.some((p) => {
      const kind = node.inputs[p]?.kind;
      return kind !== "port" && kind !== "first";
    });
  }
}

/** One upstream value a key is made of: a wired port, a `firstOf` port, or a branch condition. */
export interface Read {
  /** `"port":`, as canonical JSON writes the key. */
  label: string;
  name: string;
  from: ReadonlyArray<{ node: Node; port: string }>;
  /** The last upstream hash this read entered a key with. */
  hash: string | undefined;
  /** The slots of `from`, linked by the view once every slot exists (static reads only). */
  slots: Slot[] | undefined;
  /** For a scattered port, its item field ("" for the items themselves). */
  each: string | undefined;
  /** The slot whose key this read is part of (static reads only). */
  owner: Slot | undefined;
  /** Its upstream hash now, kept by the view as upstream selections change (static reads only). */
  now: string | undefined;
  /** Its upstream hash when the owner's selection was last confirmed fresh (see `Slot.basisSel`). */
  basis: string | undefined;
}

/** A node's upstream reads, sorted as canonical JSON sorts object keys. */
export function readsOf(node: Node, ports: readonly string[]): Read[] {
  const reads: Read[] = [];
  if (node.guard) reads.push(read("$when", [node.guard.from], undefined));
  for (const port of ports) {
    const spec = node.inputs[port];
    if (spec?.kind === "port") reads.push(read(port, [spec.from], spec.scatter ? (spec.scatter.key ?? "") : undefined));
    else if (spec?.kind === "first") reads.push(read(port, spec.from, undefined));
  }
  // A copy holds exactly its reads (an array grown by push keeps room for 17).
  return reads.length > 1 ? reads.sort(byName).slice() : reads.slice();
}

function read(name: string, from: Read["from"], each: string | undefined): Read {
  return { label: `${quote(name)}:`.normalize(), name, from, hash: undefined, slots: undefined, each, owner: undefined, now: undefined, basis: undefined };
}

function byName(a: Read, b: Read): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

const NO_FLAGS: readonly boolean[] = Object.freeze([]);
/** The shared empty list a slot's lists start as (the view gives each its own when it has items). */
const NO_SLOTS = Object.freeze([]) as unknown as Slot[];

/** Appends to one of a slot's lists, giving it its own array on the first item. */
export function append<T>(list: T[], item: T): T[] {
  const own = list === (NO_SLOTS as unknown) ? [] : list;
  own.push(item);
  return own;
}

export const NO_VALUES: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

/** Whether a node reads the same ports whatever its own input values are (every kind but choice). */
export function hasStaticPorts(node: Node): boolean {
  return node.activePorts === Node.prototype.activePorts;
}

export function parentsOf(node: Node, ports: readonly string[]): string[] {
  // A Set keeps a wide join linear (an `includes` per port was quadratic in its width).
  const ids = new Set<string>();
  if (node.guard) ids.add(node.guard.from.node.id);
  for (const port of ports) {
    const spec = node.inputs[port];
    if (spec?.kind === "port") ids.add(spec.from.node.id);
    else if (spec?.kind === "first") for (const p of spec.from) ids.add(p.node.id);
  }
  return [...ids];
}

/**
 * Queues nodes whose inputs may have changed. A node with static reads keeps its key
 * (the view drops it when one of its reads or own inputs changes); the key of a node
 * whose reads depend on its own values is recomputed when next read.
 */
export function enqueueAll(queue: MinQueue, slots: readonly Slot[]): void {
  for (let i = 0; i < slots.length; i++) {
    const s = slots[i]!;
    if (!s.reads) s.keyed = false;
    queue.push(s);
  }
}

/** A priority queue of nodes by topological order; a node is in at most one queue at a time. */
export class MinQueue {
  private readonly heap: Slot[] = [];
  /** Whether no refresh is using this queue. */
  idle = true;

  push(s: Slot): void {
    if (s.queuedIn === this) return;
    s.queuedIn = this;
    const h = this.heap;
    let i = h.length;
    h.push(s);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = h[p]!;
      if (parent.order <= s.order) break;
      h[i] = parent;
      i = p;
    }
    h[i] = s;
  }

  pop(): Slot | undefined {
    const h = this.heap;
    if (!h.length) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    const n = h.length;
    if (n) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const m = r < n && h[r]!.order < h[l]!.order ? r : l;
        if (h[m]!.order >= last.order) break;
        h[i] = h[m]!;
        i = m;
      }
      h[i] = last;
    }
    top.queuedIn = undefined;
    return top;
  }

  /** Empties the queue (after a refresh that threw) and frees it for the next refresh. */
  clear(): void {
    for (const s of this.heap) s.queuedIn = undefined;
    this.heap.length = 0;
    this.idle = true;
  }
}

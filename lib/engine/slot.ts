import type { BehaviorSubject } from "rxjs";
import { Node } from "../graph/index.js";
import type { Freshness } from "./events.js";
import { quote } from "./recipe-key.js";
import type { ResultError, ResultRecord } from "./records.js";
import type { Activity, NodeState } from "./node-states.js";

/**
 * What few nodes need, made only for a node that has one of them: its run's progress,
 * partial outputs, error and items, a `NodeState` someone asked for (dropped on the next
 * change), and the subjects of an observed state and output ports.
 */
export interface Aux {
  progress: NodeState["progress"];
  partial: NodeState["partial"];
  error: ResultError | undefined;
  items: NodeState["items"];
  snapshot: NodeState | undefined;
  subject: BehaviorSubject<NodeState> | undefined;
  outs: Map<string, BehaviorSubject<unknown>> | undefined;
}

export function auxOf(s: Slot): Aux {
  return (s.aux ??= { progress: undefined, partial: undefined, error: undefined, items: undefined, snapshot: undefined, subject: undefined, outs: undefined });
}

/**
 * What the view keeps per node, in one object so the hot path makes one lookup. Every
 * field is set in the constructor, so all slots share one shape. A slot's lists (its
 * children, watchers, edges, reads) are not arrays of its own: they are ranges of flat
 * lists the view keeps for all slots at once, indexed by `order` (see sheet-tables.ts).
 */
export class Slot {
  /** The current recipe key, valid while `keyed`. */
  key: string | undefined = undefined;
  /** Freshness, `keyed`, `fixed` and `hasOwn` in one number (read through the accessors below). */
  private bits = 0;
  /** The selected result. */
  sel: ResultRecord | undefined;
  /** The node's state (see `NodeState`): the fields not read from elsewhere (its start time is the view's `startedAt`). */
  activity: Activity;
  count: number;
  runId: string | undefined = undefined;
  /** What few nodes need (see `Aux`). */
  aux: Aux | undefined = undefined;
  /** How many of the nodes it reads from are not fresh, kept by the walk: "are my parents fresh?" in O(1). */
  staleParents = 0;
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

  get freshness(): Freshness {
    return FRESHNESS[this.bits & FRESHNESS_BITS]!;
  }

  set freshness(f: Freshness) {
    this.bits = (this.bits & ~FRESHNESS_BITS) | (f === "fresh" ? 2 : f === "stale" ? 1 : 0);
  }

  /** Whether `key` is current. */
  get keyed(): boolean {
    return (this.bits & KEYED) !== 0;
  }

  set keyed(k: boolean) {
    this.bits = k ? this.bits | KEYED : this.bits & ~KEYED;
  }

  /**
   * Whether its reads do not depend on its own input values (all but choice nodes): its
   * reads and parents are then kept by the view, and its parents' freshness counted.
   */
  get fixed(): boolean {
    return (this.bits & FIXED) !== 0;
  }

  /** Whether its key has own inputs (otherwise their part of the key is `{}`). */
  get hasOwn(): boolean {
    return (this.bits & HAS_OWN) !== 0;
  }

  constructor(
    readonly node: Node,
    readonly fingerprint: string,
    readonly order: number,
    selected: ResultRecord | undefined,
    activity: Activity,
    count: number,
  ) {
    this.sel = selected;
    this.activity = activity;
    this.count = count;
    const fixed = hasStaticPorts(node);
    let hasOwn = !fixed;
    if (fixed) {
      const ports = node.activePorts(NO_VALUES);
      for (let i = 0; i < ports.length && !hasOwn; i++) {
        const kind = node.inputs[ports[i]!]?.kind;
        hasOwn = kind !== "port" && kind !== "first";
      }
    }
    this.bits = (fixed ? FIXED : 0) | (hasOwn ? HAS_OWN : 0);
  }
}

const FRESHNESS: readonly Freshness[] = ["empty", "stale", "fresh"];
const FRESHNESS_BITS = 3;
const KEYED = 4;
const FIXED = 8;
const HAS_OWN = 16;

export type Source = { readonly node: Node; readonly port: string };

/** One upstream value a key is made of: a wired port, a `firstOf` port, or a branch condition. */
export interface Read {
  /** The port name (`$when` for a branch condition). */
  name: string;
  /** `"port":`, as canonical JSON writes the key (one string per port name, shared). */
  label: string;
  /** Its source: one port, or a `firstOf` port's list. */
  from: Source | readonly Source[];
  /** For a scattered port, its item field ("" for the items themselves). */
  each: string | undefined;
}

/**
 * A node's upstream reads, sorted as canonical JSON sorts object keys. Made at open for
 * every node: the list is sized at once and sorted in place (no pairs to sort by).
 */
export function readsOf(node: Node, ports: readonly string[]): Read[] {
  const reads = new Array<Read>(ports.length + (node.guard ? 1 : 0));
  let n = 0;
  if (node.guard) reads[n++] = read("$when", node.guard.from, undefined);
  for (let i = 0; i < ports.length; i++) {
    const port = ports[i]!;
    const spec = node.inputs[port];
    if (spec?.kind === "port") reads[n++] = read(port, spec.from, spec.scatter ? (spec.scatter.key ?? "") : undefined);
    else if (spec?.kind === "first") reads[n++] = read(port, spec.from, undefined);
  }
  reads.length = n;
  if (n > 8) reads.sort(byName);
  else {
    // Insertion sort in place: Array#sort sets up about 800 bytes of work space even for two.
    for (let i = 1; i < n; i++) {
      const r = reads[i]!;
      let j = i - 1;
      while (j >= 0 && byName(reads[j]!, r) > 0) {
        reads[j + 1] = reads[j]!;
        j--;
      }
      reads[j + 1] = r;
    }
  }
  return reads;
}

function read(name: string, from: Read["from"], each: string | undefined): Read {
  return { name, label: labelOf(name), from, each };
}

/** One label string per port name, shared by every read of that name. */
const labels = new Map<string, string>();
function labelOf(name: string): string {
  let label = labels.get(name);
  if (label === undefined) labels.set(name, (label = `${quote(name)}:`.normalize()));
  return label;
}

function byName(a: Read, b: Read): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

export const NO_VALUES: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>;

/** Whether a node reads the same ports whatever its own input values are (every kind but choice). */
export function hasStaticPorts(node: Node): boolean {
  return node.activePorts === Node.prototype.activePorts;
}

export function parentsOf(node: Node, ports: readonly string[]): string[] {
  // A wide join goes through a Set, to stay linear (an `includes` per port was quadratic
  // in its width); a narrow node, every node of most graphs, scans its short list.
  if (ports.length > 16) return [...parentSet(node, ports)];
  const ids: string[] = [];
  if (node.guard) ids.push(node.guard.from.node.id);
  for (let i = 0; i < ports.length; i++) {
    const spec = node.inputs[ports[i]!];
    if (spec?.kind === "port") {
      if (!ids.includes(spec.from.node.id)) ids.push(spec.from.node.id);
    } else if (spec?.kind === "first") {
      if (ids.length + spec.from.length > 16) return [...parentSet(node, ports)];
      for (const p of spec.from) if (!ids.includes(p.node.id)) ids.push(p.node.id);
    }
  }
  return ids;
}

function parentSet(node: Node, ports: readonly string[]): Set<string> {
  const ids = new Set<string>();
  if (node.guard) ids.add(node.guard.from.node.id);
  for (const port of ports) {
    const spec = node.inputs[port];
    if (spec?.kind === "port") ids.add(spec.from.node.id);
    else if (spec?.kind === "first") for (const p of spec.from) ids.add(p.node.id);
  }
  return ids;
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
    // After a walk the queue is empty already: setting the length of an empty array to 0
    // would drop its store, and the next walk's first push would make a new one.
    if (this.heap.length) {
      for (const s of this.heap) s.queuedIn = undefined;
      this.heap.length = 0;
    }
    this.idle = true;
  }
}

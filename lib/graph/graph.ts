import { DaggrError, ErrorCode, checkOptions, unknownName } from "./errors.js";
import { inputId, slug } from "./ids.js";
import { Node, type NodeDescription } from "./node.js";
import type { OutPort } from "./ports.js";
import { getRuntime, type CallOptions, type LaunchOptions, type RuntimeSession, type SessionOptions } from "./runtime.js";

export interface GraphOptions {
  /** The app's name, shown on the canvas; required. */
  name: string;
  /** Nodes of the graph; the nodes they read from are added automatically. */
  nodes: Node[];
  /**
   * The database key for this app's sheets. Derived from the name ("My Cool App!" →
   * "my_cool_app") unless given; `false` keeps everything in memory.
   */
  persistKey?: string | false;
  /** Overrides the per-kind autorun default for every node that does not set its own. */
  autorun?: boolean;
}

/** A wire between an output port and an input port. */
export interface Edge {
  /** `from.node.from.port->to.node.to.port`, stable across reloads. */
  id: string;
  from: { node: string; port: string };
  to: { node: string; port: string };
  /** Scatter (`each`), gather (`all`), a `firstOf` source, or a branch condition (`when`, into port `$when`). */
  kind?: "each" | "all" | "first" | "when";
}

/** A weakly connected part of the graph, callable on its own through `/api/call/<id>`. */
export interface Subgraph {
  id: string;
  nodes: string[];
}

/**
 * A workflow: a DAG of nodes. Construction checks everything that can be checked
 * without the network: duplicate node ids, cycles and references to unknown ports.
 *
 * @example
 * export default new Graph({ name: "Transparent background", nodes: [cut, caption] });
 */
export class Graph {
  readonly name: string;
  readonly persistKey: string | false;
  readonly autorun: boolean | undefined;
  /** Nodes in a topological order (every node after all the nodes it reads from). */
  readonly nodes: readonly Node[];
  /**
   * @internal The edges by position, grouped by downstream node in topological order
   * (each node's inputs in order, then its branch condition), as `edges` lists them:
   * the upstream node's position, the downstream node's, and where each node's run
   * starts (`inOff[position]`, `inOff[nodes.length]` the count). Typed arrays, not an
   * object per edge: the `Edge` objects (and their ids) are made only when asked for.
   */
  readonly edgeSrc: Int32Array;
  readonly edgeDst: Int32Array;
  readonly inOff: Int32Array;
  /**
   * Per edge, its input port (a shared string: no new one) and kind (`KINDS`); its output
   * port is read off the node's input (`edgeOutPort`), or for a branch condition kept here
   * (a node's guard may be changed later; few edges are conditions).
   */
  private readonly whenPorts = new Map<number, string>();
  private readonly edgeToPort: string[];
  private readonly edgeKind: Uint8Array;
  /** `edges`, made on first use. */
  private edgeList: readonly Edge[] | undefined = undefined;
  /**
   * Per node id, the number the walk that collected the nodes gave it. A node's topological
   * position (its index in `nodes` and in the offset tables below) is `posOf` of it: the
   * map is made once, as the walk enters each node, and never rewritten.
   */
  private readonly entryOf: Map<string, number>;
  /** Per entry number (`entryOf`), the node's position: a position is `posOf[entryOf.get(id)]`. */
  private readonly posOf: Int32Array;
  /**
   * @internal Per position, its parents' positions (`parentAt` from `parentOff[o]` to
   * `parentOff[o + 1]`, in the order the node reads them) and its children's (`childAt`
   * by `childOff`, in topological order): flat typed arrays, not two lists per node.
   */
  readonly parentOff: Int32Array;
  readonly parentAt: Int32Array;
  readonly childOff: Int32Array;
  readonly childAt: Int32Array;
  /** The weakly connected parts, found on first use (only the API and the CLI ask). */
  private subgraphList: readonly Subgraph[] | undefined = undefined;

  constructor(options: GraphOptions) {
    checkOptions("Graph", options, ["name", "nodes", "persistKey", "autorun"]);
    if (!options || typeof options.name !== "string" || !options.name.trim()) {
      throw new DaggrError(ErrorCode.GRAPH_NAME_REQUIRED, 'A Graph needs a name, e.g. new Graph({ name: "My app", nodes: [...] }).');
    }
    if (!Array.isArray(options.nodes) || options.nodes.some((n) => !(n instanceof Node))) {
      throw new DaggrError(ErrorCode.BAD_OPTION, "Graph `nodes` must be an array of nodes (FnNode, GradioNode, InferenceNode, InputNode…).");
    }
    this.name = options.name;
    this.persistKey = options.persistKey === false ? false : (options.persistKey ?? slug(options.name, true));
    this.autorun = options.autorun;
    const layout = lay(options.nodes);
    this.nodes = layout.nodes;
    this.entryOf = layout.entryOf;
    this.posOf = layout.posOf;
    this.parentOff = layout.parentOff;
    this.parentAt = layout.parentAt;
    this.childOff = layout.childOff;
    this.childAt = layout.childAt;
    const nodes = this.nodes;
    const { parentOff, parentAt } = layout;
    const inOff = (this.inOff = new Int32Array(nodes.length + 1));
    // A node has an edge per parent or more (two ports may read one node): the typed
    // arrays start at that size, grow if needed, and are cut to size at the end.
    let src = new Int32Array(parentAt.length + 8);
    let dst = new Int32Array(src.length);
    let kind = new Uint8Array(src.length);
    const toPort: string[] = [];
    let k = 0;
    let j = 0;
    const add = (from: OutPort, port: string, edgeKind: number) => {
      if (k === src.length) [src, dst, kind] = [grow(src), grow(dst), grow(kind)];
      // The source is one of the node's parents: found among the first few, else by id.
      let at = -1;
      const end = Math.min(parentOff[j + 1]!, parentOff[j]! + 8);
      for (let i = parentOff[j]!; i < end && at < 0; i++) if (nodes[parentAt[i]!] === from.node) at = parentAt[i]!;
      src[k] = at >= 0 ? at : this.order(from.node.id);
      dst[k] = j;
      toPort.push(port);
      if (edgeKind === WHEN) this.whenPorts.set(k, from.port);
      kind[k++] = edgeKind;
    };
    for (; j < nodes.length; j++) {
      const n = nodes[j]!;
      for (const port in n.inputs) {
        const spec = n.inputs[port]!;
        if (spec.kind === "port") add(spec.from, port, spec.scatter ? EACH : spec.gather ? ALL : PLAIN);
        else if (spec.kind === "first") for (const p of spec.from) add(p, port, FIRST);
      }
      if (n.guard) add(n.guard.from, "$when", WHEN);
      inOff[j + 1] = k;
    }
    this.edgeSrc = src.length === k ? src : src.slice(0, k);
    this.edgeDst = dst.length === k ? dst : dst.slice(0, k);
    this.edgeKind = kind.length === k ? kind : kind.slice(0, k);
    // A copy without the room `push` left for growth: it is kept for the graph's life.
    this.edgeToPort = toPort.slice();
  }

  /** Every wire, grouped by downstream node in topological order; made on first use. */
  get edges(): readonly Edge[] {
    if (this.edgeList) return this.edgeList;
    const edges = new Array<Edge>(this.edgeSrc.length);
    for (let k = 0; k < edges.length; k++) {
      const from = { node: this.nodes[this.edgeSrc[k]!]!.id, port: this.edgeOutPort(k) };
      const to = { node: this.nodes[this.edgeDst[k]!]!.id, port: this.edgeToPort[k]! };
      const kind = KINDS[this.edgeKind[k]!];
      edges[k] = kind ? { id: this.edgeId(k), from, to, kind } : { id: this.edgeId(k), from, to };
    }
    return (this.edgeList = edges);
  }

  /**
   * @internal The id of edge `k` (its index in `edges`), `from.node.from.port->to.node.to.port`;
   * the `Edge`'s own when `edges` has been made, else a new string (one flat string: joined,
   * not concatenated, as V8 would keep a concatenation as a tree of its parts).
   */
  edgeId(k: number): string {
    if (this.edgeList) return this.edgeList[k]!.id;
    const from = this.nodes[this.edgeSrc[k]!]!.id;
    const to = this.nodes[this.edgeDst[k]!]!.id;
    return [from, ".", this.edgeOutPort(k), "->", to, ".", this.edgeToPort[k]!].join("");
  }

  /**
   * The output port edge `k` leaves, read off the input it enters: a wired port's source, a
   * branch condition's, or the n-th of a `firstOf` list (n counted back over the edges
   * into the same input).
   */
  private edgeOutPort(k: number): string {
    const node = this.nodes[this.edgeDst[k]!]!;
    const port = this.edgeToPort[k]!;
    const kind = this.edgeKind[k]!;
    if (kind === WHEN) return this.whenPorts.get(k)!;
    const spec = node.inputs[port]!;
    if (spec.kind === "port") return spec.from.port;
    if (spec.kind !== "first") throw new Error(`edge ${k} enters '${node.id}.${port}', which is not wired`);
    let n = 0;
    for (let i = k - 1; i >= this.inOff[this.edgeDst[k]!]! && this.edgeToPort[i] === port; i--) n++;
    return spec.from[n]!.port;
  }

  /** @internal The input port edge `k` enters (`$when` for a branch condition). */
  edgeInPort(k: number): string {
    return this.edgeToPort[k]!;
  }

  /** Weakly connected parts of the graph, each callable on its own; "main" when there is one. */
  get subgraphs(): readonly Subgraph[] {
    return (this.subgraphList ??= components(this.nodes, this.parentOff, this.parentAt, this.childOff, this.childAt));
  }

  /** The node with this id; a coded error naming the nearest id otherwise. */
  node(id: string): Node {
    const at = this.at(id);
    if (at === undefined) throw unknownName(ErrorCode.UNKNOWN_NODE, "node", id, [...this.entryOf.keys()]);
    return this.nodes[at]!;
  }

  has(id: string): boolean {
    return this.entryOf.has(id);
  }

  /** Position of a node in the topological order. */
  order(id: string): number {
    const e = this.entryOf.get(id);
    return e === undefined ? -1 : this.posOf[e]!;
  }

  /** The ids of a node's parents, in the order it reads them (a new list each call; none for an unknown id). */
  parents(id: string): readonly string[] {
    const at = this.at(id);
    return at === undefined ? NO_IDS : this.idsIn(this.parentOff, this.parentAt, at);
  }

  /** The ids of a node's children, in topological order (a new list each call; none for an unknown id). */
  children(id: string): readonly string[] {
    const at = this.at(id);
    return at === undefined ? NO_IDS : this.idsIn(this.childOff, this.childAt, at);
  }

  /** A node's position, undefined for an unknown id. */
  private at(id: string): number | undefined {
    const e = this.entryOf.get(id);
    return e === undefined ? undefined : this.posOf[e];
  }

  /** How many nodes a node reads from (0 for an unknown id), without making the list. */
  parentCount(id: string): number {
    const at = this.at(id);
    return at === undefined ? 0 : this.parentOff[at + 1]! - this.parentOff[at]!;
  }

  private idsIn(off: Int32Array, list: Int32Array, at: number): readonly string[] {
    const from = off[at]!;
    const size = off[at + 1]! - from;
    if (!size) return NO_IDS;
    const ids = new Array<string>(size);
    for (let k = 0; k < size; k++) ids[k] = this.nodes[list[from + k]!]!.id;
    return ids;
  }

  /** Every node reachable downstream of `ids` (excluding them unless `inclusive`), in topological order. */
  descendants(ids: Iterable<string>, inclusive = false): string[] {
    return this.walk(ids, this.childOff, this.childAt, inclusive);
  }

  /** Every node upstream of `ids` (excluding them unless `inclusive`), in topological order. */
  ancestors(ids: Iterable<string>, inclusive = false): string[] {
    return this.walk(ids, this.parentOff, this.parentAt, inclusive);
  }

  /** A walk over positions: its cost follows the nodes it reaches, not the graph's size. */
  private walk(ids: Iterable<string>, off: Int32Array, list: Int32Array, inclusive: boolean): string[] {
    const seen = new Set<number>();
    const stack: number[] = [];
    const out: string[] = []; // unknown ids, kept first when inclusive (they have no position)
    for (const id of ids) {
      const at = this.at(id);
      if (at === undefined) {
        if (inclusive && !out.includes(id)) out.push(id);
        continue;
      }
      if (inclusive) seen.add(at);
      stack.push(at);
    }
    while (stack.length) {
      const at = stack.pop()!;
      for (let k = off[at]!; k < off[at + 1]!; k++) {
        const m = list[k]!;
        if (!seen.has(m)) {
          seen.add(m);
          stack.push(m);
        }
      }
    }
    const order = Int32Array.from(seen).sort();
    for (let k = 0; k < order.length; k++) out.push(this.nodes[order[k]!]!.id);
    return out;
  }

  /** Effective autorun of a node: its own option, else the graph's, else its kind's default. */
  autorunOf(node: Node): boolean {
    return node.options.autorun ?? this.autorun ?? node.defaultAutorun;
  }

  /** The subgraph holding a node, or the one with this id. */
  subgraph(id: string): Subgraph {
    const sg = this.subgraphs.find((s) => s.id === id) ?? this.subgraphs.find((s) => s.nodes.includes(id));
    if (!sg) throw unknownName(ErrorCode.UNKNOWN_SUBGRAPH, "subgraph", id, this.subgraphs.map((s) => s.id));
    return sg;
  }

  /** Ids of every editable input, `node__port`, as the REST API names them. */
  inputIds(): string[] {
    return this.nodes.flatMap((n) => n.editablePorts().map((p) => inputId(n.id, p)));
  }

  describe(): { name: string; nodes: NodeDescription[]; edges: Edge[]; subgraphs: Subgraph[] } {
    return {
      name: this.name,
      nodes: this.nodes.map((n) => n.describe(this.autorunOf(n))),
      edges: [...this.edges],
      subgraphs: [...this.subgraphs],
    };
  }

  /**
   * Opens a headless session on a sheet: observe values, edit inputs, run nodes.
   * Sessions on the same sheet (and store) share their state.
   *
   * @example
   * const s = await graph.session();
   * s.set(caption.in.text, "hi");
   * s.value(caption.out.upper).subscribe(console.log);
   */
  session(options: SessionOptions = {}): Promise<RuntimeSession> {
    // Typed by name: an inferred type would be the engine's `Session`, written into this
    // file's declarations as an import of the engine, which imports the graph layer (a cycle).
    return getRuntime().session(this, options);
  }

  /**
   * Runs a subgraph once, as `POST /api/call` does: inputs by `node__port` id, the
   * outputs of its leaf nodes returned by node id.
   */
  call(inputs: Record<string, unknown> = {}, options: CallOptions = {}) {
    return getRuntime().call(this, inputs, options);
  }

  /** Serves the canvas and API: `http://127.0.0.1:7860` by default. */
  launch(options: LaunchOptions = {}) {
    return getRuntime().launch(this, options);
  }
}

const NO_IDS = Object.freeze([]) as unknown as string[];

/** A copy of `a` twice as long. */
function grow<T extends Int32Array | Uint8Array>(a: T): T {
  const b = new (a.constructor as new (n: number) => T)(a.length * 2);
  b.set(a);
  return b;
}

/** Edge kinds by number, as `edgeKind` keeps them. */
const PLAIN = 0, EACH = 1, ALL = 2, FIRST = 3, WHEN = 4;
const KINDS: ReadonlyArray<Edge["kind"]> = [undefined, "each", "all", "first", "when"];

interface Layout {
  nodes: Node[];
  entryOf: Map<string, number>;
  posOf: Int32Array;
  parentOff: Int32Array;
  parentAt: Int32Array;
  childOff: Int32Array;
  childAt: Int32Array;
}

/**
 * The listed nodes and everything upstream of them, in a topological order that keeps
 * the user's order among independent nodes, with each node's parents and children.
 *
 * A depth-first walk with an explicit stack collects the nodes (a chain a million nodes
 * deep needs no call stack), each after what it reads from, in the user's order; then
 * Kahn's algorithm orders them, reporting a cycle by its members. The walk numbers the
 * nodes as it enters them and keeps every node's upstream nodes in one flat list, so the
 * rest works on numbers in typed arrays: no map, set or list per node.
 */
function lay(roots: readonly Node[]): Layout {
  // Node id → the number it was entered with. Keyed by id, not by node: one map serves the
  // walk, the check for duplicate ids and the graph's lookups (with `topo`).
  const entry = new Map<string, number>();
  const entered: Node[] = [];
  const ups: Node[] = []; // every entered node's upstream nodes, one run each
  const upIdx: number[] = []; // the same, as entry numbers
  const upStart: number[] = []; // per entry number, its run in `ups`
  const upEnd: number[] = [];
  const post: number[] = []; // entry numbers, each after the nodes it reads from
  // Frames of the walk: an entry number, and the next of its upstream nodes to visit.
  const stack: number[] = [];
  const cursor: number[] = [];
  /** Numbers a node, notes its upstream nodes, and pushes its frame; returns its number. */
  const enter = (n: Node): number => {
    const e = entered.length;
    entry.set(n.id, e);
    entered.push(n);
    upStart.push(ups.length);
    n.upstreamInto(ups);
    upEnd.push(ups.length);
    while (upIdx.length < ups.length) upIdx.push(-1);
    stack.push(e);
    cursor.push(upStart[e]!);
    return e;
  };
  /** The number `n` was entered with, if it was; a coded error if another node has its id. */
  const enteredAs = (n: Node): number | undefined => {
    const e = entry.get(n.id);
    if (e !== undefined && entered[e] !== n) {
      throw new DaggrError(
        ErrorCode.DUPLICATE_NODE,
        `Two nodes have the id '${n.id}' (${entered[e]} and ${n}). Give one of them a distinct \`name\`.`,
        { got: n.id },
      );
    }
    return e;
  };
  for (const root of roots) {
    if (enteredAs(root) !== undefined) continue;
    enter(root);
    while (stack.length) {
      const top = stack.length - 1;
      const f = stack[top]!;
      const i = cursor[top]!;
      if (i < upEnd[f]!) {
        cursor[top] = i + 1;
        const u = ups[i]!;
        // Entered before: done, or on the current path (a cycle, reported below).
        const seen = enteredAs(u);
        if (seen !== undefined) {
          upIdx[i] = seen;
          continue;
        }
        upIdx[i] = enter(u);
        continue;
      }
      stack.pop();
      cursor.pop();
      post.push(f);
    }
  }
  const count = post.length;
  // Kahn's algorithm over positions in the walk's order (`rank`), seeded in that order.
  const rank = new Int32Array(count);
  for (let p = 0; p < count; p++) rank[post[p]!] = p;
  const indeg = new Int32Array(count);
  const kidStart = new Int32Array(count + 1);
  for (let p = 0; p < count; p++) {
    const e = post[p]!;
    indeg[p] = upEnd[e]! - upStart[e]!;
    for (let i = upStart[e]!; i < upEnd[e]!; i++) kidStart[rank[upIdx[i]!]! + 1]!++;
  }
  for (let p = 0; p < count; p++) kidStart[p + 1]! += kidStart[p]!;
  const kids = new Int32Array(kidStart[count]!);
  const fill = kidStart.slice(0, count);
  for (let p = 0; p < count; p++) {
    const e = post[p]!;
    for (let i = upStart[e]!; i < upEnd[e]!; i++) kids[fill[rank[upIdx[i]!]!]!++] = p;
  }
  const ready = new Int32Array(count);
  let tail = 0;
  for (let p = 0; p < count; p++) if (indeg[p] === 0) ready[tail++] = p;
  for (let head = 0; head < tail; head++) {
    const p = ready[head]!;
    for (let k = kidStart[p]!; k < kidStart[p + 1]!; k++) if (--indeg[kids[k]!]! === 0) ready[tail++] = kids[k]!;
  }
  if (tail !== count) {
    const stuck: string[] = [];
    for (let p = 0; p < count; p++) if (indeg[p]! > 0) stuck.push(entered[post[p]!]!.id);
    throw new DaggrError(ErrorCode.CYCLE, `The graph has a cycle through: ${stuck.join(" → ")}. A workflow must be acyclic.`, {
      nodes: stuck,
    });
  }
  // Topological positions; each node's parents in the order it reads them, children in topological order.
  const nodes = new Array<Node>(count);
  const topo = new Int32Array(count); // entry number → topological position
  for (let j = 0; j < count; j++) {
    const e = post[ready[j]!]!;
    topo[e] = j;
    nodes[j] = entered[e]!;
  }
  const parentOff = new Int32Array(count + 1);
  const childOff = new Int32Array(count + 1);
  for (let j = 0; j < count; j++) {
    const e = post[ready[j]!]!;
    parentOff[j + 1] = parentOff[j]! + upEnd[e]! - upStart[e]!;
    const p = ready[j]!;
    childOff[j + 1] = childOff[j]! + kidStart[p + 1]! - kidStart[p]!;
  }
  const parentAt = new Int32Array(parentOff[count]!);
  const childAt = new Int32Array(childOff[count]!);
  const childFill = childOff.slice(0, count);
  for (let j = 0; j < count; j++) {
    const e = post[ready[j]!]!;
    let w = parentOff[j]!;
    for (let i = upStart[e]!; i < upEnd[e]!; i++) {
      const parent = topo[upIdx[i]!]!;
      parentAt[w++] = parent;
      childAt[childFill[parent]!++] = j;
    }
  }
  return { nodes, entryOf: entry, posOf: topo, parentOff, parentAt, childOff, childAt };
}

/** The weakly connected parts, each listing its node ids in topological order. */
function components(nodes: readonly Node[], parentOff: Int32Array, parentAt: Int32Array, childOff: Int32Array, childAt: Int32Array): Subgraph[] {
  const seen = new Uint8Array(nodes.length);
  const groups: number[][] = [];
  const stack: number[] = [];
  const visit = (m: number) => {
    if (!seen[m]) {
      seen[m] = 1;
      stack.push(m);
    }
  };
  for (let j = 0; j < nodes.length; j++) {
    if (seen[j]) continue;
    const group: number[] = [];
    visit(j);
    while (stack.length) {
      const at = stack.pop()!;
      group.push(at);
      for (let k = parentOff[at]!; k < parentOff[at + 1]!; k++) visit(parentAt[k]!);
      for (let k = childOff[at]!; k < childOff[at + 1]!; k++) visit(childAt[k]!);
    }
    groups.push(group);
  }
  return groups.map((g, i) => ({
    id: groups.length === 1 ? "main" : `subgraph_${i}`,
    nodes: g.sort((a, b) => a - b).map((at) => nodes[at]!.id),
  }));
}

import { DaggrError, ErrorCode, checkOptions, unknownName } from "./errors.js";
import { inputId, slug } from "./ids.js";
import { Node, type NodeDescription } from "./node.js";
import { getRuntime, type CallOptions, type LaunchOptions, type SessionOptions } from "./runtime.js";

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
  readonly edges: readonly Edge[];
  readonly subgraphs: readonly Subgraph[];
  /** Per node id: the node, its topological position, its parents' and children's ids (one map, one entry each). */
  private readonly byId = new Map<string, Entry>();

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
    const { all, ups } = collect(options.nodes);
    for (const n of all) {
      const clash = this.byId.get(n.id)?.node;
      if (clash && clash !== n) {
        throw new DaggrError(
          ErrorCode.DUPLICATE_NODE,
          `Two nodes have the id '${n.id}' (${clash} and ${n}). Give one of them a distinct \`name\`.`,
          { got: n.id },
        );
      }
      this.byId.set(n.id, { node: n, order: -1, parents: NO_IDS, children: NO_IDS });
    }
    this.nodes = topoSort(all, ups);
    const nodes = this.nodes;
    const edges: Edge[] = [];
    // Children counted first, so each list is made at its size (a list grown by push keeps
    // room for 17 ids, and the graph keeps them for good).
    const kids = new Map<string, number>();
    for (let i = 0; i < nodes.length; i++) {
      const n = nodes[i]!;
      const entry = this.byId.get(n.id)!;
      entry.order = i;
      const up = ups.get(n)!;
      const ids = new Array<string>(up.length);
      for (let k = 0; k < up.length; k++) {
        const id = (ids[k] = up[k]!.id);
        kids.set(id, (kids.get(id) ?? 0) + 1);
      }
      entry.parents = ids;
      for (const port in n.inputs) {
        const spec = n.inputs[port]!;
        if (spec.kind === "port") edges.push(edge(spec.from, n.id, port, spec.scatter ? "each" : spec.gather ? "all" : undefined));
        else if (spec.kind === "first") for (const p of spec.from) edges.push(edge(p, n.id, port, "first"));
      }
      if (n.guard) edges.push(edge(n.guard.from, n.id, "$when", "when"));
    }
    const fill = new Map<string, number>();
    for (const n of nodes) {
      const count = kids.get(n.id);
      if (count) this.byId.get(n.id)!.children = new Array<string>(count);
    }
    for (const n of nodes) {
      for (const p of this.byId.get(n.id)!.parents) {
        const at = fill.get(p) ?? 0;
        this.byId.get(p)!.children[at] = n.id;
        fill.set(p, at + 1);
      }
    }
    this.edges = edges;
    this.subgraphs = components(nodes, this.byId);
  }

  /** The node with this id; a coded error naming the nearest id otherwise. */
  node(id: string): Node {
    const n = this.byId.get(id)?.node;
    if (!n) throw unknownName(ErrorCode.UNKNOWN_NODE, "node", id, [...this.byId.keys()]);
    return n;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  /** Position of a node in the topological order. */
  order(id: string): number {
    return this.byId.get(id)?.order ?? -1;
  }

  parents(id: string): readonly string[] {
    return this.byId.get(id)?.parents ?? NO_IDS;
  }

  children(id: string): readonly string[] {
    return this.byId.get(id)?.children ?? NO_IDS;
  }

  /** Every node reachable downstream of `ids` (excluding them unless `inclusive`), in topological order. */
  descendants(ids: Iterable<string>, inclusive = false): string[] {
    return this.walk(ids, (id) => this.children(id), inclusive);
  }

  /** Every node upstream of `ids` (excluding them unless `inclusive`), in topological order. */
  ancestors(ids: Iterable<string>, inclusive = false): string[] {
    return this.walk(ids, (id) => this.parents(id), inclusive);
  }

  private walk(ids: Iterable<string>, next: (id: string) => readonly string[], inclusive: boolean): string[] {
    const start = [...ids];
    const seen = new Set<string>(inclusive ? start : []);
    const stack = [...start];
    while (stack.length) {
      for (const m of next(stack.pop()!)) {
        if (!seen.has(m)) {
          seen.add(m);
          stack.push(m);
        }
      }
    }
    return [...seen].sort((a, b) => this.order(a) - this.order(b));
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
  session(options: SessionOptions = {}) {
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

/** What the graph keeps per node id. */
interface Entry {
  node: Node;
  order: number;
  parents: string[];
  children: string[];
}

/** The edge from an output port into `to`'s input `port`; its id is one flat string. */
function edge(src: { node: Node; port: string }, to: string, port: string, kind: Edge["kind"]): Edge {
  const from = { node: src.node.id, port: src.port };
  // Concatenated pieces would stay a tree of string parts for the graph's life.
  const id = flat(`${from.node}.${from.port}->${to}.${port}`);
  return kind ? { id, from, to: { node: to, port }, kind } : { id, from, to: { node: to, port } };
}

/** A string built by concatenation as one flat string (V8 keeps concatenations as trees until read whole). */
function flat(s: string): string {
  // `normalize` returns a flat copy (for text already in NFC form, as ids are).
  const f = s.normalize();
  return f === s ? f : s;
}

/**
 * The listed nodes and everything upstream of them, each after what it reads from, in the
 * user's order, with each node's upstream nodes (asked once). A depth-first walk with an
 * explicit stack: a chain a million nodes deep needs no call stack.
 */
function collect(roots: Node[]): { all: Node[]; ups: Map<Node, Node[]> } {
  const ups = new Map<Node, Node[]>();
  const all: Node[] = [];
  const done = new Set<Node>();
  // Frames of the walk: a node, and how many of its upstream nodes were entered so far.
  const nodes: Node[] = [];
  const next: number[] = [];
  for (const r of roots) {
    if (done.has(r) || ups.has(r)) continue;
    ups.set(r, r.upstreamNodes());
    nodes.push(r);
    next.push(0);
    while (nodes.length) {
      const top = nodes.length - 1;
      const n = nodes[top]!;
      const list = ups.get(n)!;
      const i = next[top]!;
      if (i < list.length) {
        next[top] = i + 1;
        const u = list[i]!;
        // Entered before: done, or on the current path (a cycle, reported by topoSort).
        if (ups.has(u)) continue;
        ups.set(u, u.upstreamNodes());
        nodes.push(u);
        next.push(0);
        continue;
      }
      nodes.pop();
      next.pop();
      done.add(n);
      all.push(n);
    }
  }
  return { all, ups };
}

/** Kahn's algorithm, keeping the user's order among independent nodes; reports a cycle by its members. */
function topoSort(nodes: Node[], ups: Map<Node, Node[]>): Node[] {
  const indeg = new Map<Node, number>();
  const kids = new Map<Node, Node[]>();
  for (const n of nodes) {
    indeg.set(n, ups.get(n)!.length);
    kids.set(n, []);
  }
  for (const n of nodes) for (const u of ups.get(n)!) kids.get(u)!.push(n);
  const ready = nodes.filter((n) => indeg.get(n) === 0);
  const out: Node[] = [];
  for (let i = 0; i < ready.length; i++) {
    const n = ready[i]!;
    out.push(n);
    for (const k of kids.get(n)!) {
      const d = indeg.get(k)! - 1;
      indeg.set(k, d);
      if (d === 0) ready.push(k);
    }
  }
  if (out.length !== nodes.length) {
    const sorted = new Set(out);
    const stuck = nodes.filter((n) => !sorted.has(n)).map((n) => n.id);
    throw new DaggrError(ErrorCode.CYCLE, `The graph has a cycle through: ${stuck.join(" → ")}. A workflow must be acyclic.`, {
      nodes: stuck,
    });
  }
  return out;
}

function components(nodes: readonly Node[], byId: Map<string, Entry>): Subgraph[] {
  const seen = new Set<string>();
  const groups: string[][] = [];
  for (const n of nodes) {
    if (seen.has(n.id)) continue;
    const group: string[] = [];
    const stack = [n.id];
    seen.add(n.id);
    while (stack.length) {
      const id = stack.pop()!;
      group.push(id);
      const e = byId.get(id)!;
      for (const list of [e.parents, e.children]) {
        for (const m of list) {
          if (!seen.has(m)) {
            seen.add(m);
            stack.push(m);
          }
        }
      }
    }
    groups.push(group);
  }
  return groups.map((g, i) => ({
    id: groups.length === 1 ? "main" : `subgraph_${i}`,
    nodes: g.sort((a, b) => byId.get(a)!.order - byId.get(b)!.order),
  }));
}

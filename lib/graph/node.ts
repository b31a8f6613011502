import { type Component, isComponent } from "./components.js";
import { DaggrError, ErrorCode, checkOptions, unknownName } from "./errors.js";
import { slug } from "./ids.js";
import { NO_PORTS, isPlainText, outputNamesText, quote, quoteCode, sharedOutputs, sharedPorts } from "./node-memos.js";
import { FirstOfRef, GatherRef, InPort, OutPort, ScatterRef, isInPort, isOutPort } from "./ports.js";

/** The node kinds; each has one executor in `lib/nodes`. */
export const NodeKind = {
  FN: "fn",
  GRADIO: "gradio",
  INFERENCE: "inference",
  INPUT: "input",
  CHOICE: "choice",
} as const;
export type NodeKind = (typeof NodeKind)[keyof typeof NodeKind];

/** How one input port gets its value; the normalised form of what the user wrote. */
export type InputSpec =
  | { kind: "component"; component: Component }
  | {
      kind: "port";
      from: OutPort;
      /** `port.each` / `port.each("key")`: run once per item (of that field). */
      scatter?: { key?: string };
      /** `port.all()`: gather a mapped node's per-item values into a list. */
      gather?: { allowPartial: boolean };
    }
  | { kind: "first"; from: readonly OutPort[] }
  | { kind: "fixed"; value: unknown }
  | { kind: "fn"; fn: () => unknown };

export type InputSources = Record<string, unknown>;

/** A branch condition on a node: it runs only when `match` accepts the routed value. */
export interface Guard {
  from: OutPort;
  /** The case this node answers, for display ("cat", "score > 0.5"). */
  label: string;
  match(value: unknown): boolean;
}
export type OutputSpecs = Record<string, Component | null>;

/** The value type a source produces: a component's value, a port's value, a function's result. */
export type ValueOf<S> = S extends { $kind: "component"; __value?: infer T }
  ? T
  : S extends { $kind: "out-port" | "scatter" | "gather" | "first-of"; __value?: infer T }
    ? T
    : S extends (...args: never[]) => infer R
      ? Awaited<R>
      : S;
export type InputValues<I> = { [K in keyof I]: ValueOf<I[K]> };
export type OutPorts<O> = { readonly [K in keyof O & string]: OutPort<O[K] extends Component<infer T> ? T : any> };
export type InPorts<I> = { readonly [K in keyof I & string]: InPort<ValueOf<I[K]>> };

/** Options every node kind accepts. */
export interface NodeOptions<I extends InputSources, O extends OutputSpecs> {
  /** Display name; the node id is derived from it. Defaults depend on the kind. */
  name?: string;
  /** Where each input comes from: a `gr` component, a port, a fixed value or a function. */
  inputs?: I;
  /** Output ports: a `gr` component to show the value, or `null` for a hidden port. */
  outputs?: O;
  /** Reshapes the resolved inputs right before the call. */
  preprocess?: (inputs: Record<string, any>) => Record<string, any> | Promise<Record<string, any>>;
  /** Reshapes the raw result into the node's outputs. */
  postprocess?: (raw: any) => unknown;
  /** Re-run automatically when an upstream value changes (default: on for fn/input, off for remote). */
  autorun?: boolean;
  /** For FnNode: allow several runs at once (default false: one FnNode at a time per process). */
  concurrent?: boolean;
  /** Nodes sharing a group share one process-wide limit of `maxConcurrent` runs. */
  concurrencyGroup?: string;
  maxConcurrent?: number;
  /** Abort a run that takes longer than this many milliseconds. */
  timeoutMs?: number;
  /**
   * Abort a run after this many milliseconds without any sign of life (a message from
   * the remote, progress, a partial result, downloaded bytes). Remote nodes default to
   * 300 000 (5 min); 0 turns it off.
   */
  inactivityMs?: number;
}

export const COMMON_OPTIONS = [
  "name", "inputs", "outputs", "preprocess", "postprocess", "autorun", "concurrent",
  "concurrencyGroup", "maxConcurrent", "timeoutMs", "inactivityMs",
] as const;

/** A serialisable description of a node, for the wire protocol and `/api/schema`. */
export interface NodeDescription {
  id: string;
  name: string;
  kind: NodeKind;
  inputs: Array<{
    port: string;
    source: InputSpec["kind"];
    component?: Component;
    from?: { node: string; port: string };
    /** Scatter: true, or the item field passed. */
    each?: string | true;
    /** Gather of a mapped node's outputs. */
    all?: boolean;
    firstOf?: Array<{ node: string; port: string }>;
    value?: unknown;
  }>;
  /** Set when a branch routes to this node: the routing port and the case it answers. */
  guard?: { from: { node: string; port: string }; label: string };
  outputs: Array<{ port: string; component: Component | null }>;
  autorun: boolean;
  /** A page about the node's remote (a Space or a model), when there is one. */
  link?: string;
  /** Kind-specific details (endpoint, model, task, variants…). */
  config: Record<string, unknown>;
}

const NONE = NO_PORTS;
/** The `options` of every node given no option but name, inputs and outputs. */
const NO_SETTINGS: Readonly<Record<string, unknown>> = Object.freeze({});
const NO_NODES: readonly Node[] = Object.freeze([]);
const NO_INPUTS: Readonly<Record<string, InputSpec>> = Object.freeze({});

const RESERVED = new Set(["then", "toJSON", "constructor", "inspect", "$$typeof", "asymmetricMatch", "nodeType"]);
/** The node a port table belongs to, kept on the table itself under a symbol. */
const OWNER = Symbol("daggr.ports.owner");

/**
 * `node.out` and `node.in` are plain tables of ports whose prototype is one of two shared
 * proxies: a port found on the table is an ordinary property read, and only a name the
 * table lacks reaches the proxy, which throws a coded error naming the nearest port (the
 * node is found on the table, the `receiver`). A node costs no proxy, closure or handler.
 */
function portPrototype(side: "out" | "in"): object {
  const base = {};
  return new Proxy(base, {
    get(target, prop, receiver: Record<string | symbol, unknown>) {
      if (typeof prop === "symbol" || RESERVED.has(prop) || prop in target) return Reflect.get(target, prop, receiver);
      const node = receiver[OWNER] as Node;
      const what = side === "out" ? `output port {} of node '${node.id}'` : `editable input {} of node '${node.id}'`;
      throw unknownName(ErrorCode.UNKNOWN_PORT, what, prop, side === "out" ? Object.keys(node.outputs) : node.editablePorts());
    },
  });
}
const OUT_PROTO = portPrototype("out");
const IN_PROTO = portPrototype("in");

/**
 * Port tables start as instances of these (their prototype is then set to a proxy), not as
 * `{}`: V8 fits a constructor's instances to the properties they get (40 bytes for one
 * port and the owner, not the 56 of a literal's four slots), one constructor per side.
 */
class OutTable {}
class InTable {}
/** The same for a node's normalised `inputs` (32 bytes for one input, not 56). */
class InputTable {}

/** Makes a filled table of ports this node's `out` or `in`. */
function portTable<P>(node: Node, side: "out" | "in", ports: Record<string | symbol, unknown>): P {
  // A plain assignment: defining it non-enumerable (defineProperty) costs ~1 µs per table
  // and turns the table into a slow dictionary. Object.keys and for…in skip symbols anyway.
  ports[OWNER] = node;
  // Set last: with the proxy in its chain every store into the table would be a slow
  // lookup (and Object.create of a proxy is slow too): ~0.06 µs this way, ~0.3 µs else.
  Object.setPrototypeOf(ports, side === "out" ? OUT_PROTO : IN_PROTO);
  return ports as P;
}

/** Options every kind accepts, for the membership check of `checkOptions`. */
const COMMON = new Set<string>(COMMON_OPTIONS);
const NO_EXTRA: readonly string[] = [];

/**
 * The base of every node kind. A node knows where its inputs come from and which outputs
 * it has; it never runs itself (executors in `lib/nodes` do, driven by the engine).
 */
export abstract class Node<I extends InputSources = InputSources, O extends OutputSpecs = OutputSpecs> {
  abstract readonly kind: NodeKind;
  readonly name: string;
  readonly id: string;
  readonly inputs: Readonly<Record<string, InputSpec>>;
  readonly outputs: Readonly<Record<string, Component | null>>;
  /**
   * The options as given, less `name`, `inputs` and `outputs` (kept normalised as `name`,
   * `inputs` and `outputs`): a node keeps no copy of what it already holds, and the
   * user's tables can be collected. Nodes with none of the rest share one empty object.
   */
  readonly options: Omit<NodeOptions<I, O>, "name" | "inputs" | "outputs">;
  /** Backup nodes tried in order when this one fails (`primary.fallback(backup)`). */
  declare readonly backups: readonly Node[];
  /**
   * @internal Memos the engine keeps on the node, made once rather than per session:
   * its fingerprint hash (cleared when a guard or a backup is added), and which of its
   * ports hold files. Plain fields, not a weak map per memo: a million nodes cost the
   * collector no ephemeron tables.
   */
  fingerprintMemo: string | undefined = undefined;
  filePortsMemo: { inputs: boolean; outputs: boolean } | undefined = undefined;
  /** The `out` and `in` port tables, made on first use (many nodes never have their `in` read). */
  private outTable: OutPorts<O> | undefined = undefined;
  declare protected inTable: InPorts<I> | undefined;
  declare private guardValue: Guard | undefined;
  /** Memos of editablePorts() and activePorts(), here from the start so they stay in the object. */
  protected editableCache: string[] | undefined = undefined;
  private activeCache: string[] | undefined = undefined;

  static {
    // Rarely set: defaults on the prototype rather than a field in every node.
    const proto = this.prototype as unknown as Record<string, unknown>;
    proto.backups = NO_NODES;
    proto.inTable = undefined;
    proto.guardValue = undefined;
  }

  protected constructor(defaultName: string, options: NodeOptions<I, O>, extraOptions: readonly string[] = NO_EXTRA) {
    // Checks the option names and keeps the options but name, inputs and outputs (see
    // `options`). The allowed list is spelt out only when an option is not known.
    let rest: Record<string, unknown> | undefined;
    for (const key in options) {
      if (key === "name" || key === "inputs" || key === "outputs") continue;
      if (!COMMON.has(key) && !extraOptions.includes(key)) checkOptions(this.constructor.name, options, [...COMMON_OPTIONS, ...extraOptions]);
      (rest ??= {})[key] = options[key as keyof typeof options];
    }
    this.options = rest ?? NO_SETTINGS;
    const name = (this.name = options.name ?? defaultName);
    // A name starting with a printable character other than a space is not blank: no trim() for it.
    const first = typeof name === "string" ? name.charCodeAt(0) : 0;
    if (typeof name !== "string" || (!(first > 32 && first < 127) && !name.trim())) {
      throw new DaggrError(ErrorCode.BAD_OPTION, `A node name must be a non-empty string (got ${JSON.stringify(this.name)}).`);
    }
    this.id = slug(this.name);
    let inputs: Record<string, InputSpec> | undefined;
    const given = options.inputs;
    if (given) for (const port of Object.keys(given)) (inputs ??= new InputTable() as Record<string, InputSpec>)[port] = normaliseInput(this.id, port, given[port]);
    this.inputs = inputs ?? NO_INPUTS;
    // Nodes with the same output ports and components share one frozen table.
    const specs: OutputSpecs = options.outputs ?? this.defaultOutputs();
    const ports = Object.keys(specs);
    for (const port of ports) {
      const c = specs[port]!;
      if (c !== null && !isComponent(c)) {
        throw new DaggrError(
          ErrorCode.BAD_OPTION,
          `Output '${port}' of node '${this.id}' must be a gr component or null (hidden), got ${typeof c}.`,
        );
      }
    }
    this.outputs = sharedOutputs(specs, ports);
  }

  /** Output ports: `node.out.image`. A misspelt name is a type error, and a coded error at run time. */
  get out(): OutPorts<O> {
    if (this.outTable) return this.outTable;
    const outPorts = new OutTable() as Record<string, OutPort>;
    for (const port in this.outputs) outPorts[port] = new OutPort(this, port);
    return (this.outTable = portTable<OutPorts<O>>(this, "out", outPorts));
  }

  /** Editable inputs: `node.in.prompt`, for `session.set` and `session.value`. */
  get in(): InPorts<I> {
    if (this.inTable) return this.inTable;
    const inPorts = new InTable() as Record<string, InPort>;
    for (const port of this.editablePorts()) inPorts[port] = new InPort(this, port);
    return (this.inTable = portTable<InPorts<I>>(this, "in", inPorts));
  }

  /** Set by `branch()`: the node runs only when the routed value selects it; otherwise it is skipped. */
  get guard(): Guard | undefined {
    return this.guardValue;
  }
  set guard(guard: Guard | undefined) {
    this.guardValue = guard;
    this.fingerprintMemo = undefined; // the guard is part of the fingerprint
  }

  /** Outputs used when the user gives none. */
  protected defaultOutputs(): OutputSpecs {
    return { output: null };
  }

  /** Ports whose value the sheet holds and the user can edit (component inputs). */
  editablePorts(): string[] {
    if (this.editableCache) return this.editableCache;
    const ports: string[] = [];
    for (const p in this.inputs) if (this.inputs[p]!.kind === "component") ports.push(p);
    return (this.editableCache = ports.length ? ports.slice() : NONE);
  }

  /**
   * The input ports read when the node runs with these own input values: all of them,
   * except for a choice node, which reads only its selected variant's.
   */
  activePorts(own: Record<string, unknown>): string[] {
    void own;
    if (this.activeCache) return this.activeCache;
    const ports = Object.keys(this.inputs);
    for (const p of this.editablePorts()) if (!(p in this.inputs)) ports.push(p); // InputNode: ports are outputs
    return (this.activeCache = sharedPorts(ports));
  }

  /**
   * Offers a choice between this node and another with the same outputs.
   *
   * @example
   * const image = flux.or(sdxl);
   */
  or(other: Node): Node {
    return getChoose()(this, other);
  }

  /** The component of an editable port. */
  editableComponent(port: string): Component | undefined {
    const s = this.inputs[port];
    return s?.kind === "component" ? s.component : undefined;
  }

  /** Whether this node re-runs by itself when its inputs change, before graph overrides. */
  get defaultAutorun(): boolean {
    return this.kind === NodeKind.FN || this.kind === NodeKind.INPUT;
  }

  /** Nodes this one reads from (through wired ports, its own and its backups'). */
  upstreamNodes(): Node[] {
    const list: Node[] = [];
    this.upstreamInto(list);
    return list;
  }

  /**
   * @internal `upstreamNodes()` appended to `list` (the graph keeps every node's in one
   * flat list), each node once, in the order first read.
   */
  upstreamInto(list: Node[]): void {
    const start = list.length;
    for (const port in this.inputs) {
      const spec = this.inputs[port]!;
      if (spec.kind === "port") list.push(spec.from.node);
      else if (spec.kind === "first") for (const p of spec.from) list.push(p.node);
    }
    if (this.guard) list.push(this.guard.from.node);
    for (let i = 0; i < this.backups.length; i++) for (const n of this.backups[i]!.upstreamNodes()) list.push(n);
    if (list.length - start > 1) keepFirst(list, start);
  }

  /**
   * Kind-specific configuration that changes what the node computes (endpoint, model…).
   * It enters the fingerprint and the node description.
   */
  protected kindConfig(): Record<string, unknown> {
    return {};
  }

  /** Source text of code that shapes the result (functions, hooks): editing it makes results stale. */
  protected codeSources(): string[] {
    const { preprocess, postprocess } = this.options;
    return [preprocess ? `pre:${preprocess}` : "", postprocess ? `post:${postprocess}` : ""];
  }

  /**
   * What identifies this node's computation, apart from its input values: kind,
   * configuration, the shape of its inputs and outputs, and its code. It enters every
   * recipe key, so changing any of these makes old results stale.
   */
  fingerprint(): string {
    // The JSON text of [kind, config, inputs, output names, code sources, backups'
    // fingerprints, guard], written piece by piece (no nested arrays to build), each
    // piece as JSON.stringify writes it inside an array: the same text as before, so
    // recipe keys do not change (test/graph.test.ts checks it against the array form).
    let inputs = "";
    for (const port in this.inputs) {
      const s = this.inputs[port]!;
      let source: string;
      if (s.kind === "port") {
        const { node, port: from } = s.from;
        // A plain wire between plainly named ports (the common case) is written as is.
        if (!s.scatter && !s.gather && isPlainText(node.id) && isPlainText(from)) source = `"${node.id}.out.${from}"`;
        else source = quote(`${node.id}.out.${from}${s.scatter ? `.each(${s.scatter.key ?? ""})` : ""}${s.gather ? ".all" : ""}`);
      } else if (s.kind === "fixed") source = element(s.value);
      else if (s.kind === "first") source = JSON.stringify(s.from.map(String));
      else source = "null";
      inputs += `${inputs ? "," : ""}[${quote(port)},"${s.kind}",${source}]`;
    }
    const outputs = outputNamesText(this.outputs);
    let backups = "";
    for (let i = 0; i < this.backups.length; i++) backups += `${backups ? "," : ""}${JSON.stringify(this.backups[i]!.fingerprint())}`;
    const guard = this.guard ? `[${JSON.stringify(String(this.guard.from))},${element(this.guard.label)}]` : "null";
    return `["${this.kind}",${this.kindConfigText()},[${inputs}],[${outputs}],[${this.codeText()}],[${backups}],${guard}]`;
  }

  /** `kindConfig()` as JSON text; a kind may write it without building the object. */
  protected kindConfigText(): string {
    return element(this.kindConfig());
  }

  /** `codeSources()` as the elements of a JSON array, each source's JSON from a memo. */
  protected codeText(): string {
    const { preprocess, postprocess } = this.options;
    return `${preprocess ? quoteCode("pre:", preprocess) : '""'},${postprocess ? quoteCode("post:", postprocess) : '""'}`;
  }

  /** A page about this node's remote, when it has one. */
  link(): string | undefined {
    return undefined;
  }

  describe(autorun: boolean): NodeDescription {
    return {
      id: this.id,
      name: this.name,
      kind: this.kind,
      inputs: Object.entries(this.inputs).map(([port, s]) => ({
        port,
        source: s.kind,
        ...(s.kind === "component" ? { component: s.component } : {}),
        ...(s.kind === "port" ? { from: { node: s.from.node.id, port: s.from.port } } : {}),
        ...(s.kind === "port" && s.scatter ? { each: s.scatter.key ?? true } : {}),
        ...(s.kind === "port" && s.gather ? { all: true } : {}),
        ...(s.kind === "first" ? { firstOf: s.from.map((p) => ({ node: p.node.id, port: p.port })) } : {}),
        ...(s.kind === "fixed" && isJsonable(s.value) ? { value: s.value } : {}),
      })),
      outputs: Object.entries(this.outputs).map(([port, component]) => ({ port, component })),
      autorun,
      ...(this.guard ? { guard: { from: { node: this.guard.from.node.id, port: this.guard.from.port }, label: this.guard.label } } : {}),
      link: this.link(),
      config: this.kindConfig(),
    };
  }

  /**
   * Adds a backup run when this node fails after its own retries. The backup must have
   * the same outputs. Returns this node, so `a.fallback(b).fallback(c)` chains.
   */
  fallback(backup: Node): this {
    const mine = Object.keys(this.outputs).sort().join(",");
    const theirs = Object.keys(backup.outputs).sort().join(",");
    if (mine !== theirs) {
      throw new DaggrError(
        ErrorCode.BAD_OPTION,
        `Backup '${backup.id}' of node '${this.id}' must have the same outputs (${mine || "none"}), but has (${theirs || "none"}).`,
      );
    }
    (this as { backups: readonly Node[] }).backups = [...this.backups, backup];
    this.fingerprintMemo = undefined; // backups are part of the fingerprint
    return this;
  }

  /**
   * Runs this node alone, once, without a canvas: missing inputs are filled with the
   * example values of their components (or of the upstream output components). Handy to
   * discover what a Space endpoint returns.
   *
   * @example
   * const { image } = await gen.test({ prompt: "a cat" });
   */
  async test(inputs: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const { getRuntime } = await import("./runtime.js");
    return getRuntime().testNode(this, inputs);
  }

  toString() {
    return `${this.constructor.name}(${this.id})`;
  }
}

let chooseImpl: ((...n: Node[]) => Node) | undefined;
/** @internal Installed by choice-node.ts, which imports this file (avoids an import cycle). */
export function setChoose(f: (...n: Node[]) => Node): void {
  chooseImpl = f;
}
function getChoose() {
  if (!chooseImpl) throw new DaggrError(ErrorCode.NO_RUNTIME, "Choice nodes are not loaded; import from 'daggr'.");
  return chooseImpl;
}


/** A value as `JSON.stringify` writes it inside an array (`null` where it would be left out). */
function element(v: unknown): string {
  return JSON.stringify(v) ?? "null";
}

/**
 * Drops repeated nodes from `list[start…]` in place, keeping each one's first place. A
 * short run is checked by scanning it, a long one (a wide join) through a Set: linear.
 */
function keepFirst(list: Node[], start: number): void {
  let w = start;
  if (list.length - start <= 16) {
    next: for (let r = start; r < list.length; r++) {
      const n = list[r]!;
      for (let i = start; i < w; i++) if (list[i] === n) continue next;
      list[w++] = n;
    }
  } else {
    const seen = new Set<Node>();
    for (let r = start; r < list.length; r++) {
      const n = list[r]!;
      if (!seen.has(n)) (seen.add(n), (list[w++] = n));
    }
  }
  list.length = w;
}


function normaliseInput(nodeId: string, port: string, src: unknown): InputSpec {
  if (src instanceof OutPort) return src; // its own spec: see OutPort.kind
  if (isComponent(src)) return { kind: "component", component: src };
  if (src instanceof ScatterRef) return { kind: "port", from: src.from, scatter: { key: src.key } };
  if (src instanceof GatherRef) return { kind: "port", from: src.from, gather: { allowPartial: src.allowPartial } };
  if (src instanceof FirstOfRef) {
    if (!src.from.length || !src.from.every(isOutPort)) {
      throw new DaggrError(ErrorCode.BAD_INPUT, `Input '${port}' of node '${nodeId}': firstOf(...) needs one or more output ports.`);
    }
    return { kind: "first", from: src.from };
  }
  if (isInPort(src)) {
    throw new DaggrError(
      ErrorCode.BAD_INPUT,
      `Input '${port}' of node '${nodeId}' is wired to '${src}', an editable input. Wire an output ('${src.node.id}.out.<port>') instead, or share one value through an InputNode.`,
    );
  }
  if (typeof src === "function") return { kind: "fn", fn: src as () => unknown };
  return { kind: "fixed", value: src };
}

function isJsonable(v: unknown): boolean {
  try {
    return JSON.stringify(v) !== undefined;
  } catch {
    return false;
  }
}

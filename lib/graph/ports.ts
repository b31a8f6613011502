import type { Node } from "./node.js";

/**
 * A reference to a node's output port (`node.out.image`). Passing it as another node's
 * input wires the two; `session.value(ref)` observes its selected value.
 */
export class OutPort<T = unknown> {
  declare readonly $kind: "out-port";
  /** Phantom: the value type flowing through this port. */
  declare readonly __value?: T;
  constructor(
    readonly node: Node,
    readonly port: string,
  ) {}
  toString() {
    return `${this.node.id}.out.${this.port}`;
  }

  /**
   * @internal A port wired as it is is its own input spec (`{ kind: "port", from }` of
   * `InputSpec`): a node keeps no object per plain wired input.
   */
  get kind(): "port" {
    return "port";
  }
  /** @internal See `kind`. */
  get from(): OutPort<T> {
    return this;
  }

  /**
   * Scatter: the node reading `list.each` runs once per item of this list output;
   * `list.each("key")` passes one field of each item. Nodes reading the per-item
   * outputs plainly run per item too, until a `.all()` gathers them.
   *
   * @example
   * const tts = new FnNode(speak, { inputs: { line: script.out.lines.each("text") } });
   */
  get each(): ScatterRef<T extends ReadonlyArray<infer E> ? E : unknown> & ((key: string) => ScatterRef<unknown>) {
    const ref = ((key: string) => new ScatterRef(this, key)) as ScatterRef<any> & ((key: string) => ScatterRef<unknown>);
    Object.assign(ref, new ScatterRef(this, undefined));
    Object.setPrototypeOf(ref, ScatterRef.prototype);
    return ref;
  }

  /**
   * Gather: the per-item values of a mapped node's output, back as one list in the
   * original order. A failed item fails the gather (naming it) unless `allowPartial`,
   * which leaves failed items out.
   */
  all(options: { allowPartial?: boolean } = {}): GatherRef<T[]> {
    return new GatherRef(this, !!options.allowPartial);
  }
}

/** `port.each` / `port.each("key")`: one run per list item. */
export class ScatterRef<T = unknown> {
  declare readonly $kind: "scatter";
  declare readonly __value?: T;
  declare readonly from: OutPort;
  declare readonly key: string | undefined;
  constructor(from: OutPort, key: string | undefined) {
    // Plain assignments (not parameter properties) so `Object.assign` can copy them onto the callable form.
    (this as { from: OutPort }).from = from;
    (this as { key: string | undefined }).key = key;
  }
}

/** `port.all()`: the per-item values gathered into a list. */
export class GatherRef<T = unknown> {
  declare readonly $kind: "gather";
  declare readonly __value?: T;
  constructor(
    readonly from: OutPort,
    readonly allowPartial: boolean,
  ) {}
}

/** `firstOf(a, b, …)`: the first of these ports whose node was not skipped by a branch. */
export class FirstOfRef<T = unknown> {
  declare readonly $kind: "first-of";
  declare readonly __value?: T;
  constructor(readonly from: readonly OutPort[]) {}
}

/**
 * A join over conditional branches: takes the value of the first port whose node ran
 * (was not skipped).
 *
 * @example
 * const answer = new FnNode(show, { inputs: { text: firstOf(catNode.out.text, dogNode.out.text) } });
 */
export function firstOf<T>(...ports: OutPort<T>[]): FirstOfRef<T> {
  return new FirstOfRef(ports);
}

/**
 * A reference to a node's editable input (`node.in.prompt`), used to read or edit the
 * value a sheet holds for it: `session.set(node.in.prompt, "a cat")`.
 */
export class InPort<T = unknown> {
  declare readonly $kind: "in-port";
  declare readonly __value?: T;
  constructor(
    readonly node: Node,
    readonly port: string,
  ) {}
  toString() {
    return `${this.node.id}.in.${this.port}`;
  }
}

// Each kind tag on the prototype, not a field of every port.
for (const [ref, kind] of [[OutPort, "out-port"], [InPort, "in-port"], [ScatterRef, "scatter"], [GatherRef, "gather"], [FirstOfRef, "first-of"]] as const) {
  Object.defineProperty(ref.prototype, "$kind", { value: kind, enumerable: false });
}

export function isOutPort(x: unknown): x is OutPort {
  return x instanceof OutPort;
}
export function isInPort(x: unknown): x is InPort {
  return x instanceof InPort;
}

import type { Node } from "./node.js";

/**
 * A reference to a node's output port (`node.out.image`). Passing it as another node's
 * input wires the two; `session.value(ref)` observes its selected value.
 */
export class OutPort<T = unknown> {
  readonly $kind = "out-port" as const;
  /** Phantom: the value type flowing through this port. */
  declare readonly __value?: T;
  constructor(
    readonly node: Node,
    readonly port: string,
  ) {}
  toString() {
    return `${this.node.id}.out.${this.port}`;
  }
}

/**
 * A reference to a node's editable input (`node.in.prompt`), used to read or edit the
 * value a sheet holds for it: `session.set(node.in.prompt, "a cat")`.
 */
export class InPort<T = unknown> {
  readonly $kind = "in-port" as const;
  declare readonly __value?: T;
  constructor(
    readonly node: Node,
    readonly port: string,
  ) {}
  toString() {
    return `${this.node.id}.in.${this.port}`;
  }
}

export function isOutPort(x: unknown): x is OutPort {
  return x instanceof OutPort;
}
export function isInPort(x: unknown): x is InPort {
  return x instanceof InPort;
}

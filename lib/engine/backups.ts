import { DaggrError, ErrorCode, type Node } from "../graph/index.js";
import { type Delivery, invoke, invokeTo } from "./call.js";
import type { LATER } from "./scheduler.js";
import type { Call, Execution } from "./execute.js";
import { type Maybe, isThenable } from "./known.js";
import type { ResultRecord } from "./records.js";
import { resolveWiring } from "./wiring.js";

/*
 * How an execution calls its node: the own inputs realised, then the node itself, or its
 * backups one after the other when it fails.
 */

/**
 * Own inputs: editable values, fixed values, and function inputs realised now (recorded).
 * Synchronous unless a function input returns a promise; function inputs are called one
 * after the other, each once its predecessor's value is there.
 */
export function resolveOwn(node: Node, editable: Record<string, unknown>): Maybe<Record<string, unknown>> {
  // Made at the first own port: a node whose inputs are all wired shares one empty record.
  let own: Record<string, unknown> | undefined;
  const ports = node.activePorts(editable);
  for (let i = 0; i < ports.length; i++) {
    const port = ports[i]!;
    const spec = node.inputs[port];
    if (!spec || spec.kind === "component") (own ??= {})[port] = editable[port];
    else if (spec.kind === "fixed") (own ??= {})[port] = spec.value;
    else if (spec.kind === "fn") {
      const v = spec.fn();
      if (isThenable(v)) return resolveRest(node, editable, (own ??= {}), ports, i, v);
      (own ??= {})[port] = v;
    }
  }
  return own ?? NO_OWN;
}

/** The own inputs of a node that has none (frozen: records share it). */
export const NO_OWN: Record<string, unknown> = Object.freeze({});

async function resolveRest(node: Node, editable: Record<string, unknown>, own: Record<string, unknown>, ports: string[], at: number, pending: PromiseLike<unknown>) {
  own[ports[at]!] = await pending;
  for (let i = at + 1; i < ports.length; i++) {
    const port = ports[i]!;
    const spec = node.inputs[port];
    if (!spec || spec.kind === "component") own[port] = editable[port];
    else if (spec.kind === "fixed") own[port] = spec.value;
    else if (spec.kind === "fn") own[port] = await spec.fn();
  }
  return own;
}

/**
 * Calls a node that has no backups: its own inputs are recorded, then it runs. With `to`,
 * a call that waits for its executor returns `LATER` and delivers its end there (see
 * `invokeTo`); one waiting for its own inputs (a function input's promise) still returns
 * a promise.
 */
export function callPrimary(x: Execution, editable: Record<string, unknown>, wired: Record<string, unknown>, call: Call, target?: { inputs: Record<string, unknown> }): Maybe<Record<string, unknown>>;
export function callPrimary(x: Execution, editable: Record<string, unknown>, wired: Record<string, unknown>, call: Call, target: { inputs: Record<string, unknown> }, to: Delivery): Maybe<Record<string, unknown>> | typeof LATER;
export function callPrimary(
  x: Execution,
  editable: Record<string, unknown>,
  wired: Record<string, unknown>,
  call: Call,
  target: { inputs: Record<string, unknown> } = x.record,
  to?: Delivery,
): Maybe<Record<string, unknown>> | typeof LATER {
  const node = x.node;
  const own = resolveOwn(node, editable);
  if (own instanceof Promise) {
    return own.then((v) => {
      target.inputs = v;
      return invoke(node, merge(v, wired), x, x.env.files, call);
    });
  }
  target.inputs = own;
  const inputs = merge(own, wired);
  return to ? invokeTo(node, inputs, x, x.env.files, call, to) : invoke(node, inputs, x, x.env.files, call);
}

/** The inputs a node is called with: its own, then its wired ones (those alone when it has no own). */
function merge(own: Record<string, unknown>, wired: Record<string, unknown>): Record<string, unknown> {
  for (const _ in own) return { ...own, ...wired };
  return wired;
}

export async function callWithBackups(
  x: Execution,
  record: ResultRecord,
  editable: Record<string, unknown>[],
  primaryWired: Record<string, unknown>,
  call: Call,
): Promise<{ outputs: Record<string, unknown>; servedBy?: string }> {
  const primary = x.node;
  const candidates = [primary, ...primary.backups];
  const errors: string[] = [];
  for (const [i, node] of candidates.entries()) {
    const own = await resolveOwn(node, editable[i]!);
    const wired = i === 0 ? primaryWired : resolveWiring(node, x.env.view, { ...record, upstream: {} }, editable[i]!).values;
    if (i === 0) record.inputs = own;
    try {
      const outputs = await invoke(node, { ...own, ...wired }, x, call.files, call);
      return { outputs, servedBy: i === 0 ? undefined : node.id };
    } catch (e) {
      if (x.aborted || i === candidates.length - 1) {
        if (i > 0) throw new DaggrError(ErrorCode.NODE_FAILED, `Node '${primary.id}' and its backups failed: ${[...errors, `${node.id}: ${(e as Error).message}`].join("; ")}`);
        throw e;
      }
      errors.push(`${node.id}: ${(e as Error).message}`);
      call.onProgress({ text: `'${node.id}' failed; trying backup '${candidates[i + 1]!.id}'` });
    }
  }
  throw new Error("unreachable");
}

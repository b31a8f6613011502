import { DaggrError, ErrorCode } from "./errors.js";
import { Node } from "./node.js";
import { type OutPort, isOutPort } from "./ports.js";

type Cases = Record<string, Node> | Array<[(value: any) => boolean, Node, string?]>;

/**
 * A data-driven router: only the node(s) matching the value of `on` run; the others are
 * marked `skipped` (neither stale nor failed), and so is whatever depends only on
 * skipped nodes. Join the branches with `firstOf(a.out.x, b.out.x)`.
 *
 * Cases are either an object keyed by value (`String(value)` is matched), or a list of
 * `[predicate, node, label?]` pairs where every node whose predicate holds runs.
 *
 * @example
 * branch(classify.out.label, { cat: catNode, dog: dogNode });
 * branch(score.out.value, [[(v) => v > 0.5, hiNode, "high"], [(v) => v <= 0.5, loNode, "low"]]);
 */
export function branch(on: OutPort, cases: Cases): Node[] {
  if (!isOutPort(on)) throw new DaggrError(ErrorCode.BAD_INPUT, "branch(on, cases) routes on an output port, e.g. branch(classify.out.label, { … }).");
  const entries: Array<[(v: unknown) => boolean, Node, string]> = Array.isArray(cases)
    ? cases.map(([pred, node, label], i) => [pred, node, label ?? `case ${i + 1}`])
    : Object.entries(cases).map(([value, node]) => [(v: unknown) => String(v) === value, node, value]);
  if (!entries.length) throw new DaggrError(ErrorCode.BAD_INPUT, "branch(on, cases) needs at least one case.");
  for (const [pred, node, label] of entries) {
    if (!(node instanceof Node) || typeof pred !== "function") throw new DaggrError(ErrorCode.BAD_INPUT, `branch case '${label}' needs a node (and, in the list form, a predicate).`);
    if (node.guard) throw new DaggrError(ErrorCode.BAD_INPUT, `Node '${node.id}' is already routed by another branch.`);
    node.guard = { from: on, label, match: pred };
  }
  return entries.map(([, node]) => node);
}

import type { Graph } from "../graph/index.js";

/** Why a node may be skipped: a branch routes it, or what it reads may be skipped. */
export type Condition =
  | { when: { node: string; port: string; label: string } }
  | { after: string[] };

/**
 * The nodes that may be skipped by a branch (`/api/schema` marks them `conditional`).
 * A node is conditional when a branch routes to it, when a plain input reads a
 * conditional node (a skip propagates), or when every source of a `firstOf` join is
 * conditional (the join is skipped only if all of them are). Static and conservative:
 * whether a skip happens depends on the routed value at run time.
 *
 * @example
 * conditionalNodes(graph).get("apologise") // { when: { node: "classify", port: "mood", label: "unhappy" } }
 */
export function conditionalNodes(graph: Graph): Map<string, Condition> {
  const nodes = graph.describe().nodes;
  const found = new Map<string, Condition>();
  for (const n of nodes) if (n.guard) found.set(n.id, { when: { ...n.guard.from, label: n.guard.label } });
  // A fixpoint over the reads: cheap (graphs are small) and independent of node order.
  for (let changed = true; changed; ) {
    changed = false;
    for (const n of nodes) {
      if (found.has(n.id)) continue;
      const after = new Set<string>();
      for (const i of n.inputs) {
        if (i.source === "port" && i.from && found.has(i.from.node)) after.add(i.from.node);
        if (i.source === "first" && i.firstOf?.length && i.firstOf.every((p) => found.has(p.node))) for (const p of i.firstOf) after.add(p.node);
      }
      if (after.size) {
        found.set(n.id, { after: [...after] });
        changed = true;
      }
    }
  }
  return found;
}

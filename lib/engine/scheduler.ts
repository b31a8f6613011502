import type { Graph } from "../graph/index.js";

/** How a node of a plan ended: `ok` means it is fresh now (ran, cached or reused). */
export type Outcome = "ok" | "blocked" | "failed" | "cancelled";

/**
 * Runs `visit` over the nodes of a plan as a dataflow: a node starts as soon as every
 * plan node it reads from has finished, so independent branches run at once and a
 * diamond's join runs once, after both sides (glitch-free). `visit` receives the
 * outcomes of the node's in-plan parents.
 */
export function runPlan(
  graph: Graph,
  plan: readonly string[],
  visit: (id: string, parents: ReadonlyMap<string, Outcome>) => Promise<Outcome>,
): Promise<Map<string, Outcome>> {
  const inPlan = new Set(plan);
  const waiting = new Map<string, number>();
  const outcomes = new Map<string, Outcome>();
  return new Promise((resolve) => {
    let left = plan.length;
    if (left === 0) return resolve(outcomes);
    const start = (id: string) => {
      const parents = new Map<string, Outcome>();
      for (const p of graph.parents(id)) if (inPlan.has(p)) parents.set(p, outcomes.get(p)!);
      visit(id, parents)
        .catch((): Outcome => "failed")
        .then((outcome) => {
          outcomes.set(id, outcome);
          for (const c of graph.children(id)) {
            if (!inPlan.has(c)) continue;
            const n = waiting.get(c)! - 1;
            waiting.set(c, n);
            if (n === 0) start(c);
          }
          if (--left === 0) resolve(outcomes);
        });
    };
    for (const id of plan) waiting.set(id, graph.parents(id).filter((p) => inPlan.has(p)).length);
    for (const id of plan) if (waiting.get(id) === 0) start(id);
  });
}

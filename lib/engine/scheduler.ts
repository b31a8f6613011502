import type { Graph } from "../graph/index.js";
import type { Maybe } from "./known.js";

/** How a node of a plan ended: `ok` means it is fresh now (ran, cached or reused). */
export type Outcome = "ok" | "blocked" | "failed" | "cancelled";

/** How the finished nodes of a plan ended. */
export interface Outcomes {
  /** The node's outcome once it finished; undefined before, and for nodes outside the plan. */
  outcome(id: string): Outcome | undefined;
}

/**
 * Visits one node of a plan; every in-plan parent of `id` has finished. A visit that
 * finishes at once returns its outcome, one that waits returns a promise of it; a visit
 * that throws counts as `failed`.
 */
export type Visit = (id: string, outcomes: Outcomes) => Maybe<Outcome>;

/**
 * Runs `visit` over the nodes of a plan as a dataflow: a node starts as soon as every
 * plan node it reads from has finished, so independent branches run at once and a
 * diamond's join runs once, after both sides (glitch-free).
 */
export function runPlan(graph: Graph, plan: readonly string[], visit: Visit): Promise<Outcomes> {
  return new Promise((resolve) => new PlanRun(graph, plan, visit, resolve).drain());
}

/**
 * The bookkeeping of one plan: how many in-plan parents each node still waits for, then
 * how it ended, and the nodes ready to start. Visits that finish at once are handled in
 * a loop, not by recursion, so a long chain of sync nodes needs neither promises nor stack.
 */
class PlanRun implements Outcomes {
  /** Per plan node: the number of in-plan parents not finished yet, then its outcome. */
  private readonly state = new Map<string, number | Outcome>();
  private readonly ready: string[] = [];
  private next = 0;
  private left: number;
  private draining = false;

  constructor(
    private readonly graph: Graph,
    plan: readonly string[],
    private readonly visit: Visit,
    private readonly resolve: (outcomes: Outcomes) => void,
  ) {
    this.left = plan.length;
    // A plan of the whole graph holds every parent; otherwise only in-plan parents count.
    const whole = plan.length === graph.nodes.length;
    if (!whole) for (const id of plan) this.state.set(id, 0);
    for (let i = 0; i < plan.length; i++) {
      const id = plan[i]!;
      let n = 0;
      if (whole) n = graph.parentCount(id);
      else for (const p of graph.parents(id)) if (this.state.has(p)) n++;
      this.state.set(id, n);
      if (n === 0) this.ready.push(id);
    }
    if (this.left === 0) resolve(this);
  }

  outcome(id: string): Outcome | undefined {
    const s = this.state.get(id);
    return typeof s === "string" ? s : undefined;
  }

  /** Starts every ready node; those that finish at once may make more nodes ready. */
  drain(): void {
    if (this.draining) return;
    this.draining = true;
    while (this.next < this.ready.length) {
      const id = this.ready[this.next++]!;
      let outcome: Maybe<Outcome>;
      try {
        outcome = this.visit(id, this);
      } catch {
        outcome = "failed";
      }
      if (typeof outcome === "string") this.finish(id, outcome);
      else this.later(id, outcome);
    }
    this.draining = false;
  }

  private later(id: string, outcome: Promise<Outcome>): void {
    outcome.then(
      (o) => this.finishLater(id, o),
      () => this.finishLater(id, "failed"),
    );
  }

  private finishLater(id: string, outcome: Outcome): void {
    this.finish(id, outcome);
    this.drain();
  }

  private finish(id: string, outcome: Outcome): void {
    this.state.set(id, outcome);
    // The graph's tables by position: no list made per finished node.
    const g = this.graph;
    const at = g.order(id);
    const end = g.childOff[at + 1]!;
    for (let i = g.childOff[at]!; i < end; i++) {
      const c = g.nodes[g.childAt[i]!]!.id;
      const n = this.state.get(c);
      if (typeof n !== "number") continue;
      this.state.set(c, n - 1);
      if (n === 1) this.ready.push(c);
    }
    if (--this.left === 0) this.resolve(this);
  }
}

import type { Graph } from "../graph/index.js";
import type { Maybe } from "./known.js";

/** How a node of a plan ended: `ok` means it is fresh now (ran, cached or reused). */
export type Outcome = "ok" | "blocked" | "failed" | "cancelled";

/**
 * Visits one node of a plan. `outcomes` holds how each finished plan node ended: every
 * in-plan parent of `id` is in it. A visit that finishes at once returns its outcome,
 * one that waits returns a promise of it; a visit that throws counts as `failed`.
 */
export type Visit = (id: string, outcomes: ReadonlyMap<string, Outcome>) => Maybe<Outcome>;

/**
 * Runs `visit` over the nodes of a plan as a dataflow: a node starts as soon as every
 * plan node it reads from has finished, so independent branches run at once and a
 * diamond's join runs once, after both sides (glitch-free).
 */
export function runPlan(graph: Graph, plan: readonly string[], visit: Visit): Promise<Map<string, Outcome>> {
  return new Promise((resolve) => new PlanRun(graph, plan, visit, resolve).drain());
}

/**
 * The bookkeeping of one plan: how many in-plan parents each node still waits for, and
 * the nodes ready to start. Visits that finish at once are handled in a loop, not by
 * recursion, so a long chain of sync nodes needs neither promises nor stack.
 */
class PlanRun {
  /** In-plan parents not finished yet, per plan node. */
  private readonly waiting = new Map<string, number>();
  private readonly outcomes = new Map<string, Outcome>();
  private readonly ready: string[] = [];
  private next = 0;
  private left: number;
  private draining = false;

  constructor(
    private readonly graph: Graph,
    plan: readonly string[],
    private readonly visit: Visit,
    private readonly resolve: (outcomes: Map<string, Outcome>) => void,
  ) {
    this.left = plan.length;
    // A plan of the whole graph holds every parent; otherwise only in-plan parents count.
    const whole = plan.length === graph.nodes.length;
    if (!whole) for (const id of plan) this.waiting.set(id, 0);
    for (const id of plan) {
      const parents = graph.parents(id);
      let n = whole ? parents.length : 0;
      if (!whole) for (const p of parents) if (this.waiting.has(p)) n++;
      this.waiting.set(id, n);
      if (n === 0) this.ready.push(id);
    }
    if (this.left === 0) resolve(this.outcomes);
  }

  /** Starts every ready node; those that finish at once may make more nodes ready. */
  drain(): void {
    if (this.draining) return;
    this.draining = true;
    while (this.next < this.ready.length) {
      const id = this.ready[this.next++]!;
      let outcome: Maybe<Outcome>;
      try {
        outcome = this.visit(id, this.outcomes);
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
    this.outcomes.set(id, outcome);
    for (const c of this.graph.children(id)) {
      const n = this.waiting.get(c);
      if (n === undefined) continue;
      this.waiting.set(c, n - 1);
      if (n === 1) this.ready.push(c);
    }
    if (--this.left === 0) this.resolve(this.outcomes);
  }
}

import type { Graph } from "../graph/index.js";
import type { Maybe } from "./known.js";

/** How a node of a plan ended: `ok` means it is fresh now (ran, cached or reused). */
export type Outcome = "ok" | "blocked" | "failed" | "cancelled";

/** How the finished nodes of a plan ended. */
export interface Outcomes {
  /**
   * The outcome of the node at position `at` (its place in `graph.nodes`) once it
   * finished; undefined before, and for nodes outside the plan.
   */
  outcomeAt(at: number): Outcome | undefined;
  /**
   * Reports how the node at `at` ended, for a visit that returned `LATER`: once, from
   * any tick. It may start the nodes that waited for it, in this call.
   */
  settle(at: number, outcome: Outcome): void;
}

/** What a visit returns when it reports its outcome itself, later, with `Outcomes.settle`. */
export const LATER = Symbol("later");

/**
 * Visits one node of a plan, by its position in `graph.nodes`; every in-plan parent of it
 * has finished. A visit that finishes at once returns its outcome, one that waits returns
 * a promise of it, or `LATER` and settles it itself (one promise reaction fewer per node);
 * a visit that throws or rejects counts as `failed`.
 */
export type Visit = (at: number, outcomes: Outcomes) => Maybe<Outcome | typeof LATER>;

/**
 * Runs `visit` over the nodes of a plan as a dataflow: a node starts as soon as every
 * plan node it reads from has finished, so independent branches run at once and a
 * diamond's join runs once, after both sides (glitch-free).
 */
export function runPlan(graph: Graph, plan: readonly string[], visit: Visit): Promise<Outcomes> {
  return new Promise((resolve) => new PlanRun(graph, plan, visit, resolve).drain());
}

const OUTCOMES: readonly Outcome[] = ["ok", "blocked", "failed", "cancelled"];
/** What a finished plan holds instead of its visit, its promise and its counts. */
const FINISHED = (): never => {
  throw new Error("daggr: this plan has finished");
};
const NONE = new Int32Array(0);

/** A node outside the plan, in `waiting`. */
const OUTSIDE = -1;

/**
 * The bookkeeping of one plan, by node position: how many in-plan parents each node still
 * waits for, how each ended, and the nodes ready to start. Visits that finish at once are
 * handled in a loop, not by recursion, so a long chain of sync nodes needs neither
 * promises nor stack.
 *
 * A plan of much of the graph keeps its counts in typed arrays the size of the graph; a
 * small one (a step, an edit's downstream in a large graph) in maps by position, so an
 * edit in a 100,000-node graph does not clear 100,000 slots per run.
 */
class PlanRun implements Outcomes {
  /** Per position: in-plan parents not finished yet (OUTSIDE for nodes not in the plan). */
  private waiting: Int32Array | Map<number, number>;
  /** Per position: 0 while not finished, else 1 + the index of its outcome in OUTCOMES. */
  private readonly ended: Uint8Array | Map<number, number>;
  private ready: Int32Array;
  private readyN = 0;
  private next = 0;
  private left: number;
  private draining = false;

  constructor(
    private readonly graph: Graph,
    plan: readonly string[],
    private visit: Visit,
    private resolve: (outcomes: Outcomes) => void,
  ) {
    const n = graph.nodes.length;
    const { parentOff, parentAt } = graph;
    this.left = plan.length;
    this.ready = new Int32Array(plan.length);
    const whole = plan.length === n;
    if (whole) {
      // Every node is in the plan: positions are 0..n-1 and every parent counts.
      const waiting = (this.waiting = new Int32Array(n));
      this.ended = new Uint8Array(n);
      for (let at = 0; at < n; at++) {
        const count = (waiting[at] = parentOff[at + 1]! - parentOff[at]!);
        if (count === 0) this.ready[this.readyN++] = at;
      }
    } else {
      const dense = plan.length * 4 >= n;
      const positions = new Int32Array(plan.length);
      for (let i = 0; i < plan.length; i++) positions[i] = graph.order(plan[i]!);
      let waiting: Int32Array | Map<number, number>;
      if (dense) {
        waiting = new Int32Array(n).fill(OUTSIDE);
        for (let i = 0; i < positions.length; i++) waiting[positions[i]!] = 0;
        this.ended = new Uint8Array(n);
      } else {
        waiting = new Map();
        for (let i = 0; i < positions.length; i++) waiting.set(positions[i]!, 0);
        this.ended = new Map();
      }
      this.waiting = waiting;
      for (let i = 0; i < positions.length; i++) {
        const at = positions[i]!;
        let count = 0;
        for (let k = parentOff[at]!; k < parentOff[at + 1]!; k++) if (this.waitingOf(parentAt[k]!) !== OUTSIDE) count++;
        this.setWaiting(at, count);
        if (count === 0) this.ready[this.readyN++] = at;
      }
    }
    if (this.left === 0) this.done();
  }

  /**
   * Hands over the outcomes, then lets go of what only the plan's run needed: its session
   * keeps the newest plan (see `Kept`), and a 100,000-node run's visit held its summary
   * (~70 bytes a node) until the next.
   */
  private done(): void {
    const resolve = this.resolve;
    this.visit = this.resolve = FINISHED;
    this.waiting = this.ready = NONE;
    resolve(this);
  }

  outcomeAt(at: number): Outcome | undefined {
    const e = this.ended instanceof Uint8Array ? this.ended[at]! : (this.ended.get(at) ?? 0);
    return e === 0 ? undefined : OUTCOMES[e - 1];
  }

  private waitingOf(at: number): number {
    return this.waiting instanceof Int32Array ? this.waiting[at]! : (this.waiting.get(at) ?? OUTSIDE);
  }

  private setWaiting(at: number, count: number): void {
    if (this.waiting instanceof Int32Array) this.waiting[at] = count;
    else this.waiting.set(at, count);
  }

  /** Starts every ready node; those that finish at once may make more nodes ready. */
  drain(): void {
    if (this.draining) return;
    this.draining = true;
    while (this.next < this.readyN) {
      const at = this.ready[this.next++]!;
      let outcome: Maybe<Outcome | typeof LATER>;
      try {
        outcome = this.visit(at, this);
      } catch {
        outcome = "failed";
      }
      if (typeof outcome === "string") this.finish(at, outcome);
      else if (outcome !== LATER) this.later(at, outcome);
    }
    this.draining = false;
  }

  private later(at: number, outcome: Promise<Outcome | typeof LATER>): void {
    outcome.then(
      (o) => o !== LATER && this.settle(at, o),
      () => this.settle(at, "failed"),
    );
  }

  settle(at: number, outcome: Outcome): void {
    this.finish(at, outcome);
    this.drain();
  }

  private finish(at: number, outcome: Outcome): void {
    const code = OUTCOMES.indexOf(outcome) + 1;
    if (this.ended instanceof Uint8Array) this.ended[at] = code;
    else this.ended.set(at, code);
    const { childOff, childAt } = this.graph;
    const end = childOff[at + 1]!;
    for (let i = childOff[at]!; i < end; i++) {
      const c = childAt[i]!;
      const w = this.waitingOf(c);
      if (w <= 0) continue; // outside the plan (or already started)
      this.setWaiting(c, w - 1);
      if (w === 1) this.ready[this.readyN++] = c;
    }
    if (--this.left === 0) this.done();
  }
}

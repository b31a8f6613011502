import { setMaxListeners } from "node:events";

/**
 * A run's cancellation: an AbortController, with its state also in a plain field, since
 * every node of the run checks it (the AbortSignal getter costs more than the check).
 *
 * The executions of a run follow it in a list threaded through them (each links to its
 * neighbours), not through listeners on its signal: an EventTarget checks each new
 * listener against all the others, so a thousand nodes in flight would cost a million
 * comparisons. The list adds and removes in O(1) and allocates nothing (a Set grew and
 * shrank its table with every thousand executions).
 */
export class RunAbort {
  private readonly controller = new AbortController();
  /** The newest follower; each links to the one before it (`prev`) and after it (`next`). */
  private last: NodeAbort | undefined = undefined;
  private count = 0;
  aborted = false;

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get reason(): unknown {
    return this.controller.signal.reason;
  }

  /** How many executions follow this run now (they stop following when they end). */
  get following(): number {
    return this.count;
  }

  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.controller.abort(reason);
    // Unlinked first, oldest first: a follower's abort may start or end others.
    const followers: NodeAbort[] = [];
    for (let n = this.last; n; n = n.prev) followers.push(n);
    for (const n of followers) n.prev = n.next = undefined;
    this.last = undefined;
    this.count = 0;
    for (let i = followers.length - 1; i >= 0; i--) followers[i]!.runAborted();
  }

  /** @internal `n` is not in the list. */
  follow(n: NodeAbort): void {
    n.prev = this.last;
    if (this.last) this.last.next = n;
    this.last = n;
    this.count++;
  }

  /** @internal Takes `n` out of the list (nothing if it is not in it: an abort unlinked it). */
  unfollow(n: NodeAbort): void {
    const { prev, next } = n;
    if (prev === undefined && next === undefined && this.last !== n) return;
    if (prev) prev.next = next;
    if (next) next.prev = prev;
    else this.last = prev;
    n.prev = n.next = undefined;
    this.count--;
  }
}

type AbortCallback = (reason: unknown) => void;

/**
 * The cancellation of one execution: its run's, plus its own abort (`cancelNode`). The
 * AbortSignal executors see is made on first read, so a node whose executor never looks
 * at it (a sync FnNode) costs no AbortController, the dearest object of a run; waiting
 * for the abort (`onAbort`) needs no signal either.
 */
export class NodeAbort {
  private controller: AbortController | undefined = undefined;
  /** What to call on abort: one callback (the common case: one call waits) or a list. */
  private callbacks: AbortCallback | AbortCallback[] | undefined = undefined;
  private following = false;
  /** @internal Its neighbours in the run's list of followers (see RunAbort). */
  prev: NodeAbort | undefined = undefined;
  /** @internal */
  next: NodeAbort | undefined = undefined;
  private self = false;
  private selfReason: unknown = undefined;
  constructor(private readonly run: RunAbort) {}

  get aborted(): boolean {
    return this.self || this.run.aborted;
  }

  get reason(): unknown {
    return this.self ? this.selfReason : this.run.reason;
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      // Shared by every call of the execution (a mapped node's items): not a leak to warn about.
      setMaxListeners(0, this.controller.signal);
      if (this.aborted) this.controller.abort(this.reason);
      else this.follow();
    }
    return this.controller.signal;
  }

  /** Calls `cb` with the reason once this execution is aborted (never after `dispose`). */
  onAbort(cb: (reason: unknown) => void): void {
    if (this.aborted) {
      cb(this.reason);
      return;
    }
    const had = this.callbacks;
    this.callbacks = had === undefined ? cb : Array.isArray(had) ? (had.push(cb), had) : [had, cb];
    this.follow();
  }

  /** Aborts this execution alone. */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.self = true;
    this.selfReason = reason;
    this.fire();
  }

  /** @internal The run was aborted: so is this execution. */
  runAborted(): void {
    this.following = false;
    this.fire();
  }

  /** Stops following the run once the execution has ended. */
  dispose(): void {
    if (this.following) this.run.unfollow(this);
    this.following = false;
    this.callbacks = undefined;
  }

  private follow(): void {
    if (this.following || this.aborted) return;
    this.following = true;
    this.run.follow(this);
  }

  private fire(): void {
    if (this.following) this.run.unfollow(this);
    this.following = false;
    const reason = this.reason;
    this.controller?.abort(reason);
    const callbacks = this.callbacks;
    this.callbacks = undefined;
    if (typeof callbacks === "function") callbacks(reason);
    else if (callbacks) for (const cb of callbacks) cb(reason);
  }
}

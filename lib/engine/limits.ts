import { DaggrError, ErrorCode, NodeKind, type Node } from "../graph/index.js";

/** A counting semaphore whose waits can be aborted. */
export class Semaphore {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(readonly size: number) {}

  /** Whether a slot is free right now (the caller would not wait). */
  get free(): boolean {
    return this.active < this.size;
  }

  /** Takes a slot if one is free right now; the caller then owes one `give()`. */
  tryTake(): boolean {
    if (this.active >= this.size) return false;
    this.active++;
    return true;
  }

  /** Returns a slot taken with `tryTake` (or granted by `acquire`), handing it to the next waiter. */
  give(): void {
    const next = this.waiting.shift();
    if (next) next(); // hand the slot over directly
    else this.active--;
  }

  async acquire(signal?: AbortSignal): Promise<() => void> {
    await this.wait(signal);
    return this.releaser();
  }

  /** Resolves once a slot is taken for the caller, who then owes one `give()`. */
  wait(signal?: AbortSignal): Promise<void> {
    if (this.tryTake()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const grant = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(grant);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(new DaggrError(ErrorCode.CANCELLED, "Cancelled while waiting for a free slot."));
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiting.push(grant);
    });
  }

  private releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.give();
    };
  }
}

/**
 * Process-wide concurrency limits, shared by every session and sheet, as in DESIGN §4:
 * FnNodes run one at a time unless `concurrent`; a `concurrencyGroup` shares
 * `maxConcurrent` slots; other nodes run at once (or up to their own `maxConcurrent`).
 */
class Limits {
  private readonly fnLock = new Semaphore(1);
  private readonly groups = new Map<string, Semaphore>();
  private readonly perNode = new WeakMap<Node, Semaphore>();

  /** The semaphore a node must hold while it runs, or undefined when it runs freely. */
  for(node: Node): Semaphore | undefined {
    const { concurrent, concurrencyGroup, maxConcurrent } = node.options;
    if (concurrencyGroup) {
      let g = this.groups.get(concurrencyGroup);
      if (!g) this.groups.set(concurrencyGroup, (g = new Semaphore(Math.max(1, maxConcurrent ?? 1))));
      return g;
    }
    if (node.kind === NodeKind.FN && !concurrent) return this.fnLock;
    if (maxConcurrent) {
      let s = this.perNode.get(node);
      if (!s) this.perNode.set(node, (s = new Semaphore(Math.max(1, maxConcurrent))));
      return s;
    }
    return undefined;
  }
}

export const limits = new Limits();

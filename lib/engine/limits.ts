import { DaggrError, ErrorCode, NodeKind, type Node } from "../graph/index.js";

/** A counting semaphore whose waits can be aborted. */
export class Semaphore {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(readonly size: number) {}

  /** Slots held now. */
  get activeCount(): number {
    return this.active;
  }

  /** Callers waiting for a slot. */
  get waitingCount(): number {
    return this.waiting.length;
  }

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

/** How many jobs one remote app (a Gradio app, a provider's model) runs at once by default. */
export const DEFAULT_REMOTE_CONCURRENCY = 4;

/** A semaphore's load, for diagnostics and tests. */
export interface LimitLoad {
  /** `fn`, `group:<name>`, `node:<id>` or `remote:<app>`. */
  key: string;
  size: number;
  active: number;
  waiting: number;
}

/**
 * Process-wide concurrency limits, shared by every session and sheet, as in DESIGN §4:
 * FnNodes run one at a time unless `concurrent`; a `concurrencyGroup` shares
 * `maxConcurrent` slots; a node with its own `maxConcurrent` runs at most that many.
 *
 * Remote nodes without either share one pool per remote app, so 300 clicks (or 300
 * REST calls, or a 300-item map) do not start 300 paid jobs: a Gradio app is its Space
 * id or URL, a provider model is `model:provider`. Every node calling the same app
 * draws from the same {@link remoteConcurrency} slots (default 4); the rest wait their turn.
 */
class Limits {
  private readonly fnLock = new Semaphore(1);
  private readonly groups = new Map<string, Semaphore>();
  private readonly perNode = new WeakMap<Node, Semaphore>();
  private readonly perNodeKeys = new Map<string, WeakRef<Semaphore>>();
  private readonly remote = new Map<string, Semaphore>();
  private remoteSize = DEFAULT_REMOTE_CONCURRENCY;

  /**
   * Jobs each remote app runs at once, for nodes without their own `maxConcurrent` or
   * group (default 4; `launch({ remoteConcurrency })` sets it). A new size applies to
   * jobs that start from now on; those already holding a slot finish under the old one.
   */
  get remoteConcurrency(): number {
    return this.remoteSize;
  }
  set remoteConcurrency(n: number) {
    if (!(Number.isInteger(n) && n >= 1) && n !== Infinity) {
      throw new DaggrError(ErrorCode.BAD_OPTION, `remoteConcurrency must be a whole number of at least 1 (or Infinity), got ${JSON.stringify(n)}.`);
    }
    if (n !== this.remoteSize) this.remote.clear();
    this.remoteSize = n;
  }

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
      if (!s) {
        this.perNode.set(node, (s = new Semaphore(Math.max(1, maxConcurrent))));
        this.perNodeKeys.set(node.id, new WeakRef(s));
      }
      return s;
    }
    const app = remoteApp(node);
    if (app) {
      let r = this.remote.get(app);
      if (!r) this.remote.set(app, (r = new Semaphore(this.remoteSize)));
      return r;
    }
    return undefined;
  }

  /** Every pool in use now: how big, how many hold a slot, how many wait. */
  load(): LimitLoad[] {
    const out: LimitLoad[] = [];
    const add = (key: string, s: Semaphore) => out.push({ key, size: s.size, active: s.activeCount, waiting: s.waitingCount });
    add("fn", this.fnLock);
    for (const [k, s] of this.groups) add(`group:${k}`, s);
    for (const [k, ref] of this.perNodeKeys) {
      const s = ref.deref();
      if (s) add(`node:${k}`, s);
      else this.perNodeKeys.delete(k);
    }
    for (const [k, s] of this.remote) add(`remote:${k}`, s);
    return out;
  }
}

/**
 * The remote app a node calls, as one key per app: a Space id (case-insensitive, as the
 * Hub treats it), an app URL's origin and path, or a provider model (`model:provider`).
 */
export function remoteApp(node: Node): string | undefined {
  if (node.kind === NodeKind.GRADIO) {
    const space = String((node as Node & { space?: unknown }).space ?? "");
    if (!/^https?:\/\//i.test(space)) return `gradio:${space.toLowerCase()}`;
    try {
      const u = new URL(space);
      return `gradio:${u.origin}${u.pathname.replace(/\/+$/, "")}`;
    } catch {
      return `gradio:${space}`;
    }
  }
  if (node.kind === NodeKind.INFERENCE) {
    const { model, provider } = node as Node & { model?: unknown; provider?: unknown };
    return `inference:${String(model).toLowerCase()}:${provider ?? "auto"}`;
  }
  return undefined;
}

export const limits = new Limits();

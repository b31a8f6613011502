import { setMaxListeners } from "node:events";

/**
 * A run's cancellation: an AbortController, with its state also in a plain field, since
 * every node of the run checks it (the AbortSignal getter costs more than the check).
 */
export class RunAbort {
  private readonly controller = new AbortController();
  aborted = false;

  constructor() {
    setMaxListeners(0, this.controller.signal); // executing nodes that read their signal listen for this one
    this.controller.signal.addEventListener("abort", this, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get reason(): unknown {
    return this.controller.signal.reason;
  }

  abort(reason: unknown): void {
    this.controller.abort(reason);
  }

  /** @internal */
  handleEvent(): void {
    this.aborted = true;
  }
}

/**
 * The cancellation of one execution: its run's, plus its own abort (`cancelNode`). The
 * AbortSignal executors see is made on first read, so a node whose executor never looks
 * at it (a sync FnNode) costs no AbortController, the dearest object of a run.
 */
export class NodeAbort {
  private controller: AbortController | undefined = undefined;
  constructor(private readonly run: RunAbort) {}

  get aborted(): boolean {
    return this.controller ? this.controller.signal.aborted : this.run.aborted;
  }

  get reason(): unknown {
    return this.controller ? this.controller.signal.reason : this.run.reason;
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.run.aborted) this.controller.abort(this.run.reason);
      else this.run.signal.addEventListener("abort", this, { once: true });
    }
    return this.controller.signal;
  }

  /** Aborts this execution alone. */
  abort(reason: unknown): void {
    this.signal;
    this.controller!.abort(reason);
  }

  /** @internal The run was aborted: so is this execution. */
  handleEvent(): void {
    this.controller!.abort(this.run.reason);
  }

  /** Stops following the run's signal once the execution has ended. */
  dispose(): void {
    if (this.controller) this.run.signal.removeEventListener("abort", this);
  }
}

import { DaggrError, ErrorCode } from "../graph/index.js";

/**
 * An inactivity deadline: aborts its signal with E_IDLE_TIMEOUT once `ms` pass without
 * a `touch()`. One timer per execution, re-armed lazily: a touch only stores the time,
 * so a stream of thousands of tokens costs no timer churn.
 */
export class IdleDeadline {
  private readonly controller = new AbortController();
  private timer: ReturnType<typeof setTimeout> | undefined = undefined;
  private last = 0;

  constructor(
    readonly ms: number,
    private readonly nodeId: string,
  ) {}

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get fired(): boolean {
    return this.controller.signal.aborted;
  }

  /** Starts counting (when the node starts running, not while it waits for a slot). */
  start(): void {
    if (this.timer !== undefined || this.fired) return;
    this.last = performance.now();
    this.arm(this.ms);
  }

  touch(): void {
    this.last = performance.now();
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(ms: number): void {
    // Not unref'd: a pending execution is work, and `end()` always stops the timer.
    this.timer = setTimeout(() => this.check(), ms);
  }

  private check(): void {
    const idle = performance.now() - this.last;
    if (idle < this.ms) {
      this.arm(this.ms - idle);
      return;
    }
    this.timer = undefined;
    this.controller.abort(
      new DaggrError(
        ErrorCode.IDLE_TIMEOUT,
        `Node '${this.nodeId}' showed no sign of life (no message, progress or downloaded byte) for ${this.ms} ms and was stopped; raise its inactivityMs (0 turns the deadline off) if the remote is just slow.`,
        { inactivityMs: this.ms },
      ),
    );
  }
}

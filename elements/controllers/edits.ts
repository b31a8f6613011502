const DEBOUNCE_MS = 300;

/**
 * Edits on their way to the server: typing is debounced per input (one `set-input`
 * after a pause), held drafts wait for their commit, committed changes go at once, and
 * `flush()` sends whatever is pending (before a run, so it runs on what the user sees).
 */
export class InputEdits {
  private readonly pending = new Map<string, { timer: ReturnType<typeof setTimeout> | undefined; send(): void; base: number | undefined }>();

  /**
   * `revOf` gives the input's revision as this tab knows it. Each edit names the one it
   * started from (`base`: read when an edit of that input begins, not when it is sent),
   * so another tab's change that arrives while the user types makes the edit a conflict
   * instead of silently overwriting it.
   */
  constructor(
    private readonly send: (nodeId: string, port: string, value: unknown, base: number | undefined) => void,
    private readonly revOf: (nodeId: string, port: string) => number | undefined = () => undefined,
  ) {}

  /** The revision a pending edit of this input started from, or the current one. */
  private baseOf(key: string, nodeId: string, port: string): number | undefined {
    const before = this.pending.get(key);
    clearTimeout(before?.timer);
    return before ? before.base : this.revOf(nodeId, port);
  }

  set(nodeId: string, port: string, value: unknown, immediate: boolean): void {
    const key = `${nodeId}__${port}`;
    const base = this.baseOf(key, nodeId, port);
    const send = () => {
      this.pending.delete(key);
      this.send(nodeId, port, value, base);
    };
    if (immediate) return send();
    this.pending.set(key, { timer: setTimeout(send, DEBOUNCE_MS), send, base });
  }

  /** Keeps a value unsent (no timer) until `set` replaces it or `flush` sends it. */
  hold(nodeId: string, port: string, value: unknown): void {
    const key = `${nodeId}__${port}`;
    const base = this.baseOf(key, nodeId, port);
    this.pending.set(key, {
      timer: undefined,
      base,
      send: () => {
        this.pending.delete(key);
        this.send(nodeId, port, value, base);
      },
    });
  }

  flush(): void {
    for (const p of [...this.pending.values()]) {
      clearTimeout(p.timer);
      p.send();
    }
  }
}

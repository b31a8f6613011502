const DEBOUNCE_MS = 300;

/**
 * Edits on their way to the server: typing is debounced per input (one `set-input`
 * after a pause), held drafts wait for their commit, committed changes go at once, and
 * `flush()` sends whatever is pending (before a run, so it runs on what the user sees).
 */
export class InputEdits {
  private readonly pending = new Map<string, { timer: ReturnType<typeof setTimeout> | undefined; send(): void }>();

  constructor(private readonly send: (nodeId: string, port: string, value: unknown) => void) {}

  set(nodeId: string, port: string, value: unknown, immediate: boolean): void {
    const key = `${nodeId}__${port}`;
    clearTimeout(this.pending.get(key)?.timer);
    const send = () => {
      this.pending.delete(key);
      this.send(nodeId, port, value);
    };
    if (immediate) return send();
    this.pending.set(key, { timer: setTimeout(send, DEBOUNCE_MS), send });
  }

  /** Keeps a value unsent (no timer) until `set` replaces it or `flush` sends it. */
  hold(nodeId: string, port: string, value: unknown): void {
    const key = `${nodeId}__${port}`;
    clearTimeout(this.pending.get(key)?.timer);
    this.pending.set(key, {
      timer: undefined,
      send: () => {
        this.pending.delete(key);
        this.send(nodeId, port, value);
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

import type { HistoryMessage, ResultWire } from "../wire.js";
import type { CanvasStore } from "./canvas-store.js";
import type { Connection } from "./connection.js";

/** Where the selected result sits among a node's successful results, oldest = 1. */
export interface HistoryPosition {
  index: number | undefined;
  total: number;
  prev: string | undefined;
  next: string | undefined;
}

const PAGE = 100;
/** History requests in flight at once (a reload of a big, well-used sheet asks for many). */
const PARALLEL = 4;

/**
 * Result history per node, fetched lazily with `history` requests and dropped when
 * the node gains a result. Navigation skips failed and cancelled results (only
 * successful ones can be selected); selecting sends `select-result`, and the engine
 * restores inputs and cascades selections, which arrive as ordinary events.
 */
export class HistoryController {
  /** Newest first, successful only. */
  private readonly pages = new Map<string, { ids: string[]; count: number }>();
  private readonly inflight = new Map<string, Promise<void>>();
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly store: CanvasStore,
    private readonly conn: () => Connection | undefined,
    private readonly onLoaded: (nodeId: string) => void,
  ) {}

  private slot(): Promise<void> {
    if (this.running < PARALLEL) {
      this.running++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(() => (this.running++, resolve())));
  }

  clear(): void {
    this.pages.clear();
    this.inflight.clear();
  }

  position(nodeId: string): HistoryPosition {
    const st = this.store.state(nodeId);
    const page = this.pages.get(nodeId);
    if (!page || page.count !== st.count) {
      if (st.count > 1) void this.load(nodeId);
      return { index: undefined, total: st.count, prev: undefined, next: undefined };
    }
    const oldestFirst = [...page.ids].reverse();
    const at = st.selectedId ? oldestFirst.indexOf(st.selectedId) : -1;
    return {
      index: at >= 0 ? at + 1 : undefined,
      total: oldestFirst.length,
      prev: at > 0 ? oldestFirst[at - 1] : at < 0 ? oldestFirst.at(-1) : undefined,
      next: at >= 0 && at < oldestFirst.length - 1 ? oldestFirst[at + 1] : undefined,
    };
  }

  select(nodeId: string, resultId: string): Promise<unknown> | undefined {
    return this.conn()?.request({ type: "select-result", nodeId, resultId });
  }

  load(nodeId: string): Promise<void> {
    const existing = this.inflight.get(nodeId);
    if (existing) return existing;
    const c = this.conn();
    if (!c?.open) return Promise.resolve();
    const count = this.store.state(nodeId).count;
    const p = this.slot()
      .then(() => c.request<HistoryMessage>({ type: "history", nodeId, limit: PAGE }))
      .then((msg) => {
        const ok = msg.results.filter((r: ResultWire) => r.status === "success").map((r) => r.id);
        this.pages.set(nodeId, { ids: ok, count });
        this.onLoaded(nodeId);
      })
      .catch(() => undefined)
      .finally(() => {
        this.inflight.delete(nodeId);
        this.running--;
        this.waiting.shift()?.();
      });
    this.inflight.set(nodeId, p);
    return p;
  }
}

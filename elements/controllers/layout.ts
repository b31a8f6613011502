import { cachedLayout, layoutKey, rememberLayout } from "../layout/cache.js";
import { ElkWorker } from "../layout/elk-worker.js";
import { simpleLayout } from "../layout/simple-layout.js";
import type { LayoutInput, LayoutResult } from "../layout/types.js";

/**
 * Above this many nodes the fast layered layout is used: ELK's takes seconds there (4–7 s
 * at 1,000 nodes on a busy 2-core machine, whatever its strategies), the fast one
 * milliseconds.
 */
export const ELK_MAX_NODES = 120;

/**
 * Lays the graph out: ELK off the main thread for graphs up to {@link ELK_MAX_NODES}
 * nodes, the fast layered layout (`simpleLayout`) above. Each call gets a version; a result that
 * arrives after a newer request is dropped (the graph changed meanwhile). The worker is
 * created on first use and reused; if workers are unavailable or ELK fails, the small
 * built-in layered layout is used instead, so the canvas always appears.
 */
export class LayoutController {
  private elk: ElkWorker | undefined;
  private elkBroken = false;
  private version = 0;
  last: LayoutResult | undefined;
  /** Layouts computed so far (values changing must never add one), and ones found cached. */
  runs = 0;
  cacheHits = 0;

  /** Starts the worker now, so ELK boots (≈0.3 s) while the graph is still on its way. */
  warm(): void {
    try {
      this.worker();
    } catch {
      this.elkBroken = true;
    }
  }

  /** Resolves with the layout, or undefined when a newer request superseded this one. */
  async run(input: LayoutInput): Promise<LayoutResult | undefined> {
    const mine = ++this.version;
    const key = layoutKey(input);
    const cached = cachedLayout(key);
    if (cached) {
      this.cacheHits++;
      this.last = cached;
      return cached;
    }
    this.runs++;
    let result: LayoutResult;
    if (input.nodes.length > ELK_MAX_NODES) {
      result = simpleLayout(input);
      this.last = result;
      return result;
    }
    try {
      result = await this.worker().layout(input);
      rememberLayout(key, result);
    } catch (e) {
      if (!this.elkBroken) console.warn("daggr: ELK layout failed, using the simple layout.", e);
      this.elkBroken = true;
      result = { ...simpleLayout(input), engine: "fallback" };
    }
    if (mine !== this.version) return undefined;
    this.last = result;
    return result;
  }

  destroy(): void {
    this.version++;
    this.elk?.destroy();
    this.elk = undefined;
  }

  private worker(): { layout(i: LayoutInput): Promise<LayoutResult> } {
    if (this.elkBroken) return { layout: async (i) => simpleLayout(i) };
    return (this.elk ??= new ElkWorker());
  }
}

import { ElkWorker } from "../layout/elk-worker.js";
import { simpleLayout } from "../layout/simple-layout.js";
import type { LayoutInput, LayoutResult } from "../layout/types.js";

/**
 * Lays the graph out off the main thread. Each call gets a version; a result that
 * arrives after a newer request is dropped (the graph changed meanwhile). The worker is
 * created on first use and reused; if workers are unavailable or ELK fails, the small
 * built-in layered layout is used instead, so the canvas always appears.
 */
export class LayoutController {
  private elk: ElkWorker | undefined;
  private elkBroken = false;
  private version = 0;
  last: LayoutResult | undefined;

  /** Resolves with the layout, or undefined when a newer request superseded this one. */
  async run(input: LayoutInput): Promise<LayoutResult | undefined> {
    const mine = ++this.version;
    let result: LayoutResult;
    try {
      result = await this.worker().layout(input);
    } catch (e) {
      if (!this.elkBroken) console.warn("daggr: ELK layout failed, using the simple layout.", e);
      this.elkBroken = true;
      result = simpleLayout(input);
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

import { CARD_WIDTH, outputPorts, portY, wiredInputs } from "../layout/geometry.js";
import { type LayoutInput, type LayoutResult, portId } from "../layout/types.js";
import type { GraphWire } from "../wire.js";
import type { CanvasStore } from "./canvas-store.js";
import { settle } from "./collisions.js";

type Point = { x: number; y: number };
type Size = { w: number; h: number };

/**
 * Where each card is. It measures the rendered cards into a layout request, applies a
 * layout's positions (as transforms: no card re-renders), and afterwards watches card
 * sizes: when values make a card grow, the cards below it move down just enough
 * (`settle`), and `onMoved` hears which ones moved so their edges follow.
 */
export class Placement {
  /** Where the layout put each card, and where it is now (lower, if a card above grew). */
  private laid = new Map<string, Point>();
  readonly positions = new Map<string, Point>();
  readonly sizes = new Map<string, Size>();
  bounds = { x: 0, y: 0, width: 0, height: 0 };
  private readonly resizes = new ResizeObserver((entries) => this.onResize(entries));
  private frame = 0;
  private cards = new Map<string, HTMLElement>();

  constructor(private readonly onMoved: (ids: Set<string>) => void) {}

  width = (id: string): number => this.sizes.get(id)?.w ?? CARD_WIDTH;

  /** Measures the cards and describes the graph for the layout. */
  measure(cards: Iterable<HTMLElement>, graph: GraphWire, store: CanvasStore, aspectRatio?: number): LayoutInput {
    this.sizes.clear();
    this.cards.clear();
    for (const el of cards) {
      const id = el.dataset.node;
      if (!id) continue;
      this.cards.set(id, el);
      this.sizes.set(id, { w: el.offsetWidth || CARD_WIDTH, h: el.offsetHeight || 120 });
    }
    const input: LayoutInput = { nodes: [], edges: [], aspectRatio };
    for (const n of graph.nodes) {
      const s = this.sizes.get(n.id) ?? { w: CARD_WIDTH, h: 120 };
      input.nodes.push({
        id: n.id,
        width: s.w,
        height: s.h,
        ports: [
          ...wiredInputs(n).map((p, i) => ({ id: portId(n.id, "in", p), side: "in" as const, y: portY(i) })),
          ...outputPorts(n, store.edgesOutOf.get(n.id)).map((p, i) => ({ id: portId(n.id, "out", p), side: "out" as const, y: portY(i) })),
        ],
      });
    }
    const known = new Set(input.nodes.flatMap((n) => n.ports.map((p) => p.id)));
    for (const e of graph.edges) {
      const sp = portId(e.from.node, "out", e.from.port);
      const tp = portId(e.to.node, "in", e.to.port);
      if (known.has(sp) && known.has(tp)) input.edges.push({ id: e.id, source: e.from.node, sourcePort: sp, target: e.to.node, targetPort: tp });
    }
    return input;
  }

  /** Moves the measured cards to a layout's positions and starts watching their sizes. */
  apply(result: LayoutResult): void {
    this.laid = result.positions;
    this.positions.clear();
    for (const [id, p] of result.positions) this.positions.set(id, { ...p });
    this.bounds = result.bounds;
    this.resizes.disconnect();
    for (const [id, el] of this.cards) {
      const p = this.positions.get(id);
      if (p) el.style.transform = `translate(${p.x}px, ${p.y}px)`;
      this.resizes.observe(el);
    }
  }

  destroy(): void {
    this.resizes.disconnect();
    cancelAnimationFrame(this.frame);
  }

  private onResize(entries: ResizeObserverEntry[]): void {
    let changed = false;
    for (const e of entries) {
      const el = e.target as HTMLElement;
      const s = this.sizes.get(el.dataset.node ?? "");
      if (s && s.h !== el.offsetHeight) {
        s.h = el.offsetHeight;
        changed = true;
      }
    }
    if (changed && !this.frame) this.frame = requestAnimationFrame(() => this.resettle());
  }

  private resettle(): void {
    this.frame = 0;
    const moved = settle(this.laid, (id) => this.sizes.get(id) ?? { w: CARD_WIDTH, h: 0 });
    const touched = new Set<string>();
    let bottom = 0;
    for (const [id, p] of this.laid) {
      const y = moved.get(id) ?? p.y;
      const cur = this.positions.get(id)!;
      if (cur.y !== y) {
        cur.y = y;
        touched.add(id);
        const el = this.cards.get(id);
        if (el) el.style.transform = `translate(${cur.x}px, ${y}px)`;
      }
      bottom = Math.max(bottom, y + (this.sizes.get(id)?.h ?? 0));
    }
    this.bounds = { ...this.bounds, height: Math.max(this.bounds.height, bottom - this.bounds.y) };
    if (touched.size) this.onMoved(touched);
  }
}

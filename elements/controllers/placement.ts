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
 * (`settle`), `onMoved` hears which ones moved so their edges follow, and `onBounds`
 * that the whole grew.
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

  constructor(
    private readonly onMoved: (ids: Set<string>) => void,
    /** The cards' bounds changed after the layout (a card grew): the canvas may fit them again. */
    private readonly onBounds: () => void = () => undefined,
  ) {}

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

  /** Cards the user dragged: they stay where they were put, whatever the layout says. */
  private pins = new Map<string, Point>();
  /** The layout's own positions (before pins). */
  private base = new Map<string, Point>();

  /** Moves the measured cards to a layout's positions (pinned cards stay put) and starts watching their sizes. */
  apply(result: LayoutResult): void {
    this.base = result.positions;
    this.laid = new Map(result.positions);
    for (const [id, p] of this.pins) if (this.laid.has(id)) this.laid.set(id, { ...p });
    this.positions.clear();
    for (const [id, p] of this.laid) this.positions.set(id, { ...p });
    this.bounds = withPins(result.bounds, this.pins, this.sizes);
    this.resizes.disconnect();
    for (const [id, el] of this.cards) {
      const p = this.positions.get(id);
      if (p) el.style.transform = `translate(${p.x}px, ${p.y}px)`;
      this.resizes.observe(el);
    }
  }

  /** The dragged cards' positions (to save). */
  pinned(): Record<string, [number, number]> {
    return Object.fromEntries([...this.pins].map(([id, p]) => [id, [Math.round(p.x), Math.round(p.y)]]));
  }

  /** Replaces the pins (another sheet's): cards go back to the layout's places, then to their pins. */
  setPins(pins: Record<string, [number, number]>): void {
    this.pins = new Map(Object.entries(pins).map(([id, [x, y]]) => [id, { x, y }]));
    if (!this.base.size) return;
    this.laid = new Map(this.base);
    for (const [id, p] of this.pins) if (this.laid.has(id)) this.laid.set(id, { ...p });
    this.resettle(true);
  }

  /** A card dragged to `p` (world coordinates): it stays there, and is pinned. */
  move(id: string, p: Point): void {
    if (!this.laid.has(id)) return;
    this.pins.set(id, { ...p });
    this.laid.set(id, { ...p });
    this.resettle(true);
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

  private resettle(all = false): void {
    this.frame = 0;
    // Pinned cards never move down for a neighbour: settle() sees only the others.
    const free = new Map([...this.laid].filter(([id]) => !this.pins.has(id)));
    const moved = settle(free, (id) => this.sizes.get(id) ?? { w: CARD_WIDTH, h: 0 });
    const touched = new Set<string>();
    let bottom = 0;
    for (const [id, p] of this.laid) {
      const y = moved.get(id) ?? p.y;
      const cur = this.positions.get(id)!;
      if (cur.y !== y || cur.x !== p.x || all) {
        if (cur.y !== y || cur.x !== p.x) touched.add(id);
        cur.x = p.x;
        cur.y = y;
        const el = this.cards.get(id);
        if (el) el.style.transform = `translate(${cur.x}px, ${y}px)`;
      }
      bottom = Math.max(bottom, y + (this.sizes.get(id)?.h ?? 0));
    }
    const before = this.bounds;
    this.bounds = withPins({ ...this.bounds, height: Math.max(this.bounds.height, bottom - this.bounds.y) }, this.pins, this.sizes);
    if (touched.size) this.onMoved(touched);
    const b = this.bounds;
    if (b.x !== before.x || b.y !== before.y || b.width !== before.width || b.height !== before.height) this.onBounds();
  }
}

/** Layout bounds grown to hold the pinned cards too. */
function withPins(b: LayoutResult["bounds"], pins: Map<string, Point>, sizes: Map<string, Size>): LayoutResult["bounds"] {
  let { x, y } = b;
  let r = b.x + b.width;
  let bottom = b.y + b.height;
  for (const [id, p] of pins) {
    const s = sizes.get(id);
    if (!s) continue;
    x = Math.min(x, p.x);
    y = Math.min(y, p.y);
    r = Math.max(r, p.x + s.w);
    bottom = Math.max(bottom, p.y + s.h);
  }
  return { x, y, width: r - x, height: bottom - y };
}

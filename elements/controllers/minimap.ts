import type { Bounds, Viewport } from "./pan-zoom.js";

/** What the minimap draws and drives. */
export interface MinimapSource {
  bounds(): Bounds;
  /** Every card's box in world space, and whether it is stale. */
  cards(): Iterable<{ x: number; y: number; w: number; h: number; stale: boolean }>;
  viewport(): Viewport;
  /** The canvas's size on screen. */
  screen(): { width: number; height: number };
  /** Centres the view on a world point, keeping the zoom. */
  centre(x: number, y: number): void;
}

const WIDTH = 200;
const HEIGHT = 140;
const PAD = 6;

/**
 * A small overview of a large graph in the corner: every card as a box, the part in view
 * as a frame. Pressing or dragging on it centres the view there. Drawn on a 2D canvas,
 * at most once a frame, so a thousand cards cost a few hundred microseconds.
 *
 * @example
 * const map = new Minimap(source); host.append(map.el); map.schedule();
 */
export class Minimap {
  readonly el: HTMLCanvasElement;
  private frame = 0;
  private dragging: number | undefined;
  /** world → minimap: scale and offset of the last draw. */
  private k = 1;
  private ox = 0;
  private oy = 0;

  constructor(private readonly source: MinimapSource) {
    const el = (this.el = document.createElement("canvas"));
    el.className = "minimap";
    el.setAttribute("role", "img");
    el.setAttribute("aria-label", "Overview of the graph; press to move the view there");
    const dpr = globalThis.devicePixelRatio || 1;
    el.width = WIDTH * dpr;
    el.height = HEIGHT * dpr;
    el.style.width = `${WIDTH}px`;
    el.style.height = `${HEIGHT}px`;
    el.addEventListener("pointerdown", this.onDown);
    el.addEventListener("pointermove", this.onMove);
    el.addEventListener("pointerup", this.onUp);
    el.addEventListener("pointercancel", this.onUp);
  }

  /** Redraws on the next frame (many calls in one frame draw once). */
  schedule(): void {
    if (!this.frame) this.frame = requestAnimationFrame(() => this.draw());
  }

  destroy(): void {
    cancelAnimationFrame(this.frame);
    this.el.remove();
  }

  draw(): void {
    this.frame = 0;
    const ctx = this.el.getContext("2d");
    const b = this.source.bounds();
    if (!ctx || !b.width || !b.height) return;
    const dpr = this.el.width / WIDTH;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, WIDTH, HEIGHT);
    const k = (this.k = Math.min((WIDTH - 2 * PAD) / b.width, (HEIGHT - 2 * PAD) / b.height));
    this.ox = (WIDTH - b.width * k) / 2 - b.x * k;
    this.oy = (HEIGHT - b.height * k) / 2 - b.y * k;
    const style = getComputedStyle(this.el);
    const fresh = style.getPropertyValue("--daggr-muted").trim() || "#71717a";
    const stale = style.getPropertyValue("--daggr-stale").trim() || "#b4b4bc";
    const accent = style.getPropertyValue("--daggr-accent").trim() || "#f97316";
    for (const c of this.source.cards()) {
      ctx.fillStyle = c.stale ? stale : fresh;
      ctx.fillRect(this.ox + c.x * k, this.oy + c.y * k, Math.max(1, c.w * k), Math.max(1, c.h * k));
    }
    const v = this.source.viewport();
    const s = this.source.screen();
    ctx.strokeStyle = accent;
    ctx.lineWidth = 1.5;
    ctx.strokeRect(this.ox + (-v.x / v.zoom) * k, this.oy + (-v.y / v.zoom) * k, (s.width / v.zoom) * k, (s.height / v.zoom) * k);
  }

  /** A point on the minimap (relative to it) in world space. */
  toWorld(mx: number, my: number): { x: number; y: number } {
    return { x: (mx - this.ox) / this.k, y: (my - this.oy) / this.k };
  }

  private centreAt(e: PointerEvent): void {
    const r = this.el.getBoundingClientRect();
    const w = this.toWorld(e.clientX - r.left, e.clientY - r.top);
    this.source.centre(w.x, w.y);
  }

  private readonly onDown = (e: PointerEvent) => {
    e.stopPropagation();
    this.dragging = e.pointerId;
    this.el.setPointerCapture(e.pointerId);
    this.centreAt(e);
  };

  private readonly onMove = (e: PointerEvent) => {
    if (this.dragging === e.pointerId) this.centreAt(e);
  };

  private readonly onUp = (e: PointerEvent) => {
    if (this.dragging !== e.pointerId) return;
    this.dragging = undefined;
    if (this.el.hasPointerCapture(e.pointerId)) this.el.releasePointerCapture(e.pointerId);
  };
}

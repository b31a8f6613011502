/** The canvas transform: screen = world × zoom + (x, y). */
export interface Viewport {
  x: number;
  y: number;
  zoom: number;
}

export interface Bounds {
  x: number;
  y: number;
  width: number;
  height: number;
}

export const MIN_ZOOM = 0.1;
export const MAX_ZOOM = 3;
const FIT_MAX_ZOOM = 1;
const FIT_PADDING = 48;
/**
 * Above the graph, fitting leaves room for the controls floating over the top of the
 * canvas (title bar, Run all: 12 px from the edge, 38 px tall) and for the timing label
 * each card wears above its top edge: a top card's label is never under them.
 */
const FIT_PADDING_TOP = 76;

const clampZoom = (z: number) => Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, z));

/**
 * A viewport saved from a view of `saved.width × saved.height`, for a view of `size`: the
 * same part of the graph, centred and scaled to fit (a viewport saved without its size,
 * or for a view of the same size, is used as it is).
 */
export function fitSaved(saved: Viewport & { width?: number; height?: number }, size: { width: number; height: number }): Viewport {
  const { width: w0, height: h0 } = saved;
  if (!w0 || !h0 || !size.width || !size.height || (Math.abs(w0 - size.width) < 1 && Math.abs(h0 - size.height) < 1)) return { x: saved.x, y: saved.y, zoom: saved.zoom };
  const zoom = clampZoom(saved.zoom * Math.min(size.width / w0, size.height / h0));
  // The world point at the saved view's centre goes to this view's centre.
  const cx = (w0 / 2 - saved.x) / saved.zoom;
  const cy = (h0 / 2 - saved.y) / saved.zoom;
  return { x: size.width / 2 - cx * zoom, y: size.height / 2 - cy * zoom, zoom };
}

/**
 * Pan by dragging the background or scrolling, zoom with Ctrl/⌘ + wheel (or a trackpad
 * pinch) around the cursor, pinch with two fingers on a touch screen (zoom around the
 * fingers' midpoint, pan as it moves), fit a box into view. It writes the transform straight to the
 * world element's style (no re-render of anything) and reports changes through
 * `onChange`, which the canvas uses to save the viewport per sheet.
 *
 * Touch follows map apps: a second finger ends any one-finger gesture where it is (a pan
 * here; a card drag through `onPinch`) and the first two fingers pinch; a third changes
 * nothing; when a pinch finger lifts, two fingers still down pinch on from where they are,
 * and one left alone pans from where it is.
 *
 * @example
 * const pz = new PanZoom(viewportEl, worldEl, (v, user) => user && save(v));
 * pz.fit({ x: 0, y: 0, width: 2000, height: 900 });
 */
export class PanZoom {
  viewport: Viewport = { x: 0, y: 0, zoom: 1 };
  private drag: { id: number; sx: number; sy: number; vx: number; vy: number } | undefined;
  /** Touch points down on the canvas, by pointer id (client coordinates). */
  private readonly touches = new Map<number, { x: number; y: number }>();
  /** A two-finger pinch: its fingers, their distance and midpoint, and the viewport, when it began. */
  private pinch: { ids: [number, number]; dist: number; mx: number; my: number; from: Viewport } | undefined;
  /** Where a pointer's end is heard: a finger can lift anywhere, and one never heard would count as down forever. */
  private readonly win: Window;

  constructor(
    private readonly el: HTMLElement,
    private readonly world: HTMLElement,
    private readonly onChange: (v: Viewport, byUser: boolean) => void,
    /** Whether a pointerdown at this event may start a pan (not on a card, a control…). */
    private readonly isBackground: (e: PointerEvent) => boolean,
    /** A pinch began: a one-finger gesture started elsewhere (a card drag) ends where it is. */
    private readonly onPinch: () => void = () => undefined,
  ) {
    this.win = el.ownerDocument.defaultView ?? window;
    el.addEventListener("pointerdown", this.onDown);
    el.addEventListener("pointermove", this.onMove);
    this.win.addEventListener("pointerup", this.onUp, true);
    this.win.addEventListener("pointercancel", this.onUp, true);
    el.addEventListener("wheel", this.onWheel, { passive: false });
  }

  destroy(): void {
    this.el.removeEventListener("pointerdown", this.onDown);
    this.el.removeEventListener("pointermove", this.onMove);
    this.win.removeEventListener("pointerup", this.onUp, true);
    this.win.removeEventListener("pointercancel", this.onUp, true);
    this.el.removeEventListener("wheel", this.onWheel);
  }

  /** Fingers down on the canvas now. */
  get fingers(): number {
    return this.touches.size;
  }

  set(v: Viewport, byUser = false): void {
    this.viewport = { x: v.x, y: v.y, zoom: clampZoom(v.zoom) };
    const { x, y, zoom } = this.viewport;
    this.world.style.transform = `translate(${x}px, ${y}px) scale(${zoom})`;
    // The dotted grid moves with the world; zoomed far out, it thins out instead of turning grey.
    let grid = 20 * zoom;
    while (grid < 12) grid *= 5;
    this.el.style.backgroundSize = `${grid}px ${grid}px`;
    this.el.style.backgroundPosition = `${x}px ${y}px`;
    this.onChange(this.viewport, byUser);
  }

  /** Zooms by `factor` keeping the screen point (cx, cy) (relative to the element) still. */
  zoomAt(factor: number, cx: number, cy: number, byUser = true): void {
    const { x, y, zoom } = this.viewport;
    const z = clampZoom(zoom * factor);
    const k = z / zoom;
    this.set({ x: cx - (cx - x) * k, y: cy - (cy - y) * k, zoom: z }, byUser);
  }

  /** Zooms around the centre of the view (the − / + buttons). */
  zoomBy(factor: number): void {
    const r = this.el.getBoundingClientRect();
    this.zoomAt(factor, r.width / 2, r.height / 2);
  }

  /** Fits a world-space box into view, never zooming in past 100 %. */
  fit(b: Bounds, byUser = false): void {
    const r = this.el.getBoundingClientRect();
    if (!r.width || !r.height || !b.width || !b.height) return;
    const high = r.height - FIT_PADDING_TOP - FIT_PADDING;
    const zoom = clampZoom(Math.min((r.width - 2 * FIT_PADDING) / b.width, high / b.height, FIT_MAX_ZOOM));
    this.set({ x: (r.width - b.width * zoom) / 2 - b.x * zoom, y: FIT_PADDING_TOP + (high - b.height * zoom) / 2 - b.y * zoom, zoom }, byUser);
  }

  /**
   * Whether a world-space box is wholly in view, clear of the view's edges by half the
   * fit's padding at the sides and bottom (where the zoom buttons float).
   */
  shows(b: Bounds): boolean {
    const r = this.el.getBoundingClientRect();
    const { x, y, zoom } = this.viewport;
    const m = FIT_PADDING / 2;
    return b.x * zoom + x >= m - 0.5 && (b.x + b.width) * zoom + x <= r.width - m + 0.5 && b.y * zoom + y >= -0.5 && (b.y + b.height) * zoom + y <= r.height - m + 0.5;
  }

  /** Screen (client) coordinates → world coordinates. */
  toWorld(clientX: number, clientY: number): { x: number; y: number } {
    const r = this.el.getBoundingClientRect();
    const { x, y, zoom } = this.viewport;
    return { x: (clientX - r.left - x) / zoom, y: (clientY - r.top - y) / zoom };
  }

  private readonly onDown = (e: PointerEvent) => {
    if (e.pointerType === "touch") {
      this.touches.set(e.pointerId, { x: e.clientX, y: e.clientY });
      // A second finger, wherever it lands (on a card too), turns the gesture into a pinch; a third changes nothing.
      if (this.touches.size > 1) {
        if (!this.pinch) this.beginPinch();
        return;
      }
    }
    if (e.button !== 0 || !this.isBackground(e)) return;
    this.beginPan(e.pointerId, e.clientX, e.clientY);
    this.el.setPointerCapture(e.pointerId);
  };

  private readonly onMove = (e: PointerEvent) => {
    if (this.touches.has(e.pointerId)) {
      this.touches.set(e.pointerId, { x: e.clientX, y: e.clientY });
      if (this.pinch) return this.pinch.ids.includes(e.pointerId) ? this.pinchMove() : undefined;
    }
    const d = this.drag;
    if (!d || d.id !== e.pointerId) return;
    this.set({ x: d.vx + e.clientX - d.sx, y: d.vy + e.clientY - d.sy, zoom: this.viewport.zoom }, true);
  };

  private readonly onUp = (e: PointerEvent) => {
    if (this.touches.delete(e.pointerId) && this.pinch) {
      if (!this.pinch.ids.includes(e.pointerId)) return;
      // Lifting a pinch finger ends the pinch: two still down pinch on from where they are
      // now, one left alone pans from where it is now (no jump either way; the pinch
      // captured it already).
      this.pinch = undefined;
      if (this.el.hasPointerCapture(e.pointerId)) this.el.releasePointerCapture(e.pointerId);
      if (this.touches.size > 1) this.beginPinch();
      else for (const [id, p] of this.touches) this.beginPan(id, p.x, p.y);
      return;
    }
    if (!this.drag || this.drag.id !== e.pointerId) return;
    this.drag = undefined;
    this.el.classList.remove("panning");
    if (this.el.hasPointerCapture(e.pointerId)) this.el.releasePointerCapture(e.pointerId);
  };

  /** A pointer at (x, y) (client coordinates) pans the view from where it is now. */
  private beginPan(id: number, x: number, y: number): void {
    this.drag = { id, sx: x, sy: y, vx: this.viewport.x, vy: this.viewport.y };
    this.el.classList.add("panning");
  }

  /** The first two fingers down pinch, from where they are now. */
  private beginPinch(): void {
    const ids = [...this.touches.keys()].slice(0, 2) as [number, number];
    const [a, b] = ids.map((id) => this.touches.get(id)!) as [{ x: number; y: number }, { x: number; y: number }];
    if (this.drag) {
      this.drag = undefined;
      this.el.classList.remove("panning");
    }
    this.onPinch();
    // Both fingers' moves come here even when they are over a card.
    for (const id of ids) {
      try {
        this.el.setPointerCapture(id);
      } catch {
        // The pointer is already gone: its pointerup ends the pinch.
      }
    }
    this.pinch = { ids, dist: Math.max(1, Math.hypot(b.x - a.x, b.y - a.y)), mx: (a.x + b.x) / 2, my: (a.y + b.y) / 2, from: { ...this.viewport } };
  }

  /** Zooms by how far apart the fingers moved, keeping the world point under their first midpoint under their midpoint now. */
  private pinchMove(): void {
    const p = this.pinch!;
    const [a, b] = p.ids.map((id) => this.touches.get(id)!) as [{ x: number; y: number }, { x: number; y: number }];
    const r = this.el.getBoundingClientRect();
    const zoom = clampZoom((p.from.zoom * Math.hypot(b.x - a.x, b.y - a.y)) / p.dist);
    const wx = (p.mx - r.left - p.from.x) / p.from.zoom;
    const wy = (p.my - r.top - p.from.y) / p.from.zoom;
    const mx = (a.x + b.x) / 2 - r.left;
    const my = (a.y + b.y) / 2 - r.top;
    this.set({ x: mx - wx * zoom, y: my - wy * zoom, zoom }, true);
  }

  private readonly onWheel = (e: WheelEvent) => {
    const zooming = e.ctrlKey || e.metaKey;
    // A scrollable area inside a card keeps the wheel until it reaches its end.
    if (!zooming && scrollsInside(e)) return;
    e.preventDefault();
    const unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? 400 : 1;
    if (zooming) {
      const r = this.el.getBoundingClientRect();
      this.zoomAt(Math.exp(-e.deltaY * unit * 0.0025), e.clientX - r.left, e.clientY - r.top);
    } else {
      const { x, y, zoom } = this.viewport;
      const dx = e.shiftKey && !e.deltaX ? e.deltaY : e.deltaX;
      const dy = e.shiftKey && !e.deltaX ? 0 : e.deltaY;
      this.set({ x: x - dx * unit, y: y - dy * unit, zoom }, true);
    }
  };
}

/** Whether some element on the event's path can still scroll in the wheel's direction. */
function scrollsInside(e: WheelEvent): boolean {
  for (const t of e.composedPath()) {
    if (!(t instanceof HTMLElement) || t.classList.contains("daggr-viewport")) break;
    const style = getComputedStyle(t);
    if (e.deltaY && /(auto|scroll)/.test(style.overflowY) && t.scrollHeight > t.clientHeight + 1) {
      if ((e.deltaY < 0 && t.scrollTop > 0) || (e.deltaY > 0 && t.scrollTop + t.clientHeight < t.scrollHeight - 1)) return true;
    }
    if (e.deltaX && /(auto|scroll)/.test(style.overflowX) && t.scrollWidth > t.clientWidth + 1) {
      if ((e.deltaX < 0 && t.scrollLeft > 0) || (e.deltaX > 0 && t.scrollLeft + t.clientWidth < t.scrollWidth - 1)) return true;
    }
  }
  return false;
}

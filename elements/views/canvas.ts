import { LitElement, html, nothing } from "lit";
import { CanvasStore } from "../controllers/canvas-store.js";
import { ConnStatus, Connection, ServerError } from "../controllers/connection.js";
import { InputEdits } from "../controllers/edits.js";
import { assetUrl, crossOrigin, fileUrl, upload } from "../controllers/files.js";
import { HistoryController } from "../controllers/history.js";
import { LayoutController } from "../controllers/layout.js";
import { Minimap } from "../controllers/minimap.js";
import { PanZoom, type Viewport, fitSaved } from "../controllers/pan-zoom.js";
import { Placement } from "../controllers/placement.js";
import { wouldRun } from "../controllers/run-plan.js";
import { Shortcuts } from "../controllers/shortcuts.js";
import { ThemeController, safeGet, safeSet } from "../controllers/theme.js";
import { define } from "../define.js";
import { APP_FAILED, type AckMessage, type ConflictDetails, type DiagnosticsMessage, type RunModeWire, type ServerMessage, type SheetWire } from "../wire.js";
import { canvasStyles } from "./canvas-styles.js";
import type { CardContext } from "./card-context.js";
import { EdgeLayer } from "./edges.js";
import { type AppFailureView, failureOverlay, typeErrorsView, withTypeErrors, helpPanel, statusPill, titleBar, toast, viewToolbar } from "./chrome.js";
import { badgeOf } from "./badges.js";
import { type NodeCard, cardLooks } from "./node-card.js";
import "./sheets-menu.js";

/** Graphs with more nodes than this get a minimap in the corner. */
const MINIMAP_NODES = 50;
const VIEWPORT_SAVE_MS = 400;
/** Cards added to the page per frame while a graph arrives (most are placeholders). */
const RENDER_SLICE = 150;
/** Below this zoom card text is unreadable: every card is a placeholder. */
export const DETAIL_ZOOM = 0.3;
/** Cards rendered in full per frame while the view moves (the rest follow next frame). */
const PROMOTE_PER_FRAME = 12;
/** Main-thread time per frame spent rendering cards in full while the view moves. */
const PROMOTE_BUDGET_MS = 24;
/** How far beyond the view (in views) cards are rendered in full, and kept so. */
const NEAR = 0.25;
const KEEP = 0.75;

type Phase = "connecting" | "loading" | "layout" | "ready";

/**
 * `<daggr-canvas server="http://127.0.0.1:7860" sheet="…">`: the whole daggr UI as one
 * embeddable element. It connects to the server's WebSocket, lays the graph out in a
 * worker, and renders node cards and edges that follow the engine's events.
 *
 * Attributes: `server` (default: the origin the script came from), `sheet` (a sheet
 * id; default: the last one used here, else the server's choice), `token` (when the
 * server requires one), `theme` (`auto` | `light` | `dark`).
 *
 * Events (bubbling, composed): `daggr-ready` once the graph is laid out and shown
 * (detail: `{ nodes, layoutMs, engine, sinceConnectMs }`); `daggr-event` for every engine
 * event of the current sheet as it arrives (detail: the EventWire), before it is shown.
 *
 * @example
 * <script type="module" src="http://127.0.0.1:7860/assets/daggr-canvas.js"></script>
 * <daggr-canvas server="http://127.0.0.1:7860" style="height: 600px"></daggr-canvas>
 */
export class DaggrCanvas extends LitElement {
  static override properties = {
    server: { type: String },
    sheet: { type: String },
    token: { type: String },
    theme: { type: String },
    status: { type: String, reflect: true },
    phase: { state: true },
    retryIn: { state: true },
    helpOpen: { state: true },
    toast: { state: true },
    appFailure: { state: true },
    typeErrors: { state: true },
  };
  static override styles = canvasStyles;

  declare server: string | undefined;
  declare sheet: string | undefined;
  declare token: string | undefined;
  declare theme: string | undefined;
  declare status: ConnStatus;
  declare phase: Phase;
  declare retryIn: number | undefined;
  declare helpOpen: boolean;
  declare toast: { text: string; kind: "error" | "info" } | undefined;
  /** `daggr dev`: the app failed to load (an `E_APP_FAILED` error); cleared by the next snapshot. */
  declare appFailure: AppFailureView | undefined;
  /** `daggr dev --typecheck`: the app's type errors (a `diagnostics` message); an empty list clears them. */
  declare typeErrors: DiagnosticsMessage | undefined;
  /** The type errors the user dismissed (as JSON): the same ones do not come back, new ones do. */
  private dismissedTypeErrors = "";

  readonly store = new CanvasStore();
  readonly layout = new LayoutController();
  readonly history = new HistoryController(this.store, () => this.conn, (id) => this.cards.get(id)?.requestUpdate());
  private conn: Connection | undefined;
  private panZoom: PanZoom | undefined;
  private edges: EdgeLayer | undefined;
  private themeCtl: ThemeController | undefined;
  private shortcuts: Shortcuts | undefined;
  private readonly cards = new Map<string, HTMLElement & { requestUpdate(): void }>();
  /** Cards rendered in full; the others are placeholders of the same size. */
  private readonly fullCards = new Set<string>();
  /** One positioned slot per node, holding its card or its placeholder. */
  private readonly slots = new Map<string, HTMLDivElement>();
  private ctx: CardContext | undefined;
  private visibleFrame = 0;
  private readonly placement = new Placement(
    (ids) => {
      this.edges?.reroute(ids, this.placement.positions, this.placement.width, this.placement.sizes);
      this.scheduleVisible();
      this.minimap?.schedule();
    },
    () => {
      // Outputs arrive after the first fit and cards grow: fit again when one would be cut off.
      if (this.autoFit && this.panZoom && !this.panZoom.shows(this.placement.bounds)) this.fit(false);
      this.minimap?.schedule();
    },
  );
  /**
   * Whether the view is still the first fit of this load, to be redone as cards grow and
   * when the view is resized. It ends as soon as the user moves or zooms the view, drags a
   * card, or switches sheets, and is never set when the sheet's saved viewport was restored.
   */
  private autoFit = false;
  /** The overview in the corner, on graphs of more than {@link MINIMAP_NODES} nodes. */
  private minimap: Minimap | undefined;
  private readonly edits = new InputEdits(
    (nodeId, port, value, base) => this.sendEdit(nodeId, port, value, base),
    (nodeId, port) => this.store.inputRev(nodeId, port),
  );
  private viewportTimer: ReturnType<typeof setTimeout> | undefined;
  private toastTimer: ReturnType<typeof setTimeout> | undefined;
  private layoutShape = "";
  private loadStarted = performance.now();
  private unsubscribe: (() => void) | undefined;
  private highlighted: Set<string> | undefined;

  constructor() {
    super();
    this.status = ConnStatus.CONNECTING;
    this.phase = "connecting";
    this.helpOpen = false;
  }

  /** The server base URL: the attribute, else where this script was loaded from. */
  get base(): string {
    if (this.server) return new URL(this.server, location.href).href;
    try {
      return new URL(import.meta.url).origin;
    } catch {
      return location.origin;
    }
  }

  private get sheetKey(): string {
    return `daggr:sheet:${new URL(this.base).host}`;
  }

  // ── lifecycle ──────────────────────────────────────────────────────────────

  override connectedCallback(): void {
    super.connectedCallback();
    this.loadStarted = performance.now();
    this.themeCtl = new ThemeController((t) => this.setAttribute("data-theme", t), this.theme);
    this.setAttribute("data-theme", this.themeCtl.resolved);
    this.unsubscribe = this.store.subscribe((t) => {
      if (t.kind === "node") this.touchNode(t.id);
      else if (t.kind === "edges") this.onEdges(t.ids);
      else if (t.kind === "graph") void this.onGraph();
      else if (t.kind === "sheets") this.requestUpdate();
    });
    this.layout.warm();
    this.connect();
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.conn?.stop();
    this.conn = undefined;
    this.unsubscribe?.();
    this.layout.destroy();
    this.placement.destroy();
    cancelAnimationFrame(this.visibleFrame);
    this.visibleFrame = 0;
    this.resizeWatch.disconnect();
    this.panZoom?.destroy();
    this.panZoom = undefined;
    this.themeCtl?.destroy();
    this.shortcuts?.destroy();
    this.shortcuts = undefined;
    this.edits.flush();
    this.layoutShape = "";
  }

  override attributeChangedCallback(name: string, old: string | null, value: string | null): void {
    super.attributeChangedCallback(name, old, value);
    // Before connectedCallback (an upgrade replays the attributes) there is nothing to redo.
    if (!this.conn || old === value) return;
    if (name === "server" || name === "token") this.connect();
    if (name === "sheet" && value && value !== this.store.sheet?.id) void this.switchSheet(value);
    if (name === "theme" && this.themeCtl) this.themeCtl.set((value as "auto") ?? "auto", false);
  }

  protected override firstUpdated(): void {
    const viewport = this.renderRoot.querySelector<HTMLElement>(".daggr-viewport")!;
    const world = this.renderRoot.querySelector<HTMLElement>(".world")!;
    this.edges = new EdgeLayer(this.renderRoot.querySelector<SVGSVGElement>("svg.edges")!, this.store);
    this.panZoom = new PanZoom(viewport, world, (v, byUser) => this.onViewport(v, byUser), (e) => {
      const t = e.composedPath()[0];
      return t === viewport || t === world || (t instanceof Element && t.closest("svg.edges") !== null);
    }, () => this.endCardDrag());
    this.panZoom.set({ x: 0, y: 0, zoom: 1 });
    this.resizeWatch.observe(viewport);
    const cards = this.renderRoot.querySelector<HTMLElement>(".cards")!;
    cards.addEventListener("pointerdown", this.onCardDown);
    cards.addEventListener("pointermove", this.onCardMove);
    cards.addEventListener("pointerup", this.onCardUp);
    cards.addEventListener("pointercancel", this.onCardUp);
    this.shortcuts = new Shortcuts(this, {
      fit: () => this.fit(true),
      zoom: (f) => this.panZoom?.zoomBy(f),
      runAll: () => this.runAll(),
      relayout: () => void this.relayout(),
      toggleTheme: () => this.themeCtl?.toggle(),
      toggleHelp: () => (this.helpOpen = !this.helpOpen),
      escape: () => {
        this.helpOpen = false;
        this.preview(undefined);
      },
    });
    if (this.store.graph) void this.onGraph();
  }

  private connect(): void {
    this.conn?.stop();
    const remembered = safeGet(this.sheetKey) ?? undefined;
    this.conn = new Connection({
      server: this.base,
      sheet: this.sheet || remembered,
      token: this.token,
      onMessage: (m) => this.onMessage(m),
      onStatus: (status, d) => {
        this.status = status;
        this.retryIn = d.retryInMs;
        if (status !== ConnStatus.OPEN && this.phase === "connecting") this.requestUpdate();
        if (status === ConnStatus.OPEN && this.phase === "connecting") this.phase = "loading";
      },
    });
    this.conn.start();
  }

  // ── server messages ────────────────────────────────────────────────────────

  private onMessage(m: ServerMessage): void {
    switch (m.type) {
      case "snapshot": {
        performance.mark("daggr:snapshot");
        this.appFailure = undefined;
        this.history.clear();
        this.conn!.sheet = m.sheet.id;
        safeSet(this.sheetKey, m.sheet.id);
        const otherSheet = m.sheet.id !== this.store.sheet?.id;
        this.store.applySnapshot(m);
        if (this.phase === "ready" && otherSheet) {
          this.autoFit = false;
          this.placement.setPins(this.loadPins());
          this.applySheetViewport(m.sheet);
        }
        return;
      }
      case "snapshot-page":
        if (m.sheetId === this.store.sheet?.id) this.store.applyResultsPage(m.results);
        return;
      case "event":
        if (m.sheetId !== this.store.sheet?.id) return;
        this.dispatchEvent(new CustomEvent("daggr-event", { detail: m.event, bubbles: true, composed: true }));
        this.store.applyEvent(m.event);
        return;
      case "sheets":
        this.store.applySheets(m.sheets);
        return;
      case "diagnostics":
        this.typeErrors = m.errors.length ? m : undefined;
        return;
      case "error":
        if (m.code === APP_FAILED) {
          this.appFailure = { message: m.message, ...(m.details as Partial<AppFailureView>) };
          return;
        }
        // A remembered sheet that no longer exists needs nothing here: the server answers
        // such a `hello` with a snapshot of the newest sheet, never an error.
        if (!m.re) this.showToast(m.message);
        return;
      default:
        return;
    }
  }

  // ── layout ─────────────────────────────────────────────────────────────────

  /**
   * The graph's shape changed (or first arrived): one slot per node, positioned by the
   * layout. One card of each look is rendered in full and measured; the other slots get a
   * placeholder of the same size (a plain element: its frame, badge and name). After the
   * layout, the cards in view at a readable zoom are rendered in full (`updateVisible`).
   */
  private async onGraph(): Promise<void> {
    const g = this.store.graph;
    const world = this.renderRoot.querySelector<HTMLElement>(".cards");
    if (!g || !world) return;
    if (this.store.shape === this.layoutShape) return;
    this.layoutShape = this.store.shape;
    this.phase = "layout";
    world.parentElement!.classList.add("measuring");
    this.ctx = this.cardContext();
    const looks = cardLooks(g.nodes, this.store);
    const samples = new Set(looks.values());
    world.replaceChildren();
    this.slots.clear();
    this.fullCards.clear();
    for (const n of g.nodes) {
      const slot = document.createElement("div");
      slot.className = "slot";
      slot.dataset.node = n.id;
      this.slots.set(n.id, slot);
    }
    // The samples first, in full, in slices (a graph of all-different nodes has many).
    const sampled = g.nodes.filter((n) => samples.has(n.id));
    for (let i = 0; i < sampled.length; i += 25) {
      const batch = sampled.slice(i, i + 25).map((n) => this.promote(n.id));
      world.append(...sampled.slice(i, i + 25).map((n) => this.slots.get(n.id)!));
      await Promise.all(batch.map((c) => c.updateComplete));
      if (i + 25 < sampled.length) await new Promise(requestAnimationFrame);
      if (this.store.graph !== g) return;
    }
    const heights = new Map<string, number>();
    for (const id of samples) heights.set(id, this.slots.get(id)!.offsetHeight);
    // Then every other slot, as a placeholder sized like its sample.
    for (const n of g.nodes) if (!samples.has(n.id)) this.slots.get(n.id)!.append(this.placeholder(n.id, heights.get(looks.get(n.id)!) ?? 120));
    world.replaceChildren(...this.slots.values());
    performance.mark("daggr:cards-rendered");
    await this.relayout(true);
  }

  /** Renders a node's card in full in its slot. */
  private promote(id: string): NodeCard {
    const card = document.createElement("daggr-node") as NodeCard;
    card.nodeId = id;
    card.ctx = this.ctx!;
    this.slots.get(id)!.replaceChildren(card);
    this.fullCards.add(id);
    return card;
  }

  /** Replaces a node's card by its placeholder, keeping its size. */
  private demote(id: string): void {
    const slot = this.slots.get(id)!;
    slot.replaceChildren(this.placeholder(id, this.placement.sizes.get(id)?.h ?? slot.offsetHeight));
    this.fullCards.delete(id);
  }

  private placeholder(id: string, height: number): HTMLElement {
    const n = this.store.node(id)!;
    const el = document.createElement("div");
    el.className = this.placeholderClass(id);
    el.style.height = `${height}px`;
    const [text, cls] = badgeOf(n, this.store);
    const badge = document.createElement("span");
    badge.className = `badge ${cls}`;
    badge.textContent = text;
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = n.name;
    el.append(badge, name);
    return el;
  }

  private placeholderClass(id: string): string {
    const st = this.store.state(id);
    const busy = st.activity === "running" || st.activity === "queued";
    return `placeholder ${st.freshness} ${st.activity} ${!busy && this.store.waiting(id) ? "waiting" : ""}`;
  }

  /** A node's state changed: its card re-renders, or its placeholder changes colour. */
  private touchNode(id: string): void {
    const card = this.cards.get(id);
    if (card) return card.requestUpdate();
    const ph = this.slots.get(id)?.firstElementChild as HTMLElement | null;
    if (ph?.classList.contains("placeholder")) ph.className = this.placeholderClass(id);
  }

  /**
   * Edges changed (freshness, activity): they restyle, and a stale card they lead into
   * re-renders, since its words say which upstream node has a newer result.
   */
  private onEdges(ids: string[]): void {
    this.edges?.update(ids);
    for (const id of ids) {
      const to = this.store.edgeById.get(id)?.to.node;
      if (to && this.store.state(to).freshness === "stale") this.cards.get(to)?.requestUpdate();
    }
  }

  /**
   * The view changed size (a window resized, a side panel opened): while it is still the
   * first fit, the graph is fitted to the new size at once, in this callback.
   */
  private readonly resizeWatch = new ResizeObserver(() => {
    if (this.autoFit) this.fit(false);
    this.scheduleVisible();
  });

  private scheduleVisible(): void {
    if (!this.visibleFrame) this.visibleFrame = requestAnimationFrame(() => void this.updateVisible());
  }

  /**
   * Renders in full the cards in (or near) view at a readable zoom, a few per frame, and
   * turns cards far out of view back into placeholders (never one holding the focus).
   * Resolves once this frame's cards are rendered (the rest follow, a frame apart).
   */
  private async updateVisible(): Promise<void> {
    cancelAnimationFrame(this.visibleFrame);
    this.visibleFrame = 0;
    const pz = this.panZoom;
    if (!pz || this.phase !== "ready") return;
    const { x, y, zoom } = pz.viewport;
    const w = this.clientWidth;
    const h = this.clientHeight;
    const readable = zoom >= DETAIL_ZOOM;
    const rect = (margin: number) => ({ l: (-x - margin * w) / zoom, t: (-y - margin * h) / zoom, r: (w * (1 + margin) - x) / zoom, b: (h * (1 + margin) - y) / zoom });
    const near = rect(NEAR);
    const keep = rect(KEEP);
    const within = (id: string, a: { l: number; t: number; r: number; b: number }) => {
      const p = this.placement.positions.get(id);
      const s = this.placement.sizes.get(id);
      return !!p && !!s && p.x < a.r && p.x + s.w > a.l && p.y < a.b && p.y + s.h > a.t;
    };
    const promote: string[] = [];
    for (const id of this.slots.keys()) {
      if (this.fullCards.has(id)) {
        if ((!readable || !within(id, keep)) && !this.slots.get(id)!.matches(":focus-within")) this.demote(id);
      } else if (readable && within(id, near)) promote.push(id);
    }
    // Cards render one after the other until this frame's budget is spent (at least one,
    // at most PROMOTE_PER_FRAME): on a busy machine a card costs more, so fewer render per
    // frame and no task grows long; the rest follow next frame.
    const t0 = performance.now();
    let done = 0;
    for (const id of promote) {
      if (done >= PROMOTE_PER_FRAME || (done > 0 && performance.now() - t0 > PROMOTE_BUDGET_MS)) break;
      await this.promote(id).updateComplete.catch(() => undefined);
      done++;
    }
    if (promote.length > done) this.scheduleVisible();
  }

  // ── dragging cards ─────────────────────────────────────────────────────────

  private drag: { id: string; slot: HTMLElement; pointer: number; sx: number; sy: number; x0: number; y0: number; moved: boolean } | undefined;

  private get pinsKey(): string {
    return `daggr:pins:${new URL(this.base).host}:${this.store.sheet?.id ?? ""}`;
  }

  private loadPins(): Record<string, [number, number]> {
    try {
      const v = JSON.parse(safeGet(this.pinsKey) ?? "{}") as unknown;
      return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, [number, number]>) : {};
    } catch {
      return {};
    }
  }

  /** A card is dragged by its header (or a placeholder anywhere); controls keep their clicks. */
  private readonly onCardDown = (e: PointerEvent) => {
    if (e.button !== 0 || !this.panZoom) return;
    // A finger landing while another is down belongs to the pinch (the viewport hears it next).
    if (e.pointerType === "touch" && this.panZoom.fingers > 0) return;
    const path = e.composedPath();
    let onHandle = false;
    for (const t of path) {
      if (!(t instanceof HTMLElement)) continue;
      if (t.matches("button, a, input, textarea, select, label, [contenteditable]")) return;
      if (t.tagName === "HEADER" || t.classList.contains("placeholder")) onHandle = true;
      if (t.classList.contains("slot")) {
        const id = t.dataset.node;
        const p = id && this.placement.positions.get(id);
        if (!onHandle || !p) return;
        this.drag = { id, slot: t, pointer: e.pointerId, sx: e.clientX, sy: e.clientY, x0: p.x, y0: p.y, moved: false };
        t.setPointerCapture(e.pointerId);
        return;
      }
    }
  };

  private readonly onCardMove = (e: PointerEvent) => {
    const d = this.drag;
    if (!d || d.pointer !== e.pointerId || !this.panZoom) return;
    const dx = e.clientX - d.sx;
    const dy = e.clientY - d.sy;
    if (!d.moved && Math.hypot(dx, dy) < 4) return;
    if (!d.moved) d.slot.classList.add("dragging");
    d.moved = true;
    this.autoFit = false;
    const z = this.panZoom.viewport.zoom;
    this.placement.move(d.id, { x: Math.round(d.x0 + dx / z), y: Math.round(d.y0 + dy / z) });
  };

  private readonly onCardUp = (e: PointerEvent) => {
    if (this.drag?.pointer === e.pointerId) this.endCardDrag();
  };

  /**
   * Ends a card drag where the card is (lifted, cancelled by the browser, or taken over by
   * a pinch) and saves its place.
   */
  private endCardDrag(): void {
    const d = this.drag;
    if (!d) return;
    this.drag = undefined;
    d.slot.classList.remove("dragging");
    if (d.slot.hasPointerCapture(d.pointer)) d.slot.releasePointerCapture(d.pointer);
    if (d.moved) safeSet(this.pinsKey, JSON.stringify(this.placement.pinned()));
  }

  /** A provenance link: shows the node's card, flashes it, and selects that result of it. */
  private jump(nodeId: string, resultId?: string): void {
    this.reveal(nodeId);
    void this.updateVisible().then(() => {
      const card = this.cards.get(nodeId);
      card?.setAttribute("jumped", "");
      setTimeout(() => card?.removeAttribute("jumped"), 1600);
    });
    if (resultId && this.store.state(nodeId).selectedId !== resultId) {
      this.history.select(nodeId, resultId)?.catch((e: Error) => this.showToast(e.message));
    }
  }

  /** Cards rendered in full right now (the rest are placeholders). */
  get fullCount(): number {
    return this.fullCards.size;
  }

  /**
   * Brings a node's card into view, centred (its top in view when it is taller than the
   * view), at `zoom` (default: the current zoom, or 100 % when that is too far out to read).
   */
  reveal(nodeId: string, o: { zoom?: number } = {}): boolean {
    const p = this.placement.positions.get(nodeId);
    const s = this.placement.sizes.get(nodeId);
    if (!p || !s || !this.panZoom) return false;
    const current = this.panZoom.viewport.zoom;
    const zoom = o.zoom ?? (current < DETAIL_ZOOM ? 1 : current);
    const w = this.clientWidth;
    const h = this.clientHeight;
    const top = s.h * zoom > h - 80 ? 64 : (h - s.h * zoom) / 2;
    this.panZoom.set({ x: w / 2 - (p.x + s.w / 2) * zoom, y: top - p.y * zoom, zoom }, true);
    this.scheduleVisible();
    return true;
  }

  /** Measures the cards and lays them out again (on a new graph, or when asked: "L"). */
  async relayout(initial = false): Promise<void> {
    const g = this.store.graph;
    const world = this.renderRoot.querySelector<HTMLElement>(".cards");
    if (!g || !world) return;
    // Cards are tall: packing separate parts towards twice the view's shape fills it best.
    const view = this.getBoundingClientRect();
    const aspect = view.height > 0 ? Math.max(1.6, (2 * view.width) / view.height) : undefined;
    const input = this.placement.measure(this.slots.values(), g, this.store, aspect);
    performance.mark("daggr:measured");
    this.placement.setPins(this.loadPins());
    const result = await this.layout.run(input);
    performance.mark("daggr:laid-out");
    if (!result) return;
    this.placement.apply(result);
    this.edges?.draw(this.placement.positions, this.placement.width, this.placement.bounds, this.placement.sizes);
    this.updateMinimap(g.nodes.length);
    world.parentElement!.classList.remove("measuring");
    performance.mark("daggr:positioned");
    if (initial) {
      const sheet = this.store.sheet;
      this.autoFit = !(sheet && this.applySheetViewport(sheet));
      if (this.autoFit) this.fit(false);
      this.phase = "ready";
      // The first cards in view are shown with the canvas (never held up for long).
      await Promise.race([this.updateVisible(), new Promise((r) => setTimeout(r, 1000))]);
      performance.mark("daggr:visible-rendered");
      this.setAttribute("ready", "");
      this.dispatchEvent(new CustomEvent("daggr-ready", {
        bubbles: true,
        composed: true,
        detail: { nodes: g.nodes.length, layoutMs: result.ms, engine: result.engine, sinceConnectMs: performance.now() - this.loadStarted },
      }));
    }
  }

  /** Shows the minimap on a large graph (hides it on a small one) and redraws it. */
  private updateMinimap(nodes: number): void {
    if (nodes <= MINIMAP_NODES) {
      this.minimap?.destroy();
      this.minimap = undefined;
      return;
    }
    if (!this.minimap) {
      const store = this.store;
      const placement = this.placement;
      this.minimap = new Minimap({
        bounds: () => placement.bounds,
        *cards() {
          for (const [id, p] of placement.positions) {
            const s = placement.sizes.get(id);
            if (s) yield { x: p.x, y: p.y, w: s.w, h: s.h, stale: store.state(id).freshness === "stale" };
          }
        },
        viewport: () => this.panZoom!.viewport,
        screen: () => ({ width: this.clientWidth, height: this.clientHeight }),
        centre: (x, y) => {
          const { zoom } = this.panZoom!.viewport;
          this.panZoom!.set({ x: this.clientWidth / 2 - x * zoom, y: this.clientHeight / 2 - y * zoom, zoom }, true);
        },
      });
      this.renderRoot.append(this.minimap.el);
    }
    this.minimap.schedule();
  }

  private applySheetViewport(sheet: SheetWire): boolean {
    const v = sheet.viewport;
    if (!v || !Number.isFinite(v.zoom) || v.zoom <= 0) return false;
    this.panZoom?.set(fitSaved(v, { width: this.clientWidth, height: this.clientHeight }));
    return true;
  }

  fit(byUser = true): void {
    if (this.placement.bounds.width) this.panZoom?.fit(this.placement.bounds, byUser);
  }

  private onViewport(v: Viewport, byUser: boolean): void {
    this.scheduleVisible();
    this.minimap?.schedule();
    const label = this.renderRoot.querySelector(".zoom-pct");
    if (label) label.textContent = `${Math.round(v.zoom * 100)}%`;
    if (!byUser) return;
    this.autoFit = false;
    clearTimeout(this.viewportTimer);
    this.viewportTimer = setTimeout(() => {
      // With the view's size, so a window of another size opens on the same part of the graph.
      const [width, height] = [this.clientWidth, this.clientHeight];
      const vp = { x: v.x, y: v.y, zoom: v.zoom, ...(width > 0 && height > 0 ? { width, height } : {}) };
      if (this.store.sheet) this.store.sheet.viewport = vp;
      this.conn?.send({ type: "viewport", ...vp });
    }, VIEWPORT_SAVE_MS);
  }

  // ── actions ────────────────────────────────────────────────────────────────

  private cardContext(): CardContext {
    return {
      store: this.store,
      history: this.history,
      view: {
        fileUrl: (v) => fileUrl(v, this.base, this.token),
        upload: (blob, name) => upload(this.base, blob, name, this.token),
        cors: (url) => crossOrigin(url, this.base),
        asset: (name) => assetUrl(name, this.base, this.token),
      },
      run: (id, mode) => this.run(id, mode),
      runItem: (id, item) => this.runItem(id, item),
      editItem: (id, item, value) => this.editItem(id, item, value),
      stop: (id) => this.stop(id),
      setInput: (id, port, value, immediate) => this.edits.set(id, port, value, immediate),
      holdInput: (id, port, value) => this.edits.hold(id, port, value),
      preview: (id, mode) => this.preview(id ? wouldRun(this.store, id, mode ?? "to-here") : undefined),
      jump: (id, resultId) => this.jump(id, resultId),
      register: (id, card) => this.cards.set(id, card),
      unregister: (id, card) => this.cards.get(id) === card && this.cards.delete(id),
    };
  }

  /** An edit names the revision it was made on; if another tab got there first, the input shows theirs. */
  private sendEdit(nodeId: string, port: string, value: unknown, base: number | undefined): void {
    const p = this.conn?.request({ type: "set-input", nodeId, port, value, rev: this.store.claimRev(nodeId, port, base) });
    p?.catch((e: Error) => {
      if (e instanceof ServerError && e.code === "E_INPUT_CONFLICT" && e.details) this.store.applyConflict(e.details as unknown as ConflictDetails);
      else this.showToast(e instanceof ServerError ? e.message : `Could not reach the server: ${e.message}`);
    });
  }

  private request(msg: Parameters<Connection["request"]>[0]): Promise<ServerMessage> | undefined {
    const p = this.conn?.request(msg);
    p?.catch((e: Error) => this.showToast(e instanceof ServerError ? e.message : `Could not reach the server: ${e.message}`));
    return p;
  }

  run(nodeId: string | undefined, mode: RunModeWire): void {
    this.preview(undefined);
    this.edits.flush();
    void this.request(nodeId ? { type: "run", nodeId, mode } : { type: "run", mode });
  }

  /** Reruns one item of a MAP node; the others keep their results. */
  runItem(nodeId: string, item: number): void {
    this.preview(undefined);
    this.edits.flush();
    this.store.markItemRun(nodeId, item);
    const sent = this.request({ type: "run", nodeId, mode: "step", item });
    sent?.catch(() => this.store.rerunning.delete(nodeId));
  }

  /** Edits one item of a MAP node's list; that item reruns alone, shown as running until the result comes. */
  editItem(nodeId: string, item: number, value: unknown): Promise<unknown> {
    this.preview(undefined);
    this.edits.flush();
    this.store.markItemRun(nodeId, item);
    const sent = this.request({ type: "edit-item", nodeId, item, value }) ?? Promise.reject(new Error("not connected"));
    sent.catch(() => this.store.rerunning.delete(nodeId));
    return sent;
  }

  runAll(): void {
    this.run(undefined, "all");
  }

  stop(nodeId: string): void {
    const runId = this.store.runOf(nodeId);
    void this.request(runId ? { type: "cancel", runId } : { type: "cancel", nodeId });
  }

  private preview(nodes: Set<string> | undefined): void {
    for (const id of this.highlighted ?? []) this.cards.get(id)?.removeAttribute("will-run");
    this.highlighted = nodes;
    for (const id of nodes ?? []) this.cards.get(id)?.setAttribute("will-run", "");
    this.edges?.highlight(nodes);
  }

  async switchSheet(sheetId: string): Promise<void> {
    if (this.conn) this.conn.sheet = sheetId;
    await this.request({ type: "sheet-switch", sheetId });
  }

  private async createSheet(): Promise<void> {
    const ack = (await this.request({ type: "sheet-create" })?.catch(() => undefined)) as AckMessage | undefined;
    const r = ack?.result as string | { id?: string; sheet?: { id?: string } } | undefined;
    const id = typeof r === "string" ? r : (r?.id ?? r?.sheet?.id);
    if (id && id !== this.store.sheet?.id) await this.switchSheet(id).catch(() => undefined);
  }

  private showToast(text: string, kind: "error" | "info" = "error"): void {
    this.toast = { text, kind };
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => (this.toast = undefined), 6000);
  }

  // ── view ───────────────────────────────────────────────────────────────────

  override render() {
    const g = this.store.graph;
    return html`
      <div class="daggr-viewport" tabindex="-1">
        <div class="world measuring">
          <svg class="edges" aria-hidden="true"></svg>
          <div class="cards"></div>
        </div>
      </div>
      ${g
        ? titleBar({
            graphName: g.name,
            sheets: this.store.sheets,
            current: this.store.sheet?.id,
            dark: this.getAttribute("data-theme") === "dark",
            onSwitch: (id) => void this.switchSheet(id).catch(() => undefined),
            onCreate: () => void this.createSheet(),
            onRename: (id, name) => void this.request({ type: "sheet-rename", sheetId: id, name }),
            onDelete: (id) => void this.request({ type: "sheet-delete", sheetId: id }),
            onRunAll: () => this.runAll(),
            onPreviewAll: (on) => this.preview(on ? wouldRun(this.store, undefined, "all") : undefined),
            onToggleTheme: () => (this.themeCtl?.toggle(), this.requestUpdate()),
          })
        : nothing}
      ${statusPill(this.status, this.phase, this.retryIn)}
      ${viewToolbar({
        onZoom: (f) => this.panZoom?.zoomBy(f),
        onResetZoom: () => this.resetZoom(),
        onFit: () => this.fit(true),
        onHelp: () => (this.helpOpen = !this.helpOpen),
      })}
      ${this.helpOpen ? helpPanel(() => (this.helpOpen = false)) : nothing}
      ${this.toast ? toast(this.toast, () => (this.toast = undefined)) : nothing}
      ${this.appFailure
        ? failureOverlay(this.typeErrors ? withTypeErrors(this.appFailure, this.typeErrors.errors, this.typeErrors.total) : this.appFailure)
        : this.typeErrors && JSON.stringify(this.typeErrors.errors) !== this.dismissedTypeErrors
        ? failureOverlay(typeErrorsView(this.typeErrors.errors, this.typeErrors.total), () => {
            this.dismissedTypeErrors = JSON.stringify(this.typeErrors?.errors);
            this.requestUpdate();
          })
        : nothing}
    `;
  }

  private resetZoom(): void {
    const el = this.renderRoot.querySelector<HTMLElement>(".daggr-viewport");
    if (!el || !this.panZoom) return;
    const r = el.getBoundingClientRect();
    this.panZoom.zoomAt(1 / this.panZoom.viewport.zoom, r.width / 2, r.height / 2);
  }
}

define("daggr-canvas", DaggrCanvas);

declare global {
  interface HTMLElementTagNameMap {
    "daggr-canvas": DaggrCanvas;
  }
}

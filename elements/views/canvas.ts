import { LitElement, html, nothing, render } from "lit";
import { repeat } from "lit/directives/repeat.js";
import { CanvasStore } from "../controllers/canvas-store.js";
import { ConnStatus, Connection, ServerError } from "../controllers/connection.js";
import { InputEdits } from "../controllers/edits.js";
import { assetUrl, crossOrigin, fileUrl, upload } from "../controllers/files.js";
import { HistoryController } from "../controllers/history.js";
import { LayoutController } from "../controllers/layout.js";
import { PanZoom, type Viewport } from "../controllers/pan-zoom.js";
import { Placement } from "../controllers/placement.js";
import { wouldRun } from "../controllers/run-plan.js";
import { Shortcuts } from "../controllers/shortcuts.js";
import { ThemeController, safeGet, safeSet } from "../controllers/theme.js";
import { define } from "../define.js";
import { APP_FAILED, type AckMessage, type RunModeWire, type ServerMessage, type SheetWire } from "../wire.js";
import { canvasStyles } from "./canvas-styles.js";
import type { CardContext } from "./card-context.js";
import { EdgeLayer } from "./edges.js";
import { type AppFailureView, failureOverlay, helpPanel, statusPill, titleBar, toast, viewToolbar } from "./chrome.js";
import "./node-card.js";
import "./sheets-menu.js";

const VIEWPORT_SAVE_MS = 400;
const RENDER_SLICE = 25;

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

  readonly store = new CanvasStore();
  readonly layout = new LayoutController();
  readonly history = new HistoryController(this.store, () => this.conn, (id) => this.cards.get(id)?.requestUpdate());
  private conn: Connection | undefined;
  private panZoom: PanZoom | undefined;
  private edges: EdgeLayer | undefined;
  private themeCtl: ThemeController | undefined;
  private shortcuts: Shortcuts | undefined;
  private readonly cards = new Map<string, HTMLElement & { requestUpdate(): void }>();
  private readonly placement = new Placement((ids) => this.edges?.reroute(ids, this.placement.positions, this.placement.width));
  private readonly edits = new InputEdits((nodeId, port, value) => void this.request({ type: "set-input", nodeId, port, value }));
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
      if (t.kind === "node") this.cards.get(t.id)?.requestUpdate();
      else if (t.kind === "edges") this.edges?.update(t.ids);
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
    });
    this.panZoom.set({ x: 0, y: 0, zoom: 1 });
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
        if (this.phase === "ready" && otherSheet) this.applySheetViewport(m.sheet);
        return;
      }
      case "event":
        if (m.sheetId !== this.store.sheet?.id) return;
        this.dispatchEvent(new CustomEvent("daggr-event", { detail: m.event, bubbles: true, composed: true }));
        this.store.applyEvent(m.event);
        return;
      case "sheets":
        this.store.applySheets(m.sheets);
        return;
      case "error":
        if (m.code === APP_FAILED) {
          this.appFailure = { message: m.message, ...(m.details as Partial<AppFailureView>) };
          return;
        }
        if (!m.re) this.showToast(m.message);
        // A remembered sheet that no longer exists: start over on the server's default.
        if (m.code === "UNKNOWN_SHEET" && !this.store.graph && this.conn?.sheet) {
          safeSet(this.sheetKey, "");
          this.conn.sheet = undefined;
          this.conn.send({ type: "hello" });
        }
        return;
      default:
        return;
    }
  }

  // ── layout ─────────────────────────────────────────────────────────────────

  /** The graph's shape changed (or first arrived): render every card, measure them, lay out. */
  private async onGraph(): Promise<void> {
    const g = this.store.graph;
    const world = this.renderRoot.querySelector<HTMLElement>(".cards");
    if (!g || !world) return;
    if (this.store.shape === this.layoutShape) return;
    this.layoutShape = this.store.shape;
    this.phase = "layout";
    world.parentElement!.classList.add("measuring");
    const ctx = this.cardContext();
    // Cards render in slices, a frame apart, so a big graph never blocks the page for long.
    for (let end = 0; end < g.nodes.length; ) {
      end = Math.min(g.nodes.length, end + RENDER_SLICE);
      render(repeat(g.nodes.slice(0, end), (n) => n.id, (n) => html`<daggr-node .nodeId=${n.id} .ctx=${ctx}></daggr-node>`), world);
      await Promise.all([...world.children].slice(end - RENDER_SLICE).map((c) => (c as LitElement).updateComplete));
      if (end < g.nodes.length) await new Promise(requestAnimationFrame);
      if (this.store.graph !== g) return;
    }
    performance.mark("daggr:cards-rendered");
    await this.relayout(true);
  }

  /** Measures the cards and lays them out again (on a new graph, or when asked: "L"). */
  async relayout(initial = false): Promise<void> {
    const g = this.store.graph;
    const world = this.renderRoot.querySelector<HTMLElement>(".cards");
    if (!g || !world) return;
    // Cards are tall: packing separate parts towards twice the view's shape fills it best.
    const view = this.getBoundingClientRect();
    const aspect = view.height > 0 ? Math.max(1.6, (2 * view.width) / view.height) : undefined;
    const input = this.placement.measure(world.children as HTMLCollectionOf<HTMLElement>, g, this.store, aspect);
    performance.mark("daggr:measured");
    const result = await this.layout.run(input);
    performance.mark("daggr:laid-out");
    if (!result) return;
    this.placement.apply(result);
    this.edges?.draw(this.placement.positions, this.placement.width, this.placement.bounds);
    world.parentElement!.classList.remove("measuring");
    performance.mark("daggr:positioned");
    if (initial) {
      const sheet = this.store.sheet;
      if (!(sheet && this.applySheetViewport(sheet))) this.fit(false);
      this.phase = "ready";
      this.setAttribute("ready", "");
      this.dispatchEvent(new CustomEvent("daggr-ready", {
        bubbles: true,
        composed: true,
        detail: { nodes: g.nodes.length, layoutMs: result.ms, engine: result.engine, sinceConnectMs: performance.now() - this.loadStarted },
      }));
    }
  }

  private applySheetViewport(sheet: SheetWire): boolean {
    const v = sheet.viewport;
    if (!v || !Number.isFinite(v.zoom) || v.zoom <= 0) return false;
    this.panZoom?.set(v);
    return true;
  }

  fit(byUser = true): void {
    if (this.placement.bounds.width) this.panZoom?.fit(this.placement.bounds, byUser);
  }

  private onViewport(v: Viewport, byUser: boolean): void {
    const label = this.renderRoot.querySelector(".zoom-pct");
    if (label) label.textContent = `${Math.round(v.zoom * 100)}%`;
    if (!byUser) return;
    clearTimeout(this.viewportTimer);
    this.viewportTimer = setTimeout(() => {
      const vp = { x: v.x, y: v.y, zoom: v.zoom };
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
      stop: (id) => this.stop(id),
      setInput: (id, port, value, immediate) => this.edits.set(id, port, value, immediate),
      holdInput: (id, port, value) => this.edits.hold(id, port, value),
      preview: (id, mode) => this.preview(id ? wouldRun(this.store, id, mode ?? "to-here") : undefined),
      register: (id, card) => this.cards.set(id, card),
      unregister: (id, card) => this.cards.get(id) === card && this.cards.delete(id),
    };
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
      ${this.appFailure ? failureOverlay(this.appFailure) : nothing}
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

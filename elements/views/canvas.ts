import { LitElement, html, nothing, render } from "lit";
import { repeat } from "lit/directives/repeat.js";
import { CanvasStore } from "../controllers/canvas-store.js";
import { settle } from "../controllers/collisions.js";
import { ConnStatus, Connection, ServerError } from "../controllers/connection.js";
import { fileUrl, upload } from "../controllers/files.js";
import { HistoryController } from "../controllers/history.js";
import { LayoutController } from "../controllers/layout.js";
import { PanZoom, type Viewport } from "../controllers/pan-zoom.js";
import { wouldRun } from "../controllers/run-plan.js";
import { SHORTCUTS, Shortcuts } from "../controllers/shortcuts.js";
import { ThemeController, safeGet, safeSet } from "../controllers/theme.js";
import { define } from "../define.js";
import { portId, type LayoutInput } from "../layout/types.js";
import type { AckMessage, RunModeWire, ServerMessage, SheetWire } from "../wire.js";
import { canvasStyles } from "./canvas-styles.js";
import type { CardContext } from "./card-context.js";
import { EdgeLayer } from "./edges.js";
import { CARD_WIDTH, outputPorts, portY, wiredInputs } from "./geometry.js";
import { icon } from "./icons.js";
import "./node-card.js";
import "./sheets-menu.js";

const INPUT_DEBOUNCE_MS = 300;
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

  readonly store = new CanvasStore();
  readonly layout = new LayoutController();
  readonly history = new HistoryController(this.store, () => this.conn, (id) => this.cards.get(id)?.requestUpdate());
  private conn: Connection | undefined;
  private panZoom: PanZoom | undefined;
  private edges: EdgeLayer | undefined;
  private themeCtl: ThemeController | undefined;
  private shortcuts: Shortcuts | undefined;
  private readonly cards = new Map<string, HTMLElement & { requestUpdate(): void }>();
  /** Where the layout put each card, and where it is now (lower, if a card above grew). */
  private laid = new Map<string, { x: number; y: number }>();
  private positions = new Map<string, { x: number; y: number }>();
  private sizes = new Map<string, { w: number; h: number }>();
  private readonly resizes = new ResizeObserver((entries) => this.onResize(entries));
  private settleFrame = 0;
  private bounds = { x: 0, y: 0, width: 0, height: 0 };
  private readonly pendingInputs = new Map<string, { timer: ReturnType<typeof setTimeout>; send(): void }>();
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
    this.resizes.disconnect();
    this.panZoom?.destroy();
    this.panZoom = undefined;
    this.themeCtl?.destroy();
    this.shortcuts?.destroy();
    this.shortcuts = undefined;
    for (const p of this.pendingInputs.values()) p.send();
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
    const input: LayoutInput = { nodes: [], edges: [], aspectRatio: view.height > 0 ? Math.max(1.6, (2 * view.width) / view.height) : undefined };
    const sizes = this.sizes;
    sizes.clear();
    for (const el of world.children as HTMLCollectionOf<HTMLElement>) {
      const id = el.getAttribute("node-id");
      if (id) sizes.set(id, { w: el.offsetWidth || CARD_WIDTH, h: el.offsetHeight || 120 });
    }
    for (const n of g.nodes) {
      const s = sizes.get(n.id) ?? { w: CARD_WIDTH, h: 120 };
      input.nodes.push({
        id: n.id,
        width: s.w,
        height: s.h,
        ports: [
          ...wiredInputs(n).map((p, i) => ({ id: portId(n.id, "in", p), side: "in" as const, y: portY(i) })),
          ...outputPorts(n, this.store.edgesOutOf.get(n.id)).map((p, i) => ({ id: portId(n.id, "out", p), side: "out" as const, y: portY(i) })),
        ],
      });
    }
    const known = new Set(input.nodes.flatMap((n) => n.ports.map((p) => p.id)));
    for (const e of g.edges) {
      const sp = portId(e.from.node, "out", e.from.port);
      const tp = portId(e.to.node, "in", e.to.port);
      if (known.has(sp) && known.has(tp)) input.edges.push({ id: e.id, source: e.from.node, sourcePort: sp, target: e.to.node, targetPort: tp });
    }
    performance.mark("daggr:measured");
    const result = await this.layout.run(input);
    performance.mark("daggr:laid-out");
    if (!result) return;
    this.laid = result.positions;
    this.positions = new Map([...result.positions].map(([id, p]) => [id, { ...p }]));
    this.bounds = result.bounds;
    this.resizes.disconnect();
    for (const el of world.children as HTMLCollectionOf<HTMLElement>) {
      const p = this.positions.get(el.getAttribute("node-id") ?? "");
      if (p) el.style.transform = `translate(${p.x}px, ${p.y}px)`;
      this.resizes.observe(el);
    }
    this.edges?.draw(this.positions, (id) => sizes.get(id)?.w ?? CARD_WIDTH, this.bounds);
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

  /** Cards changed height (values arrived): move the ones below out of the way, re-route their edges. */
  private onResize(entries: ResizeObserverEntry[]): void {
    let changed = false;
    for (const e of entries) {
      const id = (e.target as HTMLElement).getAttribute("node-id");
      const s = id && this.sizes.get(id);
      const el = e.target as HTMLElement;
      if (s && s.h !== el.offsetHeight) {
        s.h = el.offsetHeight;
        changed = true;
      }
    }
    if (!changed || this.settleFrame) return;
    this.settleFrame = requestAnimationFrame(() => {
      this.settleFrame = 0;
      const moved = settle(this.laid, (id) => this.sizes.get(id) ?? { w: CARD_WIDTH, h: 0 });
      const touched = new Set<string>();
      let bottom = 0;
      for (const [id, p] of this.laid) {
        const y = moved.get(id) ?? p.y;
        const cur = this.positions.get(id)!;
        if (cur.y !== y) {
          cur.y = y;
          touched.add(id);
          const card = this.cards.get(id);
          if (card) card.style.transform = `translate(${cur.x}px, ${y}px)`;
        }
        bottom = Math.max(bottom, y + (this.sizes.get(id)?.h ?? 0));
      }
      this.bounds = { ...this.bounds, height: Math.max(this.bounds.height, bottom - this.bounds.y) };
      if (touched.size) this.edges?.reroute(touched, this.positions, (id) => this.sizes.get(id)?.w ?? CARD_WIDTH);
    });
  }

  private applySheetViewport(sheet: SheetWire): boolean {
    const v = sheet.viewport;
    if (!v || !Number.isFinite(v.zoom) || v.zoom <= 0) return false;
    this.panZoom?.set(v);
    return true;
  }

  fit(byUser = true): void {
    if (this.bounds.width) this.panZoom?.fit(this.bounds, byUser);
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
      },
      run: (id, mode) => this.run(id, mode),
      stop: (id) => this.stop(id),
      setInput: (id, port, value, immediate) => this.setInput(id, port, value, immediate),
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
    this.flushInputs();
    void this.request(nodeId ? { type: "run", nodeId, mode } : { type: "run", mode });
  }

  runAll(): void {
    this.run(undefined, "all");
  }

  stop(nodeId: string): void {
    const runId = this.store.runOf(nodeId);
    void this.request(runId ? { type: "cancel", runId } : { type: "cancel", nodeId });
  }

  private setInput(nodeId: string, port: string, value: unknown, immediate: boolean): void {
    const key = `${nodeId}__${port}`;
    clearTimeout(this.pendingInputs.get(key)?.timer);
    const send = () => {
      this.pendingInputs.delete(key);
      void this.request({ type: "set-input", nodeId, port, value });
    };
    if (immediate) return send();
    this.pendingInputs.set(key, { timer: setTimeout(send, INPUT_DEBOUNCE_MS), send });
  }

  /** Sends typed values now (before a run, so it runs on what the user sees). */
  private flushInputs(): void {
    for (const p of [...this.pendingInputs.values()]) {
      clearTimeout(p.timer);
      p.send();
    }
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
      ${g ? this.topBar() : nothing}
      ${this.pill()}
      <div class="toolbar bottom-left" role="toolbar" aria-label="View">
        <button class="icon-btn" title="Zoom out (−)" aria-label="Zoom out" @click=${() => this.panZoom?.zoomBy(1 / 1.2)}>${icon("minus")}</button>
        <button class="zoom-pct" title="Reset zoom to 100%" @click=${() => this.resetZoom()}>100%</button>
        <button class="icon-btn" title="Zoom in (+)" aria-label="Zoom in" @click=${() => this.panZoom?.zoomBy(1.2)}>${icon("plus")}</button>
        <span class="sep"></span>
        <button class="icon-btn fit" title="Fit to view (F)" aria-label="Fit to view" @click=${() => this.fit(true)}>${icon("fit")}</button>
        <button class="icon-btn" title="Keyboard shortcuts (?)" aria-label="Keyboard shortcuts" @click=${() => (this.helpOpen = !this.helpOpen)}>${icon("keyboard")}</button>
      </div>
      ${this.helpOpen ? this.help() : nothing}
      ${this.toast ? html`<div class="toast ${this.toast.kind}" role="status">${this.toast.text}
        <button class="icon-btn" aria-label="Dismiss" @click=${() => (this.toast = undefined)}>${icon("x")}</button></div>` : nothing}
    `;
  }

  private topBar() {
    const dark = this.getAttribute("data-theme") === "dark";
    return html`<div class="title-bar">
        <span class="logo" aria-hidden="true"></span>
        <span class="graph-name" title=${this.store.graph!.name}>${this.store.graph!.name}</span>
        <span class="divider"></span>
        <daggr-sheets .sheets=${this.store.sheets} .current=${this.store.sheet?.id}
          @sheet-switch=${(e: CustomEvent) => void this.switchSheet(e.detail.id).catch(() => undefined)}
          @sheet-create=${() => void this.createSheet()}
          @sheet-rename=${(e: CustomEvent) => void this.request({ type: "sheet-rename", sheetId: e.detail.id, name: e.detail.name })}
          @sheet-delete=${(e: CustomEvent) => void this.request({ type: "sheet-delete", sheetId: e.detail.id })}></daggr-sheets>
      </div>
      <div class="toolbar top-right">
        <button class="primary run-graph" title="Run all stale nodes (Shift+Enter)" @click=${() => this.runAll()}
          @pointerenter=${() => this.preview(wouldRun(this.store, undefined, "all"))} @pointerleave=${() => this.preview(undefined)}>
          ${icon("play")}<span>Run all</span></button>
        <button class="icon-btn theme-toggle" title=${dark ? "Light theme (T)" : "Dark theme (T)"} aria-label="Toggle dark mode"
          @click=${() => (this.themeCtl?.toggle(), this.requestUpdate())}>${icon(dark ? "sun" : "moon")}</button>
      </div>`;
  }

  private pill() {
    let text = "";
    if (this.status === ConnStatus.RECONNECTING) {
      text = this.retryIn ? `Reconnecting in ${Math.ceil(this.retryIn / 1000)}s…` : "Reconnecting…";
    } else if (this.status === ConnStatus.CONNECTING) text = "Connecting…";
    else if (this.status === ConnStatus.CLOSED) text = "Disconnected";
    else if (this.phase === "loading") text = "Loading graph…";
    else if (this.phase === "layout") text = "Laying out…";
    if (!text) return nothing;
    const bad = this.status === ConnStatus.RECONNECTING || this.status === ConnStatus.CLOSED;
    return html`<div class="pill ${bad ? "warn" : ""}" role="status" aria-live="polite"><span class="spinner"></span>${text}</div>`;
  }

  private help() {
    return html`<div class="help" role="dialog" aria-label="Keyboard shortcuts">
      <div class="help-head">Keyboard shortcuts<button class="icon-btn" aria-label="Close" @click=${() => (this.helpOpen = false)}>${icon("x")}</button></div>
      ${SHORTCUTS.map((s) => html`<div class="help-row"><kbd>${s.keys}</kbd><span>${s.does}</span></div>`)}
    </div>`;
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

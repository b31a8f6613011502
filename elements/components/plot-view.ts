import { LitElement, css, html, nothing, type PropertyValues } from "lit";
import { define } from "../define.js";
import type { ComponentWire } from "../wire.js";
import { icon } from "../views/icons.js";
import type { OutputView } from "./types.js";

/** What the plot bundle (`elements/plot.ts`, served as `/assets/plot.js`) exports. */
interface PlotBundle {
  drawNativePlot(type: string, value: unknown, props: Record<string, unknown>, o: { width: number }): Element | undefined;
  drawFigure(value: unknown, o: { width: number }): Element | undefined;
}

const loads = new Map<string, Promise<PlotBundle>>();

/** Loads the plot bundle once per page, from the daggr server (its URL: `src`). */
export function loadPlot(src: string): Promise<PlotBundle> {
  let p = loads.get(src);
  if (!p) {
    // A runtime URL, not a bundled import: Observable Plot stays out of the canvas bundle.
    p = import(/* @vite-ignore */ src) as Promise<PlotBundle>;
    p.catch(() => loads.delete(src));
    loads.set(src, p);
  }
  return p;
}

/**
 * `<daggr-plot>`: a `gr.LinePlot`, `gr.ScatterPlot`, `gr.BarPlot` or `gr.Plot` drawn with
 * Observable Plot, loaded on demand. `state` (also an attribute) is "loading", "drawn",
 * "empty" (no rows yet) or "failed" (the message says why: a column a prop names is
 * missing, a value that is not rows, the bundle did not load).
 */
export class PlotView extends LitElement {
  static override properties = {
    type: { type: String },
    props: { attribute: false },
    value: { attribute: false },
    bundle: { type: String },
    state: { type: String, reflect: true },
    message: { state: true },
  };
  declare type: string;
  declare props: Record<string, unknown>;
  declare value: unknown;
  /** The URL of the plot bundle (`/assets/plot.js`). */
  declare bundle: string;
  declare state: "loading" | "drawn" | "empty" | "failed";
  declare message: string;
  private drawn?: Element;

  constructor() {
    super();
    this.state = "loading";
    this.message = "";
  }

  protected override updated(changed: PropertyValues<this>): void {
    if (changed.has("value") || changed.has("props") || changed.has("type") || changed.has("bundle")) void this.draw();
  }

  private async draw(): Promise<void> {
    const { type, value, props } = this;
    let bundle: PlotBundle;
    try {
      bundle = await loadPlot(this.bundle);
    } catch {
      [this.state, this.message] = ["failed", "The plot library could not be loaded."];
      return;
    }
    // A newer value arrived while the bundle loaded: its own draw wins.
    if (type !== this.type || value !== this.value || props !== this.props) return;
    const width = Math.max(160, Math.round(this.clientWidth || 288));
    let el: Element | undefined;
    try {
      el = type === "Plot" ? bundle.drawFigure(value, { width }) : bundle.drawNativePlot(type, value, props ?? {}, { width });
    } catch (e) {
      [this.state, this.message] = ["failed", (e as Error).message];
      this.drawn?.remove();
      this.drawn = undefined;
      return;
    }
    this.drawn?.remove();
    this.drawn = el;
    if (el) this.renderRoot.querySelector(".chart")?.append(el);
    [this.state, this.message] = [el ? "drawn" : "empty", ""];
  }

  override render() {
    return html`<div class="chart"></div>${this.state === "failed"
      ? html`<div class="note error" role="alert">${this.message}</div>`
      : this.state === "empty"
        ? html`<div class="note">${icon("chart")}<span>No rows yet</span></div>`
        : this.state === "loading"
          ? html`<div class="note">${icon("chart")}<span>Drawing…</span></div>`
          : nothing}`;
  }

  static override styles = css`
    :host {
      display: block;
      min-height: 120px;
      color: var(--daggr-text);
    }
    .chart > * {
      display: block;
      max-width: 100%;
    }
    .chart figure {
      margin: 0;
    }
    .chart h2 {
      font-size: 12px;
      font-weight: 600;
      margin: 0 0 4px;
    }
    .chart img {
      width: 100%;
      border-radius: var(--daggr-radius-sm);
    }
    .note {
      min-height: 120px;
      display: flex;
      flex-direction: column;
      align-items: center;
      justify-content: center;
      gap: 6px;
      font-size: 12px;
      color: var(--daggr-muted);
      text-align: center;
      padding: 0 12px;
    }
    .note.error {
      color: var(--daggr-error);
      background: var(--daggr-error-soft);
      border-radius: var(--daggr-radius-sm);
      min-height: 0;
      padding: 8px 10px;
    }
    .note svg.i {
      width: 28px;
      height: 28px;
      stroke-width: 1.4;
    }
  `;
}

define("daggr-plot", PlotView);

/** The four plot components, by their own `type`, drawn by `<daggr-plot>`. */
export const plotOutput: OutputView = (c: ComponentWire, value, ctx) =>
  html`<daggr-plot .type=${c.type} .props=${c.props} .value=${value} .bundle=${ctx.asset("plot.js")}></daggr-plot>`;

import { LitElement, css, html } from "lit";
import { define } from "../define.js";
import { icon } from "../views/icons.js";
import { controls } from "../views/theme.js";

const loads = new Map<string, Promise<void>>();

/**
 * Loads `<model-viewer>` once per page, from the server's own bundle of it (its URL:
 * `src`). Rejects when the server has no such bundle; the view then keeps the download.
 */
export function loadModelViewer(src: string): Promise<void> {
  if (customElements.get("model-viewer")) return Promise.resolve();
  let p = loads.get(src);
  if (!p) {
    // A runtime URL, not a bundled import: the viewer stays out of the canvas bundle.
    p = import(/* @vite-ignore */ src).then(() => customElements.whenDefined("model-viewer")).then(() => undefined);
    p.catch(() => loads.delete(src));
    loads.set(src, p);
  }
  return p;
}

/**
 * `<daggr-model3d src=… name=… viewer=…>`: a 3D model (glTF/GLB, and what model-viewer
 * reads) shown with `@google/model-viewer`: drag to orbit, auto-rotating until touched.
 * The wheel stays with the canvas (zoom is off), so scrolling over a card still pans.
 * The model is fetched in CORS mode, so it loads on an embedding page the server allows.
 */
export class Model3D extends LitElement {
  static override properties = {
    src: { type: String },
    name: { type: String },
    viewer: { type: String },
    state: { state: true },
  };
  declare src: string;
  declare name: string;
  /** The URL of the viewer's bundle (`/assets/model-viewer.js`). */
  declare viewer: string;
  declare state: "loading" | "ready" | "failed";

  constructor() {
    super();
    this.state = "loading";
  }

  override connectedCallback(): void {
    super.connectedCallback();
    loadModelViewer(this.viewer).then(
      () => (this.state = "ready"),
      () => (this.state = "failed"),
    );
  }

  override render() {
    if (this.state === "failed") {
      return html`<div class="fallback">${icon("cube")}<span>The 3D viewer could not be loaded; download the model to view it.</span></div>`;
    }
    if (this.state === "loading") return html`<div class="fallback">${icon("cube")}<span>Loading the 3D viewer…</span></div>`;
    return html`<model-viewer src=${this.src} alt=${this.name} camera-controls disable-zoom auto-rotate auto-rotate-delay="0"
      interaction-prompt="none" shadow-intensity="0.8" exposure="1.05" touch-action="pan-y">
      <div slot="progress-bar"></div>
    </model-viewer>`;
  }

  static override styles = [
    controls,
    css`
      :host {
        display: block;
        height: 220px;
        border-radius: var(--daggr-radius-sm);
        overflow: hidden;
        background: radial-gradient(circle at 50% 35%, var(--daggr-surface) 0%, var(--daggr-surface-2) 70%, var(--daggr-surface-3) 100%);
      }
      model-viewer {
        width: 100%;
        height: 100%;
        --poster-color: transparent;
      }
      .fallback {
        height: 100%;
        display: flex;
        flex-direction: column;
        align-items: center;
        justify-content: center;
        gap: 8px;
        padding: 0 16px;
        text-align: center;
        font-size: 12px;
        color: var(--daggr-muted);
      }
      .fallback svg.i {
        width: 34px;
        height: 34px;
        stroke-width: 1.4;
      }
    `,
  ];
}

define("daggr-model3d", Model3D);

import { LitElement, css, html, nothing } from "lit";
import { ifDefined } from "lit/directives/if-defined.js";
import { define } from "../define.js";
import { fileName, formatBytes, isFileRef } from "../controllers/files.js";
import { icon, type IconName } from "../views/icons.js";
import { controls } from "../views/theme.js";
import "./model3d.js";
import type { OutputView, ViewContext } from "./types.js";

/** The fixed-size box every empty media output shows, so a card keeps its size when a value arrives. */
export const emptyMedia = (what: string, i: IconName = "image", size: "tall" | "short" = "tall") =>
  html`<div class="media-empty ${size}">${icon(i)}<span>${what}</span></div>`;

const download = (url: string, name: string) =>
  html`<a class="icon-btn" href=${url} download=${name} target="_blank" rel="noopener" title="Download" aria-label="Download ${name}">${icon("download")}</a>`;

export const imageOutput: OutputView = (_c, value, ctx) => {
  const url = ctx.fileUrl(value);
  if (!url) return emptyMedia("No image yet");
  const name = fileName(value);
  return html`<div class="media">
    <img src=${url} alt=${name} loading="lazy" crossorigin=${ifDefined(ctx.cors(url))} @click=${() => openLightbox([{ url, caption: "", cors: ctx.cors(url) }], 0)} />
    <div class="media-tools">${download(url, name)}</div>
  </div>`;
};

export const audioOutput: OutputView = (_c, value, ctx) => {
  const url = ctx.fileUrl(value);
  if (!url) return emptyMedia("No audio yet", "mic", "short");
  return html`<div class="media audio"><audio controls preload="metadata" src=${url} crossorigin=${ifDefined(ctx.cors(url))}></audio>${download(url, fileName(value))}</div>`;
};

export const videoOutput: OutputView = (_c, value, ctx) => {
  const url = ctx.fileUrl(value);
  if (!url) return emptyMedia("No video yet");
  return html`<div class="media"><video controls preload="metadata" src=${url} crossorigin=${ifDefined(ctx.cors(url))}></video>
    <div class="media-tools">${download(url, fileName(value))}</div></div>`;
};

const fileChip = (value: unknown, ctx: ViewContext, i: IconName = "file") => {
  const url = ctx.fileUrl(value);
  const name = fileName(value);
  return html`<a class="file-chip" href=${url ?? "#"} download=${name} target="_blank" rel="noopener">
    ${icon(i)}<span class="name">${name}</span><small>${isFileRef(value) ? formatBytes(value.size) : ""}</small>${icon("download")}
  </a>`;
};

export const fileOutput: OutputView = (_c, value, ctx) => {
  const list = Array.isArray(value) ? value : value ? [value] : [];
  if (!list.length || !list.some((v) => ctx.fileUrl(v))) return emptyMedia("No file yet", "file", "short");
  return html`<div class="files">${list.map((v) => fileChip(v, ctx))}</div>`;
};

/** A 3D model in `@google/model-viewer` (loaded on first use), with its name, size and a download. */
export const model3dOutput: OutputView = (_c, value, ctx) => {
  const url = ctx.fileUrl(value);
  if (!url) return emptyMedia("No 3D model yet", "cube");
  return html`<div class="model3d">
    <daggr-model3d .src=${url} .name=${fileName(value)} .viewer=${ctx.asset("model-viewer.js")}></daggr-model3d>
    ${fileChip(value, ctx, "cube")}
  </div>`;
};

interface Shot {
  url: string;
  caption: string;
  /** `crossorigin` for the image (the server's files on an embedding page). */
  cors?: "anonymous";
}

/** Gradio gallery values: FileRefs, `[file, caption]` pairs or `{ image, caption }` objects. */
function shots(value: unknown, ctx: ViewContext): Shot[] {
  if (!Array.isArray(value)) return [];
  const out: Shot[] = [];
  for (const item of value) {
    const [file, caption] = Array.isArray(item) ? item : [item, (item as { caption?: string } | null)?.caption];
    const url = ctx.fileUrl(file);
    if (url) out.push({ url, caption: typeof caption === "string" ? caption : "", cors: ctx.cors(url) });
  }
  return out;
}

export const galleryOutput: OutputView = (_c, value, ctx) => {
  const list = shots(value, ctx);
  if (!list.length) return emptyMedia("No images yet");
  return html`<div class="gallery">
    ${list.map((s, i) => html`<button class="thumb" title=${s.caption || `Image ${i + 1}`} @click=${() => openLightbox(list, i)}>
      <img src=${s.url} alt=${s.caption || `Image ${i + 1}`} loading="lazy" crossorigin=${ifDefined(s.cors)} /></button>`)}
  </div>`;
};

/** Opens the page-wide lightbox (one per page, appended to the body so no card clips it). */
export function openLightbox(items: Shot[], index: number): void {
  let box = document.querySelector("daggr-lightbox") as Lightbox | null;
  if (!box) {
    box = document.createElement("daggr-lightbox") as Lightbox;
    document.body.append(box);
  }
  box.items = items;
  box.index = index;
  box.open = true;
}

export class Lightbox extends LitElement {
  static override properties = { items: { attribute: false }, index: { type: Number }, open: { type: Boolean, reflect: true } };
  declare items: Shot[];
  declare index: number;
  declare open: boolean;

  constructor() {
    super();
    this.items = [];
    this.index = 0;
    this.open = false;
  }

  override connectedCallback() {
    super.connectedCallback();
    addEventListener("keydown", this.onKey);
  }

  override disconnectedCallback() {
    super.disconnectedCallback();
    removeEventListener("keydown", this.onKey);
  }

  private onKey = (e: KeyboardEvent) => {
    if (!this.open) return;
    if (e.key === "Escape") this.open = false;
    else if (e.key === "ArrowRight") this.step(1);
    else if (e.key === "ArrowLeft") this.step(-1);
    else return;
    e.preventDefault();
  };

  private step(d: number) {
    const n = this.items.length;
    this.index = (this.index + d + n) % n;
  }

  override render() {
    if (!this.open) return nothing;
    const s = this.items[this.index];
    if (!s) return nothing;
    const many = this.items.length > 1;
    return html`<div class="backdrop" role="dialog" aria-modal="true" aria-label="Image viewer" @click=${(e: Event) => e.target === e.currentTarget && (this.open = false)}>
      <figure>
        <img src=${s.url} alt=${s.caption || `Image ${this.index + 1}`} crossorigin=${ifDefined(s.cors)} />
        <figcaption>${s.caption}${many ? html` <span class="count">${this.index + 1} / ${this.items.length}</span>` : nothing}</figcaption>
      </figure>
      ${many ? html`<button class="nav prev" aria-label="Previous" @click=${() => this.step(-1)}>${icon("left")}</button>
        <button class="nav next" aria-label="Next" @click=${() => this.step(1)}>${icon("right")}</button>` : nothing}
      <button class="nav close" aria-label="Close" @click=${() => (this.open = false)}>${icon("x")}</button>
    </div>`;
  }

  static override styles = [
    controls,
    css`
      .backdrop {
        position: fixed;
        inset: 0;
        z-index: 2147483000;
        background: rgb(0 0 0 / 0.86);
        display: grid;
        place-items: center;
        font: 13px system-ui, sans-serif;
        color: #fff;
      }
      figure {
        margin: 0;
        display: flex;
        flex-direction: column;
        align-items: center;
        gap: 10px;
      }
      img {
        max-width: 88vw;
        max-height: 82vh;
        object-fit: contain;
        border-radius: 6px;
      }
      .count {
        opacity: 0.6;
        margin-left: 8px;
      }
      .nav {
        position: fixed;
        width: 44px;
        height: 44px;
        border-radius: 50%;
        background: rgb(255 255 255 / 0.12);
        display: grid;
        place-items: center;
        color: #fff;
      }
      .nav:hover {
        background: rgb(255 255 255 / 0.25);
      }
      .prev {
        left: 20px;
        top: 50%;
      }
      .next {
        right: 20px;
        top: 50%;
      }
      .close {
        right: 20px;
        top: 20px;
      }
      svg.i {
        width: 22px;
        height: 22px;
      }
    `,
  ];
}

define("daggr-lightbox", Lightbox);

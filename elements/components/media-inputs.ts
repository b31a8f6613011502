import { LitElement, css, html, nothing } from "lit";
import { ifDefined } from "lit/directives/if-defined.js";
import { define } from "../define.js";
import { fileName, formatBytes, isFileRef } from "../controllers/files.js";
import { icon } from "../views/icons.js";
import { controls } from "../views/theme.js";
import { type InputView, type ViewContext, prop } from "./types.js";

export type MediaKind = "image" | "audio" | "video" | "file" | "model3d";

const ACCEPT: Record<MediaKind, string> = { image: "image/*", audio: "audio/*", video: "video/*", file: "", model3d: ".glb,.gltf,.obj,.stl,.ply,.splat" };
const NOUN: Record<MediaKind, string> = { image: "an image", audio: "audio", video: "a video", file: "a file", model3d: "a 3D model" };

const media = (kind: MediaKind): InputView => ({ component: c, value, ctx, onChange }) => {
  const types = prop<string[]>(c, "file_types", []);
  return html`<daggr-file-input .kind=${kind} .value=${value} .ctx=${ctx} .accept=${types.length ? types.join(",") : ACCEPT[kind]}
    @value-change=${(e: CustomEvent) => onChange(e.detail)}></daggr-file-input>`;
};

export const imageInput = media("image");
export const audioInput = media("audio");
export const videoInput = media("video");
export const fileInput = media("file");
export const model3dInput = media("model3d");

/**
 * One file input for Image, Audio, Video, File and Model3D: drop, click to browse,
 * paste (images, while the pointer is over it or it has focus), and record (audio).
 * Uploads go to `POST /upload`; the FileRef that comes back is the new value.
 */
export class FileInput extends LitElement {
  static override properties = {
    kind: { attribute: false },
    value: { attribute: false },
    ctx: { attribute: false },
    accept: { attribute: false },
    busy: { state: true },
    error: { state: true },
    over: { state: true },
    recording: { state: true },
  };
  declare kind: MediaKind;
  declare value: unknown;
  declare ctx: ViewContext;
  declare accept: string;
  declare busy: string | undefined;
  declare error: string | undefined;
  declare over: boolean;
  declare recording: { recorder: MediaRecorder; started: number; timer: ReturnType<typeof setInterval>; secs: number } | undefined;
  private hovered = false;

  constructor() {
    super();
    this.kind = "file";
    this.over = false;
    this.accept = "";
  }

  override connectedCallback() {
    super.connectedCallback();
    addEventListener("paste", this.onPaste);
  }

  override disconnectedCallback() {
    super.disconnectedCallback();
    removeEventListener("paste", this.onPaste);
    this.stopRecording(true);
  }

  override render() {
    const url = this.value ? this.ctx?.fileUrl(this.value) : undefined;
    return html`
      <input type="file" hidden accept=${this.accept} @change=${this.onPick} />
      ${url ? this.preview(url) : this.dropzone()}
      ${this.error ? html`<div class="err">${this.error}</div>` : nothing}
    `;
  }

  private dropzone() {
    const label = this.busy ?? (this.recording ? `Recording… ${this.recording.secs}s` : `Drop ${NOUN[this.kind]} or click to upload`);
    return html`<div class="zone ${this.over ? "over" : ""}" tabindex="0" role="button" aria-label="Upload ${NOUN[this.kind]}"
        @click=${this.browse} @keydown=${(e: KeyboardEvent) => (e.key === "Enter" || e.key === " ") && this.browse()}
        @dragover=${this.onDragOver} @dragleave=${() => (this.over = false)} @drop=${this.onDrop}
        @pointerenter=${() => (this.hovered = true)} @pointerleave=${() => (this.hovered = false)}>
        ${icon(this.kind === "audio" ? "mic" : this.kind === "image" ? "image" : "upload")}
        <span>${label}</span>
        ${this.kind === "image" && !this.busy ? html`<small>or paste from the clipboard</small>` : nothing}
      </div>
      ${this.kind === "audio" && "MediaRecorder" in globalThis
        ? html`<button class="rec ${this.recording ? "on" : ""}" @click=${this.toggleRecording}>
            ${this.recording ? html`${icon("stop")} Stop` : html`${icon("mic")} Record`}</button>`
        : nothing}`;
  }

  private preview(url: string) {
    const name = fileName(this.value);
    const size = isFileRef(this.value) ? formatBytes(this.value.size) : "";
    const cors = ifDefined(this.ctx?.cors(url));
    const body =
      this.kind === "image"
        ? html`<img src=${url} alt=${name} crossorigin=${cors} />`
        : this.kind === "audio"
          ? html`<audio controls src=${url} crossorigin=${cors}></audio>`
          : this.kind === "video"
            ? html`<video controls src=${url} crossorigin=${cors}></video>`
            : html`<div class="chip">${icon(this.kind === "model3d" ? "cube" : "file")}<span class="name">${name}</span><small>${size}</small></div>`;
    return html`<div class="preview" @pointerenter=${() => (this.hovered = true)} @pointerleave=${() => (this.hovered = false)}>
      ${body}
      <div class="tools">
        <button class="icon-btn" title="Replace" aria-label="Replace" @click=${this.browse}>${icon("upload")}</button>
        <button class="icon-btn" title="Clear" aria-label="Clear" @click=${() => this.set(null)}>${icon("x")}</button>
      </div>
    </div>`;
  }

  private browse = () => this.renderRoot.querySelector<HTMLInputElement>("input[type=file]")?.click();

  private onPick = (e: Event) => {
    const input = e.target as HTMLInputElement;
    const f = input.files?.[0];
    input.value = "";
    if (f) void this.send(f, f.name);
  };

  private onDragOver = (e: DragEvent) => {
    e.preventDefault();
    this.over = true;
  };

  private onDrop = (e: DragEvent) => {
    e.preventDefault();
    this.over = false;
    const f = e.dataTransfer?.files?.[0];
    if (f) void this.send(f, f.name);
  };

  /** Pastes a file while the pointer is over the input or focus is inside it. */
  private onPaste = (e: ClipboardEvent) => {
    if (!this.hovered && !this.matches(":focus-within")) return;
    const item = [...(e.clipboardData?.items ?? [])].find((i) => i.kind === "file");
    const f = item?.getAsFile();
    if (!f) return;
    e.preventDefault();
    const ext = f.type.split("/")[1] ?? "bin";
    void this.send(f, f.name && f.name !== "image.png" ? f.name : `pasted.${ext}`);
  };

  private async send(blob: Blob, name: string) {
    this.error = undefined;
    this.busy = `Uploading ${name}…`;
    try {
      this.set(await this.ctx.upload(blob, name));
    } catch (e) {
      this.error = (e as Error).message;
    } finally {
      this.busy = undefined;
    }
  }

  private set(v: unknown) {
    this.value = v;
    this.dispatchEvent(new CustomEvent("value-change", { detail: v }));
  }

  private toggleRecording = async () => {
    if (this.recording) return this.stopRecording(false);
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      const recorder = new MediaRecorder(stream);
      const chunks: Blob[] = [];
      recorder.ondataavailable = (e) => chunks.push(e.data);
      recorder.onstop = () => {
        stream.getTracks().forEach((t) => t.stop());
        const discard = (recorder as MediaRecorder & { discard?: boolean }).discard;
        if (!discard && chunks.length) void this.send(new Blob(chunks, { type: recorder.mimeType || "audio/webm" }), "recording.webm");
      };
      recorder.start();
      const started = Date.now();
      const timer = setInterval(() => this.recording && (this.recording = { ...this.recording, secs: Math.round((Date.now() - started) / 1000) }), 500);
      this.recording = { recorder, started, timer, secs: 0 };
    } catch (e) {
      this.error = `Cannot record: ${(e as Error).message}`;
    }
  };

  private stopRecording(discard: boolean) {
    const r = this.recording;
    if (!r) return;
    clearInterval(r.timer);
    (r.recorder as MediaRecorder & { discard?: boolean }).discard = discard;
    if (r.recorder.state !== "inactive") r.recorder.stop();
    this.recording = undefined;
  }

  static override styles = [
    controls,
    css`
      :host {
        display: block;
        font: 12px var(--daggr-font);
      }
      .zone {
        display: flex;
        flex-direction: column;
        align-items: center;
        justify-content: center;
        gap: 4px;
        min-height: 84px;
        padding: 10px;
        border: 1.5px dashed var(--daggr-border-strong);
        border-radius: var(--daggr-radius-sm);
        color: var(--daggr-muted);
        background: var(--daggr-surface-2);
        cursor: pointer;
        text-align: center;
        transition: border-color 0.12s, background 0.12s;
      }
      .zone:hover,
      .zone.over {
        border-color: var(--daggr-accent);
        background: var(--daggr-accent-soft);
        color: var(--daggr-text);
      }
      .zone svg.i {
        width: 20px;
        height: 20px;
      }
      small {
        opacity: 0.75;
        font-size: 11px;
      }
      .preview {
        position: relative;
        border-radius: var(--daggr-radius-sm);
        overflow: hidden;
        background: var(--daggr-surface-2);
        border: 1px solid var(--daggr-border);
      }
      .preview img,
      .preview video {
        display: block;
        width: 100%;
        max-height: 180px;
        object-fit: contain;
        background: repeating-conic-gradient(var(--daggr-surface-3) 0 25%, transparent 0 50%) 0 0 / 14px 14px;
      }
      .preview audio {
        display: block;
        width: 100%;
        height: 36px;
        margin: 6px 0;
      }
      .tools {
        position: absolute;
        top: 4px;
        right: 4px;
        display: flex;
        gap: 2px;
        background: var(--daggr-surface);
        border-radius: 8px;
        box-shadow: var(--daggr-shadow);
        opacity: 0;
        transition: opacity 0.12s;
      }
      .preview:hover .tools,
      .preview:focus-within .tools {
        opacity: 1;
      }
      .chip {
        display: flex;
        align-items: center;
        gap: 8px;
        padding: 10px 64px 10px 10px;
      }
      .chip .name {
        overflow: hidden;
        text-overflow: ellipsis;
        white-space: nowrap;
      }
      .rec {
        display: inline-flex;
        align-items: center;
        gap: 4px;
        margin-top: 6px;
        padding: 3px 10px;
        border-radius: 999px;
        border: 1px solid var(--daggr-border);
        color: var(--daggr-muted);
        font-size: 11px;
      }
      .rec.on {
        color: var(--daggr-error);
        border-color: var(--daggr-error);
      }
      .rec svg.i {
        width: 12px;
        height: 12px;
      }
      .err {
        color: var(--daggr-error);
        margin-top: 4px;
      }
    `,
  ];
}

define("daggr-file-input", FileInput);

import type { TemplateResult } from "lit";
import type { ComponentWire, FileRef } from "../wire.js";

/** What a component view may use of the canvas: file URLs and uploads. */
export interface ViewContext {
  /** Resolves a FileRef (or a URL-ish value) against the server. */
  fileUrl(v: unknown): string | undefined;
  upload(file: Blob, name: string): Promise<FileRef>;
  /** The `crossorigin` a media element needs for this URL: "anonymous" for the server's files on an embedding page. */
  cors(url: string | undefined): "anonymous" | undefined;
  /** The URL of one of the server's assets (`/assets/<name>`), e.g. the 3D viewer's bundle. */
  asset(name: string): string;
}

export interface InputArgs {
  component: ComponentWire;
  value: unknown;
  ctx: ViewContext;
  /** Typing: the canvas debounces these before sending. */
  onInput(v: unknown): void;
  /**
   * A value being typed that should not run anything yet (a number's "2" on the way to
   * "24"): kept as the field's draft and sent on commit, or before a run.
   */
  onDraft(v: unknown): void;
  /** A committed change (blur, Enter, pick, upload): sent at once. */
  onChange(v: unknown): void;
}

export type InputView = (a: InputArgs) => TemplateResult;
export type OutputView = (component: ComponentWire, value: unknown, ctx: ViewContext) => TemplateResult;

export function prop<T>(c: ComponentWire, name: string, fallback: T): T {
  const v = c.props[name];
  return v === undefined || v === null ? fallback : (v as T);
}

/** Gradio choices are values or `[label, value]` pairs. */
export function choices(c: ComponentWire): Array<{ label: string; value: unknown }> {
  const list = (c.props.choices as unknown[] | undefined) ?? [];
  return list.map((ch) => (Array.isArray(ch) ? { label: String(ch[0]), value: ch[1] } : { label: String(ch), value: ch }));
}

export function isEmpty(v: unknown): boolean {
  return v === undefined || v === null || v === "" || (Array.isArray(v) && v.length === 0);
}

import { html, nothing, type TemplateResult } from "lit";
import { ConnStatus } from "../controllers/connection.js";
import { SHORTCUTS } from "../controllers/shortcuts.js";
import type { SheetWire } from "../wire.js";
import { icon } from "./icons.js";

/** The canvas's chrome around the graph: title bar, toolbars, status pill, help, toast. */

export interface TitleBarProps {
  graphName: string;
  sheets: SheetWire[];
  current: string | undefined;
  dark: boolean;
  onSwitch(id: string): void;
  onCreate(): void;
  onRename(id: string, name: string): void;
  onDelete(id: string): void;
  onRunAll(): void;
  /** The pointer is on "Run all" (true) or left it (false). */
  onPreviewAll(on: boolean): void;
  onToggleTheme(): void;
}

export function titleBar(p: TitleBarProps): TemplateResult {
  return html`<div class="title-bar">
      <span class="logo" aria-hidden="true"></span>
      <span class="graph-name" title=${p.graphName}>${p.graphName}</span>
      <span class="divider"></span>
      <daggr-sheets .sheets=${p.sheets} .current=${p.current}
        @sheet-switch=${(e: CustomEvent) => p.onSwitch(e.detail.id)}
        @sheet-create=${() => p.onCreate()}
        @sheet-rename=${(e: CustomEvent) => p.onRename(e.detail.id, e.detail.name)}
        @sheet-delete=${(e: CustomEvent) => p.onDelete(e.detail.id)}></daggr-sheets>
    </div>
    <div class="toolbar top-right">
      <button class="primary run-graph" title="Run all stale nodes (Shift+Enter)" @click=${() => p.onRunAll()}
        @pointerenter=${() => p.onPreviewAll(true)} @pointerleave=${() => p.onPreviewAll(false)}>
        ${icon("play")}<span>Run all</span></button>
      <button class="icon-btn theme-toggle" title=${p.dark ? "Light theme (T)" : "Dark theme (T)"} aria-label="Toggle dark mode"
        @click=${() => p.onToggleTheme()}>${icon(p.dark ? "sun" : "moon")}</button>
    </div>`;
}

export interface ViewToolbarProps {
  onZoom(factor: number): void;
  onResetZoom(): void;
  onFit(): void;
  onHelp(): void;
}

/** − 100% + | fit | shortcuts. The percentage is kept current by the canvas directly (`.zoom-pct`). */
export function viewToolbar(p: ViewToolbarProps): TemplateResult {
  return html`<div class="toolbar bottom-left" role="toolbar" aria-label="View">
    <button class="icon-btn" title="Zoom out (−)" aria-label="Zoom out" @click=${() => p.onZoom(1 / 1.2)}>${icon("minus")}</button>
    <button class="zoom-pct" title="Reset zoom to 100%" @click=${() => p.onResetZoom()}>100%</button>
    <button class="icon-btn" title="Zoom in (+)" aria-label="Zoom in" @click=${() => p.onZoom(1.2)}>${icon("plus")}</button>
    <span class="sep"></span>
    <button class="icon-btn fit" title="Fit to view (F)" aria-label="Fit to view" @click=${() => p.onFit()}>${icon("fit")}</button>
    <button class="icon-btn" title="Keyboard shortcuts (?)" aria-label="Keyboard shortcuts" @click=${() => p.onHelp()}>${icon("keyboard")}</button>
  </div>`;
}

/** "Connecting…", "Reconnecting in 2s…", "Loading graph…", "Laying out…"; nothing once ready. */
export function statusPill(status: ConnStatus, phase: string, retryInMs: number | undefined): TemplateResult | typeof nothing {
  let text = "";
  if (status === ConnStatus.RECONNECTING) text = retryInMs ? `Reconnecting in ${Math.ceil(retryInMs / 1000)}s…` : "Reconnecting…";
  else if (status === ConnStatus.CONNECTING) text = "Connecting…";
  else if (status === ConnStatus.CLOSED) text = "Disconnected";
  else if (phase === "loading") text = "Loading graph…";
  else if (phase === "layout") text = "Laying out…";
  if (!text) return nothing;
  const bad = status === ConnStatus.RECONNECTING || status === ConnStatus.CLOSED;
  return html`<div class="pill ${bad ? "warn" : ""}" role="status" aria-live="polite"><span class="spinner"></span>${text}</div>`;
}

export function helpPanel(onClose: () => void): TemplateResult {
  return html`<div class="help" role="dialog" aria-label="Keyboard shortcuts">
    <div class="help-head">Keyboard shortcuts<button class="icon-btn" aria-label="Close" @click=${onClose}>${icon("x")}</button></div>
    ${SHORTCUTS.map((s) => html`<div class="help-row"><kbd>${s.keys}</kbd><span>${s.does}</span></div>`)}
  </div>`;
}

export function toast(t: { text: string; kind: "error" | "info" }, onDismiss: () => void): TemplateResult {
  return html`<div class="toast ${t.kind}" role="status">${t.text}
    <button class="icon-btn" aria-label="Dismiss" @click=${onDismiss}>${icon("x")}</button></div>`;
}

/** What the overlay shows of an app that failed to load, or of its type errors (`daggr dev`). */
export interface AppFailureView {
  message: string;
  code?: string;
  file?: string;
  line?: number;
  column?: number;
  /** Default "The app failed to load". */
  title?: string;
  /** Default: the app comes back once the file is fixed. */
  hint?: string;
  /** Further problems, one line each (`file:line:column CODE message`). */
  more?: string[];
  /** The app's type errors too (`daggr dev --typecheck`), under their own heading, one line each. */
  types?: { title: string; lines: string[] };
}

const where = (f: { file?: string; line?: number; column?: number }) => (f.file ? `${f.file}${f.line ? `:${f.line}${f.column ? `:${f.column}` : ""}` : ""}` : undefined);

/**
 * The app failed to load: what, where, and that the canvas comes back by itself once the
 * file is fixed (the dev server restarts it and this tab reconnects). The same overlay
 * shows `daggr dev --typecheck`'s type errors, with a Dismiss (the app still runs).
 */
export function failureOverlay(f: AppFailureView, onDismiss?: () => void): TemplateResult {
  const at = where(f);
  return html`<div class="app-failure" role="alertdialog" aria-labelledby="app-failure-title">
    <div class="app-failure-box">
      <div class="app-failure-title" id="app-failure-title">${icon("alert")}<span>${f.title ?? "The app failed to load"}</span>${f.code ? html`<code class="app-failure-code">${f.code}</code>` : nothing}</div>
      <pre class="app-failure-msg">${f.message}</pre>
      ${at ? html`<div class="app-failure-where">at <code>${at}</code></div>` : nothing}
      ${f.more?.length ? html`<ul class="app-failure-more">${f.more.map((l) => html`<li><code>${l}</code></li>`)}</ul>` : nothing}
      ${f.types
        ? html`<div class="app-failure-types">
            <div class="app-failure-subtitle">${f.types.title}</div>
            <ul class="app-failure-more">${f.types.lines.map((l) => html`<li><code>${l}</code></li>`)}</ul>
          </div>`
        : nothing}
      <div class="app-failure-hint">${f.hint ?? "Fix the file and save: daggr dev reloads the app, and this page follows."}</div>
      ${onDismiss ? html`<button class="app-failure-dismiss" @click=${onDismiss}>Dismiss</button>` : nothing}
    </div>
  </div>`;
}

type Diagnostic = { code: string; message: string; file?: string; line?: number; column?: number };

/** `file:line:column CODE message` (its first line) for each error, and how many the list leaves out. */
function typeErrorLines(errors: readonly Diagnostic[], total: number): string[] {
  const lines = errors.map((e) => `${where(e) ?? ""} ${e.code} ${e.message.split("\n")[0]}`.trim());
  if (total > errors.length) lines.push(`… and ${total - errors.length} more (the terminal lists them)`);
  return lines;
}

const typeErrorsTitle = (total: number) => `${total} type error${total === 1 ? "" : "s"}`;

/** `daggr dev --typecheck`'s errors as the overlay shows them: the first in full, the rest a line each. */
export function typeErrorsView(errors: readonly Diagnostic[], total: number): AppFailureView {
  const [first, ...rest] = errors;
  return {
    ...first!,
    title: typeErrorsTitle(total),
    hint: "The app still runs. Fix the types and save: the check runs again and this clears.",
    more: typeErrorLines(rest, total - 1),
  };
}

/** The load failure with the app's type errors listed under it (they often say why it failed). */
export function withTypeErrors(f: AppFailureView, errors: readonly Diagnostic[], total: number): AppFailureView {
  return errors.length ? { ...f, types: { title: typeErrorsTitle(total), lines: typeErrorLines(errors, total) } } : f;
}

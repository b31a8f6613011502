import { css, html, nothing, type TemplateResult } from "lit";
import type { ItemView } from "../controllers/canvas-store.js";
import { isFileRef } from "../controllers/files.js";
import { renderOutput, type ViewContext } from "../components/registry.js";
import type { NodeWire } from "../wire.js";
import { formatMs } from "./elapsed.js";
import { icon } from "./icons.js";

export interface ItemListArgs {
  node: NodeWire;
  items: ItemView[] | undefined;
  /** The list is unfolded (its header toggles it). */
  open: boolean;
  /** Items whose outputs are shown. */
  expanded: ReadonlySet<number>;
  /** The item being rerun alone, if any. */
  rerunning: number | undefined;
  /** Items the last result changed (the others were kept): they flash once. */
  changed: ReadonlySet<number> | undefined;
  /** The node is running: a rerun waits until it is done. */
  busy: boolean;
  ctx: ViewContext;
  onToggle(): void;
  onToggleItem(i: number): void;
  onRerun(i: number): void;
  /** The item whose editor is open, if any. */
  editing: number | undefined;
  /** Opens (a number) or closes (undefined) an item's editor. */
  onEdit(i: number | undefined): void;
  /** Sends an item's new value: that item reruns alone (`edit-item`). */
  onSave(i: number, value: unknown): void;
}

/**
 * A MAP node's items: one row each with its status, a summary of its input, its
 * duration, an "edit this item" and a "rerun this item" button; a row unfolds to that
 * item's outputs, and a failed item shows its own error. An item's editor holds its value
 * (text as text, anything else as JSON); saving sends it and reruns that item alone.
 * Before the first run it says what the node maps over.
 */
export function itemList(a: ItemListArgs): TemplateResult {
  const items = a.items ?? [];
  if (!items.length) {
    const over = a.node.inputs.find((i) => i.each !== undefined)?.from;
    return html`<section class="items empty">${icon("layers")}<span>${over ? html`Runs once per item of <code>${over.node}.${over.port}</code>` : "Runs once per item"}</span></section>`;
  }
  const failed = items.filter((i) => i.status !== "success").length;
  const total = items.reduce((n, i) => n + (i.ms || 0), 0);
  return html`<section class="items ${a.open ? "open" : ""}">
    <button class="items-head" aria-expanded=${a.open} @click=${a.onToggle}>
      <span class="chev">${icon(a.open ? "down" : "right")}</span>
      <span class="items-title">${items.length} item${items.length === 1 ? "" : "s"}</span>
      <span class="tally ok" title="Succeeded">${icon("check")}${items.length - failed}</span>
      ${failed ? html`<span class="tally failed" title="Failed">${icon("x")}${failed}</span>` : nothing}
      <span class="items-ms" title="Time of all items together">${formatMs(total)}</span>
    </button>
    ${a.open ? html`<ol class="item-list">${items.map((item, i) => row(a, item, i))}</ol>` : nothing}
  </section>`;
}

function row(a: ItemListArgs, item: ItemView, i: number): TemplateResult {
  const running = a.rerunning === i && a.busy;
  const status = running ? "running" : item.status === "success" ? "ok" : "failed";
  const open = a.expanded.has(i);
  const inputs = "inputs" in item ? item.inputs : undefined;
  const outputs = "outputs" in item ? item.outputs : undefined;
  const shown = a.node.outputs.filter((o) => o.component);
  const cls = ["item", status, open ? "expanded" : "", a.changed?.has(i) && !running ? "updated" : ""].join(" ");
  return html`<li class=${cls} data-item=${i}>
    <div class="item-row">
      <button class="item-main" aria-expanded=${open} title=${open ? "Hide this item's outputs" : "Show this item's outputs"} @click=${() => a.onToggleItem(i)}>
        <span class="idx">${i + 1}</span>
        <span class="state" aria-label=${status}></span>
        <span class="summary">${summary(inputs) || html`<em>item ${i + 1}</em>`}</span>
      </button>
      <span class="item-ms">${running ? "running…" : formatMs(item.ms)}</span>
      ${editable(a, inputs) ? html`<button class="icon-btn edit-item" title="Edit this item" aria-label="Edit item ${i + 1}" aria-pressed=${a.editing === i} ?disabled=${a.busy} @click=${() => a.onEdit(a.editing === i ? undefined : i)}>${icon("edit")}</button>` : nothing}
      <button class="icon-btn rerun" title="Rerun this item" aria-label="Rerun item ${i + 1}" ?disabled=${a.busy} @click=${() => a.onRerun(i)}>${icon("rerun")}</button>
    </div>
    ${a.editing === i && inputs ? itemEditor(a, i, inputs[scatteredPort(a)!]) : nothing}
    ${item.error && !running ? html`<div class="item-error" title=${item.error.message}>${item.error.message}</div>` : nothing}
    ${open && outputs && shown.length
      ? html`<div class="item-out">${shown.map((o) => renderOutput(o.port, o.component!, outputs[o.port], a.ctx))}</div>`
      : nothing}
  </li>`;
}

/** The port the node maps over (its first `.each` input). */
const scatteredPort = (a: ItemListArgs) => a.node.inputs.find((i) => i.each !== undefined)?.port;

/** An item can be edited as a value unless it is a file (those change by upload, in their source). */
function editable(a: ItemListArgs, inputs: Record<string, unknown> | undefined): boolean {
  const port = scatteredPort(a);
  return !!inputs && port !== undefined && port in inputs && !isFileRef(inputs[port]);
}

/** The item's value in a text area: a string as itself, anything else as JSON. Ctrl/⌘+Enter saves, Escape cancels. */
function itemEditor(a: ItemListArgs, i: number, value: unknown): TemplateResult {
  const text = typeof value === "string";
  const save = (e: Event) => {
    const form = (e.currentTarget as HTMLElement).closest(".item-edit")!;
    const area = form.querySelector("textarea")!;
    const note = form.querySelector(".edit-error")!;
    let next: unknown = area.value;
    if (!text) {
      try {
        next = JSON.parse(area.value);
      } catch (err) {
        note.textContent = `Not valid JSON: ${(err as Error).message}`;
        return;
      }
    }
    note.textContent = "";
    a.onSave(i, next);
  };
  const keys = (e: KeyboardEvent) => {
    e.stopPropagation(); // the canvas's shortcuts stay out of the editor
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) save(e);
    else if (e.key === "Escape") a.onEdit(undefined);
  };
  return html`<div class="item-edit">
    <textarea rows=${text ? 2 : 4} spellcheck=${text ? "true" : "false"} aria-label="Item ${i + 1}" class=${text ? "" : "json"}
      .value=${text ? value : JSON.stringify(value, null, 2)} @keydown=${keys}
      @input=${(e: Event) => ((e.currentTarget as HTMLElement).parentElement!.querySelector(".edit-error")!.textContent = "")}></textarea>
    <div class="edit-error" role="alert"></div>
    <div class="edit-actions">
      <button class="btn ghost cancel-edit" @click=${() => a.onEdit(undefined)}>Cancel</button>
      <button class="btn primary save-item" title="Save this item and rerun it alone (Ctrl+Enter)" @click=${save}>${icon("rerun")} Save &amp; rerun</button>
    </div>
  </div>`;
}

/** One line for an item's input: its text, a file's name, or an object's short values. */
export function summary(inputs: Record<string, unknown> | undefined): string {
  if (!inputs) return "";
  const values = Object.values(inputs);
  const one = (v: unknown): string => {
    if (v === null || v === undefined) return "";
    if (typeof v === "string") return v;
    if (typeof v === "number" || typeof v === "boolean") return String(v);
    if (isFileRef(v)) return v.name;
    if (Array.isArray(v)) return `[${v.length}]`;
    if (typeof v === "object") {
      const flat = Object.values(v).filter((x) => ["string", "number", "boolean"].includes(typeof x));
      return flat.length ? flat.slice(0, 3).join(" · ") : JSON.stringify(v);
    }
    return "";
  };
  return values.map(one).filter(Boolean).join(" · ").slice(0, 200);
}

export const itemListStyles = css`
  .items {
    border: 1px solid var(--daggr-border);
    border-radius: var(--daggr-radius-sm);
    background: var(--daggr-surface);
    overflow: hidden;
  }
  .items.empty {
    display: flex;
    align-items: center;
    gap: 8px;
    padding: 8px 10px;
    font-size: 12px;
    color: var(--daggr-muted);
    border-style: dashed;
  }
  .items.empty svg.i {
    color: var(--daggr-badge-map);
    flex: none;
  }
  .items code {
    font: 11.5px var(--daggr-mono);
    color: var(--daggr-text);
  }
  .items-head {
    display: flex;
    align-items: center;
    gap: 8px;
    width: 100%;
    padding: 6px 10px 6px 6px;
    font-size: 12px;
    background: color-mix(in srgb, var(--daggr-badge-map) 7%, var(--daggr-surface));
  }
  .items.open .items-head {
    border-bottom: 1px solid var(--daggr-border);
  }
  .items-head:hover {
    background: color-mix(in srgb, var(--daggr-badge-map) 12%, var(--daggr-surface));
  }
  .chev svg.i {
    width: 14px;
    height: 14px;
    display: block;
    color: var(--daggr-muted);
  }
  .items-title {
    font-weight: 650;
  }
  .tally {
    display: inline-flex;
    align-items: center;
    gap: 2px;
    font-weight: 600;
    font-variant-numeric: tabular-nums;
  }
  .tally svg.i {
    width: 12px;
    height: 12px;
    stroke-width: 3;
  }
  .tally.ok {
    color: var(--daggr-success);
  }
  .tally.failed {
    color: var(--daggr-error);
  }
  .items-ms {
    margin-left: auto;
    color: var(--daggr-muted);
    font-size: 11px;
    font-variant-numeric: tabular-nums;
  }
  .item-list {
    list-style: none;
    margin: 0;
    padding: 2px 0;
    max-height: 300px;
    overflow: auto;
    overscroll-behavior: contain;
  }
  .item {
    padding: 0 4px 0 6px;
    border-left: 2px solid transparent;
  }
  .item + .item {
    border-top: 1px solid color-mix(in srgb, var(--daggr-border) 60%, transparent);
  }
  .item.updated {
    animation: item-flash 1.6s ease-out;
  }
  @keyframes item-flash {
    from {
      background: var(--daggr-accent-soft);
      border-left-color: var(--daggr-accent);
    }
  }
  .item-row {
    display: flex;
    align-items: center;
    gap: 4px;
    min-height: 28px;
  }
  .item-main {
    flex: 1;
    min-width: 0;
    display: flex;
    align-items: center;
    gap: 7px;
    text-align: left;
    padding: 4px 0;
  }
  .idx {
    flex: none;
    min-width: 16px;
    font: 600 10.5px var(--daggr-mono);
    color: var(--daggr-muted);
    text-align: right;
  }
  .state {
    flex: none;
    width: 8px;
    height: 8px;
    border-radius: 50%;
    background: var(--daggr-success);
  }
  .item.failed .state {
    background: var(--daggr-error);
  }
  .item.running .state {
    background: var(--daggr-accent);
    box-shadow: 0 0 0 3px var(--daggr-accent-soft);
    animation: pulse 1s ease-in-out infinite;
  }
  @keyframes pulse {
    50% {
      opacity: 0.35;
    }
  }
  .summary {
    min-width: 0;
    overflow: hidden;
    text-overflow: ellipsis;
    white-space: nowrap;
    font-size: 12px;
  }
  .item-main:hover .summary {
    color: var(--daggr-accent-strong);
  }
  .item.expanded .summary {
    white-space: normal;
    overflow-wrap: anywhere;
  }
  .item-ms {
    flex: none;
    font-size: 11px;
    color: var(--daggr-muted);
    font-variant-numeric: tabular-nums;
  }
  .item.running .item-ms {
    color: var(--daggr-accent-strong);
    font-weight: 600;
  }
  .item .rerun {
    width: 24px;
    height: 24px;
    flex: none;
    opacity: 0.55;
  }
  .item-row:hover .rerun:not(:disabled),
  .item.failed .rerun:not(:disabled) {
    opacity: 1;
  }
  .item .rerun svg.i {
    width: 13px;
    height: 13px;
  }
  .item-error {
    margin: 0 0 6px 31px;
    font: 11.5px/1.4 var(--daggr-mono);
    color: var(--daggr-error);
    display: -webkit-box;
    -webkit-line-clamp: 2;
    -webkit-box-orient: vertical;
    overflow: hidden;
    overflow-wrap: anywhere;
  }
  .item .edit-item {
    width: 24px;
    height: 24px;
    flex: none;
    opacity: 0.55;
  }
  .item-row:hover .edit-item:not(:disabled),
  .item .edit-item[aria-pressed="true"] {
    opacity: 1;
  }
  .item .edit-item svg.i {
    width: 13px;
    height: 13px;
  }
  .item-edit {
    margin: 2px 0 8px 31px;
    display: flex;
    flex-direction: column;
    gap: 6px;
  }
  .item-edit textarea {
    width: 100%;
    box-sizing: border-box;
    resize: vertical;
    font: 12px/1.45 var(--daggr-font);
    padding: 6px 8px;
    border: 1px solid var(--daggr-border-strong);
    border-radius: var(--daggr-radius-sm);
    background: var(--daggr-surface);
    color: var(--daggr-text);
  }
  .item-edit textarea.json {
    font: 11.5px/1.45 var(--daggr-mono);
  }
  .item-edit textarea:focus {
    outline: 2px solid var(--daggr-accent-soft);
    border-color: var(--daggr-accent);
  }
  .edit-error {
    font-size: 11.5px;
    color: var(--daggr-error);
  }
  .edit-error:empty {
    display: none;
  }
  .edit-actions {
    display: flex;
    justify-content: flex-end;
    gap: 6px;
  }
  .edit-actions .btn {
    display: inline-flex;
    align-items: center;
    gap: 4px;
    font-size: 12px;
    padding: 4px 10px;
    border-radius: var(--daggr-radius-sm);
  }
  .edit-actions .btn svg.i {
    width: 12px;
    height: 12px;
  }
  .edit-actions .btn.primary {
    background: var(--daggr-accent);
    color: var(--daggr-on-accent);
    font-weight: 600;
  }
  .edit-actions .btn.primary:hover {
    background: var(--daggr-accent-strong);
  }
  .edit-actions .btn.ghost {
    color: var(--daggr-muted);
  }
  .edit-actions .btn.ghost:hover {
    color: var(--daggr-text);
    background: var(--daggr-surface-2);
  }
  .item-out {
    display: flex;
    flex-direction: column;
    gap: 8px;
    margin: 2px 0 8px 31px;
  }
`;

import { LitElement, css, html, nothing } from "lit";
import { define } from "../define.js";
import type { SheetWire } from "../wire.js";
import { icon } from "./icons.js";
import { controls } from "./theme.js";

/**
 * The sheet menu: the current sheet's name opens a list to switch, create, rename
 * (inline; Enter saves, Escape cancels) and delete (after an inline confirmation; the
 * last sheet cannot be deleted). It only emits events; the canvas talks to the server.
 *
 * Events: `sheet-switch`, `sheet-create`, `sheet-rename`, `sheet-delete` (detail: `{ id, name? }`).
 */
export class SheetsMenu extends LitElement {
  static override properties = {
    sheets: { attribute: false },
    current: { attribute: false },
    open: { type: Boolean, reflect: true },
    renaming: { state: true },
    confirming: { state: true },
  };
  declare sheets: SheetWire[];
  declare current: string | undefined;
  declare open: boolean;
  declare renaming: string | undefined;
  declare confirming: string | undefined;

  constructor() {
    super();
    this.sheets = [];
    this.open = false;
  }

  override connectedCallback() {
    super.connectedCallback();
    addEventListener("pointerdown", this.onOutside, true);
  }

  override disconnectedCallback() {
    super.disconnectedCallback();
    removeEventListener("pointerdown", this.onOutside, true);
  }

  private onOutside = (e: Event) => {
    if (this.open && !e.composedPath().includes(this)) this.close();
  };

  private close() {
    this.open = false;
    this.renaming = undefined;
    this.confirming = undefined;
  }

  private fire(type: string, detail: Record<string, unknown> = {}) {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
  }

  override render() {
    const cur = this.sheets.find((s) => s.id === this.current);
    return html`<button class="trigger" aria-haspopup="menu" aria-expanded=${this.open} title="Sheets"
        @click=${() => (this.open ? this.close() : (this.open = true))}>
        <span class="label">${cur?.name ?? "Sheet"}</span>${icon("down")}
      </button>
      ${this.open ? this.menu() : nothing}`;
  }

  private menu() {
    const many = this.sheets.length > 1;
    return html`<div class="menu" role="menu" @keydown=${(e: KeyboardEvent) => e.key === "Escape" && this.close()}>
      <div class="head">Sheets</div>
      ${[...this.sheets].sort((a, b) => a.createdAt - b.createdAt).map((s) => {
        if (this.renaming === s.id) return this.renameRow(s);
        if (this.confirming === s.id) {
          return html`<div class="row confirm">
            <span>Delete “${s.name}”?</span>
            <button class="danger" @click=${() => (this.fire("sheet-delete", { id: s.id }), this.close())}>Delete</button>
            <button class="plain" @click=${() => (this.confirming = undefined)}>Cancel</button>
          </div>`;
        }
        return html`<div class="row ${s.id === this.current ? "current" : ""}" role="menuitemradio" aria-checked=${s.id === this.current}>
          <button class="pick" data-sheet=${s.id} @click=${() => (this.fire("sheet-switch", { id: s.id }), this.close())}>
            <span class="check">${s.id === this.current ? "●" : ""}</span><span class="sname">${s.name}</span>
          </button>
          <button class="icon-btn" title="Rename" aria-label="Rename ${s.name}" @click=${() => (this.renaming = s.id)}>${icon("edit")}</button>
          ${many ? html`<button class="icon-btn" title="Delete" aria-label="Delete ${s.name}" @click=${() => (this.confirming = s.id)}>${icon("trash")}</button>` : nothing}
        </div>`;
      })}
      <button class="new" @click=${() => (this.fire("sheet-create"), this.close())}>${icon("plus")} New sheet</button>
    </div>`;
  }

  private renameRow(s: SheetWire) {
    const save = (input: HTMLInputElement) => {
      const name = input.value.trim();
      if (name && name !== s.name) this.fire("sheet-rename", { id: s.id, name });
      this.renaming = undefined;
    };
    return html`<div class="row">
      <input class="rename" .value=${s.name} aria-label="Sheet name" maxlength="80"
        @keydown=${(e: KeyboardEvent) => {
          if (e.key === "Enter") save(e.target as HTMLInputElement);
          if (e.key === "Escape") {
            e.stopPropagation();
            this.renaming = undefined;
          }
        }}
        @blur=${(e: Event) => this.renaming === s.id && save(e.target as HTMLInputElement)} />
    </div>`;
  }

  override updated() {
    this.renderRoot.querySelector<HTMLInputElement>("input.rename:not(:focus)")?.select();
  }

  static override styles = [
    controls,
    css`
      :host {
        position: relative;
        display: inline-block;
      }
      .trigger {
        display: inline-flex;
        align-items: center;
        gap: 4px;
        padding: 4px 6px 4px 10px;
        border-radius: 8px;
        font-weight: 600;
        max-width: 220px;
      }
      .trigger:hover {
        background: var(--daggr-surface-2);
      }
      .label {
        overflow: hidden;
        text-overflow: ellipsis;
        white-space: nowrap;
      }
      .menu {
        position: absolute;
        top: calc(100% + 8px);
        left: 50%;
        transform: translateX(-50%);
        min-width: 260px;
        background: var(--daggr-surface);
        border: 1px solid var(--daggr-border);
        border-radius: 12px;
        box-shadow: var(--daggr-shadow-lg);
        padding: 6px;
        z-index: 10;
      }
      .head {
        font-size: 11px;
        font-weight: 700;
        text-transform: uppercase;
        letter-spacing: 0.06em;
        color: var(--daggr-muted);
        padding: 4px 8px 6px;
      }
      .row {
        display: flex;
        align-items: center;
        gap: 2px;
        border-radius: 8px;
        padding-right: 2px;
      }
      .row:hover {
        background: var(--daggr-surface-2);
      }
      .row.current .sname {
        font-weight: 600;
      }
      .pick {
        flex: 1;
        display: flex;
        align-items: center;
        gap: 6px;
        padding: 7px 8px;
        text-align: left;
        min-width: 0;
      }
      .check {
        width: 10px;
        color: var(--daggr-accent);
        font-size: 9px;
      }
      .sname {
        overflow: hidden;
        text-overflow: ellipsis;
        white-space: nowrap;
      }
      .rename {
        flex: 1;
        font: inherit;
        color: inherit;
        background: var(--daggr-surface-2);
        border: 1px solid var(--daggr-accent);
        border-radius: 6px;
        padding: 5px 8px;
        margin: 2px;
      }
      .confirm {
        padding: 6px 8px;
        gap: 6px;
        background: var(--daggr-error-soft);
      }
      .confirm span {
        flex: 1;
        font-size: 12px;
      }
      .danger,
      .plain {
        font-size: 12px;
        padding: 3px 8px;
        border-radius: 6px;
        font-weight: 600;
      }
      .danger {
        background: var(--daggr-error);
        color: #fff;
      }
      .plain:hover {
        background: var(--daggr-surface-3);
      }
      .new {
        display: flex;
        align-items: center;
        gap: 6px;
        width: 100%;
        margin-top: 4px;
        padding: 7px 8px;
        border-top: 1px solid var(--daggr-border);
        border-radius: 0 0 8px 8px;
        color: var(--daggr-accent-strong);
        font-weight: 600;
      }
      .new:hover {
        background: var(--daggr-accent-soft);
      }
    `,
  ];
}

define("daggr-sheets", SheetsMenu);

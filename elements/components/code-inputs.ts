import { LitElement, css, html, nothing } from "lit";
import { editing } from "./editing.js";
import { define } from "../define.js";
import { type InputView, prop } from "./types.js";

/** Code: a monospace textarea with its language; Tab indents instead of leaving. */
export const codeInput: InputView = ({ component: c, value, onInput, onChange }) => {
  const lang = prop(c, "language", "");
  const onKey = (e: KeyboardEvent) => {
    if (e.key !== "Tab" || e.shiftKey) return;
    e.preventDefault();
    const t = e.target as HTMLTextAreaElement;
    t.setRangeText("  ", t.selectionStart, t.selectionEnd, "end");
    onInput(t.value);
  };
  return html`<div class="code-wrap">
    ${lang ? html`<span class="lang">${lang}</span>` : nothing}
    <textarea class="field mono" rows=${Math.min(prop(c, "lines", 6), 16)} spellcheck="false" .value=${editing(typeof value === "string" ? value : "")}
      @keydown=${onKey} @input=${(e: Event) => onInput((e.target as HTMLTextAreaElement).value)}
      @change=${(e: Event) => onChange((e.target as HTMLTextAreaElement).value)}></textarea>
  </div>`;
};

export const jsonInput: InputView = ({ value, onChange }) =>
  html`<daggr-json-editor .value=${value} @value-change=${(e: CustomEvent) => onChange(e.detail)}></daggr-json-editor>`;

export const dataframeInput: InputView = ({ component: c, value, onChange }) =>
  html`<daggr-dataframe-editor .value=${value} .headers=${prop<string[]>(c, "headers", [])}
    @value-change=${(e: CustomEvent) => onChange(e.detail)}></daggr-dataframe-editor>`;

const fieldCss = css`
  :host {
    display: block;
  }
  textarea,
  input {
    box-sizing: border-box;
    width: 100%;
    font: 12px/1.5 var(--daggr-mono);
    color: var(--daggr-text);
    background: var(--daggr-surface-2);
    border: 1px solid var(--daggr-border);
    border-radius: var(--daggr-radius-sm);
    padding: 6px 8px;
    resize: vertical;
  }
  textarea:focus,
  input:focus {
    outline: 2px solid var(--daggr-accent-soft);
    border-color: var(--daggr-accent);
  }
  .bad {
    border-color: var(--daggr-error);
  }
  .msg {
    color: var(--daggr-error);
    font: 11px var(--daggr-font);
    margin-top: 2px;
  }
`;

/** Edits JSON as text; sends only text that parses, and keeps the user's text while focused. */
export class JsonEditor extends LitElement {
  static override properties = { value: { attribute: false }, text: { state: true }, error: { state: true } };
  static override styles = fieldCss;
  declare value: unknown;
  declare text: string | undefined;
  declare error: string | undefined;

  override render() {
    const shown = this.text ?? JSON.stringify(this.value ?? null, null, 2);
    return html`<textarea rows=${Math.min(12, Math.max(3, shown.split("\n").length))} spellcheck="false" class=${this.error ? "bad" : ""}
        .value=${editing(shown)} @input=${this.onInput} @blur=${() => !this.error && (this.text = undefined)}></textarea>
      ${this.error ? html`<div class="msg">${this.error}</div>` : nothing}`;
  }

  private onInput(e: Event) {
    this.text = (e.target as HTMLTextAreaElement).value;
    try {
      const v = JSON.parse(this.text);
      this.error = undefined;
      this.dispatchEvent(new CustomEvent("value-change", { detail: v }));
    } catch (err) {
      this.error = `Not valid JSON: ${(err as Error).message}`;
    }
  }
}

interface Frame {
  headers: string[];
  data: unknown[][];
}

/** A small spreadsheet: edit cells, add rows and columns; each edit sends the whole frame. */
export class DataframeEditor extends LitElement {
  static override properties = { value: { attribute: false }, headers: { attribute: false } };
  static override styles = [
    fieldCss,
    css`
      .wrap {
        overflow: auto;
        max-height: 220px;
        border: 1px solid var(--daggr-border);
        border-radius: var(--daggr-radius-sm);
      }
      table {
        border-collapse: collapse;
        font: 12px var(--daggr-font);
        min-width: 100%;
      }
      th,
      td {
        border-bottom: 1px solid var(--daggr-border);
        border-right: 1px solid var(--daggr-border);
        padding: 0;
      }
      th {
        background: var(--daggr-surface-2);
        position: sticky;
        top: 0;
      }
      td input,
      th input {
        border: 0;
        border-radius: 0;
        background: transparent;
        font: 12px var(--daggr-font);
        min-width: 60px;
        padding: 4px 6px;
      }
      th input {
        font-weight: 600;
      }
      .bar {
        display: flex;
        gap: 6px;
        margin-top: 4px;
      }
      button {
        font: 11px var(--daggr-font);
        color: var(--daggr-muted);
        background: var(--daggr-surface-2);
        border: 1px solid var(--daggr-border);
        border-radius: 6px;
        padding: 2px 8px;
        cursor: pointer;
      }
      button:hover {
        color: var(--daggr-text);
      }
    `,
  ];
  declare value: unknown;
  declare headers: string[];

  private frame(): Frame {
    const v = this.value as Partial<Frame> | null;
    const headers = v?.headers?.length ? [...v.headers] : this.headers?.length ? [...this.headers] : ["A"];
    const data = Array.isArray(v?.data) ? v!.data.map((r) => [...r]) : [];
    return { headers, data };
  }

  private emit(f: Frame) {
    this.value = f;
    this.dispatchEvent(new CustomEvent("value-change", { detail: f }));
  }

  override render() {
    const f = this.frame();
    const cell = (r: number, c: number, v: unknown) => html`<input .value=${editing(v === null || v === undefined ? "" : String(v))}
      @change=${(e: Event) => {
        const raw = (e.target as HTMLInputElement).value;
        const n = Number(raw);
        f.data[r]![c] = raw.trim() !== "" && Number.isFinite(n) ? n : raw;
        this.emit(f);
      }} />`;
    return html`<div class="wrap"><table>
        <thead><tr>${f.headers.map((h, c) => html`<th><input .value=${editing(h)} @change=${(e: Event) => {
          f.headers[c] = (e.target as HTMLInputElement).value;
          this.emit(f);
        }} /></th>`)}</tr></thead>
        <tbody>${f.data.map((row, r) => html`<tr>${f.headers.map((_, c) => html`<td>${cell(r, c, row[c])}</td>`)}</tr>`)}</tbody>
      </table></div>
      <div class="bar">
        <button @click=${() => this.emit({ headers: f.headers, data: [...f.data, f.headers.map(() => "")] })}>+ row</button>
        <button @click=${() => this.emit({ headers: [...f.headers, String.fromCharCode(65 + (f.headers.length % 26))], data: f.data.map((r) => [...r, ""]) })}>+ column</button>
        ${f.data.length ? html`<button @click=${() => this.emit({ headers: f.headers, data: f.data.slice(0, -1) })}>− row</button>` : nothing}
      </div>`;
  }
}

define("daggr-json-editor", JsonEditor);
define("daggr-dataframe-editor", DataframeEditor);

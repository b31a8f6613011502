import { LitElement, css, html, nothing, type TemplateResult } from "lit";
import { define } from "../define.js";

const OPEN_DEPTH = 2;
const MAX_ITEMS = 200;

/**
 * A collapsible JSON tree: objects and arrays open to depth 2, each toggled by a click;
 * long arrays show their first 200 items. Also the fallback view for values of
 * unknown components, so a value is never a blank box.
 */
export class JsonView extends LitElement {
  static override properties = { value: { attribute: false } };
  declare value: unknown;
  private readonly toggled = new Set<string>();

  override render() {
    return html`<div class="tree">${this.node(this.value, "$", 0)}</div>`;
  }

  private node(v: unknown, path: string, depth: number): TemplateResult {
    if (v === null || typeof v !== "object") return this.leaf(v);
    const entries: Array<[string, unknown]> = Array.isArray(v) ? v.map((x, i) => [String(i), x]) : Object.entries(v);
    const [o, c] = Array.isArray(v) ? ["[", "]"] : ["{", "}"];
    if (!entries.length) return html`<span class="p">${o}${c}</span>`;
    const open = (depth < OPEN_DEPTH) !== this.toggled.has(path);
    const toggle = () => {
      if (this.toggled.has(path)) this.toggled.delete(path);
      else this.toggled.add(path);
      this.requestUpdate();
    };
    const summary = Array.isArray(v) ? `${entries.length} items` : `${entries.length} keys`;
    if (!open) {
      return html`<button class="t" @click=${toggle} aria-expanded="false">▸</button><span class="p">${o}</span><button class="sum" @click=${toggle}>${summary}</button><span class="p">${c}</span>`;
    }
    const shown = entries.slice(0, MAX_ITEMS);
    return html`<button class="t" @click=${toggle} aria-expanded="true">▾</button><span class="p">${o}</span>
      <div class="kids">
        ${shown.map(([k, x]) => html`<div class="row">${Array.isArray(v) ? nothing : html`<span class="k">"${k}"</span><span class="p">: </span>`}${this.node(x, `${path}.${k}`, depth + 1)}</div>`)}
        ${entries.length > MAX_ITEMS ? html`<div class="more">… ${entries.length - MAX_ITEMS} more</div>` : nothing}
      </div><span class="p">${c}</span>`;
  }

  private leaf(v: unknown): TemplateResult {
    if (typeof v === "string") return html`<span class="s">"${v.length > 2000 ? `${v.slice(0, 2000)}…` : v}"</span>`;
    if (typeof v === "number") return html`<span class="n">${v}</span>`;
    if (typeof v === "boolean") return html`<span class="b">${v}</span>`;
    return html`<span class="z">${v === undefined ? "undefined" : "null"}</span>`;
  }

  static override styles = css`
    :host {
      display: block;
      font: 12px/1.5 var(--daggr-mono);
      color: var(--daggr-text);
      overflow-wrap: anywhere;
    }
    .kids {
      padding-left: 14px;
      border-left: 1px dashed var(--daggr-border);
      margin-left: 4px;
    }
    button {
      font: inherit;
      color: var(--daggr-muted);
      background: none;
      border: 0;
      padding: 0 2px;
      cursor: pointer;
    }
    .sum {
      font-style: italic;
    }
    .k {
      color: var(--daggr-badge-fn);
    }
    .s {
      color: var(--daggr-success);
    }
    .n {
      color: var(--daggr-badge-model);
    }
    .b,
    .z {
      color: var(--daggr-badge-choice);
    }
    .p,
    .more {
      color: var(--daggr-muted);
    }
  `;
}

define("daggr-json-view", JsonView);

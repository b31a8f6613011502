import { html, nothing } from "lit";
import { ifDefined } from "lit/directives/if-defined.js";
import { isEmpty, type OutputView, prop } from "./types.js";

const empty = (what = "No output yet") => html`<div class="text-empty">${what}</div>`;

/** Textbox, Number, Slider, Checkbox, Dropdown, Radio, CheckboxGroup, ColorPicker shown read-only. */
export const textOutput: OutputView = (c, value) => {
  if (isEmpty(value)) return empty();
  if (c.type === "ColorPicker" && typeof value === "string") return html`<div class="text-out"><span class="swatch" style="background:${value}"></span>${value}</div>`;
  if (c.type === "Checkbox") return html`<div class="text-out">${value ? "✓ true" : "✗ false"}</div>`;
  const s = typeof value === "string" ? value : Array.isArray(value) ? value.join(", ") : JSON.stringify(value);
  return html`<div class="text-out ${c.type === "Textbox" && prop(c, "lines", 1) > 1 ? "multi" : ""}">${s}</div>`;
};

export const codeOutput: OutputView = (c, value) => {
  if (isEmpty(value)) return empty();
  const lang = prop(c, "language", "");
  return html`<div class="code-wrap">${lang ? html`<span class="lang">${lang}</span>` : nothing}<pre class="code-out">${String(value)}</pre></div>`;
};

export const jsonOutput: OutputView = (_c, value) =>
  value === undefined ? empty() : html`<div class="scroll-box"><daggr-json-view .value=${value}></daggr-json-view></div>`;

export const markdownOutput: OutputView = (_c, value) =>
  isEmpty(value) ? empty() : html`<div class="scroll-box"><daggr-safe-html markdown .source=${String(value)}></daggr-safe-html></div>`;

export const htmlOutput: OutputView = (_c, value) =>
  isEmpty(value) ? empty() : html`<div class="scroll-box"><daggr-safe-html .source=${String(value)}></daggr-safe-html></div>`;

interface Confidence {
  label: string;
  confidence: number;
}

/** Label: the top label, then a bar per class sorted by confidence. */
export const labelOutput: OutputView = (c, value) => {
  if (isEmpty(value)) return empty();
  if (typeof value === "string" || typeof value === "number") return html`<div class="label-top">${value}</div>`;
  const v = value as { label?: string; confidences?: Confidence[] };
  const top = prop(c, "num_top_classes", 5);
  const conf = [...(v.confidences ?? [])].sort((a, b) => b.confidence - a.confidence).slice(0, top);
  return html`<div class="label">
    ${v.label !== undefined ? html`<div class="label-top">${v.label}</div>` : nothing}
    ${conf.map((x) => html`<div class="conf"><span class="conf-name">${x.label}</span>
      <span class="conf-bar"><span style="width:${Math.round(x.confidence * 100)}%"></span></span>
      <span class="conf-pct">${Math.round(x.confidence * 100)}%</span></div>`)}
  </div>`;
};

const PALETTE = ["#f97316", "#2563eb", "#059669", "#db2777", "#7c3aed", "#0891b2", "#ca8a04", "#dc2626"];

function colourFor(label: string, map: Map<string, string>): string {
  if (!map.has(label)) map.set(label, PALETTE[map.size % PALETTE.length]!);
  return map.get(label)!;
}

/** HighlightedText: `[text, label]` pairs (or `{ text, entities }`) with a colour per label. */
export const highlightedOutput: OutputView = (c, value) => {
  if (isEmpty(value)) return empty();
  let pairs: Array<[string, string | number | null]> = [];
  if (Array.isArray(value)) pairs = value as typeof pairs;
  else if (value && typeof value === "object" && "text" in value) {
    const v = value as { text: string; entities?: Array<{ start: number; end: number; entity?: string; label?: string }> };
    let at = 0;
    for (const e of [...(v.entities ?? [])].sort((a, b) => a.start - b.start)) {
      if (e.start > at) pairs.push([v.text.slice(at, e.start), null]);
      pairs.push([v.text.slice(e.start, e.end), e.entity ?? e.label ?? ""]);
      at = e.end;
    }
    if (at < v.text.length) pairs.push([v.text.slice(at), null]);
  }
  const fixed = (c.props.color_map as Record<string, string> | undefined) ?? {};
  const colours = new Map<string, string>(Object.entries(fixed));
  return html`<div class="hl">${pairs.map(([t, l]) =>
    l === null || l === undefined || l === ""
      ? html`<span>${t}</span>`
      : html`<mark style="--hl:${colourFor(String(l), colours)}">${t}<span class="hl-tag">${l}</span></mark>`,
  )}</div>`;
};

type Message = { role?: string; content?: unknown } | [unknown, unknown];

/** Chatbot: `{ role, content }` messages (or Gradio's `[user, bot]` tuples) as bubbles. */
export const chatbotOutput: OutputView = (_c, value, ctx) => {
  if (!Array.isArray(value) || !value.length) return empty("No messages yet");
  const msgs: Array<{ role: string; content: unknown }> = [];
  for (const m of value as Message[]) {
    if (Array.isArray(m)) {
      if (m[0] !== null && m[0] !== undefined) msgs.push({ role: "user", content: m[0] });
      if (m[1] !== null && m[1] !== undefined) msgs.push({ role: "assistant", content: m[1] });
    } else msgs.push({ role: m.role ?? "assistant", content: m.content });
  }
  return html`<div class="chat scroll-box">${msgs.map((m) => {
    const url = typeof m.content === "object" ? ctx.fileUrl(m.content) : undefined;
    const body = url
      ? html`<img src=${url} alt="" crossorigin=${ifDefined(ctx.cors(url))} />`
      : html`<daggr-safe-html markdown .source=${typeof m.content === "string" ? m.content : JSON.stringify(m.content)}></daggr-safe-html>`;
    return html`<div class="bubble ${m.role === "user" ? "user" : m.role === "system" ? "system" : "bot"}">${body}</div>`;
  })}</div>`;
};

/** Dataframe: `{ headers, data }` (or a bare 2-D array) as a scrollable table. */
export const dataframeOutput: OutputView = (_c, value) => {
  const v = value as { headers?: string[]; data?: unknown[][] } | unknown[][] | null;
  const data = Array.isArray(v) ? v : v?.data;
  if (!Array.isArray(data) || !data.length) return empty("No rows yet");
  const headers = Array.isArray(v) ? [] : (v?.headers ?? []);
  const cell = (x: unknown) => (x === null || x === undefined ? "" : typeof x === "object" ? JSON.stringify(x) : String(x));
  return html`<div class="table scroll-box"><table>
    ${headers.length ? html`<thead><tr>${headers.map((h) => html`<th>${h}</th>`)}</tr></thead>` : nothing}
    <tbody>${data.slice(0, 500).map((row) => html`<tr>${(Array.isArray(row) ? row : [row]).map((x) => html`<td>${cell(x)}</td>`)}</tr>`)}</tbody>
  </table>${data.length > 500 ? html`<div class="more">… ${data.length - 500} more rows</div>` : nothing}</div>`;
};

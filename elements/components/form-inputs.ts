import { html, nothing } from "lit";
import { live } from "lit/directives/live.js";
import { editing } from "./editing.js";
import { choices, type InputView, prop } from "./types.js";

const str = (v: unknown) => (v === undefined || v === null ? "" : typeof v === "string" ? v : JSON.stringify(v));
const num = (v: unknown, d = 0) => (typeof v === "number" && Number.isFinite(v) ? v : Number(v) || d);

/** Textbox: one line, or a textarea when `lines` > 1. */
export const textboxInput: InputView = ({ component: c, value, onInput, onChange }) => {
  const lines = prop(c, "lines", 1);
  const ph = prop(c, "placeholder", "");
  const type = prop<string>(c, "type", "text");
  if (lines > 1 || prop(c, "max_lines", 1) > 1) {
    return html`<textarea class="field" rows=${Math.min(lines, 12)} placeholder=${ph} .value=${editing(str(value))}
      @input=${(e: Event) => onInput((e.target as HTMLTextAreaElement).value)}
      @change=${(e: Event) => onChange((e.target as HTMLTextAreaElement).value)}></textarea>`;
  }
  return html`<input class="field" type=${type === "password" || type === "email" ? type : "text"} placeholder=${ph} .value=${editing(str(value))}
    @input=${(e: Event) => onInput((e.target as HTMLInputElement).value)}
    @change=${(e: Event) => onChange((e.target as HTMLInputElement).value)} />`;
};

/** Number: typing is a draft (no run on "2" of "24"); Enter or leaving the field commits it. */
export const numberInput: InputView = ({ component: c, value, onDraft, onChange }) => {
  const read = (e: Event) => {
    const v = (e.target as HTMLInputElement).valueAsNumber;
    return Number.isFinite(v) ? v : null;
  };
  return html`<input class="field" type="number" .value=${editing(value === null || value === undefined ? "" : String(value))}
    min=${prop<number | string>(c, "minimum", "")} max=${prop<number | string>(c, "maximum", "")} step=${prop<number | string>(c, "step", "any")}
    @input=${(e: Event) => onDraft(read(e))} @change=${(e: Event) => onChange(read(e))} />`;
};

/** Slider: dragging sends as it goes (debounced); its number box drafts like a Number. */
export const sliderInput: InputView = ({ component: c, value, onInput, onDraft, onChange }) => {
  const min = prop(c, "minimum", 0);
  const max = prop(c, "maximum", 100);
  const step = prop(c, "step", 1);
  const v = num(value, min);
  const pct = max > min ? ((v - min) / (max - min)) * 100 : 0;
  const read = (e: Event) => (e.target as HTMLInputElement).valueAsNumber;
  return html`<div class="slider">
    <input type="range" min=${min} max=${max} step=${step} .value=${editing(String(v))} style="--pct:${pct}%"
      @input=${(e: Event) => onInput(read(e))} @change=${(e: Event) => onChange(read(e))} />
    <input class="field slider-num" type="number" min=${min} max=${max} step=${step} .value=${editing(String(v))}
      @input=${(e: Event) => Number.isFinite(read(e)) && onDraft(read(e))} @change=${(e: Event) => Number.isFinite(read(e)) && onChange(read(e))} />
  </div>`;
};

export const checkboxInput: InputView = ({ component: c, value, onChange }) =>
  html`<label class="check">
    <input type="checkbox" .checked=${live(!!value)} @change=${(e: Event) => onChange((e.target as HTMLInputElement).checked)} />
    <span>${prop(c, "label", "") || "Enabled"}</span>
  </label>`;

export const dropdownInput: InputView = ({ component: c, value, onChange }) => {
  const opts = choices(c);
  if (prop(c, "multiselect", false)) return checkboxGroupInput({ component: c, value, onChange, onInput: onChange, onDraft: onChange, ctx: undefined as never });
  const at = opts.findIndex((o) => o.value === value);
  return html`<select class="field" @change=${(e: Event) => onChange(opts[Number((e.target as HTMLSelectElement).value)]?.value ?? null)}>
    ${at < 0 ? html`<option value="-1" selected disabled>${value === null || value === undefined ? "Choose…" : str(value)}</option>` : nothing}
    ${opts.map((o, i) => html`<option value=${i} ?selected=${i === at}>${o.label}</option>`)}
  </select>`;
};

export const radioInput: InputView = ({ component: c, value, onChange }) =>
  html`<div class="pills" role="radiogroup">
    ${choices(c).map(
      (o) => html`<button type="button" role="radio" class="pill ${o.value === value ? "on" : ""}" aria-checked=${o.value === value}
        @click=${() => onChange(o.value)}>${o.label}</button>`,
    )}
  </div>`;

export const checkboxGroupInput: InputView = ({ component: c, value, onChange }) => {
  const chosen = Array.isArray(value) ? value : [];
  const toggle = (v: unknown) => onChange(chosen.includes(v) ? chosen.filter((x) => x !== v) : [...chosen, v]);
  return html`<div class="pills" role="group">
    ${choices(c).map(
      (o) => html`<button type="button" role="checkbox" class="pill ${chosen.includes(o.value) ? "on" : ""}" aria-checked=${chosen.includes(o.value)}
        @click=${() => toggle(o.value)}>${chosen.includes(o.value) ? "✓ " : ""}${o.label}</button>`,
    )}
  </div>`;
};

export const colorInput: InputView = ({ value, onInput, onChange }) => {
  const v = typeof value === "string" && /^#[0-9a-f]{6}$/i.test(value) ? value : "#000000";
  return html`<div class="color">
    <input type="color" .value=${editing(v)} @input=${(e: Event) => onInput((e.target as HTMLInputElement).value)}
      @change=${(e: Event) => onChange((e.target as HTMLInputElement).value)} />
    <input class="field mono" .value=${editing(v)} maxlength="7" spellcheck="false"
      @change=${(e: Event) => {
        const t = (e.target as HTMLInputElement).value.trim();
        if (/^#[0-9a-f]{6}$/i.test(t)) onChange(t.toLowerCase());
      }} />
  </div>`;
};

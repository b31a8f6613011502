import { css, html, nothing, type TemplateResult } from "lit";
import { VARIANT_PORT } from "../controllers/canvas-store.js";
import type { NodeWire } from "../wire.js";
import { kindBadge } from "./badges.js";
import { icon } from "./icons.js";

/** A variant as the choice node's description lists it (`config.variants`). */
interface VariantWire {
  id: string;
  name?: string;
  kind?: string;
}

export interface ChoiceArgs {
  node: NodeWire;
  /** The selected variant's id. */
  selected: string;
  /** Whether a variant's group is unfolded (by default: the selected one only). */
  isOpen(variant: string): boolean;
  onToggle(variant: string): void;
  /** Renders one editable input of the node, labelled `name`. */
  field(port: string, name: string): TemplateResult;
}

/**
 * A choice node's inputs as an accordion: the variant picker (the `variant` input, a
 * Radio) on top, then one group per variant holding that variant's own inputs
 * (`<variant>.<port>`, labelled by their port name) and what it reads from upstream.
 * The selected variant's group is unfolded and marked; the others fold, still editable.
 */
export function choiceInputs(a: ChoiceArgs): TemplateResult {
  const variants = variantsOf(a.node);
  return html`<div class="section inputs choice">
    ${a.field(VARIANT_PORT, "Variant")}
    <div class="variants">${variants.map((v) => group(a, v))}</div>
  </div>`;
}

function group(a: ChoiceArgs, v: VariantWire): TemplateResult {
  const prefix = `${v.id}.`;
  const own = a.node.inputs.filter((i) => i.port.startsWith(prefix));
  const fields = own.filter((i) => i.source === "component" && i.component && i.component.props.visible !== false);
  const wired = own.filter((i) => i.from || i.firstOf);
  const selected = v.id === a.selected;
  const open = a.isOpen(v.id);
  const [badge, badgeCls] = kindBadge(v.kind ?? "fn");
  const count = fields.length ? `${fields.length} input${fields.length === 1 ? "" : "s"}` : "";
  return html`<section class="variant ${selected ? "selected" : ""} ${open ? "open" : ""}" data-variant=${v.id}>
    <button class="variant-head" aria-expanded=${open} @click=${() => a.onToggle(v.id)}>
      <span class="chev">${icon(open ? "down" : "right")}</span>
      <span class="badge ${badgeCls}">${badge}</span>
      <span class="vname">${v.name ?? v.id}</span>
      ${selected ? html`<span class="in-use">selected</span>` : nothing}
      ${!open && count ? html`<span class="vcount">${count}</span>` : nothing}
    </button>
    ${open
      ? html`<div class="variant-body">
          ${wired.length
            ? html`<div class="reads">${wired.map((i) => html`<span><code>${i.port.slice(prefix.length)}</code> ← ${i.from ? `${i.from.node}.${i.from.port}` : "first of…"}</span>`)}</div>`
            : nothing}
          ${fields.map((i) => a.field(i.port, i.port.slice(prefix.length)))}
          ${!fields.length && !wired.length ? html`<div class="none">No inputs of its own</div>` : nothing}
        </div>`
      : nothing}
  </section>`;
}

function variantsOf(n: NodeWire): VariantWire[] {
  const listed = n.config.variants;
  if (Array.isArray(listed) && listed.length) return listed as VariantWire[];
  // Without descriptions: the variant ids, from the picker's choices.
  const picker = n.inputs.find((i) => i.port === VARIANT_PORT)?.component?.props.choices;
  return Array.isArray(picker) ? picker.map((c) => ({ id: String(Array.isArray(c) ? c[1] : c) })) : [];
}

export const choiceStyles = css`
  .variants {
    display: flex;
    flex-direction: column;
    gap: 6px;
  }
  .variant {
    border: 1px solid var(--daggr-border);
    border-radius: var(--daggr-radius-sm);
    background: var(--daggr-surface);
    transition: border-color 0.15s, opacity 0.15s;
  }
  .variant:not(.selected) {
    opacity: 0.78;
  }
  .variant:not(.selected):hover,
  .variant:not(.selected).open {
    opacity: 1;
  }
  .variant.selected {
    border-color: color-mix(in srgb, var(--daggr-badge-choice) 45%, var(--daggr-border));
    box-shadow: inset 3px 0 0 var(--daggr-badge-choice);
  }
  .variant-head {
    display: flex;
    align-items: center;
    gap: 7px;
    width: 100%;
    padding: 6px 8px 6px 6px;
    font-size: 12.5px;
    text-align: left;
    border-radius: var(--daggr-radius-sm);
  }
  .variant-head:hover {
    background: var(--daggr-surface-2);
  }
  .variant .chev svg.i {
    width: 14px;
    height: 14px;
    display: block;
    color: var(--daggr-muted);
  }
  .variant .badge {
    font-size: 8.5px;
    padding: 2px 5px;
  }
  .vname {
    font-weight: 650;
    min-width: 0;
    overflow: hidden;
    text-overflow: ellipsis;
    white-space: nowrap;
  }
  .in-use {
    font-size: 10px;
    font-weight: 700;
    letter-spacing: 0.04em;
    text-transform: uppercase;
    color: var(--daggr-badge-choice);
    background: color-mix(in srgb, var(--daggr-badge-choice) 12%, transparent);
    padding: 1px 6px;
    border-radius: 999px;
  }
  .vcount {
    margin-left: auto;
    font-size: 11px;
    color: var(--daggr-muted);
  }
  .variant-body {
    display: flex;
    flex-direction: column;
    gap: 10px;
    padding: 4px 10px 10px 27px;
  }
  .reads {
    display: flex;
    flex-wrap: wrap;
    gap: 4px 10px;
    font-size: 11px;
    color: var(--daggr-muted);
  }
  .reads code {
    font: 11px var(--daggr-mono);
    color: var(--daggr-text);
  }
  .none {
    font-size: 12px;
    color: var(--daggr-muted);
    font-style: italic;
  }
`;

import { LitElement, html, nothing, type TemplateResult } from "lit";
import { componentStyles, renderInput, renderOutput } from "../components/registry.js";
import { define } from "../define.js";
import type { NodeStateWire, NodeWire, RunModeWire } from "../wire.js";
import { badgeOf } from "./badges.js";
import type { CardContext } from "./card-context.js";
import type { CanvasStore } from "../controllers/canvas-store.js";
import { choiceInputs, choiceStyles } from "./choice-inputs.js";
import { cardStyles } from "./node-card-styles.js";
import { formatMs } from "./elapsed.js";
import { itemList, itemListStyles } from "./item-list.js";
import { CARD_WIDTH, outputPorts, PORT_ROW, PORTS_PAD, portRows, WHEN_PORT, wiredInputs } from "../layout/geometry.js";
import { icon, type IconName } from "./icons.js";
import { controls } from "./theme.js";
import { staleReason } from "../controllers/stale-reason.js";

export { badgeOf } from "./badges.js";

const RUN_BUTTONS: Array<[RunModeWire, IconName, string]> = [
  ["step", "play", "Run this step (on the current upstream results)"],
  ["to-here", "toHere", "Run to here (stale upstream nodes first)"],
  ["all", "all", "Run all stale nodes of this workflow"],
];

/** A draft keeps what the user typed until the server echoes it (or it is abandoned). */
interface Draft {
  value: unknown;
  at: number;
}

const DRAFT_TTL_MS = 4000;
const same = (a: unknown, b: unknown) => a === b || JSON.stringify(a) === JSON.stringify(b);

/** Ports the user edits on this card: component inputs, or an InputNode's own ports. */
export function editablePorts(n: NodeWire): Array<{ port: string; component: NonNullable<NodeWire["outputs"][number]["component"]> }> {
  if (n.kind === "input") return n.outputs.flatMap((o) => (o.component ? [{ port: o.port, component: o.component }] : []));
  return n.inputs.flatMap((i) => (i.source === "component" && i.component ? [{ port: i.port, component: i.component }] : []));
}

/**
 * One node as a card: badge, name, run controls, ports, editable inputs, outputs, errors
 * and history. A thin view: everything it shows comes from the canvas store, and the
 * canvas calls `requestUpdate()` on this card only when an event concerns its node.
 */
export class NodeCard extends LitElement {
  static override properties = { nodeId: { attribute: "node-id", reflect: true }, ctx: { attribute: false } };
  static override styles = [controls, componentStyles, cardStyles, itemListStyles, choiceStyles];
  declare nodeId: string;
  declare ctx: CardContext;
  /** How many times this card has rendered (the canvas tests check updates stay local). */
  renders = 0;
  private readonly drafts = new Map<string, Draft>();
  /** A MAP node's item list: folded or not, and which items show their outputs. */
  private itemsOpen = true;
  private readonly itemsExpanded = new Set<number>();
  /** The item of a MAP node whose editor is open. */
  private itemEditing: number | undefined = undefined;
  /** Choice variants the user folded or unfolded, while the same variant stays selected. */
  private readonly variantFolds = new Map<string, boolean>();
  private foldsFor: string | undefined;
  /** The provenance panel of the selected result: open or not. */
  private provenanceOpen = false;

  override connectedCallback(): void {
    super.connectedCallback();
    // Fields keep the user's text while focused (see `editing()`); show the current value after.
    this.addEventListener("focusout", this.onFocusOut);
    this.ctx?.register(this.nodeId, this);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.ctx?.unregister(this.nodeId, this);
  }

  override updated(): void {
    this.renders++;
  }

  override render() {
    const n = this.ctx?.store.node(this.nodeId);
    if (!n) return nothing;
    const st = this.ctx.store.state(n.id);
    const busy = st.activity === "running" || st.activity === "queued";
    const waiting = !busy && this.ctx.store.waiting(n.id);
    const [badge, badgeCls] = badgeOf(n, this.ctx.store);
    const cls = ["card", st.freshness, st.activity, waiting ? "waiting" : ""].join(" ");
    const mapped = this.ctx.store.isMapped(n.id);
    const skipped = st.activity === "skipped" && !busy;
    return html`<div class=${cls} style="width:${CARD_WIDTH}px" @keydown=${this.onKey}>
      ${this.timing(st, busy)}
      <header>
        <span class="badge ${badgeCls}" title=${n.kind}>${badge}</span>
        ${n.link
          ? html`<a class="name" href=${n.link} target="_blank" rel="noopener" title="${n.name} — open ${n.link}">${n.name}</a>`
          : html`<span class="name" title=${n.name}>${n.name}</span>`}
        <span class="spacer"></span>
        ${this.provenanceToggle()}
        ${n.kind === "input" ? nothing : busy || waiting ? this.stopButton() : this.runButtons()}
      </header>
      ${this.originLine(n)}
      ${busy ? this.progressBar(st) : nothing}
      ${this.ports(n)}
      <div class="body">
        ${skipped ? this.skipNote() : nothing}
        ${st.freshness === "stale" && !busy && !waiting && !skipped ? this.staleNote(n) : nothing}
        ${busy || skipped ? nothing : this.runHint(n, st)}
        ${busy ? this.statusLine(st) : nothing}
        ${this.inputs(n)}
        ${mapped ? this.items(n, busy) : skipped ? nothing : this.outputs(n, st, busy)}
        ${this.problems(st)}
        ${this.provenanceOpen ? this.provenance(n) : nothing}
      </div>
      ${this.history(st)}
    </div>`;
  }

  private timing(st: NodeStateWire, busy: boolean): TemplateResult | typeof nothing {
    if (st.activity === "running" && st.startedAt) {
      return html`<div class="timing live"><daggr-elapsed .start=${st.startedAt}></daggr-elapsed>${st.lastMs ? html`<span class="of"> / ${formatMs(st.lastMs)}</span>` : nothing}</div>`;
    }
    if (busy) return html`<div class="timing live">queued</div>`;
    if (st.activity === "failed") return html`<div class="timing error">Error${st.lastMs ? ` · ${formatMs(st.lastMs)}` : ""}</div>`;
    if (st.activity === "cancelled") return html`<div class="timing">stopped</div>`;
    if (st.activity === "skipped") return html`<div class="timing">skipped</div>`;
    return st.lastMs !== undefined && st.selectedId ? html`<div class="timing">${formatMs(st.lastMs)}</div>` : nothing;
  }

  private provenanceToggle(): TemplateResult | typeof nothing {
    if (!this.ctx.store.results.has(this.nodeId)) return nothing;
    const title = this.provenanceOpen ? "Hide where this result came from" : "Where this result came from";
    return html`<button class="icon-btn prov-toggle ${this.provenanceOpen ? "on" : ""}" title=${title} aria-label=${title}
      aria-expanded=${this.provenanceOpen ? "true" : "false"} @click=${() => {
        this.provenanceOpen = !this.provenanceOpen;
        this.requestUpdate();
      }}>${icon("info")}</button>`;
  }

  /**
   * Which copy of a `runLocally` Space made the selected result ("local", or "remote (local
   * failed: why)"), and whether an older revision of its Space or model made it.
   */
  private originLine(n: NodeWire): TemplateResult | typeof nothing {
    const o = this.ctx.store.results.get(n.id)?.origin;
    if (!o || (!o.via && !o.current)) return nothing;
    const via = o.via === "local" ? "local" : o.via === "remote" ? `remote${o.fallback ? ` (local failed: ${o.fallback})` : ""}` : undefined;
    return html`<div class="origin-line">
      ${via ? html`<span class="origin-via ${o.via}" title=${via}>${via}</span>` : nothing}
      ${o.current
        ? html`<span class="origin-older" title="Made by ${o.remote} at ${o.revision}; it is now at ${o.current}">made by an older upstream (${o.revision?.slice(0, 8)}, now ${o.current.slice(0, 8)})</span>`
        : nothing}
    </div>`;
  }

  /**
   * The selected result's provenance: status, timing, who served it (the node itself or
   * a backup), the inputs it was made from, and the upstream results it consumed, each a
   * link that brings that card into view and selects that result.
   */
  private provenance(n: NodeWire): TemplateResult | typeof nothing {
    const store = this.ctx.store;
    const r = store.results.get(n.id);
    if (!r) return nothing;
    const inputs = Object.entries(r.inputs);
    const upstream = Object.entries(r.upstream);
    const sourceOf = (port: string): string | undefined => {
      if (port === WHEN_PORT) return n.guard?.from.node;
      const i = n.inputs.find((x) => x.port === port);
      if (i?.from) return i.from.node;
      // firstOf: the candidate whose selected result it is, else the first.
      return i?.firstOf?.find((f) => store.results.get(f.node)?.id === r.upstream[port])?.node ?? i?.firstOf?.[0]?.node;
    };
    return html`<section class="provenance" aria-label="Provenance">
      <div class="prov-grid">
        <span class="k">Status</span><span class="v prov-status ${r.status}">${r.status}</span>
        <span class="k">Took</span><span class="v prov-ms">${formatMs(r.ms)} · ${new Date(r.startedAt).toLocaleTimeString()}</span>
        ${r.servedBy ? html`<span class="k">Served by</span><span class="v prov-served">backup <b>${store.node(r.servedBy)?.name ?? r.servedBy}</b></span>` : nothing}
        ${r.origin ? html`<span class="k">Upstream</span><span class="v prov-origin">${r.origin.remote}${r.origin.revision ? html` @ <code>${r.origin.revision.slice(0, 8)}</code>` : nothing}${r.origin.via ? ` · ${r.origin.via}` : nothing}</span>` : nothing}
        ${r.edited ? html`<span class="k">Edited</span><span class="v prov-edited">item ${r.edited.index + 1} of <b>${r.edited.port}</b>, by hand</span>` : nothing}
      </div>
      ${inputs.length
        ? html`<div class="prov-head">Inputs</div>
            <ul class="prov-inputs">${inputs.map(([port, v]) => html`<li data-port=${port}><span class="k">${port}</span><span class="v">${shortValue(v)}</span></li>`)}</ul>`
        : nothing}
      ${upstream.length
        ? html`<div class="prov-head">Upstream results</div>
            <ul class="prov-upstream">${upstream.map(([port, rid]) => {
              const from = sourceOf(port);
              const name = from ? (store.node(from)?.name ?? from) : "?";
              const selected = from !== undefined && store.results.get(from)?.id === rid;
              return html`<li><button class="prov-up" data-port=${port} data-node=${from ?? ""} data-result=${rid} ?disabled=${!from}
                title="Show ${name} and select this result" @click=${() => from && this.ctx.jump(from, rid)}>
                <span class="k">${port}</span> ← <b>${name}</b> <span class="which">${selected ? "selected" : "an earlier result"}</span></button></li>`;
            })}</ul>`
        : nothing}
    </section>`;
  }

  private runButtons(): TemplateResult {
    return html`<div class="run" role="group" aria-label="Run">
      ${RUN_BUTTONS.map(
        ([mode, i, title]) => html`<button class="icon-btn run-${mode}" title=${title} aria-label=${title} data-mode=${mode}
          @click=${() => this.ctx.run(this.nodeId, mode)}
          @pointerenter=${() => this.ctx.preview(this.nodeId, mode)} @pointerleave=${() => this.ctx.preview(undefined)}
          @focus=${() => this.ctx.preview(this.nodeId, mode)} @blur=${() => this.ctx.preview(undefined)}>${icon(i)}</button>`,
      )}
    </div>`;
  }

  private stopButton(): TemplateResult {
    return html`<button class="stop" title="Stop" aria-label="Stop" @click=${() => this.ctx.stop(this.nodeId)}>${icon("stop")}<span>Stop</span></button>`;
  }

  private progressBar(st: NodeStateWire): TemplateResult {
    const f = st.progress?.fraction;
    return html`<div class="progress ${f === undefined ? "indeterminate" : ""}" role="progressbar"
      aria-valuemin="0" aria-valuemax="100" aria-valuenow=${f === undefined ? nothing : Math.round(f * 100)}>
      <div class="bar" style=${f === undefined ? "" : `width:${Math.max(2, Math.min(100, f * 100))}%`}></div>
    </div>`;
  }

  private statusLine(st: NodeStateWire): TemplateResult | typeof nothing {
    const p = st.progress;
    const parts: string[] = [];
    if (st.activity === "queued") parts.push("Waiting for a free slot…");
    if (p?.queuePosition !== undefined) {
      parts.push(p.queuePosition === 0 ? "Next in queue" : `In queue: ${p.queuePosition + 1}${p.queueSize ? ` of ${p.queueSize}` : ""}`);
    }
    if (p?.eta !== undefined && p.eta > 0) parts.push(`~${Math.ceil(p.eta)} s left`);
    if (p?.fraction !== undefined) parts.push(`${Math.round(p.fraction * 100)}%`);
    if (p?.text && !parts.some((x) => x.toLowerCase() === p.text!.toLowerCase())) parts.push(p.text);
    return parts.length ? html`<div class="status-line">${parts.join(" · ")}</div>` : nothing;
  }

  private ports(n: NodeWire): TemplateResult | typeof nothing {
    const outEdges = this.ctx.store.edgesOutOf.get(n.id);
    const rows = portRows(n, outEdges);
    if (!rows) return nothing;
    const ins = wiredInputs(n);
    const outs = outputPorts(n, outEdges);
    const top = (i: number) => `top:${PORTS_PAD + i * PORT_ROW}px`;
    return html`<div class="ports" style="height:${rows * PORT_ROW + 2 * PORTS_PAD}px">
      ${ins.map((p, i) => this.inPort(n, p, top(i)))}
      ${outs.map((p, i) => html`<div class="port out" style=${top(i)} data-port=${p}><span class="pname">${p}</span><span class="dot"></span></div>`)}
    </div>`;
  }

  /** An input port's dot and name: a branch condition reads "if <case>", a variant's port "<variant> › <port>". */
  private inPort(n: NodeWire, port: string, style: string): TemplateResult {
    if (port === WHEN_PORT && n.guard) {
      const g = n.guard;
      return html`<div class="port in when" style=${style} data-port=${port} title="Runs when ${g.from.node}.${g.from.port} is '${g.label}'; otherwise it is skipped">
        <span class="dot"></span><span class="pname">if ${g.from.port} = ${g.label}</span></div>`;
    }
    const chosen = this.ctx.store.variantOf(n.id);
    const dot = port.indexOf(".");
    if (chosen !== undefined && dot > 0) {
      const inactive = port.slice(0, dot) !== chosen;
      return html`<div class="port in ${inactive ? "inactive" : ""}" style=${style} data-port=${port}>
        <span class="dot"></span><span class="pname"><span class="variant-of">${port.slice(0, dot)} ›</span> ${port.slice(dot + 1)}</span></div>`;
    }
    return html`<div class="port in" style=${style} data-port=${port}><span class="dot"></span><span class="pname">${port}</span></div>`;
  }

  private field(port: string, component: NonNullable<NodeWire["outputs"][number]["component"]>, name = port): TemplateResult {
    return renderInput(
      port,
      {
        component,
        value: this.inputValue(port),
        ctx: this.ctx.view,
        onInput: (v) => this.edit(port, v, false),
        onDraft: (v) => this.draft(port, v),
        onChange: (v) => this.edit(port, v, true),
      },
      name,
    );
  }

  private inputs(n: NodeWire): TemplateResult | typeof nothing {
    const ports = editablePorts(n);
    if (n.kind === "choice") return this.choice(n, ports);
    if (!ports.length) return nothing;
    return html`<div class="section inputs">${ports.map(({ port, component }) => this.field(port, component))}</div>`;
  }

  /** The choice accordion: the picker, then each variant's own inputs under its name. */
  private choice(n: NodeWire, ports: ReturnType<typeof editablePorts>): TemplateResult {
    const selected = this.ctx.store.variantOf(n.id) ?? "";
    if (this.foldsFor !== selected) {
      // Another variant was picked: unfold it, fold the rest.
      this.variantFolds.clear();
      this.foldsFor = selected;
    }
    const byPort = new Map(ports.map((p) => [p.port, p.component]));
    return choiceInputs({
      node: n,
      selected,
      isOpen: (v) => this.variantFolds.get(v) ?? v === selected,
      onToggle: (v) => {
        this.variantFolds.set(v, !(this.variantFolds.get(v) ?? v === selected));
        this.requestUpdate();
      },
      field: (port, name) => {
        const c = byPort.get(port);
        return c ? this.field(port, c, name) : html``;
      },
    });
  }

  /** A MAP node's items, with a rerun button each; they replace the list-valued outputs. */
  private items(n: NodeWire, busy: boolean): TemplateResult {
    const store = this.ctx.store;
    return itemList({
      node: n,
      items: store.items(n.id),
      open: this.itemsOpen,
      expanded: this.itemsExpanded,
      rerunning: store.rerunning.get(n.id),
      changed: store.changedItems.get(n.id),
      busy,
      ctx: this.ctx.view,
      onToggle: () => {
        this.itemsOpen = !this.itemsOpen;
        this.requestUpdate();
      },
      onToggleItem: (i) => {
        if (!this.itemsExpanded.delete(i)) this.itemsExpanded.add(i);
        this.requestUpdate();
      },
      onRerun: (i) => this.ctx.runItem(n.id, i),
      editing: this.itemEditing,
      onEdit: (i) => {
        this.itemEditing = i;
        this.requestUpdate();
      },
      onSave: (i, value) => {
        this.ctx.editItem(n.id, i, value).then(
          () => {
            if (this.itemEditing === i) this.itemEditing = undefined;
            this.requestUpdate();
          },
          () => undefined, // the canvas shows why; the editor stays open with the draft
        );
      },
    });
  }

  /** Why a branch skipped this node: the reason its skipped result records. */
  /**
   * Why a node the canvas computed on open is still empty: it does not run by itself
   * (remote steps cost time and quota). Shown until it has a result or an error.
   */
  private runHint(n: NodeWire, st: NodeStateWire): TemplateResult | typeof nothing {
    if (n.autorun || n.kind === "input" || st.error || this.ctx.store.results.has(n.id)) return nothing;
    const remote = n.kind === "gradio" || n.kind === "inference";
    return html`<div class="run-hint" role="note">▶ runs this step; ${remote ? "remote steps run" : "it runs"} when you ask</div>`;
  }

  private skipNote(): TemplateResult {
    const r = this.ctx.store.results.get(this.nodeId);
    const reason = (r?.status === "skipped" ? r.error?.message : undefined)?.replace(/^Skipped:\s*/, "").replace(/\.$/, "");
    return html`<div class="skip-note" role="note">${icon("skip")}<span><b>Skipped</b>${reason ? html` — ${reason}` : nothing}</span></div>`;
  }

  /**
   * A stale card says so in words, and why when the canvas can tell (which input changed,
   * which upstream node has a newer result), with "Run to here" next to it.
   */
  private staleNote(n: NodeWire): TemplateResult {
    return html`<div class="stale-note" role="note">
      ${icon("rerun")}<span class="stale-why"><b>Stale</b> — ${staleReason(this.ctx.store, n.id)}</span>
      ${n.kind === "input"
        ? nothing
        : html`<button class="stale-run" title="Run to here (stale upstream nodes first)" @click=${() => this.ctx.run(this.nodeId, "to-here")}
            @pointerenter=${() => this.ctx.preview(this.nodeId, "to-here")} @pointerleave=${() => this.ctx.preview(undefined)}>${icon("toHere")}<span>Run</span></button>`}
    </div>`;
  }

  private outputs(n: NodeWire, st: NodeStateWire, busy: boolean): TemplateResult | typeof nothing {
    if (n.kind === "input") return nothing;
    const shown = n.outputs.filter((o) => o.component);
    if (!shown.length) return nothing;
    const result = this.ctx.store.results.get(n.id);
    const streaming = busy && st.partial;
    return html`<div class="section outputs ${streaming ? "streaming" : ""}">${shown.map((o) => {
      const value = streaming && o.port in st.partial! ? st.partial![o.port] : result?.outputs[o.port];
      return renderOutput(o.port, o.component!, value, this.ctx.view);
    })}</div>`;
  }

  private problems(st: NodeStateWire): TemplateResult | typeof nothing {
    const notice = this.ctx.store.notices.get(this.nodeId);
    // A failed run, or (while idle) a failed start-up check of the node.
    if (st.error && (st.activity === "failed" || st.activity === "idle")) {
      return html`<div class="error-panel" role="alert">
        <div class="error-title">${icon("alert")}<span>${st.error.code ?? (st.activity === "failed" ? "Failed" : "Check failed")}</span></div>
        <div class="error-msg">${st.error.code ? st.error.message.replace(`[${st.error.code}] `, "") : st.error.message}</div>
        ${errorPlace(st.error.details)}
      </div>`;
    }
    if (st.activity === "cancelled") return html`<div class="notice">Stopped before it finished.</div>`;
    return notice ? html`<div class="notice">${notice.text}</div>` : nothing;
  }

  private history(st: NodeStateWire): TemplateResult | typeof nothing {
    if (st.count < 2) return nothing;
    const pos = this.ctx.history.position(this.nodeId);
    if (pos.total < 2 && pos.index !== undefined) return nothing;
    const result = this.ctx.store.results.get(this.nodeId);
    const go = (id: string | undefined) => id && this.ctx.history.select(this.nodeId, id)?.catch(() => undefined);
    return html`<footer class="history">
      <button class="icon-btn prev" ?disabled=${!pos.prev} title="Older result" aria-label="Older result" @click=${() => go(pos.prev)}>${icon("left")}</button>
      <span class="pos">${pos.index ?? "–"}/${pos.total}</span>
      <button class="icon-btn next" ?disabled=${!pos.next} title="Newer result" aria-label="Newer result" @click=${() => go(pos.next)}>${icon("right")}</button>
      ${result ? html`<span class="when" title=${new Date(result.startedAt).toLocaleString()}>${ago(result.startedAt)}</span>` : nothing}
    </footer>`;
  }

  private inputValue(port: string): unknown {
    const stored = this.ctx.store.input(this.nodeId, port);
    const d = this.drafts.get(port);
    if (!d) return stored;
    // A draft another tab's edit overtook (E_INPUT_CONFLICT) gives way to the current value.
    const refused = (this.ctx.store.conflicts.get(`${this.nodeId}__${port}`) ?? -1) >= d.at;
    if (refused || same(d.value, stored) || (Date.now() - d.at > DRAFT_TTL_MS && !this.matches(":focus-within"))) {
      this.drafts.delete(port);
      return stored;
    }
    return d.value;
  }

  /** Keeps what the user is typing, to be sent on commit or before a run. */
  private draft(port: string, value: unknown) {
    this.drafts.set(port, { value, at: Date.now() });
    this.ctx.holdInput(this.nodeId, port, value);
  }

  private edit(port: string, value: unknown, immediate: boolean) {
    this.drafts.set(port, { value, at: Date.now() });
    this.ctx.setInput(this.nodeId, port, value, immediate);
    if (immediate) this.requestUpdate();
  }

  private onFocusOut = () => this.requestUpdate();

  private onKey = (e: KeyboardEvent) => {
    if ((e.metaKey || e.ctrlKey) && e.key === "Enter" && this.ctx.store.node(this.nodeId)?.kind !== "input") {
      e.preventDefault();
      e.stopPropagation();
      this.ctx.run(this.nodeId, "to-here");
    }
  };
}

/**
 * Nodes whose cards look alike (same kind, ports, components, and whether they show a
 * result, an error or a history footer), each mapped to one of them: the canvas renders
 * and measures that one, and sizes the others' placeholders like it.
 */
export function cardLooks(nodes: readonly NodeWire[], store: CanvasStore): Map<string, string> {
  const bySignature = new Map<string, string>();
  const out = new Map<string, string>();
  for (const n of nodes) {
    const st = store.state(n.id);
    const sig = JSON.stringify([
      n.kind,
      store.isMapped(n.id),
      portRows(n, store.edgesOutOf.get(n.id)),
      editablePorts(n).map((p) => [p.component.type, p.component.props]),
      n.outputs.map((o) => o.component && [o.component.type, o.component.props]),
      n.guard ? 1 : 0,
      store.results.has(n.id),
      st.activity,
      st.freshness === "stale",
      !!st.error,
      st.count >= 2,
    ]);
    let sample = bySignature.get(sig);
    if (!sample) bySignature.set(sig, (sample = n.id));
    out.set(n.id, sample);
  }
  return out;
}

/** A value in a line: text cut short, a file by its name, anything else as short JSON. */
function shortValue(v: unknown): string {
  const cut = (t: string) => (t.length > 80 ? `${t.slice(0, 79)}…` : t);
  if (typeof v === "string") return cut(JSON.stringify(v));
  if (v && typeof v === "object" && "$file" in v) return `file ${(v as { name?: string }).name ?? ""}`;
  try {
    return cut(JSON.stringify(v) ?? String(v));
  } catch {
    return String(v);
  }
}

function ago(t: number): string {
  const s = Math.round((Date.now() - t) / 1000);
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(t).toLocaleDateString();
}

define("daggr-node", NodeCard);

/** Where in the app's code a node's error was thrown (`details.file`, `line`, `column`), when the engine found it. */
function errorPlace(details: Record<string, unknown> | undefined): TemplateResult | typeof nothing {
  if (typeof details?.file !== "string" || typeof details.line !== "number") return nothing;
  const place = `${details.file}:${details.line}${typeof details.column === "number" ? `:${details.column}` : ""}`;
  return html`<div class="error-at" title="Where the error was thrown">at ${place}</div>`;
}

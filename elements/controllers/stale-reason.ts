import type { NodeWire } from "../wire.js";
import type { CanvasStore } from "./canvas-store.js";

/** One thing that changed since a stale node's selected result was made. */
export type StaleCause =
  /** An editable input (of this node or of an upstream one) holds another value than the result was made from. */
  | { kind: "input"; node: string; port: string; label: string }
  /** An upstream node's selected result is not the one this node's result (or a stale ancestor's) consumed. */
  | { kind: "result"; node: string };

/** How far up a stale card looks for its causes (a long stale chain is walked this far, no further). */
const MAX_VISITS = 500;

const same = (a: unknown, b: unknown) => a === b || JSON.stringify(a) === JSON.stringify(b);

/**
 * Why a stale node's selected result no longer matches what it would consume now, from
 * what the wire gives the canvas: an input whose current value differs from the one a
 * result records, or an upstream node whose selected result is not the one the result
 * consumed (its `upstream` links). A stale parent behind a fresh edge passes its own causes
 * on, so an edit two steps up is named on every card below it. Walked with a worklist,
 * nearest causes first; empty when nothing the canvas knows explains it (the node's code
 * changed, an older result was selected upstream…).
 *
 * @example
 * staleCauses(store, "Shout") // [{ kind: "input", node: "Inputs", port: "text", label: "Text" }]
 */
export function staleCauses(store: CanvasStore, id: string): StaleCause[] {
  const causes: StaleCause[] = [];
  const seen = new Set<string>([id]);
  const queue = [id];
  for (let i = 0; i < queue.length && i < MAX_VISITS; i++) {
    const nodeId = queue[i]!;
    const n = store.node(nodeId);
    const r = store.results.get(nodeId);
    if (!n || !r) continue;
    for (const { port, label, made } of ownValues(n, r)) {
      if (!same(made, store.input(nodeId, port))) causes.push({ kind: "input", node: nodeId, port, label });
    }
    for (const e of store.edgesInto.get(nodeId) ?? []) {
      const from = e.from.node;
      if (seen.has(from)) continue;
      const up = store.state(from);
      // A parent that has nothing to give (skipped, never run) explains nothing here, nor
      // does an edge this result did not read (another variant's port).
      const used = r.upstream[e.to.port];
      if (up.freshness === "empty" || up.activity === "skipped" || used === undefined) continue;
      const current = up.selectedId ?? store.results.get(from)?.id;
      if (used !== current) {
        // A firstOf candidate other than the one read has a result too: nothing changed there.
        if (e.kind === "first") continue;
        seen.add(from);
        causes.push(inputCause(store, from, e.from.port) ?? { kind: "result", node: from });
      } else if (up.freshness === "stale") {
        seen.add(from);
        queue.push(from);
      }
    }
  }
  return causes;
}

/**
 * Why a card is stale, as the words after "Stale — ": "‘Text’ (Inputs) changed since
 * this result", naming at most two causes ("and 2 more"), or "inputs changed since this
 * result" when no cause is known.
 */
export function staleReason(store: CanvasStore, id: string, causes = staleCauses(store, id)): string {
  const changed = causes.flatMap((c) => (c.kind === "input" ? [c.node === id ? `‘${c.label}’` : `‘${c.label}’ (${nameOf(store, c.node)})`] : []));
  const newer = causes.flatMap((c) => (c.kind === "result" ? [nameOf(store, c.node)] : []));
  const parts: string[] = [];
  if (changed.length) parts.push(`${list(changed)} changed since this result`);
  if (newer.length) parts.push(`${list(newer)} ${newer.length > 1 ? "have" : "has"} a newer result than the one used`);
  return parts.length ? parts.join("; ") : "inputs changed since this result";
}

function nameOf(store: CanvasStore, id: string): string {
  return store.node(id)?.name ?? id;
}

/** "a", "a and b", "a, b and 3 more". */
function list(items: string[]): string {
  if (items.length <= 2) return items.join(" and ");
  return `${items.slice(0, 2).join(", ")} and ${items.length - 2} more`;
}

/** The editable values a result was made from: a node's component inputs, an InputNode's own ports (its outputs). */
function ownValues(n: NodeWire, r: { inputs: Record<string, unknown>; outputs: Record<string, unknown> }): Array<{ port: string; label: string; made: unknown }> {
  if (n.kind === "input") {
    return n.outputs.flatMap((o) => (o.component && o.port in r.outputs ? [{ port: o.port, label: labelOf(o.component.props, o.port), made: r.outputs[o.port] }] : []));
  }
  return n.inputs.flatMap((i) => (i.source === "component" && i.component && i.port in r.inputs ? [{ port: i.port, label: labelOf(i.component.props, i.port), made: r.inputs[i.port] }] : []));
}

/**
 * An upstream InputNode with another result than the one consumed: one of its values was
 * edited. The value named is the one this edge reads (the node's key holds only what it
 * reads, so that is the one that changed it).
 */
function inputCause(store: CanvasStore, from: string, port: string): StaleCause | undefined {
  const n = store.node(from);
  const out = n?.kind === "input" ? n.outputs.find((o) => o.port === port) : undefined;
  return out ? { kind: "input", node: from, port, label: labelOf(out.component?.props ?? {}, port) } : undefined;
}

function labelOf(props: Record<string, unknown>, port: string): string {
  return typeof props.label === "string" && props.label.trim() ? props.label : port;
}

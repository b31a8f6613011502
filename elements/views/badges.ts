import type { CanvasStore } from "../controllers/canvas-store.js";
import type { NodeWire } from "../wire.js";

/** Badge text and colour class by node kind. */
const BADGES: Record<string, [string, string]> = {
  fn: ["FN", "fn"],
  gradio: ["GRADIO", "gradio"],
  inference: ["MODEL", "model"],
  input: ["INPUT", "input"],
  choice: ["CHOICE", "choice"],
};

/** The badge of a node kind (a choice's variants show theirs too). */
export function kindBadge(kind: string): [string, string] {
  return BADGES[kind] ?? [kind.toUpperCase(), "fn"];
}

/**
 * A node's badge: MAP for a node that runs per item (a scattered input, a plain read of
 * a MAP node, or items in its state or result), else its kind's.
 */
export function badgeOf(n: NodeWire, store?: CanvasStore): [string, string] {
  if (n.inputs.some((i) => i.each !== undefined) || store?.isMapped(n.id)) return ["MAP", "map"];
  return kindBadge(n.kind);
}

import type { EdgeWire, NodeWire } from "../wire.js";

/**
 * Card geometry shared by the card's CSS and the edge anchors. Port rows sit at fixed
 * offsets right under the header, so edges can be drawn from the layout alone, and a
 * value change (which may resize a card's body) never moves an anchor.
 */
export const CARD_WIDTH = 320;
export const HEADER_HEIGHT = 46;
export const PORTS_PAD = 6;
export const PORT_ROW = 22;

/** Inputs drawn as port dots: wired from another node (one row per port). */
export function wiredInputs(n: NodeWire): string[] {
  return n.inputs.filter((i) => i.from || (i as { firstOf?: unknown }).firstOf || i.source === "port").map((i) => i.port);
}

/**
 * Output port dots: every output, shown or hidden (`null` component) alike. An
 * InputNode's ports are labelled by their components already, so only the wired ones
 * get a dot.
 */
export function outputPorts(n: NodeWire, outEdges: readonly EdgeWire[] = []): string[] {
  if (n.kind !== "input") return n.outputs.map((o) => o.port);
  const wired = new Set(outEdges.map((e) => e.from.port));
  return n.outputs.map((o) => o.port).filter((p) => wired.has(p));
}

export function portRows(n: NodeWire, outEdges: readonly EdgeWire[] = []): number {
  return Math.max(wiredInputs(n).length, outputPorts(n, outEdges).length);
}

/** Vertical offset of a port dot's centre from the card's top. */
export function portY(row: number): number {
  return HEADER_HEIGHT + PORTS_PAD + row * PORT_ROW + PORT_ROW / 2;
}

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

/** The port a branch condition enters a routed node by (edges of kind `when`). */
export const WHEN_PORT = "$when";

/**
 * Inputs drawn as port dots: wired from another node (one row per port), then the
 * branch condition of a node a `branch()` routes to.
 */
export function wiredInputs(n: NodeWire): string[] {
  const ports = n.inputs.filter((i) => i.from || i.firstOf || i.source === "port").map((i) => i.port);
  return n.guard ? [...ports, WHEN_PORT] : ports;
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

import type { NodeWire } from "../wire.js";

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

/** Every output is a port dot, shown or hidden (`null` component) alike. */
export function outputPorts(n: NodeWire): string[] {
  return n.outputs.map((o) => o.port);
}

export function portRows(n: NodeWire): number {
  return Math.max(wiredInputs(n).length, outputPorts(n).length);
}

/** Vertical offset of a port dot's centre from the card's top. */
export function portY(row: number): number {
  return HEADER_HEIGHT + PORTS_PAD + row * PORT_ROW + PORT_ROW / 2;
}

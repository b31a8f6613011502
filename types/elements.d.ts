/**
 * The types of `daggr/elements` (the prebuilt canvas bundle): the element's public face,
 * without lit's types (lit is bundled, not a dependency), and its global entries.
 */
/** `<daggr-canvas server="http://127.0.0.1:7860" sheet="…">`: the whole daggr UI as one element. */
export declare class DaggrCanvas extends HTMLElement {
  /** The daggr server (default: the origin the script came from). */
  server: string | undefined;
  /** A sheet id (default: the last one used here, else the server's choice). */
  sheet: string | undefined;
  /** The access token, when the server requires one. */
  token: string | undefined;
  /** `auto` | `light` | `dark`. */
  theme: string | undefined;
  /** Connection state: "connecting", "open", "reconnecting" or "closed" (reflected as an attribute). */
  readonly status: string;
}
declare global {
  interface HTMLElementTagNameMap {
    "daggr-canvas": DaggrCanvas;
  }
  interface HTMLElementEventMap {
    /** The graph is laid out and shown. */
    "daggr-ready": CustomEvent<{ nodes: number; layoutMs: number; engine: string; sinceConnectMs: number }>;
    /** Every engine event of the sheet shown, as the wire protocol carries it. */
    "daggr-event": CustomEvent<{ type: string; [field: string]: unknown }>;
  }
}

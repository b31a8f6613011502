/**
 * The wire protocol as the browser sees it. Only types come from `lib/protocol.ts`, so
 * the element bundle never pulls server code; the version is restated here and
 * type-checked against the protocol's.
 */
import type { ClientMessage, PROTOCOL_VERSION as ProtocolVersion, WireErrorCode } from "../lib/protocol.js";

export type {
  Activity as ActivityWire, ClientMessage, ComponentWire, EdgeWire, ErrorWire, EventWire, FileRef, Freshness,
  GraphWire, NodeStateWire, NodeWire, ProgressWire, ResultWire, RunModeWire, ServerMessage, SheetWire,
  SnapshotMessage, SnapshotPageMessage, SheetsMessage, HistoryMessage, AckMessage, ErrorMessage, ConflictDetails, ErrorCodeWire,
  DiagnosticsMessage, DiagnosticWire,
} from "../lib/protocol.js";

/** Must equal `PROTOCOL_VERSION` in lib/protocol.ts (a compile error otherwise). */
export const V: typeof ProtocolVersion = 1;

/** `daggr dev`'s "the app failed to load" (type-checked against lib/protocol.ts). */
export const APP_FAILED: (typeof WireErrorCode)["APP_FAILED"] = "E_APP_FAILED";

/** A client message without the version field, which the connection adds. */
export type Outgoing = ClientMessage extends infer M ? (M extends { v: number } ? Omit<M, "v"> : never) : never;

/**
 * The wire protocol between a daggr server and `<daggr-canvas>` (documented in
 * docs/protocol.md). Types only: the browser bundle imports this file and nothing
 * else of the server. Every message carries the protocol version `v`.
 *
 * On connect the client sends `hello`; the server answers with one `snapshot` (graph,
 * sheet state, first history page of each node). After that it sends only deltas:
 * `event` messages (the engine's event union, serialised) and `sheets` when the sheet
 * list changes. No message ever re-sends the whole graph.
 */
import type { ErrorCode } from "./graph/errors.js";
import type { StoreErrorCode } from "./store/errors.js";
import type { INTERRUPTED_CODE } from "./store/recovery.js";

export const PROTOCOL_VERSION = 1;

// ── values on the wire ───────────────────────────────────────────────────────

/** A file as the browser sees it: only a server-minted id and its URL, never a path. */
export interface FileRef {
  $file: string;
  url: string;
  name: string;
  mime: string;
  size: number;
}

/** A component descriptor (`gr.*`), as the graph holds it. */
export interface ComponentWire {
  $kind: "component";
  type: string;
  props: Record<string, unknown>;
}

export interface NodeWire {
  id: string;
  name: string;
  kind: "fn" | "gradio" | "inference" | "input" | "choice";
  inputs: Array<{
    port: string;
    source: "component" | "port" | "first" | "fixed" | "fn";
    component?: ComponentWire;
    from?: { node: string; port: string };
    /** Scatter: true, or the item field passed (a MAP node). */
    each?: string | true;
    /** Gathers a mapped node's per-item values. */
    all?: boolean;
    /** `firstOf(...)`: the first non-skipped of these. */
    firstOf?: Array<{ node: string; port: string }>;
    value?: unknown;
  }>;
  /** Set when a branch routes to this node. */
  guard?: { from: { node: string; port: string }; label: string };
  outputs: Array<{ port: string; component: ComponentWire | null }>;
  autorun: boolean;
  link?: string;
  config: Record<string, unknown>;
}

export interface EdgeWire {
  id: string;
  from: { node: string; port: string };
  to: { node: string; port: string };
  /** Scatter, gather, a firstOf source, or a branch condition (into port `$when`). */
  kind?: "each" | "all" | "first" | "when";
}

export interface GraphWire {
  name: string;
  nodes: NodeWire[];
  edges: EdgeWire[];
  subgraphs: Array<{ id: string; nodes: string[] }>;
}

export type Freshness = "fresh" | "stale" | "empty";
export type Activity = "idle" | "skipped" | "queued" | "running" | "failed" | "cancelled";

export interface ProgressWire {
  fraction?: number;
  text?: string;
  queuePosition?: number;
  queueSize?: number;
  eta?: number;
}

export interface ErrorWire {
  code?: string;
  message: string;
  details?: Record<string, unknown>;
}

/** A result record with file paths replaced by FileRefs. */
export interface ResultWire {
  id: string;
  nodeId: string;
  runId: string;
  key: string;
  inputs: Record<string, unknown>;
  upstream: Record<string, string>;
  outputs: Record<string, unknown>;
  status: "success" | "failed" | "cancelled" | "interrupted" | "skipped";
  error?: ErrorWire;
  startedAt: number;
  ms: number;
  servedBy?: string;
  /**
   * Where a remote node's result came from: the Space or model (`kind`), its revision, for
   * `runLocally` the copy that served it (`via`, and `fallback`: why not the local one),
   * and `current`: the remote's newer revision when an older one made this result.
   */
  origin?: { kind?: "space" | "model"; remote: string; revision?: string; via?: "local" | "remote"; fallback?: string; current?: string };
  /** A list the user edited item by item: the result it copies, the port, the item's index. */
  edited?: { from: string; port: string; index: number };
  /** A mapped node's items, in order. An item kept from an earlier run keeps its `startedAt`. */
  items?: Array<{ key: string; inputs: Record<string, unknown>; outputs: Record<string, unknown>; status: string; error?: ErrorWire; startedAt?: number; ms: number }>;
}

export interface NodeStateWire {
  nodeId: string;
  freshness: Freshness;
  activity: Activity;
  selectedId: string | null;
  count: number;
  runId?: string;
  startedAt?: number;
  lastMs?: number;
  progress?: ProgressWire;
  partial?: Record<string, unknown>;
  error?: ErrorWire;
  items?: Array<{ status: string; ms: number; error?: ErrorWire }>;
}

export interface SheetWire {
  id: string;
  name: string;
  createdAt: number;
  updatedAt: number;
  revision: number;
  /** `width`/`height`: the size of the view it was saved from (a canvas of another size fits that part into its own). */
  viewport?: { x: number; y: number; zoom: number; width?: number; height?: number };
  choices?: Record<string, string>;
}

export type RunModeWire = "step" | "to-here" | "all";

/** The engine's event union, serialised (results as ResultWire, values with FileRefs). */
export type EventWire =
  | { type: "run-started"; runId: string; mode: RunModeWire | "auto"; target?: string; nodes: string[] }
  | { type: "run-finished"; runId: string; status: "running" | "done" | "failed" | "cancelled" | "interrupted" }
  | { type: "node-queued"; runId: string; nodeId: string }
  | { type: "node-started"; runId: string; nodeId: string; startedAt: number }
  | { type: "node-progress"; runId: string; nodeId: string; progress: ProgressWire }
  | { type: "node-partial"; runId: string; nodeId: string; outputs: Record<string, unknown> }
  | { type: "node-cached"; runId: string; nodeId: string; result: ResultWire }
  | { type: "node-completed"; runId: string; nodeId: string; result: ResultWire }
  | { type: "node-failed"; runId: string; nodeId: string; result: ResultWire; error: ErrorWire }
  | { type: "node-cancelled"; runId: string; nodeId: string; result: ResultWire }
  /** A branch routed around the node (or everything it reads was skipped): recorded, selected, not run. */
  | { type: "node-skipped"; runId: string; nodeId: string; result: ResultWire; reason: string }
  /** A start-up check of a node failed (unknown endpoint, parameter, model…); shown on the node until it runs successfully. */
  | { type: "node-invalid"; nodeId: string; error: ErrorWire }
  | { type: "node-blocked"; runId: string; nodeId: string; reason: string }
  /** `rev`: the input's revision after this change (what a later `set-input` names as `rev`). */
  | { type: "input-changed"; nodeId: string; port: string; value: unknown; origin?: string; rev?: number }
  | { type: "selection-changed"; nodeId: string; resultId: string | null; result?: ResultWire }
  | { type: "freshness-changed"; nodes: Record<string, Freshness>; edges: Record<string, boolean> };

// ── server → client ──────────────────────────────────────────────────────────

export interface SnapshotMessage {
  v: typeof PROTOCOL_VERSION;
  type: "snapshot";
  /** Echoes the `hello` request id. */
  re?: string;
  user: string;
  /**
   * This connection's id. Edits made through it come back as `input-changed` events
   * with `origin` equal to it, so a tab can tell its own edits from other tabs'.
   */
  client?: string;
  graph: GraphWire;
  sheet: SheetWire;
  sheets: SheetWire[];
  /** Every editable input's value by `node__port` (defaults included). */
  inputs: Record<string, unknown>;
  /** Each edited input's revision by `node__port` (absent: 0). A `set-input` names the one it saw as `rev`. */
  inputRevs?: Record<string, number>;
  /** Node states. Above 500 nodes the snapshot leaves out default ones: absent means empty, idle, no result. */
  nodes: Record<string, NodeStateWire>;
  /** Edge freshness (above 500 nodes only the fresh ones: absent means stale). */
  edges: Record<string, boolean>;
  /** The selected result of each node that has one. */
  results: Record<string, ResultWire>;
  /** How many results each node has (history arrows show ‹ i/n ›); above 500 nodes, absent means none. */
  counts: Record<string, number>;
  /**
   * Selected results still to come in `snapshot-page` messages (a big sheet sends its
   * first results with the snapshot and the rest right after it, before any event).
   */
  pendingResults?: number;
}

/** More selected results of the snapshot just sent (see `SnapshotMessage.pendingResults`). */
export interface SnapshotPageMessage {
  v: typeof PROTOCOL_VERSION;
  type: "snapshot-page";
  sheetId: string;
  results: Record<string, ResultWire>;
  /** The snapshot's last page. */
  last: boolean;
}

export interface EventMessage {
  v: typeof PROTOCOL_VERSION;
  type: "event";
  sheetId: string;
  event: EventWire;
}

/**
 * Several engine events of one sheet in one message, in the order they happened: the
 * events of one turn of the server's event loop (a burst of completions) travel together.
 * A client handles it as one `event` message per item.
 */
export interface EventsMessage {
  v: typeof PROTOCOL_VERSION;
  type: "events";
  sheetId: string;
  events: EventWire[];
}

export interface SheetsMessage {
  v: typeof PROTOCOL_VERSION;
  type: "sheets";
  sheets: SheetWire[];
  /** The sheet this connection is on now. */
  current: string;
}

export interface HistoryMessage {
  v: typeof PROTOCOL_VERSION;
  type: "history";
  re?: string;
  nodeId: string;
  /** Newest first. */
  results: ResultWire[];
  total: number;
}

export interface AckMessage {
  v: typeof PROTOCOL_VERSION;
  type: "ack";
  re: string;
  /** The run id for `run`, the sheet for sheet actions. */
  result?: unknown;
}

export interface ErrorMessage {
  v: typeof PROTOCOL_VERSION;
  type: "error";
  re?: string;
  code: ErrorCodeWire;
  message: string;
  details?: Record<string, unknown>;
}

/**
 * Codes of protocol-level errors (an `error` reply's `code`). Engine errors pass through
 * with their own `E_…` codes (E_UNKNOWN_NODE, E_UNKNOWN_INPUT_ID, E_UNKNOWN_RESULT…).
 */
export const WireErrorCode = {
  /** The frame is not JSON, or not a JSON object. */
  BAD_JSON: "E_BAD_JSON",
  /** `v` is missing or not this server's protocol version. */
  PROTOCOL_VERSION: "E_PROTOCOL_VERSION",
  /** `type` names no client message. */
  UNKNOWN_TYPE: "E_UNKNOWN_TYPE",
  /** A field is missing, unknown, of the wrong type, too deep, or a reserved key (`__proto__`…). */
  BAD_MESSAGE: "E_BAD_MESSAGE",
  /** A message other than `hello` arrived before `hello`. */
  NO_HELLO: "E_NO_HELLO",
  /** A file value that is not a server-minted file (a FileRef from `/upload` or an output). */
  BAD_FILE: "E_BAD_FILE",
  /** A REST call left out an input that has no default. */
  MISSING_INPUT: "E_MISSING_INPUT",
  /** Something failed inside the server; the message says what, without internals. */
  INTERNAL: "E_INTERNAL",
  /** This socket sent messages faster than the server's rate limit; `details.retryAfterMs` says when to send again. */
  TOO_MANY_MESSAGES: "E_TOO_MANY_MESSAGES",
  /** The sheet (or the server) already has as many runs in progress as it accepts. */
  RUN_QUEUE_FULL: "E_RUN_QUEUE_FULL",
  /**
   * A `set-input` named a revision (`rev`) the input has moved on from: another tab
   * changed it. Nothing was applied; `details` is a {@link ConflictDetails}.
   */
  INPUT_CONFLICT: "E_INPUT_CONFLICT",
  /** `daggr dev`: the app failed to load; `details` has message, code, file, line, column (see lib/cli/app.ts AppFailure). */
  APP_FAILED: "E_APP_FAILED",
} as const;
export type WireErrorCode = (typeof WireErrorCode)[keyof typeof WireErrorCode];

/**
 * Every code an `error` reply can carry: the graph's and engine's (lib/graph/errors.ts),
 * the store's (lib/store/errors.ts), the protocol's ({@link WireErrorCode}) and
 * `E_INTERRUPTED`. Each has a section in docs/errors.md. A client comparing a reply's
 * code against anything else is a compile error, not a branch that never runs.
 */
export type ErrorCodeWire = ErrorCode | StoreErrorCode | WireErrorCode | typeof INTERRUPTED_CODE;

/** The `details` of an `E_INPUT_CONFLICT` error reply: the input's current value and revision. */
export interface ConflictDetails {
  nodeId: string;
  port: string;
  /** The current value (files as FileRefs), which the editing tab should show. */
  value: unknown;
  /** The current revision: a retry names this one. */
  rev: number;
  /** The revision the refused edit named. */
  got: string;
}

/** `GET /api/health`: 200 while the store writes, 503 once a write failed (disk full, I/O error) until one succeeds again. */
export interface HealthResponse {
  status: "ok" | "degraded";
  storage: "ok" | "degraded";
  /** What failed, when degraded. */
  error?: string;
  /** Since when (epoch ms), when degraded. */
  since?: number;
}

/** A TypeScript error in the app's files (`daggr dev --typecheck`), as the terminal prints it. */
export interface DiagnosticWire {
  /** `TS2322`… */
  code: string;
  message: string;
  /** Relative to where `daggr dev` runs; absent for a project-wide error (a bad tsconfig). */
  file?: string;
  /** 1-based. */
  line?: number;
  column?: number;
}

/**
 * `daggr dev --typecheck`: the app's type errors after each check, sent on connect (once
 * a check has run) and whenever they change. `errors` holds the first
 * {@link MAX_DIAGNOSTICS}; `total` counts all. An empty list clears what is shown.
 */
export interface DiagnosticsMessage {
  v: typeof PROTOCOL_VERSION;
  type: "diagnostics";
  errors: DiagnosticWire[];
  total: number;
}
export const MAX_DIAGNOSTICS = 50;

export type ServerMessage = SnapshotMessage | SnapshotPageMessage | EventMessage | EventsMessage | SheetsMessage | HistoryMessage | AckMessage | ErrorMessage | DiagnosticsMessage;

// ── client → server ──────────────────────────────────────────────────────────

/**
 * The messages a client sends (`hello`, `set-input`, `run`, `edit-item`, `cancel`, `select-result`,
 * `history`, `sheet-*`, `viewport`, `choice`). Declared once, as the schema the server
 * validates with, in lib/protocol-schema.ts; this is that schema's type.
 */
export type { ClientMessage, ClientMessageType } from "./protocol-schema.js";

/**
 * Uploads: `POST /upload` with the raw file as the body (`Content-Type` its MIME type,
 * `X-Filename` its name) returns a FileRef; the client then sends `set-input` with the
 * FileRef as the value. The server turns a FileRef into the stored file's local path,
 * so a client can never make a node read an arbitrary path.
 */
export type UploadResponse = FileRef;

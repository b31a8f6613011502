import type { ResultError, ResultRecord, RunMode, RunStatus } from "./records.js";

/** Progress as reported by a node: a fraction, text, or a remote queue position. */
export interface Progress {
  fraction?: number;
  text?: string;
  /** Position in a remote queue (Gradio apps), 0 = next. */
  queuePosition?: number;
  queueSize?: number;
  /** Estimated seconds until done, as the remote reports it. */
  eta?: number;
}

export type Freshness = "fresh" | "stale" | "empty";

/**
 * The one closed vocabulary of what happens in a session. It is the only way state
 * leaves the engine: the wire protocol serialises it, the programmatic API and tests
 * consume it.
 */
export type EngineEvent =
  | { type: "run-started"; sheetId: string; runId: string; mode: RunMode; target?: string; nodes: string[] }
  | { type: "run-finished"; sheetId: string; runId: string; status: RunStatus }
  | { type: "node-queued"; sheetId: string; runId: string; nodeId: string }
  | { type: "node-started"; sheetId: string; runId: string; nodeId: string; startedAt: number }
  | { type: "node-progress"; sheetId: string; runId: string; nodeId: string; progress: Progress }
  | { type: "node-partial"; sheetId: string; runId: string; nodeId: string; outputs: Record<string, unknown> }
  | { type: "node-cached"; sheetId: string; runId: string; nodeId: string; result: ResultRecord }
  | { type: "node-completed"; sheetId: string; runId: string; nodeId: string; result: ResultRecord }
  | { type: "node-failed"; sheetId: string; runId: string; nodeId: string; result: ResultRecord; error: ResultError }
  | { type: "node-cancelled"; sheetId: string; runId: string; nodeId: string; result: ResultRecord }
  /** A node a branch routed around (or whose inputs were all skipped): recorded, selected, not run. */
  | { type: "node-skipped"; sheetId: string; runId: string; nodeId: string; result: ResultRecord; reason: string }
  /** A start-up check of a node failed (unknown endpoint, parameter, model…). */
  | { type: "node-invalid"; sheetId: string; nodeId: string; error: ResultError }
  /** A node of a run that did not run because something it reads from is not fresh. */
  | { type: "node-blocked"; sheetId: string; runId: string; nodeId: string; reason: string }
  | { type: "input-changed"; sheetId: string; nodeId: string; port: string; value: unknown; origin?: string; /** The input's revision after this change. */ rev?: number }
  | { type: "selection-changed"; sheetId: string; nodeId: string; resultId: string | null; result?: ResultRecord }
  | {
      type: "freshness-changed";
      sheetId: string;
      /** Only the nodes and edges whose freshness changed. */
      nodes: Record<string, Freshness>;
      edges: Record<string, boolean>;
    };

export type EngineEventType = EngineEvent["type"];

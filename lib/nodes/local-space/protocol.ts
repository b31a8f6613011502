/**
 * What a local app is (its spec and key), what a node sees of it (a handle), and the
 * messages by which `daggr dev`'s app processes use the apps the command runs.
 */
import { createHash } from "node:crypto";
import type { DaggrError, DaggrErrorDetails, ErrorCode } from "../../graph/index.js";
import type { Progress } from "../../engine/events.js";

/** What a node sees of a local app, whether this process runs it or (under `daggr dev`) the command does. */
export interface Handle {
  id: string;
  key: string;
  /** Resolves when the app is ready (or settles as failed). */
  ready: Promise<void>;
  failure?: DaggrError;
  stage: Progress;
  phase: "preparing" | "ready" | "failed";
  listeners: Set<(p: Progress) => void>;
  restarts: number;
  /** Bumped at every crash, so an execution that began on an earlier run of the app knows. */
  generation: number;
  lastExit?: string;
  /** Once ready: the app's URL, and a signal aborted (E_LOCAL_FAILED) when it exits. */
  url?: string;
  lost?: AbortSignal;
  logPath?: string;
  /** The commit the local copy is at. */
  revision?: string;
}

/** What to run: the Space, its revision and environment (these make its key), how to check it. */
export interface LocalSpec {
  id: string;
  revision?: string;
  /** `localEnv` resolved to `NAME=value` entries (a name not set in the environment is left out). */
  env: string[];
  home: string;
  port?: number;
  logMaxBytes?: number;
}

/** Endpoint names the app must serve, and whether exactly those. */
export interface Expected {
  expect: string[];
  exact: boolean;
}

/** The app's key: Space, revision and a hash of its environment's values (no secret in it). */
export function keyOf(spec: LocalSpec): string {
  const env = spec.env.length ? `#${createHash("sha256").update([...spec.env].sort().join("\0")).digest("hex").slice(0, 12)}` : "";
  return `${spec.id}@${spec.revision ?? "head"}${env}`;
}

/** App process → command: run (or keep running) this app and send me its state. */
export interface EnsureMessage {
  type: "local-space";
  op: "ensure";
  spec: LocalSpec;
  expected: Expected;
}

/** Command → app process: the app's state, at once and after every change. */
export interface StateMessage {
  type: "local-space";
  op: "state";
  key: string;
  stage: Progress;
  phase: Handle["phase"];
  generation: number;
  restarts: number;
  lastExit?: string;
  url?: string;
  logPath?: string;
  revision?: string;
  failure?: { code: ErrorCode; message: string; details: DaggrErrorDetails };
}

/** The state message of a handle. */
export function stateOf(h: Handle): StateMessage {
  return {
    type: "local-space",
    op: "state",
    key: h.key,
    stage: h.stage,
    phase: h.phase,
    generation: h.generation,
    restarts: h.restarts,
    ...(h.lastExit ? { lastExit: h.lastExit } : {}),
    ...(h.url ? { url: h.url } : {}),
    ...(h.logPath ? { logPath: h.logPath } : {}),
    ...(h.revision ? { revision: h.revision } : {}),
    ...(h.failure ? { failure: { code: h.failure.code, message: h.failure.message, details: h.failure.details } } : {}),
  };
}

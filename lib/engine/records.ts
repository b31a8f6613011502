/** How an execution ended. A `const` object plus a derived union, as `@lit/task` does. */
export const ResultStatus = {
  SUCCESS: "success",
  FAILED: "failed",
  CANCELLED: "cancelled",
  /** In flight when the process died; set by recovery, never by a live run. */
  INTERRUPTED: "interrupted",
  /** Not run because a branch routed elsewhere (or everything it reads was skipped). Neither stale nor failed. */
  SKIPPED: "skipped",
} as const;
export type ResultStatus = (typeof ResultStatus)[keyof typeof ResultStatus];

export interface ResultError {
  code?: string;
  message: string;
  /** Extra facts for the user (retry time of a quota error, the Space's status…). */
  details?: Record<string, unknown>;
}

/**
 * One execution of one node: what went in, what came out, and where it came from.
 * `upstream` maps each wired input port to the id of the result it consumed, which is
 * the provenance chain that restoring an old result walks.
 */
/**
 * Where a remote node's outputs came from: the Space (or app URL) or model, its revision
 * (commit sha) when the Hub tells, and for a `runLocally` Space whether the copy on this
 * machine served it or the remote one (and why the local one was not used).
 */
export interface Origin {
  /** A Hub Space or model (whose revision daggr tracks), or another app (a URL). */
  kind?: "space" | "model";
  remote: string;
  revision?: string;
  via?: "local" | "remote";
  /** Why a `runLocally` node used the remote app. */
  fallback?: string;
}

export interface ResultRecord {
  id: string;
  nodeId: string;
  sheetId: string;
  runId: string;
  /** The recipe key, computed before executing (see `recipe-key.ts`). */
  key: string;
  /** The node's own resolved inputs: component, fixed and realised function values. */
  inputs: Record<string, unknown>;
  /** Wired input port → id of the upstream result consumed. */
  upstream: Record<string, string>;
  outputs: Record<string, unknown>;
  /** Content hash of each output value; what downstream recipe keys are made of. */
  outputHashes: Record<string, string>;
  status: ResultStatus;
  error?: ResultError;
  startedAt: number;
  ms: number;
  /** Ids of files in the files store that this result references (inputs and outputs). */
  files: string[];
  /** When a backup node produced the outputs, its id. */
  servedBy?: string;
  /** Which remote app or model made the outputs, at which revision, and how (see {@link Origin}). */
  origin?: Origin;
  /**
   * Set on a result the user made by editing one item of a list output on the canvas
   * (`session.editItem`): the result it copies, the port and the item's index. It keeps
   * that result's key, inputs and upstream; only the one item differs.
   */
  edited?: { from: string; port: string; index: number };
  /**
   * For a mapped node (scatter), one entry per list item, in order. The record's
   * `outputs` then hold, per port, the list of item values (null for a failed item).
   */
  items?: ItemResult[];
}

/**
 * One item of a mapped node's execution: its own key, inputs (the scattered values),
 * outputs, status and timing — the per-execution fields of a result record.
 */
export type ItemResult = Pick<ResultRecord, "key" | "inputs" | "outputs" | "outputHashes" | "status" | "error" | "startedAt" | "ms">;

/** Run records track a run as a whole, so recovery can mark what a crash cut short. */
export const RunStatus = {
  RUNNING: "running",
  DONE: "done",
  FAILED: "failed",
  CANCELLED: "cancelled",
  INTERRUPTED: "interrupted",
} as const;
export type RunStatus = (typeof RunStatus)[keyof typeof RunStatus];

export const RunMode = { STEP: "step", TO_HERE: "to-here", ALL: "all", AUTO: "auto" } as const;
export type RunMode = (typeof RunMode)[keyof typeof RunMode];

export interface RunRecord {
  id: string;
  sheetId: string;
  mode: RunMode;
  target?: string;
  nodes: string[];
  status: RunStatus;
  startedAt: number;
  finishedAt?: number;
  /** Nodes that started executing in this run so far (recovery marks those without a result interrupted). */
  started?: string[];
}

let counter = 0;
let lastMs = -1;
/** The base-36 digits of the current millisecond, as character codes. */
const stamp = new Uint8Array(9);
const DIGIT = Uint8Array.from("0123456789abcdefghijklmnopqrstuvwxyz", (c) => c.charCodeAt(0));
/**
 * Ids that sort by creation time (nine base-36 digits of the milliseconds, then three of
 * a counter), so stores can page history newest-first by key order; four random base-36
 * digits end them. `now` is the creation time when the caller has just read the clock.
 * The id is written from character codes in one call, a flat string at once: a chain of
 * concatenations would stay a tree of its parts, and flattening it (`normalize`) cost
 * five times the rest; one is made per node execution.
 */
export function newId(prefix: string, now = Date.now()): string {
  // The engine's prefixes are one letter (x, r, s, j); any other is joined in front.
  if (prefix.length !== 1) return prefix + newId("-", now).slice(1);
  const c = (counter = (counter + 1) % 46656);
  if (now !== lastMs) {
    lastMs = now;
    for (let i = 8, t = now; i >= 0; i--, t = Math.floor(t / 36)) stamp[i] = DIGIT[t % 36]!;
  }
  const r = Math.floor(Math.random() * 1679616);
  return String.fromCharCode(
    prefix.charCodeAt(0), stamp[0]!, stamp[1]!, stamp[2]!, stamp[3]!, stamp[4]!, stamp[5]!, stamp[6]!, stamp[7]!, stamp[8]!,
    DIGIT[Math.floor(c / 1296)]!, DIGIT[Math.floor(c / 36) % 36]!, DIGIT[c % 36]!,
    DIGIT[Math.floor(r / 46656)]!, DIGIT[Math.floor(r / 1296) % 36]!, DIGIT[Math.floor(r / 36) % 36]!, DIGIT[r % 36]!,
  );
}

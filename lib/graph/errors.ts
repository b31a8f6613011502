import { closest, distance } from "fastest-levenshtein";

/**
 * Every mistake daggr can detect has a stable code. `docs/errors.md` lists each code
 * with its cause and fix; the message names the offending value, the valid choices and
 * the nearest one, so both a person and an AI assistant can fix it from the text alone.
 */
export const ErrorCode = {
  GRAPH_NAME_REQUIRED: "E_GRAPH_NAME_REQUIRED",
  DUPLICATE_NODE: "E_DUPLICATE_NODE",
  CYCLE: "E_CYCLE",
  UNKNOWN_PORT: "E_UNKNOWN_PORT",
  UNKNOWN_NODE: "E_UNKNOWN_NODE",
  UNKNOWN_OPTION: "E_UNKNOWN_OPTION",
  BAD_OPTION: "E_BAD_OPTION",
  BAD_INPUT: "E_BAD_INPUT",
  NOT_EDITABLE: "E_NOT_EDITABLE",
  OUTPUT_KEY: "E_OUTPUT_KEY",
  OUTPUT_MISSING: "E_OUTPUT_MISSING",
  NO_EXECUTOR: "E_NO_EXECUTOR",
  UPSTREAM_MISSING: "E_UPSTREAM_MISSING",
  UPSTREAM_FAILED: "E_UPSTREAM_FAILED",
  CANCELLED: "E_CANCELLED",
  NODE_FAILED: "E_NODE_FAILED",
  UNKNOWN_INPUT_ID: "E_UNKNOWN_INPUT_ID",
  UNKNOWN_SUBGRAPH: "E_UNKNOWN_SUBGRAPH",
  AMBIGUOUS_SUBGRAPH: "E_AMBIGUOUS_SUBGRAPH",
  UNKNOWN_SHEET: "E_UNKNOWN_SHEET",
  UNKNOWN_RESULT: "E_UNKNOWN_RESULT",
  NO_RUNTIME: "E_NO_RUNTIME",
  TIMEOUT: "E_TIMEOUT",
  ITEMS_FAILED: "E_ITEMS_FAILED",
  GATHER_FAILED: "E_GATHER_FAILED",
  SCATTER_MISMATCH: "E_SCATTER_MISMATCH",
  // Remote nodes (GradioNode, InferenceNode)
  UNKNOWN_ENDPOINT: "E_UNKNOWN_ENDPOINT",
  UNKNOWN_PARAM: "E_UNKNOWN_PARAM",
  MISSING_PARAM: "E_MISSING_PARAM",
  OUTPUT_COUNT: "E_OUTPUT_COUNT",
  UNSUPPORTED_TASK: "E_UNSUPPORTED_TASK",
  REMOTE_NOT_FOUND: "E_REMOTE_NOT_FOUND",
  REMOTE_AUTH: "E_REMOTE_AUTH",
  REMOTE_UNAVAILABLE: "E_REMOTE_UNAVAILABLE",
  REMOTE_FAILED: "E_REMOTE_FAILED",
  RATE_LIMITED: "E_RATE_LIMITED",
  QUOTA_EXCEEDED: "E_QUOTA_EXCEEDED",
  NETWORK: "E_NETWORK",
  FILE_TOO_LARGE: "E_FILE_TOO_LARGE",
  URL_REFUSED: "E_URL_REFUSED",
  IDLE_TIMEOUT: "E_IDLE_TIMEOUT",
  REMOTE_VALIDATION: "E_REMOTE_VALIDATION",
  REMOTE_ROOT: "E_REMOTE_ROOT",
  REMOTE_OUTPUT: "E_REMOTE_OUTPUT",
  REMOTE_FILE_GONE: "E_REMOTE_FILE_GONE",
  /** A Space run with `runLocally` could not be prepared or started, or crashed (and no fallback). */
  LOCAL_FAILED: "E_LOCAL_FAILED",
  // Queue mode (BullMQ workers)
  /** Redis could not be reached, or the app's queue is closed. */
  QUEUE_UNAVAILABLE: "E_QUEUE_UNAVAILABLE",
  /** A worker's copy of the app differs from the main process's (node fingerprint, or a node it lacks). */
  QUEUE_VERSION: "E_QUEUE_VERSION",
  /** The worker running a node died (or lost its job lock) more often than the queue retries. */
  WORKER_LOST: "E_WORKER_LOST",
  /** DAGGR_DEPENDENCY_CHECK=error and a Space or model changed since the stored results were made. */
  UPSTREAM_CHANGED: "E_UPSTREAM_CHANGED",
  // Persistence and editing
  /** An edit named a revision of the input other than the current one (another tab changed it). */
  INPUT_CONFLICT: "E_INPUT_CONFLICT",
  // Sharing and deploying
  /** `share: true` could not open a public link: the share server, the frpc binary (download, checksum) or the tunnel failed. */
  SHARE_FAILED: "E_SHARE_FAILED",
  /** `daggr deploy` could not create or update the Space (the Hub refused, a secret is not set, the app is missing). */
  DEPLOY_FAILED: "E_DEPLOY_FAILED",
  // A clone's build
  /** In a clone, dist/ is older than lib/ or elements/ and could not be rebuilt (read-only, no build tools, a failing build; or an `import "daggr"`, which cannot rebuild). */
  STALE_BUILD: "E_STALE_BUILD",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface DaggrErrorDetails {
  /** The name the user wrote, when the error is about a name. */
  got?: string;
  /** The names that would have been valid. */
  choices?: readonly string[];
  /** The valid name nearest to `got`, when one is close enough to be a likely typo. */
  nearest?: string;
  [extra: string]: unknown;
}

/** An error with a stable `code`, raised for every mistake daggr can name. */
export class DaggrError extends Error {
  override name = "DaggrError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: DaggrErrorDetails = {},
  ) {
    super(`[${code}] ${message}`);
  }

  toJSON() {
    return { code: this.code, message: this.message, ...this.details };
  }
}

/**
 * The valid choice nearest to `got`, or undefined when none is close enough to be a typo
 * (more than about a third of the word would have to change).
 */
export function nearestChoice(got: string, choices: readonly string[]): string | undefined {
  if (choices.length === 0) return undefined;
  const lower = got.toLowerCase();
  const exactish = choices.find((c) => c.toLowerCase() === lower);
  if (exactish) return exactish;
  const best = closest(got, choices as string[]);
  const limit = Math.max(2, Math.ceil(Math.max(got.length, best.length) / 3));
  return distance(got.toLowerCase(), best.toLowerCase()) <= limit ? best : undefined;
}

/** Choices ordered nearest first, for listings such as "valid endpoints: …". */
export function byNearness(got: string, choices: readonly string[]): string[] {
  return [...choices].sort((a, b) => distance(got, a) - distance(got, b) || a.localeCompare(b));
}

/**
 * Builds the error for an unknown name: `what` is the kind of thing ("output port of
 * node 'gen'"), `got` the bad name, `choices` the valid ones. A `{}` in `what` says where
 * the name goes ("output port {} of node 'gen'" → "Unknown output port 'imgae' of node
 * 'gen'"), so it is not read as part of the owner's name; without one it ends the phrase.
 */
export function unknownName(
  code: ErrorCode,
  what: string,
  got: string,
  choices: readonly string[],
  hint?: string,
): DaggrError {
  const nearest = nearestChoice(got, choices);
  const list = choices.length ? byNearness(got, choices).map((c) => `'${c}'`).join(", ") : "(none)";
  const mean = nearest ? ` Did you mean '${nearest}'?` : "";
  const tail = hint ? ` ${hint}` : "";
  const phrase = what.includes("{}") ? what.replace("{}", `'${got}'`) : `${what} '${got}'`;
  return new DaggrError(code, `Unknown ${phrase}.${mean} Valid choices: ${list}.${tail}`, {
    got,
    choices: [...choices],
    nearest,
  });
}

/** Throws E_UNKNOWN_OPTION when `opts` has a key outside `allowed`. */
export function checkOptions(where: string, opts: object | undefined, allowed: readonly string[]): void {
  if (!opts) return;
  for (const key of Object.keys(opts)) {
    if (!allowed.includes(key)) throw unknownName(ErrorCode.UNKNOWN_OPTION, `option {} of ${where}`, key, allowed);
  }
}

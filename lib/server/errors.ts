import { DaggrError, ErrorCode } from "../graph/index.js";
import { type ErrorCodeWire, WireErrorCode } from "../protocol.js";

/** A protocol-level error: a coded message for the client, never a crash. */
export class WireError extends Error {
  constructor(
    readonly code: WireErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export interface ErrorPayload {
  code: ErrorCodeWire;
  message: string;
  details?: Record<string, unknown>;
}

/** Any thrown value as `{ code, message, details }`: coded errors keep their code, the rest are E_INTERNAL. */
export function errorPayload(e: unknown): ErrorPayload {
  if (e instanceof WireError || e instanceof DaggrError) {
    const details = Object.fromEntries(Object.entries(e.details).filter(([, v]) => v !== undefined));
    return { code: e.code, message: e.message, ...(Object.keys(details).length ? { details } : {}) };
  }
  return { code: WireErrorCode.INTERNAL, message: e instanceof Error ? e.message : String(e) };
}

/** The HTTP status a coded error maps to. */
export function statusOf(code: string): number {
  switch (code) {
    case ErrorCode.UNKNOWN_SUBGRAPH:
      return 404;
    case WireErrorCode.TOO_MANY_MESSAGES:
      return 429;
    case WireErrorCode.RUN_QUEUE_FULL:
      return 503;
    case ErrorCode.NODE_FAILED:
    case WireErrorCode.INTERNAL:
      return 500;
    default:
      return 400;
  }
}

import { DaggrError, ErrorCode } from "../graph/index.js";
import type { Progress } from "../engine/events.js";

/**
 * Timing knobs of remote calls. Production values; tests shrink them (the only reason
 * they are mutable).
 */
export const remoteTiming = {
  /** First backoff step; attempt n waits about base·2ⁿ, jittered. */
  backoffBaseMs: 500,
  backoffMaxMs: 30_000,
  /** A Retry-After longer than this is not waited for: the error shows when to retry. */
  maxRetryAfterMs: 120_000,
  /** Polling of a waking Space or a loading model: first interval, growing to the max. */
  pollMs: 1_000,
  maxPollMs: 10_000,
};

/** Default retry budget and deadlines (overridable per node, see `RemoteOptions`). */
export const REMOTE_DEFAULTS = { retries: 3, wakeTimeoutMs: 5 * 60_000, maxFileBytes: 512 * 1024 * 1024, inactivityMs: 5 * 60_000 } as const;

/**
 * A failure worth another attempt (429, a dropped connection, a busy queue). `error` is
 * what the user sees when the attempts run out; `retryAfterMs` comes from the server.
 */
export class RetryableError extends Error {
  constructor(
    readonly error: DaggrError,
    readonly retryAfterMs?: number,
    /** Whether the cached connection should be dropped before the next attempt. */
    readonly reconnect = false,
  ) {
    super(error.message);
  }
}

/** Parses `Retry-After` (seconds or an HTTP date) into milliseconds. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const s = value.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000);
  const at = Date.parse(s);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Exponential backoff with "equal jitter": half fixed, half random, so retries spread out. */
export function backoffMs(attempt: number, random = Math.random): number {
  const step = Math.min(remoteTiming.backoffMaxMs, remoteTiming.backoffBaseMs * 2 ** attempt);
  return Math.round(step / 2 + random() * (step / 2));
}

/** Resolves after `ms`, or rejects with the abort error as soon as the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Settles with the promise, or rejects with the signal's reason when it aborts first. */
export function raceSignal<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => (signal.removeEventListener("abort", onAbort), resolve(v)),
      (e) => (signal.removeEventListener("abort", onAbort), reject(e)),
    );
  });
}

/**
 * The error to throw when a call stops because its signal aborted: the engine's own
 * reason when it gave a DaggrError, a timeout error for `AbortSignal.timeout`, else a
 * cancellation naming the call.
 */
export function abortError(signal: AbortSignal, label: string): DaggrError {
  const r = signal.reason as { name?: string } | undefined;
  if (r instanceof DaggrError) return r;
  if (r?.name === "TimeoutError") return new DaggrError(ErrorCode.TIMEOUT, `${label} timed out; the remote job was cancelled.`);
  return new DaggrError(ErrorCode.CANCELLED, `${label} was cancelled; the remote job was cancelled too.`);
}

export interface RetryOptions {
  retries: number;
  signal: AbortSignal;
  label: string;
  progress?: (p: Progress) => void;
  /** Called before each new attempt after a retryable failure. */
  onRetry?: (e: RetryableError) => void;
}

/**
 * Runs `attempt` until it succeeds, throws a non-retryable error, or the retry budget is
 * spent. Waits honour `Retry-After` when the server gave one, jittered backoff otherwise;
 * a Retry-After longer than `remoteTiming.maxRetryAfterMs` ends the attempts at once,
 * with the retry time in the error.
 */
export async function withRetries<T>(attempt: (n: number) => Promise<T>, o: RetryOptions): Promise<T> {
  for (let n = 0; ; n++) {
    try {
      if (o.signal.aborted) throw abortError(o.signal, o.label);
      return await attempt(n);
    } catch (e) {
      if (o.signal.aborted) throw abortError(o.signal, o.label);
      if (!(e instanceof RetryableError)) throw e;
      const tooLong = e.retryAfterMs !== undefined && e.retryAfterMs > remoteTiming.maxRetryAfterMs;
      if (n >= o.retries || tooLong) {
        const extra = n > 0 ? ` (after ${n + 1} attempts)` : "";
        const when = e.retryAfterMs !== undefined ? ` The server asks to retry in ${Math.ceil(e.retryAfterMs / 1000)} s.` : "";
        const hint = typeof e.error.details.hint === "string" ? ` ${e.error.details.hint}` : "";
        throw new DaggrError(e.error.code, `${stripCode(e.error.message)}${extra}.${when}${hint}`.replace(/\.\./g, "."), {
          ...e.error.details,
          attempts: n + 1,
          ...(e.retryAfterMs !== undefined ? { retryAfterMs: e.retryAfterMs, retryAt: new Date(Date.now() + e.retryAfterMs).toISOString() } : {}),
        });
      }
      o.onRetry?.(e);
      const wait = e.retryAfterMs !== undefined ? e.retryAfterMs + Math.round(Math.random() * Math.min(1000, e.retryAfterMs * 0.1)) : backoffMs(n);
      o.progress?.({ text: `${stripCode(e.error.message)} — retry ${n + 1}/${o.retries} in ${(wait / 1000).toFixed(1)} s` });
      try {
        await sleep(wait, o.signal);
      } catch {
        throw abortError(o.signal, o.label);
      }
    }
  }
}

/** A message without its leading `[E_CODE] `. */
export function stripCode(message: string): string {
  return message.replace(/^\[E_[A-Z_]+\]\s*/, "");
}

/**
 * A network failure in the socket's own words ("getaddrinfo ENOTFOUND huggingface.co",
 * "connect ECONNREFUSED 127.0.0.1:7860"), not fetch's bare "fetch failed".
 */
export function networkCause(e: unknown): string {
  const err = e as { message?: string; cause?: { code?: string; message?: string } } | undefined;
  return err?.cause?.message?.trim() || err?.cause?.code || String(err?.message ?? e).trim();
}

/**
 * What to do about a network failure, by its kind: the last sentence of the E_NETWORK
 * error once the attempts run out (kept in its details as `hint`).
 */
export function networkHint(e: unknown): string {
  const code = (e as { cause?: { code?: string } } | undefined)?.cause?.code ?? "";
  if (/^(ENOTFOUND|EAI_AGAIN)$/.test(code)) return "The host name could not be looked up: is this machine offline, or does it need a proxy? Run the node again (▶) once the network is back.";
  if (code === "ECONNREFUSED") return "Nothing accepts connections at that address: is the app running there?";
  return "Check the network connection, then run the node again (▶).";
}

/** Whether an error looks like a dropped connection or DNS/socket failure. */
export function isNetworkError(e: unknown): boolean {
  const err = e as { name?: string; message?: string; cause?: { code?: string } } | undefined;
  if (!err) return false;
  if (err.name === "AbortError") return false;
  const code = err.cause?.code ?? "";
  return (
    (err.name === "TypeError" && /fetch failed|network|socket/i.test(err.message ?? "")) ||
    /^(ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN|UND_ERR_)/.test(code)
  );
}

import { DaggrError, ErrorCode } from "../graph/index.js";
import type { Progress } from "../engine/events.js";
import { scopedFetch } from "./hf-download.js";
import { spaceOrigin } from "./hf-token.js";
import { RetryableError, isNetworkError, networkCause, networkHint, remoteTiming, sleep } from "./hf-retry.js";

/** `runtime.stage` values of a Space, grouped by what daggr does about them. */
const RUNNING = new Set(["RUNNING", "RUNNING_BUILDING", "RUNNING_APP_STARTING"]);
const ASLEEP = new Set(["SLEEPING", "STOPPED"]);
const STARTING = new Set(["BUILDING", "APP_STARTING", "RUNNING_APP_STARTING"]);

export interface SpaceRuntime {
  stage: string;
  /** `https://owner-name.hf.space` */
  host?: string;
  errorMessage?: string;
}

/** Reads a Space's runtime stage from the Hub (`GET /api/spaces/{id}`). */
export async function spaceRuntime(id: string, token: string | undefined, signal?: AbortSignal): Promise<SpaceRuntime> {
  const url = `https://huggingface.co/api/spaces/${id}`;
  let res: Response;
  try {
    res = await scopedFetch(url, { token, signal });
  } catch (e) {
    if (signal?.aborted) throw e;
    if (isNetworkError(e)) {
      throw new RetryableError(new DaggrError(ErrorCode.NETWORK, `Space '${id}': the Hugging Face Hub could not be reached to check its status (${networkCause(e)})`, { hint: networkHint(e) }), undefined, true);
    }
    throw e;
  }
  if (res.status === 404) {
    throw new DaggrError(ErrorCode.REMOTE_NOT_FOUND, `Space '${id}' was not found on the Hugging Face Hub. Check the spelling (owner/name); a private Space also needs HF_TOKEN.`, { space: id, status: 404 });
  }
  if (res.status === 401 || res.status === 403) {
    throw new DaggrError(
      ErrorCode.REMOTE_AUTH,
      token
        ? `Space '${id}' is not accessible with your Hugging Face token (HTTP ${res.status}). Check that the token can read this Space.`
        : `Space '${id}' needs a Hugging Face token (HTTP ${res.status}): it may be private or gated. Set HF_TOKEN or run \`hf auth login\`.`,
      { space: id, status: res.status },
    );
  }
  if (!res.ok) {
    const e = new DaggrError(ErrorCode.NETWORK, `Space '${id}': the Hugging Face Hub answered HTTP ${res.status} when asked for its status`, { space: id, status: res.status });
    if (res.status >= 500 || res.status === 429) throw new RetryableError(e, undefined, true);
    throw e;
  }
  const info = (await res.json().catch(() => ({}))) as { host?: string; runtime?: { stage?: string; errorMessage?: string } };
  return { stage: info.runtime?.stage ?? "RUNNING", host: info.host, errorMessage: info.runtime?.errorMessage };
}

export interface WaitOptions {
  token?: string;
  signal: AbortSignal;
  /** Give up waiting for a sleeping or building Space after this long. */
  wakeTimeoutMs: number;
  progress?: (p: Progress) => void;
}

/**
 * Returns once the Space is running. A sleeping Space is woken (one request to its host)
 * and, like a building or starting one, polled with growing intervals up to the
 * deadline; a paused or broken Space fails at once with its stage and error message.
 */
export async function waitForSpace(id: string, o: WaitOptions): Promise<void> {
  const start = Date.now();
  let interval = remoteTiming.pollMs;
  let kicked = false;
  for (;;) {
    const rt = await spaceRuntime(id, o.token, o.signal);
    const { stage } = rt;
    if (RUNNING.has(stage)) return;
    if (stage === "PAUSED") {
      throw new DaggrError(
        ErrorCode.REMOTE_UNAVAILABLE,
        `Space '${id}' is paused by its author (stage PAUSED), so it cannot run. Duplicate it to your account or ask the author to restart it, or give the node a backup with .fallback().`,
        { space: id, stage },
      );
    }
    if (!ASLEEP.has(stage) && !STARTING.has(stage)) {
      const why = rt.errorMessage ? `: ${rt.errorMessage.slice(0, 500)}` : "";
      throw new DaggrError(ErrorCode.REMOTE_UNAVAILABLE, `Space '${id}' is not running (stage ${stage})${why}. Its author has to fix it; see https://huggingface.co/spaces/${id}.`, {
        space: id,
        stage,
      });
    }
    const waited = Date.now() - start;
    if (waited >= o.wakeTimeoutMs) {
      throw new DaggrError(
        ErrorCode.REMOTE_UNAVAILABLE,
        `Space '${id}' is still ${stage} after ${Math.round(waited / 1000)} s (wakeTimeoutMs is ${o.wakeTimeoutMs} ms). Try again later or raise wakeTimeoutMs.`,
        { space: id, stage },
      );
    }
    if (ASLEEP.has(stage) && !kicked && rt.host) {
      kicked = true;
      // A request to a sleeping Space's host is what wakes it up.
      void scopedFetch(rt.host, { token: o.token, signal: o.signal, appOrigin: spaceOrigin(rt.host), label: `Space '${id}'` }).then((r) => r.body?.cancel(), () => {});
    }
    const what = ASLEEP.has(stage) ? "is asleep; waking it up" : stage === "BUILDING" ? "is building" : "is starting";
    o.progress?.({ text: `Space ${what} (${Math.round(waited / 1000)} s)` });
    await sleep(Math.min(interval, Math.max(0, o.wakeTimeoutMs - waited)), o.signal);
    interval = Math.min(remoteTiming.maxPollMs, Math.round(interval * 1.5));
  }
}

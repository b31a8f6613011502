import { DaggrError, ErrorCode, isFileComponent, type GradioNode } from "../graph/index.js";
import type { ExecContext, Executor, MetaCache } from "../engine/executor.js";
import type { Progress } from "../engine/events.js";
import { type ApiSummary, type EndpointSummary, apiCacheKey, cachedApi, checkNode, checkParams, endpointOf, summariseApi } from "./gradio-api.js";
import { CANCELLED_BY_SERVER, type CallState, type DaggrClient, appLabel, callState, evictClient, getClient } from "./gradio-client.js";
import { prepareInputs, processOutputs } from "./gradio-files.js";
import { REMOTE_DEFAULTS, RetryableError, abortError, withRetries } from "./hf-retry.js";
import { hfToken, redactError } from "./hf-token.js";
import { type LocalTarget, localTarget, startLocal } from "./local-space/index.js";
import { headRevision, noteRevision, remoteOf, settledSoon } from "./upstream.js";

/** The API summary of each connected app client; `cached` once written to the cache. */
const summaries = new WeakMap<DaggrClient, { api: ApiSummary; cached: boolean }>();

function summaryOf(client: DaggrClient): { api: ApiSummary; cached: boolean } {
  let s = summaries.get(client);
  if (!s) summaries.set(client, (s = { api: summariseApi(client.api_info as never, client.rawInfo, client.config), cached: false }));
  return s;
}

/**
 * Runs GradioNodes on `@gradio/client`. One connection per (app, token) is reused for
 * its config and API description; each job runs in a session of its own (its own
 * `session_hash`, so `gr.State`, the queue and `/cancel` are never shared with another
 * job, run or sheet), closed with its streams when the job ends. The endpoint's return
 * tuple maps to the outputs in order (`positional`). Queue position, ETA and progress
 * reach `ctx.progress`, generator steps `ctx.partial`; cancelling the signal cancels the
 * remote job. 429s, busy queues and dropped connections are retried with jittered
 * backoff (honouring Retry-After); ZeroGPU quota errors are not.
 *
 * @example
 * registerExecutor(NodeKind.GRADIO, gradioExecutor);
 */
export const gradioExecutor: Executor<GradioNode> = {
  positional: true,
  inactivityMs: REMOTE_DEFAULTS.inactivityMs,

  async validate(node, { cache, signal }) {
    if (node.gradioOptions.runLocally) startLocal(node, { cache });
    if (node.gradioOptions.validate === false) return;
    const token = hfToken();
    const ac = signal ?? new AbortController().signal;
    try {
      const cached = await cachedApi(cache, node.space);
      const api = cached ?? (await fetchApi(node, token, ac, cache));
      try {
        checkNode(node, api);
      } catch (e) {
        // The app may have changed since it was cached: check against a fresh copy before failing.
        if (!cached) throw e;
        checkNode(node, await fetchApi(node, token, ac, cache));
      }
    } catch (e) {
      throw redactError(e, token);
    }
  },

  async execute(node, inputs, ctx) {
    const token = hfToken();
    const opts = node.gradioOptions;
    const label = `${appLabel(node.space)} endpoint '${node.apiName}'`;
    // The Space's revision, asked of the Hub while the job runs (a remote run; a local copy knows its own).
    const remote = remoteOf(node);
    let revision: Promise<string | undefined> | undefined;
    let local: LocalTarget | undefined;
    try {
      const out = await withRetries(
        async () => {
          // runLocally: the local app (no token sent to it), or the remote Space as its fallback.
          local = opts.runLocally ? await localTarget(node, ctx) : undefined;
          if (remote && !local?.local) revision ??= headRevision("space", remote.id);
          const [app, tok, jobCtx] = local?.local ? [local.app, undefined, local.ctx] : [node.space, token, ctx];
          const client = await getClient(app, tok, {
            signal: ctx.signal,
            wakeTimeoutMs: opts.wakeTimeoutMs ?? REMOTE_DEFAULTS.wakeTimeoutMs,
            progress: (p) => ctx.progress(p),
          });
          const summary = summaryOf(client);
          if (!summary.cached) {
            summary.cached = true;
            await ctx.cache.set(apiCacheKey(node.space), summary.api).catch(() => {});
          }
          const ep = endpointOf(summary.api, node);
          checkParams(node, ep, Object.keys(inputs));
          const session = client.session();
          const state: CallState = { signal: jobCtx.signal };
          try {
            const data = await callState.run(state, () => prepareInputs(node, ep, inputs, { ctx: jobCtx, upload: (f) => upload(session, f, label) }));
            return await runJob(session, node, ep, data, jobCtx, state, { token: tok, label, maxBytes: opts.maxFileBytes ?? REMOTE_DEFAULTS.maxFileBytes });
          } catch (e) {
            if (e instanceof RetryableError && e.reconnect) evictClient(app, tok, client);
            throw e;
          } finally {
            session.close();
          }
        },
        { retries: opts.retries ?? REMOTE_DEFAULTS.retries, signal: ctx.signal, label, progress: (p) => ctx.progress(p) },
      );
      await reportOrigin(ctx, node.space, local?.local ? local.revision : await settledSoon(revision), opts.runLocally ? local : undefined, !!remote);
      return out;
    } catch (e) {
      throw redactError(e, token);
    }
  },
};

/** Records where a result came from on it (see `Origin`), and the revision for the start-up check. */
async function reportOrigin(ctx: ExecContext, space: string, revision: string | undefined, local: LocalTarget | undefined, hub: boolean) {
  ctx.origin?.({
    ...(hub ? { kind: "space" as const } : {}),
    remote: space,
    ...(revision ? { revision } : {}),
    ...(local ? { via: local.local ? ("local" as const) : ("remote" as const), ...(local.reason ? { fallback: local.reason } : {}) } : {}),
  });
  if (hub) await noteRevision(ctx.cache, "space", space, revision);
}

async function fetchApi(node: GradioNode, token: string | undefined, signal: AbortSignal, cache: MetaCache): Promise<ApiSummary> {
  const client = await withRetries(
    () => getClient(node.space, token, { signal, wakeTimeoutMs: node.gradioOptions.wakeTimeoutMs ?? REMOTE_DEFAULTS.wakeTimeoutMs }),
    { retries: node.gradioOptions.retries ?? REMOTE_DEFAULTS.retries, signal, label: appLabel(node.space) },
  );
  const summary = summaryOf(client);
  summary.cached = true;
  await cache.set(apiCacheKey(node.space), summary.api).catch(() => {});
  return summary.api;
}

/** Uploads one input file in the job's session; a refused upload stops the job before it is sent. */
async function upload(session: DaggrClient, file: File, label: string): Promise<string> {
  let res: { files?: string[]; error?: string };
  try {
    res = await session.upload_files(session.config!.root, [file]);
  } catch (e) {
    // The client throws only when the request itself failed (connection refused, reset…).
    throw new RetryableError(new DaggrError(ErrorCode.NETWORK, `${label}: uploading an input file failed (${(e as Error).message.trim()})`));
  }
  const path = res.files?.[0];
  if (res.error || typeof path !== "string") {
    throw new DaggrError(ErrorCode.REMOTE_FAILED, `${label}: uploading an input file failed (${(res.error ?? "the app returned no path").slice(0, 300)}).`);
  }
  return path;
}

interface JobOptions {
  token: string | undefined;
  label: string;
  maxBytes: number;
}

interface StatusEvent {
  type: "status";
  stage: string;
  /** A string, except for a 422 validation answer, where it is the `detail` list. */
  message?: unknown;
  code?: string;
  title?: string;
  position?: number;
  size?: number;
  eta?: number | null;
  original_msg?: string;
  broken?: boolean;
  session_not_found?: boolean;
  progress_data?: Array<{ index: number | null; length: number | null; unit: string | null; progress: number | null; desc: string | null }>;
}

/** Submits one job in its session and follows it to the end. */
async function runJob(client: DaggrClient, node: GradioNode, ep: EndpointSummary, data: unknown[], ctx: ExecContext, state: CallState, o: JobOptions): Promise<unknown[]> {
  const endpoint = /^\/\d+$/.test(node.apiName) ? Number(node.apiName.slice(1)) : node.apiName;
  const job = callState.run(state, () => client.submit(endpoint, data, undefined, undefined, true));

  const onAbort = () => {
    // Cancel on the server too; before the join is answered there is no event id yet, and
    // `CallState.signal` keeps the join from being sent at all.
    // A join answered after the abort opens the session's stream again: the server ends
    // it once the cancel completes the job, and closing the session after the cancel
    // makes sure nothing stays open.
    void (async () => {
      const id = job.event_id() || (await job.wait_for_id().catch(() => null));
      if (id) await job.cancel().catch(() => {});
      client.close();
    })();
    void job.return?.(undefined);
  };
  ctx.signal.addEventListener("abort", onAbort, { once: true });
  // Every message on the app's stream (a heartbeat too) shows the connection is alive.
  const alive = () => ctx.alive?.();
  client.activity.add(alive);

  let last: unknown[] | undefined;
  let stage = "pending";
  let failure: StatusEvent | undefined;
  const seen = new Map<string, string>();
  // With postprocess, the user's code decides what reaches the ports.
  const filePorts = node.options.postprocess ? [] : Object.values(node.outputs).map((c) => isFileComponent(c));
  const outputOptions = {
    ctx, label: o.label, root: client.config?.root ?? node.space, apiPrefix: client.api_prefix ?? "", token: o.token,
    appOrigin: client.appOrigin, maxBytes: o.maxBytes, seen, filePorts,
  };
  try {
    for await (const ev of job as AsyncIterable<{ type: string } & Record<string, unknown>>) {
      if (ctx.signal.aborted) break;
      ctx.alive?.();
      if (ev.type === "status") {
        const s = ev as unknown as StatusEvent;
        stage = s.stage;
        if (s.stage === "error") {
          failure = s;
          break;
        }
        const p = progressOf(s);
        if (p) ctx.progress(p);
      } else if (ev.type === "data") {
        last = await processOutputs(ev.data as unknown[], ep, outputOptions);
        if (stage === "generating" || stage === "streaming") ctx.partial(last);
      } else if (ev.type === "log" && typeof ev.log === "string") {
        ctx.progress({ text: ev.log });
      }
    }
  } finally {
    client.activity.delete(alive);
    ctx.signal.removeEventListener("abort", onAbort);
  }
  if (ctx.signal.aborted) throw abortError(ctx.signal, o.label);
  if (failure) throw jobError(failure, state, o.label, !!o.token);
  if (last === undefined) throw new DaggrError(ErrorCode.REMOTE_FAILED, `${o.label} finished without returning any data.`);
  return last;
}

/** Queue position, ETA and progress bars as `Progress`. */
export function progressOf(s: StatusEvent): Progress | undefined {
  const pd = s.progress_data?.find((p) => p && (p.progress !== null || p.length));
  if (pd) {
    const fraction = pd.progress ?? (pd.length ? (pd.index ?? 0) / pd.length : undefined);
    const text = pd.desc ?? (pd.length ? `${pd.index ?? 0}/${pd.length}${pd.unit ? ` ${pd.unit}` : ""}` : undefined);
    return { ...(fraction !== undefined ? { fraction } : {}), ...(text ? { text } : {}) };
  }
  const eta = typeof s.eta === "number" ? { eta: s.eta } : {};
  // Out of the queue: no position (the card would read "Next in queue · Running").
  if (s.original_msg === "process_starts") return { text: "Running", ...eta };
  if (typeof s.position === "number") {
    const size = typeof s.size === "number" ? s.size : undefined;
    return {
      queuePosition: s.position,
      ...(size !== undefined ? { queueSize: size } : {}),
      ...eta,
      text: s.position > 0 ? `In queue: ${s.position + 1}${size ? ` of ${size}` : ""}` : "Next in queue",
    };
  }
  return undefined;
}

/** Turns the client's error status into a coded error, retryable when worth retrying. */
function jobError(s: StatusEvent, state: CallState, label: string, hasToken: boolean): Error {
  const join = state.joinStatus;
  if (state.refused) return state.refused;
  if (join === 422 || s.code === "validation_error" || Array.isArray(s.message)) return validationError(s.message, label);
  const msg = typeof s.message === "string" ? s.message.trim() : s.message == null ? "" : JSON.stringify(s.message);
  if (state.uploadError) return new DaggrError(ErrorCode.REMOTE_FAILED, `${label}: uploading an input file failed (${state.uploadError}).`);
  if (join === 429) return new RetryableError(new DaggrError(ErrorCode.RATE_LIMITED, `${label} is rate limited (HTTP 429${msg ? `: ${msg}` : ""})`, { status: 429 }), state.retryAfterMs);
  if (join === 503) return new RetryableError(new DaggrError(ErrorCode.RATE_LIMITED, `${label}: the app's queue is full (HTTP 503)`, { status: 503 }), state.retryAfterMs);
  if (join === 401 || join === 403) {
    return new DaggrError(ErrorCode.REMOTE_AUTH, `${label} refused the job (HTTP ${join}${msg ? `: ${msg}` : ""}).${hasToken ? "" : " Set HF_TOKEN if the app needs a signed-in user."}`, { status: join });
  }
  if (join !== undefined && join >= 500) return new RetryableError(new DaggrError(ErrorCode.NETWORK, `${label}: the app answered HTTP ${join} when the job was sent`, { status: join }), state.retryAfterMs, true);
  const quota = zeroGpuQuota(msg, s.title);
  if (quota) {
    const when = quota.retryInSeconds !== undefined ? ` Try again in ${human(quota.retryInSeconds)} (at ${new Date(Date.now() + quota.retryInSeconds * 1000).toISOString()}).` : "";
    const hint = hasToken ? "" : " Signing in (HF_TOKEN) gives a larger quota.";
    return new DaggrError(ErrorCode.QUOTA_EXCEEDED, `${label}: ZeroGPU quota exceeded — ${msg}.${when}${hint}`.replace(/\.\./g, "."), {
      ...(quota.retryInSeconds !== undefined ? { retryInSeconds: quota.retryInSeconds, retryAt: new Date(Date.now() + quota.retryInSeconds * 1000).toISOString() } : {}),
    });
  }
  if (s.broken || s.session_not_found || msg.startsWith("Connection errored out")) {
    return new RetryableError(new DaggrError(ErrorCode.NETWORK, `${label}: the connection to the app was lost (${msg || "stream closed"})`), undefined, true);
  }
  if (msg === CANCELLED_BY_SERVER) return new DaggrError(ErrorCode.REMOTE_FAILED, `${label}: the app cancelled the job.`);
  const title = s.title && s.title !== "Error" ? `${s.title}: ` : "";
  const hidden = msg === "An error occurred" ? " (the app hides its error details; its logs on the Space page may say more)" : "";
  return new DaggrError(ErrorCode.REMOTE_FAILED, `${label} failed: ${title}${msg || "unknown error"}${hidden}`);
}

/**
 * A 422 from `queue/join`: the endpoint's `validator` (`detail: [{__type__: "validate",
 * is_valid, message, parameter_name}, …]`, one entry per parameter) or the request
 * model (`detail: [{loc, msg}]`). Each rejection is listed with its parameter.
 */
function validationError(detail: unknown, label: string): DaggrError {
  const entries = Array.isArray(detail) ? detail : detail && typeof detail === "object" ? [detail] : [];
  const errors: Array<{ parameter?: string; message: string }> = [];
  for (const d of entries as Array<Record<string, unknown>>) {
    if (!d || typeof d !== "object" || d.is_valid === true) continue;
    if (typeof d.message === "string" || typeof d.parameter_name === "string") {
      errors.push({ ...(typeof d.parameter_name === "string" ? { parameter: d.parameter_name } : {}), message: String(d.message ?? "invalid") });
    } else if (typeof d.msg === "string") {
      errors.push({ ...(Array.isArray(d.loc) ? { parameter: d.loc.join(".") } : {}), message: d.msg });
    }
  }
  if (!errors.length && typeof detail === "string" && detail) errors.push({ message: detail });
  const listed = errors.map((e) => (e.parameter ? `'${e.parameter}': ${e.message}` : e.message)).join("; ");
  return new DaggrError(ErrorCode.REMOTE_VALIDATION, `${label} rejected the inputs (HTTP 422): ${listed || "no reason given"}.`, { status: 422, errors });
}

/** Recognises a ZeroGPU quota error and the wait it names ("Try again in 0:12:34"). */
export function zeroGpuQuota(message: string, title?: string): { retryInSeconds?: number } | undefined {
  const text = `${title ?? ""} ${message}`;
  if (!/GPU quota|ZeroGPU/i.test(text)) return undefined;
  const hms = /(?:try again|retry) (?:in|after) (?:(\d+):)?(\d{1,2}):(\d{2})/i.exec(text);
  if (hms) return { retryInSeconds: Number(hms[1] ?? 0) * 3600 + Number(hms[2]) * 60 + Number(hms[3]) };
  const unit = /(?:try again|retry) (?:in|after) (\d+)\s*(second|sec|s|minute|min|m|hour|h)\w*/i.exec(text);
  if (unit) {
    const n = Number(unit[1]);
    const u = unit[2]!.toLowerCase();
    return { retryInSeconds: u.startsWith("h") ? n * 3600 : u.startsWith("m") ? n * 60 : n };
  }
  return {};
}

function human(seconds: number): string {
  if (seconds < 90) return `${seconds} s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  const h = Math.floor(seconds / 3600);
  const m = Math.round((seconds % 3600) / 60);
  return `${h} h ${m} min`;
}

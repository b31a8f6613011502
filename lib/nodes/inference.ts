import type { InferenceClient } from "@huggingface/inference";
import { DaggrError, ErrorCode, unknownName, type InferenceNode } from "../graph/index.js";
import type { ExecContext, Executor, MetaCache } from "../engine/executor.js";
import { REMOTE_DEFAULTS, RetryableError, isNetworkError, networkCause, networkHint, parseRetryAfter, remoteTiming, sleep, stripCode, withRetries } from "./hf-retry.js";
import { headRevision, noteRevision, rememberHead, settledSoon } from "./upstream.js";
import { hfToken, redactError } from "./hf-token.js";
import { TASKS, type TaskResult, canonicalTask } from "./inference-tasks.js";
import { inFlight } from "./keep-alive.js";
import { log } from "../log.js";

let clientClass: Promise<typeof InferenceClient> | undefined;

/**
 * `@huggingface/inference`'s client class, loaded at the first call (an app without
 * InferenceNodes never loads it). The client logs its provider choice on every call;
 * warnings are kept, the chatter is dropped.
 */
function inferenceClientClass(): Promise<typeof InferenceClient> {
  clientClass ??= import("@huggingface/inference").then(
    (m) => {
      m.setLogger({
        debug: () => {},
        info: () => {},
        log: () => {},
        warn: (m: string) => log.warn({ client: "@huggingface/inference" }, String(m)),
        error: (m: string) => log.error({ client: "@huggingface/inference" }, String(m)),
      });
      return m.InferenceClient;
    },
    (e: unknown) => {
      clientClass = undefined;
      throw e;
    },
  );
  return clientClass;
}

/** A provider answered 503: the model is loading (hf-inference), with its own estimate. */
class LoadingError extends Error {
  constructor(
    message: string,
    readonly estimatedMs: number | undefined,
  ) {
    super(message);
  }
}

/**
 * Runs InferenceNodes on `@huggingface/inference`. The task is the node's `task`, else
 * the task its provider serves the model for (the Hub's inference provider mapping,
 * which can differ from the model's pipeline tag), else the pipeline tag; cached across
 * restarts. Chat and text generation stream their tokens as partial results. The
 * client's own 503 retry (immediate, endless) is off: a loading model is waited for with
 * the provider's estimate, up to `wakeTimeoutMs`; 429s and dropped connections are
 * retried with backoff, honouring Retry-After. The process is held open while a call is
 * in flight (the client polls fal-ai queues on unref'd timers).
 *
 * @example
 * registerExecutor(NodeKind.INFERENCE, inferenceExecutor);
 */
export const inferenceExecutor: Executor<InferenceNode> = {
  inactivityMs: REMOTE_DEFAULTS.inactivityMs,
  async validate(node, { cache, signal }) {
    if (node.inferenceOptions.validate === false) return;
    const token = hfToken();
    try {
      await resolveTask(node, token, cache, signal ?? new AbortController().signal);
    } catch (e) {
      throw redactError(e, token);
    }
  },

  execute(node, inputs, ctx) {
    return inFlight(() => whileQueued(node, ctx, (c) => executeInference(node, inputs, c)));
  },
};

/**
 * Reports the execution alive while the client waits on a provider's queue.
 *
 * `@huggingface/inference` polls queue providers (fal-ai: IN_QUEUE, IN_PROGRESS…) itself,
 * through the global `fetch`, out of daggr's sight: a generation that sits in the queue
 * longer than the node's inactivity deadline would otherwise be stopped although every
 * poll was answered. Each of those requests is bounded by the HTTP client's own timeouts,
 * so a pending call is a live one. Once the call streams (its first partial output), the
 * pings stop: a stream that goes silent is then caught by the deadline as it should be.
 */
async function whileQueued<T>(node: InferenceNode, ctx: ExecContext, work: (ctx: ExecContext) => Promise<T>): Promise<T> {
  const idleMs = node.options.inactivityMs ?? inferenceExecutor.inactivityMs ?? 0;
  if (!ctx.alive || idleMs <= 0) return work(ctx);
  const ping = setInterval(() => ctx.alive?.(), Math.max(10, Math.min(30_000, Math.floor(idleMs / 3))));
  ping.unref?.();
  try {
    const partial = (raw: unknown) => {
      clearInterval(ping);
      ctx.partial(raw);
    };
    // The context is the engine's object (getters, methods): wrap it without copying.
    return await work(
      new Proxy(ctx, {
        get(target, prop) {
          if (prop === "partial") return partial;
          const v = Reflect.get(target, prop, target);
          return typeof v === "function" ? v.bind(target) : v;
        },
      }),
    );
  } finally {
    clearInterval(ping);
  }
}

async function executeInference(node: InferenceNode, inputs: Record<string, unknown>, ctx: ExecContext): Promise<unknown> {
  const token = hfToken();
  // Only an HF token goes to the client: anything else would be taken for a provider key
  // and sent to the provider directly, outside huggingface.co.
  const hfOnly = token?.startsWith("hf_") ? token : undefined;
  const opts = node.inferenceOptions;
  try {
    const { task, provider } = await resolveTask(node, token, ctx.cache, ctx.signal);
    const spec = TASKS[task]!;
    const label = `InferenceNode '${node.id}' (model '${node.model}'${node.provider ? ` on ${node.provider}` : ""}, task ${task})`;
    const client = new (await inferenceClientClass())(hfOnly ?? "", { retry_on_error: false });
    const single = Object.keys(node.outputs).length <= 1 && !node.options.postprocess;
    const shape = (r: TaskResult) => (single ? r.primary : r.full);
    const wakeTimeoutMs = opts.wakeTimeoutMs ?? REMOTE_DEFAULTS.wakeTimeoutMs;
    const loadingSince = { at: 0 };
    // The model's revision, asked of the Hub while the job runs; kept on the result.
    const revision = headRevision("model", node.model);
    const out = await withRetries(
      async () => {
        let streamed = false;
        for (let poll = remoteTiming.pollMs; ; ) {
          const last: { status?: number; retryAfterMs?: number } = {};
          const fetchWithHeaders = (input: RequestInfo | URL, init?: RequestInit) =>
            fetch(input, { ...init, signal: init?.signal ?? ctx.signal }).then((r) => {
              last.status = r.status;
              last.retryAfterMs = parseRetryAfter(r.headers.get("retry-after"));
              return r;
            });
          try {
            const result = await spec.run({
              client, node, provider, inputs, ctx, label,
              options: { signal: ctx.signal, fetch: fetchWithHeaders as typeof fetch, retry_on_error: false },
              maxBytes: opts.maxFileBytes ?? REMOTE_DEFAULTS.maxFileBytes,
              emit: (r) => {
                streamed = true;
                ctx.partial(shape(r));
              },
            });
            return shape(result);
          } catch (e) {
            if (ctx.signal.aborted) throw e;
            const err = classify(e, last, label, !!hfOnly);
            // The Hub's mapping may have changed since it was cached: ask again next time.
            if (err instanceof DaggrError && (err.code === ErrorCode.UNSUPPORTED_TASK || err.code === ErrorCode.REMOTE_NOT_FOUND)) {
              await ctx.cache.set(taskCacheKey(node.model), null).catch(() => {});
            }
            if (err instanceof LoadingError && !streamed) {
              loadingSince.at ||= Date.now();
              const waited = Date.now() - loadingSince.at;
              if (waited >= wakeTimeoutMs) {
                throw new DaggrError(ErrorCode.REMOTE_UNAVAILABLE, `${label}: the model is still loading after ${Math.round(waited / 1000)} s (wakeTimeoutMs is ${wakeTimeoutMs} ms). Try again later or raise wakeTimeoutMs.`, {
                  loading: true,
                });
              }
              const wait = Math.min(err.estimatedMs ?? poll, remoteTiming.maxPollMs, wakeTimeoutMs - waited);
              ctx.progress({ text: `Model is loading${err.estimatedMs ? ` (about ${Math.round(err.estimatedMs / 1000)} s)` : ""}; waiting` });
              await sleep(Math.max(50, wait), ctx.signal);
              poll = Math.min(remoteTiming.maxPollMs, Math.round(poll * 1.5));
              continue;
            }
            if (err instanceof LoadingError) throw new DaggrError(ErrorCode.REMOTE_UNAVAILABLE, `${label}: ${err.message}`);
            // After tokens were shown, a retry would restart the answer: report instead.
            if (err instanceof RetryableError && streamed) throw err.error;
            throw err;
          }
        }
      },
      { retries: opts.retries ?? REMOTE_DEFAULTS.retries, signal: ctx.signal, label, progress: (p) => ctx.progress(p) },
    );
    const sha = await settledSoon(revision);
    ctx.origin?.({ kind: "model", remote: node.model, ...(sha ? { revision: sha } : {}) });
    await noteRevision(ctx.cache, "model", node.model, sha);
    return out;
  } catch (e) {
    throw redactError(e, token);
  }
}

/** What daggr keeps of a model's Hub entry: enough to choose its task and provider. */
interface ModelMeta {
  pipeline_tag?: string;
  tags?: string[];
  /** The inference provider mapping, in the Hub's order: which provider serves which task. */
  providers?: Array<{ provider: string; task: string; status?: string }>;
}

/** Cache key of a model's Hub entry (v2: with the provider mapping). */
export function taskCacheKey(model: string): string {
  return `inference:model:v2:${model}`;
}

/**
 * The task to call and the provider that serves it. The task is `task` if given (checked
 * against what daggr supports and against the provider's mapping, which the client
 * enforces too); else the task the node's provider is mapped to on the
 * Hub (for no provider, the first mapped one, as the client's "auto" picks); else the
 * model's pipeline tag (a `conversational` text-generation model is called through chat
 * completion). The Hub entry is cached. A provider the model is not mapped to is refused
 * with the providers it is, nearest first.
 */
export async function resolveTask(node: InferenceNode, token: string | undefined, cache: MetaCache, signal: AbortSignal): Promise<{ task: string; provider: string | undefined }> {
  const explicit = node.inferenceOptions.task;
  const supported = Object.keys(TASKS);
  const explicitTask = explicit ? canonicalTask(explicit) : undefined;
  if (explicit && !explicitTask) throw unknownName(ErrorCode.UNSUPPORTED_TASK, `task of InferenceNode '${node.id}'`, explicit, supported);
  // Chat on the auto router needs no Hub entry (the client asks for none either).
  if (explicitTask === "chat-completion" && !node.provider) return { task: explicitTask, provider: undefined };
  let meta = (await cache.get<ModelMeta | null>(taskCacheKey(node.model)).catch(() => undefined)) ?? undefined;
  if (!meta) {
    meta = await withRetries(() => fetchModelMeta(node, token, signal), { retries: node.inferenceOptions.retries ?? REMOTE_DEFAULTS.retries, signal, label: `Model '${node.model}'` });
    await cache.set(taskCacheKey(node.model), meta).catch(() => {});
  }
  const mapped = meta.providers ?? [];
  const entry = node.provider ? mapped.find((m) => m.provider === node.provider) : mapped[0];
  if (node.provider && !entry && mapped.length) {
    throw unknownName(ErrorCode.REMOTE_NOT_FOUND, `provider of InferenceNode '${node.id}' (model '${node.model}')`, node.provider, mapped.map((m) => m.provider));
  }
  const provider = node.provider ?? entry?.provider;
  if (explicitTask) {
    // The client refuses a task the provider's mapping does not name: say so at start-up.
    const served = entry ? (canonicalTask(entry.task) ?? entry.task) : undefined;
    const embeddings = ["feature-extraction", "sentence-similarity"];
    const equivalent = entry?.provider === "hf-inference" && embeddings.includes(explicitTask) && embeddings.includes(served ?? "");
    if (entry && served !== explicitTask && !equivalent) {
      throw new DaggrError(
        ErrorCode.UNSUPPORTED_TASK,
        `InferenceNode '${node.id}': provider ${entry.provider} serves this model for task '${entry.task}', not '${explicit}'. ${canonicalTask(entry.task) ? `Set \`task: "${served}"\`, or leave \`task\` out to follow the provider.` : "daggr cannot call that task yet."}`,
        { got: explicit, nearest: served },
      );
    }
    return { task: explicitTask, provider };
  }
  const tag = entry?.task ?? meta.pipeline_tag;
  if (!tag) {
    throw new DaggrError(ErrorCode.UNSUPPORTED_TASK, `InferenceNode '${node.id}': model '${node.model}' has no pipeline tag on the Hub and no Inference Provider serves it, so its task is unknown. Set \`task\` (one of ${supported.join(", ")}).`, {
      choices: supported,
    });
  }
  const task = !entry && tag === "text-generation" && meta.tags?.includes("conversational") ? "chat-completion" : canonicalTask(tag);
  if (!task) {
    const where = entry ? `provider ${entry.provider} serves model '${node.model}' for '${tag}'` : `model '${node.model}' is a '${tag}' model`;
    throw new DaggrError(
      ErrorCode.UNSUPPORTED_TASK,
      `InferenceNode '${node.id}': ${where}, a task daggr cannot call yet. Supported: ${supported.join(", ")}. Use an FnNode with @huggingface/inference for other tasks.`,
      { got: tag, choices: supported },
    );
  }
  return { task, provider };
}

async function fetchModelMeta(node: InferenceNode, token: string | undefined, signal: AbortSignal): Promise<ModelMeta> {
  try {
    const { modelInfo } = await import("@huggingface/hub");
    const info = await modelInfo({
      name: node.model,
      additionalFields: ["tags", "inferenceProviderMapping", "sha"],
      ...(token?.startsWith("hf_") ? { accessToken: token as `hf_${string}` } : {}),
      fetch: ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, { ...init, signal })) as typeof fetch,
    });
    // The model's revision comes with it: results made now record it without another request.
    rememberHead("model", node.model, (info as { sha?: unknown }).sha);
    const providers = (info.inferenceProviderMapping ?? []).map((m) => ({ provider: String(m.provider), task: String(m.task), status: m.status }));
    return { pipeline_tag: info.task ?? undefined, tags: info.tags ?? [], providers };
  } catch (e) {
    if (signal.aborted) throw e;
    const status = (e as { statusCode?: number }).statusCode;
    const where = `Model '${node.model}' (InferenceNode '${node.id}')`;
    if (status === 404) throw new DaggrError(ErrorCode.REMOTE_NOT_FOUND, `${where} was not found on the Hugging Face Hub. Check the id (org/name); a private or gated model also needs HF_TOKEN.`, { model: node.model, status });
    if (status === 401 || status === 403) throw new DaggrError(ErrorCode.REMOTE_AUTH, `${where} is private or gated (HTTP ${status}). Set HF_TOKEN with access to it, or accept its terms on the Hub.`, { status });
    if (isNetworkError(e) || (status !== undefined && (status >= 500 || status === 429))) {
      throw new RetryableError(new DaggrError(ErrorCode.NETWORK, `${where}: the Hugging Face Hub could not be asked for its task (${status ? `HTTP ${status}` : networkCause(e)})`, status ? {} : { hint: networkHint(e) }));
    }
    throw new DaggrError(ErrorCode.REMOTE_FAILED, `${where}: the Hub answered ${(e as Error).message}`);
  }
}

/** Turns the client's errors into coded ones; retryable, or a LoadingError for a 503. */
function classify(e: unknown, last: { status?: number; retryAfterMs?: number }, label: string, hasToken: boolean): Error {
  if (e instanceof DaggrError || e instanceof RetryableError) return e;
  const err = e as Error & { httpResponse?: { status?: number; body?: unknown } };
  const msg = stripCode(String(err?.message ?? e)).replace(/^Failed to perform inference: /, "");
  const status = err?.httpResponse?.status ?? (err?.name === "ProviderApiError" ? last.status : undefined);
  if (isNetworkError(e)) return new RetryableError(new DaggrError(ErrorCode.NETWORK, `${label}: the provider could not be reached (${networkCause(e)})`, { hint: networkHint(e) }));
  if (err?.name === "HubApiError") {
    if (status === 404 || /Repository not found|not found/i.test(msg)) {
      return new DaggrError(ErrorCode.REMOTE_NOT_FOUND, `${label}: the model was not found on the Hugging Face Hub. Check the id; a private or gated model needs HF_TOKEN.`, { status });
    }
    if (status === 401 || status === 403) return new DaggrError(ErrorCode.REMOTE_AUTH, `${label}: the Hub refused access (HTTP ${status}): ${msg}`, { status });
    if (/have not been able to find inference provider information/.test(msg)) {
      return new DaggrError(ErrorCode.REMOTE_NOT_FOUND, `${label}: no Inference Provider serves this model.`);
    }
    if (status !== undefined && status >= 500) return new RetryableError(new DaggrError(ErrorCode.NETWORK, `${label}: the Hub answered HTTP ${status}`, { status }));
    return new DaggrError(ErrorCode.REMOTE_FAILED, `${label}: ${msg}`, { status });
  }
  const wrongTask = /is not supported for task (\S+) and provider (\S+)\. Supported task: ([^.]+)\./.exec(msg);
  if (wrongTask) {
    return new DaggrError(ErrorCode.UNSUPPORTED_TASK, `${label}: provider ${wrongTask[2]} serves this model for task '${wrongTask[3]}', not '${wrongTask[1]}'. Set \`task: "${wrongTask[3]}"\` if daggr supports it.`, {
      got: wrongTask[1],
      nearest: wrongTask[3],
    });
  }
  if (/have not been able to find inference provider information|No Inference Provider available/.test(msg)) {
    return new DaggrError(ErrorCode.REMOTE_NOT_FOUND, `${label}: ${msg} Choose another provider ('org/model:provider') or check the model's "Inference Providers" section on the Hub.`);
  }
  if (err?.name === "RoutingError") return new DaggrError(ErrorCode.REMOTE_AUTH, `${label}: ${msg}${hasToken ? "" : " Set HF_TOKEN (an hf_… token) to use the router."}`);
  if (err?.name === "InputError") return new DaggrError(ErrorCode.BAD_INPUT, `${label}: ${msg}`);
  if (err?.name === "ProviderOutputError") return new DaggrError(ErrorCode.REMOTE_FAILED, `${label}: the provider's answer was not understood (${msg.slice(0, 300)})`);
  if (status === 503) {
    const body = err.httpResponse?.body as { estimated_time?: number } | undefined;
    const est = typeof body?.estimated_time === "number" ? Math.round(body.estimated_time * 1000) : last.retryAfterMs;
    return new LoadingError(`the model is unavailable or loading (HTTP 503: ${msg})`, est);
  }
  if (status === 429) return new RetryableError(new DaggrError(ErrorCode.RATE_LIMITED, `${label} is rate limited (HTTP 429: ${msg})`, { status }), last.retryAfterMs);
  if (status === 401 || status === 403) {
    return new DaggrError(ErrorCode.REMOTE_AUTH, `${label}: access refused (HTTP ${status}: ${msg}).${hasToken ? " Check that your token may use Inference Providers." : " Set HF_TOKEN."}`, { status });
  }
  if (status === 404) return new DaggrError(ErrorCode.REMOTE_NOT_FOUND, `${label}: the provider does not know this model (HTTP 404: ${msg}).`, { status });
  if (status === 502 || status === 504) return new RetryableError(new DaggrError(ErrorCode.NETWORK, `${label}: the provider answered HTTP ${status} (${msg})`, { status }));
  return new DaggrError(ErrorCode.REMOTE_FAILED, `${label}: the provider failed${status ? ` (HTTP ${status})` : ""}: ${msg}`, status ? { status } : {});
}

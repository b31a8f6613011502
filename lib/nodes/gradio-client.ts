import { AsyncLocalStorage } from "node:async_hooks";
import { createHash } from "node:crypto";
import { DaggrError, ErrorCode } from "../graph/index.js";
import type { Progress } from "../engine/events.js";
import { RetryableError, isNetworkError, networkHint, parseRetryAfter, raceSignal } from "./hf-retry.js";
import { waitForSpace } from "./hf-space.js";
import { spaceOrigin, tokenAllowed } from "./hf-token.js";
import { addressAllowed, addressRange, checkRemoteUrl, isOwnOrigin, netGuard, sendGuarded } from "./net-guard.js";

/**
 * What the client's requests reveal about one call. `@gradio/client` swallows statuses
 * and headers (a 429's Retry-After, a failed upload), so the subclass below records them
 * here; `AsyncLocalStorage` ties each request to the call that caused it, even when
 * several calls share one client.
 */
export interface CallState {
  signal?: AbortSignal;
  joinStatus?: number;
  retryAfterMs?: number;
  uploadError?: string;
  configStatus?: number;
  /** A request refused by the rule of URLs a remote names (the client hides why). */
  refused?: Error;
}
export const callState = new AsyncLocalStorage<CallState>();

/**
 * The parts of `@gradio/client`'s `Client` daggr uses. Its shipped `.d.ts` files use
 * extension-less relative imports, which NodeNext resolution cannot follow, so the
 * package's types arrive as `any`; this states the surface we rely on.
 */
export interface SubmitJob extends AsyncIterable<{ type: string } & Record<string, unknown>> {
  cancel(): Promise<void>;
  event_id(): string;
  wait_for_id(): Promise<string | null>;
  return?(value?: unknown): Promise<unknown>;
}
interface ClientOptions {
  token?: string;
  events?: string[];
  headers?: Record<string, string>;
  session_hash?: string;
  with_null_state?: boolean;
}
/** The parts of a Gradio config daggr reads. */
export interface GradioConfig {
  root: string;
  api_prefix?: string;
  connect_heartbeat?: boolean;
  components: Array<{ id: number; type: string; skip_api?: boolean; props?: Record<string, unknown> }>;
  dependencies: Array<{ id: number; api_name?: string | null | false; inputs: number[]; outputs: number[] }>;
}
interface GradioClient {
  app_reference: string;
  options: ClientOptions;
  config?: GradioConfig;
  api_prefix: string;
  api_info?: unknown;
  api_map: Record<string, number>;
  jwt: string | false;
  session_hash: string;
  heartbeat_event: EventSource | null;
  abort_controller: AbortController | null;
  stream_status: { open: boolean };
  event_callbacks: Record<string, unknown>;
  closed: boolean;
  submit(endpoint: string | number, data: unknown, eventData?: unknown, triggerId?: number | null, allEvents?: boolean): SubmitJob;
  open_stream(): Promise<void>;
  _resolve_heartbeat(config: GradioConfig): Promise<void>;
  upload_files(root: string, files: Array<Blob | File>): Promise<{ files?: string[]; error?: string }>;
  close(): void;
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
  stream(url: URL): EventSource;
}
interface GradioClientClass {
  new (app: string, options: ClientOptions): GradioClient;
  connect(app: string, options: ClientOptions): Promise<GradioClient>;
}

/** A connected app: `@gradio/client`'s client with daggr's fixes (see {@link daggrClientClass}). */
export interface DaggrClient extends GradioClient {
  appOrigin: string | undefined;
  /** `/info` as the app sent it: the client replaces each `type` schema by a string. */
  rawInfo: RawApiInfo | undefined;
  /**
   * Called on every message of the app's stream, heartbeats included: the jobs
   * following this client count them as signs of life (their inactivity deadline).
   */
  readonly activity: Set<() => void>;
  /**
   * A client for one job: its own `session_hash` (so `gr.State`, queued events and
   * `/cancel` are the job's alone), sharing this connected client's config and API
   * description instead of fetching them again. Close it when the job ends.
   */
  session(): DaggrClient;
}
interface DaggrClientClass {
  new (app: string, options: ClientOptions): DaggrClient;
  connect(app: string, options: ClientOptions): Promise<DaggrClient>;
}

let clientClass: Promise<DaggrClientClass> | undefined;

/**
 * The {@link DaggrClient} class, made the first time an app is connected to:
 * `@gradio/client` (and what it imports) loads then, so an app without GradioNodes
 * never pays for it at start-up.
 */
export function daggrClientClass(): Promise<DaggrClientClass> {
  clientClass ??= import("@gradio/client").then(
    (m) => defineDaggrClient(m.Client as unknown as GradioClientClass),
    (e: unknown) => {
      clientClass = undefined;
      throw e;
    },
  );
  return clientClass;
}

/** The message our cancel acknowledgement is rewritten to (see `patchMessages`). */
export const CANCELLED_BY_SERVER = "The job was cancelled.";

/**
 * `@gradio/client` with three fixes, all at its request seams:
 * - the token reaches only huggingface.co, its router and the app's own origin (the
 *   URL given, or the Space's own `*.hf.space` host as the Hub named it; the client
 *   would also send it to whatever `root` the app's config names);
 * - statuses and headers the client drops are recorded in the call's {@link CallState},
 *   and a join is never sent after the call was cancelled or an input upload failed
 *   (the client would send the job with the file silently replaced by `{}`);
 * - the server's cancel acknowledgement (`process_completed` with `output: {}`) makes
 *   the client throw inside its stream handler and abort the stream shared by every
 *   job of the session; it is rewritten into an ordinary error for that job only.
 */
function defineDaggrClient(Client: GradioClientClass): DaggrClientClass {
  class Daggr extends Client implements DaggrClient {
    appOrigin: string | undefined;
    /** `/info` as the app sent it: the client replaces each `type` schema by a string. */
    rawInfo: RawApiInfo | undefined;
    /** Controllers of every stream this client opened (queue data, heartbeat). */
    private readonly streams = new Set<AbortController>();
    /** Made by {@link session} for one job (not the app's connection). */
    private isSession = false;

    private readonly isSpaceId: boolean;
    private readonly appReference: string;
    /**
     * Called on every message of the app's stream, heartbeats included: the jobs
     * following this client count them as signs of life (their inactivity deadline).
     */
    readonly activity = new Set<() => void>();

    constructor(app: string, options: ClientOptions) {
      super(app, options);
      this.appOrigin = originOf(app);
      this.isSpaceId = !/^https?:\/\//.test(app);
      this.appReference = app;
    }

    override fetch(input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> {
      const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
      const state = callState.getStore();
      // A Space id's first request is its /config on the host the Hub named: that host is
      // the app's origin (the one *.hf.space host given the token).
      if (this.appOrigin === undefined && this.isSpaceId && url.pathname.endsWith("/config")) this.appOrigin = spaceOrigin(url.href);
      const headers = new Headers(init.headers);
      const isConfig = url.pathname.endsWith("/config");
      if (!tokenAllowed(url, this.appOrigin)) headers.delete("authorization");
      // Off the app's origin (a config `root` naming another host), the client's requests
      // follow the rule of URLs a remote names: https to public addresses only.
      const guarded = !isOwnOrigin(url, this.appOrigin);
      if (guarded) {
        try {
          checkRemoteUrl(url, this.appOrigin, appLabel(this.appReference));
        } catch (e) {
          if (state) state.refused = e as Error;
          return Promise.reject(e);
        }
      }
      const path = url.pathname;
      // A queued job is sent with /queue/join; an endpoint with `queue=False` with /run/<name>.
      const isJoin = path.endsWith("/queue/join") || /\/run\/[^/]+$/.test(path);
      const isUpload = path.endsWith("/upload");
      let signal = init.signal ?? undefined;
      if (state && (isJoin || isUpload)) {
        if (state.signal?.aborted) return Promise.reject(new Error("cancelled before the job was sent"));
        if (isJoin && state.uploadError) return Promise.reject(new Error(`input upload failed: ${state.uploadError}`));
        // A join once sent is not aborted: the app may already run the job, and only its
        // answer (the event id) lets the job be cancelled there.
        if (isUpload) signal = state.signal;
      }
      const sent: Promise<Response> =
        guarded && !(input instanceof Request)
          ? sendGuarded(url, { ...init, headers: this.withClientHeaders(headers), signal })
          : super.fetch(input, { ...init, headers, signal });
      return sent.catch((e: unknown) => {
        // Refused where the connection was made (the host resolved to a private address).
        const cause = (e as { cause?: unknown }).cause;
        if (state && cause instanceof DaggrError && cause.code === ErrorCode.URL_REFUSED) {
          state.refused = new DaggrError(ErrorCode.URL_REFUSED, `${appLabel(this.appReference)}: ${cause.message.replace(/^\[E_URL_REFUSED\] /, "")}`, cause.details);
        }
        throw e;
      }).then(async (res: Response) => {
        if (state) {
          if (isJoin) {
            state.joinStatus = res.status;
            state.retryAfterMs = parseRetryAfter(res.headers.get("retry-after"));
          } else if (isUpload && !res.ok) {
            const text = await res.clone().text().catch(() => "");
            state.uploadError = `HTTP ${res.status}${text ? `: ${text.slice(0, 300)}` : ""}`;
          } else if (isConfig) {
            state.configStatus = res.status;
            state.retryAfterMs = parseRetryAfter(res.headers.get("retry-after"));
          }
        }
        if (isConfig && res.ok) {
          try {
            await checkRoot(res, url, this.appOrigin, appLabel(this.appReference));
          } catch (e) {
            if (state) state.refused = e as Error;
            throw e;
          }
        }
        if (path.endsWith("/info") && res.ok) this.rawInfo = (await res.clone().json().catch(() => undefined)) as RawApiInfo | undefined;
        return res;
      });
    }

    /** What the client's own `fetch` adds to every request (its cookies and `options.headers`). */
    private withClientHeaders(headers: Headers): Headers {
      const out = new Headers(headers);
      const cookies = (this as unknown as { cookies?: string }).cookies;
      if (cookies) out.append("Cookie", cookies);
      if (this.options.headers) new Headers(this.options.headers).forEach((v, k) => out.append(k, v));
      return out;
    }

    /**
     * The connection itself never runs a job, so it opens no heartbeat (the client would
     * open one for its own session when the app has State); each job's session does.
     */
    override async _resolve_heartbeat(config: GradioConfig): Promise<void> {
      if (this.isSession) return super._resolve_heartbeat(config);
      const heartbeat = config.connect_heartbeat;
      config.connect_heartbeat = false;
      try {
        await super._resolve_heartbeat(config);
      } finally {
        config.connect_heartbeat = heartbeat;
      }
    }

    /**
     * A client for one job: its own `session_hash` (so `gr.State`, queued events and
     * `/cancel` are the job's alone), sharing this connected client's config and API
     * description instead of fetching them again. Close it when the job ends.
     */
    session(): DaggrClient {
      if (!this.config) throw new Error("session() needs a connected client");
      const s = new Daggr(this.app_reference, { ...this.options });
      s.isSession = true;
      // A shallow copy: a render event replaces `components`/`dependencies` on the session's copy only.
      s.config = { ...this.config };
      s.api_prefix = this.api_prefix;
      s.api_info = this.api_info;
      s.api_map = this.api_map;
      s.jwt = this.jwt;
      s.rawInfo = this.rawInfo;
      s.appOrigin = this.appOrigin;
      (s as unknown as { cookies: unknown }).cookies = (this as unknown as { cookies: unknown }).cookies;
      if (s.config.connect_heartbeat) {
        // What `_resolve_heartbeat` does, without its per-call JWT request.
        const url = new URL(`${s.config.root}${s.api_prefix}/heartbeat/${s.session_hash}`);
        if (s.jwt) url.searchParams.set("__sign", s.jwt);
        s.heartbeat_event = s.stream(url);
      }
      return s;
    }

    /**
     * Ends every stream of this client, heartbeat included: `close()` of @gradio/client
     * aborts only the latest stream, and an open heartbeat keeps the process alive.
     */
    override close(): void {
      super.close();
      for (const c of this.streams) c.abort();
      this.streams.clear();
      this.heartbeat_event = null;
    }

    override stream(url: URL): EventSource {
      let es: EventSource;
      if (tokenAllowed(url, this.appOrigin)) es = super.stream(url);
      else {
        const token = this.options.token;
        this.options.token = undefined;
        try {
          es = super.stream(url);
        } finally {
          this.options.token = token;
        }
      }
      // `super.stream` has just set the controller of the stream it opened.
      if (this.abort_controller) this.streams.add(this.abort_controller);
      return patchMessages(es, this);
    }
  }
  // The client's static `connect` builds `new this(…)`: it returns a Daggr.
  return Daggr as unknown as DaggrClientClass;

}

/** `/info` as sent by the app. */
export interface RawApiInfo {
  named_endpoints?: Record<string, { parameters?: Array<{ type?: unknown }>; returns?: Array<{ type?: unknown }> }>;
  unnamed_endpoints?: Record<string, { parameters?: Array<{ type?: unknown }>; returns?: Array<{ type?: unknown }> }>;
}

/**
 * Refuses a config whose `root` is on another host than the app: the client would send
 * every later request (inputs, uploads, the job stream) there. A root that breaks the
 * rule of URLs a remote names (plain http, or a host resolving to a private address) is
 * refused as such (`E_URL_REFUSED`); any other host is `E_REMOTE_ROOT`, naming both.
 */
async function checkRoot(res: Response, configUrl: URL, appOrigin: string | undefined, label: string): Promise<void> {
  const config = (await res.clone().json().catch(() => undefined)) as { root?: unknown } | undefined;
  if (typeof config?.root !== "string" || !config.root) return;
  let root: URL;
  try {
    root = new URL(config.root);
  } catch {
    throw new DaggrError(ErrorCode.REMOTE_ROOT, `The Gradio app at ${configUrl.host} announces an invalid root URL ('${config.root.slice(0, 200)}').`, { app: configUrl.host, root: config.root });
  }
  if (root.host.toLowerCase() !== configUrl.host.toLowerCase()) {
    checkRemoteUrl(root, appOrigin, label);
    const addresses = await netGuard.resolve(root.hostname.replace(/^\[|\]$/g, "")).catch(() => []);
    const bad = addresses.find((a) => !addressAllowed(a.address));
    if (bad) {
      const range = addressRange(bad.address);
      throw new DaggrError(ErrorCode.URL_REFUSED, `${label}: refused to connect to '${root.hostname}', the root its config names: it resolves to ${bad.address}, a ${range} address, not a public one.`, {
        host: root.hostname,
        address: bad.address,
        range,
      });
    }
    throw new DaggrError(
      ErrorCode.REMOTE_ROOT,
      `The Gradio app at ${configUrl.host} says its root is on another host (${root.host}); daggr does not follow it, so no input, file or token is sent there. If the app runs behind a proxy, call it by the URL its root names, or fix its root_path.`,
      { app: configUrl.host, root: root.host },
    );
  }
}

/**
 * Wraps the stream's handlers: every message the client sees is one it can handle, and
 * the end of a stream we closed ourselves is not reported as a broken connection.
 */
function patchMessages(es: EventSource, client: { closed: boolean; activity: Set<() => void> }): EventSource {
  let handler: ((ev: MessageEvent) => unknown) | null = null;
  let onError: ((ev: Event) => unknown) | null = null;
  Object.defineProperty(es, "onmessage", {
    configurable: true,
    get: () => handler,
    set(fn: ((ev: MessageEvent) => unknown) | null) {
      handler = fn
        ? (ev: MessageEvent) => {
            for (const l of client.activity) l();
            return fn(fixMessage(ev));
          }
        : null;
    },
  });
  Object.defineProperty(es, "onerror", {
    configurable: true,
    get: () => onError,
    set(fn: ((ev: Event) => unknown) | null) {
      onError = fn ? (ev: Event) => (client.closed ? undefined : fn(ev)) : null;
    },
  });
  return es;
}

function fixMessage(ev: MessageEvent): MessageEvent {
  let m: Record<string, unknown> | undefined;
  try {
    m = JSON.parse(ev.data);
  } catch {
    m = undefined;
  }
  // A frame without JSON data would throw in the client's async handler (an unhandled rejection).
  if (!m || typeof m !== "object") return { ...ev, data: '{"msg":"heartbeat","event_id":null}' } as MessageEvent;
  const out = m.output as Record<string, unknown> | undefined;
  if (m.msg === "process_completed" && out && typeof out === "object" && !("data" in out) && !("error" in out)) {
    const fixed = { ...m, success: false, output: { error: CANCELLED_BY_SERVER, title: "Cancelled", visible: false } };
    return { ...ev, data: JSON.stringify(fixed) } as MessageEvent;
  }
  return ev;
}

function originOf(app: string): string | undefined {
  try {
    return /^https?:\/\//.test(app) ? new URL(app).origin : undefined;
  } catch {
    return undefined;
  }
}

/** "Space 'owner/name'" or "Gradio app 'http://…'", for messages. */
export function appLabel(space: string): string {
  return /^https?:\/\//.test(space) ? `Gradio app '${space}'` : `Space '${space}'`;
}

interface Entry {
  promise: Promise<DaggrClient>;
  /** Set once connected. */
  client?: DaggrClient;
  waiters: number;
  controller: AbortController;
  listeners: Set<(p: Progress) => void>;
}
const clients = new Map<string, Entry>();

function clientKey(space: string, token: string | undefined): string {
  return `${space}\0${token ? createHash("sha256").update(token).digest("hex").slice(0, 16) : ""}`;
}

export interface ConnectOptions {
  signal: AbortSignal;
  wakeTimeoutMs: number;
  progress?: (p: Progress) => void;
}

/**
 * The connected client for (app, token), created once and reused across runs. A Space
 * id is first checked on the Hub: a sleeping or building Space is waited for, a paused or
 * broken one fails fast. Concurrent callers share one connection attempt; it is given up
 * only when every caller has gone.
 */
export async function getClient(space: string, token: string | undefined, o: ConnectOptions): Promise<DaggrClient> {
  const key = clientKey(space, token);
  let entry = clients.get(key);
  if (!entry) {
    const controller = new AbortController();
    const listeners = new Set<(p: Progress) => void>();
    const promise = connect(space, token, controller.signal, o.wakeTimeoutMs, (p) => listeners.forEach((l) => l(p)));
    const created: Entry = { promise, waiters: 0, controller, listeners };
    entry = created;
    clients.set(key, created);
    promise.then(
      (c) => void (created.client = c),
      () => {
        if (clients.get(key) === created) clients.delete(key);
      },
    );
  }
  const e = entry;
  e.waiters++;
  if (o.progress) e.listeners.add(o.progress);
  try {
    return await raceSignal(e.promise, o.signal);
  } finally {
    e.waiters--;
    if (o.progress) e.listeners.delete(o.progress);
    if (e.waiters === 0 && o.signal.aborted) e.controller.abort(o.signal.reason);
  }
}

/** Drops a cached client (after a broken connection), so the next call reconnects. */
export function evictClient(space: string, token: string | undefined, client: DaggrClient): void {
  const key = clientKey(space, token);
  if (clients.get(key)?.client === client) clients.delete(key);
  client.close();
}

/** Closes every cached client (tests, shutdown). */
export async function closeGradioClients(): Promise<void> {
  const all = [...clients.values()];
  clients.clear();
  await Promise.all(all.map((e) => e.promise.then((c) => c.close(), () => {})));
}

/**
 * Connects once per app: config and API description. The connection's own session is
 * never used for jobs (see {@link DaggrClient.session}), so its streams are closed at once.
 */
async function connect(space: string, token: string | undefined, signal: AbortSignal, wakeTimeoutMs: number, progress: (p: Progress) => void): Promise<DaggrClient> {
  const isSpaceId = !/^https?:\/\//.test(space);
  if (isSpaceId) await waitForSpace(space, { token, signal, wakeTimeoutMs, progress });
  const state: CallState = { signal };
  const Daggr = await daggrClientClass();
  let client: DaggrClient;
  try {
    client = await callState.run(state, () =>
      // `with_null_state`: results as sent, so their length can be checked against the config.
      Daggr.connect(space, { token, events: ["data", "status", "log"], with_null_state: true }),
    );
  } catch (e) {
    if (signal.aborted) throw signal.reason;
    throw state.refused ?? connectError(space, e, state, !!token);
  }
  client.close();
  if (!client.api_info) {
    if (state.refused) throw state.refused;
    throw new RetryableError(new DaggrError(ErrorCode.NETWORK, `${appLabel(space)}: its API description (/gradio_api/info) could not be loaded`), undefined, true);
  }
  return client;
}

/** Turns the client's connect errors into coded, retry-aware ones. */
function connectError(space: string, e: unknown, state: CallState, hasToken: boolean): Error {
  const label = appLabel(space);
  const msg = e instanceof Error ? e.message : String(e);
  if (e instanceof DaggrError || e instanceof RetryableError) return e;
  if (isNetworkError(e) || msg.startsWith("Space metadata could not be loaded")) {
    return new RetryableError(new DaggrError(ErrorCode.NETWORK, `${label} could not be reached (${(e as Error & { cause?: { code?: string } }).cause?.code ?? msg.trim()})`, { hint: networkHint(e) }), undefined, true);
  }
  if (/could not be accessed \(received a (\d+)/.test(msg)) {
    const status = Number(/received a (\d+)/.exec(msg)![1]);
    return new DaggrError(status === 404 ? ErrorCode.REMOTE_NOT_FOUND : ErrorCode.REMOTE_AUTH, `${label} was not found or is private (HTTP ${status}). Check the spelling; a private Space needs HF_TOKEN.`, { status });
  }
  if (msg.startsWith("Could not access this app (received a 401")) {
    return new DaggrError(ErrorCode.REMOTE_AUTH, `${label} refused access (HTTP 401): ${hasToken ? "your Hugging Face token cannot read it" : "it is private; set HF_TOKEN or run `hf auth login`"}.`, { status: 401 });
  }
  const status = state.configStatus ?? Number(/received status (\d+)/.exec(msg)?.[1] ?? NaN);
  if (msg.startsWith("Could not resolve app config")) {
    const err = new DaggrError(
      status === 404 ? ErrorCode.REMOTE_NOT_FOUND : status === 401 || status === 403 ? ErrorCode.REMOTE_AUTH : ErrorCode.REMOTE_FAILED,
      `${label}: its config could not be loaded (HTTP ${status})${status === 404 ? "; is this the URL of a Gradio app?" : ""}`,
      { status },
    );
    if (status >= 500 || status === 429) return new RetryableError(new DaggrError(ErrorCode.NETWORK, err.message, { status }), state.retryAfterMs, true);
    return err;
  }
  if (state.configStatus === 401 || /Login credentials|Invalid credentials|log in/i.test(msg)) {
    return new DaggrError(ErrorCode.REMOTE_AUTH, `${label} asks for a Gradio login (${msg.trim()}); daggr cannot sign in to apps with \`auth=\`.`);
  }
  if (/legacy version of Gradio/.test(msg)) return new DaggrError(ErrorCode.REMOTE_FAILED, `${label} runs Gradio 3.x or older (WebSocket protocol), which is not supported.`);
  return new DaggrError(ErrorCode.REMOTE_FAILED, `${label} could not be connected to: ${msg.trim()}`);
}

/**
 * Every daggr app is also a Gradio app: the graph's endpoints (one per output node, see
 * `endpoints.ts`) served with Gradio 6's own API, so `@gradio/client`, Python's
 * `gradio_client` and a `GradioNode` of another daggr app can call it.
 *
 * | route | what |
 * |---|---|
 * | `GET /config` | the app's config (`protocol: "sse_v3"`, `api_prefix: "/gradio_api"`, components, dependencies) |
 * | `GET /gradio_api/info` | the endpoints, their parameters and returns, typed from the `gr.*` components |
 * | `POST /gradio_api/queue/join`, `GET /gradio_api/queue/data` | the queue and its SSE stream (`queue.ts`) |
 * | `POST /gradio_api/upload`, `GET /gradio_api/file=<path>` | files (`files.ts`) |
 * | `POST /gradio_api/cancel`, `POST /gradio_api/reset` | cancel a job (per session and endpoint); reset is a no-op |
 * | `GET /gradio_api/heartbeat/<session>` | `data: ALIVE` every 15 s (Python's `gradio_client` keeps one open) |
 * | `POST /gradio_api/call/<api_name>`, `POST /gradio_api/call/v2/<api_name>` | the REST "call" API (curl): `{"data": […]}` or keyword arguments → `{event_id}`, through the same queue (bodies: `call.ts`) |
 * | `GET /gradio_api/call/<api_name>/<event_id>` | that job's stream: `event: generating\|complete\|error\|heartbeat`, `data: <json.dumps>` (`call-events.ts`) |
 * | `POST /gradio_api/run/<api_name>` | the non-queued call: the result in the answer (`{data, is_generating, duration, …}`; errors 500 with Gradio's error payload) |
 *
 * The routes sit in the server's route table, behind the same checks as every other
 * route (allowed hosts, the launch token, Origin on POSTs, body size and rate limits).
 * A page of an `allowedOrigins` origin may call them from the browser with
 * `@gradio/client` (CORS with preflights, streams included); any other origin gets no
 * CORS headers, unlike Gradio's own server, which opens its API to every site
 * (`../cors.ts` lists where we agree with it and where we differ).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Store } from "../../engine/index.js";
import type { Graph } from "../../graph/index.js";
import type { RunQueue } from "../limits.js";
import { readBody, sendJson } from "../respond.js";
import { parseJson } from "../validate.js";
import { API_PREFIX, config, endpointsOf, info } from "./endpoints.js";
import { serveGradioFile, upload } from "./files.js";
import { HttpFailure, callArguments, callBody, failure, runBody, unknownEndpoint, unknownFnIndex } from "./call.js";
import { GradioQueue, JoinError } from "./queue.js";
import { EngineJobs } from "./run.js";

export { queueTiming } from "./queue.js";
export { endpointsOf } from "./endpoints.js";

/** A route of the server's table (see `routes.ts`). */
export interface GradioRoute {
  method: "GET" | "POST";
  path: RegExp;
  body?: "json" | "form";
  /** Every route answers CORS for an allowed origin's page (`../cors.ts`). */
  cors: "api";
  handler: (req: IncomingMessage, res: ServerResponse, match: RegExpExecArray, query: URLSearchParams) => Promise<void> | void;
}

export interface GradioApiContext {
  graph: Graph;
  store: Store;
  user: string;
  runs: RunQueue;
  /** JSON text of a response (the server's encoder, which redacts the HF token). */
  encode(o: object): string;
  /** The origin a request reached us at (what `config.root` and file URLs are built on). */
  origin(req: IncomingMessage): string;
  maxMessageBytes: number;
  maxUploadBytes: number;
  /**
   * Served on a Space: `run/` then refuses endpoints that queue, as Gradio's `api_open`
   * is false on a Space (blocks.py). Default: `SPACE_ID` is set.
   */
  space?: boolean;
}

export interface GradioApi {
  routes: GradioRoute[];
  close(): Promise<void>;
}

export function gradioApi(ctx: GradioApiContext): GradioApi {
  const endpoints = endpointsOf(ctx.graph);
  const jobs = new EngineJobs(ctx.graph, ctx.store, ctx.user, ctx.runs);
  const queue = new GradioQueue(endpoints, jobs.run, ctx.encode);
  const json = (res: ServerResponse, status: number, o: object) => sendJson(res, status, ctx.encode(o));
  const body = async (req: IncomingMessage) => parseJson((await readBody(req, ctx.maxMessageBytes)).toString("utf8"));
  const p = (rest: string) => new RegExp(`^${API_PREFIX}/${rest}/?$`);
  const space = ctx.space ?? !!process.env.SPACE_ID;
  /** A refusal of a join, in the status and shape Gradio gives it; anything else is rethrown. */
  const refused = (res: ServerResponse, e: unknown) => {
    if (e instanceof JoinError) return json(res, e.status, { detail: e.detail });
    if (e instanceof HttpFailure) return failure(res, e);
    // An unreadable body, as queue/join answers it.
    json(res, (e as { status?: number }).status ?? 400, { detail: (e as Error).message });
  };
  /** `call/` and `call/v2/` both end in the queue, answering `{event_id}`. */
  const callJoin = async (req: IncomingMessage, res: ServerResponse, apiName: string, v2: boolean) => {
    try {
      const b = await body(req);
      const endpoint = endpoints.find((e) => e.leaf === apiName);
      if (v2) {
        const args = callArguments(b, apiName, endpoints);
        return json(res, 200, { event_id: queue.callJoin(endpoint!, args, undefined, ctx.origin(req)) });
      }
      const c = callBody(b);
      json(res, 200, { event_id: queue.callJoin(endpoint ?? unknownEndpoint(apiName, endpoints), c.data, c.session_hash, ctx.origin(req)) });
    } catch (e) {
      refused(res, e);
    }
  };
  const routes: Array<Omit<GradioRoute, "cors">> = [
    { method: "GET", path: /^\/config\/?$/, handler: (req, res) => json(res, 200, config(ctx.graph, endpoints, ctx.origin(req))) },
    { method: "GET", path: p("info"), handler: (req, res) => json(res, 200, info(endpoints, ctx.origin(req))) },
    {
      method: "POST",
      path: p("queue/join"),
      body: "json",
      handler: async (req, res) => {
        try {
          json(res, 200, { event_id: queue.join(await body(req), ctx.origin(req)) });
        } catch (e) {
          if (e instanceof JoinError) return json(res, e.status, { detail: e.detail });
          const status = (e as { status?: number }).status ?? 400;
          json(res, status, { detail: (e as Error).message });
        }
      },
    },
    {
      method: "GET",
      path: p("queue/data"),
      handler: (_req, res, _m, query) => queue.stream(res, query.get("session_hash") ?? ""),
    },
    { method: "GET", path: /^\/gradio_api\/heartbeat\/[A-Za-z0-9_-]{1,128}$/, handler: (_req, res) => queue.heartbeat(res) },
    { method: "POST", path: p("upload"), body: "form", handler: (req, res) => upload(req, res, ctx.store, ctx.maxUploadBytes) },
    { method: "GET", path: /^\/gradio_api\/file=([0-9a-f]{64})(?:\/[A-Za-z0-9._-]{1,120})?$/, handler: (req, res, m) => serveGradioFile(req, res, ctx.store, m[1]!) },
    { method: "POST", path: p("call/v2/([^/]+)"), body: "json", handler: (req, res, m) => callJoin(req, res, m[1]!, true) },
    { method: "POST", path: p("call/([^/]+)"), body: "json", handler: (req, res, m) => callJoin(req, res, m[1]!, false) },
    // routes.py simple_predict_get: the api_name (and a `v2/`) play no part; the event id finds the session.
    { method: "GET", path: p("call/(?:v2/)?[^/]+/([^/]{1,256})"), handler: (_req, res, m) => queue.callStream(res, m[1]!) },
    {
      method: "POST",
      path: p("(?:run|api)/([^/]+)"),
      body: "json",
      handler: async (req, res, m) => {
        try {
          const b = runBody(await body(req));
          const endpoint = b.fn_index !== undefined ? (endpoints.find((e) => e.index === b.fn_index) ?? unknownFnIndex(b.fn_index, endpoints)) : (endpoints.find((e) => e.leaf === m[1]) ?? unknownEndpoint(m[1]!, endpoints));
          if (space) return json(res, 404, { detail: "This API endpoint does not accept direct HTTP POST requests. Please join the queue to use this API." });
          const done = await queue.direct(endpoint, b.data, ctx.origin(req));
          // routes.py predict: the output of process_api, or 500 with the error payload.
          json(res, done.success ? 200 : 500, done.output);
        } catch (e) {
          refused(res, e);
        }
      },
    },
    {
      method: "POST",
      path: p("cancel"),
      body: "json",
      handler: async (req, res) => {
        const b = (await body(req)) as Record<string, unknown> | null;
        // data_classes.py CancelBody: all three fields are required (pydantic's 422 otherwise).
        const missing = ["event_id", "session_hash", "fn_index"].filter((k) => !b || typeof b !== "object" || b[k] === undefined || b[k] === null);
        if (missing.length) return json(res, 422, { detail: missing.map((k) => ({ type: "missing", loc: ["body", k], msg: "Field required", input: b })) });
        queue.cancel(b);
        json(res, 200, { success: true });
      },
    },
    {
      method: "POST",
      path: p("reset"),
      body: "json",
      handler: async (req, res) => {
        await body(req);
        json(res, 200, { success: true });
      },
    },
  ];
  return {
    routes: routes.map((r) => ({ ...r, cors: "api" })),
    close: async () => {
      queue.close();
      await jobs.close();
    },
  };
}

import type { IncomingMessage, ServerResponse } from "node:http";
import type { Store } from "../engine/index.js";
import type { Graph } from "../graph/index.js";
import { type Cors, preflight } from "./cors.js";
import { favicon } from "./favicon.js";
import { apiSchema, call } from "./api.js";
import { health, serveFile, upload } from "./files.js";
import { type RunQueue, watchBody } from "./limits.js";
import type { ResolvedOptions } from "./options.js";
import { type PageAccount, asset, canvasPage, gzipped, pageCsp } from "./page.js";
import { baseHeaders, refuse, sendJson } from "./respond.js";
import { Guard, isCorsSimpleType, isJson, isMultipart, suspiciousPath } from "./security.js";
import type { Wire } from "./wire.js";
import { log } from "./log.js";

export interface RouteContext {
  graph: Graph;
  store: Store;
  wire: Wire;
  guard: Guard;
  options: ResolvedOptions;
  /** Runs in progress; REST calls take a place too. */
  runs: RunQueue;
  /** On a Space: who the page's visitor is (for its sign-in link). */
  account?: (req: IncomingMessage) => PageAccount | undefined;
  /** More routes of the API, behind the same checks (the Gradio-compatible API, gradio-api/). */
  extraRoutes?: Route[];
}

type Handler = (req: IncomingMessage, res: ServerResponse, match: RegExpExecArray, query: URLSearchParams) => Promise<void> | void;
export interface Route {
  method: "GET" | "POST";
  path: RegExp;
  handler: Handler;
  /**
   * What a POST body must be: JSON, a raw upload (any type but the CORS-simple ones), or
   * `multipart/form-data` (Gradio's upload; the Origin check keeps other sites' forms out).
   */
  body?: "json" | "raw" | "form";
  /**
   * What a page of an `allowedOrigins` origin may do here (nothing by default): `read`
   * the response (the bundle, files), `upload` (preflight answered, response readable),
   * or call the Gradio-compatible `api` (see `cors.ts`).
   */
  cors?: Cors;
}

/**
 * The HTTP side: a fixed route table of exact patterns, behind the guard. Every path is
 * matched raw (never decoded or normalised first), and anything that is not one of the
 * patterns below is a 404, so there is no path a client can steer into the file system.
 *
 * | route | what |
 * |---|---|
 * | `GET /` | the canvas page (`/?token=…` sets the token cookie and redirects to `/`) |
 * | `GET /assets/<name>.js` | the elements bundle |
 * | `GET /favicon.ico` | daggr's icon |
 * | `GET /files/<sha256>` | a stored file |
 * | `POST /upload` | a raw upload → FileRef |
 * | `GET /api/schema`, `POST /api/call[/<subgraph>]` | the REST API |
 * | `GET /config`, `/gradio_api/…` | the Gradio-compatible API (gradio-api/), with the REST API |
 * | `GET /api/health` | whether the store writes (200 ok, 503 degraded) |
 */
/** The origin a request reached us at, as its `Host` names it. */
export function requestOrigin(req: IncomingMessage): string {
  return `${req.headers["x-forwarded-proto"] === "https" ? "https" : "http"}://${req.headers.host}`;
}

export function router(ctx: RouteContext): (req: IncomingMessage, res: ServerResponse) => void {
  const { graph, store, wire, guard, options, runs } = ctx;
  const encode = (o: object) => wire.encode(o);
  const origin = requestOrigin;
  const routes: Route[] = [
    {
      method: "GET",
      path: /^\/$/,
      handler: (req, res, _m, query) => {
        if (query.has("token")) {
          // Trade the URL's token for a cookie, and drop it from the address bar.
          res.writeHead(302, { Location: "/", "Set-Cookie": guard.tokenCookie(), "Cache-Control": "no-store" });
          return void res.end();
        }
        const html = canvasPage(graph.name, origin(req), ctx.account?.(req));
        res.writeHead(200, {
          "Content-Type": "text/html; charset=utf-8",
          "Content-Security-Policy": pageCsp(req.headers.host!, options.frameAncestors),
          // The same rule for browsers that predate frame-ancestors (it cannot list origins: only DENY fits).
          ...(options.frameAncestors.length ? {} : { "X-Frame-Options": "DENY" }),
          "Cache-Control": "no-store",
          "Content-Length": Buffer.byteLength(html),
        });
        res.end(req.method === "HEAD" ? undefined : html);
      },
    },
    {
      method: "GET",
      path: /^\/assets\/([a-z0-9][a-z0-9-]*\.(?:js|css|map))$/,
      cors: "read",
      handler: async (req, res, m) => {
        const a = await asset(m[1]!);
        if (!a) return refuse(res, 404, "Not found");
        const gzip = /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""));
        const body = gzip ? gzipped(a) : a.body;
        res.writeHead(200, {
          "Content-Type": a.type,
          "Cache-Control": "no-cache",
          "Content-Length": Buffer.byteLength(body),
          Vary: "Accept-Encoding, Origin",
          ...(gzip ? { "Content-Encoding": "gzip" } : {}),
        });
        res.end(req.method === "HEAD" ? undefined : body);
      },
    },
    {
      method: "GET",
      path: /^\/favicon\.ico$/,
      handler: (req, res) => {
        const body = favicon();
        res.writeHead(200, { "Content-Type": "image/x-icon", "Cache-Control": "public, max-age=86400", "Content-Length": body.length });
        res.end(req.method === "HEAD" ? undefined : body);
      },
    },
    { method: "GET", path: /^\/files\/([0-9a-f]{64})$/, cors: "read", handler: (req, res, m) => serveFile(req, res, store, m[1]!) },
    { method: "POST", path: /^\/upload$/, body: "raw", cors: "upload", handler: (req, res) => upload(req, res, store, wire, options.maxUploadBytes) },
    { method: "GET", path: /^\/api\/health$/, handler: (_req, res) => health(res, store, encode) },
  ];
  if (options.api) {
    routes.push(
      { method: "GET", path: /^\/api\/schema$/, handler: (_req, res) => sendJson(res, 200, encode(apiSchema(graph))) },
      {
        method: "POST",
        path: /^\/api\/call(?:\/([A-Za-z0-9_]+))?$/,
        body: "json",
        handler: (req, res, m) => call(req, res, { graph, store, wire, limit: options.maxMessageBytes, subgraph: m[1], origin: origin(req), runs }),
      },
      ...(ctx.extraRoutes ?? []),
    );
  }

  return (req, res) => {
    baseHeaders(res);
    if (!guard.hostAllowed(req)) return refuse(res, 403, "Host not allowed. Add it with allowedHosts (or DAGGR_ALLOWED_HOSTS) if it is yours.");
    const raw = req.url ?? "";
    const q = raw.indexOf("?");
    const path = q < 0 ? raw : raw.slice(0, q);
    const query = new URLSearchParams(q < 0 ? "" : raw.slice(q + 1));
    if (suspiciousPath(path)) return refuse(res, 404, "Not found");
    const found = routes.map((r) => ({ r, m: r.path.exec(path) })).filter((x) => x.m);
    if (!found.length) return refuse(res, 404, "Not found");
    // A page of an allowed other origin embeds the canvas (it loads the bundle and files
    // and uploads) or calls the Gradio API, with CORS. Nobody else gets CORS headers, nor
    // a preflight answer (cors.ts says how this differs from Gradio's own server).
    const cors = found.find((x) => x.r.cors)?.r.cors;
    if (cors) {
      res.setHeader("Vary", "Origin");
      const embedder = guard.embedder(req);
      if (embedder) {
        res.setHeader("Access-Control-Allow-Origin", embedder);
        res.setHeader("Cross-Origin-Resource-Policy", "cross-origin");
        const answer = preflight(cors, [...new Set(found.map((x) => x.r.method))], req);
        if (answer) return void res.writeHead(204, answer).end();
      }
    }
    const method = req.method === "HEAD" ? "GET" : req.method;
    const hit = found.find((x) => x.r.method === method);
    if (!hit) {
      res.setHeader("Allow", [...new Set(found.map((x) => x.r.method))].join(", "));
      return refuse(res, 405, "Method not allowed");
    }
    if (!guard.tokenOk(req, query)) {
      return refuse(res, 401, "This daggr server needs its access token: open the URL it printed (…/?token=…), or send Authorization: Bearer <token>.");
    }
    if (method === "POST") {
      if (!guard.originAllowed(req)) return refuse(res, 403, "Cross-origin request refused.");
      const rawBody = hit.r.body === "raw";
      if (hit.r.body === "form" ? !isMultipart(req) : rawBody ? isCorsSimpleType(req) : !isJson(req)) {
        if (hit.r.body === "form") return refuse(res, 400, "Send the files as multipart/form-data.");
        return refuse(res, 415, rawBody ? "Send the file's own MIME type (or application/octet-stream) as Content-Type." : "Send Content-Type: application/json.");
      }
      watchBody(req, res, options.bodyRate);
    }
    Promise.resolve(hit.r.handler(req, res, hit.m!, query)).catch((e) => {
      log.error({ url: path, err: String((e as Error)?.stack ?? e) }, "request failed");
      if (!res.headersSent) refuse(res, 500, "Internal error");
      else res.destroy();
    });
  };
}

import type { IncomingMessage } from "node:http";

/**
 * What a page of an `allowedOrigins` origin may do on a route (nothing by default):
 *
 * - `read`: read the response (the bundle, files). Reads need no preflight.
 * - `upload`: POST a raw file (`POST /upload`): the preflight is answered for POST with
 *   `Content-Type, X-Filename`.
 * - `api`: call the Gradio-compatible API with `@gradio/client` from the browser: every
 *   method the path serves is preflighted (a GET too: the client sends `Authorization`
 *   on `/config`, `/info` and the SSE streams when given a token or `headers`), with the
 *   request headers that client sends (`GRADIO_CLIENT_HEADERS`).
 *
 * Compared with Gradio's own server (`CustomCORSMiddleware` in gradio/route_utils.py,
 * added to every app in routes.py `create_app`):
 *
 * - **Stricter on origins.** Gradio reflects any `Origin` (unless the app is on a
 *   localhost name and the page is not), so any site may drive a public Gradio app from
 *   its visitors' browsers. A daggr app runs its author's code, files and tokens: only the
 *   origins its author lists in `allowedOrigins` get CORS headers or a preflight answer;
 *   any other gets neither, never `*`, and its POSTs are still refused (403) by the
 *   Origin check, whatever a preflight said.
 * - **No credentials.** Gradio sends `Access-Control-Allow-Credentials: true`; we never
 *   do, so a page's script cannot ride on the visitor's cookies (the launch-token cookie,
 *   a Space's sign-in): it passes a token explicitly (`Authorization: Bearer`), which
 *   `@gradio/client` does by default (`credentials: "same-origin"`).
 * - **Named headers.** Gradio echoes whatever `Access-Control-Request-Headers` asks for;
 *   we echo only the ones `@gradio/client` sends, so a preflight asking for anything
 *   else fails in the browser.
 * - **Methods.** Gradio allows every method; we allow the ones the path serves (GET
 *   and/or POST; HEAD goes with GET). Gradio answers a preflight 200 `OK`, we 204.
 * - **Agreed:** the exact origin is echoed (never `*`) with `Vary: Origin` (we send
 *   Vary on every response of these routes, allowed or not, so a cache never mixes
 *   them up); preflights are answered before any token check (browsers never send
 *   credentials on them) and cached for 600 s (`Access-Control-Max-Age`); streaming
 *   (SSE) responses carry the same headers as the others.
 */
export type Cors = "read" | "upload" | "api";

/** Headers a cross-origin upload may send (the preflight's answer). */
const UPLOAD_HEADERS = "Content-Type, X-Filename";

/**
 * The request headers `@gradio/client` (2.7, in a browser) sends to a Gradio app:
 * `Content-Type: application/json` on its POSTs (post_data.ts, submit.ts),
 * `Authorization: Bearer` with its `token` option (client.ts `stream`, post_data.ts,
 * upload_files.ts, view_api.ts, init_helpers.ts), `x-gradio-user: api` and
 * `x-gradio-history-bucket` on queue/join (submit.ts), and, in a page framed by the Hub
 * on `*.hf.space`, the ZeroGPU headers the Hub's page hands it by `postMessage`
 * (submit.ts, zerogpu.ts; their names are not in the client, so we allow `x-zerogpu-*`
 * and `x-ip-token`, the one Python's `gradio_client` forwards, client.py). Its `headers`
 * option adds any header the caller names: only these pass. `x-hf-authorization` is what
 * Python's `gradio_client` sends next to `Authorization` (client.py), allowed for a page
 * relaying such calls. `Cookie` is not settable from a page, so it is not here.
 */
const GRADIO_CLIENT_HEADERS = /^(?:content-type|authorization|x-hf-authorization|x-ip-token|x-gradio-[a-z0-9-]+|x-zerogpu-[a-z0-9-]+)$/;

/**
 * The answer to a CORS preflight (`OPTIONS` with `Access-Control-Request-Method`) from
 * an allowed origin, or `undefined` when this route answers none for that method.
 * `methods` are the ones the path serves.
 */
export function preflight(cors: Cors, methods: readonly string[], req: IncomingMessage): Record<string, string> | undefined {
  const wanted = req.headers["access-control-request-method"];
  if (req.method !== "OPTIONS" || typeof wanted !== "string") return undefined;
  if (cors === "upload" && wanted === "POST") {
    return { "Access-Control-Allow-Methods": "POST", "Access-Control-Allow-Headers": UPLOAD_HEADERS, "Access-Control-Max-Age": "600" };
  }
  if (cors !== "api" || !methods.includes(wanted === "HEAD" ? "GET" : wanted)) return undefined;
  const asked = String(req.headers["access-control-request-headers"] ?? "")
    .split(",")
    .map((h) => h.trim().toLowerCase())
    .filter((h) => GRADIO_CLIENT_HEADERS.test(h));
  return {
    "Access-Control-Allow-Methods": methods.join(", "),
    ...(asked.length ? { "Access-Control-Allow-Headers": asked.join(", ") } : {}),
    "Access-Control-Max-Age": "600",
  };
}

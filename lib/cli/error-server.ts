import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import type { Duplex } from "node:stream";
import { type WebSocket, WebSocketServer } from "ws";
import { type ErrorMessage, PROTOCOL_VERSION, WireErrorCode } from "../protocol.js";
import { followDiagnostics } from "../server/diagnostics.js";
import { favicon } from "../server/favicon.js";
import { listen, resolveOptions } from "../server/options.js";
import { asset, canvasPage, gzipped, pageCsp } from "../server/page.js";
import { Guard, suspiciousPath } from "../server/security.js";
import type { AppFailure } from "./app.js";

/** What `daggr dev` serves while the app does not load. */
export interface ErrorServer {
  port: number;
  /** The access token it requires (the app must require the same). */
  token?: string;
  /** Frees the port (the fixed app takes it); open tabs reconnect to the app. */
  close(): Promise<void>;
}

/**
 * While the app fails to load, `daggr dev` holds its address with this stand-in: the
 * same page and canvas bundle, behind the same Host, Origin and token checks, whose
 * WebSocket answers with one `E_APP_FAILED` error (message, code, file:line) instead of
 * a snapshot, followed by the app's type errors under `--typecheck` (the `diagnostics`
 * messages the app's own server sends, kept current). The canvas shows them in one
 * overlay, and once the fixed app is served again
 * (this server closes its sockets first) it reconnects and carries on.
 */
export async function serveAppFailure(launch: Record<string, unknown>, failure: AppFailure): Promise<ErrorServer> {
  const opts = resolveOptions(launch);
  const sockets = new Set<WebSocket>();
  const http: Server = createServer({ headersTimeout: 30_000 });
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  const port = await listen(http, opts.host, opts.port, opts.strictPort);
  const guard = new Guard(opts, port);
  const message = (re: string | undefined): string =>
    JSON.stringify({ v: PROTOCOL_VERSION, type: "error", ...(re ? { re } : {}), code: WireErrorCode.APP_FAILED, message: failure.message, details: { ...failure } } satisfies ErrorMessage);

  http.on("request", (req: IncomingMessage, res: ServerResponse) => void answer(req, res));
  async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://x");
    const deny = (status: number, text: string): void => void res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store" }).end(text);
    if (!guard.hostAllowed(req)) return deny(403, "Host not allowed.");
    if (suspiciousPath(url.pathname) || (req.method !== "GET" && req.method !== "HEAD")) return deny(404, "Not found");
    if (url.pathname === "/favicon.ico") {
      // As the app's server: open without the token, so the tab keeps daggr's icon.
      const icon = favicon();
      res.writeHead(200, { "Content-Type": "image/x-icon", "Cache-Control": "public, max-age=86400", "Content-Length": icon.length });
      return void res.end(req.method === "HEAD" ? undefined : icon);
    }
    if (url.pathname === "/" && url.searchParams.has("token") && guard.tokenOk(req, url.searchParams)) {
      res.writeHead(302, { Location: "/", "Set-Cookie": guard.tokenCookie(), "Cache-Control": "no-store" });
      return void res.end();
    }
    if (!guard.tokenOk(req, url.searchParams)) return deny(401, "This daggr server needs its access token: open the URL it printed (…/?token=…).");
    if (url.pathname === "/") {
      const html = canvasPage(`${failure.code}: the app failed to load`, `http://${req.headers.host}`);
      res.writeHead(200, { "Content-Type": "text/html; charset=utf-8", "Content-Security-Policy": pageCsp(req.headers.host!, []), "X-Frame-Options": "DENY", "Cache-Control": "no-store" });
      return void res.end(req.method === "HEAD" ? undefined : html);
    }
    const name = /^\/assets\/([a-z0-9-]+\.(?:js|css|map))$/.exec(url.pathname)?.[1];
    const a = name ? await asset(name) : undefined;
    if (!a) return deny(404, "Not found");
    const gzip = /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""));
    const body = gzip ? gzipped(a) : a.body;
    res.writeHead(200, { "Content-Type": a.type, "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff", ...(gzip ? { "Content-Encoding": "gzip" } : {}) });
    res.end(req.method === "HEAD" ? undefined : body);
  }

  http.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on("error", () => socket.destroy());
    const url = new URL(req.url ?? "/", "http://x");
    const refuse = (status: string) => socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    if (!guard.hostAllowed(req)) return refuse("403 Forbidden");
    if (url.pathname !== "/ws") return refuse("404 Not Found");
    if (guard.origin(req) === "refused") return refuse("403 Forbidden");
    if (!guard.tokenOk(req, url.searchParams)) return refuse("401 Unauthorized");
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on("error", () => ws.terminate());
      sockets.add(ws);
      ws.on("close", () => sockets.delete(ws));
      // Every message (the hello first) is answered with the failure; nothing else is served.
      // After the first answer, the type errors (`--typecheck`), now and at each check.
      let unfollow: (() => void) | undefined;
      ws.on("close", () => unfollow?.());
      ws.on("message", (data) => {
        ws.send(message(requestId(String(data))));
        unfollow ??= followDiagnostics((m) => ws.send(JSON.stringify(m)));
      });
    });
  });

  return {
    port,
    ...(opts.token ? { token: opts.token } : {}),
    async close() {
      for (const ws of sockets) ws.close(1012, "The app is starting again.");
      wss.close();
      http.closeAllConnections();
      await new Promise<void>((r) => http.close(() => r()));
    },
  };
}

/** The `id` of a client message, echoed as `re` in the reply. */
function requestId(text: string): string | undefined {
  try {
    const id = (JSON.parse(text) as { id?: unknown }).id;
    return typeof id === "string" && id.length <= 100 ? id : undefined;
  } catch {
    return undefined;
  }
}

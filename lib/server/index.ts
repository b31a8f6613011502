/**
 * The daggr server: the canvas page, the elements bundle, the REST API, the file route
 * and the WebSocket wire protocol (docs/protocol.md), on `node:http` + `ws`.
 *
 * @example
 * import { launch } from "daggr/server";
 * const server = await launch(graph, { port: 7860 });
 * console.log(server.url);
 * await server.close();
 */
// First: from a clone whose dist/ is older than its sources, refuse before anything runs (E_STALE_BUILD).
import "../build-guard.js";
import { spawn } from "node:child_process";
import { EventEmitter } from "node:events";
import { type IncomingMessage, createServer } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { type WebSocket, WebSocketServer } from "ws";
import { DEFAULT_REMOTE_CONCURRENCY, type Store, limits, metaCache } from "../engine/index.js";
import type { Graph } from "../graph/index.js";
import { setFallbackHfToken, withHfToken } from "../nodes/hf-token.js";
import { Connection } from "./connection.js";
import { Hub } from "./hub.js";
import { OAuth, oauthConfig } from "./oauth.js";
import { refuse } from "./respond.js";
import { openShare, type Share } from "./share.js";
import { LOCAL_USER, localUser } from "./users.js";
import { ANONYMOUS_USER, type Visitor, Visitors } from "./visitors.js";
import { ConnectionCap, RunQueue } from "./limits.js";
import { type ServerOptions, isLoopback, listen, portNote, resolveOptions } from "./options.js";
import { gradioApi } from "./gradio-api/index.js";
import { requestOrigin, router } from "./routes.js";
import { Guard, suspiciousPath } from "./security.js";
import { Wire } from "./wire.js";
import { sweepOsTemp } from "../store/temp.js";
import { stopLocalSpaces } from "../nodes/local-space/index.js";
import { checkUpstream, dependencyCheckMode } from "../nodes/upstream.js";
import { log } from "./log.js";
import { followDiagnostics } from "./diagnostics.js";

export type { ServerOptions } from "./options.js";
export { apiSchema } from "./api.js";
export { type Logger, type LoggerOptions, createLogger, log } from "./log.js";
export { showDiagnostics } from "./diagnostics.js";

/** A node that failed, as the `daggr` command prints it. */
export interface NodeFailure {
  nodeId: string;
  /** `details` may say where in the app the error was thrown (`file`, `line`, `column`). */
  error: { code?: string; message: string; details?: Record<string, unknown> };
  /** A start-up check failed (the node did not run). */
  check: boolean;
}

export interface LaunchedServer {
  /** Where the canvas is, e.g. `http://127.0.0.1:7860` (without the token). */
  url: string;
  port: number;
  host: string;
  /** The access token, when this server requires one (`url + "/?token=" + token` opens it). */
  token?: string;
  /** With `share: true`: the public link, token included (`https://….gradio.live/?token=…`). */
  shareUrl?: string;
  /** Whose sheets this server shows: the machine's Hugging Face user, "local", or (on a Space) "visitors". */
  user: string;
  /** Stops serving: closes sockets and cancels the runs in progress. */
  close(): Promise<void>;
}

/**
 * What the `daggr` command watches in its child: the servers of this process, a signal
 * when one starts, and the gate launches wait at. Kept on `globalThis`, so it is one
 * per process even when the app imports another copy of daggr than the command's.
 */
interface Shared {
  running: Set<LaunchedServer>;
  /** `node-failed`: a node of any sheet failed, or failed its start-up check (what the `daggr` command prints). */
  launches: EventEmitter<{ starting: []; listening: [LaunchedServer]; "node-failed": [NodeFailure] }>;
  /**
   * Launches wait here before opening the store and binding the port. `daggr dev` holds
   * it closed in a fresh child while the previous one still holds both, so the app's
   * import overlaps the old process's shutdown.
   */
  gate: { open: Promise<void> };
}
const shared: Shared = ((globalThis as { [k: symbol]: Shared })[Symbol.for("daggr.server")] ??= {
  running: new Set(),
  launches: new EventEmitter(),
  gate: { open: Promise.resolve() },
});
export const { running, launches, gate } = shared;

const HEARTBEAT_MS = 30_000;

/**
 * Serves a graph. Defaults: 127.0.0.1:7860 (`GRADIO_SERVER_NAME` / `GRADIO_SERVER_PORT`;
 * the next free port when taken), the app's own store, and a token only when bound
 * beyond loopback.
 */
export async function launch(graph: Graph, options: ServerOptions & { open?: boolean } = {}): Promise<LaunchedServer> {
  launches.emit("starting");
  await gate.open;
  const opts = resolveOptions(options);
  // The store opens first: a database locked by another daggr process fails the launch before anything listens.
  const store: Store = options.store ?? (await (await import("../runtime.js")).storeFor(graph));
  // Upstream revisions, compared in the background (DAGGR_DEPENDENCY_CHECK=error waits, and refuses to start on a change).
  const checkMode = dependencyCheckMode();
  const upstream = checkUpstream(graph, metaCache(store));
  if (checkMode === "error") await upstream;
  else upstream.catch((e) => log.warn({ code: (e as { code?: string }).code }, `the upstream check failed: ${(e as Error).message}`));
  // Queue mode: calls go to workers from the first run on (the queue's own module loads only when asked).
  const queueOptions = options.queue ?? (process.env.DAGGR_QUEUE ? { redis: process.env.DAGGR_QUEUE } : undefined);
  const queue = queueOptions ? await (await import("../queue/index.js")).startQueue(graph, queueOptions) : undefined;
  const wire = new Wire(graph, store);
  const makeHub = (s: Store, user: string) => {
    const hub = new Hub(graph, s, wire, user);
    hub.onEvent = (e) => {
      if (e.type === "node-failed" || e.type === "node-invalid") launches.emit("node-failed", { nodeId: e.nodeId, error: e.error, check: e.type === "node-invalid" });
    };
    return hub;
  };
  const oauth = spaceLogin(opts.space, opts.anonymous);
  const user = opts.user ?? (opts.space ? ANONYMOUS_USER : await localUser(store));
  const visitors = new Visitors(store, makeHub, { user, space: opts.space, anonymous: opts.anonymous, ...(oauth ? { oauth } : {}) });
  // On a Space nothing runs on the owner's token: a visitor's work runs with theirs (or none).
  if (opts.space) setFallbackHfToken(undefined);
  const scoped = <T>(v: Visitor, fn: () => T): T => (v.scope ? withHfToken(v.scope.token, fn) : fn());
  limits.remoteConcurrency = opts.remoteConcurrency ?? DEFAULT_REMOTE_CONCURRENCY;
  const runs = new RunQueue(opts.maxRuns, opts.maxRunsPerSheet);
  const cap = new ConnectionCap(opts.maxConnections, opts.maxConnectionsPerIp);
  // Bodies are timed by their rate (see `bodyRate`), not by a total deadline a big upload could hit.
  const http = createServer({ requestTimeout: 0, headersTimeout: 30_000 });
  http.on("connection", (socket: Socket) => cap.admit(socket));
  // One message per turn of the event loop (not every message of a TCP read at once), so a
  // socket's flood interleaves with every other client's requests instead of blocking them.
  // permessage-deflate for what is big (snapshots, history pages, results with long text):
  // a message under 1 KB (most deltas) goes as it is, so updates cost no compression. No
  // context is kept between messages, so a connection holds no compression window of its own.
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: opts.maxMessageBytes,
    allowSynchronousEvents: false,
    perMessageDeflate: { threshold: 1024, serverNoContextTakeover: true, clientNoContextTakeover: true, zlibDeflateOptions: { level: 6 }, concurrencyLimit: 4 },
  });
  const port = await listen(http, opts.host, opts.port, opts.strictPort);
  const guard = new Guard(opts, port);
  const account = (req: IncomingMessage) => {
    const v = opts.space ? visitors.identify(req) : undefined;
    return v ? (v.persistent ? { user: v.user } : {}) : undefined;
  };
  // Every daggr app is also a Gradio app (gradio-api/): its routes join the table, behind the same guard.
  const gradio = opts.api
    ? gradioApi({ graph, store, user, runs, encode: (o) => wire.encode(o), origin: requestOrigin, maxMessageBytes: opts.maxMessageBytes, maxUploadBytes: opts.maxUploadBytes, space: opts.space })
    : undefined;
  const route = router({ graph, store, wire, guard, options: opts, runs, ...(oauth ? { account } : {}), extraRoutes: gradio?.routes });
  http.on("request", (req, res) => {
    if (cap.isRefused(req.socket)) return void res.destroy();
    const raw = req.url ?? "/";
    const path = raw.split("?", 1)[0]!;
    if (oauth && LOGIN_PATHS.has(path) && req.method === "GET" && guard.hostAllowed(req)) {
      oauth.handle(req, res, path, new URLSearchParams(raw.slice(path.length + 1))).catch((e) => {
        log.error({ err: String((e as Error)?.message ?? e) }, "Hugging Face login failed");
        refuse(res, 502, "Hugging Face login failed; try again.");
      });
      return;
    }
    const serve = (visitor: Visitor | undefined) => {
      if (!visitor) {
        if (!OPEN_PATHS.test(path)) return signInFirst(req, res, path);
        return route(req, res);
      }
      scoped(visitor, () => route(req, res));
    };
    const known = visitors.identify(req);
    // An API client on a Space may name itself with its own Hugging Face token (asked of the Hub once, then cached).
    if (known?.persistent || !visitors.bearer(req)) return serve(known);
    visitors.identifyBearer(req).then((v) => serve(v ?? known), () => serve(known));
  });
  http.on("upgrade", async (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on("error", () => socket.destroy());
    if (cap.isRefused(req.socket)) return void socket.destroy();
    const raw = req.url ?? "";
    const q = raw.indexOf("?");
    const path = q < 0 ? raw : raw.slice(0, q);
    const deny = (status: string) => {
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    if (!guard.hostAllowed(req)) return deny("403 Forbidden");
    if (suspiciousPath(path) || path !== "/ws") return deny("404 Not Found");
    if (guard.origin(req) === "refused") return deny("403 Forbidden");
    if (!guard.tokenOk(req, new URLSearchParams(q < 0 ? "" : raw.slice(q + 1)))) return deny("401 Unauthorized");
    const cookieVisitor = visitors.identify(req);
    const visitor = cookieVisitor?.persistent || !visitors.bearer(req) ? cookieVisitor : ((await visitors.identifyBearer(req).catch(() => undefined)) ?? cookieVisitor);
    if (!visitor) return deny("401 Unauthorized");
    if (socket.destroyed) return;
    wss.handleUpgrade(req, socket, head, (ws) => {
      alive.set(ws, true);
      ws.on("pong", () => alive.set(ws, true));
      const seat = visitors.seat(visitor);
      ws.on("close", seat.leave);
      const conn = new Connection(ws, seat.hub, graph, wire, { runs, messageRate: opts.messageRate, ...(visitor.scope ? { scope: (fn) => scoped(visitor, fn) } : {}) });
      // `daggr dev --typecheck`: the app's type errors, now and as they change.
      ws.on("close", followDiagnostics((m) => conn.send(wire.encode(m))));
    });
  });
  // Drops sockets whose peer vanished without a close (a sleeping laptop, a dead proxy).
  const alive = new WeakMap<WebSocket, boolean>();
  const heartbeat = setInterval(() => {
    for (const ws of wss.clients) {
      if (!alive.get(ws)) ws.terminate();
      else {
        alive.set(ws, false);
        ws.ping();
      }
    }
  }, HEARTBEAT_MS).unref();

  const wildcard = opts.host === "0.0.0.0" || opts.host === "::";
  const shownHost = wildcard ? "127.0.0.1" : opts.host.includes(":") ? `[${opts.host}]` : opts.host;
  const url = `http://${shownHost}:${port}`;
  let closing: Promise<void> | undefined;
  let share: Share | undefined;
  const server: LaunchedServer = {
    url,
    port,
    host: opts.host,
    user: opts.space ? "visitors" : user,
    ...(opts.token ? { token: opts.token } : {}),
    close: () =>
      (closing ??= (async () => {
        running.delete(server);
        clearInterval(heartbeat);
        share?.close();
        // Nothing new gets in first: a tab reconnecting on the goodbye below was let in while
        // the rest closed, and its WebSocket (never told) kept http.close() waiting for ever.
        const stopped = new Promise<void>((ok) => http.close(() => ok()));
        wss.close(); // an upgrade already under way is refused (503)
        for (const ws of wss.clients) ws.close(1001, "Server shutting down");
        await gradio?.close();
        await visitors.close();
        await queue?.close();
        if (opts.space) setFallbackHfToken(false);
        // Uploads this process left in flight (and any a crashed one left).
        await sweepOsTemp({ own: true });
        http.closeAllConnections();
        for (const ws of wss.clients) ws.terminate();
        await stopped;
        // runLocally apps end with the last server of this process (none is left behind).
        if (!running.size) await stopLocalSpaces();
      })()),
  };
  if (opts.share) {
    try {
      share = await openShare({ host: wildcard ? "127.0.0.1" : opts.host, port });
    } catch (e) {
      await server.close();
      throw e;
    }
    // The tunnel's public name arrives as Host; the token stays required (always, in share mode).
    opts.allowedHosts.add(share.host);
    server.shareUrl = `${share.url}/?token=${opts.token}`;
  }
  running.add(server);
  if (!opts.quiet) {
    const open = opts.token ? `${url}/?token=${opts.token}` : url;
    log.info({ url: open, graph: graph.name }, `serving "${graph.name}" at ${open}${portNote(opts.port, port)}`);
    if (queue) log.info(`queue mode: node calls go to workers on queue '${queue.name}' (start them with: daggr worker <app.ts> --redis <url>)`);
    if (wildcard) log.info(`listening on all interfaces (${opts.host}); the token is required from other machines.`);
    else if (!isLoopback(opts.host)) log.info(`bound beyond loopback (${opts.host}); the token is required.`);
    if (!opts.token && !isLoopback(opts.host) && !opts.space) log.warn("no access token: anyone who can reach this port can run this app's code.");
    if (server.shareUrl) log.info(`public link (anyone with it can run this app's code): ${server.shareUrl}`);
    if (opts.space) log.info(`on a Space: ${oauth ? "visitors sign in with Hugging Face" : "Hugging Face sign-in is off (add hf_oauth: true to the Space's README)"}; anonymous visitors ${opts.anonymous === "run" ? "can view and run, without persistence" : "are refused"}.`);
    else if (user !== LOCAL_USER && !options.user) log.info(`sheets of Hugging Face user ${user}`);
  }
  if (options.open) openBrowser(opts.token ? `${url}/?token=${opts.token}` : url);
  launches.emit("listening", server);
  return server;
}

/** The sign-in routes (Gradio's names). */
const LOGIN_PATHS = new Set(["/login/huggingface", "/login/callback", "/logout"]);
/** What a visitor may load before signing in, when anonymous visitors are refused. */
const OPEN_PATHS = /^\/(?:assets\/[a-z0-9][a-z0-9-]*\.(?:js|css|map)|favicon\.ico|api\/health)$/;

/** Anonymous visitors are refused: the page sends them to sign in, anything else is a 401. */
function signInFirst(req: IncomingMessage, res: import("node:http").ServerResponse, path: string): void {
  if (path === "/" && (req.method === "GET" || req.method === "HEAD")) {
    res.writeHead(302, { Location: "/login/huggingface?_target_url=%2F", "Cache-Control": "no-store" });
    return void res.end();
  }
  refuse(res, 401, "Sign in with Hugging Face first: open /login/huggingface.");
}

/** The Space's sign-in, when it has one (`hf_oauth: true` gives the OAuth variables). */
function spaceLogin(space: boolean, anonymous: "run" | "refuse"): OAuth | undefined {
  if (!space) return undefined;
  const config = oauthConfig();
  if (!("missing" in config)) return new OAuth(config);
  if (anonymous === "refuse") {
    throw new Error(`anonymous: "refuse" needs Hugging Face sign-in, but ${config.missing.join(", ")} ${config.missing.length > 1 ? "are" : "is"} not set: add hf_oauth: true to the Space's README front matter.`);
  }
  return undefined;
}

function openBrowser(url: string): void {
  const cmd = process.platform === "darwin" ? "open" : process.platform === "win32" ? "explorer" : "xdg-open";
  try {
    spawn(cmd, [url], { stdio: "ignore", detached: true }).on("error", () => undefined).unref();
  } catch {
    // No browser here: the URL is printed.
  }
}

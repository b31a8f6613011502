import { randomBytes } from "node:crypto";
import type { Server } from "node:http";
import { hostname, networkInterfaces } from "node:os";
import type { Store } from "../engine/index.js";
import type { BodyRate, Rate } from "./limits.js";
import type { QueueOptions } from "../queue/index.js";

/** What `graph.launch(options)` and `daggr dev/run` accept. */
export interface ServerOptions {
  /** Interface to bind (default `GRADIO_SERVER_NAME`, else 127.0.0.1). */
  host?: string;
  /** Port (default `GRADIO_SERVER_PORT`, else 7860); the next free one is used when taken, unless `strictPort`. */
  port?: number;
  /** Fail instead of moving to the next port (the dev command uses it on restarts). */
  strictPort?: boolean;
  /** Where sheets and results live (default: the app's LevelDB, or memory with `persistKey: false`). */
  store?: Store;
  /**
   * The per-launch access token. Required when bound beyond loopback: generated unless
   * given (`DAGGR_TOKEN` works too). `true` demands one on loopback as well; `false`
   * disables it, which lets anyone who can reach the port run the app's code.
   */
  token?: string | boolean;
  /** Extra `Host` names to accept (`DAGGR_ALLOWED_HOSTS`, comma-separated, adds to these). */
  allowedHosts?: string[];
  /** Extra page origins allowed to connect (for `<daggr-canvas>` embedded elsewhere). */
  allowedOrigins?: string[];
  /** Largest WebSocket message and JSON request body, in bytes (default 4 MiB). */
  maxMessageBytes?: number;
  /** Largest upload, in bytes (default 100 MiB). */
  maxUploadBytes?: number;
  /**
   * Messages each WebSocket may send: `perSecond` on average, `burst` at once (default
   * 100/s, burst 200). Past it a message gets an `E_TOO_MANY_MESSAGES` reply and is not
   * applied; the socket stays open. `false` turns the limit off.
   */
  messageRate?: Rate | false;
  /** Runs in progress (queued or executing) per sheet (default 32); past it, `E_RUN_QUEUE_FULL`. */
  maxRunsPerSheet?: number;
  /** Runs in progress on the whole server, REST calls included (default 256); past it, `E_RUN_QUEUE_FULL` (HTTP 503). */
  maxRuns?: number;
  /** Open connections (HTTP and WebSocket) in total (default 1024); past it, 503. */
  maxConnections?: number;
  /** Open connections from one client address (default 128; behind a proxy all clients share one). */
  maxConnectionsPerIp?: number;
  /**
   * How slowly a request body may arrive (default: 1024 bytes/s on average once 10 s have
   * passed); a slower one is cut off with 408, so trickling clients cannot hold connections.
   */
  bodyRate?: BodyRate;
  /**
   * Jobs each remote app (a Gradio app, a provider model) runs at once, for nodes without
   * their own `maxConcurrent` (default 4, or `DAGGR_REMOTE_CONCURRENCY`). Process-wide.
   */
  remoteConcurrency?: number;
  /** Serve `/api/schema` and `/api/call` (default true). */
  api?: boolean;
  /**
   * The user owning sheets. Default: the Hugging Face account of the token in use
   * (`whoami`, asked once per token and cached), else "local". On a Space each visitor
   * is their own user and this is ignored.
   */
  user?: string;
  /**
   * Serve as on a Hugging Face Space (default: when `SPACE_ID` is set): visitors sign in
   * with Hugging Face (the Space's `hf_oauth: true`), each sees only their own sheets,
   * and remote calls made for them use their own token, never the Space owner's. The
   * defaults become `0.0.0.0:7860` without an access token (the login is the gate).
   */
  space?: boolean;
  /**
   * On a Space, what a visitor who has not signed in may do: `"run"` (default) view and
   * run, in sheets kept in memory for that tab only, with no token; `"refuse"`: nothing
   * until they sign in.
   */
  anonymous?: "run" | "refuse";
  /**
   * A public link through Gradio's share servers (`GRADIO_SHARE_SERVER_ADDRESS` for your
   * own). The access token is then always required, whatever the host.
   */
  share?: boolean;
  /** Print nothing (default false). */
  quiet?: boolean;
  /**
   * Queue mode: node calls run on `daggr worker` processes through Redis instead of in
   * this process (`DAGGR_QUEUE=redis://…` or `daggr run --queue redis://…` set it too).
   */
  queue?: QueueOptions;
}

export interface ResolvedOptions {
  host: string;
  port: number;
  strictPort: boolean;
  token: string | undefined;
  allowedHosts: Set<string>;
  allowedOrigins: Set<string>;
  maxMessageBytes: number;
  maxUploadBytes: number;
  messageRate: Rate | false;
  maxRunsPerSheet: number;
  maxRuns: number;
  maxConnections: number;
  maxConnectionsPerIp: number;
  bodyRate: BodyRate;
  remoteConcurrency: number | undefined;
  /** Origins that may frame the page (`frame-ancestors`): the allowed embedding origins, and the Hub on a Space. */
  frameAncestors: string[];
  api: boolean;
  /** Set only when given: otherwise the launch asks the Hub (see `localUser`). */
  user: string | undefined;
  space: boolean;
  anonymous: "run" | "refuse";
  share: boolean;
  quiet: boolean;
}

export const DEFAULT_PORT = 7860;
const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost", "[::1]"]);

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function isWildcard(host: string): boolean {
  return host === "0.0.0.0" || host === "::" || host === "[::]";
}

/**
 * Resolves launch options. Precedence: what the `daggr` command fixed for its child
 * (`DAGGR_CLI_LAUNCH`, so `--port` beats an app's own `launch({ port })` and restarts
 * keep the port and token), then the options given, then the Gradio environment
 * variables, then the defaults.
 */
export function resolveOptions(options: ServerOptions, env: NodeJS.ProcessEnv = process.env): ResolvedOptions {
  const cli = parseCli(env.DAGGR_CLI_LAUNCH);
  const space = options.space ?? !!env.SPACE_ID;
  const share = cli.share ?? options.share ?? false;
  // On a Space the app must answer on 0.0.0.0:7860 (the Space's app_port), and the HF login is the gate.
  const host = cli.host ?? options.host ?? (env.GRADIO_SERVER_NAME || (space ? "0.0.0.0" : "127.0.0.1"));
  const envPort = env.GRADIO_SERVER_PORT ? Number(env.GRADIO_SERVER_PORT) : undefined;
  const port = cli.port ?? options.port ?? envPort ?? DEFAULT_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`Invalid port ${JSON.stringify(port)}: use an integer from 0 to 65535.`);
  const wanted = cli.token ?? options.token ?? (env.DAGGR_TOKEN || undefined) ?? (space ? false : undefined);
  if (share && wanted === false) throw new Error("share: true needs the access token (a public link is reachable by anyone); do not set token: false with it.");
  const token =
    typeof wanted === "string" ? wanted : wanted === false ? undefined : wanted === true || share || !isLoopback(host) ? randomBytes(18).toString("base64url") : undefined;
  const allowedHosts = new Set<string>(["localhost", "127.0.0.1", "[::1]"]);
  if (!isWildcard(host)) allowedHosts.add(host.toLowerCase());
  else {
    allowedHosts.add(hostname().toLowerCase());
    for (const list of Object.values(networkInterfaces())) {
      for (const a of list ?? []) allowedHosts.add(a.family === "IPv6" ? `[${a.address.toLowerCase()}]` : a.address);
    }
  }
  for (const h of env.SPACE_HOST?.split(",") ?? []) if (h.trim()) allowedHosts.add(h.trim().toLowerCase());
  for (const h of cli.shareHosts ?? []) allowedHosts.add(h.toLowerCase());
  for (const h of [...(options.allowedHosts ?? []), ...(env.DAGGR_ALLOWED_HOSTS?.split(",") ?? [])]) if (h.trim()) allowedHosts.add(h.trim().toLowerCase());
  const allowedOrigins = new Set((options.allowedOrigins ?? []).map((o) => o.replace(/\/$/, "")));
  const envRemote = env.DAGGR_REMOTE_CONCURRENCY ? count("DAGGR_REMOTE_CONCURRENCY", Number(env.DAGGR_REMOTE_CONCURRENCY)) : undefined;
  return {
    host,
    port,
    strictPort: cli.strictPort ?? options.strictPort ?? false,
    token,
    allowedHosts,
    allowedOrigins,
    maxMessageBytes: options.maxMessageBytes ?? 4 * 1024 * 1024,
    maxUploadBytes: options.maxUploadBytes ?? 100 * 1024 * 1024,
    messageRate: options.messageRate === false ? false : positive("messageRate", options.messageRate ?? { perSecond: 100, burst: 200 }),
    maxRunsPerSheet: count("maxRunsPerSheet", options.maxRunsPerSheet ?? 32),
    maxRuns: count("maxRuns", options.maxRuns ?? 256),
    maxConnections: count("maxConnections", options.maxConnections ?? 1024),
    maxConnectionsPerIp: count("maxConnectionsPerIp", options.maxConnectionsPerIp ?? 128),
    bodyRate: positive("bodyRate", options.bodyRate ?? { graceMs: 10_000, minBytesPerSecond: 1024 }),
    remoteConcurrency: options.remoteConcurrency === undefined ? envRemote : count("remoteConcurrency", options.remoteConcurrency),
    // Spaces show the app in an iframe on huggingface.co.
    frameAncestors: [...allowedOrigins, ...(env.SPACE_HOST ? ["https://huggingface.co"] : [])],
    api: options.api ?? true,
    user: options.user,
    space,
    anonymous: options.anonymous ?? "run",
    share,
    quiet: cli.quiet ?? options.quiet ?? false,
  };
}

/** A limit given as a whole number of at least 1 (Infinity allowed: no limit). */
function count(name: string, n: number): number {
  if (n === Infinity || (Number.isInteger(n) && n >= 1)) return n;
  throw new Error(`Invalid ${name} ${JSON.stringify(n)}: use a whole number of at least 1.`);
}

/** An object of positive numbers (a rate). */
function positive<T extends object>(name: string, o: T): T {
  for (const [k, v] of Object.entries(o)) {
    if (typeof v !== "number" || !(v > 0)) throw new Error(`Invalid ${name}.${k} ${JSON.stringify(v)}: use a positive number.`);
  }
  return o;
}

interface CliLaunch {
  host?: string;
  port?: number;
  strictPort?: boolean;
  token?: string;
  quiet?: boolean;
  share?: boolean;
  /** Public host names the `daggr` command's tunnel answers on (added to the allowed hosts). */
  shareHosts?: string[];
}

function parseCli(raw: string | undefined): CliLaunch {
  if (!raw) return {};
  try {
    return JSON.parse(raw) as CliLaunch;
  } catch {
    return {};
  }
}

/**
 * Listens on `port`, or on the next free port when it is taken (up to 100 further),
 * unless `strict`. Resolves with the port actually bound.
 */
export async function listen(server: Server, host: string, port: number, strict: boolean): Promise<number> {
  for (let p = port, tries = 0; ; p++, tries++) {
    try {
      await new Promise<void>((ok, fail) => {
        const onError = (e: Error) => {
          server.off("listening", onListening);
          fail(e);
        };
        const onListening = () => {
          server.off("error", onError);
          ok();
        };
        server.once("error", onError).once("listening", onListening).listen(p, host);
      });
      const addr = server.address();
      return typeof addr === "object" && addr ? addr.port : p;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== "EADDRINUSE" || strict || port === 0 || tries >= 100 || p >= 65535) {
        if (code === "EADDRINUSE") throw new Error(`Port ${p} on ${host} is already in use${strict ? "" : " (and the next 100 too)"}. Pick another with --port or GRADIO_SERVER_PORT.`);
        throw e;
      }
    }
  }
}

/**
 * The words a server's "serving at" line adds when `listen` had to move on from the port
 * asked for: whoever follows the README to :7860 would otherwise find the other app there.
 */
export function portNote(asked: number, bound: number): string {
  return asked && bound !== asked ? ` (port ${asked} is in use, by another daggr or app: open this address, not :${asked})` : "";
}

/** For tests: a port that is free right now, for another process to bind a moment later (see `free-port.ts`). */
export { freePort } from "../free-port.js";

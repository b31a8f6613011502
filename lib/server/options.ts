import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import { hostname, networkInterfaces } from "node:os";
import type { Store } from "../engine/index.js";

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
  /** Serve `/api/schema` and `/api/call` (default true). */
  api?: boolean;
  /** The user owning sheets (default "local"). */
  user?: string;
  /** Print nothing (default false). */
  quiet?: boolean;
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
  api: boolean;
  user: string;
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
  const host = cli.host ?? options.host ?? (env.GRADIO_SERVER_NAME || "127.0.0.1");
  const envPort = env.GRADIO_SERVER_PORT ? Number(env.GRADIO_SERVER_PORT) : undefined;
  const port = cli.port ?? options.port ?? envPort ?? DEFAULT_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`Invalid port ${JSON.stringify(port)}: use an integer from 0 to 65535.`);
  const wanted = cli.token ?? options.token ?? (env.DAGGR_TOKEN || undefined);
  const token =
    typeof wanted === "string" ? wanted : wanted === false ? undefined : wanted === true || !isLoopback(host) ? randomBytes(18).toString("base64url") : undefined;
  const allowedHosts = new Set<string>(["localhost", "127.0.0.1", "[::1]"]);
  if (!isWildcard(host)) allowedHosts.add(host.toLowerCase());
  else {
    allowedHosts.add(hostname().toLowerCase());
    for (const list of Object.values(networkInterfaces())) {
      for (const a of list ?? []) allowedHosts.add(a.family === "IPv6" ? `[${a.address.toLowerCase()}]` : a.address);
    }
  }
  if (env.SPACE_HOST) allowedHosts.add(env.SPACE_HOST.toLowerCase());
  for (const h of [...(options.allowedHosts ?? []), ...(env.DAGGR_ALLOWED_HOSTS?.split(",") ?? [])]) if (h.trim()) allowedHosts.add(h.trim().toLowerCase());
  return {
    host,
    port,
    strictPort: cli.strictPort ?? options.strictPort ?? false,
    token,
    allowedHosts,
    allowedOrigins: new Set((options.allowedOrigins ?? []).map((o) => o.replace(/\/$/, ""))),
    maxMessageBytes: options.maxMessageBytes ?? 4 * 1024 * 1024,
    maxUploadBytes: options.maxUploadBytes ?? 100 * 1024 * 1024,
    api: options.api ?? true,
    user: options.user ?? "local",
    quiet: cli.quiet ?? options.quiet ?? false,
  };
}

interface CliLaunch {
  host?: string;
  port?: number;
  strictPort?: boolean;
  token?: string;
  quiet?: boolean;
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

/** For tests: a port that is free right now. */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  const s = createServer();
  const port = await listen(s, host, 0, true);
  await new Promise((r) => s.close(r));
  return port;
}

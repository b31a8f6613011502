import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { ResolvedOptions } from "./options.js";

/**
 * The checks every request passes before a route sees it. Each answers one attack:
 *
 * - **Host allowlist** — DNS rebinding: a hostile page whose name resolves to 127.0.0.1
 *   sends its own name as `Host`.
 * - **Origin** — cross-site requests: a WebSocket and a state-changing request must come
 *   from a page of this server (Origin's host equal to `Host`) or an allowed origin. A
 *   `null` or foreign Origin is refused. A request without Origin is not from a browser
 *   page (browsers always send it on WebSockets and POSTs), so it cannot be forged by one.
 * - **Content type** — POSTs must be `application/json`, which a cross-site `<form>`
 *   cannot send and `fetch` cannot send without a CORS preflight we never answer.
 * - **Token** — when bound beyond loopback, every request carries the per-launch token
 *   (cookie set by `/?token=…`, `Authorization: Bearer`, or `?token=` on the WebSocket).
 */
export class Guard {
  readonly cookieName: string;

  constructor(
    private readonly options: ResolvedOptions,
    port: number,
  ) {
    // Cookies are not isolated by port: name it per port so two servers don't clash.
    this.cookieName = `daggr_token_${port}`;
  }

  get token(): string | undefined {
    return this.options.token;
  }

  /** The request's `Host` is one of ours. */
  hostAllowed(req: IncomingMessage): boolean {
    const host = req.headers.host;
    if (!host) return false;
    const name = hostName(host);
    return name !== undefined && this.options.allowedHosts.has(name);
  }

  /** `"none"` (no Origin: not a browser page), `"ok"`, or `"refused"` (null, foreign, malformed). */
  origin(req: IncomingMessage): "none" | "ok" | "refused" {
    const origin = req.headers.origin;
    if (origin === undefined) return "none";
    if (this.options.allowedOrigins.has(origin)) return "ok";
    let u: URL;
    try {
      u = new URL(origin);
    } catch {
      return "refused";
    }
    if ((u.protocol !== "http:" && u.protocol !== "https:") || u.origin !== origin) return "refused";
    return u.host.toLowerCase() === (req.headers.host ?? "").toLowerCase() ? "ok" : "refused";
  }

  /** The request's Origin when it is one of the extra `allowedOrigins` (a page embedding the canvas). */
  embedder(req: IncomingMessage): string | undefined {
    const origin = req.headers.origin;
    return origin !== undefined && this.options.allowedOrigins.has(origin) ? origin : undefined;
  }

  /** Whether the request may change state: no Origin or our own. */
  originAllowed(req: IncomingMessage): boolean {
    return this.origin(req) !== "refused";
  }

  /** The request carries the token (or none is needed). */
  tokenOk(req: IncomingMessage, query: URLSearchParams): boolean {
    const want = this.options.token;
    if (!want) return true;
    const auth = req.headers.authorization;
    const candidates = [
      auth?.startsWith("Bearer ") ? auth.slice(7).trim() : undefined,
      cookie(req.headers.cookie, this.cookieName),
      query.get("token") ?? undefined,
    ];
    return candidates.some((c) => c !== undefined && same(c, want));
  }

  /** The cookie that `/?token=…` sets, so the page's own requests carry the token. */
  tokenCookie(): string {
    return `${this.cookieName}=${this.options.token}; HttpOnly; SameSite=Strict; Path=/`;
  }
}

/** `application/json`, with or without parameters (`; charset=utf-8`). */
export function isJson(req: IncomingMessage): boolean {
  const type = req.headers["content-type"];
  return typeof type === "string" && type.split(";")[0]!.trim().toLowerCase() === "application/json";
}

/** `multipart/form-data` (with its boundary). */
export function isMultipart(req: IncomingMessage): boolean {
  const type = req.headers["content-type"];
  return typeof type === "string" && type.split(";")[0]!.trim().toLowerCase() === "multipart/form-data";
}

/**
 * The content types a cross-site page can POST without a CORS preflight (a plain
 * `<form>` or a "simple" fetch): refused for uploads, so only script on our own page,
 * or a non-browser client, can upload.
 */
export function isCorsSimpleType(req: IncomingMessage): boolean {
  const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  return type === "" || type === "text/plain" || type === "multipart/form-data" || type === "application/x-www-form-urlencoded";
}

/**
 * A request target we never serve, whatever the route: not origin-form, or holding
 * anything a traversal needs (`..`, any percent-escape, backslashes, empty segments,
 * control characters). Our routes' names use none of these, so refusing them up front
 * costs nothing and makes the route table the only thing to audit.
 */
export function suspiciousPath(path: string): boolean {
  return !path.startsWith("/") || /%|\\|\/\/|(^|\/)\.\.?(\/|$)|[\x00-\x1f\x7f]/.test(path);
}

function hostName(host: string): string | undefined {
  const h = host.trim().toLowerCase();
  if (h.startsWith("[")) {
    const end = h.indexOf("]");
    return end > 0 ? h.slice(0, end + 1) : undefined;
  }
  const colon = h.indexOf(":");
  const name = colon < 0 ? h : h.slice(0, colon);
  return /^[a-z0-9.-]+$/.test(name) ? name : undefined;
}

function cookie(header: string | undefined, name: string): string | undefined {
  for (const part of header?.split(";") ?? []) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

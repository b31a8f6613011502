import { createHash, randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { LRUCache } from "lru-cache";
import { refuse } from "./respond.js";

/**
 * "Sign in with Hugging Face" on a Space, the way Gradio does it (`gradio/oauth.py`).
 * A Space with `hf_oauth: true` in its README gets `OAUTH_CLIENT_ID`,
 * `OAUTH_CLIENT_SECRET`, `OAUTH_SCOPES` and `OPENID_PROVIDER_URL`; the routes are
 * Gradio's: `/login/huggingface` (to the provider), `/login/callback` (code → token →
 * userinfo) and `/logout`, each taking `_target_url` (a local path only: no open
 * redirect). The redirect URI on a Space is always `https://<SPACE_HOST>/login/callback`.
 *
 * The code flow is the confidential one (client secret, HTTP Basic, as authlib sends
 * it) with PKCE (S256) on top; the `state` is bound to the browser by a short-lived
 * cookie, so a callback URL made by someone else logs nobody in. A login lives on the
 * server (the browser holds a random session id in an HttpOnly cookie, never the
 * token) until the access token expires or the visitor logs out; a restart logs
 * everyone out.
 */
export interface OAuthConfig {
  clientId: string;
  clientSecret: string;
  scopes: string;
  /** `OPENID_PROVIDER_URL` (https://huggingface.co on Spaces). */
  providerUrl: string;
  /** `SPACE_HOST`: its first name builds the redirect URI (a custom domain comes second). */
  spaceHost?: string;
}

/** A signed-in visitor. */
export interface Login {
  /** The Hugging Face username (`preferred_username`): sheets belong to it. */
  user: string;
  /** Their OAuth access token: remote calls made for them use it. */
  token: string;
  /** Epoch ms after which the login is over. */
  expiresAt: number;
  name?: string;
  picture?: string;
}

const ENV_NAMES = ["OAUTH_CLIENT_ID", "OAUTH_CLIENT_SECRET", "OAUTH_SCOPES", "OPENID_PROVIDER_URL"] as const;

/** The OAuth settings a Space injects, or the names of those missing. */
export function oauthConfig(env: NodeJS.ProcessEnv = process.env): OAuthConfig | { missing: string[] } {
  const missing = ENV_NAMES.filter((n) => !env[n]);
  if (missing.length) return { missing };
  return {
    clientId: env.OAUTH_CLIENT_ID!,
    clientSecret: env.OAUTH_CLIENT_SECRET!,
    scopes: env.OAUTH_SCOPES!,
    providerUrl: env.OPENID_PROVIDER_URL!.replace(/\/+$/, ""),
    ...(env.SPACE_HOST ? { spaceHost: env.SPACE_HOST } : {}),
  };
}

interface Discovery {
  authorization_endpoint: string;
  token_endpoint: string;
  userinfo_endpoint: string;
}

interface Pending {
  verifier: string;
  redirectUri: string;
  target: string;
}

const SESSION_COOKIE = "daggr_session";
const STATE_COOKIE = "daggr_login";
const LOGIN_WINDOW_MS = 10 * 60_000;

export class OAuth {
  private discovery: Promise<Discovery> | undefined;
  /** Logins by session id (bounded: the oldest are forgotten first). */
  private readonly sessions = new LRUCache<string, Login>({ max: 10_000 });
  /** Logins under way, by `state`. */
  private readonly pending = new LRUCache<string, Pending>({ max: 10_000, ttl: LOGIN_WINDOW_MS });

  constructor(private readonly config: OAuthConfig) {}

  /** The signed-in visitor of a request (HTTP or WebSocket upgrade), if any and not expired. */
  visitor(req: IncomingMessage): Login | undefined {
    const id = readCookie(req.headers.cookie, SESSION_COOKIE);
    const login = id ? this.sessions.get(id) : undefined;
    if (login && login.expiresAt <= Date.now()) {
      this.sessions.delete(id!);
      return undefined;
    }
    return login;
  }

  /** Handles `/login/huggingface`, `/login/callback` and `/logout`; false for any other path. */
  async handle(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): Promise<boolean> {
    if (path === "/login/huggingface") await this.login(req, res, query);
    else if (path === "/login/callback") await this.callback(req, res, query);
    else if (path === "/logout") this.logout(req, res, query);
    else return false;
    return true;
  }

  private async login(req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<void> {
    const d = await this.endpoints();
    const state = randomBytes(24).toString("base64url");
    const verifier = randomBytes(32).toString("base64url");
    const target = localTarget(query.get("_target_url") ?? "/");
    const redirectUri = this.config.spaceHost
      ? `https://${this.config.spaceHost.split(",")[0]!.trim()}/login/callback`
      : `${requestOrigin(req)}/login/callback`;
    this.pending.set(state, { verifier, redirectUri, target });
    const url = new URL(d.authorization_endpoint);
    url.search = new URLSearchParams({
      response_type: "code",
      client_id: this.config.clientId,
      redirect_uri: redirectUri,
      scope: this.config.scopes,
      state,
      code_challenge: createHash("sha256").update(verifier).digest("base64url"),
      code_challenge_method: "S256",
    }).toString();
    res.writeHead(302, {
      Location: url.toString(),
      "Set-Cookie": cookie(req, STATE_COOKIE, state, LOGIN_WINDOW_MS / 1000),
      "Cache-Control": "no-store",
    });
    res.end();
  }

  private async callback(req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<void> {
    const state = query.get("state") ?? "";
    const code = query.get("code");
    const pending = state ? this.pending.get(state) : undefined;
    if (query.get("error")) return refuse(res, 401, `Hugging Face login was refused: ${query.get("error_description") ?? query.get("error")}.`);
    if (!pending || !code || readCookie(req.headers.cookie, STATE_COOKIE) !== state) {
      // An expired, replayed or foreign login: start again (as Gradio does on a state mismatch).
      res.writeHead(302, { Location: `/login/huggingface?_target_url=${encodeURIComponent(pending?.target ?? "/")}`, "Cache-Control": "no-store" });
      return void res.end();
    }
    this.pending.delete(state);
    const d = await this.endpoints();
    const basic = Buffer.from(`${encodeURIComponent(this.config.clientId)}:${encodeURIComponent(this.config.clientSecret)}`).toString("base64");
    const tokenRes = await fetch(d.token_endpoint, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json", Authorization: `Basic ${basic}` },
      body: new URLSearchParams({ grant_type: "authorization_code", code, redirect_uri: pending.redirectUri, code_verifier: pending.verifier }).toString(),
      signal: AbortSignal.timeout(30_000),
    });
    if (!tokenRes.ok) return refuse(res, 502, `Hugging Face login failed: the token exchange answered HTTP ${tokenRes.status}.`);
    const tok = (await tokenRes.json()) as { access_token?: string; expires_in?: number };
    if (!tok.access_token) return refuse(res, 502, "Hugging Face login failed: no access token in the answer.");
    const infoRes = await fetch(d.userinfo_endpoint, { headers: { Authorization: `Bearer ${tok.access_token}`, Accept: "application/json" }, signal: AbortSignal.timeout(30_000) });
    if (!infoRes.ok) return refuse(res, 502, `Hugging Face login failed: userinfo answered HTTP ${infoRes.status}.`);
    const info = (await infoRes.json()) as { preferred_username?: string; name?: string; picture?: string };
    if (!info.preferred_username) return refuse(res, 502, "Hugging Face login failed: userinfo has no preferred_username.");
    const id = randomBytes(32).toString("base64url");
    const ttl = typeof tok.expires_in === "number" && tok.expires_in > 0 ? tok.expires_in : 8 * 3600;
    this.sessions.set(id, {
      user: info.preferred_username,
      token: tok.access_token,
      expiresAt: Date.now() + ttl * 1000,
      ...(info.name ? { name: info.name } : {}),
      ...(info.picture ? { picture: info.picture } : {}),
    });
    res.writeHead(302, {
      Location: pending.target,
      "Set-Cookie": [cookie(req, SESSION_COOKIE, id, ttl), cookie(req, STATE_COOKIE, "", 0)],
      "Cache-Control": "no-store",
    });
    res.end();
  }

  private logout(req: IncomingMessage, res: ServerResponse, query: URLSearchParams): void {
    const id = readCookie(req.headers.cookie, SESSION_COOKIE);
    if (id) this.sessions.delete(id);
    res.writeHead(302, { Location: localTarget(query.get("_target_url") ?? "/"), "Set-Cookie": cookie(req, SESSION_COOKIE, "", 0), "Cache-Control": "no-store" });
    res.end();
  }

  private endpoints(): Promise<Discovery> {
    this.discovery ??= (async () => {
      const r = await fetch(`${this.config.providerUrl}/.well-known/openid-configuration`, { headers: { Accept: "application/json" }, signal: AbortSignal.timeout(30_000) });
      if (!r.ok) throw new Error(`OpenID discovery at ${this.config.providerUrl} answered HTTP ${r.status}`);
      return (await r.json()) as Discovery;
    })();
    this.discovery.catch(() => (this.discovery = undefined));
    return this.discovery;
  }
}

/** `_target_url` as a path on this server: any scheme or host is dropped (as Gradio does since its open-redirect fix). */
export function localTarget(target: string): string {
  let u: URL;
  try {
    u = new URL(target, "http://x");
  } catch {
    return "/";
  }
  return "/" + u.pathname.replace(/^[/\\]+/, "") + u.search + u.hash;
}

function requestOrigin(req: IncomingMessage): string {
  return `${req.headers["x-forwarded-proto"] === "https" ? "https" : "http"}://${req.headers.host}`;
}

/**
 * A cookie for this login. Over https (a Space is shown in an iframe on huggingface.co)
 * it is `SameSite=None; Secure`, as Gradio's session cookie; over http, `Lax`.
 */
function cookie(req: IncomingMessage, name: string, value: string, maxAgeSeconds: number): string {
  const https = req.headers["x-forwarded-proto"] === "https" || !!process.env.SPACE_HOST;
  return `${name}=${value}; HttpOnly; Path=/; Max-Age=${Math.floor(maxAgeSeconds)}; ${https ? "SameSite=None; Secure" : "SameSite=Lax"}`;
}

export function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of header?.split(";") ?? []) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim() || undefined;
  }
  return undefined;
}

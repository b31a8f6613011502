import { AsyncLocalStorage } from "node:async_hooks";
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/**
 * The Hugging Face token, found the way `huggingface_hub` finds it: `HF_TOKEN`, else the
 * file at `HF_TOKEN_PATH`, else `$HF_HOME/token` (`HF_HOME` defaults to
 * `~/.cache/huggingface`). Read at each call, so a `hf auth login` while the server runs
 * is picked up. The token must never reach a log, an error or a response: pass every
 * message that might quote a request through {@link redactToken}.
 *
 * @example
 * const client = await Client.connect(space, { token: hfToken() });
 */
export function hfToken(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const scoped = tokenScope.store.getStore() ?? tokenScope.fallback;
  return scoped ? scoped.token : processHfToken(env);
}

/** The machine's own token (environment or token file), whatever scope the caller is in: for redaction and `whoami`. */
export function processHfToken(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const fromEnv = env.HF_TOKEN?.trim();
  if (fromEnv) return fromEnv;
  const path = env.HF_TOKEN_PATH || join(env.HF_HOME || join(homedir(), ".cache", "huggingface"), "token");
  try {
    return readFileSync(path, "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whose token a piece of work uses. On a Space every visitor's requests run inside
 * {@link withHfToken} with the visitor's own token (or none), and the process-wide
 * fallback is "no token", so the Space owner's `HF_TOKEN` never serves a visitor. Kept
 * on `globalThis`: one per process even when an app imports another copy of daggr.
 */
interface TokenScope {
  store: AsyncLocalStorage<{ token: string | undefined }>;
  fallback: { token: string | undefined } | undefined;
}
const tokenScope: TokenScope = ((globalThis as { [k: symbol]: TokenScope })[Symbol.for("daggr.hf-token")] ??= {
  store: new AsyncLocalStorage(),
  fallback: undefined,
});

/**
 * Runs `fn` (and everything it starts: awaits, timers, runs) with `token` as the
 * Hugging Face token, `undefined` meaning none at all (not the environment's).
 *
 * @example
 * await withHfToken(visitor.accessToken, () => session.run(node));
 */
export function withHfToken<T>(token: string | undefined, fn: () => T): T {
  return tokenScope.store.run({ token }, fn);
}

/**
 * Outside any {@link withHfToken}, use `token` instead of the environment's (`undefined`:
 * none); `false` restores the default. A server on a Space sets "none" while it runs.
 */
export function setFallbackHfToken(token: string | undefined | false): void {
  tokenScope.fallback = token === false ? undefined : { token };
}

/** Whether code here runs for a visitor (inside {@link withHfToken}). */
export function hfTokenScoped(): boolean {
  return tokenScope.store.getStore() !== undefined;
}

let cached: { value: string | undefined } | undefined;

/**
 * {@link hfToken}, read at most every few seconds: for hot paths (the engine's
 * redaction of every record, and its recipe keys) that must not read a file each time.
 * The value read is dropped by a timer rather than dated: reading the clock cost ~60 ns
 * here, twice per node execution.
 */
export function currentHfToken(): string | undefined {
  const scoped = tokenScope.store.getStore() ?? tokenScope.fallback;
  if (scoped) return scoped.token;
  if (!cached) {
    const read = (cached = { value: hfToken() });
    // Never keeps the process alive; a timer that fires late only keeps the value longer.
    setTimeout(() => cached === read && (cached = undefined), 5_000).unref();
  }
  return cached.value;
}

/** Replaces every occurrence of the token (and any `hf_…` bearer value) in a text. */
export function redactToken(text: string, token: string | undefined = hfToken()): string {
  let out = token && token.length >= 4 ? text.split(token).join("hf_***") : text;
  out = out.replace(/\bBearer\s+[A-Za-z0-9_\-.]{8,}/g, "Bearer ***");
  return out.replace(/\bhf_[A-Za-z0-9]{8,}\b/g, "hf_***");
}

/** Removes the token from an error's message (in place) before it leaves the executor. */
export function redactError<E>(e: E, token: string | undefined): E {
  if (e instanceof Error) {
    const clean = redactToken(e.message, token);
    if (clean !== e.message) e.message = clean;
    if (e.stack) e.stack = redactToken(e.stack, token);
  }
  return e;
}

/**
 * Whether a request to `url` may carry the HF token: only the Hub (`huggingface.co`),
 * the Inference Providers router (`router.huggingface.co`), both over https, and the
 * app's own origin: the one Space a node calls (its `*.hf.space` host, as the Hub named
 * it) or the Gradio URL the user wrote. Never any other `*.hf.space` host: a Space that
 * names another Space's URL must not receive the user's token for it.
 */
export function tokenAllowed(url: string | URL, appOrigin?: string): boolean {
  let u: URL;
  try {
    u = typeof url === "string" ? new URL(url) : url;
  } catch {
    return false;
  }
  if (appOrigin && appOrigin !== "null" && u.origin === appOrigin) return true;
  if (u.protocol !== "https:" || u.port !== "") return false;
  const host = u.hostname.toLowerCase();
  return host === "huggingface.co" || host === "router.huggingface.co";
}

/**
 * The origin of a Space's host as the Hub names it (`https://owner-name.hf.space`), or
 * undefined for anything else: the one `*.hf.space` origin a node may send the token to.
 */
export function spaceOrigin(host: string | undefined): string | undefined {
  if (!host) return undefined;
  try {
    const u = new URL(/^https?:\/\//.test(host) ? host : `https://${host}`);
    return u.protocol === "https:" && u.port === "" && /^[a-z0-9-]+\.hf\.space$/i.test(u.hostname) ? u.origin : undefined;
  } catch {
    return undefined;
  }
}

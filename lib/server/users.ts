import { createHash } from "node:crypto";
import type { Store } from "../engine/index.js";
import { processHfToken } from "../nodes/hf-token.js";

/** The user of a machine without a Hugging Face token (or whose token the Hub does not know). */
export const LOCAL_USER = "local";
const WHOAMI_TIMEOUT_MS = 5_000;
const known = new Map<string, string>();

/** The Hub's URL: `HF_ENDPOINT` (as `huggingface_hub` reads it), else huggingface.co. */
export function hubEndpoint(env: NodeJS.ProcessEnv = process.env): string {
  return (env.HF_ENDPOINT?.trim() || "https://huggingface.co").replace(/\/+$/, "");
}

/**
 * Who owns the sheets of a server on this machine: the Hugging Face account of the token
 * in use (`HF_TOKEN`, or the one `hf auth login` saved), else `local`. The Hub is asked
 * once per token (`whoami`); the answer is kept in the app's store, keyed by a hash of
 * the token, so restarts (and `daggr dev` reloads) ask nothing and work offline. A Hub
 * that cannot be reached or refuses the token, with nothing cached, gives `local` (for
 * the rest of this process; the next one asks again).
 *
 * @example
 * const user = await localUser(store); // "julien-c", or "local"
 */
export async function localUser(store: Store, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const token = processHfToken(env);
  if (!token) return LOCAL_USER;
  const key = `whoami:${createHash("sha256").update(token).digest("hex").slice(0, 32)}`;
  const cached = known.get(key) ?? (await store.getMeta<string>(key).catch(() => undefined));
  if (typeof cached === "string" && cached) return (known.set(key, cached), cached);
  try {
    const { whoAmI } = await import("@huggingface/hub");
    const me = await whoAmI({ accessToken: token as `hf_${string}`, hubUrl: hubEndpoint(env), fetch: (url, init) => fetch(url, { ...init, signal: AbortSignal.timeout(WHOAMI_TIMEOUT_MS) }) });
    if (me.type !== "user" || !me.name) return (known.set(key, LOCAL_USER), LOCAL_USER);
    known.set(key, me.name);
    await store.setMeta(key, me.name).catch(() => undefined);
    return me.name;
  } catch {
    // Not kept on disk (the next process asks again), but not asked again by this one.
    known.set(key, LOCAL_USER);
    return LOCAL_USER;
  }
}

import { basename } from "node:path";
import mime from "mime";
import { DaggrError, ErrorCode } from "../graph/index.js";
import type { FileMeta } from "../engine/store.js";
import type { FileSink } from "../engine/executor.js";
import { guardedFetch } from "./net-guard.js";
import { tokenAllowed } from "./hf-token.js";

export interface ScopedFetchOptions {
  /** Sent as `Authorization: Bearer …` only where {@link tokenAllowed} says so. */
  token?: string;
  /** The app's origin: it may receive the token, and its URLs are fetched unchecked. */
  appOrigin?: string;
  signal?: AbortSignal;
  headers?: Record<string, string>;
  maxRedirects?: number;
  /** Who is fetching, for error messages. */
  label?: string;
}

/**
 * GET with redirects followed by hand, so that every hop is checked by the rule of
 * `net-guard.ts` (its own origin, else https to public addresses only, checked on the
 * address connected to) and the token goes only to allowed hosts, dropped for good once
 * a redirect leaves the origin it was first sent to: a file URL on a Space that
 * redirects to a CDN must not hand the CDN the user's token.
 */
export async function scopedFetch(url: string, o: ScopedFetchOptions = {}): Promise<Response> {
  let current = new URL(url);
  let firstOrigin: string | undefined;
  let mayAuth = true;
  const label = o.label ?? "daggr";
  for (let hop = 0; hop <= (o.maxRedirects ?? 5); hop++) {
    const headers: Record<string, string> = { ...o.headers };
    if (firstOrigin === undefined) firstOrigin = current.origin;
    if (current.origin !== firstOrigin) mayAuth = false;
    if (o.token && mayAuth && tokenAllowed(current, o.appOrigin)) headers.authorization = `Bearer ${o.token}`;
    const res = await guardedFetch(current, { headers, signal: o.signal }, o.appOrigin, label);
    const location = res.headers.get("location");
    if (res.status >= 300 && res.status < 400 && location) {
      await res.body?.cancel().catch(() => {});
      current = new URL(location, current);
      continue;
    }
    return res;
  }
  throw new DaggrError(ErrorCode.NETWORK, `Too many redirects while fetching ${displayUrl(url)}.`);
}

export interface DownloadOptions extends ScopedFetchOptions {
  files: FileSink;
  maxBytes: number;
  /** File name to record (else taken from the URL). */
  name?: string;
  mime?: string;
  /** Who is downloading, for error messages ("Space 'a/b' endpoint '/x'"). */
  label: string;
  /** Called for every chunk received: downloaded bytes count as activity (`ctx.alive`). */
  onBytes?: (n: number) => void;
}

/**
 * Downloads a URL into the files store, streaming it to disk (hashed while written to a
 * temp file, which is removed on any error), refusing anything over `maxBytes`: on
 * Content-Length first, then while streaming, so a lying server cannot exhaust memory
 * or disk.
 */
export async function downloadToStore(url: string, o: DownloadOptions): Promise<FileMeta> {
  let res: Response;
  try {
    res = await scopedFetch(url, o);
  } catch (e) {
    if (e instanceof DaggrError || o.signal?.aborted) throw e;
    throw new DaggrError(ErrorCode.NETWORK, `${o.label}: could not download its output file ${displayUrl(url)} (${(e as Error).message}).`);
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => {});
    const code = res.status === 401 || res.status === 403 ? ErrorCode.REMOTE_AUTH : ErrorCode.REMOTE_FAILED;
    throw new DaggrError(code, `${o.label}: downloading its output file ${displayUrl(url)} failed with HTTP ${res.status}.`, { status: res.status });
  }
  const declared = Number(res.headers.get("content-length") ?? NaN);
  if (declared > o.maxBytes) {
    await res.body?.cancel().catch(() => {});
    throw tooLarge(o, url, declared);
  }
  const type = o.mime || res.headers.get("content-type")?.split(";")[0]?.trim() || undefined;
  const name = o.name || nameFromUrl(url, type);
  return o.files.put({
    stream: capped(res.body, o, url),
    name,
    mime: type && type !== "application/octet-stream" ? type : (mime.getType(name) ?? type),
  });
}

/** The body's chunks, failing with E_FILE_TOO_LARGE (and cancelling the body) past the cap. */
async function* capped(body: ReadableStream<Uint8Array> | null, o: DownloadOptions, url: string): AsyncGenerator<Uint8Array> {
  if (!body) return;
  const reader = body.getReader();
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      size += value.byteLength;
      if (size > o.maxBytes) throw tooLarge(o, url, size);
      o.onBytes?.(value.byteLength);
      yield value;
    }
  } finally {
    // Reached on the end, an error here, or the consumer giving up (a write failed).
    await reader.cancel().catch(() => {});
  }
}

function tooLarge(o: DownloadOptions, url: string, size: number): DaggrError {
  return new DaggrError(
    ErrorCode.FILE_TOO_LARGE,
    `${o.label}: its output file ${displayUrl(url)} is larger than the limit of ${o.maxBytes} bytes (${size}+ bytes). Raise the node's \`maxFileBytes\` to accept it.`,
    { maxBytes: o.maxBytes, size },
  );
}

function nameFromUrl(url: string, type?: string): string {
  try {
    const u = new URL(url);
    const tail = decodeURIComponent(basename(u.pathname.replace(/^.*file=/, "")));
    if (tail && tail !== "/") return tail;
  } catch {
    // fall through
  }
  const ext = type ? mime.getExtension(type) : undefined;
  return ext ? `file.${ext}` : "file";
}

/** A URL without its query string (signatures, tokens) for messages. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return url.slice(0, 200);
  }
}

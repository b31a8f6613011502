import type { FileRef } from "../wire.js";

/** Whether a value is a file as the server sends it. */
export function isFileRef(v: unknown): v is FileRef {
  return typeof v === "object" && v !== null && typeof (v as FileRef).$file === "string" && typeof (v as FileRef).url === "string";
}

/**
 * Anything file-like a value may hold: a FileRef, a Gradio `{ url }` / `{ path }` object
 * or a URL string. A server file gets `?token=` when the canvas has one (an embedding
 * page on another site does not send the server's token cookie).
 */
export function fileUrl(v: unknown, server: string, token?: string): string | undefined {
  if (isFileRef(v)) {
    const u = new URL(v.url, server);
    if (token) u.searchParams.set("token", token);
    return u.href;
  }
  if (typeof v === "string" && /^(https?:|data:|blob:|\/)/.test(v)) return new URL(v, server).href;
  if (typeof v === "object" && v !== null) {
    const o = v as { url?: unknown; image?: unknown; video?: unknown };
    if (typeof o.url === "string") return new URL(o.url, server).href;
    if (o.image) return fileUrl(o.image, server);
    if (o.video) return fileUrl(o.video, server);
  }
  return undefined;
}

/**
 * `"anonymous"` for a URL of the daggr server when this page is on another origin (the
 * canvas embedded elsewhere): media then load in CORS mode, so the request carries
 * `Origin` and the server's CORS answer for an allowed embedder lets it through. Other
 * URLs (the page's own origin, third-party media) load as usual.
 */
export function crossOrigin(url: string | undefined, server: string): "anonymous" | undefined {
  if (!url) return undefined;
  try {
    const origin = new URL(url, server).origin;
    return origin === new URL(server).origin && origin !== location.origin ? "anonymous" : undefined;
  } catch {
    return undefined;
  }
}

/** The URL of one of the server's assets (`/assets/<name>`), with the token when the canvas has one. */
export function assetUrl(name: string, server: string, token?: string): string {
  const u = new URL(`/assets/${name}`, server);
  if (token) u.searchParams.set("token", token);
  return u.href;
}

export function fileName(v: unknown): string {
  if (isFileRef(v)) return v.name;
  const url = typeof v === "string" ? v : (v as { url?: string; orig_name?: string } | null)?.orig_name ?? (v as { url?: string } | null)?.url;
  if (typeof url !== "string" || url.startsWith("data:")) return "file";
  return decodeURIComponent(url.split(/[?#]/)[0]!.split("/").pop() || "file");
}

export function formatBytes(n: number | undefined): string {
  if (n === undefined || !Number.isFinite(n)) return "";
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/**
 * Uploads a file: `POST /upload` with the raw bytes, the file's MIME type as
 * Content-Type and its (URI-encoded) name in `X-Filename`. The FileRef that comes back
 * is what `set-input` carries; the server never takes a path from the browser.
 */
export async function upload(server: string, file: Blob, name: string, token?: string): Promise<FileRef> {
  const u = new URL("/upload", server);
  if (token) u.searchParams.set("token", token);
  const res = await fetch(u, {
    method: "POST",
    body: file,
    headers: { "Content-Type": file.type || "application/octet-stream", "X-Filename": encodeURIComponent(name) },
    credentials: "same-origin",
  });
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try {
      const body = (await res.json()) as { message?: string; error?: string };
      message = body.message ?? body.error ?? message;
    } catch {
      // not JSON: keep the status line
    }
    throw new Error(`Upload of '${name}' failed: ${message}`);
  }
  return (await res.json()) as FileRef;
}

import { constants, createWriteStream } from "node:fs";
import { type FileHandle, open, rm } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import mime from "mime";
import type { Store } from "../engine/index.js";
import type { FileRef, HealthResponse } from "../protocol.js";
import { TempPrefix, tempName } from "../store/temp.js";
import { refuse, sendJson } from "./respond.js";
import type { Wire } from "./wire.js";

/** Types a browser would run or render as a document: served as downloads, sandboxed. */
const ACTIVE = /^(text\/html|application\/xhtml\+xml|image\/svg\+xml|text\/xml|application\/xml|text\/javascript|application\/javascript|application\/pdf)\b/i;

/**
 * `GET /files/<sha256>`: only ids the server minted (present in the store's file
 * records), never a path. Content is immutable, so it is cached for good. HTML, SVG and
 * other active types are served as attachments under `Content-Security-Policy: sandbox`,
 * so an output from an untrusted Space cannot script this origin.
 *
 * Only a regular file is served: the blob is opened with `O_NOFOLLOW` and checked on
 * the open descriptor (no gap between check and read), so a symlink, FIFO, socket or
 * directory planted under the blob's name is refused, never followed.
 */
export async function serveFile(req: IncomingMessage, res: ServerResponse, store: Store, id: string): Promise<void> {
  const meta = await store.getFile(id);
  if (!meta) return refuse(res, 404, "Not found");
  const fh = await openBlob(meta.path);
  if (!fh) return refuse(res, 404, "Not found");
  try {
    await send(req, res, meta, fh);
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/** The blob opened for reading if it is a regular file (a symlink fails to open: O_NOFOLLOW). */
async function openBlob(path: string): Promise<FileHandle | undefined> {
  let fh: FileHandle;
  try {
    // O_NONBLOCK: opening a FIFO planted there must not hang the request.
    fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  const st = await fh.stat().catch(() => undefined);
  if (st?.isFile()) return fh;
  await fh.close().catch(() => undefined);
  return undefined;
}

async function send(req: IncomingMessage, res: ServerResponse, meta: { id: string; name: string; mime: string; size: number }, fh: FileHandle): Promise<void> {
  const etag = `"${meta.id}"`;
  const active = ACTIVE.test(meta.mime);
  const name = encodeURIComponent(meta.name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16)}`);
  res.setHeader("Content-Type", meta.mime);
  res.setHeader("ETag", etag);
  res.setHeader("Cache-Control", "private, max-age=31536000, immutable");
  res.setHeader("Accept-Ranges", "bytes");
  res.setHeader("Content-Disposition", `${active ? "attachment" : "inline"}; filename*=UTF-8''${name}`);
  res.setHeader("Content-Security-Policy", active ? "sandbox; default-src 'none'" : "default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'");
  if (req.headers["if-none-match"] === etag) {
    res.writeHead(304);
    return void res.end();
  }
  // One byte range, for seeking in audio and video.
  const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? "");
  let start = 0;
  let end = meta.size - 1;
  if (range && (range[1] || range[2])) {
    if (range[1]) {
      start = Number(range[1]);
      if (range[2]) end = Math.min(Number(range[2]), end);
    } else start = Math.max(0, meta.size - Number(range[2]));
    if (start > end || start >= meta.size) {
      res.writeHead(416, { "Content-Range": `bytes */${meta.size}` });
      return void res.end();
    }
    res.writeHead(206, { "Content-Range": `bytes ${start}-${end}/${meta.size}`, "Content-Length": end - start + 1 });
  } else res.writeHead(200, { "Content-Length": meta.size });
  if (req.method === "HEAD" || meta.size === 0) return void res.end();
  await pipeline(fh.createReadStream({ start, end, autoClose: false }), res).catch(() => res.destroy());
}

/**
 * `POST /upload`: the raw file as the body, its MIME type as `Content-Type` (the
 * CORS-"simple" types are refused by the router, so a cross-site form cannot post) and
 * its name in `X-Filename` (percent-encoded). The body streams to a temp file, is size
 * checked on the way, then moves into the files store. Returns its FileRef.
 */
export async function upload(req: IncomingMessage, res: ServerResponse, store: Store, wire: Wire, limit: number): Promise<void> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) return tooBig(res, limit);
  // Named with this pid: a crash's leftover is swept at the next start (store/temp.ts).
  const tmp = join(tmpdir(), tempName(TempPrefix.UPLOAD));
  const out = createWriteStream(tmp, { mode: 0o600 });
  try {
    const received = await new Promise<boolean>((ok, fail) => {
      let size = 0;
      req.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > limit) {
          req.removeAllListeners("data");
          req.pause();
          return ok(false);
        }
        if (!out.write(chunk)) {
          req.pause();
          out.once("drain", () => req.resume());
        }
      });
      req.on("end", () => out.end(() => ok(true)));
      req.on("error", fail);
      out.on("error", fail);
    });
    if (!received) {
      out.destroy();
      // Answer, then drop the connection rather than read the rest of an oversize body.
      res.on("finish", () => req.destroy());
      return tooBig(res, limit);
    }
    const name = fileName(req.headers["x-filename"]);
    const declaredType = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
    const type = declaredType && declaredType !== "application/octet-stream" ? declaredType : (mime.getType(name) ?? "application/octet-stream");
    const meta = await store.putFile({ path: tmp, name, mime: type });
    const ref: FileRef | undefined = await wire.fileRef(meta.path);
    sendJson(res, 200, wire.encode(ref ?? { $file: meta.id, url: `/files/${meta.id}`, name: meta.name, mime: meta.mime, size: meta.size }));
  } catch (e) {
    refuse(res, 400, `Upload failed: ${(e as Error).message}`);
  } finally {
    out.destroy();
    await rm(tmp, { force: true });
  }
}

/**
 * `GET /api/health`: `{ status, storage }`, 200 while the store writes; 503 with what
 * failed once a write failed (disk full, I/O error), until the disk takes writes again.
 */
export async function health(res: ServerResponse, store: Store, encode: (o: object) => string): Promise<void> {
  const h = (await store.health?.()) ?? { storage: "ok" as const };
  // The cause names database files: keep their names, not where they live.
  const error = h.error?.replace(/(?:\/[^\s/:]+)+\/([^\s/:]+)/g, "…/$1");
  const body: HealthResponse = { status: h.storage, storage: h.storage, ...(error ? { error } : {}), ...(h.since ? { since: h.since } : {}) };
  sendJson(res, h.storage === "ok" ? 200 : 503, encode(body));
}

function tooBig(res: ServerResponse, limit: number): void {
  res.setHeader("Connection", "close");
  refuse(res, 413, `The upload is larger than this server accepts (${limit} bytes).`);
}

/** The base name a client gave, without directories or control characters. */
function fileName(header: string | string[] | undefined): string {
  let raw = Array.isArray(header) ? header[0] : header;
  try {
    raw = raw ? decodeURIComponent(raw) : undefined;
  } catch {
    // keep it encoded
  }
  const base = (raw ?? "").split(/[\\/]/).pop()!.replace(/[\x00-\x1f\x7f]/g, "").trim().slice(0, 200);
  return base && base !== "." && base !== ".." ? base : "upload";
}

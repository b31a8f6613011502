/**
 * Files through the Gradio API. An upload (`POST /gradio_api/upload`, multipart parts
 * named `files`) goes into the content-addressed files store and is answered with a
 * Gradio path for it, `<sha256>/<name>`; `GET /gradio_api/file=<sha256>/<name>` serves
 * it (only files the store holds, by id, as `/files/<id>` does: no client-given path
 * ever reaches the file system). Values cross as `FileData` both ways.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable, Transform } from "node:stream";
import mime from "mime";
import type { FileMeta, Store } from "../../engine/index.js";
import { serveFile } from "../files.js";
import { refuse, sendJson } from "../respond.js";
import { API_PREFIX } from "./endpoints.js";

export interface FileData {
  path: string;
  url: string | null;
  size: number | null;
  orig_name: string | null;
  mime_type: string | null;
  is_stream: boolean;
  meta: { _type: "gradio.FileData" };
}

/** A Gradio path names a stored file by its id; the name after it is for people (and downloads). */
const GRADIO_PATH = /^([0-9a-f]{64})(?:\/[A-Za-z0-9._-]{1,120})?$/;
/** The same inside a URL of ours (`…/gradio_api/file=<path>`). */
const FILE_URL = /\/gradio_api\/file=([0-9a-f]{64})(?:\/[A-Za-z0-9._-]{1,120})?$/;

/** A name safe in a URL path segment without escapes (the router refuses any `%`). */
function safeName(name: string): string {
  const s = name.replace(/[^A-Za-z0-9._-]+/g, "_").slice(-120);
  return s && s !== "." && s !== ".." ? s : "file";
}

export function gradioPath(meta: Pick<FileMeta, "id" | "name">): string {
  return `${meta.id}/${safeName(meta.name)}`;
}

export function fileData(meta: FileMeta, root: string): FileData {
  const path = gradioPath(meta);
  return { path, url: `${root}${API_PREFIX}/file=${path}`, size: meta.size, orig_name: meta.name, mime_type: meta.mime, is_stream: false, meta: { _type: "gradio.FileData" } };
}

export function isFileDataLike(v: unknown): v is { path?: unknown; url?: unknown; orig_name?: unknown } {
  return typeof v === "object" && v !== null && !Array.isArray(v) && (v as { meta?: { _type?: unknown } }).meta?._type === "gradio.FileData";
}

/**
 * The stored file a FileData (or a bare Gradio path or URL of ours) names, or undefined.
 * URLs of other hosts are not fetched: an API caller uploads files first, as
 * `@gradio/client`'s `handle_file` does for local files and Blobs.
 */
export async function storedFile(v: unknown, store: Store): Promise<FileMeta | undefined> {
  const candidates: unknown[] = isFileDataLike(v) ? [v.path, v.url] : [v];
  for (const c of candidates) {
    if (typeof c !== "string") continue;
    const id = GRADIO_PATH.exec(c)?.[1] ?? FILE_URL.exec(c)?.[1];
    if (id) return store.getFile(id);
  }
  return undefined;
}

/** `GET|HEAD /gradio_api/file=<sha256>[/<name>]`: a stored file; anything else is 403 "File not allowed", as Gradio answers. */
export async function serveGradioFile(req: IncomingMessage, res: ServerResponse, store: Store, id: string): Promise<void> {
  if (!(await store.getFile(id))) return sendJson(res, 403, JSON.stringify({ detail: "File not allowed: " + id }));
  return serveFile(req, res, store, id);
}

/**
 * `POST /gradio_api/upload`: each `files` part into the files store; answers the list
 * of their Gradio paths. A body past `limit` is a 413 with Gradio's wording ("maximum
 * allowed size"), a malformed one a 400, both plain text as Gradio sends them.
 */
export async function upload(req: IncomingMessage, res: ServerResponse, store: Store, limit: number): Promise<void> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) return tooBig(req, res, limit);
  let size = 0;
  let over = false;
  const counted = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      if (size > limit) {
        over = true;
        return done(new Error("too big"));
      }
      done(null, chunk);
    },
  });
  req.pipe(counted);
  let form: FormData;
  try {
    // The platform's own multipart parser (undici), fed at most `limit` bytes.
    const request = new Request("http://upload.invalid/", {
      method: "POST",
      headers: { "content-type": String(req.headers["content-type"] ?? "") },
      body: Readable.toWeb(counted) as ReadableStream<Uint8Array>,
      duplex: "half",
    } as RequestInit);
    form = await request.formData();
  } catch (e) {
    req.unpipe(counted);
    if (over) return tooBig(req, res, limit);
    return refuse(res, 400, `Invalid multipart upload: ${(e as Error).message}`);
  }
  const paths: string[] = [];
  for (const entry of form.getAll("files")) {
    if (typeof entry === "string") continue;
    const name = entry.name && entry.name !== "blob" ? entry.name : "blob";
    const type = entry.type && entry.type !== "application/octet-stream" ? entry.type : (mime.getType(name) ?? "application/octet-stream");
    const meta = await store.putFile({ stream: entry.stream() as unknown as AsyncIterable<Uint8Array>, name, mime: type });
    paths.push(gradioPath(meta));
  }
  sendJson(res, 200, JSON.stringify(paths));
}

function tooBig(req: IncomingMessage, res: ServerResponse, limit: number): void {
  res.setHeader("Connection", "close");
  res.on("finish", () => req.destroy());
  refuse(res, 413, `File exceeds the maximum allowed size of ${limit} bytes.`);
}

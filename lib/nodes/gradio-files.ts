import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { DaggrError, ErrorCode, type GradioNode } from "../graph/index.js";
import type { ExecContext } from "../engine/executor.js";
import { type EndpointSummary, type ReturnSummary, paramNames } from "./gradio-api.js";
import { type Schema, isFileDataLike, mapBySchema } from "./gradio-schema.js";
import { displayUrl, downloadToStore } from "./hf-download.js";

/** Gradio's file object on the wire (`gradio.FileData`). */
export interface FileData {
  path: string;
  url?: string | null;
  orig_name?: string | null;
  mime_type?: string | null;
  size?: number | null;
  meta?: { _type?: string };
}

export function isFileData(v: unknown): v is FileData {
  return isFileDataLike(v) && typeof (v as { path: unknown }).path === "string";
}

const META = { _type: "gradio.FileData" } as const;

/** Sends one file to the app (`POST …/upload`) and returns the app's path for it. */
export type Uploader = (file: File) => Promise<string>;

export interface InputOptions {
  ctx: ExecContext;
  upload: Uploader;
}

/**
 * The positional data of a call: each parameter's value in endpoint order (State slots
 * `null`, as the client sends them; a parameter left out takes its default). Files are
 * found by the parameter's JSON schema, at any depth (`{text, files}`, an editor's
 * layers, chat messages, Gallery items) and uploaded; a value there may be a file of
 * the files store (a produced file or an upload) or an http(s) URL for the app to fetch.
 * Any other string is refused: daggr never reads an arbitrary local path and sends it
 * to a remote.
 */
export async function prepareInputs(node: GradioNode, ep: EndpointSummary, inputs: Record<string, unknown>, o: InputOptions): Promise<unknown[]> {
  const data: unknown[] = [];
  for (const p of ep.parameters) {
    if (p.name === null) {
      data.push(null);
      continue;
    }
    const key = paramNames(p).find((n) => n in inputs);
    if (key === undefined) {
      data.push(p.default ?? null);
      continue;
    }
    const value = inputs[key];
    if (!p.file) data.push(value);
    else if (p.schema) data.push(await mapBySchema(value, p.schema, { file: (v, path) => fileArg(node, key, path, v, o), wrap: wrapFile }));
    else data.push(Array.isArray(value) ? await Promise.all(value.map((x) => fileArg(node, key, "", x, o))) : await fileArg(node, key, "", value, o));
  }
  return data;
}

/** A bare file (or `[file, caption]`) where an object with one file property belongs: a Gallery item, a chat file part. */
function wrapFile(value: unknown, key: string, schema: Schema): unknown {
  const props = (schema.properties ?? {}) as Record<string, unknown>;
  if (Array.isArray(value) && value.length === 2 && (typeof value[1] === "string" || value[1] === null) && "caption" in props) return { [key]: value[0], caption: value[1] };
  if (typeof value === "string" || value instanceof Blob || value instanceof Uint8Array) return { [key]: value };
  return value;
}

async function fileArg(node: GradioNode, port: string, path: string, v: unknown, o: InputOptions): Promise<unknown> {
  if (v === null || v === undefined || v === "") return null;
  if (isFileData(v)) {
    // A FileData naming a file of the store is sent as that file; any other is the app's own.
    const meta = await o.ctx.files.lookup(v.path);
    return meta ? { ...v, ...(await uploadStored(meta, o)), url: null } : v;
  }
  if (v instanceof Blob) return { path: await o.upload(v instanceof File ? v : new File([v], "blob", { type: v.type })), meta: META };
  if (v instanceof Uint8Array) return { path: await o.upload(new File([v as Uint8Array<ArrayBuffer>], "blob")), meta: META };
  if (typeof v === "string") {
    if (/^https?:\/\//i.test(v)) return { path: v, url: v, orig_name: v.split("/").pop() || "file", meta: META };
    const meta = await o.ctx.files.lookup(v);
    if (meta) return uploadStored(meta, o);
  }
  const shown = typeof v === "string" ? `'${v.slice(0, 120)}'` : typeof v;
  const where = path ? `'${port}' (at ${path})` : `'${port}'`;
  throw new DaggrError(
    ErrorCode.BAD_INPUT,
    `Input ${where} of node '${node.id}' is a file parameter, but ${shown} is not a file daggr knows (a file produced by a node or uploaded), nor an http(s) URL. daggr never reads arbitrary local paths to send them to a remote app; wire a file output or upload the file.`,
    { port, ...(path ? { path } : {}) },
  );
}

async function uploadStored(meta: { path: string; name?: string; mime?: string }, o: InputOptions): Promise<FileData> {
  const name = meta.name || basename(meta.path);
  const bytes = await readFile(meta.path);
  const path = await o.upload(new File([bytes], name, { type: meta.mime }));
  return { path, orig_name: name, ...(meta.mime ? { mime_type: meta.mime } : {}), meta: META };
}

export interface OutputOptions {
  ctx: ExecContext;
  label: string;
  /** The app's root URL and API prefix ("/gradio_api", or "" on Gradio 4). */
  root: string;
  apiPrefix: string;
  token?: string;
  appOrigin?: string;
  maxBytes: number;
  /** Files already downloaded during this call, by URL (generators repeat them). */
  seen: Map<string, string>;
  /** Per returned value, whether the node's output port there is a file component. */
  filePorts: boolean[];
}

/**
 * Turns a result of the app into daggr values. Files are what the app serves: every
 * FileData (found by the return's schema, or anywhere its schema says nothing) is
 * downloaded into the files store and replaced by the local copy's path; an http(s)
 * URL at a file position is downloaded too. A string naming anything else where a
 * file belongs (a local path such as `/etc/passwd`) is an error: only the user's own
 * code may name local paths. A Gallery's items become plain paths (captions dropped),
 * so a Gallery output is a list of files like everywhere else in daggr. A result with
 * another number of values than the endpoint declares is an error too.
 */
export async function processOutputs(data: unknown[], ep: EndpointSummary | undefined, o: OutputOptions): Promise<unknown[]> {
  const values = apiValues(data, ep, o.label);
  const out: unknown[] = [];
  for (let i = 0; i < values.length; i++) {
    const r = ep?.returns[i];
    const at = `output #${i + 1}${r?.label ? ` ('${r.label}')` : ""}`;
    const file = (v: unknown, path: string) => outputFile(v, `${at}${path ? ` at ${path}` : ""}`, o);
    const loose = (v: unknown, path: string) => looseFiles(v, `${at}${path ? ` at ${path}` : ""}`, o);
    const schema = r?.schema;
    let v: unknown;
    if (o.filePorts[i] && !(r?.file && schema)) v = Array.isArray(values[i]) ? await Promise.all((values[i] as unknown[]).map((x, k) => (x === null || x === "" ? x : file(x, `[${k}]`)))) : values[i] === null || values[i] === "" ? values[i] : await file(values[i], "");
    else if (schema) v = await mapBySchema(values[i], schema, { file, loose });
    else v = await loose(values[i], "");
    out.push(isGallery(r) && Array.isArray(v) ? v.map(galleryItem) : v);
  }
  checkFilePorts(out, o);
  return out;
}

/** The values of the API's returns: the count checked, `skip_api` outputs dropped. */
function apiValues(data: unknown[], ep: EndpointSummary | undefined, label: string): unknown[] {
  if (!ep) return data;
  const expected = ep.outputCount ?? ep.returns.length;
  if (data.length !== expected) {
    const names = ep.returns.map((r, i) => r.label || `#${i + 1} (${r.component})`);
    throw new DaggrError(
      ErrorCode.REMOTE_OUTPUT,
      `${label} returned ${data.length} value(s), but the endpoint declares ${expected}${names.length ? ` (${names.join(", ")})` : ""}. The app's API description does not match what it runs; daggr does not guess which value is which.`,
      { got: String(data.length), expected },
    );
  }
  const hidden = new Set(ep.hiddenOutputs ?? []);
  return hidden.size ? data.filter((_, i) => !hidden.has(i)) : data;
}

function isGallery(r: ReturnSummary | undefined): boolean {
  return r?.component.toLowerCase() === "gallery";
}

function galleryItem(item: unknown): unknown {
  if (typeof item === "object" && item !== null && !Array.isArray(item)) {
    const o = item as Record<string, unknown>;
    const f = o.image ?? o.video;
    if (typeof f === "string") return f;
  }
  if (Array.isArray(item) && typeof item[0] === "string") return item[0];
  return item;
}

/** A value at a file position of a result: downloaded from the app, or an error naming it. */
async function outputFile(v: unknown, where: string, o: OutputOptions): Promise<string> {
  if (isFileDataLike(v)) {
    const f = v as FileData;
    const url = typeof f.url === "string" && f.url ? f.url : typeof f.path === "string" && /^https?:\/\//i.test(f.path) ? f.path : typeof f.path === "string" && f.path ? `${o.root.replace(/\/$/, "")}${o.apiPrefix}/file=${f.path}` : undefined;
    if (url === undefined) throw badOutput(v, where, o);
    return download(url, f, where, o);
  }
  if (typeof v === "string" && /^https?:\/\//i.test(v)) return download(v, undefined, where, o);
  throw badOutput(v, where, o);
}

function badOutput(v: unknown, where: string, o: OutputOptions): DaggrError {
  const shown = typeof v === "string" ? `'${v.slice(0, 200)}'` : JSON.stringify(v)?.slice(0, 200) ?? String(v);
  return new DaggrError(
    ErrorCode.REMOTE_OUTPUT,
    `${o.label} returned ${shown} where a file belongs (${where}). A remote app may only hand back files it serves (a FileData or an http(s) URL); daggr never reads a local path a remote names.`,
    { got: typeof v === "string" ? v.slice(0, 500) : shown, where },
  );
}

/** How deep a value whose schema says nothing is searched for files (an app sizes it, not the user). */
const LOOSE_DEPTH = 32;

/**
 * FileData anywhere inside a value whose schema says nothing (`Any`, or no schema).
 * Deeper than {@link LOOSE_DEPTH} nothing is searched: such a value can only reach a
 * file port as an object, which that port refuses.
 */
async function looseFiles(v: unknown, where: string, o: OutputOptions, depth = 0): Promise<unknown> {
  if (isFileDataLike(v)) return outputFile(v, where, o);
  if (depth >= LOOSE_DEPTH) return v;
  if (Array.isArray(v)) {
    const out: unknown[] = [];
    for (let i = 0; i < v.length; i++) out.push(await looseFiles(v[i], `${where}[${i}]`, o, depth + 1));
    return out;
  }
  if (typeof v === "object" && v !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = await looseFiles(x, `${where}.${k}`, o, depth + 1);
    return out;
  }
  return v;
}

/**
 * The last guard: a value mapped to a file port is a file downloaded during this call
 * (or empty). The engine copies whatever path a file port holds into the files store,
 * so nothing else may reach it from a remote.
 */
function checkFilePorts(out: unknown[], o: OutputOptions): void {
  const downloaded = new Set(o.seen.values());
  out.forEach((v, i) => {
    if (!o.filePorts[i]) return;
    for (const x of Array.isArray(v) ? v : [v]) {
      if (x === null || x === undefined || x === "") continue;
      if (typeof x !== "string" || !downloaded.has(x)) throw badOutput(x, `output #${i + 1}, a file port`, o);
    }
  });
}

async function download(url: string, f: FileData | undefined, where: string, o: OutputOptions): Promise<string> {
  let resolved: URL;
  try {
    resolved = new URL(url, `${o.root.replace(/\/$/, "")}/`);
  } catch {
    throw badOutput(url, where, o);
  }
  if (resolved.protocol !== "http:" && resolved.protocol !== "https:") throw badOutput(url, where, o);
  const href = resolved.href;
  const known = o.seen.get(href);
  if (known) return known;
  const name = f?.orig_name ? basename(f.orig_name) : f?.path ? basename(f.path) : undefined;
  try {
    const meta = await downloadToStore(href, {
      files: o.ctx.files,
      maxBytes: o.maxBytes,
      token: o.token,
      appOrigin: o.appOrigin,
      signal: o.ctx.signal,
      ...(name ? { name } : {}),
      mime: f?.mime_type ?? undefined,
      label: o.label,
      onBytes: () => o.ctx.alive?.(),
    });
    o.seen.set(href, meta.path);
    return meta.path;
  } catch (e) {
    // Gradio answers 403 "File not allowed" for a file it no longer has (cleaned from its cache) or never served.
    const status = (e as DaggrError).details?.status;
    if (e instanceof DaggrError && (status === 403 || status === 404)) {
      throw new DaggrError(
        ErrorCode.REMOTE_FILE_GONE,
        `${o.label}: its output file ${displayUrl(href)} (${where}) is no longer available on the app (HTTP ${status}); apps delete their temporary files after a while. Run the node again.`,
        { status, url: displayUrl(href) },
      );
    }
    throw e;
  }
}

import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { handle_file } from "@gradio/client";
import { DaggrError, ErrorCode, type GradioNode } from "../graph/index.js";
import type { ExecContext } from "../engine/executor.js";
import type { EndpointSummary } from "./gradio-api.js";
import { downloadToStore } from "./hf-download.js";

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
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const o = v as Record<string, unknown>;
  if ((o.meta as { _type?: string } | undefined)?._type === "gradio.FileData") return true;
  return typeof o.path === "string" && "url" in o && ("orig_name" in o || "mime_type" in o);
}

/**
 * Prepares the values of file parameters. A value is uploaded (through `handle_file`)
 * only when the parameter is file-typed and the value is a file of the files store (a
 * produced file or an upload); an http(s) URL is passed for the app to fetch. Any other
 * string is refused: daggr never reads an arbitrary local path and sends it to a remote.
 */
export async function prepareInputs(node: GradioNode, ep: EndpointSummary, inputs: Record<string, unknown>, ctx: ExecContext): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(inputs)) {
    const param = ep.parameters.find((p) => p.name === name);
    out[name] = param?.file ? await fileArg(node, name, value, ctx) : value;
  }
  return out;
}

async function fileArg(node: GradioNode, port: string, v: unknown, ctx: ExecContext): Promise<unknown> {
  if (v === null || v === undefined || v === "") return null;
  if (Array.isArray(v)) return Promise.all(v.map((x) => fileArg(node, port, x, ctx)));
  if (isFileData(v)) return v;
  if (v instanceof Blob) return handle_file(v);
  if (v instanceof Uint8Array) return handle_file(new Blob([v as Uint8Array<ArrayBuffer>]));
  if (typeof v === "string") {
    if (/^https?:\/\//i.test(v)) return handle_file(v);
    const meta = await ctx.files.lookup(v);
    if (meta) {
      const bytes = await readFile(meta.path);
      return handle_file(new File([bytes], meta.name || basename(meta.path), { type: meta.mime }));
    }
  }
  const shown = typeof v === "string" ? `'${v.slice(0, 120)}'` : typeof v;
  throw new DaggrError(
    ErrorCode.BAD_INPUT,
    `Input '${port}' of node '${node.id}' is a file parameter, but ${shown} is not a file daggr knows (a file produced by a node or uploaded), nor an http(s) URL. daggr never reads arbitrary local paths to send them to a remote app; wire a file output or upload the file.`,
    { port },
  );
}

export interface OutputOptions {
  ctx: ExecContext;
  label: string;
  root: string;
  token?: string;
  appOrigin?: string;
  maxBytes: number;
  /** Files already downloaded during this call, by URL (generators repeat them). */
  seen: Map<string, string>;
}

/**
 * Replaces every FileData in a result by the local path of a copy in the files store.
 * A Gallery's `{image, caption}` items become plain paths (captions are dropped), so a
 * Gallery output is a list of files like everywhere else in daggr.
 */
export async function processOutputs(data: unknown[], ep: EndpointSummary | undefined, o: OutputOptions): Promise<unknown[]> {
  const out = await Promise.all(data.map((v) => walk(v, o)));
  return out.map((v, i) => (ep?.returns[i]?.component === "Gallery" && Array.isArray(v) ? v.map(galleryItem) : v));
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

async function walk(v: unknown, o: OutputOptions): Promise<unknown> {
  if (isFileData(v)) return download(v, o);
  if (Array.isArray(v)) return Promise.all(v.map((x) => walk(x, o)));
  if (typeof v === "object" && v !== null) {
    const entries = await Promise.all(Object.entries(v).map(async ([k, x]) => [k, await walk(x, o)] as const));
    return Object.fromEntries(entries);
  }
  return v;
}

async function download(f: FileData, o: OutputOptions): Promise<string> {
  const url = f.url ? new URL(f.url, `${o.root.replace(/\/$/, "")}/`).href : `${o.root.replace(/\/$/, "")}/gradio_api/file=${f.path}`;
  const known = o.seen.get(url);
  if (known) return known;
  const name = f.orig_name ? basename(f.orig_name) : basename(f.path);
  const meta = await downloadToStore(url, {
    files: o.ctx.files,
    maxBytes: o.maxBytes,
    token: o.token,
    appOrigin: o.appOrigin,
    signal: o.ctx.signal,
    name,
    mime: f.mime_type ?? undefined,
    label: o.label,
    onBytes: () => o.ctx.alive?.(),
  });
  o.seen.set(url, meta.path);
  return meta.path;
}

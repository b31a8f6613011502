import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { isAbsolute } from "node:path";
import type { InferenceClient, Options } from "@huggingface/inference";
import mime from "mime";
import { DaggrError, ErrorCode, type InferenceNode } from "../graph/index.js";
import type { ExecContext } from "../engine/executor.js";

/**
 * One task call: the node's inputs, the client, and where results go. `provider` is the
 * provider that will serve the call (the node's, else the first of the model's mapping,
 * as the client's "auto" picks it); undefined when unknown.
 */
export interface TaskCall {
  client: InferenceClient;
  node: InferenceNode;
  provider: string | undefined;
  inputs: Record<string, unknown>;
  ctx: ExecContext;
  options: Options;
  maxBytes: number;
  label: string;
  /** Reports a partial result (streamed tokens). */
  emit(result: TaskResult): void;
}

/**
 * `primary` is what a node with one output (and no postprocess) gets; `full` is what a
 * node with several outputs, or a postprocess, gets: name outputs after its keys.
 */
export interface TaskResult {
  primary: unknown;
  full: Record<string, unknown>;
}

export type Picked = { key: string; value: unknown };

/** The first of `names` holding an accepted value, else the first input that does. */
export function pick(inputs: Record<string, unknown>, names: readonly string[], accept: (v: unknown) => boolean, exclude: readonly string[] = []): Picked | undefined {
  const ok = (k: string, v: unknown) => v !== undefined && v !== null && !exclude.includes(k) && accept(v);
  for (const key of names) if (ok(key, inputs[key])) return { key, value: inputs[key] };
  for (const [key, value] of Object.entries(inputs)) if (ok(key, value)) return { key, value };
  return undefined;
}

/** Inputs other than `used`, without undefined values: the generation parameters. */
export function rest(inputs: Record<string, unknown>, ...used: Array<string | undefined>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(inputs).filter(([k, v]) => v !== undefined && !used.includes(k)));
}

export function missing(c: TaskCall, what: string): DaggrError {
  const have = Object.keys(c.inputs);
  return new DaggrError(ErrorCode.BAD_INPUT, `${c.label} needs ${what}; its inputs are ${have.length ? have.map((k) => `'${k}'`).join(", ") : "empty"}.`, { choices: have });
}

export const isText = (v: unknown): v is string => typeof v === "string";

/** A text input by one of `names` (else the first string input). */
export function text(c: TaskCall, names: readonly string[], what = `a text input (e.g. \`${names[0]}\`)`, exclude: readonly string[] = []): { key: string; value: string } {
  // By name first (a file there is refused below); else the first string that is not a file.
  const named = names.find((k) => !exclude.includes(k) && isText(c.inputs[k]));
  const p = named ? { key: named, value: c.inputs[named] } : pick(c.inputs, [], (v) => isText(v) && !isStoredPath(c, v), exclude);
  if (!p) throw missing(c, what);
  refuseStoredPath(c, p.key, p.value as string);
  return p as { key: string; value: string };
}

function isStoredPath(c: TaskCall, value: string): boolean {
  const dir = c.ctx.files.dir.replace(/[\\/]+$/, "");
  return !!dir && (value.startsWith(`${dir}/`) || value.startsWith(`${dir}\\`));
}

/**
 * A text input holding a path of the files store is a file wired where text belongs (an
 * image output into `prompt`): refused, so the path never reaches the provider as text.
 */
export function refuseStoredPath(c: TaskCall, key: string, value: string): void {
  if (isStoredPath(c, value)) {
    throw new DaggrError(ErrorCode.BAD_INPUT, `Input '${key}' of ${c.label} should be text, but it holds a file of the files store. Wire a text output to it, or use a task that takes this file.`, {
      port: key,
    });
  }
}

/** A value that can only be a file: bytes, a `data:` URL, an absolute path or a URL. */
function looksLikeFile(v: unknown): boolean {
  return v instanceof Blob || v instanceof Uint8Array || (typeof v === "string" && (/^(data:|https?:\/\/|file:)/i.test(v) || isAbsolute(v)));
}

/**
 * A file input as a Blob: a Blob or bytes as they are, a `data:` URL decoded, a path of
 * the files store (produced by a node or uploaded) read. Any other string is refused:
 * a provider never receives a local path, and daggr never reads an arbitrary file.
 */
export async function fileBlob(c: TaskCall, names: readonly string[], kind: string, exclude: readonly string[] = []): Promise<{ key: string; blob: Blob }> {
  // A named input is taken whatever it holds (a wrong value gets a clear error); an
  // unnamed one only when it can only be a file, so a prompt is never taken for an image.
  const named = names.find((k) => !exclude.includes(k) && c.inputs[k] !== undefined && c.inputs[k] !== null && c.inputs[k] !== "");
  const p = named ? { key: named, value: c.inputs[named] } : pick(c.inputs, [], looksLikeFile, exclude);
  if (!p) throw missing(c, `an ${kind} input (e.g. \`${names[0]}\`)`);
  return { key: p.key, blob: await toBlob(c, p.key, p.value, kind) };
}

export async function toBlob(c: TaskCall, key: string, v: unknown, kind: string): Promise<Blob> {
  if (v instanceof Blob) return v;
  if (v instanceof Uint8Array) return new Blob([v as Uint8Array<ArrayBuffer>]);
  const s = String(v);
  const data = /^data:([^;,]*)(;base64)?,(.*)$/s.exec(s);
  if (data) {
    const bytes = data[2] ? Buffer.from(data[3]!, "base64") : Buffer.from(decodeURIComponent(data[3]!), "utf8");
    return new Blob([bytes], { type: data[1] || "application/octet-stream" });
  }
  const meta = await c.ctx.files.lookup(s);
  if (!meta) throw notStored(c, key, s, kind);
  const bytes = await readFile(meta.path);
  return new Blob([bytes], { type: meta.mime || mime.getType(meta.name) || "application/octet-stream" });
}

function notStored(c: TaskCall, key: string, value: string, kind: string): DaggrError {
  const url = /^https?:\/\//i.test(value);
  return new DaggrError(
    ErrorCode.BAD_INPUT,
    `Input '${key}' of ${c.label} should be an ${kind} file produced by a node or uploaded; ${url ? "a URL" : `'${value.slice(0, 120)}'`} is not one. ` +
      (url
        ? "Providers get the file's bytes: download it first (an FnNode returning a local path), or upload it on the canvas."
        : "daggr never reads arbitrary local paths to send them to a provider."),
    { port: key, got: value.slice(0, 200) },
  );
}

/** A file as a `data:` URL (what OpenAI-style image parts and fal `*_url` fields take). */
export async function dataUrl(blob: Blob): Promise<string> {
  return `data:${blob.type || "application/octet-stream"};base64,${Buffer.from(await blob.arrayBuffer()).toString("base64")}`;
}

/**
 * Generation parameters with every file made portable: a path of the files store becomes
 * a `data:` URL of its bytes; a local path outside the store is refused. Nothing a
 * provider receives is a path on this machine.
 */
export async function portableParams(c: TaskCall, params: Record<string, unknown>): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(params)) out[k] = await portable(c, k, v);
  return out;
}

async function portable(c: TaskCall, key: string, v: unknown): Promise<unknown> {
  if (typeof v === "string") {
    if (!isAbsolute(v) && !v.startsWith("file:")) return v;
    const meta = await c.ctx.files.lookup(v);
    if (meta) return dataUrl(await toBlob(c, key, v, "file"));
    if (v.startsWith("file:") || existsSync(v)) throw notStored(c, key, v, "input");
    return v;
  }
  if (Array.isArray(v)) return Promise.all(v.map((x) => portable(c, key, x)));
  if (v instanceof Blob || v instanceof Uint8Array) return dataUrl(await toBlob(c, key, v, "file"));
  return v;
}

/** Saves a returned file into the files store (refusing one over `maxBytes`); its path. */
export async function saveBlob(c: TaskCall, blob: Blob, base: string): Promise<string> {
  if (blob.size > c.maxBytes) {
    throw new DaggrError(ErrorCode.FILE_TOO_LARGE, `${c.label} returned a file of ${blob.size} bytes, over the limit of ${c.maxBytes}. Raise the node's \`maxFileBytes\` to accept it.`, {
      size: blob.size,
      maxBytes: c.maxBytes,
    });
  }
  const type = blob.type || "application/octet-stream";
  const ext = mime.getExtension(type);
  const meta = await c.ctx.files.put({ bytes: new Uint8Array(await blob.arrayBuffer()), name: ext ? `${base}.${ext}` : base, mime: type });
  return meta.path;
}

/** `model` and `provider` for the client. */
export function target(c: TaskCall): { model: string; provider?: never } {
  return { model: c.node.model, ...(c.node.provider ? { provider: c.node.provider as never } : {}) };
}

/** Scores as `gr.Label` shows them: the top label and every confidence, best first. */
export function labelValue(scores: ReadonlyArray<{ label: string; score: number }>): { label: string; confidences: Array<{ label: string; confidence: number }> } {
  const sorted = [...scores].sort((a, b) => b.score - a.score);
  return { label: sorted[0]?.label ?? "", confidences: sorted.map((x) => ({ label: x.label, confidence: x.score })) };
}

/** A list input: an array as is, a string split on newlines (or commas when on one line). */
export function list(v: unknown): string[] | undefined {
  if (Array.isArray(v)) return v.map(String);
  if (typeof v !== "string") return undefined;
  const parts = v.includes("\n") ? v.split("\n") : v.split(",");
  return parts.map((s) => s.trim()).filter(Boolean);
}

/**
 * A table as columns (`{ column: [cells…] }`): a dict of columns as is, a `gr.Dataframe`
 * value (`{ headers, data }`) or a list of row objects converted.
 */
export function columns(v: unknown): Record<string, string[]> | undefined {
  if (!v || typeof v !== "object") return undefined;
  const df = v as { headers?: unknown; data?: unknown };
  if (Array.isArray(df.headers) && Array.isArray(df.data)) {
    const headers = df.headers.map(String);
    return Object.fromEntries(headers.map((h, i) => [h, (df.data as unknown[][]).map((row) => String(row[i] ?? ""))]));
  }
  if (Array.isArray(v)) {
    const rows = v as Array<Record<string, unknown>>;
    const keys = [...new Set(rows.flatMap((r) => Object.keys(r ?? {})))];
    return Object.fromEntries(keys.map((k) => [k, rows.map((r) => String(r?.[k] ?? ""))]));
  }
  const cols = Object.entries(v as Record<string, unknown>);
  if (cols.every(([, c]) => Array.isArray(c))) return Object.fromEntries(cols.map(([k, c]) => [k, (c as unknown[]).map(String)]));
  return undefined;
}

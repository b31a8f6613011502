import { stat } from "node:fs/promises";
import { DaggrError, ErrorCode, isFileComponent, type Node } from "../graph/index.js";
import type { FileMeta, FileSink, PutFileInput } from "../engine/index.js";
import { FilesDir } from "../store/files.js";

/**
 * How files cross between the main process and the workers: by content. A file in a
 * job's inputs or outputs travels as a {@link FileRef} (its sha256, name and type); each
 * side turns refs into local paths through a {@link BlobStore} both can reach.
 *
 * `SharedDirBlobs` is a directory both see (one machine, or a network mount): the
 * default, and what the tests use. An S3-compatible store (`S3Blobs`, not built here)
 * fits the same interface: `put` uploads under the sha256 key, `localPath` downloads
 * once into a local cache directory and returns that path.
 */
export interface BlobStore {
  /** Stores a file (content-addressed); returns its metadata (id = sha256). */
  put(input: PutFileInput): Promise<FileMeta>;
  /** A local path holding the blob's bytes (downloaded first by a remote store). */
  localPath(id: string): Promise<string>;
  /** The blob's metadata when `path` is one of this store's local blobs. */
  lookup(path: string): Promise<FileMeta | undefined>;
  /** A FileSink over this store, for executors running on a worker. */
  sink(): FileSink;
}

/** A file in a job's data: its content id, name and type. */
export interface FileRef {
  $daggrFile: string;
  name: string;
  mime: string;
}

export function isFileRef(v: unknown): v is FileRef {
  return typeof v === "object" && v !== null && typeof (v as FileRef).$daggrFile === "string";
}

/** Blobs in a directory that the main process and every worker can read and write. */
export class SharedDirBlobs implements BlobStore {
  private readonly files: FilesDir;
  constructor(dir: string) {
    this.files = new FilesDir(dir);
  }
  get dir(): string {
    return this.files.dir;
  }
  async put(input: PutFileInput): Promise<FileMeta> {
    // A blob already there (same content) is not copied again.
    if (input.path) {
      const known = await this.lookup(input.path);
      if (known) return { ...known, name: input.name ?? known.name, mime: input.mime ?? known.mime };
    }
    return this.files.put(input);
  }
  async localPath(id: string): Promise<string> {
    return this.files.pathOf(id);
  }
  async lookup(path: string): Promise<FileMeta | undefined> {
    const id = this.files.idForPath(path);
    if (!id) return undefined;
    try {
      const { size } = await stat(path);
      return { id, name: id, mime: "application/octet-stream", size, path: this.files.pathOf(id) };
    } catch {
      return undefined;
    }
  }
  sink(): FileSink {
    return { dir: this.files.dir, put: (i) => this.put(i), lookup: (p) => this.lookup(p) };
  }
}

/**
 * Main side, before enqueueing: every string input that is a file of the main store
 * (an upload, an upstream output) is copied to the blob store and sent as a ref. Other
 * strings are left alone: a plain string is never read as a file.
 */
export async function inputsToRefs(inputs: Record<string, unknown>, files: FileSink, blobs: BlobStore): Promise<Record<string, unknown>> {
  const one = async (v: unknown): Promise<unknown> => {
    if (typeof v !== "string" || !v.startsWith(files.dir)) return v;
    const meta = await files.lookup(v);
    if (!meta) return v;
    const blob = await blobs.put({ path: meta.path, name: meta.name, mime: meta.mime });
    return { $daggrFile: blob.id, name: meta.name, mime: meta.mime } satisfies FileRef;
  };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(inputs)) out[k] = Array.isArray(v) ? await Promise.all(v.map(one)) : await one(v);
  return out;
}

/** Worker side: refs in a job's inputs become local paths. */
export async function refsToPaths(inputs: Record<string, unknown>, blobs: BlobStore): Promise<Record<string, unknown>> {
  const one = (v: unknown): Promise<unknown> | unknown => (isFileRef(v) ? blobs.localPath(v.$daggrFile) : v);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(inputs)) out[k] = Array.isArray(v) ? await Promise.all(v.map(one)) : await one(v);
  return out;
}

/**
 * Worker side, after the call: each value of a file output (a local path, or a `data:`
 * URL) is stored in the blob store and sent back as a ref.
 */
export async function outputsToRefs(node: Node, outputs: Record<string, unknown>, blobs: BlobStore): Promise<Record<string, unknown>> {
  const out = { ...outputs };
  const one = async (v: unknown): Promise<unknown> => {
    if (typeof v !== "string" || v === "") return v;
    let input: PutFileInput = { path: v };
    const data = /^data:([^;,]+)?(;base64)?,(.*)$/s.exec(v);
    if (data) input = { bytes: data[2] ? Buffer.from(data[3]!, "base64") : Buffer.from(decodeURIComponent(data[3]!)), mime: data[1] };
    let meta: FileMeta;
    try {
      meta = await blobs.put(input);
    } catch (e) {
      // The same words as in-process (engine/outputs.ts), so a node fails alike in both modes.
      throw new DaggrError(ErrorCode.BAD_INPUT, `Output of node '${node.id}' should be a file path, but '${v.slice(0, 200)}' could not be read (${(e as Error).message}).`);
    }
    return { $daggrFile: meta.id, name: meta.name, mime: meta.mime } satisfies FileRef;
  };
  for (const [port, component] of Object.entries(node.outputs)) {
    if (!isFileComponent(component) || !(port in out)) continue;
    const v = out[port];
    out[port] = Array.isArray(v) ? await Promise.all(v.map(one)) : await one(v);
  }
  return out;
}

/**
 * Main side, with a job's outputs: refs become files of the main store (with their
 * names), which the engine then records as it does for a local call.
 */
export async function refsToFiles(outputs: Record<string, unknown>, files: FileSink, blobs: BlobStore): Promise<Record<string, unknown>> {
  const one = async (v: unknown): Promise<unknown> => {
    if (!isFileRef(v)) return v;
    const meta = await files.put({ path: await blobs.localPath(v.$daggrFile), name: v.name, mime: v.mime });
    return meta.path;
  };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(outputs)) out[k] = Array.isArray(v) ? await Promise.all(v.map(one)) : await one(v);
  return out;
}

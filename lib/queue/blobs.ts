import { link, mkdir, readdir, rm, stat, utimes } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { DaggrError, ErrorCode, isFileComponent, type Node } from "../graph/index.js";
import type { FileMeta, FileSink, PutFileInput } from "../engine/index.js";
import { FilesDir } from "../store/files.js";
import { TempPrefix } from "../store/temp.js";

/**
 * How files cross between the main process and the workers: by content, per job. A file
 * in a job's inputs or outputs travels as a {@link FileRef} (its sha256, name and type);
 * each side turns refs into local paths through the job's blobs ({@link JobBlobs}) in a
 * {@link BlobStore} both can reach.
 *
 * Every blob belongs to one job, so removing a job's blobs can never take a file another
 * job still needs: a job holds its own copy (or hard link) of each file it reads or
 * makes. When a job's blobs are removed:
 * - its result has been taken into the main store (which copies the files into its own
 *   store), or the job ended without one (failed, refused, removed from the queue before
 *   a worker took it): the main process releases them at once;
 * - its main process crashed or gave up on it (a cancelled job whose worker never
 *   answered): a sweep removes what nobody has touched for `maxAgeMs` (24 h by default).
 *   The main process runs the sweep when it opens and then every `maxAgeMs / 4` (at most
 *   hourly), and first marks its own jobs still waiting or running as fresh, so a job in
 *   flight is never swept however long it waits in the queue.
 *
 * `SharedDirBlobs` is a directory both see (one machine, or a network mount): the
 * default, and what the tests use. An S3-compatible store (`S3Blobs`, not built here)
 * fits the same interface: `put` uploads under `<jobId>/<sha256>`, `localPath` downloads
 * once into a local cache directory and returns that path, `release` deletes the job's
 * prefix, and the sweep compares each job's last-touched time (a marker object rewritten
 * when touched) with `maxAgeMs`.
 */
export interface BlobStore {
  /** The blobs of one job (the id the main process gave it). */
  job(jobId: string): JobBlobs;
  /** Removes a job's blobs: its result has been taken, or it ended without one. */
  release(jobId: string): Promise<void>;
  /**
   * Removes the blobs of jobs nobody has touched for longer than `maxAgeMs` (left by a
   * crashed process); first marks the `live` jobs (still waiting or running) as touched
   * now. Resolves with the job ids removed (and loose files, by name).
   */
  sweep(o: { maxAgeMs: number; live: Iterable<string>; now?: number }): Promise<string[]>;
}

/** One job's files, as each side of the queue uses them. */
export interface JobBlobs {
  /**
   * Stores a file among the job's blobs (content-addressed); returns its metadata (id =
   * sha256). `id`, when the caller knows the content's sha256 already, lets a copy that
   * another job of this process holds be hard-linked rather than copied.
   */
  put(input: PutFileInput, id?: string): Promise<FileMeta>;
  /** A local path holding the blob's bytes (downloaded first by a remote store). */
  localPath(id: string): Promise<string>;
  /** The blob's metadata when `path` is one of this job's local blobs. */
  lookup(path: string): Promise<FileMeta | undefined>;
  /** A FileSink over the job's blobs, for executors running on a worker. */
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

/** Default of the sweep's `maxAgeMs`: a day, far longer than any job's wait in a working queue. */
export const DEFAULT_FILES_MAX_AGE_MS = 24 * 60 * 60 * 1000;

/** Folder names of jobs (the main process's `j…` ids): the sweep removes no other folder. */
const JOB_ID = /^[A-Za-z0-9_-]{1,100}$/;
/** Loose files of the layout before per-job folders (a blob, a temp file of a put): swept by age too. */
const LOOSE = new RegExp(`^(?:[0-9a-f]{64}|${TempPrefix.BLOB.replace(".", "\\.")}\\d+-[0-9a-f]+)$`);

/**
 * Blobs in a directory that the main process and every worker can read and write:
 * `<dir>/jobs/<jobId>/<sha256>`, one folder per job; a job's age is its folder's mtime.
 * Nothing else in the directory is touched, except files an older daggr left at its top
 * (`<sha256>` names and `.tmp-` files), which the sweep removes by the same age. A file
 * several jobs of one process use is hard-linked between their folders (copied when the
 * file system has no hard links): removing one folder leaves the others' intact, and a
 * node that rewrites its input file in place changes it for those jobs too, as the
 * shared blob did before.
 */
export class SharedDirBlobs implements BlobStore {
  readonly dir: string;
  /** A job of this process holding each blob (sha256 → job id): a new job links to its copy. */
  private readonly held = new Map<string, string>();
  constructor(dir: string) {
    this.dir = resolve(dir);
  }
  private jobDir(jobId: string): string {
    if (!JOB_ID.test(jobId)) throw new Error(`Not a job id: ${jobId}`);
    return join(this.dir, "jobs", jobId);
  }
  job(jobId: string): JobBlobs {
    const files = new FilesDir(this.jobDir(jobId));
    const lookup = async (path: string): Promise<FileMeta | undefined> => {
      const id = files.idForPath(path);
      if (!id) return undefined;
      try {
        const { size } = await stat(path);
        return { id, name: id, mime: "application/octet-stream", size, path: files.pathOf(id) };
      } catch {
        return undefined;
      }
    };
    const put = async (input: PutFileInput, id?: string): Promise<FileMeta> => {
      // A blob already among the job's (same content) is not copied again.
      const known = input.path ? await lookup(input.path) : undefined;
      if (known) return { ...known, name: input.name ?? known.name, mime: input.mime ?? known.mime };
      const linked = id ? await this.link(id, jobId, files, input) : undefined;
      const meta = linked ?? (await files.put(input));
      this.held.set(meta.id, jobId);
      return meta;
    };
    return {
      put,
      lookup,
      localPath: async (id) => files.pathOf(id),
      sink: () => ({ dir: files.dir, put: (i) => put(i), lookup }),
    };
  }

  /** Hard-links another job's copy of blob `id` into this job's folder; undefined when there is none (or linking fails). */
  private async link(id: string, jobId: string, files: FilesDir, input: PutFileInput): Promise<FileMeta | undefined> {
    const other = this.held.get(id);
    if (!other || other === jobId) return undefined;
    const target = files.pathOf(id);
    try {
      await mkdir(files.dir, { recursive: true });
      await link(join(this.jobDir(other), id), target).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== "EEXIST") throw e;
      });
      const { size } = await stat(target);
      const name = input.name ?? (input.path ? basename(input.path) : id);
      return { id, name, mime: input.mime ?? "application/octet-stream", size, path: target };
    } catch {
      // The other job was released meanwhile, or the file system has no hard links: copy.
      return undefined;
    }
  }

  async release(jobId: string): Promise<void> {
    for (const [id, holder] of this.held) if (holder === jobId) this.held.delete(id);
    await rm(this.jobDir(jobId), { recursive: true, force: true });
  }

  async sweep(o: { maxAgeMs: number; live: Iterable<string>; now?: number }): Promise<string[]> {
    const now = o.now ?? Date.now();
    const live = new Set(o.live);
    const jobs = join(this.dir, "jobs");
    const removed: string[] = [];
    const stale = async (path: string) => now - (await stat(path)).mtimeMs > o.maxAgeMs;
    for (const name of await readdir(jobs).catch(() => [] as string[])) {
      if (!JOB_ID.test(name)) continue;
      const path = join(jobs, name);
      try {
        if (live.has(name)) await utimes(path, now / 1000, now / 1000);
        else if (await stale(path)) {
          for (const [id, holder] of this.held) if (holder === name) this.held.delete(id);
          await rm(path, { recursive: true, force: true });
          removed.push(name);
        }
      } catch {
        // Released meanwhile.
      }
    }
    for (const name of await readdir(this.dir).catch(() => [] as string[])) {
      if (!LOOSE.test(name)) continue;
      try {
        if (await stale(join(this.dir, name))) {
          await rm(join(this.dir, name), { force: true });
          removed.push(name);
        }
      } catch {
        // Gone meanwhile.
      }
    }
    return removed;
  }
}

/**
 * Main side, before enqueueing: every string input that is a file of the main store
 * (an upload, an upstream output) is copied to the blob store and sent as a ref. Other
 * strings are left alone: a plain string is never read as a file.
 */
export async function inputsToRefs(inputs: Record<string, unknown>, files: FileSink, blobs: JobBlobs): Promise<Record<string, unknown>> {
  const one = async (v: unknown): Promise<unknown> => {
    if (typeof v !== "string" || !v.startsWith(files.dir)) return v;
    const meta = await files.lookup(v);
    if (!meta) return v;
    const blob = await blobs.put({ path: meta.path, name: meta.name, mime: meta.mime }, meta.id);
    return { $daggrFile: blob.id, name: meta.name, mime: meta.mime } satisfies FileRef;
  };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(inputs)) out[k] = Array.isArray(v) ? await Promise.all(v.map(one)) : await one(v);
  return out;
}

/**
 * Worker side: refs in a job's inputs become local paths. A file missing there fails the
 * job with E_BAD_INPUT saying why it may be (another files directory, or the main process
 * gave up on the job and its files were removed).
 */
export async function refsToPaths(inputs: Record<string, unknown>, blobs: JobBlobs): Promise<Record<string, unknown>> {
  const one = async (v: unknown): Promise<unknown> => {
    if (!isFileRef(v)) return v;
    const path = await blobs.localPath(v.$daggrFile);
    if (!(await stat(path).then((s) => s.isFile(), () => false))) {
      throw new DaggrError(
        ErrorCode.BAD_INPUT,
        `Input file '${v.name}' of this job is not in the queue's files directory (no ${path}): start the worker with the main process's files directory (--files), or run the node again if its main process gave up on this job.`,
        { got: path },
      );
    }
    return path;
  };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(inputs)) out[k] = Array.isArray(v) ? await Promise.all(v.map(one)) : await one(v);
  return out;
}

/**
 * Worker side, after the call: each value of a file output (a local path, or a `data:`
 * URL) is stored in the blob store and sent back as a ref.
 */
export async function outputsToRefs(node: Node, outputs: Record<string, unknown>, blobs: JobBlobs): Promise<Record<string, unknown>> {
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
export async function refsToFiles(outputs: Record<string, unknown>, files: FileSink, blobs: JobBlobs): Promise<Record<string, unknown>> {
  const one = async (v: unknown): Promise<unknown> => {
    if (!isFileRef(v)) return v;
    const meta = await files.put({ path: await blobs.localPath(v.$daggrFile), name: v.name, mime: v.mime });
    return meta.path;
  };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(outputs)) out[k] = Array.isArray(v) ? await Promise.all(v.map(one)) : await one(v);
  return out;
}

import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { copyFile, mkdir, open, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, join, resolve, sep } from "node:path";
import mime from "mime";
import type { FileMeta, PutFileInput } from "../engine/store.js";
import { TempPrefix, tempName } from "./temp.js";

const SHA256 = /^[0-9a-f]{64}$/;

/**
 * The disk half of the files store: content-addressed blobs at `<dir>/<sha256>`.
 * Metadata (name, MIME type) lives in the database of whichever store owns this.
 */
export class FilesDir {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = resolve(dir);
  }

  /** Copies a file, bytes or a stream in; returns its metadata. Writing is atomic (temp file, then rename). */
  async put(input: PutFileInput): Promise<FileMeta> {
    await mkdir(this.dir, { recursive: true });
    const tmp = join(this.dir, tempName(TempPrefix.BLOB));
    let id: string;
    let size: number;
    const target = (sha: string) => join(this.dir, sha);
    try {
      if (input.stream) {
        ({ id, size } = await this.writeStream(input.stream, tmp));
      } else if (input.bytes) {
        id = createHash("sha256").update(input.bytes).digest("hex");
        size = input.bytes.byteLength;
        await writeFile(tmp, input.bytes);
      } else if (input.path) {
        id = await hashFile(input.path);
        size = (await stat(input.path)).size;
        await copyFile(input.path, tmp);
      } else {
        throw new Error("putFile needs `path` or `bytes`.");
      }
      // On disk before it is named: a result committed (synced) after this never points
      // at a blob a power loss emptied. (A kill -9 keeps the page cache; this is for the OS.)
      await syncFile(tmp);
      await rename(tmp, target(id));
    } catch (e) {
      // A full disk or a vanished source must not leave a partial temp blob behind.
      await rm(tmp, { force: true });
      throw e;
    }
    const name = input.name ?? (input.path ? basename(input.path) : id);
    const type = input.mime ?? mime.getType(name) ?? "application/octet-stream";
    return { id, name, mime: type, size, path: target(id) };
  }

  /**
   * Writes a stream to `tmp`, hashing as it goes: memory holds one chunk at a time. On
   * any error (the source's, e.g. over its size cap or aborted, or the disk's) the temp
   * file is removed and the error rethrown.
   */
  private async writeStream(stream: AsyncIterable<Uint8Array>, tmp: string): Promise<{ id: string; size: number }> {
    const hash = createHash("sha256");
    let size = 0;
    const fh = await open(tmp, "w");
    try {
      for await (const chunk of stream) {
        hash.update(chunk);
        size += chunk.byteLength;
        await fh.write(chunk);
      }
      await fh.close();
    } catch (e) {
      await fh.close().catch(() => {});
      await rm(tmp, { force: true });
      throw e;
    }
    return { id: hash.digest("hex"), size };
  }

  /**
   * Stages a stream as a temp file of this directory (for a caller that may need to
   * put it twice); `discard` removes it.
   */
  async stage(input: PutFileInput): Promise<{ input: PutFileInput; discard(): Promise<void> }> {
    if (!input.stream) return { input, discard: async () => {} };
    await mkdir(this.dir, { recursive: true });
    const tmp = join(this.dir, tempName(TempPrefix.BLOB));
    const { id } = await this.writeStream(input.stream, tmp);
    return { input: { path: tmp, name: input.name ?? id, mime: input.mime }, discard: () => rm(tmp, { force: true }) };
  }

  /** The id of the file at `path` when the path is a blob of this store; undefined otherwise. */
  idForPath(path: string): string | undefined {
    if (typeof path !== "string") return undefined;
    const abs = resolve(path);
    if (!abs.startsWith(this.dir + sep)) return undefined;
    const id = abs.slice(this.dir.length + 1);
    return SHA256.test(id) ? id : undefined;
  }

  pathOf(id: string): string {
    if (!SHA256.test(id)) throw new Error(`Not a file id: ${id}`);
    return join(this.dir, id);
  }

  async remove(id: string): Promise<void> {
    await rm(this.pathOf(id), { force: true });
  }
}

async function syncFile(path: string): Promise<void> {
  const fh = await open(path, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export function isFileId(id: string): boolean {
  return SHA256.test(id);
}

function hashFile(path: string): Promise<string> {
  return new Promise((ok, fail) => {
    const h = createHash("sha256");
    createReadStream(path)
      .on("data", (c) => h.update(c))
      .on("error", fail)
      .on("end", () => ok(h.digest("hex")));
  });
}

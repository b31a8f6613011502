import { randomBytes } from "node:crypto";
import { readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Temporary files with an owner. Every temp name daggr makes carries the pid of the
 * process writing it (`<prefix><pid>-<random>`): a blob being copied into the files
 * store (`files/.tmp-…`), an upload in flight, a `graph.call`'s scratch store, an
 * FnNode's scratch directory. A crash (kill -9, power loss) leaves them behind; the next
 * start sweeps every one whose process is gone, and a closing server sweeps its own.
 * Several daggr processes share these directories, so a live process's files are
 * never touched.
 */
export const TempPrefix = {
  /** A blob on its way into `<home>/files` (renamed to its sha256 when complete). */
  BLOB: ".tmp-",
  /** An upload streaming in (`POST /upload`), in the OS temp directory. */
  UPLOAD: "daggr-upload-",
  /** A memory store's files (`graph.call`, `persistKey: false`), in the OS temp directory. */
  MEMORY: "daggr-mem-",
  /** An FnNode's scratch directory, in the OS temp directory. */
  FN: "daggr-fn-",
} as const;

/** Names without a pid (made by an older daggr) count as stale after this long. */
const UNOWNED_STALE_MS = 60 * 60 * 1000;

/** A fresh temp name owned by this process. */
export function tempName(prefix: string): string {
  return `${prefix}${process.pid}-${randomBytes(8).toString("hex")}`;
}

/** Whether a process with this pid is alive (EPERM: alive, owned by someone else). */
export function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Removes the temp entries in `dir` starting with one of `prefixes` whose owner is gone
 * (or, with `own`, owned by this process too). Returns the names removed.
 *
 * @example
 * await sweepTemp(join(home, "files"), [TempPrefix.BLOB]);
 */
export async function sweepTemp(dir: string, prefixes: readonly string[], options: { own?: boolean } = {}): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const prefix = prefixes.find((p) => name.startsWith(p));
    if (prefix === undefined) continue;
    const m = /^(\d+)-/.exec(name.slice(prefix.length));
    let stale: boolean;
    if (m) {
      const pid = Number(m[1]);
      stale = pid === process.pid ? !!options.own : !alive(pid);
    } else {
      const st = await stat(join(dir, name)).catch(() => undefined);
      stale = !!st && Date.now() - st.mtimeMs > UNOWNED_STALE_MS;
    }
    if (!stale) continue;
    await rm(join(dir, name), { recursive: true, force: true }).catch(() => undefined);
    removed.push(name);
  }
  return removed;
}

/**
 * Sweeps what daggr leaves in the OS temp directory: uploads, call stores and FnNode
 * scratch of processes that are gone, and with `own` this process's uploads (a closing
 * server; its memory stores and FnNode scratch may still be in use by the process).
 */
export async function sweepOsTemp(options: { own?: boolean } = {}): Promise<string[]> {
  const dead = await sweepTemp(tmpdir(), [TempPrefix.UPLOAD, TempPrefix.MEMORY, TempPrefix.FN]);
  const mine = options.own ? await sweepTemp(tmpdir(), [TempPrefix.UPLOAD], { own: true }) : [];
  return [...dead, ...mine];
}

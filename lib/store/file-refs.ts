import type { FilesDir } from "./files.js";

/**
 * Ids of stored files a value points at: every string anywhere inside it that is a path
 * into the files store. Input values hold files this way (an uploaded image is its store
 * path), so a sheet's inputs keep their files alive just as its results do.
 *
 * @example
 * fileIdsIn({ image: "/home/me/.cache/huggingface/daggr/files/9f86…" }, files) // ["9f86…"]
 */
export function fileIdsIn(value: unknown, files: FilesDir): string[] {
  const ids = new Set<string>();
  const walk = (v: unknown, depth: number) => {
    if (typeof v === "string") {
      const id = files.idForPath(v);
      if (id) ids.add(id);
    } else if (v && typeof v === "object" && depth < 32) {
      for (const x of Array.isArray(v) ? v : Object.values(v)) walk(x, depth + 1);
    }
  };
  walk(value, 0);
  return [...ids];
}

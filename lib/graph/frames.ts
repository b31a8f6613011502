import { relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * A stack frame of node's or daggr's own code (its sources when run from a clone, its
 * bundle when installed) or of a package, never the app's: `Socket.emit (node:events…)`
 * under a syntax error, `unknownName (…/lib/graph/errors.ts…)` under a misspelt option.
 */
export const INTERNAL_FRAME = /\bnode:[a-z_]|node_modules|[/\\]lib[/\\](cli|server|engine|graph|nodes|store|queue)[/\\]|[/\\]dist[/\\]/;

/**
 * Where an error rebuilt from its description (a queue job's, thrown in a worker) was
 * thrown, as the worker found it: `toResultError` keeps it instead of reading the stack
 * of the process that rebuilt the error.
 */
export const THROWN_AT = Symbol("daggr.thrownAt");

/** A place in a source file: 1-based line and column, as editors count. */
export interface CodePlace {
  file: string;
  line: number;
  column: number;
}

/**
 * The first frame of a stack in the app's own code (see `INTERNAL_FRAME`), with its path
 * as `shortPath` writes it, or undefined when every frame is node's, daggr's or a package's.
 */
export function userFrame(stack: string | undefined): CodePlace | undefined {
  for (const l of (stack ?? "").split("\n")) {
    const m = /^\s+at (?:.*\()?((?:file:\/\/)?\/[^()]+?):(\d+):(\d+)\)?$/.exec(l);
    if (!m || INTERNAL_FRAME.test(m[1]!)) continue;
    const path = m[1]!.startsWith("file:") ? fileURLToPath(m[1]!) : m[1]!;
    return { file: shortPath(path), line: Number(m[2]), column: Number(m[3]) };
  }
  return undefined;
}

/** A path relative to the working directory when it is inside it, else absolute. */
export function shortPath(file: string): string {
  const rel = relative(process.cwd(), resolve(file));
  return rel.startsWith(`..${sep}`) ? resolve(file) : rel;
}

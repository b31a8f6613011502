import { DaggrError, ErrorCode } from "./errors.js";

/** One segment of a Hub repo id: letters, digits, `-`, `_`, `.`; no leading/trailing `-`/`.`, no `--` or `..`; at most 96 characters. */
const SEGMENT = /^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9])?$/;

/**
 * Checks a Space id (`owner/name`) against the Hub's naming rules before it becomes part
 * of a path, a URL or a process argument. Anything else (`..`, slashes, spaces, URLs,
 * shell characters) is refused with E_BAD_OPTION.
 *
 * @example
 * checkSpaceId("gradio/hello_world") // ["gradio", "hello_world"]
 */
export function checkSpaceId(id: unknown): [owner: string, name: string] {
  const parts = typeof id === "string" ? id.split("/") : [];
  if (parts.length === 2 && parts.every((p) => SEGMENT.test(p) && !p.includes("..") && !p.includes("--"))) return [parts[0]!, parts[1]!];
  throw new DaggrError(
    ErrorCode.BAD_OPTION,
    `runLocally needs a Hugging Face Space id like 'owner/name' (letters, digits, '-', '_', '.'; no '..' or '--'), got ${JSON.stringify(id)}.`,
    { got: typeof id === "string" ? id : String(id) },
  );
}

/** A revision to pin: a 40-hex commit sha or a branch/tag name without path tricks. */
export function checkRevision(rev: string): string {
  if (/^[0-9a-f]{40}$/.test(rev) || /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/.test(rev)) return rev;
  throw new DaggrError(ErrorCode.BAD_OPTION, `revision must be a commit sha or a branch name, got ${JSON.stringify(rev)}.`, { got: rev });
}

/** Checks `localEnv` entries: names (or NAME=value) only. */
export function checkLocalEnv(v: unknown): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === "string" && /^[A-Za-z_][A-Za-z0-9_]*(=.*)?$/s.test(x))) {
    throw new DaggrError(ErrorCode.BAD_OPTION, `localEnv must be a list of environment variable names (or "NAME=value"), e.g. ["HF_TOKEN"], got ${JSON.stringify(v)}.`, { got: JSON.stringify(v) });
  }
  return v as string[];
}


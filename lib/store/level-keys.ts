import { StoreError, StoreErrorCode } from "./errors.js";

/**
 * The key layout of one app's LevelDB. Keys are UTF-8 strings of parts joined by NUL;
 * NUL sorts below every other character, so `prefix + NUL` … `prefix + \x01` bounds
 * exactly the keys under a prefix. Result and sheet ids come from `newId`, which sorts
 * by creation time, so a reverse range scan reads newest first without loading more
 * than a page.
 *
 * | key                                   | value                      |
 * |---------------------------------------|----------------------------|
 * | `version`                             | schema version (number)    |
 * | `sheet ∅ sheetId`                     | SheetInfo (with revision)  |
 * | `user-sheet ∅ user ∅ sheetId`         | 0 (list per user, by age)  |
 * | `input ∅ sheetId ∅ inputKey`          | input value                |
 * | `input-rev ∅ sheetId ∅ inputKey`      | writes of that input (rev) |
 * | `sel ∅ sheetId ∅ nodeId`              | selected result id         |
 * | `result ∅ sheetId ∅ nodeId ∅ resultId`| ResultRecord               |
 * | `result-node ∅ sheetId ∅ resultId`    | nodeId (getResult by id)   |
 * | `by-key ∅ sheetId ∅ nodeId ∅ key`     | newest successful result id|
 * | `count ∅ sheetId ∅ nodeId`            | number of results          |
 * | `run ∅ sheetId ∅ runId`               | RunRecord                  |
 * | `running ∅ sheetId ∅ runId`           | 0 (runs to interrupt)      |
 * | `file ∅ sha256`                       | {id, name, mime, size}     |
 * | `ref ∅ sha256 ∅ sheetId ∅ holder`     | 0 (`r:resultId`/`i:input`) |
 * | `sheet-ref ∅ sheetId ∅ sha256 ∅ holder`| 0 (the same, by sheet)    |
 * | `gc ∅ sha256`                         | 0 (blob release pending)   |
 * | `trash ∅ sheetId`                     | user (purge pending)       |
 * | `meta ∅ key`                          | app cache value            |
 * | `health`                              | last write probe (epoch ms)|
 * | `legacy-keys`                         | oldest key scheme (1 or 2) |
 * | `backup ∅ fromVersion ∅ key`          | value a migration replaced |
 */
export const SEP = "\x00";
const AFTER = "\x01";

function part(p: string): string {
  if (p.includes(SEP)) {
    throw new StoreError(StoreErrorCode.BAD_KEY, `A store key part may not contain a NUL character; got ${JSON.stringify(p)}.`, { got: p });
  }
  return p;
}

/** Joins key parts. */
export function key(...parts: string[]): string {
  // Joined by hand: a map and a join per key were ~15% of the time a batch of results took to build.
  let k = part(parts[0]!);
  for (let i = 1; i < parts.length; i++) k += SEP + part(parts[i]!);
  return k;
}

/** The range `{gt, lt}` of every key strictly under the given parts. */
export function under(...parts: string[]): { gt: string; lt: string } {
  const p = key(...parts);
  return { gt: p + SEP, lt: p + AFTER };
}

/** The last part of a key. */
export function lastPart(k: string): string {
  return k.slice(k.lastIndexOf(SEP) + 1);
}

/** Every key family, so migrations and tests can name them. */
export const K = {
  version: "version",
  sheet: (sheetId: string) => key("sheet", sheetId),
  userSheet: (user: string, sheetId: string) => key("user-sheet", user, sheetId),
  input: (sheetId: string, inputKey: string) => key("input", sheetId, inputKey),
  inputRev: (sheetId: string, inputKey: string) => key("input-rev", sheetId, inputKey),
  health: "health",
  /** Present when results of an older recipe key scheme may remain: the oldest (see migrations.ts). */
  legacyKeys: "legacy-keys",
  sel: (sheetId: string, nodeId: string) => key("sel", sheetId, nodeId),
  result: (sheetId: string, nodeId: string, resultId: string) => key("result", sheetId, nodeId, resultId),
  resultNode: (sheetId: string, resultId: string) => key("result-node", sheetId, resultId),
  byKey: (sheetId: string, nodeId: string, recipeKey: string) => key("by-key", sheetId, nodeId, recipeKey),
  count: (sheetId: string, nodeId: string) => key("count", sheetId, nodeId),
  run: (sheetId: string, runId: string) => key("run", sheetId, runId),
  running: (sheetId: string, runId: string) => key("running", sheetId, runId),
  file: (id: string) => key("file", id),
  ref: (fileId: string, sheetId: string, holder: string) => key("ref", fileId, sheetId, holder),
  sheetRef: (sheetId: string, fileId: string, holder: string) => key("sheet-ref", sheetId, fileId, holder),
  gc: (fileId: string) => key("gc", fileId),
  trash: (sheetId: string) => key("trash", sheetId),
  meta: (k: string) => key("meta", k),
  /** The replaced key is kept whole, NULs included: it is the last part. */
  backup: (from: number, k: string) => key("backup", String(from)) + SEP + k,
} as const;

/** Ref holders: a result record, or one input value of the sheet. */
export const holder = {
  result: (resultId: string) => `r:${resultId}`,
  input: (inputKey: string) => `i:${inputKey}`,
};

/** The per-sheet key families a sheet deletion clears, each a prefix `family ∅ sheetId`. */
export const SHEET_FAMILIES = ["input", "input-rev", "sel", "result", "result-node", "by-key", "count", "run", "running", "sheet-ref"] as const;

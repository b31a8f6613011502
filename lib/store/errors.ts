import { DaggrError, type DaggrErrorDetails, ErrorCode } from "../graph/errors.js";

/**
 * Codes of the mistakes and conditions the store can name. They live here rather than
 * in `graph/errors.ts` so persistence stays one folder; the strings follow the same
 * `E_…` scheme and a `StoreError` is a `DaggrError`, so callers catch one type.
 */
export const StoreErrorCode = {
  /** Another process (or another handle in this one) holds the database. */
  STORE_LOCKED: "E_STORE_LOCKED",
  /** The database was written by a newer daggr, or no migration path exists. */
  STORE_SCHEMA: "E_STORE_SCHEMA",
  /** A `persistKey` that cannot name a directory. */
  BAD_PERSIST_KEY: "E_BAD_PERSIST_KEY",
  /** A finished result is immutable: its id was committed already. */
  RESULT_EXISTS: "E_RESULT_EXISTS",
  /** A record names a file id the files store does not hold. */
  UNKNOWN_FILE: "E_UNKNOWN_FILE",
  /** A key part (node id, input name…) contains a character the key layout reserves. */
  BAD_KEY: "E_BAD_KEY",
  /** A write to disk failed (disk full, I/O error): nothing was acknowledged for it. */
  STORAGE: "E_STORAGE",
} as const;
export type StoreErrorCode = (typeof StoreErrorCode)[keyof typeof StoreErrorCode];

/**
 * A coded store error. `instanceof DaggrError` holds, and `code` is one of
 * {@link StoreErrorCode}.
 *
 * @example
 * try { await openStore({ persistKey: "my-app" }); }
 * catch (e) { if (isStoreLocked(e)) { console.error(e.message); process.exit(1); } throw e; }
 */
export class StoreError extends DaggrError {
  override name = "StoreError";
  constructor(code: StoreErrorCode, message: string, details: DaggrErrorDetails = {}) {
    // DaggrError types its code as the graph's union; the store's codes extend it.
    super(code as unknown as ErrorCode, message, details);
  }
}

/** True when `e` is the "already in use by another daggr process" error. */
export function isStoreLocked(e: unknown): e is StoreError {
  return e instanceof StoreError && (e.code as string) === StoreErrorCode.STORE_LOCKED;
}

/** `E_UNKNOWN_SHEET`: a sheet id neither store holds. */
export function unknownSheet(id: string): DaggrError {
  return new DaggrError(ErrorCode.UNKNOWN_SHEET, `Unknown sheet '${id}'.`, { got: id });
}

/** `E_RESULT_EXISTS`: both stores refuse to rewrite a committed result. */
export function resultExists(record: { id: string; nodeId: string }): StoreError {
  return new StoreError(
    StoreErrorCode.RESULT_EXISTS,
    `Result '${record.id}' of node '${record.nodeId}' is already committed; a finished result never changes. Commit a new record with a new id (newId("r")).`,
    { got: record.id },
  );
}

/** `E_UNKNOWN_FILE`: a record may only reference files the store holds. */
export function unknownFiles(record: { id: string; nodeId: string }, missing: string[]): StoreError {
  return new StoreError(
    StoreErrorCode.UNKNOWN_FILE,
    `Result '${record.id}' of node '${record.nodeId}' references file(s) ${missing.map((m) => `'${m}'`).join(", ")} that the files store does not hold. Put each file with store.putFile() and reference the returned id.`,
    { got: missing[0] },
  );
}

/** Whether `e` is a failure of the disk under the store (full, I/O error, read-only), not of the caller. */
export function isDiskError(e: unknown): boolean {
  const codes = [(e as { code?: string })?.code, (e as { cause?: { code?: string } })?.cause?.code];
  if (codes.some((c) => c === "LEVEL_IO_ERROR" || c === "ENOSPC" || c === "EIO" || c === "EDQUOT" || c === "EROFS" || c === "EFBIG")) return true;
  const text = String((e as { cause?: { message?: string } })?.cause?.message ?? (e as Error)?.message ?? "");
  return /No space left on device|Input\/output error|Disk quota exceeded|Read-only file system/i.test(text);
}

/** `E_STORAGE`: what failed, and what the user can do; acknowledged work is safe. */
export function storageError(e: unknown, what: string): StoreError {
  // Keep file names, not where they live: the message reaches browsers.
  const cause = String((e as { cause?: { message?: string } })?.cause?.message ?? (e as Error)?.message ?? e)
    .replace(/(?:\/[^\s/:,']+)+\/([^\s/:,']+)/g, "…/$1")
    .slice(0, 300);
  return new StoreError(
    StoreErrorCode.STORAGE,
    `Could not save ${what}: the disk refused the write (${cause}). Free some space (or fix the disk) and try again; everything acknowledged before is kept, and writing resumes once the disk accepts writes.`,
    { cause },
  );
}

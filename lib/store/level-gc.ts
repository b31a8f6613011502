import type { Claims } from "./claims.js";
import { K, SEP, SHEET_FAMILIES, under } from "./level-keys.js";
import { writeBatch, type DB, type Op } from "./lock.js";

/**
 * Removing a sheet, crash-safe in steps. `deleteSheet` first swaps the sheet for a
 * `trash` key in one batch (so it vanishes at once); this then drops its file refs,
 * journals every file left unreferenced under `gc`, releases those blobs, clears the
 * sheet's key ranges and finally the `trash` key. Each step is idempotent, and recovery
 * re-runs the purge of any sheet still in the trash, so a crash anywhere only delays it.
 *
 * `keep` holds files put through the live handle but not referenced yet (an upload
 * before its run): never collected.
 */
export async function purgeSheet(db: DB, claims: Claims, sheetId: string, keep: ReadonlySet<string>): Promise<void> {
  const touched = new Set<string>();
  const drop = db.batch();
  for await (const k of db.keys(under("sheet-ref", sheetId))) {
    const [, , fileId, holder] = k.split(SEP) as [string, string, string, string];
    touched.add(fileId);
    drop.del(K.ref(fileId, sheetId, holder));
  }
  await drop.write();

  const orphans: string[] = [];
  for (const id of touched) if (!keep.has(id) && !(await isReferenced(db, id))) orphans.push(id);
  if (orphans.length) await writeBatch(db, orphans.flatMap((id): Op[] => [{ type: "del", key: K.file(id) }, { type: "put", key: K.gc(id), value: 0 }]));
  await collectGarbage(db, claims, orphans);

  for (const family of SHEET_FAMILIES) await db.clear(under(family, sheetId));
  await db.del(K.trash(sheetId));
}

/** Releases the blobs journalled under `gc` (all of them when `ids` is omitted). */
export async function collectGarbage(db: DB, claims: Claims, ids?: string[]): Promise<void> {
  if (!ids) {
    ids = [];
    for await (const k of db.keys(under("gc"))) ids.push(k.slice(k.indexOf(SEP) + 1));
  }
  if (!ids.length) return;
  // A file put again since it was journalled has its metadata back: keep its blob.
  const metas = await db.getMany(ids.map((id) => K.file(id)));
  for (const [i, id] of ids.entries()) if (metas[i] === undefined) await claims.release(id);
  await writeBatch(db, ids.map((id): Op => ({ type: "del", key: K.gc(id) })));
}

async function isReferenced(db: DB, fileId: string): Promise<boolean> {
  for await (const _ of db.keys({ ...under("ref", fileId), limit: 1 })) return true;
  return false;
}

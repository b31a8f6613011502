import { RunStatus, type RunRecord } from "../engine/records.js";
import type { Claims } from "./claims.js";
import { collectGarbage, purgeSheet } from "./level-gc.js";
import { K, SEP, under } from "./level-keys.js";
import type { DB } from "./lock.js";

/**
 * What a crash can leave behind, put right on open (we hold the lock, so nothing is in
 * flight): runs still marked running become `interrupted` (the process that ran them is
 * gone); sheet deletions and blob releases that were cut short finish. Results are never
 * touched: a committed result is finished by definition.
 */
export async function recover(db: DB, claims: Claims): Promise<{ interrupted: string[] }> {
  const interrupted: string[] = [];
  const fix = db.batch();
  for await (const k of db.keys(under("running"))) {
    const [, sheetId, runId] = k.split(SEP) as [string, string, string];
    const run = (await db.get(K.run(sheetId, runId))) as RunRecord | undefined;
    if (run?.status === RunStatus.RUNNING) {
      fix.put(K.run(sheetId, runId), { ...run, status: RunStatus.INTERRUPTED });
      interrupted.push(runId);
    }
    fix.del(k);
  }
  await fix.write();

  for await (const k of db.keys(under("trash"))) await purgeSheet(db, claims, k.slice(k.indexOf(SEP) + 1), new Set());
  await collectGarbage(db, claims);
  return { interrupted };
}

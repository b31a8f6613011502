import { newId, ResultStatus, RunMode, RunStatus, type ResultRecord, type RunRecord } from "../engine/records.js";
import type { Claims } from "./claims.js";
import { collectGarbage, purgeSheet } from "./level-gc.js";
import { K, SEP, under } from "./level-keys.js";
import type { DB } from "./lock.js";

/** The error an interrupted node shows (its code is stable, like every `E_…`). */
export const INTERRUPTED_CODE = "E_INTERRUPTED";

/**
 * What a crash can leave behind, put right on open (we hold the lock, so nothing is in
 * flight): runs still marked running become `interrupted` (the process that ran them is
 * gone), and each node such a run had started (and its target) without a result gets an
 * `interrupted` result, so its history and a reconnecting canvas say what happened;
 * sheet deletions and blob releases that were cut short finish. Committed results are
 * never touched: a committed result is finished by definition.
 */
export async function recover(db: DB, claims: Claims): Promise<{ interrupted: string[] }> {
  const interrupted: string[] = [];
  const fix = db.batch();
  const counts = new Map<string, number>();
  for await (const k of db.keys(under("running"))) {
    const [, sheetId, runId] = k.split(SEP) as [string, string, string];
    const run = (await db.get(K.run(sheetId, runId))) as RunRecord | undefined;
    if (run?.status === RunStatus.RUNNING) {
      fix.put(K.run(sheetId, runId), { ...run, status: RunStatus.INTERRUPTED });
      interrupted.push(runId);
      // The nodes it started, and its target (an explicit run always executes it): those
      // without a result of this run were cut short.
      const cut = new Set(run.started ?? []);
      if (run.target && run.mode !== RunMode.ALL) cut.add(run.target);
      for (const nodeId of cut) {
        if (await hasResultOf(db, sheetId, nodeId, runId)) continue;
        const record = interruptedRecord(run, nodeId);
        const countKey = K.count(sheetId, nodeId);
        const count = counts.get(countKey) ?? (((await db.get(countKey)) as number | undefined) ?? 0);
        counts.set(countKey, count + 1);
        fix.put(K.result(sheetId, nodeId, record.id), record);
        fix.put(K.resultNode(sheetId, record.id), nodeId);
        fix.put(countKey, count + 1);
      }
    }
    fix.del(k);
  }
  await fix.write({ sync: true });

  for await (const k of db.keys(under("trash"))) await purgeSheet(db, claims, k.slice(k.indexOf(SEP) + 1), new Set());
  await collectGarbage(db, claims);
  return { interrupted };
}

/** Whether one of the node's newest results came from this run (a run commits each node once). */
async function hasResultOf(db: DB, sheetId: string, nodeId: string, runId: string): Promise<boolean> {
  for await (const r of db.values({ ...under("result", sheetId, nodeId), reverse: true, limit: 50 })) if ((r as ResultRecord).runId === runId) return true;
  return false;
}

function interruptedRecord(run: RunRecord, nodeId: string): ResultRecord {
  return {
    id: newId("x"),
    nodeId,
    sheetId: run.sheetId,
    runId: run.id,
    key: "",
    inputs: {},
    upstream: {},
    outputs: {},
    outputHashes: {},
    status: ResultStatus.INTERRUPTED,
    error: {
      code: INTERRUPTED_CODE,
      message: `Interrupted: the server stopped before node '${nodeId}' finished (run ${run.id}, started ${new Date(run.startedAt).toISOString()}). Nothing of it was saved; run it again.`,
    },
    startedAt: run.startedAt,
    ms: 0,
    files: [],
  };
}

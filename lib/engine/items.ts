import { ErrorCode } from "../graph/index.js";
import { callPrimary, callWithBackups, resolveOwn } from "./backups.js";
import type { Execution } from "./execute.js";
import { type Produced, finish, toResultError } from "./produce.js";
import { canonical, contentHash, hashText, hashedIdentity } from "./recipe-key.js";
import { type ItemResult, ResultStatus } from "./records.js";
import type { Wiring } from "./wiring.js";

/**
 * Runs a mapped node once per item, in parallel within its concurrency limit. Each item
 * has its own key: an item whose key matches an item of the current selection is reused,
 * so editing one element of a list reruns only that element's chain. `onlyItem` reruns
 * one item alone and keeps the others as selected.
 */
export async function runItems(x: Execution, editable: Record<string, unknown>[], wiring: Wiring): Promise<void> {
  const { node, onlyItem } = x;
  const { view, files } = x.env;
  const record = x.record;
  const n = wiring.lists[0]!.items.length;
  const previous = view.selected.get(node.id)?.items ?? [];
  const byKey = new Map(previous.filter((i) => i.status === ResultStatus.SUCCESS).map((i) => [i.key, i]));
  let done = 0;
  const base = view.itemBaseKey(node, wiring.lists.map((l) => l.port));
  // A sheet holding results of key scheme 1 finds their items under the keys they had then
  // (item keys are the same in schemes 2 and 3).
  const legacyBase = view.legacyScheme === 1 ? view.legacyItemBaseKey(node, wiring.lists.map((l) => l.port)) : undefined;
  const one = async (i: number): Promise<ItemResult> => {
    const perItem = Object.fromEntries(wiring.lists.map((l) => [l.port, l.items[i]]));
    const item: ItemResult = {
      key: hashText(`${base}|${canonical(perItem)}`), inputs: perItem, outputs: {}, outputHashes: {},
      status: ResultStatus.SUCCESS, startedAt: Date.now(), ms: 0,
    };
    const keep =
      onlyItem === undefined
        ? (byKey.get(item.key) ?? (legacyBase === undefined ? undefined : byKey.get(hashText(`${legacyBase}|${canonical(perItem)}`))))
        : onlyItem === i
          ? undefined
          : previous[i];
    if (keep) return keep;
    const upstreamFailed = wiring.lists.map((l) => l.failed[i]).find(Boolean);
    if (upstreamFailed) {
      return { ...item, status: ResultStatus.FAILED, error: { code: ErrorCode.UPSTREAM_FAILED, message: `failed upstream: ${upstreamFailed.error?.message ?? upstreamFailed.status}` } };
    }
    const t0 = performance.now();
    const call = await x.acquire(true);
    try {
      const outputs = node.backups.length
        ? (await callWithBackups(x, { ...record, inputs: {} }, editable, { ...wiring.values, ...perItem }, call)).outputs
        : await callPrimary(x, editable[0]!, { ...wiring.values, ...perItem }, call, { inputs: {} });
      const produced: Produced = { inputs: perItem, outputs: {}, outputHashes: {}, files: record.files };
      await finish(node, produced, outputs, files);
      return { ...item, outputs: produced.outputs, outputHashes: produced.outputHashes, ms: Math.round(performance.now() - t0) };
    } catch (e) {
      if (x.aborted) throw e;
      return { ...item, status: ResultStatus.FAILED, error: toResultError(e), ms: Math.round(performance.now() - t0) };
    } finally {
      call.release();
      x.touch();
      x.env.host.progress(node.id, x.runId, { fraction: ++done / n, text: `${done}/${n} items` });
    }
  };
  const items = await Promise.all(Array.from({ length: n }, (_, i) => one(i)));
  record.inputs = await resolveOwn(node, editable[0]!);
  record.items = items;
  record.outputs = {};
  record.outputHashes = {};
  for (const port of Object.keys(node.outputs)) {
    record.outputs[port] = items.map((i) => (i.status === ResultStatus.SUCCESS ? i.outputs[port] : null));
    record.outputHashes[port] = contentHash(items.map((i) => [i.status, i.outputHashes[port] === undefined ? null : hashedIdentity(i.outputHashes[port])]));
  }
  const failed = items.map((it, i) => ({ it, i })).filter(({ it }) => it.status !== ResultStatus.SUCCESS);
  if (failed.length) {
    record.error = {
      code: ErrorCode.ITEMS_FAILED,
      message: `${failed.length} of ${n} items failed: ${failed.map(({ it, i }) => `#${i + 1}: ${it.error?.message}`).join("; ")}`,
      details: { items: failed.map(({ i }) => i) },
    };
  }
}

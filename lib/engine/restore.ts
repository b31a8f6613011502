import { DaggrError, ErrorCode, type Graph, type Node, inputId } from "../graph/index.js";
import { type ResultRecord, ResultStatus } from "./records.js";
import { findByRecipe, itemStates } from "./runner.js";
import { Activity, type SheetView } from "./state.js";
import type { Store } from "./store.js";
import type { Writes } from "./writes.js";

/**
 * Selects an older result of a node and restores what made it (see `Session.select`):
 * one consistent choice of results computed before anything is written
 * ({@link provenanceOf}), their inputs and selections written, then every other node
 * downstream selects its newest result matching its new key. Resolves once the restore
 * is on disk; rejects if it could not be saved.
 */
export async function restore(graph: Graph, store: Store, view: SheetView, writes: Writes, nodeId: string, resultId: string): Promise<void> {
  const sheetId = view.sheetId;
  const first = await store.getResult(sheetId, resultId);
  if (!first || first.nodeId !== nodeId) {
    throw new DaggrError(ErrorCode.UNKNOWN_RESULT, `Node '${nodeId}' has no result '${resultId}' in this sheet.`, { got: resultId });
  }
  if (first.status !== ResultStatus.SUCCESS && first.status !== ResultStatus.SKIPPED) {
    throw new DaggrError(ErrorCode.UNKNOWN_RESULT, `Result '${resultId}' of node '${nodeId}' ${first.status}; only successful results can be selected.`, { got: resultId });
  }
  // 1. Choose, then write: the inputs and selections of every node on the provenance chain.
  const restored = await provenanceOf(graph, store, sheetId, first);
  const inputs: Record<string, unknown> = {};
  const changed: Array<{ node: Node; port: string; value: unknown }> = [];
  for (const r of restored.values()) {
    const n = graph.node(r.nodeId);
    for (const port of n.editablePorts()) {
      if (port in r.inputs) {
        inputs[inputId(n.id, port)] = r.inputs[port];
        view.setInput(n, port, r.inputs[port]);
        changed.push({ node: n, port, value: r.inputs[port] });
      }
    }
  }
  const selections: Record<string, string | null> = {};
  for (const r of restored.values()) {
    view.select(r);
    view.patchState(r.nodeId, { activity: r.status === ResultStatus.SKIPPED ? Activity.SKIPPED : Activity.IDLE, items: itemStates(r), error: r.status === ResultStatus.SKIPPED ? undefined : r.error });
    selections[r.nodeId] = r.id;
  }
  for (const { node: n, port, value } of changed) {
    view.emit({ type: "input-changed", sheetId, nodeId: n.id, port, value, origin: "restore" });
  }
  view.refresh(restored.keys(), restored.keys());
  // 2. Cascade: every other downstream node picks its newest result matching its new key.
  for (const id of graph.descendants(restored.keys())) {
    if (restored.has(id)) continue;
    const key = view.key(id);
    const sel = view.selected.get(id);
    if (key === undefined || sel?.key === key) continue;
    const node = graph.node(id);
    if (sel && view.isOlderKey(node, key, sel.key)) continue;
    const match = await findByRecipe(store, view, node, key);
    if (match) {
      view.select(match);
      view.reselected(id);
      selections[id] = match.id;
    }
  }
  // Resolves once the restore is on disk (the server acknowledges it then); rejects if it could not be saved.
  await writes.persist(async () => {
    if (Object.keys(inputs).length) await store.setInputs(sheetId, inputs);
    await store.setSelections(sheetId, selections);
  });
}

/**
 * The results a restore selects, by node: a breadth-first walk of the `upstream` links
 * from `first`, where each node is chosen once, by the consumer nearest to `first`. At
 * equal distance the newer result wins. Only a chosen result's own links are followed,
 * so every chosen result is consistent with the ones that consumed it.
 */
export async function provenanceOf(graph: Graph, store: Store, sheetId: string, first: ResultRecord): Promise<Map<string, ResultRecord>> {
  const chosen = new Map<string, ResultRecord>([[first.nodeId, first]]);
  let level = [first];
  while (level.length) {
    const ids = new Set<string>();
    for (const r of level) for (const upId of Object.values(r.upstream)) ids.add(upId);
    const found = await Promise.all([...ids].map((id) => store.getResult(sheetId, id)));
    const next = new Map<string, ResultRecord>();
    for (const up of found) {
      if (!up || chosen.has(up.nodeId) || !graph.has(up.nodeId)) continue;
      const rival = next.get(up.nodeId);
      if (!rival || newer(up, rival)) next.set(up.nodeId, up);
    }
    for (const r of next.values()) chosen.set(r.nodeId, r);
    level = [...next.values()];
  }
  return chosen;
}

/** Whether `a` was made after `b` (ids break ties: they grow with time). */
function newer(a: ResultRecord, b: ResultRecord): boolean {
  return a.startedAt !== b.startedAt ? a.startedAt > b.startedAt : a.id > b.id;
}

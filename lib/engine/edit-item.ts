import { DaggrError, ErrorCode, InputNode, type Node, inputId, isFileComponent } from "../graph/index.js";
import { contentHash } from "./recipe-key.js";
import { type ResultRecord, ResultStatus, newId } from "./records.js";
import type { SheetView } from "./state.js";

/**
 * How to edit one item of the list a MAP node maps over (its first `.each` input):
 * - the list is an `InputNode`'s value: `input` is that input's id and its new list, an
 *   edit like any other (history of inputs, revision, autorun);
 * - the list is another node's output: `record` is a new result of that node, a copy of
 *   its selected result with the one item replaced, same recipe key (so it stays fresh
 *   and is what a later run reuses), and `edited` naming the result it was made from.
 * Either way the MAP node then reruns that item alone; every other item keeps its key.
 */
export type ItemEditPlan =
  | { kind: "input"; inputId: string; list: unknown[] }
  | { kind: "record"; record: ResultRecord };

export function planItemEdit(map: Node, view: SheetView, index: number, value: unknown): ItemEditPlan {
  const each = Object.entries(map.inputs).find(([, s]) => s.kind === "port" && s.scatter);
  const spec = each?.[1];
  if (!spec || spec.kind !== "port") {
    throw new DaggrError(ErrorCode.BAD_OPTION, `Node '${map.id}' does not run per item (it has no .each input), so it has no items to edit.`, { got: map.id });
  }
  const source = spec.from.node;
  const port = spec.from.port;
  const component = source.outputs[port];
  if (isFileComponent(component)) {
    throw new DaggrError(ErrorCode.BAD_OPTION, `The items of '${map.id}' are files (${source.id}.${port} is a ${component!.type}); a file item is changed by uploading in its source, not edited as a value.`, { got: `${source.id}.${port}` });
  }
  const key = spec.scatter!.key;
  const fromInput = source instanceof InputNode;
  const selected = view.selected.get(source.id);
  if (!fromInput && selected?.status !== ResultStatus.SUCCESS) {
    throw new DaggrError(ErrorCode.UPSTREAM_MISSING, `'${source.id}' has no result to edit yet: run '${map.id}' first, then edit its items.`, { got: source.id });
  }
  const current = fromInput ? view.inputValue(source, port) : selected!.outputs[port];
  const list = Array.isArray(current) ? current : [current];
  if (!Number.isInteger(index) || index < 0 || index >= list.length) {
    throw new DaggrError(
      ErrorCode.BAD_OPTION,
      `'${map.id}' has ${list.length} item${list.length === 1 ? "" : "s"} (0 to ${list.length - 1}); there is no item ${index}.`,
      { got: String(index), choices: list.map((_, i) => String(i)) },
    );
  }
  const next = list.slice();
  const old = list[index];
  next[index] = key === undefined ? value : { ...(typeof old === "object" && old !== null ? old : {}), [key]: value };
  if (fromInput) return { kind: "input", inputId: inputId(source.id, port), list: next };
  const prev = selected!;
  const record: ResultRecord = {
    ...prev,
    id: newId("x"),
    outputs: { ...prev.outputs, [port]: next },
    outputHashes: { ...prev.outputHashes, [port]: contentHash(next) },
    startedAt: Date.now(),
    ms: 0,
    files: [...prev.files],
    edited: { from: prev.id, port, index },
  };
  delete record.error;
  return { kind: "record", record };
}

import { DaggrError, ErrorCode, type Node } from "../graph/index.js";
import { type ItemResult, type ResultRecord, ResultStatus } from "./records.js";
import { exactObject, wideObject } from "./keyed.js";
import type { SheetView } from "./state.js";

/** What a node reads from upstream for one execution. */
export interface Wiring {
  /** Values of wired ports that are the same for every item. */
  values: Record<string, unknown>;
  /** Per-item lists (scattered ports, or plain reads of a mapped node), all the same length. */
  lists: Array<{ port: string; items: unknown[]; failed: Array<ItemResult | undefined> }>;
  /** Set when the node must be skipped instead of run, with the reason. */
  skipped?: string;
}

const isSkipped = (r: ResultRecord) => r.status === ResultStatus.SKIPPED;

/**
 * Reads a node's wired inputs from the selected upstream results and records which
 * result each port consumed (provenance). It also decides skips: a branch that routes
 * elsewhere, or a plain input whose source was skipped; `firstOf` takes the first
 * source that was not skipped.
 */
export function resolveWiring(node: Node, view: SheetView, record: ResultRecord, own: Record<string, unknown>): Wiring {
  const ports = node.activePorts(own);
  const wide = ports.length > WIDE;
  const w: Wiring = { values: wide ? NO_VALUES : {}, lists: NO_LISTS };
  // The ports read and the results they read (provenance, made at its size at the end),
  // and a wide node's values too, in scratch lists (a nested call, from a branch's
  // `match` say, gets lists of its own).
  const reentered = scratch.busy;
  scratch.busy = true;
  const upPorts = reentered ? [] : scratch.ports;
  const upIds = reentered ? [] : scratch.ids;
  const valPorts = reentered ? [] : scratch.valuePorts;
  const vals = reentered ? [] : scratch.values;
  let n = 0;
  let m = 0;
  try {
    if (node.guard) {
      const up = selected(view, node, node.guard.from);
      upPorts[n] = "$when";
      upIds[n++] = up.id;
      if (isSkipped(up)) w.skipped = `'${up.nodeId}' was skipped`;
      else if (!node.guard.match(up.outputs[node.guard.from.port])) {
        // Both sides written as values (JSON), as they are compared: `mood is "happy", not "unhappy"`.
        w.skipped = `${node.guard.from} is ${JSON.stringify(up.outputs[node.guard.from.port])}, not ${JSON.stringify(node.guard.label)}`;
      }
    }
    for (let i = 0; i < ports.length; i++) {
      const port = ports[i]!;
      const spec = node.inputs[port];
      if (spec?.kind === "first") {
        const picked = spec.from.map((p) => ({ p, up: selected(view, node, p) })).find(({ up }) => !isSkipped(up));
        if (!picked) {
          w.skipped ??= `every source of '${port}' was skipped`;
          continue;
        }
        upPorts[n] = port;
        upIds[n++] = picked.up.id;
        const value = picked.up.outputs[picked.p.port];
        if (wide) {
          valPorts[m] = port;
          vals[m++] = value;
        } else w.values[port] = value;
        continue;
      }
      if (spec?.kind !== "port") continue;
      const up = selected(view, node, spec.from);
      upPorts[n] = port;
      upIds[n++] = up.id;
      if (isSkipped(up)) {
        w.skipped ??= `'${up.nodeId}' was skipped`;
        continue;
      }
      const value = up.outputs[spec.from.port];
      if (spec.gather) {
        const all = gather(node, port, up, spec.from.port, spec.gather.allowPartial);
        if (wide) {
          valPorts[m] = port;
          vals[m++] = all;
        } else w.values[port] = all;
      } else if (spec.scatter) {
        if (up.items) throw new DaggrError(ErrorCode.SCATTER_MISMATCH, `'${node.id}.${port}' scatters '${spec.from}', which is already per item; read it plainly to go on per item, or gather it with .all() first.`);
        const list = Array.isArray(value) ? value : [value];
        const key = spec.scatter.key;
        lists(w).push({ port, items: key === undefined ? list : list.map((x) => (x as Record<string, unknown> | null)?.[key]), failed: [] });
      } else if (up.items) {
        lists(w).push({ port, items: up.items.map((i) => i.outputs[spec.from.port]), failed: up.items.map((i) => (i.status === ResultStatus.SUCCESS ? undefined : i)) });
      } else if (wide) {
        valPorts[m] = port;
        vals[m++] = value;
      } else {
        w.values[port] = value;
      }
    }
    if (wide) w.values = wideObject(valPorts, vals, m, ports);
  } finally {
    // Kept when a read fails too: what was read before the failure is recorded.
    if (n) record.upstream = (wide ? wideObject(upPorts, upIds, n, ports) : exactObject(upPorts, upIds, n)) as Record<string, string>;
    // The scratch values are let go (they may be large); ports and ids are small strings.
    vals.fill(undefined, 0, m);
    if (!reentered) scratch.busy = false;
  }
  if (w.lists.length > 1 && new Set(w.lists.map((l) => l.items.length)).size > 1) {
    throw new DaggrError(ErrorCode.SCATTER_MISMATCH, `Node '${node.id}' runs per item over lists of different lengths (${w.lists.map((l) => `${l.port}: ${l.items.length}`).join(", ")}).`);
  }
  return w;
}

/** Scratch lists of `resolveWiring` (ports and the result ids they read), reused by every call that is not nested. */
const scratch = { busy: false, ports: [] as string[], ids: [] as string[], valuePorts: [] as string[], values: [] as unknown[] };

/** A wide node's values until they are made (see `wideObject`). */
const NO_VALUES: Record<string, unknown> = Object.freeze({});

/** How many ports make a node wide (see `wideObject`). */
const WIDE = 16;


/** No per-item lists: shared, so a plain node's wiring makes no list (see `lists`). */
const NO_LISTS: Wiring["lists"] = Object.freeze([]) as unknown as Wiring["lists"];

/** The wiring's per-item lists, made on the first. */
function lists(w: Wiring): Wiring["lists"] {
  return w.lists === NO_LISTS ? (w.lists = []) : w.lists;
}

/** The selected result a node reads from, or a coded error while there is none. */
function selected(view: SheetView, node: Node, from: { node: Node; port: string }): ResultRecord {
  const up = view.selected.get(from.node.id);
  if (!up) throw new DaggrError(ErrorCode.UPSTREAM_MISSING, `Node '${node.id}' reads '${from.port}' from '${from.node.id}', which has no result yet. Run it with mode 'to-here'.`);
  return up;
}

function gather(node: Node, port: string, up: ResultRecord, fromPort: string, allowPartial: boolean): unknown[] {
  if (!up.items) return [up.outputs[fromPort]];
  const failed = up.items.map((item, i) => ({ item, i })).filter(({ item }) => item.status !== ResultStatus.SUCCESS);
  if (failed.length && !allowPartial) {
    throw new DaggrError(
      ErrorCode.GATHER_FAILED,
      `'${node.id}.${port}' gathers '${up.nodeId}', but ${failed.length} of its ${up.items.length} items failed: ${failed.map(({ item, i }) => `#${i + 1} (${item.error?.message ?? item.status})`).join("; ")}. Rerun those items, or gather with .all({ allowPartial: true }).`,
      { items: failed.map(({ i }) => i) },
    );
  }
  return up.items.filter((item) => item.status === ResultStatus.SUCCESS).map((item) => item.outputs[fromPort]);
}

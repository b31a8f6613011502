import { rm } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { dirname, resolve, sep } from "node:path";
import type { Store } from "../engine/index.js";
import { type Component, DaggrError, type Graph, ErrorCode, initialValue, inputId, unknownName } from "../graph/index.js";
import { WireErrorCode } from "../protocol.js";
import { MemoryStore } from "../store/memory.js";
import { type Condition, conditionalNodes } from "./conditional.js";
import { WireError } from "./errors.js";
import type { RunQueue } from "./limits.js";
import { readBody, sendError, sendJson } from "./respond.js";
import { checkShape, parseJson } from "./validate.js";
import type { Wire } from "./wire.js";

/** `GET /api/schema`, in the Python daggr's shape, plus which nodes a branch may skip. */
export interface ApiSchema {
  subgraphs: Array<{
    id: string;
    inputs: Array<{ node: string; port: string; type: string; id: string }>;
    /** `conditional`: its node may be skipped by a branch; a skipped leaf's outputs come back as `{}`. */
    outputs: Array<{ node: string; port: string; type: string; conditional?: true }>;
    /** The nodes of this part that may be skipped, and why: a branch case, or the conditional nodes they read. */
    conditional: Record<string, Condition>;
  }>;
}

/** Component type names as the Python daggr's schema spells them ("textbox", "image"…); hidden ports are "any". */
function typeName(c: Component | null | undefined): string {
  return c ? c.type.toLowerCase() : "any";
}

export function apiSchema(graph: Graph): ApiSchema {
  const conditional = conditionalNodes(graph);
  return {
    subgraphs: graph.subgraphs.map((sg) => ({
      id: sg.id,
      inputs: sg.nodes.flatMap((id) => {
        const n = graph.node(id);
        return n.editablePorts().map((port) => ({ node: id, port, type: typeName(n.editableComponent(port)), id: inputId(id, port) }));
      }),
      outputs: sg.nodes
        .filter((id) => graph.children(id).length === 0)
        .flatMap((id) =>
          Object.entries(graph.node(id).outputs).map(([port, c]) => ({ node: id, port, type: typeName(c), ...(conditional.has(id) ? { conditional: true as const } : {}) })),
        ),
      conditional: Object.fromEntries(sg.nodes.filter((id) => conditional.has(id)).map((id) => [id, conditional.get(id)!])),
    })),
  };
}

/**
 * `POST /api/call[/<subgraph>]` with `{ inputs: { "node__port": value } }`: runs the
 * subgraph once, without touching any sheet, and answers `{ outputs: { leaf: { port:
 * value } }, skipped: [node…] }`. File inputs are FileRefs from `/upload` (or `/files/<id>`
 * or `data:` URLs); file outputs come back as absolute `/files/<id>` URLs. `skipped` (in
 * subgraphs with conditional nodes) lists the nodes a branch routed around; a skipped
 * leaf keeps `{}` as its outputs. Unknown inputs and inputs with no default are 400s
 * naming them (with the nearest valid id).
 */
export async function call(
  req: IncomingMessage,
  res: ServerResponse,
  o: { graph: Graph; store: Store; wire: Wire; limit: number; subgraph?: string; origin: string; runs: RunQueue },
): Promise<void> {
  const encode = (x: object) => o.wire.encode(x);
  const abort = new AbortController();
  res.on("close", () => abort.abort());
  let leave: (() => void) | undefined;
  try {
    const body = parseJson((await readBody(req, o.limit)).toString("utf8"));
    if (!body || typeof body !== "object" || Array.isArray(body)) throw new WireError(WireErrorCode.BAD_MESSAGE, 'The body must be a JSON object: { "inputs": { "node__port": value } }.');
    for (const key of Object.keys(body)) if (key !== "inputs") throw unknownName(ErrorCode.BAD_INPUT, "field of the request body", key, ["inputs"]);
    const given = (body as { inputs?: unknown }).inputs ?? {};
    if (!given || typeof given !== "object" || Array.isArray(given)) throw new WireError(WireErrorCode.BAD_MESSAGE, "`inputs` must be an object keyed by input id (node__port).");
    checkShape(given);
    const sg = pick(o.graph, o.subgraph);
    const valid = sg.nodes.flatMap((id) => o.graph.node(id).editablePorts().map((p) => inputId(id, p)));
    const inputs: Record<string, unknown> = {};
    for (const [id, v] of Object.entries(given as Record<string, unknown>)) {
      if (!valid.includes(id)) throw unknownName(ErrorCode.UNKNOWN_INPUT_ID, `input of subgraph '${sg.id}'`, id, valid, "Inputs are named node__port; GET /api/schema lists them.");
      const sep = id.lastIndexOf("__");
      inputs[id] = await o.wire.decodeInput(o.graph.node(id.slice(0, sep)), id.slice(sep + 2), v);
    }
    const missing = valid.filter((id) => {
      if (id in inputs) return false;
      const sep = id.lastIndexOf("__");
      const c = o.graph.node(id.slice(0, sep)).editableComponent(id.slice(sep + 2));
      const v = c && initialValue(c);
      return v === null || v === undefined;
    });
    if (missing.length) {
      throw new WireError(WireErrorCode.MISSING_INPUT, `Missing input${missing.length > 1 ? "s" : ""} with no default: ${missing.map((m) => `'${m}'`).join(", ")}.`, { missing });
    }
    const conditional = conditionalNodes(o.graph);
    leave = o.runs.enter(undefined);
    const scratch = callStore(o.store);
    // The call's records land in its own store: the skipped ones say what a branch routed around.
    const skipped = new Set<string>();
    const unwatch = scratch.onChange((c) => {
      if (c.type === "result" && c.record.status === "skipped") skipped.add(c.record.nodeId);
    });
    let outputs: Record<string, Record<string, unknown>>;
    try {
      // The call's own store holds copies of its input files and receives its outputs;
      // what the outputs name is then copied into the server's store, to be served.
      for (const [id, v] of Object.entries(inputs)) inputs[id] = await copyFiles(v, o.store, scratch);
      outputs = await o.graph.call(inputs, { subgraph: sg.id, signal: abort.signal, store: scratch });
      for (const ports of Object.values(outputs)) {
        for (const [port, v] of Object.entries(ports)) ports[port] = await copyFiles(v, scratch, o.store);
      }
    } finally {
      unwatch();
      await rm(dirname(scratch.filesDir), { recursive: true, force: true });
    }
    const shown: Record<string, Record<string, unknown>> = {};
    for (const [node, ports] of Object.entries(outputs)) {
      const wired = (await o.wire.outputs(node, ports)) as Record<string, unknown>;
      shown[node] = urls(wired, o.origin) as Record<string, unknown>;
    }
    // `skipped` comes with subgraphs a branch may skip (the schema's `conditional`); others keep the Python daggr's shape.
    const mayskip = sg.nodes.some((id) => conditional.has(id));
    sendJson(res, 200, encode(mayskip ? { outputs: shown, skipped: sg.nodes.filter((id) => skipped.has(id)) } : { outputs: shown }));
  } catch (e) {
    const status = (e as { status?: number }).status;
    const code = (e as { code?: string }).code;
    if (code === ErrorCode.AMBIGUOUS_SUBGRAPH) {
      const choices = o.graph.subgraphs.map((s) => s.id);
      return sendJson(res, 400, encode({ error: { code, message: (e as Error).message, available_subgraphs: choices } }));
    }
    if (code === WireErrorCode.RUN_QUEUE_FULL) res.setHeader("Retry-After", "5");
    sendError(res, e, encode, status);
  } finally {
    leave?.();
  }
}

function pick(graph: Graph, id: string | undefined) {
  const ids = graph.subgraphs.map((s) => s.id);
  if (id !== undefined) {
    const sg = graph.subgraphs.find((s) => s.id === id);
    if (!sg) throw unknownName(ErrorCode.UNKNOWN_SUBGRAPH, "subgraph", id, ids, "GET /api/schema lists them.");
    return sg;
  }
  if (ids.length > 1) {
    throw new DaggrError(ErrorCode.AMBIGUOUS_SUBGRAPH, `This graph has ${ids.length} separate parts; call one of them: ${ids.map((i) => `POST /api/call/${i}`).join(", ")}.`, { choices: ids });
  }
  return graph.subgraphs[0]!;
}

/** A throwaway store for one call: its own files, the server's API-info cache. */
function callStore(store: Store): Store {
  const scratch = new MemoryStore();
  scratch.getMeta = (k) => store.getMeta(k);
  scratch.setMeta = (k, v) => store.setMeta(k, v);
  return scratch;
}

/** Copies every stored file of `from` that a value names into `to` (name and type kept); returns the value with `to`'s paths. */
async function copyFiles(v: unknown, from: Store, to: Store): Promise<unknown> {
  if (typeof v === "string") {
    const meta = v.startsWith(resolve(from.filesDir) + sep) ? await from.fileForPath(v) : undefined;
    return meta ? (await to.putFile({ path: meta.path, name: meta.name, mime: meta.mime })).path : v;
  }
  if (Array.isArray(v)) return Promise.all(v.map((x) => copyFiles(x, from, to)));
  if (v && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = await copyFiles(x, from, to);
    return out;
  }
  return v;
}

/** FileRefs as absolute URLs, the shape REST clients of the Python daggr expect. */
function urls(v: unknown, origin: string): unknown {
  if (Array.isArray(v)) return v.map((x) => urls(x, origin));
  if (v && typeof v === "object") {
    if (typeof (v as { $file?: unknown }).$file === "string") return origin + (v as { url: string }).url;
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, urls(x, origin)]));
  }
  return v;
}

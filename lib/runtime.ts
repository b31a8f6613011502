import {
  DaggrError, ErrorCode, Graph, type Node, type Runtime, exampleValue, isFileComponent, nearestChoice, unknownName,
} from "./graph/index.js";
import { callNode, fileSink, metaCache, openSession, type Store } from "./engine/index.js";
import { MemoryStore } from "./store/memory.js";

/**
 * Wires the layers together behind `graph.session()`, `graph.call()`, `node.test()` and
 * `graph.launch()`: it chooses the store (LevelDB per app, or memory with
 * `persistKey: false`) and loads the server only when asked to serve.
 */
const stores = new Map<string, Promise<Store>>();
const memoryStores = new WeakMap<Graph, Store>();

/** The store a graph persists to: one LevelDB handle per app per process. */
export async function storeFor(graph: Graph): Promise<Store> {
  if (graph.persistKey === false) {
    let s = memoryStores.get(graph);
    if (!s) memoryStores.set(graph, (s = new MemoryStore()));
    return s;
  }
  const key = graph.persistKey;
  let s = stores.get(key);
  if (!s) {
    s = import("./store/index.js").then((m) => m.openStore({ persistKey: key }));
    stores.set(key, s);
    s.catch(() => stores.delete(key));
  }
  return s;
}

export const runtime: Runtime = {
  async session(graph, options) {
    const store = options.store ?? (await storeFor(graph));
    return openSession(graph, store, options);
  },

  async call(graph, inputs, options) {
    const subgraph = pickSubgraph(graph, options.subgraph);
    const allowed = new Set(subgraph.nodes);
    const valid = graph.inputIds().filter((id) => allowed.has(id.slice(0, id.lastIndexOf("__"))));
    for (const id of Object.keys(inputs)) {
      if (!valid.includes(id)) throw unknownName(ErrorCode.UNKNOWN_INPUT_ID, `input of subgraph '${subgraph.id}'`, id, valid, "Inputs are named node__port.");
    }
    const store = options.store ?? new MemoryStore();
    const session = await openSession(graph, store, { autorun: false, validate: false });
    // A caller that goes away (a REST client disconnecting) stops the run, remote jobs included.
    const stop = () => void session.close();
    options.signal?.addEventListener("abort", stop, { once: true });
    try {
      session.setMany(inputs, "api");
      const summary = await session.run(subgraph.nodes[0], { mode: "all" });
      if (options.signal?.aborted) throw new DaggrError(ErrorCode.CANCELLED, "The call was cancelled.");
      const failed = Object.entries(summary.nodes).filter(([, o]) => o === "failed" || o === "cancelled");
      if (failed.length) {
        const [id] = failed[0]!;
        const err = session.nodeState(id).error;
        throw new DaggrError(ErrorCode.NODE_FAILED, `Node '${id}' failed: ${err?.message ?? "unknown error"}`, { node: id, failed: failed.map(([n]) => n), error: err });
      }
      const leaves = subgraph.nodes.filter((id) => graph.children(id).length === 0);
      return Object.fromEntries(leaves.map((id) => [id, session.selected(id)?.outputs ?? {}]));
    } finally {
      options.signal?.removeEventListener("abort", stop);
      await session.close();
      if (!options.store) await store.close();
    }
  },

  async testNode(node, inputs) {
    const valid = Object.keys(node.inputs).concat(node.editablePorts().filter((p) => !(p in node.inputs)));
    for (const k of Object.keys(inputs)) if (!valid.includes(k)) throw unknownName(ErrorCode.BAD_INPUT, `input of node '${node.id}'`, k, valid);
    const values: Record<string, unknown> = {};
    for (const port of node.editablePorts()) values[port] = port in inputs ? inputs[port] : exampleOrFail(node, port, node.editableComponent(port)!);
    for (const [port, spec] of Object.entries(node.inputs)) {
      if (port in inputs) values[port] = inputs[port];
      else if (spec.kind === "fixed") values[port] = spec.value;
      else if (spec.kind === "fn") values[port] = await spec.fn();
      else if (spec.kind === "port") {
        const c = spec.from.node.outputs[spec.from.port];
        if (!c) throw new DaggrError(ErrorCode.BAD_INPUT, `Input '${port}' of node '${node.id}' is wired to a hidden output with no example value; pass it: node.test({ ${port}: … }).`);
        values[port] = exampleOrFail(node, port, c);
      }
    }
    const store = new MemoryStore();
    return callNode(node, values, new AbortController().signal, fileSink(store), {
      runId: "test",
      cache: metaCache(undefined),
      onProgress: () => {},
      onPartial: () => {},
    });
  },

  async launch(graph, options) {
    // In `daggr worker`, the app's launch() hands its graph to the worker instead of serving.
    const worker = (globalThis as Record<symbol, unknown>)[Symbol.for("daggr.worker.launch")];
    if (typeof worker === "function") return worker(graph, options);
    const { launch } = await import("./server/index.js");
    return launch(graph, options);
  },
};

function exampleOrFail(node: Node, port: string, c: Parameters<typeof exampleValue>[0]): unknown {
  const v = exampleValue(c);
  if ((v === null || v === undefined) && isFileComponent(c)) {
    throw new DaggrError(ErrorCode.BAD_INPUT, `Input '${port}' of node '${node.id}' is a ${c.type} and has no example file; pass a path: node.test({ ${port}: "/path/to/file" }).`);
  }
  return v;
}

function pickSubgraph(graph: Graph, id: string | undefined) {
  if (id !== undefined) {
    const sg = graph.subgraphs.find((s) => s.id === id);
    if (!sg) throw unknownName(ErrorCode.UNKNOWN_SUBGRAPH, "subgraph", id, graph.subgraphs.map((s) => s.id));
    return sg;
  }
  if (graph.subgraphs.length > 1) {
    const ids = graph.subgraphs.map((s) => s.id);
    throw new DaggrError(ErrorCode.AMBIGUOUS_SUBGRAPH, `This graph has ${ids.length} separate parts; name one: ${ids.join(", ")} (POST /api/call/<subgraph>).`, { choices: ids });
  }
  return graph.subgraphs[0]!;
}

void nearestChoice;

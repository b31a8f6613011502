import type { RunModeWire } from "../wire.js";
import type { CanvasStore } from "./canvas-store.js";

/**
 * The nodes a run would execute, as the canvas can tell from freshness (the engine
 * decides for real): `step` runs the node alone; `to-here` runs its ancestors that are
 * not fresh, then the node; `all` runs every node of its subgraph that is not fresh.
 * Used to highlight what a run button would do while the pointer is on it.
 */
export function wouldRun(store: CanvasStore, nodeId: string | undefined, mode: RunModeWire): Set<string> {
  const notFresh = (id: string) => store.state(id).freshness !== "fresh";
  if (mode === "step" && nodeId) return new Set([nodeId]);
  if (mode === "to-here" && nodeId) return new Set([...store.ancestors(nodeId).filter(notFresh), nodeId]);
  const pool = nodeId ? store.subgraphOf(nodeId) : [...store.nodes.keys()];
  return new Set(pool.filter(notFresh));
}

import type { CanvasStore } from "../controllers/canvas-store.js";
import type { HistoryController } from "../controllers/history.js";
import type { ViewContext } from "../components/types.js";
import type { RunModeWire } from "../wire.js";

/** What a node card may read and do: the canvas hands one of these to every card. */
export interface CardContext {
  store: CanvasStore;
  history: HistoryController;
  view: ViewContext;
  run(nodeId: string, mode: RunModeWire): void;
  /** Reruns one item of a MAP node alone (`run` with mode `step` and `item`). */
  runItem(nodeId: string, item: number): void;
  /** Edits one item of a MAP node's list and reruns it alone (`edit-item`); resolves once the server took it. */
  editItem(nodeId: string, item: number, value: unknown): Promise<unknown>;
  stop(nodeId: string): void;
  /** `immediate` false: typing, debounced by the canvas. */
  setInput(nodeId: string, port: string, value: unknown, immediate: boolean): void;
  /** Keeps a typed value unsent until it is committed or a run starts. */
  holdInput(nodeId: string, port: string, value: unknown): void;
  /** Highlights what a run would execute while the pointer is on its button (undefined clears). */
  preview(nodeId: string | undefined, mode?: RunModeWire): void;
  /** Brings a node's card into view and selects one of its results (provenance links). */
  jump(nodeId: string, resultId?: string): void;
  register(nodeId: string, card: HTMLElement & { requestUpdate(): void }): void;
  unregister(nodeId: string, card: HTMLElement): void;
}

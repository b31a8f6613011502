/**
 * daggr: code-first AI workflows. Wire Gradio apps, Inference Providers and functions into
 * a DAG; get a live canvas, result history with provenance, and saved sheets.
 *
 * @example
 * import { Graph, FnNode, gr } from "daggr";
 * const upper = new FnNode(({ text }) => text.toUpperCase(), {
 *   inputs: { text: gr.Textbox({ label: "Text" }) },
 *   outputs: { upper: gr.Textbox() },
 * });
 * export default new Graph({ name: "Upper", nodes: [upper] });
 */
// First: from a clone whose dist/ is older than its sources, refuse before anything runs (E_STALE_BUILD).
import "./build-guard.js";
import { setRuntime } from "./graph/index.js";
import { registerBuiltinExecutors } from "./nodes/index.js";
import { runtime } from "./runtime.js";

registerBuiltinExecutors();
setRuntime(runtime);

export * from "./graph/index.js";
export {
  Session, Activity, ResultStatus, RunStatus, RunMode, registerExecutor,
} from "./engine/index.js";
export type {
  RunSummary, RunOptions, NodeOutcome, NodeState, EngineEvent, EngineEventType, Freshness, Progress,
  ResultRecord, RunRecord, ResultError, Store, SheetInfo, FileMeta, Executor, ExecContext,
} from "./engine/index.js";
export { MemoryStore } from "./store/memory.js";

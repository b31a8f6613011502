import type { Session } from "./session.js";
import type { Store } from "./store.js";

// The graph layer names the engine's types without importing them (see lib/graph/runtime.ts).
declare global {
  interface DaggrEngineTypes {
    session: Session;
    store: Store;
  }
}

export { Session } from "./session.js";
export type { RunSummary, RunOptions, NodeOutcome } from "./session.js";
export { Activity, SheetView } from "./state.js";
export type { NodeState } from "./state.js";
export type { EngineEvent, EngineEventType, Freshness, Progress } from "./events.js";
export { ResultStatus, RunStatus, RunMode, newId } from "./records.js";
export type { ResultRecord, RunRecord, ResultError, Origin } from "./records.js";
export type { Store, SheetInfo, SheetState, FileMeta, PutFileInput, HistoryPage, StoreChange, StoreHealth, Viewport } from "./store.js";
export { registerExecutor, executorFor, setDispatcher, dispatcherOf } from "./executor.js";
export type { Executor, ExecContext, FileSink, MetaCache, Dispatcher, DispatchContext } from "./executor.js";
export { callNode, fileSink, metaCache } from "./execute.js";
export { toResultError } from "./produce.js";
export { canonical, contentHash, recipeKey, schemeTwoKey } from "./recipe-key.js";
export { DEFAULT_REMOTE_CONCURRENCY, Semaphore, limits, remoteApp } from "./limits.js";
export type { LimitLoad } from "./limits.js";
export { openSession } from "./open.js";

import { DaggrError, ErrorCode } from "./errors.js";

/*
 * The hook `Graph` and `Node` call through to the runtime the package root installs
 * (sessions, calls, tests, the server). graph.ts and node.ts import this file, so it
 * imports neither of them: the runtime's interface takes them as the parameters `G` and
 * `N`, and graph/index.ts names `Runtime` with the real `Graph` and `Node`.
 */

/**
 * The types of the runtime `lib/index.ts` installs, filled in by the engine through
 * declaration merging (lib/engine/index.ts), so the graph layer names a session and a
 * store without importing the engine: imports point one way, and `graph.session()` is
 * still typed as the engine's `Session`. The interface is global so the merge survives
 * bundled declaration files, where relative module paths do not.
 */
declare global {
  interface DaggrEngineTypes {}
}

type Registered<K extends string> = DaggrEngineTypes extends { [P in K]: infer T } ? T : unknown;
/** The engine's `Session`, once the engine is loaded. */
export type RuntimeSession = Registered<"session">;
/** The engine's `Store`, once the engine is loaded. */
export type RuntimeStore = Registered<"store">;

export interface SessionOptions {
  /** Sheet id to open; by default the user's newest sheet (created if there is none). */
  sheet?: string;
  /** The user owning the sheet (default "local"). */
  user?: string;
  /** Where results live; default: LevelDB under DAGGR_HOME, or memory when `persistKey` is false. */
  store?: RuntimeStore;
  /** Delay between an edit and the automatic re-run it triggers (default 150 ms). */
  debounceMs?: number;
  /** Run the nodes' start-up checks (endpoint, parameters, model task) in the background (default true). */
  validate?: boolean;
  /** Compute autorun nodes that have no result yet as soon as the sheet opens (the canvas does; default false). */
  runOnOpen?: boolean;
}

export interface CallOptions {
  /** Which weakly connected part to run ("main" when there is one part). */
  subgraph?: string;
  signal?: AbortSignal;
  /**
   * A store for this one call (default: a fresh memory store). The server passes one
   * that shares its files store, so uploaded inputs are found and outputs can be served.
   */
  store?: RuntimeStore;
}

export interface LaunchOptions {
  host?: string;
  port?: number;
  /** Open the canvas in a browser (default false). */
  open?: boolean;
  [option: string]: unknown;
}

/**
 * What `Graph` (`G`) and `Node` (`N`) delegate to; installed by the package root. The
 * graph layer's public `Runtime` is `RuntimeOf<Graph, Node>` (graph/index.ts).
 */
export interface RuntimeOf<G, N> {
  session(graph: G, options: SessionOptions): Promise<RuntimeSession>;
  call(graph: G, inputs: Record<string, unknown>, options: CallOptions): Promise<Record<string, Record<string, unknown>>>;
  testNode(node: N, inputs: Record<string, unknown>): Promise<Record<string, unknown>>;
  launch(graph: G, options: LaunchOptions): Promise<{ url: string; close(): Promise<void> }>;
}

/** The runtime as this file keeps it: any graph and node (graph/index.ts exports these functions typed with `Runtime`). */
type AnyRuntime = RuntimeOf<unknown, unknown>;

let runtime: AnyRuntime | undefined;

export function setRuntime(r: AnyRuntime): void {
  runtime = r;
}

export function getRuntime(): AnyRuntime {
  if (!runtime) {
    throw new DaggrError(ErrorCode.NO_RUNTIME, "No daggr runtime is loaded. Import from 'daggr' (the package root), not from an internal module.");
  }
  return runtime;
}

import type { Graph } from "../graph/index.js";
import { Session } from "./session.js";
import { SheetView } from "./state.js";
import type { Store } from "./store.js";

const open = new WeakMap<Store, WeakMap<Graph, Map<string, Promise<Session>>>>();

/**
 * Opens a session on a sheet of `store`: the given sheet, else the user's newest one,
 * else a new "Sheet 1". Sessions on the same store and sheet are one shared session, so
 * two tabs (or a script and a tab) see each other's edits and runs live.
 */
export async function openSession(
  graph: Graph,
  store: Store,
  options: { sheet?: string; user?: string; debounceMs?: number; autorun?: boolean; validate?: boolean; runOnOpen?: boolean } = {},
): Promise<Session> {
  const user = options.user ?? "local";
  let sheetId = options.sheet;
  if (!sheetId) sheetId = (await store.listSheets(user))[0]?.id ?? (await store.createSheet(user)).id;
  let byGraph = open.get(store);
  if (!byGraph) open.set(store, (byGraph = new WeakMap()));
  let byId = byGraph.get(graph);
  if (!byId) byGraph.set(graph, (byId = new Map()));
  const existing = byId.get(sheetId);
  if (existing) return (await existing).retain();
  const opening = (async () => {
    const loaded = await store.loadSheet(sheetId!);
    const view = new SheetView(graph, sheetId!, loaded);
    return new Session({
      graph, store, sheet: loaded.sheet, view, debounceMs: options.debounceMs ?? 150, autorun: options.autorun ?? true,
      onClose: () => byId!.delete(sheetId!),
    });
  })();
  byId.set(sheetId, opening);
  // Start-up checks run in the background; their problems appear on the nodes.
  if (options.validate !== false) void opening.then((s) => s.validate()).catch(() => {});
  if (options.runOnOpen) void opening.then((s) => s.autorunEmpty()).catch(() => {});
  opening.catch(() => byId!.delete(sheetId!));
  return opening;
}

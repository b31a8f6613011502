import { firstValueFrom, filter } from "rxjs";
import { type EngineEvent, type Graph, MemoryStore, type Session } from "../../lib/index.js";

/** In queue mode (`DAGGR_TEST_QUEUE`), sessions opened here run their nodes through BullMQ (helpers/queue-mode.ts). */
const queueMode = process.env.DAGGR_TEST_QUEUE ? (await import("./queue-mode.js")).attachQueue : undefined;

/** Opens a session on a fresh in-memory store with a short debounce, recording every event. */
export async function open(graph: Graph, debounceMs = 5): Promise<{ s: Session; events: EngineEvent[]; store: MemoryStore }> {
  await queueMode?.(graph);
  const store = new MemoryStore();
  const s = await graph.session({ store, debounceMs });
  const events: EngineEvent[] = [];
  s.events.subscribe((e) => events.push(e));
  return { s, events, store };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves on the first event of `type` (optionally for `nodeId`). */
export function nextEvent<T extends EngineEvent["type"]>(s: Session, type: T, nodeId?: string) {
  return firstValueFrom(s.events.pipe(filter((e): e is Extract<EngineEvent, { type: T }> => e.type === type && (!nodeId || (e as { nodeId?: string }).nodeId === nodeId))));
}

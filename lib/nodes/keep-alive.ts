/**
 * A ref'd handle held while any remote job is in flight.
 *
 * Node exits when nothing keeps its event loop alive, even with promises pending: a
 * script ending in `await session.run(…)` then dies with exit code 13 ("unsettled
 * top-level await"). Remote clients can leave exactly that gap: `@huggingface/inference`
 * waits between fal-ai queue polls on an unref'd timer, so while a job sits in the
 * queue nothing is open. Every remote executor wraps its work in {@link inFlight};
 * one shared interval timer is ref'd while at least one job runs and cleared with the
 * last, so nothing keeps the process up after the work is done.
 */
import type { Node } from "../graph/index.js";
import type { Executor } from "../engine/executor.js";

let holders = 0;
let handle: ReturnType<typeof setInterval> | undefined;

/** About 12 days: the timer never fires in practice; it only holds the loop open. */
const FOREVER_MS = 2 ** 30;

/**
 * Holds the process open until the returned release is called (idempotent).
 *
 * @example
 * const release = keepAlive();
 * try { await pollQueue(); } finally { release(); }
 */
export function keepAlive(): () => void {
  holders++;
  handle ??= setInterval(() => {}, FOREVER_MS);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--holders === 0 && handle) {
      clearInterval(handle);
      handle = undefined;
    }
  };
}

/**
 * Runs `work` with the process held open until it settles.
 *
 * @example
 * return inFlight(() => runJob(client, inputs));
 */
export async function inFlight<T>(work: () => Promise<T>): Promise<T> {
  const release = keepAlive();
  try {
    return await work();
  } finally {
    release();
  }
}

/** How many jobs hold the process open now, and whether the handle is ref'd (for tests and diagnostics). */
export function inFlightInfo(): { jobs: number; holdsProcess: boolean } {
  return { jobs: holders, holdsProcess: handle?.hasRef() ?? false };
}

/**
 * The same executor with every execution held open by {@link inFlight}: how remote kinds
 * are registered, so a plain script awaiting any remote job runs to its end.
 *
 * @example
 * registerExecutor(NodeKind.GRADIO, keptAlive(gradioExecutor));
 */
export function keptAlive<N extends Node>(executor: Executor<N>): Executor<N> {
  return { ...executor, execute: (node, inputs, ctx) => inFlight(() => executor.execute(node, inputs, ctx)) };
}

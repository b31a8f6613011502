import type { Graph } from "../graph/index.js";
import { executorFor, type MetaCache } from "./executor.js";
import type { ResultError } from "./records.js";

const running = new WeakMap<Graph, Promise<Map<string, ResultError>>>();

/**
 * Runs each node's start-up checks (a Gradio endpoint exists, its parameters match, a
 * model's task is known…) once per graph, all at once, and returns the problems by node
 * id. Checks that need the network may take a while (waking a Space), so sessions run
 * this in the background and show each problem on its node when it arrives.
 */
export function validateGraph(graph: Graph, cache: MetaCache): Promise<Map<string, ResultError>> {
  let p = running.get(graph);
  if (!p) {
    p = (async () => {
      const problems = new Map<string, ResultError>();
      const checks: Promise<void>[] = [];
      const nodes = graph.nodes;
      for (let i = 0; i < nodes.length; i++) {
        const node = nodes[i]!;
        // The node, then its backups (no list made per node).
        for (let b = -1; b < node.backups.length; b++) {
          const n = b < 0 ? node : node.backups[b]!;
          // Only kinds with checks cost a promise (a graph of FnNodes has none to wait for).
          const executor = executorFor(n);
          if (!executor.validate) continue;
          let check: Promise<void>;
          try {
            check = executor.validate(n, { cache });
          } catch (e) {
            check = Promise.reject(e);
          }
          checks.push(
            check.catch((e) => {
              const err = e as { code?: string; message?: string };
              problems.set(node.id, { ...(err.code ? { code: err.code } : {}), message: err.message ?? String(e) });
            }),
          );
        }
      }
      await Promise.all(checks);
      return problems;
    })();
    running.set(graph, p);
  }
  return p;
}

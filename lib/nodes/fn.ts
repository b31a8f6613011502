import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FnNode } from "../graph/index.js";
import type { Executor } from "../engine/executor.js";

let scratch: string | undefined;
/** A per-process scratch directory for files FnNodes write; the engine copies outputs into the files store. */
function scratchDir(): string {
  return (scratch ??= mkdtempSync(join(tmpdir(), "daggr-fn-")));
}

function isAsyncIterator(x: unknown): x is AsyncIterator<unknown> & AsyncIterable<unknown> {
  return typeof x === "object" && x !== null && typeof (x as AsyncIterable<unknown>)[Symbol.asyncIterator] === "function" && typeof (x as AsyncIterator<unknown>).next === "function";
}

/**
 * Runs an FnNode's function. Async generators stream: each `yield` is a partial output,
 * and the final value is the generator's return value, or its last yield.
 */
export const fnExecutor: Executor<FnNode> = {
  async execute(node, inputs, ctx) {
    const result = node.fn(inputs as never, {
      signal: ctx.signal,
      progress: (fraction, text) => ctx.progress({ fraction, text }),
      filesDir: scratchDir(),
    });
    if (!isAsyncIterator(result)) return await result;
    let last: unknown;
    for (;;) {
      const step = await result.next();
      if (step.done) return step.value !== undefined ? step.value : last;
      if (ctx.signal.aborted) {
        await result.return?.(undefined);
        throw ctx.signal.reason;
      }
      last = step.value;
      ctx.partial(step.value);
    }
  },
};

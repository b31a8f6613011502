import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FnContext, FnNode } from "../graph/index.js";
import type { ExecContext, Executor } from "../engine/executor.js";
import { fulfilled, isThenable } from "../engine/known.js";

let scratch: string | undefined;
/** A per-process scratch directory for files FnNodes write; the engine copies outputs into the files store. */
function scratchDir(): string {
  return (scratch ??= mkdtempSync(join(tmpdir(), `daggr-fn-${process.pid}-`)));
}

function isAsyncIterator(x: unknown): x is AsyncIterator<unknown> & AsyncIterable<unknown> {
  return typeof x === "object" && x !== null && typeof (x as AsyncIterable<unknown>)[Symbol.asyncIterator] === "function" && typeof (x as AsyncIterator<unknown>).next === "function";
}

/**
 * Runs an FnNode's function. Async generators stream: each `yield` is a partial output,
 * and the final value is the generator's return value, or its last yield. A sync
 * function's value comes back as a fulfilled promise the engine can read at once.
 */
export const fnExecutor: Executor<FnNode> = {
  execute(node, inputs, ctx) {
    let result: unknown;
    try {
      result = node.fn(inputs as never, new FnCtx(ctx));
    } catch (e) {
      return Promise.reject(e);
    }
    if (isThenable(result)) return Promise.resolve(result);
    if (isAsyncIterator(result)) return stream(result, ctx);
    return fulfilled(result);
  },
};

/**
 * What the function gets. A class, not an object literal with getters (those are slow to
 * make): the signal and the scratch directory are made only when read.
 */
class FnCtx implements FnContext {
  private report: FnContext["progress"] | undefined = undefined;
  constructor(private readonly ctx: ExecContext) {}
  /** Made on first use; works detached too (`({}, { progress }) => progress(0.5)`). */
  get progress(): FnContext["progress"] {
    const ctx = this.ctx;
    return (this.report ??= (fraction, text) => ctx.progress({ fraction, text }));
  }
  get signal(): AbortSignal {
    return this.ctx.signal;
  }
  get filesDir(): string {
    return scratchDir();
  }
}

async function stream(result: AsyncIterator<unknown>, ctx: ExecContext): Promise<unknown> {
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
}

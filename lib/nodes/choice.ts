import type { ChoiceNode } from "../graph/index.js";
import { callNode } from "../engine/execute.js";
import type { Executor } from "../engine/executor.js";

/**
 * Runs the selected variant of a choice node with that variant's own inputs (ports
 * named `<variant>.<port>` on the choice node), through the variant's own executor and
 * hooks. The outputs come back keyed by name, as every variant has the same outputs.
 */
export const choiceExecutor: Executor<ChoiceNode> = {
  async execute(node, inputs, ctx) {
    const variant = node.variant(inputs.variant);
    const prefix = `${variant.id}.`;
    const own: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(inputs)) if (k.startsWith(prefix)) own[k.slice(prefix.length)] = v;
    ctx.progress({ text: `variant '${variant.id}'` });
    return callNode(variant, own, ctx.signal, ctx.files, {
      runId: ctx.runId,
      cache: ctx.cache,
      onProgress: (p) => ctx.progress(p),
      onPartial: (outputs) => ctx.partial(outputs),
    });
  },
};

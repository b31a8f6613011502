import type { InputNode } from "../graph/index.js";
import type { Executor } from "../engine/executor.js";

/** An InputNode's outputs are the values the sheet holds for its components. */
export const inputExecutor: Executor<InputNode> = {
  async execute(node, inputs) {
    return Object.fromEntries(node.editablePorts().map((p) => [p, inputs[p]]));
  },
};

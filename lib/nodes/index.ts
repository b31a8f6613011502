import { NodeKind } from "../graph/index.js";
import { registerExecutor } from "../engine/executor.js";
import { fnExecutor } from "./fn.js";
import { inputExecutor } from "./input.js";

/** Installs one executor per node kind. */
export function registerBuiltinExecutors(): void {
  registerExecutor(NodeKind.FN, fnExecutor);
  registerExecutor(NodeKind.INPUT, inputExecutor);
}

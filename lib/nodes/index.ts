import { NodeKind } from "../graph/index.js";
import { registerExecutor } from "../engine/executor.js";
import { setSecrets } from "../engine/redact.js";
import { choiceExecutor } from "./choice.js";
import { fnExecutor } from "./fn.js";
import { gradioExecutor } from "./gradio.js";
import { inferenceExecutor } from "./inference.js";
import { inputExecutor } from "./input.js";
import { keptAlive } from "./keep-alive.js";
import { currentHfToken } from "./hf-token.js";

const NO_SECRETS: readonly string[] = Object.freeze([]);

/** Installs one executor per node kind. */
export function registerBuiltinExecutors(): void {
  registerExecutor(NodeKind.FN, fnExecutor);
  registerExecutor(NodeKind.INPUT, inputExecutor);
  registerExecutor(NodeKind.CHOICE, choiceExecutor);
  // A remote job holds the process open while in flight (inference does so itself).
  registerExecutor(NodeKind.GRADIO, keptAlive(gradioExecutor));
  registerExecutor(NodeKind.INFERENCE, inferenceExecutor);
  // The engine hides the HF token in every record, event and stored value.
  // Read per record: the list is made once per token, not once per call.
  let held: string | undefined;
  let list: readonly string[] = NO_SECRETS;
  setSecrets(() => {
    const token = currentHfToken();
    if (token !== held) {
      held = token;
      list = token ? [token] : NO_SECRETS;
    }
    return list;
  });
}

import { homedir } from "node:os";
import { join, resolve } from "node:path";

/**
 * Where daggr keeps state: `DAGGR_HOME`, else `$HF_HOME/daggr`, else
 * `~/.cache/huggingface/daggr` (next to the Hugging Face cache, like the Python daggr).
 *
 * @example
 * defaultHome({ HF_HOME: "/data/hf" }) // "/data/hf/daggr"
 */
export function defaultHome(env: NodeJS.ProcessEnv = process.env): string {
  if (env.DAGGR_HOME) return resolve(env.DAGGR_HOME);
  if (env.HF_HOME) return resolve(env.HF_HOME, "daggr");
  return join(homedir(), ".cache", "huggingface", "daggr");
}

import { spawn } from "node:child_process";
import { DaggrError, ErrorCode } from "../../graph/index.js";
export { checkLocalEnv } from "../../graph/space-id.js";

/** Environment variables a child may inherit: locale, paths and temp dirs, nothing secret. */
const SAFE_ENV = /^(PATH|HOME|USER|LOGNAME|LANG|LANGUAGE|LC_[A-Z]+|TZ|TMPDIR|TEMP|TMP|TERM|SYSTEMROOT|PYENV_ROOT|PYENV_VERSION|UV_CACHE_DIR|PIP_CACHE_DIR|XDG_CACHE_HOME|PIP_INDEX_URL|PIP_EXTRA_INDEX_URL|UV_INDEX_URL|UV_EXTRA_INDEX_URL|SSL_CERT_FILE|SSL_CERT_DIR|REQUESTS_CA_BUNDLE)$/;

/**
 * The environment a local Space (and its installer) runs with: an allow-list of harmless
 * variables, never HF_TOKEN or any other secret, plus what the user names in `localEnv`
 * (`"NAME"` copies it from daggr's environment, `"NAME=value"` sets it).
 */
export function childEnv(localEnv: readonly string[] = [], extra: Record<string, string> = {}, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && SAFE_ENV.test(k)) out[k] = v;
  for (const item of localEnv) {
    const eq = item.indexOf("=");
    if (eq > 0) out[item.slice(0, eq)] = item.slice(eq + 1);
    else if (env[item] !== undefined) out[item] = env[item]!;
  }
  return { ...out, ...extra };
}

export interface RunOptions {
  cwd?: string;
  env: Record<string, string>;
  signal?: AbortSignal;
  /** Every chunk of output (stdout and stderr), drained as it comes. */
  onOutput?: (chunk: Buffer) => void;
}

/** Runs a command from an argument vector (never a shell); rejects with its last output on failure. */
export function runCommand(argv: readonly string[], o: RunOptions): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd: o.cwd, env: o.env, stdio: ["ignore", "pipe", "pipe"], signal: o.signal, shell: false });
    let tail = "";
    const take = (c: Buffer) => {
      o.onOutput?.(c);
      tail = (tail + c.toString("utf8")).slice(-2000);
    };
    child.stdout.on("data", take);
    child.stderr.on("data", take);
    child.on("error", (e) => reject(new DaggrError(ErrorCode.REMOTE_FAILED, `${argv.slice(0, 3).join(" ")} could not start: ${e.message}`)));
    child.on("close", (code, sig) => {
      if (code === 0) resolvePromise();
      else reject(new DaggrError(ErrorCode.REMOTE_FAILED, `${argv.slice(0, 4).join(" ")} failed (${sig ?? `exit ${code}`}): ${tail.trim().split("\n").slice(-5).join(" | ")}`));
    });
  });
}

/** The first executable named `name` on PATH, or undefined. */
export async function which(name: string, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const { access, constants } = await import("node:fs/promises");
  const { join, delimiter } = await import("node:path");
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    if (await access(p, constants.X_OK).then(() => true, () => false)) return p;
  }
  return undefined;
}

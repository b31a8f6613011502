import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { childEnv, runCommand, which } from "./run-command.js";
import type { SpaceFiles } from "./fetch-space.js";

export interface PythonEnv {
  python: string;
  /** Whether the environment was already there (no install). */
  cached: boolean;
  /** What was installed, or why nothing was. */
  note: string;
}

export interface EnvOptions {
  home: string;
  signal?: AbortSignal;
  onOutput?: (chunk: Buffer) => void;
  /** Called when an install begins (stage "install"). */
  onInstall?: (what: string) => void;
  env?: NodeJS.ProcessEnv;
}

/**
 * An isolated Python environment for a Space, under
 * `<home>/spaces/<owner>/<name>/envs/<key>` where the key hashes the gradio version of
 * the README front matter, the requirements.txt hash and the base interpreter: a new
 * commit that changes only app code reuses the environment; a changed requirement builds
 * a new one. `uv` makes it when it is on PATH, else `python3 -m venv`; then
 * `gradio==<sdk_version>` and `-r requirements.txt` are installed (nothing is installed
 * when neither names anything). A finished environment is marked `.daggr-ready`; a
 * half-made one is removed and made again.
 *
 * `DAGGR_LOCAL_PYTHON=/path/to/python` skips all of this and runs the Space with that
 * interpreter, which must already have gradio and the requirements.
 */
export async function ensureEnv(space: SpaceFiles, o: EnvOptions): Promise<PythonEnv> {
  const env = o.env ?? process.env;
  if (env.DAGGR_LOCAL_PYTHON) return { python: env.DAGGR_LOCAL_PYTHON, cached: true, note: `DAGGR_LOCAL_PYTHON=${env.DAGGR_LOCAL_PYTHON} (nothing installed)` };
  const base = env.DAGGR_LOCAL_BASE_PYTHON || "python3";
  const uv = env.DAGGR_LOCAL_NO_UV === "1" ? undefined : await which("uv", env);
  const key = createHash("sha256").update(JSON.stringify({ gradio: space.sdkVersion ?? null, req: space.requirementsHash, base })).digest("hex").slice(0, 16);
  const [owner, name] = space.id.split("/") as [string, string];
  const dir = join(o.home, "spaces", owner, name, "envs", key);
  const python = join(dir, "bin", "python");
  if (existsSync(join(dir, ".daggr-ready"))) return { python, cached: true, note: `environment ${key} reused` };
  await rm(dir, { recursive: true, force: true });
  const pkgs = [...(space.sdkVersion && (space.sdk ?? "gradio") === "gradio" ? [`gradio==${space.sdkVersion}`] : []), ...(space.requirementsHash ? ["-r", join(space.dir, "requirements.txt")] : [])];
  const run = { env: childEnv([], {}, env), signal: o.signal, onOutput: o.onOutput, cwd: space.dir };
  if (uv) {
    await runCommand([uv, "venv", "--python", base, dir], run);
    if (pkgs.length) {
      o.onInstall?.(pkgs.join(" "));
      await runCommand([uv, "pip", "install", "--python", python, ...pkgs], run);
    }
  } else {
    await runCommand([base, "-m", "venv", ...(pkgs.length ? [] : ["--without-pip"]), dir], run);
    if (pkgs.length) {
      o.onInstall?.(pkgs.join(" "));
      await runCommand([python, "-m", "pip", "install", "--disable-pip-version-check", ...pkgs], run);
    }
  }
  await writeFile(join(dir, ".daggr-ready"), JSON.stringify({ packages: pkgs, tool: uv ? "uv" : "venv", at: new Date().toISOString() }));
  return { python, cached: false, note: pkgs.length ? `installed ${pkgs.join(" ")} with ${uv ? "uv" : "pip"}` : "nothing to install (no sdk_version, empty requirements.txt)" };
}

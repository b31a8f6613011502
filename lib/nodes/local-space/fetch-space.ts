import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import { DaggrError, ErrorCode } from "../../graph/index.js";
import { hfToken } from "../hf-token.js";
import { checkRevision, checkSpaceId } from "../../graph/space-id.js";

/** The Hub's URL: `HF_ENDPOINT` (as `huggingface_hub` reads it), else huggingface.co. */
export function hubUrl(env: NodeJS.ProcessEnv = process.env): string {
  return (env.HF_ENDPOINT?.trim() || "https://huggingface.co").replace(/\/+$/, "");
}

export interface SpaceFiles {
  id: string;
  /** The commit the files are at. */
  sha: string;
  dir: string;
  /** README front matter fields daggr uses. */
  sdk?: string;
  sdkVersion?: string;
  appFile: string;
  /** sha256 of requirements.txt (empty string if none). */
  requirementsHash: string;
  /** Whether the files were already on disk (no download). */
  cached: boolean;
}

export interface FetchOptions {
  home: string;
  /** A commit sha or branch to pin; default: the Space's current head (reused from disk unless `update`). */
  revision?: string;
  /** Ask the Hub for the current head even when a copy is on disk (`DAGGR_UPDATE_SPACES=1`). */
  update?: boolean;
  signal?: AbortSignal;
  log?: (text: string) => void;
}

/** Largest single file and whole Space fetched (a Space repo holding weights belongs in a model repo). */
const MAX_FILE_BYTES = 256 * 1024 * 1024;
const MAX_FILES = 5000;

/**
 * Brings a Space's files at one revision into `<home>/spaces/<owner>/<name>/<sha>`,
 * through the Hub API (`@huggingface/hub`: tree listing and file downloads), without a
 * shell or git. A finished copy is marked by `.daggr-complete` and reused; without a
 * pinned revision and without `update`, the last copy fetched is reused without asking
 * the Hub (so a Space runs offline once fetched). Every path the Hub names is checked to
 * stay inside the copy.
 */
export async function fetchSpace(id: string, o: FetchOptions): Promise<SpaceFiles> {
  const [owner, name] = checkSpaceId(id);
  const base = join(o.home, "spaces", owner, name);
  const token = hubToken();
  const hub = hubUrl();
  const repo = { type: "space" as const, name: id };
  let sha: string | undefined;
  if (o.revision && /^[0-9a-f]{40}$/.test(o.revision)) sha = o.revision;
  else if (!o.revision && !o.update) sha = await readCurrent(base);
  if (!sha || !isComplete(join(base, sha))) {
    if (!sha) {
      const rev = o.revision ? checkRevision(o.revision) : undefined;
      const { spaceInfo } = await import("@huggingface/hub");
      const info = await hubCall(id, () => spaceInfo<"sha">({ name: id, additionalFields: ["sha"], hubUrl: hub, ...(rev ? { revision: rev } : {}), ...(token ? { accessToken: token } : {}) }));
      sha = (info as { sha?: string }).sha;
      if (!sha || !/^[0-9a-f]{40}$/.test(sha)) throw new DaggrError(ErrorCode.REMOTE_FAILED, `Space '${id}': the Hub did not name a commit sha for it (got ${JSON.stringify(sha)}).`, { space: id });
    }
    const dir = join(base, sha);
    if (!isComplete(dir)) await download(id, repo, sha, dir, hub, token, o);
  }
  await writeFile(join(base, "current"), sha);
  const dir = join(base, sha);
  return { id, sha, dir, ...(await describe(dir)), cached: false };
}

async function download(id: string, repo: { type: "space"; name: string }, sha: string, dir: string, hub: string, token: string | undefined, o: FetchOptions) {
  const tmp = `${dir}.partial-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const creds = token ? { accessToken: token } : {};
  const { downloadFile, listFiles } = await import("@huggingface/hub");
  let count = 0;
  let total = 0;
  await hubCall(id, async () => {
    for await (const entry of listFiles({ repo, revision: sha, recursive: true, hubUrl: hub, ...creds })) {
      if (o.signal?.aborted) throw o.signal.reason;
      if (entry.type !== "file") continue;
      if (++count > MAX_FILES) throw new DaggrError(ErrorCode.REMOTE_FAILED, `Space '${id}' has more than ${MAX_FILES} files; refusing to fetch it.`, { space: id });
      const target = resolve(tmp, entry.path);
      if (!target.startsWith(tmp + sep) || entry.path.split("/").some((s) => s === ".." || s === "")) {
        throw new DaggrError(ErrorCode.URL_REFUSED, `Space '${id}': the Hub named a file path outside the Space's folder (${JSON.stringify(entry.path)}).`, { space: id, got: entry.path });
      }
      if (entry.size > MAX_FILE_BYTES) throw new DaggrError(ErrorCode.FILE_TOO_LARGE, `Space '${id}': ${entry.path} is ${entry.size} bytes, over ${MAX_FILE_BYTES}.`, { space: id });
      if (entry.size === 0) {
        await mkdir(dirname(target), { recursive: true });
        await writeFile(target, "");
        continue;
      }
      const blob = await downloadFile({ repo, path: entry.path, revision: sha, hubUrl: hub, xet: false, ...creds });
      if (!blob) throw new DaggrError(ErrorCode.REMOTE_NOT_FOUND, `Space '${id}': ${entry.path} is listed but cannot be downloaded at ${sha}.`, { space: id });
      const bytes = Buffer.from(await blob.arrayBuffer());
      total += bytes.length;
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, bytes);
    }
  });
  await writeFile(join(tmp, ".daggr-complete"), JSON.stringify({ sha, files: count, bytes: total, at: new Date().toISOString() }));
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
  o.log?.(`fetched ${count} files (${total} bytes) of ${id} at ${sha.slice(0, 8)}`);
}

function isComplete(dir: string): boolean {
  return existsSync(join(dir, ".daggr-complete"));
}

async function readCurrent(base: string): Promise<string | undefined> {
  const s = (await readFile(join(base, "current"), "utf8").catch(() => "")).trim();
  return /^[0-9a-f]{40}$/.test(s) ? s : undefined;
}

/** README front matter and the requirements' hash. */
async function describe(dir: string): Promise<Omit<SpaceFiles, "id" | "sha" | "dir" | "cached">> {
  const readme = await readFile(join(dir, "README.md"), "utf8").catch(() => "");
  const fm = /^---\r?\n([\s\S]*?)\r?\n---/.exec(readme);
  let meta: Record<string, unknown> = {};
  try {
    const parsed = fm ? (await import("yaml")).parse(fm[1]!) : {};
    if (parsed && typeof parsed === "object") meta = parsed as Record<string, unknown>;
  } catch {
    meta = {};
  }
  const str = (v: unknown) => (typeof v === "string" || typeof v === "number" ? String(v) : undefined);
  const appFile = str(meta.app_file) ?? ["app.py", "main.py", "demo.py"].find((f) => existsSync(join(dir, f))) ?? "app.py";
  const appPath = resolve(dir, appFile);
  if (!appPath.startsWith(dir + sep)) throw new DaggrError(ErrorCode.BAD_OPTION, `The Space's app_file ${JSON.stringify(appFile)} is outside its folder.`, { got: appFile });
  const req = await readFile(join(dir, "requirements.txt")).catch(() => Buffer.alloc(0));
  return {
    sdk: str(meta.sdk),
    sdkVersion: str(meta.sdk_version),
    appFile,
    requirementsHash: req.length ? createHash("sha256").update(req).digest("hex") : "",
  };
}

function hubToken(): string | undefined {
  const t = hfToken();
  // @huggingface/hub refuses tokens that do not look like one.
  return t && t.startsWith("hf_") ? t : undefined;
}

async function hubCall<T>(id: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof DaggrError) throw e;
    const status = (e as { statusCode?: number }).statusCode;
    if (status === 404) throw new DaggrError(ErrorCode.REMOTE_NOT_FOUND, `Space '${id}' was not found on the Hub (${hubUrl()}).`, { space: id, status });
    if (status === 401 || status === 403) throw new DaggrError(ErrorCode.REMOTE_AUTH, `Space '${id}' cannot be read with your token (HTTP ${status}).`, { space: id, status });
    throw new DaggrError(ErrorCode.NETWORK, `Space '${id}': fetching its files from the Hub failed (${(e as Error).message}).`, { space: id, ...(status ? { status } : {}) });
  }
}

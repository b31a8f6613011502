import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { accessSync, constants, createReadStream, existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { DaggrError, ErrorCode } from "../graph/index.js";

/**
 * Share links, the way Gradio makes them (`gradio/networking.py`, `gradio/tunneling.py`):
 * ask the share server for a tunnel (`GET https://api.gradio.app/v3/tunnel-request` →
 * `[{ host, port, root_ca }]`, or `GRADIO_SHARE_SERVER_ADDRESS=host:port` for your own),
 * then run Gradio's build of `frpc` 0.3, which prints the public URL after
 * `start proxy success: `. The binary is fetched once into Gradio's own cache path,
 * `<HF_HOME>/gradio/frpc/frpc_<os>_<arch>_v0.3` (a machine that has Gradio reuses it),
 * and checked against the sha256 Gradio pins for that platform; `DAGGR_FRPC=/path` runs
 * a binary of your choosing instead.
 */
export const FRPC_VERSION = "0.3";
export const GRADIO_API_SERVER = "https://api.gradio.app/v3/tunnel-request";
const BINARY_BASE = `https://cdn-media.huggingface.co/frpc-gradio-${FRPC_VERSION}`;
const TUNNEL_TIMEOUT_MS = 30_000;

/** The sha256 of each build, by file name, as `gradio/tunneling.py` pins them. */
export const FRPC_CHECKSUMS: Readonly<Record<string, string>> = {
  "frpc_windows_amd64.exe": "14bc0ea470be5d67d79a07412bd21de8a0a179c6ac1116d7764f68e942dc9ceb",
  frpc_linux_amd64: "c791d1f047b41ff5885772fc4bf20b797c6059bbd82abb9e31de15e55d6a57c4",
  frpc_linux_arm64: "823ced25104de6dc3c9f4798dbb43f20e681207279e6ab89c40e2176ccbf70cd",
  frpc_darwin_amd64: "930f8face3365810ce16689da81b7d1941fda4466225a7bbcbced9a2916a6e15",
  frpc_darwin_arm64: "dfac50c690aca459ed5158fad8bfbe99f9282baf4166cf7c410a6673fbc1f327",
  frpc_linux_arm: "4b563beb2e36c448cc688174e20b53af38dc1ff2b5e362d4ddd1401f2affbfb7",
  frpc_freebsd_386: "cb0a56c764ecf96dd54ed601d240c564f060ee4e58202d65ffca17c1a51ce19c",
  frpc_freebsd_amd64: "516d9e6903513869a011ddcd1ec206167ad1eb5dd6640d21057acc258edecbbb",
  frpc_linux_386: "4c2f2a48cd71571498c0ac8a4d42a055f22cb7f14b4b5a2b0d584220fd60a283",
  frpc_linux_mips: "b309ecd594d4f0f7f33e556a80d4b67aef9319c00a8334648a618e56b23cb9e0",
  frpc_linux_mips64: "0372ef5505baa6f3b64c6295a86541b24b7b0dbe4ef28b344992e21f47624b7b",
  frpc_linux_riscv64: "1658eed7e8c14ea76e1d95749d58441ce24147c3d559381832c725c29cfc3df3",
  frpc_linux_mipsle: "a2aaba16961d3372b79bd7a28976fcd0f0bbaebc2b50d5a7a71af2240747960f",
  "frpc_windows_386.exe": "721b90550195a83e15f2176d8f85a48d5a25822757cb872e9723d4bccc4e5bb6",
  frpc_linux_mips64le: "796481edd609f31962b45cc0ab4c9798d040205ae3bf354ed1b72fb432d796b8",
};

/** Node's platform and arch in Gradio's spelling (Python's `platform.system().lower()` and its machine names). */
export function frpcFileName(platform: string = process.platform, arch: string = process.arch): string {
  const os = platform === "win32" ? "windows" : platform;
  const machine = ({ x64: "amd64", ia32: "386", arm64: "arm64", arm: "arm", riscv64: "riscv64", mips: "mips", mipsel: "mipsle" } as Record<string, string>)[arch] ?? arch;
  return `frpc_${os}_${machine}${platform === "win32" ? ".exe" : ""}`;
}

/** Where Gradio keeps the binary: `<HF_HOME>/gradio/frpc/frpc_<os>_<arch>_v0.3`. */
export function frpcPath(env: NodeJS.ProcessEnv = process.env, name = frpcFileName()): string {
  const hfHome = env.HF_HOME || join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "huggingface");
  return join(hfHome, "gradio", "frpc", `${name.replace(/\.exe$/, "")}_v${FRPC_VERSION}`);
}

async function sha256(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest("hex");
}

function shareError(message: string, details: Record<string, unknown> = {}): DaggrError {
  return new DaggrError(ErrorCode.SHARE_FAILED, message, details);
}

export interface FrpcOptions {
  env?: NodeJS.ProcessEnv;
  /** Where builds are downloaded from (Gradio's CDN). */
  baseUrl?: string;
  /** Pinned sha256 by file name (Gradio's). */
  checksums?: Readonly<Record<string, string>>;
  name?: string;
}

/**
 * The frpc binary to run: `DAGGR_FRPC` when set, else Gradio's cached copy, downloaded
 * (to a temporary name, checked, then renamed into place) when absent. A copy whose
 * sha256 differs from the pinned one is never run.
 */
export async function ensureFrpc(o: FrpcOptions = {}): Promise<string> {
  const env = o.env ?? process.env;
  if (env.DAGGR_FRPC) {
    try {
      accessSync(env.DAGGR_FRPC, constants.X_OK);
    } catch {
      throw shareError(`DAGGR_FRPC=${env.DAGGR_FRPC} is not an executable file.`, { got: env.DAGGR_FRPC });
    }
    return env.DAGGR_FRPC;
  }
  const name = o.name ?? frpcFileName();
  const path = frpcPath(env, name);
  const pinned = (o.checksums ?? FRPC_CHECKSUMS)[name];
  if (existsSync(path)) {
    if (pinned && (await sha256(path)) !== pinned) {
      throw shareError(`${path} is not Gradio's frpc ${FRPC_VERSION} build (its sha256 differs from the pinned one). Delete it to download it again, or set DAGGR_FRPC to a binary you trust.`, { path });
    }
    return path;
  }
  const url = `${o.baseUrl ?? BINARY_BASE}/${name}`;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(120_000) });
  } catch (e) {
    throw shareError(`Could not download frpc from ${url}: ${(e as Error).message}.`, { url });
  }
  if (res.status === 403) throw shareError(`Gradio has no frpc build for this platform (${name}); set DAGGR_FRPC to an frpc ${FRPC_VERSION} binary you built.`, { url, status: 403 });
  if (!res.ok) throw shareError(`Could not download frpc from ${url} (HTTP ${res.status}).`, { url, status: res.status });
  const bytes = Buffer.from(await res.arrayBuffer());
  const got = createHash("sha256").update(bytes).digest("hex");
  if (pinned && got !== pinned) throw shareError(`The frpc downloaded from ${url} does not match the sha256 Gradio pins (${pinned}, got ${got}); it was not kept.`, { url, expected: pinned, got });
  await mkdir(join(path, ".."), { recursive: true });
  const temp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.part`;
  await writeFile(temp, bytes, { mode: 0o755 });
  await chmod(temp, 0o755);
  await rename(temp, path);
  return path;
}

/** Where to tunnel to: the share server's frps, and its root certificate (for TLS) when it gave one. */
export interface TunnelServer {
  host: string;
  port: number;
  rootCa?: string;
  /** The scheme of the public link: https on Gradio's servers, http on your own (as Gradio's `share_server_protocol`). */
  protocol: "http" | "https";
}

/** Asks the share server for a tunnel (or reads `GRADIO_SHARE_SERVER_ADDRESS`). */
export async function tunnelServer(env: NodeJS.ProcessEnv = process.env, api = GRADIO_API_SERVER): Promise<TunnelServer> {
  const own = env.GRADIO_SHARE_SERVER_ADDRESS?.trim();
  if (own) {
    const m = /^(.+):(\d+)$/.exec(own);
    if (!m) throw shareError(`GRADIO_SHARE_SERVER_ADDRESS must be host:port, got '${own}'.`, { got: own });
    return { host: m[1]!, port: Number(m[2]), protocol: "http" };
  }
  try {
    const res = await fetch(api, { signal: AbortSignal.timeout(30_000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const [first] = (await res.json()) as Array<{ host: string; port: number | string; root_ca?: string }>;
    if (!first?.host || !first.port) throw new Error("no host and port in the answer");
    return { host: first.host, port: Number(first.port), ...(first.root_ca ? { rootCa: first.root_ca } : {}), protocol: "https" };
  } catch (e) {
    throw shareError(`Could not get a share link from the Gradio API server (${api}): ${(e as Error).message}.`, { url: api });
  }
}

export interface Share {
  /** The public link (no token), e.g. `https://abcd1234.gradio.live`. */
  url: string;
  /** Its host name, which requests through the tunnel carry as `Host`. */
  host: string;
  /** Stops the tunnel (frpc is killed). */
  close(): void;
}

/**
 * Opens a public link to `host:port`: runs frpc with Gradio's arguments
 * (`http -n <share_token> -l <port> -i <host> --uc --sd random --ue --server_addr h:p
 * --disable_log_color`, plus `--tls_enable --tls_trusted_ca_file <ca>` when the share
 * server gave a root certificate) and waits for its `start proxy success: <url>`.
 * `login to server failed`, an exit, or 30 s without a link fail with its log.
 */
export async function openShare(o: { host: string; port: number; env?: NodeJS.ProcessEnv; api?: string; frpc?: FrpcOptions }): Promise<Share> {
  const env = o.env ?? process.env;
  const server = await tunnelServer(env, o.api);
  const binary = await ensureFrpc({ env, ...o.frpc });
  let caDir: string | undefined;
  const args = ["http", "-n", randomBytes(32).toString("base64url"), "-l", String(o.port), "-i", o.host, "--uc", "--sd", "random", "--ue", "--server_addr", `${server.host}:${server.port}`, "--disable_log_color"];
  if (server.rootCa) {
    // Gradio writes it to .gradio/certificate.pem in the working directory; a private temp dir works read-only too.
    caDir = await mkdtemp(join(tmpdir(), "daggr-share-"));
    const ca = join(caDir, "certificate.pem");
    await writeFile(ca, server.rootCa);
    args.push("--tls_enable", "--tls_trusted_ca_file", ca);
  }
  const proc = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"], env });
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    process.off("exit", kill);
    kill();
    if (caDir) void rm(caDir, { recursive: true, force: true });
  };
  const kill = () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill();
  };
  // A process that exits without closing the server must not leave frpc behind.
  process.once("exit", kill);
  try {
    const url = await readUrl(proc);
    const u = new URL(url);
    u.protocol = `${server.protocol}:`;
    const link = u.toString().replace(/\/$/, "");
    return { url: link, host: u.hostname.toLowerCase(), close };
  } catch (e) {
    close();
    throw e;
  }
}

function readUrl(proc: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    const log: string[] = [];
    const fail = (why: string) => {
      cleanup();
      reject(shareError(`Could not create the share link: ${why}. frpc's log:\n${log.join("\n").slice(-4000)}`, { log: log.slice(-50) }));
    };
    const timer = setTimeout(() => fail(`no link within ${TUNNEL_TIMEOUT_MS / 1000} s`), TUNNEL_TIMEOUT_MS);
    const lines = createInterface({ input: proc.stdout! });
    const errLines = createInterface({ input: proc.stderr! });
    const onLine = (line: string) => {
      log.push(line);
      const m = /start proxy success: (\S+)/.exec(line);
      if (m) {
        cleanup();
        resolve(m[1]!);
      } else if (line.includes("login to server failed")) fail("login to server failed");
    };
    const onExit = (code: number | null) => fail(`frpc exited (code ${code})`);
    const onError = (e: Error) => fail(`frpc could not start (${e.message})`);
    const cleanup = () => {
      clearTimeout(timer);
      lines.off("line", onLine);
      errLines.off("line", onErrLine);
      proc.off("exit", onExit);
      proc.off("error", onError);
    };
    const onErrLine = (line: string) => log.push(line);
    lines.on("line", onLine);
    errLines.on("line", onErrLine);
    proc.once("exit", onExit);
    proc.once("error", onError);
  });
}

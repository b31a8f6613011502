import { type ChildProcess, spawn } from "node:child_process";
import { EventEmitter } from "node:events";
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { DaggrError, ErrorCode } from "../../graph/index.js";
import { childEnv } from "./run-command.js";
import { RotatingLog } from "./rotating-log.js";

export interface LaunchSpec {
  id: string;
  /** The Space's folder and app file in it. */
  dir: string;
  appFile: string;
  python: string;
  home: string;
  localEnv: readonly string[];
  /** Endpoint names the app must serve (`/predict`…): the node's endpoint, and the Space's whole API when known. */
  expectEndpoints: readonly string[];
  /** When true, the app's named endpoints must be exactly `expectEndpoints`. */
  exactEndpoints?: boolean;
  timeoutMs: number;
  /** A port to use instead of a free one (tests). */
  port?: number;
  logMaxBytes?: number;
}

export type AppState = "starting" | "ready" | "exited" | "stopped";

/**
 * One launched local Space: `python app.py` from an argument vector (no shell), in its own
 * process group, on 127.0.0.1:<port>, with {@link childEnv}. Its output is drained into
 * `<home>/logs/<owner>__<name>.log` (rotating). Ready means `/config` answers with the
 * endpoints expected **and** (where /proc exists) the listening socket belongs to this
 * child: a foreign process on the port is never taken for the app. A pid file under
 * `<home>/local-spaces/` lets the next start remove the process if daggr dies without
 * stopping it (kill -9). Emits `exit` (code, signal) once, after ready or not.
 */
export class LocalApp extends EventEmitter {
  state: AppState = "starting";
  port = 0;
  child?: ChildProcess;
  readonly log: RotatingLog;
  exitInfo?: string;
  /** Aborted (with E_LOCAL_FAILED) when the app exits after it was ready: in-flight jobs stop at once. */
  readonly lost = new AbortController();
  /** `<home>/local-spaces/<owner>__<name>.<daggr pid>.<app pid>.json` once spawned: one per app, even for two apps of a Space. */
  private pidFile = "";

  constructor(readonly spec: LaunchSpec) {
    super();
    const safe = spec.id.replace("/", "__");
    this.log = new RotatingLog(join(spec.home, "logs", `${safe}.log`), spec.logMaxBytes);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/`;
  }

  /** Spawns the app and resolves once it is ready; rejects (and kills it) otherwise. */
  async start(signal?: AbortSignal): Promise<void> {
    this.port = this.spec.port ?? (await freePort());
    this.log.write(`\n--- daggr: starting ${this.spec.id} on 127.0.0.1:${this.port} at ${new Date().toISOString()} ---\n`);
    const env = childEnv(this.spec.localEnv, {
      GRADIO_SERVER_NAME: "127.0.0.1",
      GRADIO_SERVER_PORT: String(this.port),
      GRADIO_ANALYTICS_ENABLED: "False",
      PYTHONUNBUFFERED: "1",
    });
    const child = spawn(this.spec.python, [this.spec.appFile], { cwd: this.spec.dir, env, stdio: ["ignore", "pipe", "pipe"], detached: true, shell: false });
    this.child = child;
    child.stdout!.on("data", (c: Buffer) => this.log.write(c));
    child.stderr!.on("data", (c: Buffer) => this.log.write(c));
    const exited = new Promise<string>((resolveExit) => {
      child.on("error", (e) => {
        this.exitInfo = `could not start ${this.spec.python}: ${e.message}`;
        this.finish();
        resolveExit(this.exitInfo);
      });
      child.on("exit", (code, sig) => {
        this.exitInfo = sig ? `killed by ${sig}` : `exit code ${code}`;
        this.finish();
        resolveExit(this.exitInfo);
      });
    });
    if (child.pid) {
      mkdirSync(pidDir(this.spec.home), { recursive: true });
      this.pidFile = join(pidDir(this.spec.home), `${this.spec.id.replace("/", "__")}.${process.pid}.${child.pid}.json`);
      writeFileSync(this.pidFile, JSON.stringify({ pid: child.pid, daggrPid: process.pid, daggrStart: startTime(process.pid), dir: this.spec.dir, port: this.port, id: this.spec.id }));
    }
    try {
      await Promise.race([this.waitReady(signal), exited.then((why) => Promise.reject(this.failure(`the app stopped before it was ready (${why})`)))]);
    } catch (e) {
      this.stop();
      throw e;
    }
    this.state = "ready";
  }

  /** Stops the app: SIGTERM to its process group, SIGKILL if it is still there after `graceMs`. */
  stop(graceMs = 3000): void {
    if (this.state === "stopped" || this.state === "exited") return;
    this.state = "stopped";
    const pid = this.child?.pid;
    if (!pid) return;
    killGroup(pid, "SIGTERM");
    const t = setTimeout(() => killGroup(pid, "SIGKILL"), graceMs);
    t.unref();
    this.child!.once("exit", () => clearTimeout(t));
  }

  /**
   * Stops the app at once, without the event loop (a signal, process exit): SIGTERM to its
   * process group, up to `graceMs` for it to end, then SIGKILL. See {@link stopAppsNow}.
   */
  stopNow(graceMs = 1000): void {
    stopAppsNow([this], graceMs);
  }

  /** Whether the process still runs (a zombie awaiting its reaper does not). */
  get running(): boolean {
    const pid = this.child?.pid;
    return !!pid && this.child!.exitCode === null && this.child!.signalCode === null && runs(pid);
  }

  /** @internal The pid file, for {@link stopAppsNow}. */
  get pidPath(): string {
    return this.pidFile;
  }

  private finish() {
    const wasReady = this.state === "ready";
    if (this.state !== "stopped") this.state = "exited";
    if (this.pidFile) rmSync(this.pidFile, { force: true });
    this.log.write(`--- daggr: ${this.spec.id} ${this.exitInfo} ---\n`);
    if (wasReady) {
      this.lost.abort(new DaggrError(ErrorCode.LOCAL_FAILED, `Local Space '${this.spec.id}' crashed while running this node (${this.exitInfo}); it restarts for the next run. Last output: ${this.log.tail(4)} (log: ${this.log.path})`, { space: this.spec.id, exit: this.exitInfo }));
    }
    this.emit("exit", this.exitInfo, wasReady);
  }

  private failure(why: string): DaggrError {
    const tail = this.log.tail(6);
    return new DaggrError(ErrorCode.LOCAL_FAILED, `Local Space '${this.spec.id}': ${why}.${tail ? ` Last output: ${tail}` : ""} (log: ${this.log.path})`, { space: this.spec.id, log: this.log.path });
  }

  private async waitReady(signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + this.spec.timeoutMs;
    let wait = 100;
    for (;;) {
      if (signal?.aborted) throw signal.reason;
      if (this.state !== "starting") throw this.failure(`the app stopped before it was ready (${this.exitInfo})`);
      const config = await fetch(`http://127.0.0.1:${this.port}/config`, { signal: AbortSignal.timeout(Math.max(100, Math.min(5000, deadline - Date.now()))) })
        .then(async (r) => (r.ok ? ((await r.json()) as { dependencies?: Array<{ api_name?: string | null; api_visibility?: string; show_api?: boolean }> }) : undefined))
        .catch(() => undefined);
      if (config) {
        this.checkIdentity(config);
        return;
      }
      if (Date.now() > deadline) throw this.failure(`not ready after ${Math.round(this.spec.timeoutMs / 1000)} s (DAGGR_LOCAL_TIMEOUT)`);
      await new Promise((r) => setTimeout(r, wait));
      wait = Math.min(1000, Math.round(wait * 1.5));
    }
  }

  /** The app on the port must be ours: its endpoints, and the socket's owner. */
  private checkIdentity(config: { dependencies?: Array<{ api_name?: string | null; api_visibility?: string; show_api?: boolean }> }) {
    const names = new Set((config.dependencies ?? []).filter((d) => d.api_name && d.api_visibility !== "private" && d.show_api !== false).map((d) => `/${d.api_name}`));
    const missing = this.spec.expectEndpoints.filter((e) => !/^\/\d+$/.test(e) && !names.has(e));
    const extra = this.spec.exactEndpoints ? [...names].filter((n) => !this.spec.expectEndpoints.includes(n)) : [];
    if (missing.length || extra.length) {
      throw this.failure(
        `port ${this.port} answers /config with endpoints [${[...names].join(", ")}], not the Space's [${this.spec.expectEndpoints.join(", ")}]; it is not this app, so nothing is sent to it`,
      );
    }
    const owner = socketOwner(this.port, this.child?.pid);
    if (owner === false) throw this.failure(`port ${this.port} is held by another process than the one daggr started; nothing is sent to it`);
  }
}

/** Whether /proc shows the LISTEN socket on 127.0.0.1:port as held by `pid` (or its children); undefined when /proc cannot tell. */
export function socketOwner(port: number, pid: number | undefined): boolean | undefined {
  if (!pid) return false;
  const inodes = new Set<string>();
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  for (const f of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(f, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length > 9 && cols[1]!.endsWith(`:${hexPort}`) && cols[3] === "0A") inodes.add(cols[9]!);
    }
  }
  if (!inodes.size) return undefined;
  const pids = [pid, ...childrenOf(pid)];
  let readable = false;
  for (const p of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${p}/fd`);
      readable = true;
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${p}/fd/${fd}`));
        if (m && inodes.has(m[1]!)) return true;
      } catch {
        /* fd closed meanwhile */
      }
    }
  }
  return readable ? false : undefined;
}

function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((t) => readFileSync(`/proc/${pid}/task/${t}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number));
  } catch {
    return [];
  }
}

function pidDir(home: string): string {
  return join(home, "local-spaces");
}

function killGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      /* gone */
    }
  }
}

/**
 * Stops apps synchronously, for when the event loop will not run again (a signal about
 * to end daggr, process exit): SIGTERM to each app's process group, a wait of up to
 * `graceMs` (in 10 ms slices, blocking) for them to end, then SIGKILL for the rest. The
 * pid file of an app that ended is removed; one that did not is left for the next
 * start's {@link sweepOrphans}.
 */
export function stopAppsNow(apps: readonly LocalApp[], graceMs = 1000): void {
  const live = apps.filter((a) => a.running);
  for (const a of live) {
    a.state = "stopped";
    killGroup(a.child!.pid!, "SIGTERM");
  }
  const tick = new Int32Array(new SharedArrayBuffer(4));
  const until = Date.now() + graceMs;
  while (live.some((a) => runs(a.child!.pid!)) && Date.now() < until) Atomics.wait(tick, 0, 0, 10);
  for (const a of live) {
    if (runs(a.child!.pid!)) killGroup(a.child!.pid!, "SIGKILL");
    else if (a.pidPath) rmSync(a.pidPath, { force: true });
  }
}

/** Whether `pid` runs: it exists and (where /proc tells) is not a zombie. */
function runs(pid: number): boolean {
  if (!alive(pid)) return false;
  try {
    return !/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return existsSync("/proc/self") ? false : true;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** A process's start time (field 22 of /proc/<pid>/stat), so a reused pid is not mistaken for it. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/**
 * Removes local Spaces left by a daggr process that is gone (killed with -9, crashed):
 * for every pid file whose daggr process no longer runs, the app's process group is
 * killed if the pid still runs the Space from the recorded folder (a reused pid running
 * something else is left alone). Returns the pids killed.
 */
export function sweepOrphans(home: string): number[] {
  const dir = pidDir(home);
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith(".json"));
  } catch {
    return [];
  }
  const killed: number[] = [];
  for (const f of files) {
    const path = join(dir, f);
    let rec: { pid?: number; daggrPid?: number; daggrStart?: string; dir?: string };
    try {
      rec = JSON.parse(readFileSync(path, "utf8"));
    } catch {
      rmSync(path, { force: true });
      continue;
    }
    if (rec.daggrPid === process.pid) continue;
    if (rec.daggrPid && alive(rec.daggrPid) && startTime(rec.daggrPid) === rec.daggrStart) continue;
    if (rec.pid && alive(rec.pid)) {
      let cwd = "";
      try {
        cwd = readlinkSync(`/proc/${rec.pid}/cwd`);
      } catch {
        /* not readable: do not kill a process we cannot identify */
      }
      if (cwd && cwd === rec.dir) {
        killGroup(rec.pid, "SIGKILL");
        killed.push(rec.pid);
      }
    }
    rmSync(path, { force: true });
  }
  return killed;
}

/** A port free on 127.0.0.1 right now (the identity check covers the race with another process). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.unref();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolvePort(port));
    });
  });
}

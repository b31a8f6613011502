import { type ChildProcess, spawn } from "node:child_process";
import { EventEmitter, once } from "node:events";
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DaggrError, ErrorCode } from "../../graph/index.js";
import { freePort } from "../../free-port.js";
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
  /** The port to offer the app instead of a free one (tests). */
  port?: number;
  logMaxBytes?: number;
}

export type AppState = "starting" | "ready" | "exited" | "stopped";

/**
 * One launched local Space: `python app.py` from an argument vector (no shell), in its own
 * process group, on 127.0.0.1, with {@link childEnv}. Its output is drained into
 * `<home>/logs/<owner>__<name>.log` (rotating). A pid file under `<home>/local-spaces/`
 * lets the next start remove the process if daggr dies without stopping it (kill -9).
 * Emits `exit` (code, signal) once, after ready or not.
 *
 * The port is the one the app bound, not the one daggr offered. A port picked free
 * (below the kernel's ephemeral range, see {@link offerPort}) goes to the app as
 * GRADIO_SERVER_PORT, but it can be taken before the app binds it (gradio's import takes
 * seconds), and gradio's `launch()` then moves on to the next free one by itself; an app
 * may also ignore it (`launch(server_port=7860)`). So the app is looked for where it is:
 * the port of its `* Running on local URL:  http://127.0.0.1:<port>` line, else (where
 * /proc tells) the port its processes listen on, else the one offered. Where /proc tells,
 * a port the app's processes do not listen on is never asked anything, so a process that
 * took the offered port meanwhile never sees a request. An app that exits because the
 * offered port was taken is relaunched on another (see {@link portTaken}).
 *
 * Ready means `/config` answers with the endpoints expected **and** (where /proc exists)
 * the listening socket belongs to this child: a foreign process is never taken for the app.
 */
export class LocalApp extends EventEmitter {
  state: AppState = "starting";
  /** The port the app serves on, once ready (the one offered until then). */
  port = 0;
  /** The port offered to the app (GRADIO_SERVER_PORT). */
  offered = 0;
  /** The port of the app's `Running on local URL` line, once printed. */
  announced?: number;
  child?: ChildProcess;
  readonly log: RotatingLog;
  exitInfo?: string;
  /** Aborted (with E_LOCAL_FAILED) when the app exits after it was ready: in-flight jobs stop at once. */
  readonly lost = new AbortController();
  /** `<home>/local-spaces/<owner>__<name>.<daggr pid>.<app pid>.json` once spawned: one per app, even for two apps of a Space. */
  private pidFile = "";
  /** The last few KiB of the app's output, read for its URL line and a bind failure. */
  private recent = "";
  /** Ends the wait between two readiness checks early (the app printed its URL). */
  private wake?: () => void;

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
    this.offered = this.port = this.spec.port ?? (await offerPort());
    this.log.write(`\n--- daggr: starting ${this.spec.id}, offered 127.0.0.1:${this.offered}, at ${new Date().toISOString()} ---\n`);
    const env = childEnv(this.spec.localEnv, {
      GRADIO_SERVER_NAME: "127.0.0.1",
      GRADIO_SERVER_PORT: String(this.offered),
      GRADIO_ANALYTICS_ENABLED: "False",
      PYTHONUNBUFFERED: "1",
    });
    const child = spawn(this.spec.python, [this.spec.appFile], { cwd: this.spec.dir, env, stdio: ["ignore", "pipe", "pipe"], detached: true, shell: false });
    this.child = child;
    child.stdout!.on("data", (c: Buffer) => this.output(c));
    child.stderr!.on("data", (c: Buffer) => this.output(c));
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
    const ended = exited.then(async (why) => {
      // 'exit' can come before the app's last output (why it ended) is read: wait for its pipes to close, a while at most.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([once(child, "close").catch(() => {}), new Promise((r) => (timer = setTimeout(r, 1000)))]);
      clearTimeout(timer);
      throw this.failure(`the app stopped before it was ready (${why})`);
    });
    try {
      await Promise.race([this.waitReady(signal), ended]);
    } catch (e) {
      this.stop();
      // The app ended while waiting: `ended` says why, once its output is read.
      throw e === ENDED ? await ended.catch((x: unknown) => x) : e;
    }
    this.state = "ready";
    if (this.port !== this.offered) this.log.write(`--- daggr: ${this.spec.id} serves on 127.0.0.1:${this.port} (offered ${this.offered}) ---\n`);
  }

  /**
   * Whether the app ended before it was ready because the port it was offered was taken:
   * its last output says an address is in use (Python's "[Errno 98] Address already in
   * use", gradio's "Cannot find empty port in range: P-P") and names that port. Another
   * launch on another port may then succeed; an app bound to a port of its own would not.
   */
  get portTaken(): boolean {
    return this.state === "exited" && ADDRESS_IN_USE.test(this.recent) && new RegExp(`(?<!\\d)${this.offered}(?!\\d)`).test(this.recent);
  }

  private output(c: Buffer) {
    this.log.write(c);
    if (this.state === "ready") return;
    this.recent = (this.recent + c.toString("utf8")).slice(-RECENT_CHARS);
    if (this.announced !== undefined) return;
    // Only whole lines: a chunk may end inside the port number.
    const lines = this.recent.slice(0, this.recent.lastIndexOf("\n") + 1);
    const m = lines.match(ANNOUNCE_ALL)?.pop()?.match(ANNOUNCE);
    const port = m ? Number(m[1]) : 0;
    if (port > 0 && port < 65536) {
      this.announced = port;
      this.wake?.();
    }
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
      if (this.state !== "starting") throw ENDED;
      for (const port of this.servingPorts()) {
        const config = await fetch(`http://127.0.0.1:${port}/config`, { signal: AbortSignal.timeout(Math.max(100, Math.min(5000, deadline - Date.now()))) })
          .then(async (r) => (r.ok ? ((await r.json()) as AppConfig) : undefined))
          .catch(() => undefined);
        if (config) {
          this.port = port;
          this.checkIdentity(config);
          return;
        }
      }
      if (Date.now() > deadline) throw this.failure(`not ready after ${Math.round(this.spec.timeoutMs / 1000)} s (DAGGR_LOCAL_TIMEOUT)`);
      await new Promise<void>((r) => {
        const done = () => {
          clearTimeout(timer);
          this.wake = undefined;
          r();
        };
        const timer = setTimeout(done, wait);
        this.wake = done;
      });
      wait = Math.min(1000, Math.round(wait * 1.5));
    }
  }

  /**
   * Where to look for the app now: the port it announced; else, where /proc tells, the
   * ports its processes listen on (the offered one first, then upwards, as gradio scans),
   * none while it listens nowhere; else the offered port.
   */
  private servingPorts(): number[] {
    if (this.announced !== undefined) return [this.announced];
    const ports = listeningPorts(this.child?.pid);
    if (!ports) return [this.offered];
    return ports.sort((a, b) => (a === this.offered ? -1 : b === this.offered ? 1 : a - b));
  }

  /** The app on the port must be ours: its endpoints, and the socket's owner. */
  private checkIdentity(config: AppConfig) {
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
  const inodes = new Set(listenTable()?.filter((l) => l.port === port).map((l) => l.inode));
  if (!inodes.size) return undefined;
  const owned = socketsOf(pid);
  if (!owned) return undefined;
  return [...inodes].some((i) => owned.has(i));
}

/**
 * The ports `pid` (or its children) listens on where 127.0.0.1 reaches them (127.x, ::1,
 * any address); undefined when /proc cannot tell.
 */
export function listeningPorts(pid: number | undefined): number[] | undefined {
  if (!pid) return undefined;
  const table = listenTable();
  const owned = table && socketsOf(pid);
  if (!table || !owned) return undefined;
  return [...new Set(table.filter((l) => l.loopback && owned.has(l.inode)).map((l) => l.port))];
}

/** The LISTEN sockets of /proc/net/tcp and tcp6; undefined without them. */
function listenTable(): Array<{ port: number; inode: string; loopback: boolean }> | undefined {
  const out: Array<{ port: number; inode: string; loopback: boolean }> = [];
  let any = false;
  for (const f of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(f, "utf8");
      any = true;
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length <= 9 || cols[3] !== "0A") continue;
      const [addr = "", port = ""] = cols[1]!.split(":");
      out.push({ port: parseInt(port, 16), inode: cols[9]!, loopback: LOOPBACK_HEX.test(addr) });
    }
  }
  return any ? out : undefined;
}

/** Any address, 127.x, ::1 and ::ffff:127.x as /proc writes them (each 32-bit word in host order, little-endian here). */
const LOOPBACK_HEX = /^(?:0{8}|[0-9A-F]{6}7F|0{32}|0{24}01000000|0{16}FFFF0000[0-9A-F]{6}7F)$/;

/** The socket inodes `pid` and its children hold open; undefined when none of their fds can be read. */
function socketsOf(pid: number): Set<string> | undefined {
  const owned = new Set<string>();
  let readable = false;
  for (const p of [pid, ...childrenOf(pid)]) {
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
        if (m) owned.add(m[1]!);
      } catch {
        /* fd closed meanwhile */
      }
    }
  }
  return readable ? owned : undefined;
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

/** The part of an app's `/config` the identity check reads. */
interface AppConfig {
  dependencies?: Array<{ api_name?: string | null; api_visibility?: string; show_api?: boolean }>;
}

/** What the wait for readiness throws when the app ended meanwhile (see `start`). */
const ENDED = Symbol("ended");
/** A line announcing where a gradio app serves (`* Running on local URL:  http://127.0.0.1:7861`). */
const ANNOUNCE = /Running on local URL:\s+https?:\/\/(?:\[[^\]\s]*\]|[^\s:/]+):(\d+)(?!\d)/;
const ANNOUNCE_ALL = new RegExp(ANNOUNCE.source, "g");
/** What a failed bind says: Python's OSError (errno 98 on Linux, 48 on macOS), gradio's own error after its scan. */
const ADDRESS_IN_USE = /address already in use|Errno (?:98|48)|EADDRINUSE|Cannot find empty port/i;
const RECENT_CHARS = 8192;

/**
 * A port to offer a local app: free right now, below the kernel's ephemeral range less
 * the 100 ports gradio may scan on from it. It can still be taken before the app binds
 * it: {@link LocalApp} finds the app where it is.
 */
export function offerPort(): Promise<number> {
  return freePort("127.0.0.1", 100);
}

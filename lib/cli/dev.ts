import { type ChildProcess, spawn } from "node:child_process";
import { type FSWatcher, existsSync, statSync, watch } from "node:fs";
import { basename, dirname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { ChildMessage, ParentMessage } from "./child.js";
import { type AppFailure, EXIT_LOCKED } from "./app.js";
import { type ErrorServer, serveAppFailure } from "./error-server.js";
import { localImports } from "./deps.js";
import { log } from "../server/log.js";
import { DEFAULT_PORT, portNote } from "../server/options.js";
import type { DiagnosticWire } from "../protocol.js";
import { showDiagnostics } from "../server/diagnostics.js";
import { startTypecheck } from "./typecheck.js";

export interface DevOptions {
  host?: string;
  port?: number;
  token?: string;
  /** A public link (see `openDevShare`): kept across reloads. */
  share?: boolean;
  /** Check the app's types in the background; errors go to the terminal and the canvas overlay (typecheck.ts). */
  typecheck?: boolean;
}

interface Child {
  proc: ChildProcess;
  ready: Promise<boolean>;
  exited: Promise<number>;
  spawnedAt: number;
}

/** daggr's own code (lib/ and dist/ of its package) is not the app: not watched (a standby child has it loaded). */
const DAGGR_DIRS = daggrDirs(fileURLToPath(new URL(".", import.meta.url)));
const DEBOUNCE_MS = 20;
/**
 * A watched file found empty waits this long for more: a save often truncates the file
 * and writes it in two steps, and a busy machine can pause the writer between them.
 */
const EMPTY_FILE_WAIT_MS = 500;
/** Restarts traced with timings, at level debug (`DAGGR_LOG_LEVEL=debug`, or `DAGGR_DEBUG=1`). */
const debug = (...a: unknown[]) => log.debug(a.map(String).join(" "));

/**
 * `daggr dev app.ts`: runs the app in a child process and restarts it when the app or
 * one of its local imports changes. A warm standby child (node, the TypeScript loader
 * and daggr already loaded) takes over on each change, so a restart costs the app's
 * own import and a port bind. The first start picks a port (the next free one if
 * taken); restarts keep it and keep the token, so open tabs reconnect to the same
 * address and their sheet. An app that fails to load is reported and the command waits
 * for the fix; a database locked by another daggr process ends it with exit code 3.
 * `entry` is the `daggr` command's own file: a child is that entry with
 * `DAGGR_CLI_CHILD=1` (see child.ts).
 */
export async function dev(app: string, options: DevOptions, entry: string): Promise<number> {
  const file = resolve(app);
  const { share: wantShare, typecheck, ...serve } = options;
  const launch: Record<string, unknown> = { quiet: true, ...serve };
  // The port asked for: the first start takes the next free one when it is taken, and says so.
  const asked = Number(launch.port ?? (process.env.GRADIO_SERVER_PORT || DEFAULT_PORT));
  // The tunnel belongs to this process, not to a child: the link outlives every reload.
  const share = wantShare ? await openDevShare(launch) : undefined;
  let active: Child | undefined;
  let standby: Child | undefined;
  /** While the app does not load: its address serves the failure, which open tabs show. */
  let failing: ErrorServer | undefined;
  let first = true;
  let restarting: Promise<void> | undefined;
  let pending: string | undefined;
  let done!: (code: number) => void;
  const finished = new Promise<number>((r) => (done = r));
  /** The last type check's errors (`--typecheck`): each app process gets them once listening, and every change after. */
  let diagnostics: DiagnosticWire[] | undefined;
  const sendDiagnostics = (c: Child | undefined) => {
    if (diagnostics && c?.proc.connected) c.proc.send({ type: "diagnostics", errors: diagnostics } satisfies ParentMessage);
  };
  const checker = typecheck
    ? startTypecheck(file, entry, (errors) => {
        diagnostics = errors;
        sendDiagnostics(active);
        // While the app fails to load, the stand-in server (error-server.ts, in this process) shows them.
        showDiagnostics(errors);
      })
    : undefined;

  const spawnChild = (): Child => {
    const proc = spawn(process.execPath, ["--import", import.meta.resolve("tsx"), entry], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      env: { ...process.env, DAGGR_CLI_CHILD: "1" },
    });
    // runLocally Spaces run here, in the command, so they outlive the app process across reloads.
    proc.on("message", (m: { type?: string }) => {
      if (m?.type === "local-space") void hostLocal(proc, m);
    });
    const exited = new Promise<number>((r) => proc.once("exit", (code, signal) => r(code ?? (signal ? 0 : 1))));
    const t0 = performance.now();
    const ready = new Promise<boolean>((r) => {
      proc.once("message", (m: ChildMessage) => r(m?.type === "ready"));
      void exited.then(() => r(false));
    });
    void ready.then((ok) => ok && debug(`standby ready (${Math.round(performance.now() - t0)} ms)`));
    return { proc, ready, exited, spawnedAt: Date.now() };
  };

  const stop = async (c: Child | undefined) => {
    if (!c || c.proc.exitCode !== null || c.proc.signalCode !== null) return;
    c.proc.kill("SIGTERM");
    const t = setTimeout(() => c.proc.kill("SIGKILL"), 1000);
    await c.exited;
    clearTimeout(t);
  };

  const start = async (reason?: string) => {
    const t0 = performance.now();
    debug("start", reason);
    // The old process shuts down while the next one imports the app; it launches once the old is gone.
    const stopping = stop(active);
    active = undefined;
    let c = standby;
    standby = undefined;
    if (!c || !(await c.ready)) {
      void stop(c);
      c = spawnChild();
      await c.ready;
    }
    active = c;
    let failure: AppFailure | undefined;
    const listening = new Promise<ChildMessage | undefined>((r) => {
      c.proc.on("message", (m: ChildMessage) => {
        if (m?.type === "failed") failure = m.failure;
        if (m?.type === "listening") r(m);
      });
      void c.exited.then(() => r(undefined));
    });
    debug("child ready; prepare");
    // What this child is about to import: a change seen later restarts only if the files moved on since.
    loaded = stampAll();
    c.proc.send({ type: "prepare", app: file, launch: { ...launch } } satisfies ParentMessage);
    await stopping;
    // The stand-in lets go of the address, so the app can take it.
    await failing?.close();
    failing = undefined;
    debug("old stopped; go");
    if (c.proc.connected) c.proc.send({ type: "go" } satisfies ParentMessage);
    const m = await listening;
    debug("child answered", m?.type ?? `exit ${c.proc.exitCode} ${c.proc.signalCode}`);
    if (m?.type === "listening") {
      const ms = Math.round(performance.now() - t0);
      if (first) {
        const url = m.token ? `${m.url}/?token=${m.token}` : m.url;
        log.info({ url }, `daggr dev: serving ${basename(file)} at ${url}${portNote(asked, m.port)}`);
        log.info("daggr dev: watching for changes (Ctrl+C to stop)");
        // Restarts keep the address and the token, so tabs reconnect to the same place.
        Object.assign(launch, { port: m.port, strictPort: true, ...(m.token ? { token: m.token } : {}) });
        first = false;
      } else log.info({ ms, ...(reason ? { changed: reason } : {}) }, `daggr dev: reloaded in ${ms} ms${reason ? ` (${reason})` : ""}`);
      sendDiagnostics(c);
      // The next standby warms up now, while the app waits for its first edit.
      standby = spawnChild();
      c.exited.then((code) => {
        // Crashed after starting: say so, and wait for a fix like a load error.
        if (active !== c || code === 0) return;
        active = undefined;
        log.error({ exitCode: code }, `daggr dev: the app exited (code ${code}); waiting for a change…`);
      });
    } else {
      active = undefined;
      const code = await c.exited;
      if (code === EXIT_LOCKED) return done(EXIT_LOCKED);
      if (failure) await showFailure(failure);
      log.warn(`daggr dev: waiting for a change to ${basename(file)} (or a file it imports) to try again…`);
      standby = spawnChild();
    }
  };

  /** Serves the failure at the app's address until the next start; the first time, this picks the address. */
  const showFailure = async (failure: AppFailure) => {
    try {
      failing = await serveAppFailure(launch, failure);
      if (first) {
        const token = failing.token;
        Object.assign(launch, { port: failing.port, strictPort: true, ...(token ? { token } : {}) });
        const host = String(launch.host ?? process.env.GRADIO_SERVER_NAME ?? "127.0.0.1");
        const url = `http://${host.includes(":") ? `[${host}]` : host}:${failing.port}${token ? `/?token=${token}` : ""}`;
        log.info({ url }, `daggr dev: the app failed to load; its error is shown at ${url}${portNote(asked, failing.port)}`);
      }
    } catch (e) {
      debug("could not serve the failure", (e as Error).message);
    }
  };

  const restart = (reason: string) => {
    pending = reason;
    restarting ??= (async () => {
      try {
        while (pending !== undefined) {
          const why = pending;
          pending = undefined;
          // The second half of one save (its write after its truncation) that the last start already imported.
          if (loaded && sameStamps(loaded, stampAll())) {
            debug("no change since the last start:", why);
            continue;
          }
          await start(why).catch((e) => log.error(`daggr dev: could not restart: ${(e as Error).message}`));
        }
      } finally {
        restarting = undefined;
      }
    })();
  };

  // ── watching ───────────────────────────────────────────────────────────────
  const watchers = new Map<string, FSWatcher>();
  let files = new Set<string>();
  /** What each watched file looked like: reading a file can fire a watch event too (atime), which is no change. */
  const stamps = new Map<string, string>();
  const stamp = (f: string) => {
    try {
      const s = statSync(f);
      return `${s.mtimeMs}:${s.size}:${s.ino}`;
    } catch {
      return "gone";
    }
  };
  /** The watched files as the running app process imported them (its start's snapshot). */
  let loaded: Map<string, string> | undefined;
  const stampAll = () => new Map([...files].map((f) => [f, stamp(f)]));
  const sameStamps = (a: Map<string, string>, b: Map<string, string>) => a.size === b.size && [...a].every(([f, s]) => b.get(f) === s);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const changed = new Set<string>();
  const rescan = () => {
    files = new Set([...localImports(file)].filter((f) => !DAGGR_DIRS.some((d) => f.startsWith(d))));
    for (const f of files) if (!stamps.has(f)) stamps.set(f, stamp(f));
    const dirs = new Set([...files].map((f) => dirname(f)));
    for (const [d, w] of watchers) if (!dirs.has(d)) (w.close(), watchers.delete(d));
    for (const d of dirs) {
      if (watchers.has(d)) continue;
      try {
        watchers.set(
          d,
          watch(d, (_event, name) => {
            const f = name && resolve(d, name.toString());
            if (!f || !files.has(f)) return;
            const now = stamp(f);
            debug("watch", _event, f, stamps.get(f) === now ? "unchanged" : "changed");
            if (stamps.get(f) === now) return;
            stamps.set(f, now);
            changed.add(f);
            clearTimeout(timer);
            const empty = /:0:\d+$/.test(now); // size 0 in the stamp
            if (empty) debug("empty:", f, `(waiting up to ${EMPTY_FILE_WAIT_MS} ms for the rest of the save)`);
            timer = setTimeout(onChange, empty ? EMPTY_FILE_WAIT_MS : DEBOUNCE_MS);
          }),
        );
      } catch {
        // A directory that vanished: watched again once an import brings it back.
      }
    }
  };
  const onChange = () => {
    const list = [...changed];
    changed.clear();
    rescan();
    restart(list.map((f) => basename(f)).join(", "));
  };

  const shutdown = () => {
    for (const w of watchers.values()) w.close();
    void failing?.close();
    void Promise.all([stop(active), stop(standby), hosting?.then((h) => h.stopHostedSpaces()), checker?.close()]).then(() => done(0));
  };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);

  rescan();
  standby = spawnChild();
  restart("");
  const code = await finished;
  for (const w of watchers.values()) w.close();
  clearTimeout(timer);
  await Promise.all([stop(active), stop(standby), failing?.close(), hosting?.then((h) => h.stopHostedSpaces()), checker?.close()]);
  share?.close();
  return code;
}

/**
 * `daggr dev --share`: picks the port now (the next free one from the asked port),
 * opens the tunnel to it, and fixes port, token and the link's host name for every
 * child, so reloads keep the same public link. The token is required on every request.
 */
async function openDevShare(launch: Record<string, unknown>) {
  const { listen, DEFAULT_PORT } = await import("../server/options.js");
  const { openShare } = await import("../server/share.js");
  const { createServer } = await import("node:http");
  const { randomBytes } = await import("node:crypto");
  const host = String(launch.host ?? (process.env.GRADIO_SERVER_NAME || "127.0.0.1"));
  const probe = createServer();
  const port = await listen(probe, host, Number(launch.port ?? (process.env.GRADIO_SERVER_PORT || DEFAULT_PORT)), false);
  await new Promise((r) => probe.close(r));
  const share = await openShare({ host: host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host, port });
  const token = String(launch.token ?? (process.env.DAGGR_TOKEN || randomBytes(18).toString("base64url")));
  Object.assign(launch, { port, strictPort: true, token, shareHosts: [share.host] });
  log.info({ url: `${share.url}/?token=${token}` }, `daggr dev: public link (anyone with it can run this app's code): ${share.url}/?token=${token}`);
  return share;
}

function daggrDirs(here: string): string[] {
  let root = here;
  while (!existsSync(join(root, "package.json")) && dirname(root) !== root) root = dirname(root);
  return ["lib", "dist"].map((d) => join(root, d) + sep);
}

/** The local-Space host, loaded when an app first runs a Space locally. */
let hosting: Promise<typeof import("../nodes/local-space/host.js")> | undefined;
async function hostLocal(proc: ChildProcess, m: object) {
  hosting ??= import("../nodes/local-space/host.js");
  (await hosting).hostLocalSpace(proc, m as import("../nodes/local-space/protocol.js").EnsureMessage);
}

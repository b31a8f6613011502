import { raceSignal } from "../hf-retry.js";
import { DaggrError, ErrorCode, type GradioNode } from "../../graph/index.js";
import type { ExecContext, MetaCache } from "../../engine/executor.js";
import type { Progress } from "../../engine/events.js";
import { defaultHome } from "../../store/index.js";
import { apiCacheKey, type ApiSummary } from "../gradio-api.js";
import { LocalApp, stopAppsNow, sweepOrphans } from "./app-process.js";
import { fetchSpace } from "./fetch-space.js";
import { ensureEnv } from "./python-env.js";
import { checkLocalEnv } from "./space-id.js";
import { checkSpaceId } from "./space-id.js";

export { checkSpaceId } from "./space-id.js";
export { sweepOrphans, socketOwner } from "./app-process.js";
export { childEnv } from "./run-command.js";

/** Most restarts after a crash before the node falls back to the remote Space (or fails). */
export const MAX_RESTARTS = 5;

/** Settings read from the environment at first use of a Space; tests may override them. */
export const localTiming = {
  /** First restart delay; doubles per restart. */
  restartBaseMs: 1000,
};

/** Where a node's calls go. */
export interface LocalTarget {
  /** The local app's URL, or the Space id when falling back. */
  app: string;
  local: boolean;
  /** Why the local app is not used. */
  reason?: string;
  /** The context to run the job with: its signal also aborts (E_LOCAL_FAILED) if the local app dies meanwhile. */
  ctx: ExecContext;
}

type Stage = "fetch" | "env" | "install" | "launch" | "ready" | "restart" | "failed";

interface Entry {
  id: string;
  key: string;
  app?: LocalApp;
  /** Resolves when the app is ready (or settles as failed). */
  ready: Promise<void>;
  failure?: DaggrError;
  stage: Progress;
  listeners: Set<(p: Progress) => void>;
  restarts: number;
  /** Bumped at every crash, so an execution that began on an earlier run of the app knows. */
  generation: number;
  lastExit?: string;
  python?: string;
  files?: { dir: string; appFile: string; sha: string };
}

export interface LocalOptions {
  /** The state directory (default: DAGGR_HOME, else HF_HOME/daggr). */
  home?: string;
  cache?: MetaCache;
  /** A fixed port (tests). */
  port?: number;
  logMaxBytes?: number;
}

const entries = new Map<string, Entry>();
const seen = new WeakMap<ExecContext, number>();
let swept: string | undefined;

/**
 * The app a `runLocally` GradioNode calls. The first call for a Space (or
 * {@link startLocal} at start-up) prepares it: fetch the files at the pinned revision,
 * make the Python environment, install, launch, check it is the app; each stage is shown
 * on the node's card and in the terminal. Later calls reuse the running app, across
 * reloads of the graph module. If preparation fails, or the app crashed more than
 * {@link MAX_RESTARTS} times, the node uses the remote Space and says why, unless
 * `DAGGR_LOCAL_NO_FALLBACK=1` (then E_LOCAL_FAILED). A crash while this execution was
 * using the app fails it with E_LOCAL_FAILED (the app restarts for the next one).
 *
 * @example
 * const { app } = await localTarget(node, ctx); // "http://127.0.0.1:40123/"
 */
export async function localTarget(node: GradioNode, ctx: ExecContext, o: LocalOptions = {}): Promise<LocalTarget> {
  const entry = ensure(node, { cache: ctx.cache, ...o });
  const relay = (p: Progress) => ctx.progress(p);
  entry.listeners.add(relay);
  ctx.progress(entry.stage);
  try {
    await raceSignal(entry.ready, ctx.signal);
  } finally {
    entry.listeners.delete(relay);
  }
  if (entry.failure) {
    if (process.env.DAGGR_LOCAL_NO_FALLBACK === "1") throw entry.failure;
    const reason = entry.failure.message.replace(/^\[E_\w+\] /, "");
    ctx.progress({ text: `remote (local failed: ${reason})` });
    return { app: node.space, local: false, reason, ctx };
  }
  const given = seen.get(ctx);
  if (given !== undefined && given !== entry.generation) {
    throw new DaggrError(ErrorCode.LOCAL_FAILED, `Local Space '${entry.id}' crashed while running this node (${entry.lastExit}); it restarts for the next run (restart ${entry.restarts} of ${MAX_RESTARTS}). Log: ${entry.app?.log.path}`, {
      space: entry.id,
      exit: entry.lastExit,
    });
  }
  seen.set(ctx, entry.generation);
  const app = entry.app!;
  return { app: app.url, local: true, ctx: { ...ctx, signal: AbortSignal.any([ctx.signal, app.lost.signal]) } };
}

/** Starts preparing a node's local Space without waiting (start-up: validation time). */
export function startLocal(node: GradioNode, o: LocalOptions = {}): void {
  ensure(node, o);
}

/** Stops every local app this process started (the server's shutdown; process exit does it too). */
export async function stopLocalSpaces(): Promise<void> {
  const apps = [...entries.values()].map((e) => e.app).filter((a): a is LocalApp => !!a);
  entries.clear();
  await Promise.all(
    apps.map(
      (a) =>
        new Promise<void>((r) => {
          if (!a.child?.pid || a.child.exitCode !== null || a.child.signalCode !== null) return r();
          a.child.once("exit", () => r());
          a.stop();
        }),
    ),
  );
}

/** The running app of a Space, if any (tests, status). */
export function localApp(space: string): LocalApp | undefined {
  for (const e of entries.values()) if (e.id === space) return e.app;
  return undefined;
}

/** Stops every app of this process without the event loop (signals, exit). */
function stopAllNow() {
  stopAppsNow([...entries.values()].flatMap((e) => (e.app ? [e.app] : [])));
}
process.once("exit", stopAllNow);

const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
let signalsHooked = false;
/**
 * The apps run in their own process group (so their output and lifetime are daggr's to
 * manage), so a Ctrl-C or a SIGTERM to daggr does not reach them: they are stopped on
 * those signals here. The listener goes first and removes itself before anything else
 * hears the signal, so other listeners (the CLI's graceful close, a library's
 * exit-on-signal hook that only re-raises when it is alone) decide as if it were not
 * there; with no other listener the signal is raised again and daggr ends by it.
 */
function hookSignals() {
  if (signalsHooked) return;
  signalsHooked = true;
  const onSignal = (sig: NodeJS.Signals) => {
    for (const s of SIGNALS) process.removeListener(s, onSignal);
    signalsHooked = false;
    stopAllNow();
    if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
  };
  for (const s of SIGNALS) process.prependListener(s, onSignal);
}

function ensure(node: GradioNode, o: LocalOptions): Entry {
  const id = node.space;
  checkSpaceId(id);
  const revision = node.gradioOptions.revision;
  const key = `${id}@${revision ?? "head"}`;
  const home = o.home ?? defaultHome();
  if (swept !== home) {
    swept = home;
    const killed = sweepOrphans(home);
    if (killed.length) say(id, `removed ${killed.length} local app(s) left by a daggr that did not stop them (pids ${killed.join(", ")})`);
  }
  let entry = entries.get(key);
  if (entry) return entry;
  entry = { id, key, ready: Promise.resolve(), stage: { text: "local: fetch" }, listeners: new Set(), restarts: 0, generation: 0 };
  entries.set(key, entry);
  const e = entry;
  e.ready = prepare(e, node, home, o).catch((err) => {
    e.failure = err instanceof DaggrError ? err : new DaggrError(ErrorCode.LOCAL_FAILED, `Local Space '${id}': ${(err as Error).message}`, { space: id });
    stage(e, "failed", e.failure.message);
  });
  return e;
}

function stage(e: Entry, s: Stage, detail?: string, fraction?: number) {
  e.stage = { text: `local: ${s}${detail ? ` — ${detail}` : ""}`, ...(fraction !== undefined ? { fraction } : {}) };
  say(e.id, e.stage.text!);
  for (const l of e.listeners) l(e.stage);
}

function say(id: string, text: string) {
  if (process.env.DAGGR_LOCAL_QUIET !== "1") process.stderr.write(`daggr: Space ${id} ${text}\n`);
}

async function prepare(e: Entry, node: GradioNode, home: string, o: LocalOptions): Promise<void> {
  const localEnv = checkLocalEnv(node.gradioOptions.localEnv);
  stage(e, "fetch", node.gradioOptions.revision ? `at ${node.gradioOptions.revision}` : undefined, 0);
  const files = await fetchSpace(e.id, { home, revision: node.gradioOptions.revision, update: process.env.DAGGR_UPDATE_SPACES === "1", log: (t) => say(e.id, t) });
  e.files = { dir: files.dir, appFile: files.appFile, sha: files.sha };
  stage(e, "env", `${files.sha.slice(0, 8)}`, 0.25);
  const env = await ensureEnv(files, { home, onInstall: (what) => stage(e, "install", what, 0.5) });
  say(e.id, env.note);
  e.python = env.python;
  const api = o.cache ? await o.cache.get<ApiSummary>(apiCacheKey(e.id)).catch(() => undefined) : undefined;
  const known = api ? Object.keys(api.endpoints).filter((n) => !/^\/\d+$/.test(n)) : [];
  const expect = [...new Set([node.apiName, ...known])];
  await launch(e, { expect, exact: !!api && !node.gradioOptions.revision, home, localEnv, o });
}

interface LaunchArgs {
  expect: string[];
  exact: boolean;
  home: string;
  localEnv: string[];
  o: LocalOptions;
}

async function launch(e: Entry, a: LaunchArgs): Promise<void> {
  stage(e, "launch", undefined, 0.75);
  const timeoutMs = Number(process.env.DAGGR_LOCAL_TIMEOUT ?? 120) * 1000;
  const app = new LocalApp({
    id: e.id,
    dir: e.files!.dir,
    appFile: e.files!.appFile,
    python: e.python!,
    home: a.home,
    localEnv: a.localEnv,
    expectEndpoints: a.expect,
    exactEndpoints: a.exact,
    timeoutMs: Number.isFinite(timeoutMs) && timeoutMs > 0 ? timeoutMs : 120_000,
    ...(a.o.port ? { port: a.o.port } : {}),
    ...(a.o.logMaxBytes ? { logMaxBytes: a.o.logMaxBytes } : {}),
  });
  e.app = app;
  hookSignals();
  await app.start();
  stage(e, "ready", app.url, 1);
  app.once("exit", (why: string, wasReady: boolean) => {
    if (!wasReady || entries.get(e.key) !== e) return;
    e.generation++;
    e.lastExit = why;
    if (e.restarts >= MAX_RESTARTS) {
      e.failure = new DaggrError(ErrorCode.LOCAL_FAILED, `Local Space '${e.id}' crashed ${e.restarts + 1} times (last: ${why}); last output: ${app.log.tail(4)}`, { space: e.id });
      stage(e, "failed", e.failure.message);
      e.ready = Promise.resolve();
      return;
    }
    e.restarts++;
    const delay = localTiming.restartBaseMs * 2 ** (e.restarts - 1);
    stage(e, "restart", `crashed (${why}); restart ${e.restarts} of ${MAX_RESTARTS} in ${delay} ms`);
    e.ready = new Promise<void>((r) => setTimeout(r, delay).unref?.()).then(() => launch(e, a)).catch((err) => {
      e.failure = err instanceof DaggrError ? err : new DaggrError(ErrorCode.LOCAL_FAILED, String(err), { space: e.id });
      stage(e, "failed", e.failure.message);
    });
  });
}

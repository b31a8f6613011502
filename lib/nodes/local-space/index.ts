import { raceSignal } from "../hf-retry.js";
import { DaggrError, ErrorCode, type GradioNode } from "../../graph/index.js";
import type { ExecContext, MetaCache } from "../../engine/executor.js";
import type { Progress } from "../../engine/events.js";
import { defaultHome } from "../../home.js";
import { log } from "../../log.js";
import { apiCacheKey, type ApiSummary } from "../gradio-api.js";
import { LocalApp, stopAppsNow, sweepOrphans } from "./app-process.js";
import { fetchSpace } from "./fetch-space.js";
import { ensureEnv } from "./python-env.js";
import { checkLocalEnv, checkSpaceId } from "../../graph/space-id.js";
import { proxies, proxyFor, viaDevCommand } from "./dev-proxy.js";
import { type Expected, type Handle, type LocalSpec, keyOf } from "./protocol.js";

export { checkSpaceId } from "../../graph/space-id.js";
export { sweepOrphans, socketOwner } from "./app-process.js";
export { childEnv } from "./run-command.js";
export { type Expected, type Handle, type LocalSpec, keyOf } from "./protocol.js";

/** Most restarts after a crash before the node falls back to the remote Space (or fails). */
export const MAX_RESTARTS = 5;

/** Launches of an app whose offered port is taken each time before it binds it, before E_LOCAL_FAILED. */
export const PORT_TRIES = 3;

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
  /** The local copy's commit. */
  revision?: string;
  /** The context to run the job with: its signal also aborts (E_LOCAL_FAILED) if the local app dies meanwhile. */
  ctx: ExecContext;
}

type Stage = "fetch" | "env" | "install" | "launch" | "ready" | "restart" | "failed";

export interface Entry extends Handle {
  app?: LocalApp;
  python?: string;
  files?: { dir: string; appFile: string; sha: string };
  /** Processes told of every change (`daggr dev`'s app processes). */
  watchers: Set<(e: Entry) => void>;
  /** Stopped (the server closed) while it was still preparing: it must not launch. */
  stopped?: boolean;
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
 * on the node's card and in the terminal. Later calls reuse the running app; under
 * `daggr dev` the command itself runs it (see host.ts), so it survives reloads of the
 * app. The app is keyed by Space, revision and `localEnv` values: a change of any
 * relaunches it. If preparation fails, or the app crashed more than
 * {@link MAX_RESTARTS} times, the node uses the remote Space and says why, unless
 * `DAGGR_LOCAL_NO_FALLBACK=1` (then E_LOCAL_FAILED). A crash while this execution was
 * using the app fails it with E_LOCAL_FAILED (the app restarts for the next one).
 *
 * @example
 * const { app } = await localTarget(node, ctx); // "http://127.0.0.1:40123/"
 */
export async function localTarget(node: GradioNode, ctx: ExecContext, o: LocalOptions = {}): Promise<LocalTarget> {
  const entry = handleFor(node, { cache: ctx.cache, ...o });
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
    throw new DaggrError(ErrorCode.LOCAL_FAILED, `Local Space '${entry.id}' crashed while running this node (${entry.lastExit}); it restarts for the next run (restart ${entry.restarts} of ${MAX_RESTARTS}). Log: ${entry.logPath}`, {
      space: entry.id,
      exit: entry.lastExit,
    });
  }
  seen.set(ctx, entry.generation);
  return { app: entry.url!, local: true, ...(entry.revision ? { revision: entry.revision } : {}), ctx: withSignal(ctx, AbortSignal.any([ctx.signal, entry.lost!])) };
}

/** `ctx` with another signal. The engine's contexts keep `progress`, `partial` and more as getters on a class, which a spread would drop. */
function withSignal(ctx: ExecContext, signal: AbortSignal): ExecContext {
  return new Proxy(ctx, {
    get(target, key) {
      if (key === "signal") return signal;
      const v: unknown = Reflect.get(target, key, target);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

/** Starts preparing a node's local Space without waiting (start-up: validation time). */
export function startLocal(node: GradioNode, o: LocalOptions = {}): void {
  handleFor(node, o);
}

/** Stops every local app this process started (the server's shutdown; process exit does it too). */
export async function stopLocalSpaces(): Promise<void> {
  proxies.clear();
  await stopEntries([...entries.values()]);
}

/** Stops these apps and forgets them. */
export async function stopEntries(list: readonly Entry[]): Promise<void> {
  for (const e of list) {
    e.stopped = true;
    if (entries.get(e.key) === e) entries.delete(e.key);
  }
  const apps = list.map((e) => e.app).filter((a): a is LocalApp => !!a);
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

/** The handle of a node's local app: this process's own, or under `daggr dev` a proxy of the command's. */
function handleFor(node: GradioNode, o: LocalOptions): Handle {
  const spec = specOf(node, o);
  const expected = () => expectedOf(node, o.cache);
  return viaDevCommand() ? proxyFor(spec, expected) : ensure(spec, expected);
}

/** The spec of a node's local app; the Space id is checked before it reaches a path or a process. */
export function specOf(node: GradioNode, o: LocalOptions = {}): LocalSpec {
  checkSpaceId(node.space);
  const env = checkLocalEnv(node.gradioOptions.localEnv).flatMap((item) => (item.includes("=") ? [item] : process.env[item] !== undefined ? [`${item}=${process.env[item]}`] : []));
  return {
    id: node.space,
    ...(node.gradioOptions.revision ? { revision: node.gradioOptions.revision } : {}),
    env,
    home: o.home ?? defaultHome(),
    ...(o.port ? { port: o.port } : {}),
    ...(o.logMaxBytes ? { logMaxBytes: o.logMaxBytes } : {}),
  };
}

/** The node's endpoint and, once known (cached API), the Space's whole API: what the app must serve. */
async function expectedOf(node: GradioNode, cache: MetaCache | undefined): Promise<Expected> {
  const api = cache ? await cache.get<ApiSummary>(apiCacheKey(node.space)).catch(() => undefined) : undefined;
  const known = api ? Object.keys(api.endpoints).filter((n) => !/^\/\d+$/.test(n)) : [];
  return { expect: [...new Set([node.apiName, ...known])], exact: !!api && !node.gradioOptions.revision };
}

/** This process's app for `spec`, prepared (once) in the background. */
export function ensure(spec: LocalSpec, expected: () => Promise<Expected>): Entry {
  const id = spec.id;
  const key = keyOf(spec);
  if (swept !== spec.home) {
    swept = spec.home;
    const killed = sweepOrphans(spec.home);
    if (killed.length) say(id, `removed ${killed.length} local app(s) left by a daggr that did not stop them (pids ${killed.join(", ")})`);
  }
  let entry = entries.get(key);
  if (entry) return entry;
  entry = { id, key, ready: Promise.resolve(), stage: { text: "local: fetch" }, phase: "preparing", listeners: new Set(), watchers: new Set(), restarts: 0, generation: 0 };
  entries.set(key, entry);
  const e = entry;
  e.ready = prepare(e, spec, expected).catch((err) => {
    e.failure = err instanceof DaggrError ? err : new DaggrError(ErrorCode.LOCAL_FAILED, `Local Space '${id}': ${(err as Error).message}`, { space: id });
    stage(e, "failed", e.failure.message);
  });
  return e;
}

/** Every app this process runs. */
export function localEntries(): Entry[] {
  return [...entries.values()];
}

function stage(e: Entry, s: Stage, detail?: string, fraction?: number) {
  e.stage = { text: `local: ${s}${detail ? ` — ${detail}` : ""}`, ...(fraction !== undefined ? { fraction } : {}) };
  e.phase = s === "ready" ? "ready" : s === "failed" ? "failed" : "preparing";
  say(e.id, e.stage.text!);
  for (const l of e.listeners) l(e.stage);
  for (const w of e.watchers) w(e);
}

function say(id: string, text: string) {
  if (process.env.DAGGR_LOCAL_QUIET !== "1") log.info({ space: id }, `Space ${id} ${text}`);
}

async function prepare(e: Entry, spec: LocalSpec, expected: () => Promise<Expected>): Promise<void> {
  stage(e, "fetch", spec.revision ? `at ${spec.revision}` : undefined, 0);
  const files = await fetchSpace(e.id, { home: spec.home, revision: spec.revision, update: process.env.DAGGR_UPDATE_SPACES === "1", log: (t) => say(e.id, t) });
  e.files = { dir: files.dir, appFile: files.appFile, sha: files.sha };
  e.revision = files.sha;
  stage(e, "env", `${files.sha.slice(0, 8)}`, 0.25);
  const env = await ensureEnv(files, { home: spec.home, onInstall: (what) => stage(e, "install", what, 0.5) });
  say(e.id, env.note);
  e.python = env.python;
  const { expect, exact } = await expected();
  await launch(e, { expect, exact, spec });
}

interface LaunchArgs {
  expect: string[];
  exact: boolean;
  spec: LocalSpec;
}

async function launch(e: Entry, a: LaunchArgs): Promise<void> {
  if (e.stopped) throw new DaggrError(ErrorCode.LOCAL_FAILED, `Local Space '${e.id}' was stopped before it launched.`, { space: e.id });
  stage(e, "launch", undefined, 0.75);
  const timeoutMs = Number(process.env.DAGGR_LOCAL_TIMEOUT ?? 120) * 1000;
  const taken: number[] = [];
  let app: LocalApp;
  // An app that ends because the port it was offered got taken before it bound it is
  // launched again on another port; gradio's own launch() rarely gets there (it scans on).
  for (;;) {
    app = new LocalApp({
      id: e.id,
      dir: e.files!.dir,
      appFile: e.files!.appFile,
      python: e.python!,
      home: a.spec.home,
      localEnv: a.spec.env,
      expectEndpoints: a.expect,
      exactEndpoints: a.exact,
      timeoutMs: Number.isFinite(timeoutMs) && timeoutMs > 0 ? timeoutMs : 120_000,
      ...(a.spec.port && !taken.length ? { port: a.spec.port } : {}),
      ...(a.spec.logMaxBytes ? { logMaxBytes: a.spec.logMaxBytes } : {}),
    });
    e.app = app;
    e.logPath = app.log.path;
    hookSignals();
    try {
      await app.start();
      break;
    } catch (err) {
      if (!app.portTaken || e.stopped) throw err;
      taken.push(app.offered);
      if (taken.length >= PORT_TRIES) {
        throw new DaggrError(
          ErrorCode.LOCAL_FAILED,
          `Local Space '${e.id}' could not bind a port: ports ${taken.join(", ")} were each taken before it started (${PORT_TRIES} tries). Last output: ${app.log.tail(3)} (log: ${app.log.path})`,
          { space: e.id, ports: [...taken] },
        );
      }
      stage(e, "launch", `port ${app.offered} was taken before the app bound it; launching on another`, 0.75);
    }
  }
  if (e.stopped) {
    // Stopped while it started: the stop found no process yet.
    app.stop();
    throw new DaggrError(ErrorCode.LOCAL_FAILED, `Local Space '${e.id}' was stopped while it started.`, { space: e.id });
  }
  e.url = app.url;
  e.lost = app.lost.signal;
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

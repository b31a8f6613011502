/**
 * The process `daggr dev` runs an app in. It starts as a warm standby: node, the
 * TypeScript loader and daggr itself are loaded ahead of time, so a restart only has to
 * import the app's own files and bind the port. On a change the parent ends the
 * running child and hands over to this one.
 *
 * Messages from the parent: `prepare` (import the app now; launching waits) and `go`
 * (the previous process has let go of the port and the database: launch).
 * Messages to the parent: `ready` (preloaded), `listening` ({ url, port, token }),
 * `failed` (the app did not load: what the canvas overlay shows).
 * Exit codes: 2 the app failed to load (printed), 3 the database is locked.
 */
import { log } from "../server/log.js";
import { type AppFailure, EXIT_APP_FAILED, EXIT_LOCKED, describeAppError, isLocked, logAppError, printNodeFailures, serveApp } from "./app.js";
import { loadAppsAsEsm } from "./esm.js";
import type { DiagnosticWire } from "../protocol.js";

export type ChildMessage =
  | { type: "ready" }
  | { type: "listening"; url: string; port: number; token?: string }
  | { type: "failed"; failure: AppFailure };
export type ParentMessage =
  | { type: "prepare"; app: string; launch: Record<string, unknown> }
  | { type: "go" }
  /** `--typecheck`: the app's type errors after the last check (the canvas shows them). */
  | { type: "diagnostics"; errors: DiagnosticWire[] };

const send = (m: ChildMessage) => process.send?.(m);
let app = "";
let serving = false;

const fail = (e: unknown) => {
  if (serving) log.fatal({ err: e }, `${app} crashed: ${(e as Error)?.stack ?? e}`);
  else logAppError(e, app);
  const code = isLocked(e) ? EXIT_LOCKED : EXIT_APP_FAILED;
  // The parent shows a load failure in the open tabs; it needs the message before the exit.
  if (serving || code === EXIT_LOCKED || !process.send || !process.connected) process.exit(code);
  process.send({ type: "failed", failure: describeAppError(e, app) } satisfies ChildMessage, () => process.exit(code));
};
process.on("uncaughtException", fail);
process.on("unhandledRejection", fail);
process.on("disconnect", () => process.exit(0));

loadAppsAsEsm();
const server = await import("../server/index.js");
await printNodeFailures();
await import("../index.js");
await import("../store/index.js");
// Build the canvas bundle while waiting, so a page reload after a restart is instant.
void import("../server/page.js").then((p) => p.asset("daggr-canvas.js")).catch(() => undefined);

process.on("SIGTERM", () => {
  const t0 = performance.now();
  const timer = setTimeout(() => process.exit(0), 500);
  void Promise.all([...server.running].map((s) => s.close())).finally(() => {
    clearTimeout(timer);
    log.debug(`child ${process.pid} closed in ${Math.round(performance.now() - t0)} ms`);
    process.exit(0);
  });
});

let go!: () => void;
server.gate.open = new Promise<void>((r) => (go = r));

process.on("message", (m: ParentMessage) => {
  if (m?.type === "go") return go();
  if (m?.type === "diagnostics") return server.showDiagnostics(m.errors);
  if (m?.type !== "prepare") return;
  app = m.app;
  process.env.DAGGR_CLI_LAUNCH = JSON.stringify(m.launch);
  serveApp(m.app).then((s) => {
    serving = true;
    send({ type: "listening", url: s.url, port: s.port, ...(s.token ? { token: s.token } : {}) });
  }, fail);
});

send({ type: "ready" });

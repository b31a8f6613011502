/**
 * Under `daggr dev` the app runs in a process that ends at every reload, so its local
 * Spaces are run by the `daggr dev` command instead (host.ts) and survive the reloads.
 * Here, in the app's process, a node's handle is a proxy kept up to date by the command's
 * state messages over the IPC channel.
 */
import { DaggrError, ErrorCode } from "../../graph/index.js";
import { type EnsureMessage, type Expected, type Handle, type LocalSpec, type StateMessage, keyOf } from "./protocol.js";

interface Proxy extends Handle {
  lostControl: AbortController;
  /** Settles `ready` (while preparing). */
  settle?: () => void;
}

export const proxies = new Map<string, Proxy>();
let listening = false;

/** Whether this process is an app process of `daggr dev`, whose command runs the local Spaces. */
export function viaDevCommand(): boolean {
  return process.env.DAGGR_CLI_CHILD === "1" && typeof process.send === "function" && process.connected === true;
}

/** The proxy of the command's app for `spec`; the first ask for a key sends the command an `ensure`. */
export function proxyFor(spec: LocalSpec, expected: () => Promise<Expected>): Handle {
  const key = keyOf(spec);
  const known = proxies.get(key);
  if (known) return known;
  const p: Proxy = { id: spec.id, key, ready: Promise.resolve(), stage: { text: "local: fetch" }, phase: "preparing", listeners: new Set(), restarts: 0, generation: 0, lostControl: new AbortController() };
  p.ready = new Promise<void>((r) => (p.settle = r));
  proxies.set(key, p);
  if (!listening) {
    listening = true;
    process.on("message", (m: StateMessage) => {
      if (m?.type === "local-space" && m.op === "state") apply(m);
    });
  }
  void expected()
    .catch((): Expected => ({ expect: [], exact: false }))
    .then((exp) => process.send?.({ type: "local-space", op: "ensure", spec, expected: exp } satisfies EnsureMessage));
  return p;
}

function apply(m: StateMessage) {
  const p = proxies.get(m.key);
  if (!p) return;
  if (m.generation > p.generation) {
    // The app exited after it was ready: jobs that were using it stop now.
    p.lostControl.abort(new DaggrError(ErrorCode.LOCAL_FAILED, `Local Space '${p.id}' crashed while running this node (${m.lastExit}); it restarts for the next run.${m.logPath ? ` Log: ${m.logPath}` : ""}`, { space: p.id, exit: m.lastExit }));
    p.lostControl = new AbortController();
  }
  Object.assign(p, { generation: m.generation, restarts: m.restarts, lastExit: m.lastExit, stage: m.stage, phase: m.phase, url: m.url, logPath: m.logPath, revision: m.revision, lost: p.lostControl.signal });
  if (m.phase === "preparing") {
    if (!p.settle) p.ready = new Promise<void>((r) => (p.settle = r));
  } else {
    p.failure = m.failure ? new DaggrError(m.failure.code, m.failure.message.replace(/^\[E_\w+\] /, ""), m.failure.details) : undefined;
    p.settle?.();
    p.settle = undefined;
  }
  for (const l of p.listeners) l(p.stage);
}

/**
 * The `daggr dev` command's side of dev-proxy.ts: it runs the local Spaces its app
 * processes ask for, so a reload (a new app process) finds the app running and does not
 * relaunch it. An app no live process uses is stopped once another app of the same Space
 * (a new revision or environment) is in use; all stop with the command.
 */
import type { ChildProcess } from "node:child_process";
import { type Entry, ensure, localEntries, stopEntries, stopLocalSpaces } from "./index.js";
import { type EnsureMessage, stateOf } from "./protocol.js";

const watching = new WeakMap<ChildProcess, Map<Entry, (e: Entry) => void>>();

/** Serves an app process's `ensure`: runs (or reuses) the app and keeps the process told of its state. */
export function hostLocalSpace(child: ChildProcess, m: EnsureMessage): void {
  if (m.op !== "ensure") return;
  const entry = ensure(m.spec, async () => m.expected);
  let mine = watching.get(child);
  if (!mine) {
    const list = new Map<Entry, (e: Entry) => void>();
    watching.set(child, (mine = list));
    child.once("exit", () => {
      for (const [e, w] of list) e.watchers.delete(w);
      list.clear();
      void prune();
    });
  }
  if (!mine.has(entry)) {
    const tell = (e: Entry) => {
      if (child.connected) child.send(stateOf(e), () => {});
    };
    mine.set(entry, tell);
    entry.watchers.add(tell);
  }
  mine.get(entry)!(entry);
  void prune();
}

/** Stops the apps no process uses when another app of their Space is in use (its revision or environment changed). */
function prune(): Promise<void> {
  const all = localEntries();
  const used = new Set(all.filter((e) => e.watchers.size).map((e) => e.id));
  return stopEntries(all.filter((e) => !e.watchers.size && used.has(e.id)));
}

/** Stops every app (the command ends). */
export const stopHostedSpaces = stopLocalSpaces;

import { EventEmitter } from "node:events";
import { type DiagnosticWire, type DiagnosticsMessage, MAX_DIAGNOSTICS, PROTOCOL_VERSION } from "../protocol.js";

/**
 * The app's type errors as `daggr dev --typecheck` last found them, shared by every server
 * of the process (on `globalThis`, like the `daggr` command's other hooks, so an app that
 * imports another copy of daggr sees the same). Undefined until a check has run.
 */
interface State {
  errors: readonly DiagnosticWire[] | undefined;
  changes: EventEmitter<{ change: [] }>;
}
const state: State = ((globalThis as { [k: symbol]: State })[Symbol.for("daggr.diagnostics")] ??= { errors: undefined, changes: new EventEmitter() });
state.changes.setMaxListeners(0);

/** Sets the type errors every open tab shows (an empty list clears them). */
export function showDiagnostics(errors: readonly DiagnosticWire[] | undefined): void {
  state.errors = errors;
  state.changes.emit("change");
}

/** The message a tab gets for the current type errors, or undefined before the first check. */
export function diagnosticsMessage(): DiagnosticsMessage | undefined {
  const errors = state.errors;
  return errors && { v: PROTOCOL_VERSION, type: "diagnostics", errors: errors.slice(0, MAX_DIAGNOSTICS), total: errors.length };
}

/** Calls `send` with the current type errors now (once a check has run) and on each change; returns the unsubscribe. */
export function followDiagnostics(send: (m: DiagnosticsMessage) => void): () => void {
  const push = () => {
    const m = diagnosticsMessage();
    if (m) send(m);
  };
  push();
  state.changes.on("change", push);
  return () => void state.changes.off("change", push);
}

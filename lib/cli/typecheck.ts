import { type ChildProcess, spawn } from "node:child_process";
import type { DiagnosticWire } from "../protocol.js";
import { log } from "../server/log.js";
import type { CheckerMessage, CheckerRequest } from "./typecheck-child.js";

/** Type errors printed to the terminal per check; the canvas gets the first 50, and all are counted. */
const PRINTED = 20;

export interface Typecheck {
  close(): Promise<void>;
}

/**
 * `daggr dev --typecheck`: checks the app's types in a process of its own (typecheck-child.ts,
 * TypeScript's watch program, which follows the app's files itself) and calls `onChecked`
 * after each check with its errors, once it has printed them. `entry` is the `daggr`
 * command's own file, run with `DAGGR_CLI_CHILD=typecheck`.
 */
export function startTypecheck(app: string, entry: string, onChecked: (errors: DiagnosticWire[]) => void): Typecheck {
  const proc: ChildProcess = spawn(process.execPath, ["--import", import.meta.resolve("tsx"), entry], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    env: { ...process.env, DAGGR_CLI_CHILD: "typecheck" },
  });
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  let last: string | undefined;
  proc.on("message", (m: CheckerMessage) => {
    if (m?.type === "unavailable") return void log.error(m.message);
    if (m?.type !== "checked") return;
    const signature = JSON.stringify(m.errors);
    if (signature === last) return; // a re-check with the same result: said already
    last = signature;
    report(m.errors);
    onChecked(m.errors);
  });
  proc.send({ type: "start", app } satisfies CheckerRequest);
  log.debug("type check started");
  return {
    async close() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      await exited;
    },
  };
}

/** The errors as the terminal shows them: `file:line:column TS1234: message`, one line each. */
function report(errors: DiagnosticWire[]): void {
  if (!errors.length) return void log.info("type check: no errors");
  for (const e of errors.slice(0, PRINTED)) {
    const where = e.file ? `${e.file}:${e.line}:${e.column} ` : "";
    log.error({ code: e.code, ...(e.file ? { file: e.file, line: e.line, column: e.column } : {}) }, `${where}${e.code}: ${e.message}`);
  }
  const more = errors.length > PRINTED ? ` (the first ${PRINTED} above)` : "";
  log.warn({ errors: errors.length }, `type check: ${errors.length} error${errors.length === 1 ? "" : "s"}${more}; the app still runs`);
}

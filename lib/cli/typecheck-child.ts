/**
 * The process `daggr dev --typecheck` checks the app's types in: TypeScript's own watch
 * program (incremental, on the project's tsconfig.json, or strict defaults for a lone
 * file), so the dev server and the app never wait for it. After each check it sends the
 * errors to the parent, which prints them and hands them to the app's server.
 *
 * TypeScript comes from the app's project (a `daggr init` project has it), else from
 * daggr's own install; without either it says so once.
 */
import { createRequire } from "node:module";
import { dirname, join, relative, sep } from "node:path";
import type { Diagnostic } from "typescript";
import type { DiagnosticWire } from "../protocol.js";

type TS = typeof import("typescript");
export type CheckerMessage = { type: "checked"; errors: DiagnosticWire[] } | { type: "unavailable"; message: string };
export type CheckerRequest = { type: "start"; app: string };

/** TypeScript's watch statuses: a check starts (6031 first, 6032 after a change) and ends (6193 one error, 6194 any other count). */
const STARTED = new Set([6031, 6032]);
const FINISHED = new Set([6193, 6194]);

const send = (m: CheckerMessage) => process.send?.(m);
process.on("disconnect", () => process.exit(0));
process.once("message", (m: CheckerRequest) => {
  if (m?.type === "start") watchTypes(m.app);
});

function loadTypescript(appDir: string): TS | undefined {
  for (const from of [join(appDir, "package.json"), import.meta.url]) {
    try {
      return createRequire(from)("typescript") as TS;
    } catch {
      // not installed there
    }
  }
  return undefined;
}

function watchTypes(app: string): void {
  const ts = loadTypescript(dirname(app));
  if (!ts) return void send({ type: "unavailable", message: "--typecheck needs TypeScript in the app's project: npm install -D typescript" });
  const where = (file: string) => {
    const rel = relative(process.cwd(), file);
    return rel.startsWith(`..${sep}`) ? file : rel;
  };
  const toWire = (d: Diagnostic): DiagnosticWire => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, "\n");
    if (!d.file || d.start === undefined) return { code: `TS${d.code}`, message };
    const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
    return { code: `TS${d.code}`, message, file: where(d.file.fileName), line: line + 1, column: character + 1 };
  };
  let found: DiagnosticWire[] = [];
  const onDiagnostic = (d: Diagnostic) => {
    if (d.category === ts.DiagnosticCategory.Error) found.push(toWire(d));
  };
  const onStatus = (d: Diagnostic) => {
    if (STARTED.has(d.code)) found = [];
    else if (FINISHED.has(d.code)) send({ type: "checked", errors: found });
  };
  const config = ts.findConfigFile(dirname(app), ts.sys.fileExists);
  if (config) {
    ts.createWatchProgram(ts.createWatchCompilerHost(config, { noEmit: true }, ts.sys, ts.createSemanticDiagnosticsBuilderProgram, onDiagnostic, onStatus));
    return;
  }
  const defaults = {
    noEmit: true,
    strict: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
  };
  ts.createWatchProgram(ts.createWatchCompilerHost([app], defaults, ts.sys, ts.createSemanticDiagnosticsBuilderProgram, onDiagnostic, onStatus));
}

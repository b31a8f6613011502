import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { INTERNAL_FRAME, shortPath, userFrame } from "../graph/frames.js";
import type { LaunchedServer, NodeFailure } from "../server/index.js";
import { log } from "../server/log.js";

/** What the server needs from an app's export; checked by shape, so any copy of daggr works. */
export interface GraphLike {
  name: string;
  nodes: readonly unknown[];
  launch(options?: object): Promise<{ url: string; close(): Promise<void> }>;
}

export function isGraph(x: unknown): x is GraphLike {
  const g = x as GraphLike | undefined;
  return !!g && typeof g === "object" && typeof g.launch === "function" && Array.isArray(g.nodes) && typeof g.name === "string";
}

/** The exit code of a daggr process that found its database held by another one. */
export const EXIT_LOCKED = 3;
/** The exit code of an app that failed to load (the dev server waits for a fix). */
export const EXIT_APP_FAILED = 2;

/** An app problem to print as is, without a stack. */
export class AppError extends Error {}

/**
 * Imports an app and serves it: the graph it exports by default (or as `graph`, or its
 * only Graph export), unless importing it launched a server already (`await
 * graph.launch()` at the top level). Host, port and token come from `DAGGR_CLI_LAUNCH`,
 * which beats the app's own launch options. A TypeScript loader must be registered.
 */
export async function serveApp(file: string): Promise<LaunchedServer> {
  const server = await import("../server/index.js");
  let started = false;
  const onStart = () => (started = true);
  server.launches.on("starting", onStart);
  try {
    const listening = new Promise<LaunchedServer>((ok) => server.launches.once("listening", ok));
    const mod = (await import(pathToFileURL(resolve(file)).href)) as Record<string, unknown>;
    // An app that calls launch() without awaiting it has started by the next turn.
    await new Promise((r) => setImmediate(r));
    if (started) return await listening;
    const graph = pickGraph(mod);
    if (!graph) {
      const names = Object.keys(mod);
      throw new AppError(
        `${shortPath(file)} neither exports a Graph nor calls graph.launch(). ` +
          `Add \`export default new Graph({ name: "…", nodes: [...] })\`${names.length ? ` (its exports: ${names.join(", ")})` : ""}.`,
      );
    }
    await graph.launch();
    return await listening;
  } finally {
    server.launches.off("starting", onStart);
  }
}

function pickGraph(mod: Record<string, unknown>): GraphLike | undefined {
  if (isGraph(mod.default)) return mod.default;
  if (isGraph(mod.graph)) return mod.graph;
  const all = Object.values(mod).filter(isGraph);
  return all.length === 1 ? all[0] : undefined;
}

/** True for the store's "already in use by another daggr process" error. */
export function isLocked(e: unknown): boolean {
  return (e as { code?: string } | undefined)?.code === "E_STORE_LOCKED";
}

/**
 * An app's load error as a person wants to read it: the message (a TypeScript syntax
 * error carries its file:line:column), then the app's own stack frames, not node's or
 * daggr's internals.
 */
export function formatAppError(e: unknown, file: string): string {
  if (e instanceof AppError) return `✖ ${e.message}`;
  const err = e instanceof Error ? e : new Error(String(e));
  const head = `✖ ${shortPath(file)} failed to load: ${compileErrors(err.message.trim())}`;
  if (isLocked(err)) return `✖ ${err.message}`;
  const frames = (err.stack ?? "")
    .split("\n")
    .filter((l) => /^\s+at /.test(l))
    .filter((l) => !INTERNAL_FRAME.test(l))
    .slice(0, 5)
    .map((l) => `  ${l.trim().replace(/file:\/\//, "")}`);
  return [head, ...frames].join("\n");
}

/**
 * esbuild's compile errors as an editor reads them: without its "Transform failed with 1
 * error:" preamble, each `file:line:column` with a short path and a 1-based column (esbuild
 * counts columns from 0, so `app.ts:3:71` pointed one character before the mistake).
 */
function compileErrors(message: string): string {
  return message
    .replace(/^Transform failed with \d+ errors?:\n/, "")
    .replace(/(^|\n)(\s*)([^\s:][^:\n]*\.[cm]?[jt]sx?):(\d+):(\d+): ERROR: /g, (_, nl: string, sp: string, f: string, l: string, c: string) => `${nl}${sp}${shortPath(f)}:${l}:${Number(c) + 1}: ERROR: `);
}

/** An app's load failure as the canvas overlay shows it (the `details` of an `E_APP_FAILED` message). */
export interface AppFailure {
  /** The message, without the `[E_…]` prefix of a DaggrError. */
  message: string;
  /** A DaggrError's code, or "SyntaxError", "TypeError"… for other errors. */
  code: string;
  /** Where: the app's own file, line and column (1-based), when known. */
  file?: string;
  line?: number;
  column?: number;
  /** The full text the terminal printed. */
  text: string;
}

/**
 * Where an app's load error happened and what it says: a compile error names its
 * `file:line:column` in the message (esbuild's `file:1:2: ERROR: …`); a throw, in its
 * first stack frame outside node's and daggr's own code.
 */
export function describeAppError(e: unknown, file: string): AppFailure {
  const err = e instanceof Error ? e : new Error(String(e));
  const text = formatAppError(e, file);
  const own = (err as { code?: unknown }).code;
  const code = typeof own === "string" && /^E_/.test(own) ? own : err.name || "Error";
  let message = err.message.replace(/^\[E_[A-Z_]+\] /, "").trim();
  if (e instanceof AppError) message = e.message;
  const compile = /(?:^|\n)\s*([^\s:][^:\n]*\.[cm]?[jt]sx?):(\d+):(\d+): ERROR: (.*)/.exec(err.message);
  if (compile) {
    return { message: compile[4]!.trim(), code: "SyntaxError", file: shortPath(compile[1]!), line: Number(compile[2]), column: Number(compile[3]) + 1, text };
  }
  const at = userFrame(err.stack);
  return at ? { message, code, ...at, text } : { message, code, text };
}

/** Logs an app's load error once: the readable text, with its code and file:line as fields. */
export function logAppError(e: unknown, file: string): void {
  const f = describeAppError(e, file);
  log.error({ code: f.code, ...(f.file ? { file: f.file, line: f.line, column: f.column } : {}) }, f.text);
}

/** Failures that only echo another one: the terminal shows the cause once. */
const ECHOES = new Set(["E_UPSTREAM_FAILED", "E_CANCELLED"]);

/**
 * Prints each node failure of the served app to the terminal (node, code, message), so a
 * failure during `daggr dev` is seen without the canvas open. Echoes of a failure
 * upstream and cancellations are left out.
 */
export async function printNodeFailures(): Promise<void> {
  const { launches } = await import("../server/index.js");
  launches.on("node-failed", (f: NodeFailure) => {
    if (f.error.code && ECHOES.has(f.error.code)) return;
    const message = f.error.message.replace(/^\[E_[A-Z_]+\] /, "");
    // A throw from the app's code says where (see toResultError): `(app.ts:3:25)`.
    const d = f.error.details;
    const at = typeof d?.file === "string" && typeof d.line === "number" ? { file: d.file, line: d.line, column: d.column } : undefined;
    const where = at ? ` (${at.file}:${at.line}${typeof at.column === "number" ? `:${at.column}` : ""})` : "";
    log.error({ node: f.nodeId, ...(f.error.code ? { code: f.error.code } : {}), ...at }, `node '${f.nodeId}' ${f.check ? "failed its start-up check" : "failed"}${f.error.code ? ` [${f.error.code}]` : ""}: ${message}${where}`);
  });
}

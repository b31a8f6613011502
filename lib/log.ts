/**
 * daggr's one logger, for the nodes, the server and the `daggr` command (the engine logs
 * nothing: its events are the way state leaves it). It lives outside `server/` so the
 * node layer can log without importing the server. pino: leveled, with child loggers; pretty
 * text in a terminal, one JSON object per line when stderr is not a TTY (a pipe, a file,
 * a log collector). It writes to stderr, so a script's own stdout stays its own.
 *
 * - `DAGGR_LOG_LEVEL`: fatal, error, warn, info (default), debug, trace or silent.
 *   `DAGGR_DEBUG=1` without it means debug.
 * - `DAGGR_LOG_FORMAT`: `pretty` or `json`, to choose regardless of the terminal.
 *
 * Every line passes the HF-token filter on its way out: a token never reaches a log.
 * pino itself loads at the first use of {@link log}: a script that logs nothing never loads it.
 *
 * @example
 * import { log } from "daggr/server";
 * log.child({ node: "upper" }).warn({ code: "E_TIMEOUT" }, "took too long");
 */
import type { Logger } from "pino";
import { createRequire } from "node:module";
import { nearestChoice } from "./graph/errors.js";
import { redactToken } from "./nodes/hf-token.js";

export type { Logger };

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ["pretty", "json"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** Where lines go: process.stderr by default; anything with `write` (a test's buffer). */
export interface LogStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface LoggerOptions {
  /** Default: `DAGGR_LOG_LEVEL`, else debug under `DAGGR_DEBUG`, else info. */
  level?: LogLevel;
  /** Default: `DAGGR_LOG_FORMAT`, else pretty when the stream is a TTY, else json. */
  format?: LogFormat;
  stream?: LogStream;
  env?: NodeJS.ProcessEnv;
}

/** A logger as {@link LoggerOptions} say; also what the default {@link log} is made with. */
export function createLogger(o: LoggerOptions = {}): Logger {
  const env = o.env ?? process.env;
  const out = o.stream ?? process.stderr;
  const problems: string[] = [];
  const level = o.level ?? pick("DAGGR_LOG_LEVEL", env.DAGGR_LOG_LEVEL, LOG_LEVELS, problems) ?? (env.DAGGR_DEBUG ? "debug" : "info");
  const format = o.format ?? pick("DAGGR_LOG_FORMAT", env.DAGGR_LOG_FORMAT, LOG_FORMATS, problems) ?? (out.isTTY ? "pretty" : "json");
  const require = createRequire(import.meta.url);
  const { pino } = require("pino") as typeof import("pino");
  // pino-pretty loads only for a terminal: a JSON log (a pipe, a service) does not pay for it.
  const pretty = format === "pretty" ? (require("pino-pretty") as typeof import("pino-pretty")).prettyFactory({ colorize: !!out.isTTY && !env.NO_COLOR, ignore: "pid,hostname", translateTime: "SYS:HH:MM:ss.l", singleLine: true }) : undefined;
  const destination = {
    write(line: string) {
      out.write(redactToken(pretty ? pretty(line) : line));
    },
  };
  const logger = pino({ level, timestamp: pino.stdTimeFunctions.isoTime }, destination);
  for (const p of problems) logger.warn(p);
  return logger;
}

/** An environment setting that is one of `choices`, or undefined (with a problem noted, naming the nearest, when it is set to something else). */
function pick<T extends string>(name: string, value: string | undefined, choices: readonly T[], problems: string[]): T | undefined {
  if (value === undefined || value === "") return undefined;
  const v = value.trim().toLowerCase();
  if ((choices as readonly string[]).includes(v)) return v as T;
  const nearest = nearestChoice(v, choices);
  problems.push(`${name}='${value}' is not one of ${choices.join(", ")}${nearest ? `; did you mean '${nearest}'?` : "."} Using the default.`);
  return undefined;
}

let made: Logger | undefined;

/**
 * The process's logger (the nodes', the server's and the `daggr` command's), made with
 * {@link createLogger} at its first use.
 */
export const log: Logger = new Proxy({} as Logger, {
  get(_, key) {
    const l = (made ??= createLogger());
    const v: unknown = Reflect.get(l, key, l);
    return typeof v === "function" ? v.bind(l) : v;
  },
  set: (_, key, value) => Reflect.set((made ??= createLogger()), key, value),
});

#!/usr/bin/env node
/**
 * The `daggr` command.
 *
 * @example
 * daggr init my-app          # a new project
 * daggr dev app.ts            # serve with live reload
 * daggr run app.ts --port 8000
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { log } from "../server/log.js";
import { EXIT_LOCKED, isLocked, logAppError, printNodeFailures, serveApp } from "./app.js";
import { dev } from "./dev.js";
import { envHelp } from "./env-vars.js";
import { init } from "./init.js";
import { loadAppsAsEsm } from "./esm.js";

const HELP = `daggr — code-first AI workflows

Usage:
  daggr init <dir>               create a new project in <dir>: package.json, tsconfig.json, an offline app.ts
  daggr dev <app.ts> [options]   serve the app and restart it when it or a file it imports changes
  daggr run <app.ts> [options]   serve the app, without watching
  daggr <app.ts>                 same as "daggr dev <app.ts>"
  daggr worker <app.ts> --redis <url> [--concurrency N]
                                 run the app's node calls queued by a main process started with --queue
  daggr deploy <app.ts> --space <owner/name> [--private] [--hardware <flavor>] [--secret <NAME>]... [--dry-run]
                                 create or update a Docker Space running the app (HF_TOKEN needs write access);
                                 --secret uploads that environment variable as a Space secret; --dry-run lists
                                 the files and the README front matter, and uploads nothing

The app exports a Graph by default (export default new Graph({ … })), or calls graph.launch().

Options:
  --host <host>    interface to bind (default GRADIO_SERVER_NAME, else 127.0.0.1);
                   beyond loopback a per-launch token is required (printed in the URL)
  --port <port>    port (default GRADIO_SERVER_PORT, else 7860; the next free one if taken)
  --share          also serve a public link through Gradio's share servers (GRADIO_SHARE_SERVER_ADDRESS
                   for your own); the link carries the access token, which every request then needs
  --no-reload      with dev: do not watch (same as run)
  --queue <url>    with dev/run: queue mode, node calls run on 'daggr worker' processes (Redis URL)
  --files <dir>    with worker/queue: the directory files cross through (default DAGGR_HOME/queue-files)
  --lock-ms <ms>   with worker: job lock time; a dead worker's job runs elsewhere after about 1.5x this (default 10000)
  --typecheck      with dev: check the app's types in the background; errors show in the
                   terminal and over the canvas (file:line, code, message) until fixed
  -h, --help       show this help
  -v, --version    show the version

Environment:
${envHelp()}`;

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        host: { type: "string" },
        port: { type: "string" },
        "no-reload": { type: "boolean" },
        typecheck: { type: "boolean" },
        share: { type: "boolean" },
        queue: { type: "string" },
        redis: { type: "string" },
        concurrency: { type: "string" },
        files: { type: "string" },
        "lock-ms": { type: "string" },
        space: { type: "string" },
        private: { type: "boolean" },
        hardware: { type: "string" },
        secret: { type: "string", multiple: true },
        "dry-run": { type: "boolean" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean", short: "v" },
      },
    });
  } catch (e) {
    log.error(`${(e as Error).message} (daggr --help shows the usage)`);
    return 1;
  }
  const { values, positionals } = parsed;
  if (values.help) return (print(HELP), 0);
  if (values.version) {
    const { readFileSync } = await import("node:fs");
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
    return (print(pkg.version), 0);
  }
  let [command, app] = positionals;
  if (command && /\.(m|c)?[jt]sx?$/.test(command) && !app) [command, app] = ["dev", command];
  if (!command) return (print(HELP), 0);
  if (command === "init") {
    if (!app) return (log.error("daggr init: which directory? e.g. daggr init my-app"), 1);
    try {
      print(init(app));
      return 0;
    } catch (e) {
      log.error(`daggr init: ${(e as Error).message}`);
      return 1;
    }
  }
  if (command === "worker") {
    if (!app) return (log.error("daggr worker: which app? e.g. daggr worker app.ts --redis redis://127.0.0.1:6379"), 1);
    return (await import("./worker.js")).worker(app, values);
  }
  if (command === "deploy") {
    if (!app || !values.space) return (log.error("daggr deploy: which app and Space? e.g. daggr deploy app.ts --space your-name/my-workflow"), 1);
    const { deploy, describePlan } = await import("./deploy.js");
    try {
      const plan = await deploy({
        app, space: values.space, private: !!values.private, dryRun: !!values["dry-run"], secrets: values.secret ?? [],
        ...(values.hardware ? { hardware: values.hardware } : {}),
      });
      if (values["dry-run"]) print(describePlan(plan));
      return 0;
    } catch (e) {
      const code = (e as { code?: string }).code;
      log.error({ ...(code ? { code } : {}) }, `daggr deploy: ${code ? `[${code}] ` : ""}${(e as Error).message}`);
      return 1;
    }
  }
  if (values.queue) process.env.DAGGR_QUEUE = values.queue;
  if (values.files) process.env.DAGGR_QUEUE_FILES = values.files;
  if (command !== "dev" && command !== "run") {
    log.error(`unknown command '${command}'. Use 'daggr init <dir>', 'daggr dev <app.ts>', 'daggr run <app.ts>', 'daggr worker <app.ts>' or 'daggr deploy <app.ts> --space owner/name' (daggr --help shows the usage).`);
    return 1;
  }
  if (!app) {
    log.error(`daggr ${command}: which app? e.g. daggr ${command} app.ts`);
    return 1;
  }
  if (!existsSync(resolve(app))) {
    log.error(`daggr ${command}: no such file: ${app}`);
    return 1;
  }
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    log.error(`--port must be an integer from 0 to 65535, got '${values.port}'.`);
    return 1;
  }
  const options = { ...(values.host ? { host: values.host } : {}), ...(port !== undefined ? { port } : {}), ...(values.share ? { share: true } : {}) };
  if (values.typecheck && (command !== "dev" || values["no-reload"])) log.warn("--typecheck works with daggr dev (watching); ignored here.");
  return command === "dev" && !values["no-reload"] ? dev(app, { ...options, ...(values.typecheck ? { typecheck: true } : {}) }, fileURLToPath(import.meta.url)) : run(app, options);
}

/** What the command prints as its result (the usage, the version, what init made): stdout, not a log. */
function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

/** Serves the app in this process until Ctrl+C. */
async function run(app: string, options: { host?: string; port?: number; share?: boolean }): Promise<number> {
  // On a Space (the image's entry point is `daggr run`): state in /data when it persists.
  const home = (await import("./deploy.js")).spaceHome();
  if (home) log.info(home);
  process.env.DAGGR_CLI_LAUNCH = JSON.stringify(options);
  const { register } = await import("tsx/esm/api");
  register();
  loadAppsAsEsm();
  await printNodeFailures();
  let server;
  try {
    server = await serveApp(app);
  } catch (e) {
    logAppError(e, app);
    return isLocked(e) ? EXIT_LOCKED : 1;
  }
  await new Promise<void>((r) => {
    process.once("SIGINT", r);
    process.once("SIGTERM", r);
  });
  await server.close();
  return 0;
}

// `daggr dev` runs apps in children of this same entry, so the published package needs no other file.
if (process.env.DAGGR_CLI_CHILD === "1") await import("./child.js");
else if (process.env.DAGGR_CLI_CHILD === "typecheck") await import("./typecheck-child.js");
else {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      log.fatal({ err: e }, String((e as Error)?.message ?? e));
      process.exit(1);
    },
  );
}

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import t from "tap";
import { STARTER_APP } from "../lib/cli/init.js";
import type { DiagnosticsMessage, ServerMessage, SnapshotMessage } from "../lib/protocol.js";
import { freePort } from "../lib/server/options.js";
import { WireClient, raw } from "./fixtures/server-wire.js";
import { CHROMIUM, shot, startBrowser } from "./fixtures/canvas-browser.js";

// The clone test builds daggr twice (once failing): more than the default per-file budget on a busy 2-core machine.
t.setTimeout(420_000);
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CLI = join(ROOT, "lib/cli/index.ts");
const LIB = pathToFileURL(join(ROOT, "lib/index.ts")).href;
const TSX = import.meta.resolve("tsx");
const dir = mkdtempSync(join(tmpdir(), "daggr-cli-test-"));
const home = join(dir, "home");

/** A running `daggr` command with its output, line by line. */
class Cli {
  out = "";
  err = "";
  readonly exited: Promise<number>;
  private waiters: Array<() => void> = [];
  private closed = false;

  constructor(readonly proc: ChildProcess) {
    proc.stdout!.on("data", (d) => ((this.out += d), this.poke()));
    proc.stderr!.on("data", (d) => ((this.err += d), this.poke()));
    this.exited = new Promise((r) => proc.on("exit", (code) => r(code ?? -1)));
    // 'close' comes after the last output: only then is a missing line really missing.
    proc.on("close", () => ((this.closed = true), this.poke()));
  }

  static run(args: string[], env: Record<string, string> = {}): Cli {
    const proc = spawn(process.execPath, ["--import", TSX, CLI, ...args], { cwd: dir, env: { ...process.env, DAGGR_HOME: home, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    return new Cli(proc);
  }

  private poke() {
    for (const w of this.waiters.splice(0)) w();
  }

  /** What the log lines on stderr say: each JSON line's `msg` (stderr is a pipe here, so the log is JSON). */
  static messages(err: string): string {
    return err
      .split("\n")
      .map((l) => {
        try {
          return String((JSON.parse(l) as { msg: string }).msg);
        } catch {
          return l; // not a log line (the app's own output)
        }
      })
      .join("\n");
  }

  /**
   * Resolves once stdout or the log's messages on stderr, after `mark`, match `re`; fails
   * when the process exits without it. No clock: the test's own timeout bounds the wait on
   * a loaded machine. (`_timeoutMs` is kept so call sites still say how long each step may
   * reasonably take.)
   */
  async waitFor(re: RegExp, _timeoutMs = 20_000, mark = { out: 0, err: 0 }): Promise<RegExpMatchArray> {
    for (;;) {
      const err = this.err.slice(mark.err);
      const m = this.out.slice(mark.out).match(re) ?? Cli.messages(err.slice(0, err.lastIndexOf("\n") + 1)).match(re);
      if (m) return m;
      if (this.closed) throw new Error(`no ${re} in:\n${this.out}\n${this.err}`);
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  /** Where the output is now, for `waitFor` to look only at what comes after. */
  get mark() {
    return { out: this.out.length, err: this.err.length };
  }

  async stop(): Promise<number> {
    if (this.proc.exitCode === null) this.proc.kill("SIGINT");
    return this.exited;
  }
}

const write = (name: string, text: string) => writeFileSync(join(dir, name), text);
const appSource = `import { FnNode, Graph, gr } from ${JSON.stringify(LIB)};
import { label, suffix } from "./helper.js";
const upper = new FnNode(({ text }) => text.toUpperCase() + suffix, {
  name: "upper",
  inputs: { text: gr.Textbox({ label, value: "hi" }) },
  outputs: { upper: gr.Textbox() },
});
export default new Graph({ name: "CLI app", nodes: [upper] });
`;
const helper = (label: string, suffix: string) => `export const label = ${JSON.stringify(label)};\nexport const suffix = ${JSON.stringify(suffix)};\n`;

t.test("daggr --help prints the usage; a missing app or an unknown command fails with a message", async (t) => {
  const help = Cli.run(["--help"]);
  t.equal(await help.exited, 0);
  t.match(help.out, /daggr dev <app\.ts>/);
  t.match(help.out, /--no-reload/);
  t.match(help.out, /daggr init <dir>/);
  const missing = Cli.run(["dev", "nope.ts"]);
  t.equal(await missing.exited, 1);
  t.match(missing.err, /no such file: nope\.ts/);
});

t.test("every environment variable the code reads is in the README's table and in daggr --help, and each of those is read", async (t) => {
  const { readdirSync, statSync } = await import("node:fs");
  const files = (d: string): string[] => readdirSync(d).flatMap((f) => (statSync(join(d, f)).isDirectory() ? files(join(d, f)) : /\.[cm]?[jt]s$/.test(f) ? [join(d, f)] : []));
  const read = new Set<string>();
  for (const f of [...files(join(ROOT, "lib")), ...files(join(ROOT, "scripts"))]) {
    // `process.env.X`, an injected `env.X` / `env?.X`, and `env["X"]`.
    for (const m of readFileSync(f, "utf8").matchAll(/\benv\??\.([A-Z][A-Z0-9_]*)\b|\benv\[["']([A-Z][A-Z0-9_]*)["']\]/g)) read.add(m[1] ?? m[2]!);
  }
  const { INTERNAL_ENV_VARS } = await import("../lib/cli/env-vars.js");
  for (const v of INTERNAL_ENV_VARS) t.ok(read.delete(v), `${v} (internal) is read`);
  t.ok(read.size >= 25, `${read.size} variables read`);

  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const table = readme.slice(readme.indexOf("## Environment variables"), readme.indexOf("\n## ", readme.indexOf("## Environment variables") + 1));
  const inReadme = new Set([...table.matchAll(/^\| (.+?) \|/gm)].flatMap((row) => [...row[1]!.matchAll(/`([A-Z][A-Z0-9_]*)`/g)].map((m) => m[1]!)));
  const help = Cli.run(["--help"]);
  t.equal(await help.exited, 0);
  const environment = help.out.slice(help.out.indexOf("Environment:"));
  const inHelp = new Set([...environment.matchAll(/^ {2}([A-Z][A-Z0-9_]*) /gm)].map((m) => m[1]!));

  t.same([...read].filter((v) => !inReadme.has(v)), [], "each is in the README's table");
  t.same([...read].filter((v) => !inHelp.has(v)), [], "each is in daggr --help");
  t.same([...inReadme].filter((v) => !read.has(v)), [], "the table names no variable the code does not read");
  t.same([...inHelp].filter((v) => !read.has(v)), [], "nor does the help");
});

t.test("daggr logs one JSON object per line on stderr when it is not a terminal; DAGGR_LOG_LEVEL and DAGGR_LOG_FORMAT choose", async (t) => {
  const json = Cli.run(["dev", "missing.ts"]);
  t.equal(await json.exited, 1);
  const lines = json.err.trim().split("\n").map((l) => JSON.parse(l) as { level: number; time: string; msg: string });
  t.match(lines, [{ level: 50, time: /^\d{4}-\d\d-\d\dT/, msg: "daggr dev: no such file: missing.ts" }], "one error line");
  t.equal(json.out, "", "nothing on stdout");

  const silent = Cli.run(["dev", "missing.ts"], { DAGGR_LOG_LEVEL: "silent" });
  t.equal(await silent.exited, 1, "the exit code still says it failed");
  t.equal(silent.err, "");

  const pretty = Cli.run(["dev", "missing.ts"], { DAGGR_LOG_FORMAT: "pretty" });
  t.equal(await pretty.exited, 1);
  t.match(pretty.err, /^\[\d\d:\d\d:\d\d\.\d{3}\] ERROR: daggr dev: no such file: missing\.ts\n$/);

  const typo = Cli.run(["dev", "missing.ts"], { DAGGR_LOG_LEVEL: "wran" });
  await typo.exited;
  t.match(Cli.messages(typo.err), /DAGGR_LOG_LEVEL='wran' is not one of fatal, error, warn, info, debug, trace, silent; did you mean 'warn'\? Using the default\./);
});

t.test("the node layer logs through the same logger: a warning from net-guard is one JSON line at level 40, the HF token hidden, and DAGGR_LOG_LEVEL silences it", async (t) => {
  const token = "hf_nodeLayerLOGtoken0123456789";
  const importDaggr = (env: Record<string, string>) => {
    const proc = spawn(process.execPath, ["--import", TSX, "--input-type=module", "-e", `await import(${JSON.stringify(LIB)});`], {
      cwd: dir,
      env: { ...process.env, DAGGR_HOME: home, HF_TOKEN: token, DAGGR_ALLOW_NETWORKS: `10.20.0.0/16,not-a-range,${token}`, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    return new Cli(proc);
  };
  const json = importDaggr({ DAGGR_LOG_FORMAT: "json" });
  t.equal(await json.exited, 0, json.err);
  t.notMatch(json.err, token, "the token is never written");
  const lines = json.err.trim().split("\n").map((l) => JSON.parse(l) as { level: number; msg: string; ignored: string[] });
  t.match(lines, [{ level: 40, msg: /^DAGGR_ALLOW_NETWORKS entries ignored, not CIDR ranges: not-a-range, hf_\*\*\* \(write e\.g\./, ignored: ["not-a-range", "hf_***"] }], "one warning line, as JSON");
  t.equal(lines.length, 1);
  const quiet = importDaggr({ DAGGR_LOG_FORMAT: "json", DAGGR_LOG_LEVEL: "error" });
  t.equal(await quiet.exited, 0, quiet.err);
  t.equal(quiet.err, "", "under DAGGR_LOG_LEVEL=error the warning is not written");
});

t.test("daggr init makes a project that depends on this clone; it refuses a directory with files", async (t) => {
  const made = Cli.run(["init", "first-app"]);
  t.equal(await made.exited, 0, made.err);
  t.match(made.out, /Created first-app\/ .*\n\nNext:\n  cd first-app\n  npm install\n  npx daggr dev app\.ts/);
  const pkg = JSON.parse(readFileSync(join(dir, "first-app", "package.json"), "utf8")) as { name: string; type: string; dependencies: Record<string, string> };
  t.equal(pkg.name, "first-app");
  t.equal(pkg.type, "module");
  t.equal(pkg.dependencies.daggr, `file:${ROOT.replace(/[/\\]$/, "")}`);
  t.equal(readFileSync(join(dir, "first-app", "app.ts"), "utf8"), STARTER_APP);
  const again = Cli.run(["init", "first-app"]);
  t.equal(await again.exited, 1);
  t.match(again.err, /daggr init: first-app already exists and is not empty/);
  const none = Cli.run(["init"]);
  t.equal(await none.exited, 1);
  t.match(none.err, /which directory\? e\.g\. daggr init my-app/);
});

t.test("daggr init: the project has tsx, so the README's `npx tsx run.ts` runs a script on the app", async (t) => {
  const made = Cli.run(["init", "script-app"]);
  t.equal(await made.exited, 0, made.err);
  const pkg = JSON.parse(readFileSync(join(dir, "script-app", "package.json"), "utf8")) as { devDependencies: Record<string, string> };
  const own = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> };
  t.equal(pkg.devDependencies.tsx, own.dependencies.tsx, "the tsx daggr itself runs apps with");
  t.match(readFileSync(join(ROOT, "README.md"), "utf8"), /\/\/ run\.ts — npx tsx run\.ts/, "the README's command");
  t.match(readFileSync(join(dir, "script-app", "README.md"), "utf8"), /npx tsx run\.ts/);
});

t.test("while the app fails to load, the stand-in server still serves daggr's favicon (no 404 in the tab's console)", async (t) => {
  const { serveAppFailure } = await import("../lib/cli/error-server.js");
  const { favicon } = await import("../lib/server/favicon.js");
  const failure = { message: "Unexpected token", code: "SyntaxError", file: "app.ts", line: 1, column: 2, text: "✖ app.ts failed to load" };
  const server = await serveAppFailure({ port: await freePort() }, failure);
  t.teardown(() => server.close());
  const res = await raw(`http://127.0.0.1:${server.port}`, "/favicon.ico");
  t.equal(res.status, 200);
  t.equal(res.headers["content-type"], "image/x-icon");
  t.equal(Number(res.headers["content-length"]), favicon().length);
  t.equal(res.body, favicon().toString(), "the app's own icon");
});

t.test("an app's load error lists the app's own frames only: none of node's (under a syntax error) or daggr's (under a misspelt option)", async (t) => {
  const { formatAppError } = await import("../lib/cli/app.js");
  const caught = async (name: string, source: string) => {
    write(name, source);
    return import(pathToFileURL(join(dir, name)).href).then(() => t.fail(`${name} loaded`), (e: unknown) => e);
  };
  const frames = (text: string) => text.split("\n").filter((l) => /^\s+at /.test(l));
  const syntax = formatAppError(await caught("frames-syntax.ts", "export const x = (1 {;\n"), join(dir, "frames-syntax.ts"));
  t.match(syntax, /Expected "\)" but found "\{"/);
  t.same(frames(syntax).filter((l) => /node:/.test(l)), [], "no frame of node's own");
  const typo = `import { FnNode } from ${JSON.stringify(pathToFileURL(join(ROOT, "lib/index.ts")).href)};\nexport const n = new FnNode(() => 1, { outptus: {} } as never);\n`;
  const option = formatAppError(await caught("frames-option.ts", typo), join(dir, "frames-option.ts"));
  t.match(option, /Unknown option 'outptus' of FnNode/);
  t.same(frames(option).filter((l) => /[/\\](lib|dist)[/\\]/.test(l)), [], "no frame of daggr's own");
  t.match(frames(option)[0], /frames-option\.ts:2:\d+/, "the app's line comes first");
});

t.test("daggr dev on a port another server holds serves on the next one and says the asked port is in use", async (t) => {
  const { createServer } = await import("node:net");
  const taken = createServer();
  const port = await freePort();
  await new Promise<void>((r) => taken.listen(port, "127.0.0.1", r));
  t.teardown(() => new Promise<void>((r) => taken.close(() => r())));
  write("busy.ts", `import { FnNode, Graph, gr } from ${JSON.stringify(LIB)};\nexport default new Graph({ name: "Busy app", nodes: [new FnNode(({ t }) => t, { name: "echo", inputs: { t: gr.Textbox() }, outputs: { t: gr.Textbox() } })] });\n`);
  const dev = Cli.run(["dev", "busy.ts", "--port", String(port)]);
  t.teardown(() => dev.stop());
  const [, bound, note] = await dev.waitFor(/serving busy\.ts at http:\/\/127\.0\.0\.1:(\d+)(.*)/, 90_000);
  t.ok(Number(bound) > port, `moved on to ${bound}`);
  t.equal(note, ` (port ${port} is in use, by another daggr or app: open this address, not :${port})`);
  const free = Cli.run(["dev", "busy.ts", "--port", "0"], { DAGGR_HOME: join(dir, "home-free") });
  t.teardown(() => free.stop());
  await free.waitFor(/serving busy\.ts at http:\/\/127\.0\.0\.1:\d+\n/, 90_000);
  t.notMatch(Cli.messages(free.err), /is in use/, "nothing said when the asked port was free (or any port would do)");
});

t.test("a compile error of the app is printed as an editor reads it: file:line:column with a 1-based column, as the overlay shows it", async (t) => {
  const { describeAppError, formatAppError } = await import("../lib/cli/app.js");
  write("columns.ts", "export const x = (1 {;\n");
  const e = await import(pathToFileURL(join(dir, "columns.ts")).href).then(() => undefined, (err: unknown) => err);
  const column = "export const x = (1 {;".indexOf("{") + 1;
  const shown = describeAppError(e, join(dir, "columns.ts"));
  t.match(shown, { code: "SyntaxError", line: 1, column }, "the overlay's column");
  const text = formatAppError(e, join(dir, "columns.ts"));
  t.match(text, new RegExp(`failed to load: (.*[/\\\\])?columns\\.ts:1:${column}: ERROR: Expected "\\)" but found "\\{"`), "the terminal's, the same");
  t.notMatch(text, /Transform failed/, "no esbuild preamble");
});

t.test("daggr dev: serves the app; a change to a local import restarts it; a reconnecting tab keeps its sheet; errors wait for a fix; a second daggr on the same database exits", async (t) => {
  write("app.ts", appSource);
  write("helper.ts", helper("Text", "!"));
  const port = await freePort();
  const t0 = performance.now();
  const dev = Cli.run(["dev", "app.ts", "--port", String(port)], { DAGGR_DEBUG: "1" });
  t.teardown(() => dev.stop());
  const [, url] = (await dev.waitFor(/serving app\.ts at (http:\/\/\S+)/, 90_000)) as RegExpMatchArray;
  const served = dev.mark;
  t.equal(url, `http://127.0.0.1:${port}`);
  t.equal((await raw(url!, "/")).status, 200);
  t.comment(`dev start to first page: ${Math.round(performance.now() - t0)} ms`);

  // A tab edits an input; the result is stored in the app's LevelDB.
  const tab = await WireClient.open(url!);
  const sheet = (tab.snap as SnapshotMessage).sheet.id;
  await tab.c.request({ type: "set-input", nodeId: "upper", port: "text", value: "kept" });
  // The edit's own result: the tab's opening computes "HI!" first, and under load it may end after the edit was sent.
  await tab.c.next((m) => m.type === "event" && m.event.type === "node-completed" && m.event.nodeId === "upper" && m.event.result.outputs.upper === "KEPT!");

  // Edit the imported file (once the warm standby is up): the server restarts on the same port.
  await dev.waitFor(/standby ready/, 20_000, served);
  let mark = dev.mark;
  const edited = performance.now();
  write("helper.ts", helper("Words", "?"));
  const [, ms] = (await dev.waitFor(/reloaded in (\d+) ms \(helper\.ts\)/, 20_000, mark)) as RegExpMatchArray;
  t.comment(`reload: ${ms} ms in the command, ${Math.round(performance.now() - edited)} ms from the write`);
  t.equal((await tab.c.closed).code, 1001, "the old server said goodbye");
  const back = await WireClient.open(url!, sheet);
  const snap = back.snap as SnapshotMessage;
  t.equal(snap.sheet.id, sheet, "same sheet after the restart");
  t.equal(snap.inputs.upper__text, "kept", "its input survived");
  t.equal(snap.results.upper?.outputs.upper, "KEPT!", "and its result");
  t.equal(snap.graph.nodes[0]!.inputs[0]!.component!.props.label, "Words", "the new code is served");
  back.c.close();

  // A second daggr on the same app state cannot open the database: it says so and exits.
  const second = Cli.run(["run", "app.ts", "--port", String(await freePort())]);
  t.equal(await second.exited, 3);
  t.match(second.err, /already in use by another daggr process/);

  // A syntax error is reported readably; the command waits, and serves again once fixed.
  mark = dev.mark;
  write("helper.ts", `${helper("Words", "?")}export const broken = ;\n`);
  await dev.waitFor(/helper\.ts:3:\d+: ERROR: /, 20_000, mark);
  await dev.waitFor(/waiting for a change/, 20_000, mark);
  // Meanwhile the address serves the page, and its WebSocket answers with the failure (the canvas overlay).
  t.equal((await raw(url!, "/")).status, 200, "the page is served while the app does not load");
  const failure = async () => {
    const c = await WireClient.connect(url!);
    const reply = await c.request({ type: "hello" });
    return { c, reply };
  };
  const syntax = await failure();
  t.match(syntax.reply, { type: "error", code: "E_APP_FAILED", details: { code: "SyntaxError", file: "helper.ts", line: 3, message: /Unexpected ";"|Expected/ } }, "a syntax error: its file:line");
  const foreign = await WireClient.connect(url!, { origin: "http://evil.example" }).then((c) => (c.ws.close(), 0), (e: { status?: number }) => e.status);
  t.equal(foreign, 403, "behind the same Origin check");
  mark = dev.mark;
  write("app.ts", appSource.replace("export default", 'throw new Error("boom: the app threw");\nexport default'));
  write("helper.ts", helper("Words", "?"));
  await dev.waitFor(/app\.ts failed to load: boom: the app threw\n\s+at .*app\.ts:\d+/, 60_000, mark);
  t.equal((await syntax.c.closed).code, 1012, "an open tab is told the app restarts");
  await dev.waitFor(/waiting for a change/, 60_000, mark);
  const threw = await failure();
  t.match(threw.reply, { code: "E_APP_FAILED", details: { code: "Error", message: "boom: the app threw", file: "app.ts", line: 8 } }, "a throw: the app's own frame");
  mark = dev.mark;
  write("app.ts", appSource.replace("upper: gr.Textbox() }", "upper: gr.Textbox() }, concurrnt: true"));
  await dev.waitFor(/waiting for a change/, 60_000, mark);
  const coded = await failure();
  t.match(coded.reply, { code: "E_APP_FAILED", details: { code: /^E_[A-Z_]+$/, message: /concurrnt.*concurrent/s, file: "app.ts", line: 3 } }, "a DaggrError: its code, the nearest option, the line");
  mark = dev.mark;
  write("app.ts", appSource);
  await dev.waitFor(/reloaded in \d+ ms/, 60_000, mark);
  t.equal((await coded.c.closed).code, 1012);
  const res = await raw(url!, "/api/call", { method: "POST", headers: { "content-type": "application/json" }, body: '{"inputs":{"upper__text":"ok"}}' });
  t.same(JSON.parse(res.body), { outputs: { upper: { upper: "OK?" } } });

  // A save in two steps, the file emptied and then written, with the writer paused between them
  // (a busy machine can do that to an editor): one restart, with the written file.
  mark = dev.mark;
  write("helper.ts", "");
  await dev.waitFor(/empty: \S*helper\.ts \(waiting up to \d+ ms for the rest of the save\)/, 20_000, mark);
  write("helper.ts", helper("Lines", "."));
  await dev.waitFor(/reloaded in \d+ ms \(helper\.ts\)/, 60_000, mark);
  const after = await raw(url!, "/api/call", { method: "POST", headers: { "content-type": "application/json" }, body: '{"inputs":{"upper__text":"ok"}}' });
  t.same(JSON.parse(after.body), { outputs: { upper: { upper: "OK." } } }, "the written file is served");
  t.same(Cli.messages(dev.err.slice(mark.err)).match(/^start .*$/gm), ["start helper.ts"], "one restart for the save, not one per step");
  t.equal(await dev.stop(), 0);
});

t.test("daggr run prints a node that fails in the terminal (node, code, message), not the failures it causes downstream", async (t) => {
  write(
    "failing.ts",
    `import { FnNode, Graph, gr } from ${JSON.stringify(LIB)};
const boom = new FnNode(({ text }): string => { throw new Error("no luck with " + text); }, { name: "boom", inputs: { text: gr.Textbox({ value: "x" }) }, outputs: { out: gr.Textbox() } });
const after = new FnNode(({ v }) => v, { name: "after", inputs: { v: boom.out.out }, outputs: { out: gr.Textbox() } });
const pair = new FnNode(() => ({ a: 1, c: 2 }) as never, { name: "pair", outputs: { a: gr.Number(), b: gr.Number() } });
export default new Graph({ name: "Failing", nodes: [after, pair] });
`,
  );
  const run = Cli.run(["run", "failing.ts", "--port", String(await freePort())]);
  t.teardown(() => run.stop());
  const [, url] = (await run.waitFor(/serving "Failing" at (http:\/\/\S+)/, 90_000)) as RegExpMatchArray;
  const { c } = await WireClient.open(url!); // opening the canvas computes the autorun nodes
  await c.event("run-finished");
  await run.waitFor(/node 'boom' failed: no luck with x \(failing\.ts:2:\d+\)/); // where the app threw it
  await run.waitFor(/node 'pair' failed \[E_OUTPUT_[A-Z]+\]: .*'c'/);
  t.pass("each failure is printed with its node, its code when it has one, and its message");
  c.close();
  t.equal(await run.stop(), 0);
  t.notMatch(run.err, /node 'after'/, "its downstream echo (E_UPSTREAM_FAILED) is not printed");
});

t.test("daggr dev --no-reload serves an app that launches itself, in-process with the command's port, until Ctrl+C", async (t) => {
  const port = await freePort();
  const run = Cli.run(["dev", join(ROOT, "test/fixtures/apps/launches.ts"), "--no-reload", "--port", String(port)]);
  t.teardown(() => run.stop());
  await run.waitFor(new RegExp(`serving "Launches itself" at http://127.0.0.1:${port}`));
  const res = await raw(`http://127.0.0.1:${port}`, "/api/call", { method: "POST", headers: { "content-type": "application/json" }, body: '{"inputs":{"shout__text":"yo"}}' });
  t.same(JSON.parse(res.body), { outputs: { shout: { out: "YO!" } } });
  t.equal(await run.stop(), 0);
});

t.test("daggr dev --typecheck: a type error in the app is printed (file:line, code, message) and sent to open tabs; the app still runs; fixing it clears both", async (t) => {
  // A project as daggr init makes it, with daggr and @types linked in (as npm install would): its types come from dist/.
  execFileSync(process.execPath, [join(ROOT, "scripts/prepare.mjs")], { cwd: ROOT, stdio: "ignore" });
  t.equal(await Cli.run(["init", "typed-app"]).exited, 0);
  const project = join(dir, "typed-app");
  mkdirSync(join(project, "node_modules"));
  symlinkSync(ROOT, join(project, "node_modules", "daggr"));
  symlinkSync(join(ROOT, "node_modules", "@types"), join(project, "node_modules", "@types"));
  const broken = STARTER_APP.replace("export default", 'export const limit: number = "ten";\nexport default');
  const line = broken.split("\n").findIndex((l) => l.startsWith("export const limit")) + 1;
  writeFileSync(join(project, "app.ts"), broken);

  const port = await freePort();
  const dev = Cli.run(["dev", "typed-app/app.ts", "--typecheck", "--port", String(port)]);
  t.teardown(() => dev.stop());
  const [, url] = (await dev.waitFor(/serving app\.ts at (http:\/\/[^\s"]+)/, 90_000)) as RegExpMatchArray;
  const printed = await dev.waitFor(/typed-app\/app\.ts:(\d+):(\d+) TS2322: Type 'string' is not assignable to type 'number'\./, 120_000);
  t.same([Number(printed[1]), Number(printed[2])], [line, 14], "the terminal names file:line:column and the code");
  await dev.waitFor(/type check: 1 error; the app still runs/);
  const logged = dev.err.split("\n").filter((l) => l.includes('"TS2322"')).map((l) => JSON.parse(l) as Record<string, unknown>);
  t.match(logged, [{ level: 50, code: "TS2322", file: "typed-app/app.ts", line, column: 14 }], "as fields of the JSON log line too");

  const diagnostics = (c: WireClient, pred: (m: DiagnosticsMessage) => boolean) =>
    c.next((m: ServerMessage) => m.type === "diagnostics" && pred(m), undefined, 0) as Promise<DiagnosticsMessage>;
  const tab = await WireClient.connect(url!);
  const shown = await diagnostics(tab, (m) => m.errors.length > 0);
  t.same(shown, {
    v: 1,
    type: "diagnostics",
    total: 1,
    errors: [{ code: "TS2322", message: "Type 'string' is not assignable to type 'number'.", file: "typed-app/app.ts", line, column: 14 }],
  }, "an open tab receives the error: code, message, file:line:column");
  t.match(await tab.request({ type: "hello" }), { type: "snapshot" }, "the app runs despite the type error");

  // Now the app also fails to load: the stand-in server sends the type errors after the failure, and the canvas lists them under it.
  let mark = dev.mark;
  writeFileSync(join(project, "app.ts"), broken.replace("export default", 'if (limit) throw new Error("boom: the app threw");\nexport default'));
  await dev.waitFor(/waiting for a change/, 60_000, mark);
  const failing = await WireClient.connect(url!);
  t.match(await failing.request({ type: "hello" }), { type: "error", code: "E_APP_FAILED", details: { message: "boom: the app threw" } });
  t.match((await diagnostics(failing, (m) => m.errors.length > 0)).errors, [{ code: "TS2322", file: "typed-app/app.ts", line }], "then the type errors");
  failing.close();
  const noBrowser = !existsSync(CHROMIUM) && !process.env.CI;
  await t.test("the load-failure overlay in Chromium lists the type errors under the failure", { skip: noBrowser && `no Chromium at ${CHROMIUM}` }, async (t) => {
    const browser = await startBrowser();
    t.teardown(() => browser.close());
    const page = await (await browser.context()).newPage();
    page.on("pageerror", (e) => t.fail(`page error: ${e.message}`));
    await page.goto(url!);
    const overlay = page.locator(".app-failure");
    await overlay.locator(".app-failure-types").waitFor({ timeout: 60_000 });
    t.equal((await overlay.locator(".app-failure-title span").textContent())!.trim(), "The app failed to load");
    t.equal(await overlay.locator(".app-failure-title .app-failure-code").textContent(), "Error");
    t.equal(await overlay.locator(".app-failure-msg").textContent(), "boom: the app threw");
    t.match((await overlay.locator(".app-failure-where").textContent())!.trim(), new RegExp(`^at typed-app/app\\.ts:${line + 1}:\\d+$`), "where it threw");
    t.equal((await overlay.locator(".app-failure-subtitle").textContent())!.trim(), "1 type error");
    t.same(await overlay.locator(".app-failure-types li").allTextContents(), [`typed-app/app.ts:${line}:14 TS2322 Type 'string' is not assignable to type 'number'.`]);
    await shot(page, "dev-load-failure-with-type-errors");
  });

  // The fix: the app reloads, the check runs again, and tabs are told the errors are gone.
  mark = dev.mark;
  writeFileSync(join(project, "app.ts"), STARTER_APP);
  await dev.waitFor(/reloaded in \d+ ms/, 60_000, mark);
  await dev.waitFor(/type check: no errors/, 120_000, mark);
  const again = await WireClient.connect(url!);
  t.same((await diagnostics(again, (m) => m.errors.length === 0)).total, 0, "a tab gets the empty list, which clears the overlay");
  again.close();
  tab.close();
  t.equal(await dev.stop(), 0);
});

t.test("from a clone, daggr rebuilds a dist/ older than its sources before it runs (one notice, one build for two starts at once), then runs the new code; it refuses what it cannot rebuild with E_STALE_BUILD, and so does import \"daggr\"", async (t) => {
  // A clone in miniature: what the build and the command read, with the timestamps of this one (whose dist/ is fresh), node_modules linked.
  execFileSync(process.execPath, [join(ROOT, "scripts/prepare.mjs")], { cwd: ROOT, stdio: "ignore" });
  const clone = join(mkdtempSync(join(tmpdir(), "daggr-clone-")), "daggr");
  for (const p of ["lib", "elements", "bin", "dist", "package.json", "tsup.config.ts", "tsconfig.json"]) cpSync(join(ROOT, p), join(clone, p), { recursive: true, preserveTimestamps: true });
  symlinkSync(join(ROOT, "node_modules"), join(clone, "node_modules"));
  const env: NodeJS.ProcessEnv = { ...process.env, DAGGR_HOME: home };
  delete env.DAGGR_BUILD_CHECKED;
  const daggr = (args: string[], options: { uid?: number; gid?: number } = {}) =>
    new Cli(spawn(process.execPath, [join(clone, "bin/daggr.js"), ...args], { cwd: clone, env, stdio: ["ignore", "pipe", "pipe"], ...options }));
  const NOTICE = /daggr: sources changed since the last build \(lib\/cli\/index\.ts\); rebuilding \(\d+ s\)…/g;
  const leftovers = () => readdirSync(clone).filter((f) => f.startsWith(".dist"));

  const fresh = daggr(["--help"]);
  t.equal(await fresh.exited, 0);
  t.match(fresh.out, /^daggr — code-first AI workflows\n/, "a fresh build runs as it is");
  t.equal(fresh.err, "", "without a notice");

  // A pull changes a user-visible string in lib/: two starts at once.
  const source = join(clone, "lib/cli/index.ts");
  writeFileSync(source, readFileSync(source, "utf8").replace("daggr — code-first AI workflows", "daggr — code-first AI workflows, as pulled"));
  const stamp = readFileSync(join(clone, "dist/.built"), "utf8");
  const [a, b] = [daggr(["--help"]), daggr(["--help"])];
  t.same([await a.exited, await b.exited], [0, 0]);
  for (const c of [a, b]) t.match(c.out, /^daggr — code-first AI workflows, as pulled\n/, "each start runs the new code");
  t.equal([...Cli.messages(a.err + b.err).matchAll(NOTICE)].length, 1, "one of them rebuilt, with a one-line notice");
  for (const line of (a.err + b.err).trim().split("\n")) t.match(JSON.parse(line), { level: 30, msg: /^daggr: / }, "a JSON log line, as every line on a stderr that is not a terminal");
  t.comment(`the two starts said: ${JSON.stringify(a.err)} and ${JSON.stringify(b.err)}`);
  const built = JSON.parse(readFileSync(join(clone, "dist/.built"), "utf8")) as { ms: number };
  t.not(JSON.stringify(built), stamp.trim(), "the build wrote a new stamp");
  t.ok(built.ms > 0, `it says how long the build took (${built.ms} ms), for the next notice`);
  t.same(leftovers(), [], "no build directory or lock is left behind");

  const again = daggr(["--help"]);
  t.equal(await again.exited, 0);
  t.match(again.out, /as pulled/);
  t.equal(again.err, "", "the next start does not rebuild");

  // An app's import "daggr" goes through the package's exports, not the command: it cannot rebuild, so it refuses.
  // So does "daggr/server" imported on its own.
  writeFileSync(join(clone, "probe.mjs"), `import("daggr").then((m) => console.log("loaded", typeof m.Graph), (e) => console.log(e.code, e.message));\n`);
  writeFileSync(join(clone, "probe-server.mjs"), `import("daggr/server").then((m) => console.log("loaded", typeof m.launch), (e) => console.log(e.code, e.message));\n`);
  const probe = (file = "probe.mjs") => execFileSync(process.execPath, [join(clone, file)], { cwd: clone, env, encoding: "utf8" });
  t.equal(probe(), "loaded function\n", "a fresh build imports");
  t.equal(probe("probe-server.mjs"), "loaded function\n", "and its server");
  utimesSync(join(clone, "elements/index.ts"), new Date(), new Date());
  t.match(probe("probe-server.mjs"), /^E_STALE_BUILD \[E_STALE_BUILD\] elements\/index\.ts changed since dist\/ was built in /, "the server alone is refused too");
  t.match(probe(), new RegExp(`^E_STALE_BUILD \\[E_STALE_BUILD\\] elements/index\\.ts changed since dist/ was built in ${clone}, so daggr would run old code\\. Run \`npm run build\` in ${clone}, or start the app with \`npx daggr dev <app\\.ts>\`, which rebuilds first\\.\\n$`), "a stale one is refused, naming the file and the command");

  // A clone the user cannot write: not rebuilt, refused with the command to run.
  await t.test("a read-only clone", async (t) => {
    const asRoot = process.getuid?.() === 0;
    chmodSync(dirname(clone), 0o755);
    if (!asRoot) chmodSync(clone, 0o555);
    t.teardown(() => chmodSync(clone, 0o755));
    // As root, the command runs as nobody, without tap's process hook (NODE_OPTIONS, put back by tap's spawn: env -u), which writes under this clone's .tap/.
    const ro = asRoot
      ? new Cli(spawn("env", ["-u", "NODE_OPTIONS", process.execPath, join(clone, "bin/daggr.js"), "--help"], { cwd: clone, env, stdio: ["ignore", "pipe", "pipe"], uid: 65534, gid: 65534 }))
      : daggr(["--help"]);
    t.equal(await ro.exited, 1);
    t.match(JSON.parse(ro.err), { level: 50, code: "E_STALE_BUILD" });
    t.match(Cli.messages(ro.err), /^daggr: \[E_STALE_BUILD\] elements\/index\.ts changed since dist\/ was built in .*, so daggr would run old code, and it could not rebuild: .* is not writable \(EACCES\)\. Run `npm run build` in /);
    t.equal(ro.out, "", "it runs nothing");
  });

  // Ctrl+C while it rebuilds: the build stops, dist/ is the previous one, the lock is gone (what the killed build wrote, the next one sweeps).
  const stopped = daggr(["--help"]);
  await stopped.waitFor(/daggr: sources changed since the last build \(elements\/index\.ts\); rebuilding/);
  stopped.proc.kill("SIGINT");
  t.equal(await stopped.exited, 130, "it exits as Ctrl+C would");
  t.equal(stopped.out, "", "it runs nothing");
  t.equal(readFileSync(join(clone, "dist/.built"), "utf8"), JSON.stringify(built) + "\n", "dist/ is the previous build");
  t.notOk(existsSync(join(clone, ".dist.lock")), "the lock is released");

  // A pull that breaks the build: refused with the build's own error; the old dist/ is left whole.
  writeFileSync(join(clone, "lib/cli/init.ts"), `${readFileSync(join(clone, "lib/cli/init.ts"), "utf8")}\nexport const = ;\n`);
  const stampBefore = readFileSync(join(clone, "dist/.built"), "utf8");
  const broken = daggr(["--help"]);
  t.equal(await broken.exited, 1);
  t.match(Cli.messages(broken.err), /could not rebuild: the build failed \(exit \d+; its last lines follow\)\. Run `npm run build` in [^\n]*\n[\s\S]*lib\/cli\/init\.ts/, "the build's error names the file");
  t.equal(broken.out, "");
  t.equal(readFileSync(join(clone, "dist/.built"), "utf8"), stampBefore, "dist/ is the previous build");
  t.ok(existsSync(join(clone, "dist/cli/index.js")) && existsSync(join(clone, "dist/index.d.ts")), "whole");
  t.same(leftovers(), [], "no build directory or lock is left behind");
});

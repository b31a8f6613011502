/**
 * runLocally: a Space fetched from a Hub (test/fixtures/local-space.ts serves it), run as a
 * real Python process and called through the real `@gradio/client`. The fixture app is
 * standard-library Python (there is no package index here), so `gradio` itself is never
 * installed: the README names no sdk_version and requirements.txt is empty, which makes
 * the environment step a real `python3 -m venv` with nothing to install; other tests run
 * with DAGGR_LOCAL_PYTHON (a ready interpreter, no environment made).
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import t from "tap";
import { DaggrError, GradioNode, Graph, MemoryStore, gr, NodeKind, registerExecutor, type ExecContext, type Progress } from "../lib/index.js";
import { gradioExecutor } from "../lib/nodes/gradio.js";
import { closeGradioClients } from "../lib/nodes/gradio-client.js";
import { remoteTiming } from "../lib/nodes/hf-retry.js";
import { PORT_TRIES, checkSpaceId, childEnv, localApp, localTarget, localTiming, stopLocalSpaces, sweepOrphans } from "../lib/nodes/local-space/index.js";
import { launch } from "../lib/server/index.js";
import { freePort } from "../lib/server/options.js";
import { upstreamChecked } from "../lib/nodes/upstream.js";
import type { ResultWire, SnapshotMessage } from "../lib/protocol.js";
import { WireClient } from "./fixtures/server-wire.js";
import type { Origin } from "../lib/engine/index.js";
import { APP_PY, README, type LocalHub, startLocalHub } from "./fixtures/local-space.js";

const root = mkdtempSync(join(tmpdir(), "daggr-local-"));
const home = join(root, "home");
process.env.DAGGR_HOME = home;
process.env.DAGGR_LOCAL_QUIET = "1";
process.env.DAGGR_LOCAL_TIMEOUT = "60";
process.env.HF_TOKEN = "hf_localsecrettoken123";
process.env.AWS_SECRET_ACCESS_KEY = "aws-secret";
process.env.OPENAI_API_KEY = "sk-openai";
delete process.env.DAGGR_LOCAL_NO_FALLBACK;
const PYTHON = process.env.PYTHON3 ?? "python3";
localTiming.restartBaseMs = 20;
remoteTiming.backoffBaseMs = 10;
remoteTiming.backoffMaxMs = 50;
registerExecutor(NodeKind.GRADIO, gradioExecutor);

const SHA1 = "1".repeat(40);
const SHA2 = "2".repeat(40);

function makeSpace(name: string, o: { readme?: string; app?: string } = {}): string {
  const dir = join(root, "src", name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "README.md"), o.readme ?? README);
  writeFileSync(join(dir, "requirements.txt"), "");
  writeFileSync(join(dir, "app.py"), o.app ?? APP_PY);
  return dir;
}

const ids = ["t/echo", "t/id-same", "t/id-other", "t/crashy", "t/noisy", "t/env", "t/env-named", "t/broken", "t/orphan", "t/restarts", "t/hang", "t/term", "t/served", "t/dev", "t/up", "t/port-taken", "t/port-quiet", "t/port-strict", "t/port-fixed", "t/port-never"];
let hub: LocalHub;
t.before(async () => {
  const spaces: Record<string, { dir: string; sha: string }> = {};
  for (const id of ids) spaces[id] = { dir: makeSpace(id.split("/")[1]!, id === "t/broken" ? { readme: README.replace("app.py", "missing.py") } : {}), sha: SHA1 };
  hub = await startLocalHub(spaces);
  process.env.HF_ENDPOINT = hub.url;
});
t.teardown(async () => {
  await stopLocalSpaces();
  closeGradioClients?.();
  await hub.close();
  rmSync(root, { recursive: true, force: true });
});

function harness() {
  const store = new MemoryStore();
  const progress: Progress[] = [];
  const ctx: ExecContext = {
    signal: new AbortController().signal,
    progress: (p) => progress.push(p),
    partial: () => {},
    files: { dir: store.filesDir, put: (i) => store.putFile(i), lookup: (p) => store.fileForPath(p) },
    cache: { get: (k) => store.getMeta(k), set: (k, v) => store.setMeta(k, v) },
    nodeId: "n",
    runId: "r",
  };
  return { ctx, progress };
}

function node(space: string, extra: Record<string, unknown> = {}) {
  return new GradioNode(space, { runLocally: true, validate: false, inputs: { text: "x" }, outputs: { out: null }, ...extra });
}

async function call(n: GradioNode, text: string) {
  const h = harness();
  const out = (await gradioExecutor.execute(n, { text }, h.ctx)) as unknown[];
  return { out: String(out[0]), progress: h.progress.map((p) => p.text ?? "") };
}

const pidOf = (s: string) => Number(/pid=(\d+)/.exec(s)?.[1]);

t.test("a bad Space id is refused before it reaches a path or a process", async (t) => {
  for (const bad of ["../etc", "o/..", "o/.hidden", "o/a..b", "o/a--b", "o/-x", "a/b/c", "o/a b", "o/a;rm"]) {
    t.throws(() => checkSpaceId(bad), { code: "E_BAD_OPTION" }, bad);
  }
  t.throws(() => new GradioNode("o/.hidden", { runLocally: true }), { code: "E_BAD_OPTION" });
  t.throws(() => new GradioNode("http://127.0.0.1:1/", { runLocally: true }), { code: "E_BAD_OPTION" });
  t.throws(() => new GradioNode("o/x", { runLocally: true, localEnv: ["A B"] }), { code: "E_BAD_OPTION" });
  t.throws(() => new GradioNode("o/x", { runLocally: true, revision: "../main" }), { code: "E_BAD_OPTION" });
  t.same(checkSpaceId("gradio/hello_world.v2"), ["gradio", "hello_world.v2"]);
  t.notOk(existsSync(join(home, "spaces", "o")), "nothing was written for a refused id");
});

t.test("first launch fetches, makes a venv and serves; a second launch reuses both", async (t) => {
  delete process.env.DAGGR_LOCAL_PYTHON;
  process.env.DAGGR_LOCAL_BASE_PYTHON = PYTHON;
  process.env.DAGGR_LOCAL_NO_UV = "1";
  t.teardown(() => {
    delete process.env.DAGGR_LOCAL_BASE_PYTHON;
    delete process.env.DAGGR_LOCAL_NO_UV;
  });
  hub.requests.length = 0;
  const first = await call(node("t/echo"), "hello");
  t.match(first.out, /^HELLO pid=\d+$/);
  for (const s of ["local: fetch", "local: env", "local: launch", "local: ready"]) t.ok(first.progress.some((p) => p.startsWith(s)), `stage ${s} on the card`);
  t.ok(hub.requests.some((p) => p.includes("/revision/")), "asked the Hub for the head sha");
  t.ok(hub.requests.some((p) => p.includes("/resolve/")), "downloaded the files");
  const envs = join(home, "spaces", "t", "echo", "envs");
  t.equal(readdirSync(envs).length, 1, "one environment");
  t.ok(existsSync(join(envs, readdirSync(envs)[0]!, "bin", "python")), "a real venv");
  t.ok(existsSync(join(home, "spaces", "t", "echo", SHA1, "app.py")), "files at the pinned sha");

  const pid1 = pidOf(first.out);
  await stopLocalSpaces();
  hub.requests.length = 0;
  const second = await call(node("t/echo"), "again");
  t.match(second.out, /^AGAIN pid=\d+$/);
  t.not(pidOf(second.out), pid1, "a new process");
  t.same(hub.requests, [], "no Hub request: files reused from disk");
  t.equal(readdirSync(envs).length, 1, "environment reused");
  t.notOk(second.progress.some((p) => p.startsWith("local: install")), "nothing installed");
});

t.test("validation at start-up begins preparing the local Space without waiting for it", async (t) => {
  process.env.DAGGR_LOCAL_PYTHON = PYTHON;
  await stopLocalSpaces();
  hub.requests.length = 0;
  process.env.DAGGR_UPDATE_SPACES = "1";
  t.teardown(() => delete process.env.DAGGR_UPDATE_SPACES);
  const n = node("t/echo");
  const h = harness();
  await gradioExecutor.validate!(n, { cache: h.ctx.cache, signal: h.ctx.signal });
  // Nothing else asks for the Space: the Hub hears from it because validation began the preparation.
  while (!localApp("t/echo")?.child) await new Promise((r) => setTimeout(r, 10));
  t.ok(hub.requests.some((p) => p.includes("/revision/")), "fetched, launching, before any run");
  const target = await localTarget(n, h.ctx);
  t.ok(target.local);
  t.match((await call(n, "v")).out, /^V pid=/);
});

t.test("DAGGR_UPDATE_SPACES fetches the new head", async (t) => {
  process.env.DAGGR_LOCAL_PYTHON = PYTHON;
  await stopLocalSpaces();
  hub.spaces.get("t/echo")!.sha = SHA2;
  process.env.DAGGR_UPDATE_SPACES = "1";
  t.teardown(() => {
    delete process.env.DAGGR_UPDATE_SPACES;
    hub.spaces.get("t/echo")!.sha = SHA1;
  });
  const r = await call(node("t/echo"), "up");
  t.match(r.out, /^UP pid=/);
  t.ok(existsSync(join(home, "spaces", "t", "echo", SHA2, "app.py")), "new revision fetched");
});

/** Another process's server answering /config as the app would (endpoints `endpoints`), logging every request. */
async function foreignServer(endpoints: readonly string[]) {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ protocol: "sse_v3", dependencies: endpoints.map((api_name, id) => ({ id, api_name, api_visibility: "public" })) }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { port: (server.address() as AddressInfo).port, requests, close: () => new Promise((r) => server.close(r)) };
}

const launches = (log: string) => readFileSync(log, "utf8").split("--- daggr: starting").length - 1;

t.test("the port offered to the app is taken before it binds: the app is found on the port it bound; the other process gets no request", async (t) => {
  process.env.DAGGR_LOCAL_PYTHON = PYTHON;
  // The race made certain: another process holds the port offered to the app, and answers /config as the app would.
  const foreign = await foreignServer(["predict"]);
  t.teardown(foreign.close);

  // gradio's launch() moves on to the next free port and prints it.
  const moved = node("t/port-taken");
  const target = await localTarget(moved, harness().ctx, { port: foreign.port });
  t.equal(target.local, true, "the local app serves");
  const app = localApp("t/port-taken")!;
  t.equal(app.offered, foreign.port, "it was offered the taken port");
  t.not(Number(new URL(target.app).port), foreign.port, "it is called on the port it bound");
  t.equal(target.app, app.url);
  t.equal(pidOf((await call(moved, "hi")).out), app.child!.pid, "our app answers");

  // The same without the URL line (launch(quiet=True)): found by the port its process listens on.
  const quiet = node("t/port-quiet", { localEnv: ["FIXTURE_QUIET=1"] });
  const found = await localTarget(quiet, harness().ctx, { port: foreign.port });
  t.equal(found.local, true, "the quiet app serves");
  t.equal(localApp("t/port-quiet")!.announced, undefined, "it printed no URL");
  t.not(Number(new URL(found.app).port), foreign.port);
  t.equal(pidOf((await call(quiet, "hi")).out), localApp("t/port-quiet")!.child!.pid);

  // An app that binds only the port it is offered ends; it is launched again on another.
  const strict = node("t/port-strict", { localEnv: ["FIXTURE_NO_SCAN=1"] });
  const h = harness();
  const again = await localTarget(strict, h.ctx, { port: foreign.port });
  t.equal(again.local, true, "the relaunched app serves");
  t.not(Number(new URL(again.app).port), foreign.port);
  t.equal(launches(localApp("t/port-strict")!.log.path), 2, "launched twice");
  t.ok(h.progress.some((p) => p.text?.includes(`port ${foreign.port} was taken before the app bound it`)), "the card says why it launched again");
  t.equal(pidOf((await call(strict, "hi")).out), localApp("t/port-strict")!.child!.pid);
  t.same(foreign.requests, [], "the process on the offered port got no request at all");

  // An app that binds a port of its own (launch(server_port=N)) is found there.
  const own = await freePort();
  const fixed = node("t/port-fixed", { localEnv: [`FIXTURE_PORT=${own}`] });
  const there = await localTarget(fixed, harness().ctx);
  t.equal(there.app, `http://127.0.0.1:${own}/`, "the app's own port");
  t.equal(pidOf((await call(fixed, "hi")).out), localApp("t/port-fixed")!.child!.pid);

  // Every port it is offered is taken: E_LOCAL_FAILED after PORT_TRIES launches, naming them.
  process.env.DAGGR_LOCAL_NO_FALLBACK = "1";
  t.teardown(() => void delete process.env.DAGGR_LOCAL_NO_FALLBACK);
  const never = node("t/port-never", { localEnv: ["FIXTURE_ALWAYS_IN_USE=1"] });
  const e = (await localTarget(never, harness().ctx).catch((x: unknown) => x)) as DaggrError;
  t.equal(e.code, "E_LOCAL_FAILED");
  t.match(e.message, new RegExp(`could not bind a port: ports .* were each taken before it started \\(${PORT_TRIES} tries\\)`));
  t.equal((e.details.ports as number[]).length, PORT_TRIES, "each port offered is named");
  t.equal(launches(localApp("t/port-never")!.log.path), PORT_TRIES, `launched ${PORT_TRIES} times, then given up`);
});

t.test("identity: an app that is not the Space, or that names a port another process holds, is never sent inputs", async (t) => {
  process.env.DAGGR_LOCAL_PYTHON = PYTHON;
  const foreign = await foreignServer(["predict"]);
  t.teardown(foreign.close);
  for (const [space, env, why] of [
    ["t/id-same", [`FIXTURE_ANNOUNCE=${foreign.port}`], /held by another process/],
    ["t/id-other", ["FIXTURE_ENDPOINTS=other"], /not the Space's/],
  ] as const) {
    const n = node(space, { localEnv: [...env] });
    const h = harness();
    const target = await localTarget(n, h.ctx);
    t.equal(target.local, false, `${space}: not used`);
    t.match(target.reason, why);
    t.ok(h.progress.some((p) => p.text?.startsWith("remote (local failed:")), "the card says remote, and why");
    const child = localApp(space)?.child;
    if (child && child.exitCode === null && child.signalCode === null) await once(child, "exit");
    t.ok(child && !isAlive(child.pid!), "our child was stopped");
    process.env.DAGGR_LOCAL_NO_FALLBACK = "1";
    await t.rejects(localTarget(n, harness().ctx), { code: "E_LOCAL_FAILED" }, "no fallback: the error");
    delete process.env.DAGGR_LOCAL_NO_FALLBACK;
  }
  t.notOk(foreign.requests.some((r) => r.startsWith("POST")), "the foreign server got no input");
});

/** Whether a process runs (a zombie awaiting its reaper does not). */
function isAlive(pid: number) {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

t.test("a crash while running fails the node at once; the app restarts for the next run", async (t) => {
  process.env.DAGGR_LOCAL_PYTHON = PYTHON;
  const n = node("t/crashy");
  const pid1 = pidOf((await call(n, "one")).out);
  await t.rejects(call(n, "crash"), { code: "E_LOCAL_FAILED", message: /crashed while running this node \(exit code 3\)/ });
  const pid2 = pidOf((await call(n, "two")).out);
  t.ok(pid2 && pid2 !== pid1, "restarted: a new process serves");
});

t.test("after 5 restarts the node falls back to the remote Space, with the reason", async (t) => {
  process.env.DAGGR_LOCAL_PYTHON = PYTHON;
  const n = node("t/restarts");
  let crashes = 0;
  for (;;) {
    const h = harness();
    const target = await localTarget(n, h.ctx);
    if (!target.local) {
      t.equal(target.app, "t/restarts", "the remote Space");
      t.match(target.reason, /crashed 6 times/);
      break;
    }
    await t.rejects(gradioExecutor.execute(n, { text: "crash" }, h.ctx));
    crashes++;
    if (crashes > 6) break;
  }
  t.equal(crashes, 6, "the first run and 5 restarts crashed");
});

t.test("a Space that cannot start falls back with the reason, or fails under DAGGR_LOCAL_NO_FALLBACK", async (t) => {
  process.env.DAGGR_LOCAL_PYTHON = PYTHON;
  const h = harness();
  const target = await localTarget(node("t/broken"), h.ctx);
  t.equal(target.local, false);
  t.match(target.reason, /stopped before it was ready \(exit code 2\).*missing\.py/);
  const h2 = harness();
  const missing = await localTarget(node("t/not-on-hub"), h2.ctx);
  t.match(missing.reason, /was not found on the Hub/);
  process.env.DAGGR_LOCAL_NO_FALLBACK = "1";
  t.teardown(() => delete process.env.DAGGR_LOCAL_NO_FALLBACK);
  await t.rejects(localTarget(node("t/broken"), harness().ctx), { code: "E_LOCAL_FAILED" });
});

t.test("an app that is not ready within DAGGR_LOCAL_TIMEOUT is stopped and the node falls back", async (t) => {
  process.env.DAGGR_LOCAL_PYTHON = PYTHON;
  process.env.DAGGR_LOCAL_TIMEOUT = "1";
  t.teardown(() => void (process.env.DAGGR_LOCAL_TIMEOUT = "60"));
  const target = await localTarget(node("t/hang", { localEnv: ["FIXTURE_HANG=1"] }), harness().ctx);
  t.equal(target.local, false);
  t.match(target.reason, /not ready after 1 s \(DAGGR_LOCAL_TIMEOUT\)/);
  const child = localApp("t/hang")!.child!;
  if (child.exitCode === null && child.signalCode === null) await once(child, "exit");
  t.notOk(isAlive(child.pid!), "the hung app was stopped");
});

t.test("an app printing megabytes keeps serving; its log rotates", async (t) => {
  process.env.DAGGR_LOCAL_PYTHON = PYTHON;
  const n = node("t/noisy", { localEnv: ["FIXTURE_NOISE_MB=3"] });
  const h = harness();
  const target = await localTarget(n, h.ctx, { logMaxBytes: 1024 * 1024 });
  t.ok(target.local);
  t.match((await call(n, "noisy:4")).out, /^NOISY pid=/);
  t.match((await call(n, "after")).out, /^AFTER pid=/);
  const logs = readdirSync(join(home, "logs")).filter((f) => f.startsWith("t__noisy.log"));
  t.same(logs.sort(), ["t__noisy.log", "t__noisy.log.1", "t__noisy.log.2", "t__noisy.log.3"], "rotated, 3 kept");
  for (const f of logs) t.ok(statSync(join(home, "logs", f)).size <= 1024 * 1024 + 65536, `${f} bounded`);
});

t.test("the app's environment has no secrets unless named in localEnv", async (t) => {
  process.env.DAGGR_LOCAL_PYTHON = PYTHON;
  const plain = (await call(node("t/env"), "env")).out.split(",");
  t.ok(plain.includes("PATH") && plain.includes("GRADIO_SERVER_PORT"));
  for (const secret of ["HF_TOKEN", "AWS_SECRET_ACCESS_KEY", "OPENAI_API_KEY", "DAGGR_HOME", "HF_ENDPOINT"]) t.notOk(plain.includes(secret), `${secret} not passed`);
  const named = (await call(node("t/env-named", { localEnv: ["OPENAI_API_KEY", "CUDA_VISIBLE_DEVICES="] }), "env")).out.split(",");
  t.ok(named.includes("OPENAI_API_KEY") && named.includes("CUDA_VISIBLE_DEVICES"), "named ones are passed");
  t.notOk(named.includes("HF_TOKEN"));
  t.same(Object.keys(childEnv([], {}, { HF_TOKEN: "x", PATH: "/bin", GITHUB_TOKEN: "y" })), ["PATH"]);
  t.equal((await call(node("t/env"), "auth")).out, "AUTH=0", "no token sent to the local app (HF_TOKEN is set here)");
});

/** A daggr process (test/fixtures/local-space-holder.ts) that launched `space` locally: it, and its app's pid and URL. */
async function holder(space: string, ...args: string[]) {
  const proc = spawn(process.execPath, ["--import", "tsx", join(import.meta.dirname, "fixtures", "local-space-holder.ts"), space, ...args], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env },
  });
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((r) => proc.once("exit", (code, sig) => r([code, sig])));
  // A test that fails half-way leaves no holder behind.
  t.teardown(() => void (proc.exitCode === null && proc.signalCode === null && proc.kill("SIGKILL")));
  const line = await new Promise<string>((resolve, reject) => {
    let buf = "";
    proc.stdout!.on("data", (c: Buffer) => {
      buf += c.toString();
      if (buf.includes("\n")) resolve(buf.split("\n")[0]!);
    });
    void exited.then(([code]) => reject(new Error(`holder exited ${code}`)));
  });
  return { proc, exited, ...(JSON.parse(line) as { pid: number; local: boolean; url: string }) };
}

/** Resolves when the process behind `url` closes a connection held to it (it ended), then once its pid is gone. */
async function appGone(url: string, pid: number) {
  const sock = connect(Number(new URL(url).port), "127.0.0.1");
  await once(sock, "connect");
  // The end may come as a reset: it still closes the socket.
  sock.on("error", () => {});
  return async () => {
    if (!sock.destroyed) await once(sock, "close");
    // The kernel closes the sockets a moment before the process leaves the table.
    while (isAlive(pid)) await new Promise((r) => setImmediate(r));
  };
}

t.test("a signal to daggr (SIGINT, SIGTERM, SIGHUP) stops its local apps, which run in their own process group", async (t) => {
  process.env.DAGGR_LOCAL_PYTHON = PYTHON;
  // The holder inherits tap's NODE_OPTIONS, which loads an exit-on-signal hook that re-raises
  // a signal only when it is the signal's last listener: daggr's listener must not stand in its way.
  for (const [sig, extra, expected] of [
    ["SIGTERM", [], [null, "SIGTERM"]],
    ["SIGHUP", [], [null, "SIGHUP"]],
    ["SIGINT", ["close-on-signal"], [0, null]],
  ] as const) {
    const h = await holder("t/term", ...extra);
    t.ok(h.local && isAlive(h.pid), `${sig}: the app runs`);
    const gone = await appGone(h.url, h.pid);
    h.proc.kill(sig);
    t.same(await h.exited, expected, `${sig}: daggr ends as it would have without runLocally`);
    await gone();
    t.notOk(isAlive(h.pid), `${sig}: the app (pid ${h.pid}) is gone`);
    t.same(readdirSync(join(home, "local-spaces")).filter((f) => f.startsWith("t__term")), [], `${sig}: its pid file removed`);
  }
});

t.test("closing the last server stops the local apps", async (t) => {
  process.env.DAGGR_LOCAL_PYTHON = PYTHON;
  const n = node("t/served");
  const server = await launch(new Graph({ name: "served", nodes: [n], persistKey: false }), { port: 0, store: new MemoryStore(), quiet: true });
  // Validation at start-up began the launch; wait for it to be ready.
  t.ok((await localTarget(n, harness().ctx)).local);
  const child = localApp("t/served")!.child!;
  const exited = once(child, "exit");
  await server.close();
  await exited;
  t.notOk(isAlive(child.pid!), "the app ended with the server");
});

t.test("an app left behind by a kill -9 of daggr is removed at the next start", async (t) => {
  process.env.DAGGR_LOCAL_PYTHON = PYTHON;
  const { proc, pid, local } = await holder("t/orphan");
  t.ok(local && pid, "the holder launched the app");
  const exited = new Promise((r) => proc.once("exit", r));
  proc.kill("SIGKILL");
  await exited;
  t.ok(isAlive(pid), "the app outlived the killed daggr (an orphan)");
  const killed = sweepOrphans(home);
  t.same(killed, [pid], "the sweep killed exactly it");
  while (isAlive(pid)) await new Promise((r) => setImmediate(r));
  t.same(readdirSync(join(home, "local-spaces")).filter((f) => f.startsWith("t__orphan")), [], "pid file removed");
});

/** `daggr dev <app>` in `dir`, with its output and a wait for a line. */
function daggrDev(dir: string, app: string, port: number) {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const proc = spawn(process.execPath, ["--import", import.meta.resolve("tsx"), join(root, "lib/cli/index.ts"), "dev", app, "--port", String(port)], {
    cwd: dir,
    env: { ...process.env, DAGGR_DEBUG: "1", DAGGR_LOCAL_PYTHON: PYTHON },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout!.on("data", (c: Buffer) => (out += c.toString()));
  proc.stderr!.on("data", (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((r) => proc.once("exit", (code) => r(code)));
  const waitFor = (re: RegExp, from: number) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const m = re.exec(out.slice(from));
        if (m) {
          proc.stdout!.off("data", check);
          proc.stderr!.off("data", check);
          resolve(m[0]);
        }
      };
      proc.stdout!.on("data", check);
      proc.stderr!.on("data", check);
      void exited.then(() => reject(new Error(`daggr dev exited before ${re}:\n${out}`)));
      check();
    });
  return { proc, exited, waitFor, get mark() { return out.length; } };
}

t.test("under daggr dev, a reload keeps the local app; a new localEnv value relaunches it; the command's end stops it", async (t) => {
  const dir = join(root, "dev-app");
  mkdirSync(dir, { recursive: true });
  const lib = pathToFileURL(join(import.meta.dirname, "..", "lib", "index.ts")).href;
  writeFileSync(
    join(dir, "app.ts"),
    `import { GradioNode, Graph, gr } from ${JSON.stringify(lib)};
import { localEnv } from "./env.js";
const local = new GradioNode("t/dev", { name: "local", runLocally: true, validate: false, localEnv, inputs: { text: gr.Textbox({ value: "a" }) }, outputs: { out: gr.Textbox() } });
export default new Graph({ name: "dev local", nodes: [local] });
`,
  );
  const env = (list: string[], note = "") => writeFileSync(join(dir, "env.ts"), `export const localEnv: string[] = ${JSON.stringify(list)};${note}\n`);
  env([]);
  const port = await freePort(); // daggr dev binds it: one no other test's listen(0) takes meanwhile
  const dev = daggrDev(dir, "app.ts", port);
  t.teardown(() => void (dev.proc.exitCode === null && dev.proc.kill("SIGKILL")));
  await dev.waitFor(/serving app\.ts at/, 0);
  let mark = dev.mark;
  const url = `http://127.0.0.1:${port}`;
  const run = async (text: string) => {
    const res = await fetch(`${url}/api/call`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ inputs: { local__text: text } }) });
    const body = (await res.json()) as { outputs?: { local?: { out: string } } };
    if (!body.outputs?.local) throw new Error(`/api/call answered ${res.status} ${JSON.stringify(body)}`);
    return body.outputs.local.out;
  };
  const first = await run("one");
  t.match(first, /^ONE pid=\d+$/);
  const pid1 = pidOf(first);
  const starts = () => readFileSync(join(home, "logs", "t__dev.log"), "utf8").split("--- daggr: starting").length - 1;
  t.equal(starts(), 1, "launched once");

  await dev.waitFor(/standby ready/, mark);
  mark = dev.mark;
  env([], " // edited");
  await dev.waitFor(/reloaded in \d+ ms/, mark);
  const second = await run("two");
  t.equal(pidOf(second), pid1, "the reloaded app calls the same local app");
  t.equal(starts(), 1, "not relaunched");

  const firstGone = await appGone(`http://127.0.0.1:${localPortOf(pid1)}/`, pid1);
  await dev.waitFor(/standby ready/, mark);
  mark = dev.mark;
  env(["FIXTURE_X=1"]);
  await dev.waitFor(/reloaded in \d+ ms/, mark);
  const third = await run("three");
  const pid2 = pidOf(third);
  t.ok(pid2 && pid2 !== pid1, "a new localEnv value: a new app");
  await firstGone();
  t.notOk(isAlive(pid1), "the app no process uses any more was stopped");

  const secondGone = await appGone(`http://127.0.0.1:${localPortOf(pid2)}/`, pid2);
  dev.proc.kill("SIGINT");
  t.equal(await dev.exited, 0);
  await secondGone();
  t.notOk(isAlive(pid2), "Ctrl+C on daggr dev stops the local app");
});

/** The port a local app (by pid) serves on, from its pid file. */
function localPortOf(pid: number): number {
  const dir = join(home, "local-spaces");
  for (const f of readdirSync(dir)) {
    const rec = JSON.parse(readFileSync(join(dir, f), "utf8")) as { pid: number; port: number };
    if (rec.pid === pid) return rec.port;
  }
  throw new Error(`no pid file for ${pid}`);
}

t.test("a result records its Space's revision and the copy that served it", async (t) => {
  process.env.DAGGR_LOCAL_PYTHON = PYTHON;
  const h = harness();
  const origins: Origin[] = [];
  h.ctx.origin = (o) => origins.push(o);
  await gradioExecutor.execute(node("t/env"), { text: "o" }, h.ctx);
  t.same(origins, [{ kind: "space", remote: "t/env", revision: SHA1, via: "local" }]);
  t.equal(await h.ctx.cache.get("upstream-revision:space:t/env"), SHA1, "noted for the start-up check");
});

t.test("upstream tracking: a new Space revision marks old results at start-up; DAGGR_DEPENDENCY_CHECK warn, error, update, skip; a pinned revision", async (t) => {
  process.env.DAGGR_LOCAL_PYTHON = PYTHON;
  t.teardown(() => {
    delete process.env.DAGGR_DEPENDENCY_CHECK;
    hub.spaces.get("t/up")!.sha = SHA1;
  });
  const store = new MemoryStore();
  const up = () => new GradioNode("t/up", { name: "up", runLocally: true, validate: false, inputs: { text: gr.Textbox({ value: "a" }) }, outputs: { out: gr.Textbox() } });
  const serve = async (n = up()) => launch(new Graph({ name: "up", nodes: [n], persistKey: false }), { port: 0, store, quiet: true });
  const selected = async (url: string) => {
    const { c, snap } = await WireClient.open(url);
    c.close();
    return (snap as SnapshotMessage).results.up;
  };

  // A result made at SHA1.
  let server = await serve();
  t.ok((await localTarget(up(), harness().ctx)).local);
  const { c } = await WireClient.open(server.url);
  await c.request({ type: "set-input", nodeId: "up", port: "text", value: "made" });
  await c.request({ type: "run", nodeId: "up", mode: "step" });
  const done = (await c.next((m) => m.type === "event" && m.event.type === "node-completed")) as { event: { result: ResultWire } };
  c.close();
  t.match(done.event.result.origin, { kind: "space", remote: "t/up", revision: SHA1, via: "local" }, "the card gets which copy and revision made it");
  t.notOk(done.event.result.origin?.current, "not older");
  await server.close();

  // The Space moves on: the next start says so and marks the result, which is kept.
  hub.spaces.get("t/up")!.sha = SHA2;
  const said: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string) => (said.push(String(chunk)), true)) as typeof process.stderr.write;
  try {
    server = await serve();
    // The check runs in the background: the mark is on the card once the Hub answered.
    await upstreamChecked();
    const r = await selected(server.url);
    t.equal(r?.origin?.current, SHA2, "made by an older upstream: the card shows the new revision");
    t.match(r?.outputs.out, /^MADE pid=\d+$/, "the result is kept");
  } finally {
    process.stderr.write = write;
  }
  t.ok(said.some((l) => /upstream changed: Space t\/up is now at 22222222 \(results here were made at 11111111\)/.test(l)), "said in the terminal");
  await server.close();

  process.env.DAGGR_DEPENDENCY_CHECK = "error";
  await t.rejects(serve(), { code: "E_UPSTREAM_CHANGED", message: /t\/up is now at 22222222/ }, "error: refuses to start");
  process.env.DAGGR_DEPENDENCY_CHECK = "wran";
  await t.rejects(serve(), { code: "E_BAD_OPTION", details: { nearest: "warn" } }, "a typo: the nearest mode");
  process.env.DAGGR_DEPENDENCY_CHECK = "update";
  server = await serve();
  await upstreamChecked();
  await server.close();
  process.env.DAGGR_DEPENDENCY_CHECK = "error";
  await (await serve()).close();
  t.pass("update accepted the new revision: error mode starts");

  hub.spaces.get("t/up")!.sha = SHA1;
  process.env.DAGGR_DEPENDENCY_CHECK = "skip";
  hub.requests.length = 0;
  await (await serve()).close();
  t.notOk(hub.requests.some((p) => p.includes("/api/spaces/t/up")), "skip: the Hub is not asked");

  // Pinned: the local app runs that revision whatever the head, and the check leaves it alone.
  process.env.DAGGR_DEPENDENCY_CHECK = "error";
  hub.spaces.get("t/up")!.sha = SHA2;
  await stopLocalSpaces();
  const pinned = new GradioNode("t/up", { name: "up", runLocally: true, validate: false, revision: SHA1, inputs: { text: gr.Textbox({ value: "a" }) }, outputs: { out: gr.Textbox() } });
  server = await serve(pinned);
  const h = harness();
  const origins: Origin[] = [];
  h.ctx.origin = (o) => origins.push(o);
  await gradioExecutor.execute(pinned, { text: "p" }, h.ctx);
  t.equal(origins[0]?.revision, SHA1, "runs the pinned revision");
  await server.close();
});

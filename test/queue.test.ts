import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Redis } from "ioredis";
import t from "tap";
import { DaggrError, type EngineEvent, MemoryStore, type Session } from "../lib/index.js";
import { dispatcherOf, openSession } from "../lib/engine/index.js";
import { QueueDispatcher, QueueWorker, SharedDirBlobs, startQueue } from "../lib/queue/index.js";
import app, { boom, closeAppRedis, hang, hold, limited, reverse, stream, upper } from "./fixtures/queue-app.js";
import { startFakeGradio } from "./fixtures/fake-gradio.js";
import { startFakeHf } from "./fixtures/fake-hf.js";
import { type RedisServer, redisMissing, startRedis } from "./helpers/redis.js";

const CLI = resolve("lib/cli/index.ts");
const APP = resolve("test/fixtures/queue-app.ts");
const missing = redisMissing();

interface WorkerProc {
  pid: number;
  child: ChildProcess;
  out: string[];
  exited: Promise<void>;
}

let redis: RedisServer;
let client: Redis;
let blobDir: string;
let pool: WorkerProc[] = [];
/** Workers of one test each, started with the pool (starting a worker is slow on a busy machine). */
let own: Record<"cancel" | "doomed" | "lost" | "variant", WorkerProc[]>;
const workers = new Set<WorkerProc>();

/** Starts `daggr worker` on the test app; resolves once it says it is running. */
async function spawnWorker(db: number, env: Record<string, string> = {}, args: string[] = [], appFile = APP): Promise<WorkerProc> {
  const child = spawn(process.execPath, ["--import", "tsx", CLI, "worker", appFile, "--redis", `${redis.url}/${db}`, "--files", blobDir, "--lock-ms", "2000", ...args], {
    env: { ...process.env, REDIS_URL: redis.url, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const out: string[] = [];
  const exited = new Promise<void>((ok) => child.once("exit", () => ok()));
  const w: WorkerProc = { pid: child.pid!, child, out, exited };
  const orphan = () => child.kill("SIGKILL");
  process.once("exit", orphan);
  void exited.then(() => process.off("exit", orphan));
  workers.add(w);
  void exited.then(() => workers.delete(w));
  await new Promise<void>((ok, fail) => {
    const onData = (b: Buffer) => {
      out.push(b.toString());
      if (/daggr worker .*: running/.test(out.join(""))) ok();
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => fail(new Error(`worker exited (${code}): ${out.join("")}`)));
  });
  return w;
}

async function kill9(w: WorkerProc): Promise<void> {
  w.child.kill("SIGKILL");
  await w.exited;
}

async function stopWorkers(which: Iterable<WorkerProc> = workers): Promise<void> {
  const alive = [...which].filter((w) => workers.has(w));
  for (const w of alive) w.child.kill("SIGKILL");
  await Promise.all(alive.map((w) => w.exited));
}

/**
 * A queue-mode session on the test app (the test process is the main process), on Redis
 * database `db`: tests with workers of their own use their own database, so their jobs
 * never reach another test's workers. The workers it names are stopped at its end.
 */
async function queued(
  t: { teardown(fn: () => unknown): void },
  db: number,
  own: WorkerProc[] = [],
  filesMaxAgeMs?: number,
): Promise<{ s: Session; d: QueueDispatcher; events: EngineEvent[]; store: MemoryStore }> {
  const d = await startQueue(app, { redis: `${redis.url}/${db}`, files: blobDir, filesMaxAgeMs });
  const store = new MemoryStore();
  const s = await app.session({ store, debounceMs: 5, validate: false });
  const events: EngineEvent[] = [];
  s.events.subscribe((e) => events.push(e));
  t.teardown(async () => {
    await s.close();
    await d.close();
    await stopWorkers(own);
  });
  return { s, d, events, store };
}

/** Resolves with the first event matching `pred` (events already seen included). */
function waitEvent(s: Session, seen: EngineEvent[], pred: (e: EngineEvent) => boolean): Promise<EngineEvent> {
  const now = seen.find(pred);
  if (now) return Promise.resolve(now);
  return new Promise((ok) => {
    const sub = s.events.subscribe((e) => {
      if (pred(e)) {
        sub.unsubscribe();
        ok(e);
      }
    });
  });
}

/** Every file under `dir`, as paths relative to it (sorted). */
function filesUnder(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[]).filter((f) => statSync(join(dir, f)).isFile()).sort();
}

/** The job folders of the queue's files directory. */
function jobFolders(): string[] {
  return existsSync(join(blobDir, "jobs")) ? readdirSync(join(blobDir, "jobs")).sort() : [];
}

/** A progress event of `nodeId` saying it runs in process `pid` (any pid when not given). */
const progressPid = (nodeId: string, pid?: number) => (e: EngineEvent) =>
  e.type === "node-progress" && e.nodeId === nodeId && (pid === undefined ? /^pid \d+$/.test(e.progress.text ?? "") : e.progress.text === `pid ${pid}`);

if (missing) {
  t.plan(0, `queue tests skipped: ${missing}`);
} else {
  // Worker processes start slowly on a busy machine, and the engine's cases run again in queue mode.
  t.setTimeout(600_000);
  t.before(async () => {
    redis = await startRedis();
    // Workers shared by the tests that need no special worker: 3 of 2 slots each, on database 0.
    blobDir = mkdtempSync(join(tmpdir(), "daggr-queue-files-"));
    const hang = { QUEUE_APP_HANG: "1" };
    const [p0, p1, p2, cancel, doomed, l0, l1, l2, l3, variant] = await Promise.all([
      ...[0, 1, 2].map(() => spawnWorker(0, {}, ["--concurrency", "2"])),
      spawnWorker(1, hang),
      spawnWorker(2, hang),
      ...[0, 1, 2, 3].map(() => spawnWorker(3, hang)),
      spawnWorker(4, { QUEUE_APP_VARIANT: "!" }),
    ]);
    pool = [p0!, p1!, p2!];
    own = { cancel: [cancel!], doomed: [doomed!], lost: [l0!, l1!, l2!, l3!], variant: [variant!] };
    client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    process.env.REDIS_URL = redis.url;
  });
  t.teardown(async () => {
    await stopWorkers();
    client.disconnect();
    closeAppRedis();
    await redis.stop();
    rmSync(blobDir, { recursive: true, force: true });
  });

  t.test("lib/engine imports neither bullmq nor ioredis: the queue is injected through setDispatcher", async (t) => {
    for (const f of readdirSync("lib/engine")) {
      const src = readFileSync(join("lib/engine", f), "utf8");
      t.notMatch(src, /from "(bullmq|ioredis)"/, f);
    }
  });

  t.test("queue mode: a node runs on a worker; keys, provenance, outputs, partials and events match in-process", async (t) => {
    // In-process first, on its own store.
    const local = await app.session({ store: new MemoryStore(), debounceMs: 5, validate: false });
    const localEvents: EngineEvent[] = [];
    local.events.subscribe((e) => localEvents.push(e));
    await local.run(stream, { mode: "to-here" });
    const { s, events } = await queued(t, 0);
    const summary = await s.run(stream, { mode: "to-here" });
    t.same(summary.nodes, { text: "ran", upper: "ran", stream: "ran" });
    t.ok(pool.some((w) => w.pid === s.get(upper.out.pid)), "upper ran in a worker process");
    t.equal(local.get(upper.out.pid), process.pid, "in-process, it ran here");
    t.equal(s.get(stream.out.out), "HELLO.", "the generator's return value");
    for (const n of ["text", "upper", "stream"]) t.equal(s.currentKey(n), local.currentKey(n), `${n}: same recipe key`);
    t.equal(s.selected(stream)!.key, local.selected(stream)!.key);
    t.same(s.selected(stream)!.upstream, { s: s.selected(upper)!.id }, "provenance: stream consumed upper's result");
    t.equal(s.nodeState("stream").freshness, "fresh");
    const partials = (es: EngineEvent[]) => es.filter((e) => e.type === "node-partial" && e.nodeId === "stream").map((e) => (e as { outputs: unknown }).outputs);
    t.same(partials(events), partials(localEvents), "the same partial outputs, in order");
    t.same(partials(events), ["H", "E", "L", "L", "O"].map((out) => ({ out })));
    const types = (es: EngineEvent[]) => es.filter((e) => e.type !== "node-progress").map((e) => `${e.type}:${(e as { nodeId?: string }).nodeId ?? ""}`);
    t.same(types(events), types(localEvents), "the same events in the same order");
    t.ok(events.some(progressPid("upper")), "progress reported on the worker reached the main process");
    await local.close();
  });

  t.test("files cross by content: a stored input file reaches the worker, its file output lands in the main store", async (t) => {
    const { s, store } = await queued(t, 0);
    const input = await store.putFile({ bytes: Buffer.from("abc"), name: "in.txt" });
    s.set(reverse.in.file, input.path);
    await s.run(reverse, { mode: "step" });
    const rec = s.selected(reverse)!;
    t.ok(rec, JSON.stringify(s.nodeState("reverse").error));
    t.equal(rec.status, "success");
    const out = s.get(reverse.out.file) as string;
    t.ok(out.startsWith(store.filesDir), "the output is a file of the main store");
    t.equal(readFileSync(out, "utf8"), "cba");
    const meta = await store.fileForPath(out);
    t.match(meta?.name, /^reversed-\d+-\d+\.txt$/, "the worker's file name is kept");
    t.ok(rec.files.includes(meta!.id) && rec.files.includes(input.id), "the record references its input and output files");
  });

  t.test("a job's files leave the files folder once its result is committed; a running job's stay", async (t) => {
    const { s, store, events } = await queued(t, 0);
    const before = filesUnder(blobDir);
    const held = await store.putFile({ bytes: Buffer.from("held while the job runs"), name: "held.txt" });
    // A job that keeps its input file until told: it is still running throughout.
    s.set(hold.in.file, held.path);
    const holding = s.start(hold, { mode: "step" });
    await waitEvent(s, events, progressPid("hold"));
    const holdFiles = filesUnder(blobDir).filter((f) => !before.includes(f));
    t.same(holdFiles.map((f) => f.split("/").pop()), [held.id], "the running job's input is in the folder");
    // Two other jobs on the same file (shared content) and on another: run and committed.
    s.set(reverse.in.file, held.path);
    await s.run(reverse, { mode: "step" });
    t.equal(readFileSync(s.get(reverse.out.file) as string, "utf8"), "snur boj eht elihw dleh");
    const other = await store.putFile({ bytes: Buffer.from("xyz"), name: "other.txt" });
    s.set(reverse.in.file, other.path);
    await s.run(reverse, { mode: "step" });
    t.equal(readFileSync(s.get(reverse.out.file) as string, "utf8"), "zyx");
    t.equal(s.selected(reverse)?.status, "success");
    t.same(filesUnder(blobDir), [...before, ...holdFiles].sort(), "the committed jobs' inputs and outputs are gone; the running job's input stays");
    t.equal(readFileSync(join(blobDir, holdFiles[0]!), "utf8"), "held while the job runs", "and is intact");
    await client.rpush("release-hold", "1");
    t.equal((await holding.done).status, "done");
    t.equal(s.get(hold.out.size), 23, "the held job read its file at its end");
    t.same(filesUnder(blobDir), before, "now its file is gone too");
    t.same(jobFolders(), [], "no job folder is left");
  });

  t.test("SharedDirBlobs: jobs sharing a file hold hard links to one copy; releasing one leaves the others' intact", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "daggr-blobs-"));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const src = join(dir, "src.txt");
    writeFileSync(src, "shared content");
    const blobs = new SharedDirBlobs(join(dir, "blobs"));
    const a = await blobs.job("ja").put({ path: src, name: "src.txt" });
    const b = await blobs.job("jb").put({ path: src, name: "src.txt" }, a.id);
    t.equal(b.id, a.id);
    t.not(b.path, a.path, "each job has its own path");
    t.equal(statSync(b.path).ino, statSync(a.path).ino, "one copy on disk");
    t.equal(statSync(a.path).nlink, 2);
    await blobs.release("ja");
    t.notOk(existsSync(a.path), "the released job's folder is gone");
    t.equal(readFileSync(b.path, "utf8"), "shared content", "the other job's file is intact");
    t.equal(await blobs.job("jb").localPath(a.id), b.path);
    // The hint is the main store's content id, trusted; with no copy held under it, the file is copied.
    const c = await blobs.job("jc").put({ path: b.path, name: "src.txt" }, "f".repeat(64));
    t.equal(c.id, a.id, "with no copy held under the hint, the content is copied and hashed");
    await blobs.release("jb");
    await blobs.release("jc");
    t.same(readdirSync(join(dir, "blobs", "jobs")), []);
  });

  t.test("the sweep removes files untouched for filesMaxAgeMs (a crashed process's), keeps fresh ones and those of jobs in flight", async (t) => {
    const HOUR = 3_600_000;
    const { s, d, store, events } = await queued(t, 0, [], HOUR);
    t.equal(d.filesMaxAgeMs, HOUR);
    await d.sweep(); // the one it ran on opening is over: the next sees only what follows
    const sha = (c: string) => c.repeat(64);
    const leftover = (dir: string, ageMs: number) => {
      const path = join(blobDir, "jobs", dir);
      mkdirSync(path, { recursive: true });
      writeFileSync(join(path, sha("a")), "left by a crashed process");
      const at = (Date.now() - ageMs) / 1000;
      utimesSync(join(path, sha("a")), at, at);
      utimesSync(path, at, at);
      return path;
    };
    const old = leftover("j-crashed-old", 2 * HOUR);
    const fresh = leftover("j-crashed-fresh", HOUR / 2);
    const loose = join(blobDir, sha("b"));
    const notOurs = join(blobDir, "notes.txt");
    for (const f of [loose, notOurs]) {
      writeFileSync(f, "x");
      utimesSync(f, (Date.now() - 2 * HOUR) / 1000, (Date.now() - 2 * HOUR) / 1000);
    }
    // A job in flight whose folder looks as old: its main process is alive and says so.
    const input = await store.putFile({ bytes: Buffer.from("in flight"), name: "flight.txt" });
    s.set(hold.in.file, input.path);
    const holding = s.start(hold, { mode: "step" });
    await waitEvent(s, events, progressPid("hold"));
    const live = jobFolders().filter((f) => f.startsWith("j") && !f.startsWith("j-crashed"));
    t.equal(live.length, 1, "the running job has its folder");
    const livePath = join(blobDir, "jobs", live[0]!);
    utimesSync(livePath, (Date.now() - 2 * HOUR) / 1000, (Date.now() - 2 * HOUR) / 1000);
    const removed = await d.sweep();
    t.same(removed.sort(), ["j-crashed-old", sha("b")].sort(), "what the sweep says it removed");
    t.notOk(existsSync(old), "a job folder untouched for longer than the age is removed");
    t.notOk(existsSync(loose), "so is a loose blob of the older layout");
    t.ok(existsSync(join(fresh, sha("a"))), "a younger leftover stays");
    t.ok(existsSync(notOurs), "a file daggr did not make stays");
    t.ok(existsSync(join(livePath, input.id)), "the running job's input stays");
    t.ok(Date.now() - statSync(livePath).mtimeMs < HOUR, "and is marked fresh");
    await client.rpush("release-hold", "1");
    t.equal((await holding.done).status, "done", "the job read its file after the sweep");
    t.equal(s.get(hold.out.size), 9);
    rmSync(fresh, { recursive: true });
    rmSync(notOurs);
    t.same(jobFolders(), [], "no job folder is left");
  });

  t.test("a call given up on (its worker frozen past the cancel grace time) keeps its job's files until the job ends", async (t) => {
    const d = await QueueDispatcher.open(app, { redis: `${redis.url}/0`, blobs: new SharedDirBlobs(blobDir), cancelGraceMs: 50 });
    const store = new MemoryStore();
    // No autorun: the edit below must not start a second job once this one is cancelled.
    const s = await openSession(app, store, { debounceMs: 5, validate: false, autorun: false });
    const events: EngineEvent[] = [];
    s.events.subscribe((e) => events.push(e));
    let frozen: WorkerProc | undefined;
    t.teardown(async () => {
      frozen?.child.kill("SIGCONT");
      await s.close();
      await d.close();
    });
    const input = await store.putFile({ bytes: Buffer.from("given up"), name: "up.txt" });
    s.set(hold.in.file, input.path);
    const started = s.start(hold, { mode: "step" });
    const e = await waitEvent(s, events, progressPid("hold"));
    frozen = pool.find((w) => `pid ${w.pid}` === (e as { progress: { text: string } }).progress.text)!;
    t.ok(frozen, "the job runs on a pool worker");
    const [folder] = jobFolders();
    t.ok(folder && existsSync(join(blobDir, "jobs", folder, input.id)), "the job's input is in its folder");
    frozen.child.kill("SIGSTOP");
    s.cancel(started.runId);
    t.equal((await started.done).status, "cancelled", "the call is given up after the grace time");
    t.ok(existsSync(join(blobDir, "jobs", folder!, input.id)), "the job may still run: its files stay");
    frozen.child.kill("SIGCONT");
    frozen = undefined;
    // The worker hears the cancel, its job ends, and the main process removes the folder.
    while (existsSync(join(blobDir, "jobs", folder!))) await new Promise((ok) => setTimeout(ok, 20));
    t.pass("removed once the job ended");
    await client.rpush("release-hold", "1"); // the function itself ignored the abort: let it return
  });

  t.test("a worker with another files directory fails the job with E_BAD_INPUT naming the missing file", async (t) => {
    const elsewhere = mkdtempSync(join(tmpdir(), "daggr-queue-other-"));
    const w = await QueueWorker.start(app, { redis: `${redis.url}/7`, blobs: new SharedDirBlobs(elsewhere) });
    const { s, store } = await queued(t, 7);
    t.teardown(async () => {
      await w.close();
      rmSync(elsewhere, { recursive: true, force: true });
    });
    const input = await store.putFile({ bytes: Buffer.from("abc"), name: "in.txt" });
    s.set(reverse.in.file, input.path);
    t.equal((await s.run(reverse, { mode: "step" })).status, "failed");
    await s.settled();
    const { results } = await s.history(reverse);
    t.ok(results.length >= 1 && results.every((r) => r.status === "failed"), "every attempt failed");
    const err = results[0]!.error;
    t.equal(err?.code, "E_BAD_INPUT");
    t.match(err?.message, /Input file 'in\.txt' of this job is not in the queue's files directory.*--files/);
    t.same(jobFolders(), [], "the failed job's files are gone too");
  });

  t.test("remote nodes' origins come back from the worker: the records' origins are the same as in-process", async (t) => {
    const fake = await startFakeGradio({ endpoints: [{ name: "/predict", parameters: [{ name: "prompt" }], returns: [{ label: "out" }], fn: (j) => [`${String(j.args.prompt)}!`] }] });
    const hf = await startFakeHf();
    hf.models.set("meta/chatty", { pipeline_tag: "text-generation", tags: ["conversational"], sha: "c".repeat(40) });
    const home = mkdtempSync(join(tmpdir(), "daggr-queue-hf-"));
    const env = { QUEUE_REMOTE_URL: fake.url, FAKE_HF: hf.origin, HF_TOKEN: "hf_queuetesttoken1234567", HF_HOME: home };
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env);
    const { default: remoteApp, remote, chat, shim } = await import("./fixtures/queue-remote-app.js");
    t.teardown(async () => {
      shim?.uninstall();
      for (const [k, v] of Object.entries(saved)) (v === undefined ? delete process.env[k] : (process.env[k] = v));
      await fake.close();
      await hf.close();
      rmSync(home, { recursive: true, force: true });
    });
    // In process first, then through the queue on a worker of its own.
    const local = await remoteApp.session({ store: new MemoryStore(), debounceMs: 5, validate: false });
    await local.run(remote, { mode: "step" });
    await local.run(chat, { mode: "step" });
    const inProcess = { remote: local.selected(remote), chat: local.selected(chat) };
    const localText = local.get(chat.out.text);
    await local.close();
    t.equal(localText, "Echo: hello there");
    t.equal(inProcess.remote?.status, "success");
    t.same(inProcess.chat?.origin, { kind: "model", remote: "meta/chatty", revision: "c".repeat(40) }, "in process, the Hub model's origin and revision");
    t.same(inProcess.remote?.origin, { remote: fake.url }, "in process, the Gradio app's origin");
    const w = await spawnWorker(6, env, [], resolve("test/fixtures/queue-remote-app.ts"));
    const d = await startQueue(remoteApp, { redis: `${redis.url}/6`, files: blobDir });
    const store = new MemoryStore();
    const s = await remoteApp.session({ store, debounceMs: 5, validate: false });
    t.teardown(async () => {
      await s.close();
      await d.close();
      await stopWorkers([w]);
    });
    const joins = () => fake.requests.filter((r) => r.path.endsWith("/queue/join")).length;
    const chats = () => hf.requests.filter((r) => r.path === "/v1/chat/completions").length;
    const [j0, c0] = [joins(), chats()];
    await s.run(remote, { mode: "step" });
    await s.run(chat, { mode: "step" });
    t.equal(joins(), j0 + 1, "the worker called the Gradio app");
    t.equal(chats(), c0 + 1, "the worker called the model");
    t.equal(s.get(remote.out.text), "hi!");
    t.equal(s.get(chat.out.text), localText);
    for (const n of [remote, chat]) {
      const queued = s.selected(n);
      t.equal(queued?.status, "success", JSON.stringify(s.nodeState(n.id).error));
      t.same(queued?.origin, inProcess[n.id as "remote" | "chat"]?.origin, `${n.id}: the same origin in queue mode: ${JSON.stringify(queued?.origin)}`);
    }
    t.equal(await store.getMeta("upstream-revision:model:meta/chatty"), "c".repeat(40), "the main store notes the model's revision for the start-up check, as in process");
  });

  t.test("a failing node fails as in-process: its message is recorded, the run fails", async (t) => {
    const { s } = await queued(t, 0);
    const summary = await s.run(boom, { mode: "step" });
    t.equal(summary.status, "failed");
    t.equal(s.selected(boom)?.status, undefined, "a failure is not selected");
    const err = s.nodeState("boom").error;
    t.match(err?.message, /boom 7/);
  });

  t.test("cancelling a run aborts the worker's job: the AbortSignal fires in the worker", async (t) => {
    const [w] = own.cancel as [WorkerProc];
    const { s, events } = await queued(t, 1, [w]);
    const started = s.start(hang, { mode: "step" });
    await waitEvent(s, events, progressPid("hang"));
    s.cancel(started.runId);
    const summary = await started.done;
    t.equal(summary.status, "cancelled");
    const aborted = await client.blpop("aborted", 60);
    t.equal(Number(aborted?.[1]), w.pid, "the worker's AbortSignal fired");
    const history = await s.history(hang);
    t.same(history.results.map((r) => r.status), ["cancelled"], "recorded as cancelled, never a cache hit");
  });

  t.test("concurrencyGroup + maxConcurrent hold across workers: 3 workers x 2 slots never run more than 2", async (t) => {
    const { s } = await queued(t, 0);
    await s.run(limited, { mode: "to-here" });
    t.same(s.get(limited.out.y), [10, 20, 30, 40, 50, 60, 70, 80]);
    const peak = Number(await client.get("peak"));
    t.ok(peak >= 1 && peak <= 2, `at most 2 calls of the group ran at once across workers (peak ${peak})`);
    t.comment(`items ran on ${new Set(s.get(limited.out.pid) as unknown as number[]).size} worker(s)`);
  });

  t.test("a worker killed mid-job (kill -9): another worker runs the job again; nothing half-committed", async (t) => {
    const [doomed] = own.doomed as [WorkerProc];
    const mine = [doomed];
    const { s, events } = await queued(t, 2, mine);
    const started = s.start(hang, { mode: "step" });
    await waitEvent(s, events, progressPid("hang", doomed.pid));
    const healthy = await spawnWorker(2);
    mine.push(healthy);
    const t0 = performance.now();
    await kill9(doomed);
    const summary = await started.done;
    t.comment(`the job completed on another worker ${Math.round(performance.now() - t0)} ms after the kill (lock 2 s)`);
    t.equal(summary.status, "done");
    t.equal(s.get(hang.out.pid), healthy.pid, "the second worker produced the result");
    const history = await s.history(hang);
    t.same(history.results.map((r) => r.status), ["success"], "one record: the lost attempt left nothing behind");
  });

  t.test("a job whose workers keep dying fails with E_WORKER_LOST after the retries", async (t) => {
    const { s, events } = await queued(t, 3, own.lost);
    const started = s.start(hang, { mode: "step" });
    // Four workers that hang. maxStalledCount 2: the worker running each of three attempts is
    // killed; a live worker's stall check restarts the job, then, the third time, fails it.
    const killed = new Set<number>();
    for (let attempt = 0; attempt < 3; attempt++) {
      const e = await waitEvent(s, events, (e) => progressPid("hang")(e) && !killed.has(Number((e as { progress: { text: string } }).progress.text.slice(4))));
      const pid = Number((e as { progress: { text: string } }).progress.text.slice(4));
      killed.add(pid);
      await kill9(own.lost.find((w) => w.pid === pid)!);
    }
    const summary = await started.done;
    t.equal(summary.status, "failed");
    const err = s.nodeState("hang").error;
    t.equal(err?.code, "E_WORKER_LOST");
    t.match(err?.message, /worker running it stopped/);
    const history = await s.history(hang);
    t.same(history.results.map((r) => r.status), ["failed"], "one failed record, no partial success");
  });

  t.test("a worker with another version of the app refuses the job and says why (E_QUEUE_VERSION)", async (t) => {
    const [w] = own.variant as [WorkerProc];
    const { s } = await queued(t, 4, [w]);
    const summary = await s.run(upper, { mode: "to-here" });
    t.equal(summary.status, "failed");
    const err = s.nodeState("upper").error;
    t.equal(err?.code, "E_QUEUE_VERSION");
    t.match(err?.message, /refused node 'upper'.*differs from the main process's.*fingerprint [0-9a-f]{12} here, [0-9a-f]{12} there/s);
    t.match(w.out.join(""), /refused a job of node 'upper'/, "the worker says so too");
  });

  t.test("the engine's and dynamic graphs' test cases pass with every node call going through the queue", async (t) => {
    // test/helpers/engine.ts gives each graph a queue on this Redis (database 5) and a worker
    // in the test's own process, so the cases' closures still see what their nodes do.
    // Left out, and why: two cases check that the executor's AbortSignal has fired by the
    // time the run settles, which only holds in one process (a worker hears the cancel a
    // moment later: the cancel test above checks it fires there); the 20,000-deep chain and
    // the 3,000-wide joins count the engine's own work at sizes where one job per node is
    // only slow, not different.
    const skip = "newer edit cancels|AbortSignal fires; a cancelled|20,000-deep chain|wide join";
    const runFile = async (file: string) => {
      const child = spawn(process.execPath, ["--import", "tsx", file], {
        // Its own tap run, not a child of this one: the runner's TAP* variables are left out.
        env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("TAP"))), DAGGR_TEST_QUEUE: `${redis.url}/5`, TAP_GREP: skip, TAP_INVERT: "1", TAP_TIMEOUT: "400" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      child.stdout!.on("data", (b: Buffer) => (out += b.toString()));
      child.stderr!.on("data", (b: Buffer) => (out += b.toString()));
      const code = await new Promise<number | null>((ok) => child.once("exit", ok));
      const summary = /# \{ total: (\d+), pass: (\d+)(?:, skip: (\d+))?/.exec(out);
      t.equal(code, 0, `${file} passes in queue mode${code ? `:\n${out.split("\n").filter((l) => /not ok|Error/.test(l)).slice(0, 20).join("\n")}` : ""}`);
      t.ok(summary && Number(summary[2]) > 0, `${file}: ${summary?.[0] ?? "no summary"}`);
    };
    await Promise.all([runFile("test/engine.test.ts"), runFile("test/dynamic.test.ts")]);
  });

  t.test("DAGGR_QUEUE_FILES_MAX_AGE_MS sets the sweep's age when launch gives none; a bad value is named with the default", async (t) => {
    const { filesMaxAgeFromEnv, DEFAULT_FILES_MAX_AGE_MS } = await import("../lib/queue/index.js");
    t.equal(filesMaxAgeFromEnv({}), undefined, "unset: the default applies");
    t.equal(filesMaxAgeFromEnv({ DAGGR_QUEUE_FILES_MAX_AGE_MS: " 3600000 " }), 3_600_000);
    for (const bad of ["abc", "0", "-5", "Infinity"]) {
      let e: unknown;
      try {
        filesMaxAgeFromEnv({ DAGGR_QUEUE_FILES_MAX_AGE_MS: bad });
      } catch (x) {
        e = x;
      }
      t.ok(e instanceof DaggrError && e.code === "E_BAD_OPTION" && /DAGGR_QUEUE_FILES_MAX_AGE_MS/.test(e.message) && e.message.includes(String(DEFAULT_FILES_MAX_AGE_MS)), `${bad}: ${String(e)}`);
    }
    const before = process.env.DAGGR_QUEUE_FILES_MAX_AGE_MS;
    process.env.DAGGR_QUEUE_FILES_MAX_AGE_MS = "3600000";
    try {
      const fromEnv = await startQueue(app, { redis: `${redis.url}/9`, files: blobDir });
      t.equal(fromEnv.filesMaxAgeMs, 3_600_000, "startQueue takes the environment's age");
      await fromEnv.close();
      const given = await startQueue(app, { redis: `${redis.url}/9`, files: blobDir, filesMaxAgeMs: 5_000 });
      t.equal(given.filesMaxAgeMs, 5_000, "an age given to launch wins");
      await given.close();
    } finally {
      if (before === undefined) delete process.env.DAGGR_QUEUE_FILES_MAX_AGE_MS;
      else process.env.DAGGR_QUEUE_FILES_MAX_AGE_MS = before;
    }
  });

    t.test("graph.launch({ queue }) serves with calls on workers; an unreachable Redis is E_QUEUE_UNAVAILABLE", async (t) => {
    const err = await app.launch({ port: 0, quiet: true, queue: { redis: "redis://127.0.0.1:1" } }).catch((e: unknown) => e);
    t.ok(err instanceof DaggrError && err.code === "E_QUEUE_UNAVAILABLE", String(err));
    const bad = await app.launch({ port: 0, quiet: true, queue: { redis: "localhost:6379" } }).catch((e: unknown) => e);
    t.match(String(bad), /E_BAD_OPTION.*redis:\/\//, "a URL without its scheme is named");
    const server = await app.launch({ port: 0, quiet: true, store: new MemoryStore(), queue: { redis: `${redis.url}/0`, files: blobDir } });
    t.ok(dispatcherOf(app), "the graph's calls go to the queue");
    // The app has several parts; graph.call runs the one with `stream`.
    t.ok(pool.every((w) => workers.has(w)), "the shared workers are alive");
    const part = app.subgraphs.find((g) => g.nodes.includes("stream"))!;
    const res = await app.call({ text__text: "queued" }, { subgraph: part.id });
    t.equal(res.stream?.out, "QUEUED.", "graph.call ran on the workers");
    await server.close();
    t.equal(dispatcherOf(app), undefined, "closing the server closes its queue");
  });
}

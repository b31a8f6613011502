/**
 * Every daggr app is also a Gradio app: the real `@gradio/client` (and a GradioNode of
 * another daggr app, which uses it) against a daggr server.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Client, handle_file } from "@gradio/client";
import t from "tap";
import { STARTER_APP } from "../lib/cli/init.js";
import { FnNode, Graph, GradioNode, InputNode, MemoryStore, gr } from "../lib/index.js";
import { closeGradioClients } from "../lib/nodes/gradio-client.js";
import { queueTiming } from "../lib/server/gradio-api/index.js";
import { launch, type ServerOptions } from "../lib/server/index.js";
import { CHROMIUM, startBrowser } from "./fixtures/canvas-browser.js";
import { raw } from "./fixtures/server-wire.js";

const tmp = mkdtempSync(join(tmpdir(), "daggr-gradio-api-"));
t.teardown(async () => {
  await closeGradioClients();
  rmSync(tmp, { recursive: true, force: true });
});

/** A promise a node waits on until the test lets it go. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { opened, open };
}

/**
 * App A: `stamp` reads a text file and a word, writes a new file (`/stamp`); `shout` is a
 * second output node of another part (`/shout`); `count` streams partial text.
 */
function appA(hooks: { started?: () => void; finished?: () => void; hold?: () => Promise<void> | undefined; aborted?: () => void; slow?: Promise<void> } = {}) {
  const stamp = new FnNode(
    ({ doc, word }: { doc: string; word: string }) => {
      const out = join(tmp, `stamped-${Math.random().toString(36).slice(2)}.txt`);
      writeFileSync(out, `${readFileSync(doc, "utf8")} + ${word}`);
      return out;
    },
    { name: "stamp", inputs: { doc: gr.File({ label: "Document" }), word: gr.Textbox({ label: "Word", value: "ok" }) }, outputs: { stamped: gr.File({ label: "Stamped" }) } },
  );
  const upper = new FnNode(({ text }: { text: string }) => text.toUpperCase(), {
    name: "upper",
    inputs: { text: gr.Textbox({ label: "Text", value: "hi" }) },
    outputs: { upper: gr.Textbox() },
  });
  const shout = new FnNode(
    async ({ v, times }: { v: string; times: number }, ctx) => {
      hooks.started?.();
      const hold = hooks.hold?.();
      if (hold) {
        await new Promise<void>((resolve, reject) => {
          ctx.signal.addEventListener("abort", () => (hooks.aborted?.(), reject(ctx.signal.reason)), { once: true });
          void hold.then(resolve);
        });
      }
      hooks.finished?.();
      return { loud: `${v}${"!".repeat(times)}`, length: v.length + times };
    },
    { name: "shout", inputs: { v: upper.out.upper, times: gr.Slider({ minimum: 1, maximum: 5, value: 2 }) }, outputs: { loud: gr.Textbox({ label: "Loud" }), length: gr.Number() } },
  );
  const count = new FnNode(
    async function* ({ word }: { word: string }) {
      let s = "";
      for (const ch of word) {
        s += ch;
        yield s;
        if (hooks.slow) await hooks.slow;
      }
    },
    { name: "count", inputs: { word: gr.Textbox({ value: "Hey" }) }, outputs: { text: gr.Textbox() } },
  );
  return new Graph({ name: "Gradio API app", nodes: [stamp, shout, count], persistKey: false });
}

/** `POST queue/join` for the endpoint named `api` (by its `fn_index` in the config). */
async function joinQueue(url: string, api: string, data: unknown[], session: string): Promise<string> {
  const deps = ((await (await fetch(`${url}/config`)).json()) as { dependencies: Array<{ id: number; api_name: string }> }).dependencies;
  const res = await fetch(`${url}/gradio_api/queue/join?`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ data, fn_index: deps.find((d) => d.api_name === api)!.id, session_hash: session }),
  });
  if (res.status !== 200) throw new Error(`join answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { event_id: string }).event_id;
}

/** A session's SSE stream, message by message, until it ends (or `signal` aborts). */
async function stream(url: string, session: string, each: (m: Record<string, unknown>) => void, signal?: AbortSignal): Promise<void> {
  const res = await fetch(`${url}/gradio_api/queue/data?session_hash=${session}`, { signal });
  let text = "";
  const decoder = new TextDecoder();
  try {
    for await (const chunk of res.body!) {
      text += decoder.decode(chunk, { stream: true });
      let at: number;
      while ((at = text.indexOf("\n\n")) >= 0) {
        each(JSON.parse(text.slice(0, at).replace(/^data: /, "")) as Record<string, unknown>);
        text = text.slice(at + 2);
      }
    }
  } catch (e) {
    if (!signal?.aborted) throw e;
  }
}

async function serve(t: { teardown(fn: () => unknown): void }, graph: Graph, options: ServerOptions = {}) {
  const store = new MemoryStore();
  const server = await launch(graph, { port: 0, store, quiet: true, ...options });
  t.teardown(() => server.close());
  return { server, store, url: server.url };
}

t.test("@gradio/client connects to a daggr app: view_api() lists one endpoint per output node, its free inputs typed from gr.*", async (t) => {
  const { url } = await serve(t, appA());
  const config = (await (await fetch(`${url}/config`)).json()) as Record<string, unknown>;
  t.match(config, { protocol: "sse_v3", api_prefix: "/gradio_api", root: url, enable_queue: true, space_id: null, connect_heartbeat: false });
  const client = await Client.connect(`${url}/`);
  t.teardown(() => client.close());
  const api = (await client.view_api()) as { named_endpoints: Record<string, { parameters: Array<Record<string, unknown>>; returns: Array<Record<string, unknown>> }> };
  t.same(Object.keys(api.named_endpoints).sort(), ["/count", "/shout", "/stamp"], "named after the output nodes");
  const shout = api.named_endpoints["/shout"]!;
  t.same(
    shout.parameters.map((p) => [p.parameter_name, p.component, (p.python_type as { type: string }).type, p.parameter_has_default, p.parameter_default]),
    [
      ["text", "Textbox", "str", true, "hi"],
      ["times", "Slider", "float", true, 2],
    ],
    "the closure's free inputs, upstream first, with their defaults",
  );
  t.same(shout.returns.map((r) => [r.label, r.component, (r.python_type as { type: string }).type]), [["Loud", "Textbox", "str"], ["length", "Number", "float"]]);
  const stamp = api.named_endpoints["/stamp"]!;
  t.same(stamp.parameters.map((p) => [p.parameter_name, p.component, (p.python_type as { type: string }).type, p.parameter_has_default]), [["doc", "File", "filepath", false], ["word", "Textbox", "str", true]]);
  t.same(stamp.returns.map((r) => [r.label, (r.python_type as { type: string }).type]), [["Stamped", "filepath"]]);

  const result = await client.predict("/shout", { text: "hey", times: 3 });
  t.same(result.data, ["HEY!!!", 6], "a call runs the output node and everything upstream");
  await t.rejects(client.predict("/shout", { nope: 1 }), /not a valid keyword argument/, "the client checks names against /info");
});

t.test("a daggr app's GradioNode calls another daggr app through @gradio/client, a file passing through both ways", async (t) => {
  const a = await serve(t, appA());
  const write = new FnNode(
    ({ text }: { text: string }) => {
      const p = join(tmp, `note-${Math.random().toString(36).slice(2)}.txt`);
      writeFileSync(p, text);
      return p;
    },
    { name: "write", inputs: { text: gr.Textbox({ value: "hello" }) }, outputs: { file: gr.File() } },
  );
  const remote = new GradioNode(`${a.url}/`, {
    name: "remote",
    apiName: "/stamp",
    inputs: { doc: write.out.file, word: gr.Textbox({ value: "world" }) },
    outputs: { stamped: gr.File() },
  });
  const read = new FnNode(({ f }: { f: string }) => readFileSync(f, "utf8"), { name: "read", inputs: { f: remote.out.stamped }, outputs: { text: gr.Textbox() } });
  const b = new Graph({ name: "Caller app", nodes: [read], persistKey: false });
  const out = await b.call({ write__text: "hello", remote__word: "world" });
  t.equal(out.read!.text, "hello + world", "uploaded to A, run by A's FnNode, A's output file downloaded by B");

  // The run went through A's engine: a result on A's API sheet, with its inputs and provenance.
  const sheets = await a.store.listSheets("local");
  const sheet = sheets.find((s) => s.name === "Gradio API: /stamp");
  t.ok(sheet, "the endpoint's runs have their own sheet");
  const history = await a.store.listResults(sheet!.id, "stamp");
  t.equal(history.total, 1);
  const rec = history.results[0]!;
  t.equal(rec.status, "success");
  t.equal(rec.inputs.word, "world");
  const input = await a.store.fileForPath(rec.inputs.doc as string);
  t.equal(readFileSync(input!.path, "utf8"), "hello", "the uploaded file is in A's files store");
});

t.test("files: upload answers Gradio paths; file= serves stored files only (403 otherwise); a foreign path is refused by name", async (t) => {
  const { url } = await serve(t, appA());
  const form = new FormData();
  form.append("files", new File(["abc"], "my doc.txt", { type: "text/plain" }));
  const up = await fetch(`${url}/gradio_api/upload`, { method: "POST", body: form });
  t.equal(up.status, 200);
  const [path] = (await up.json()) as string[];
  t.match(path, /^[0-9a-f]{64}\/my_doc\.txt$/);
  const got = await fetch(`${url}/gradio_api/file=${path}`);
  t.equal(got.status, 200);
  t.equal(await got.text(), "abc");
  t.equal((await fetch(`${url}/gradio_api/file=${"0".repeat(64)}/x.txt`)).status, 403, "Gradio's 'File not allowed'");
  t.equal((await fetch(`${url}/gradio_api/file=/etc/passwd`)).status, 404, "a path is never a route");
  t.equal((await fetch(`${url}/gradio_api/upload`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })).status, 400);

  const client = await Client.connect(`${url}/`);
  t.teardown(() => client.close());
  const ok = await client.predict("/stamp", { doc: handle_file(Buffer.from("from a buffer")), word: "w" });
  const fd = (ok.data as Array<{ url: string; orig_name: string; meta: unknown }>)[0]!;
  t.match(fd, { meta: { _type: "gradio.FileData" } });
  t.equal(await (await fetch(fd.url)).text(), "from a buffer + w", "the output's url serves it");
  const pyPath = (fd as unknown as { path: string }).path;
  t.equal(await (await fetch(`${url}/gradio_api/file=${pyPath}`)).text(), "from a buffer + w", "and so does root + 'file=' + path (how gradio_client downloads)");
  await t.rejects(
    client.predict("/stamp", { doc: { path: "/etc/passwd", meta: { _type: "gradio.FileData" } }, word: "w" }),
    { message: /Parameter 'doc' is a file: send a file uploaded to this app/, title: "E_BAD_INPUT" },
  );
});

t.test("queue/data speaks sse_v3: estimation, process_starts, progress, process_generating (then diffs), heartbeat, process_completed, close_stream", async (t) => {
  const slow = gate();
  const { url } = await serve(t, appA({ slow: slow.opened }));
  // (only `count` waits on `slow`: between its yields)
  const before = queueTiming.heartbeatMs;
  queueTiming.heartbeatMs = 20;
  t.teardown(() => void (queueTiming.heartbeatMs = before));
  const session = "sess1";
  const countIndex = ((await (await fetch(`${url}/config`)).json()) as { dependencies: Array<{ id: number; api_name: string }> }).dependencies.find((d) => d.api_name === "count")!.id;
  const join = await fetch(`${url}/gradio_api/queue/join?`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ data: ["Hey"], fn_index: countIndex, session_hash: session }),
  });
  t.equal(join.status, 200);
  const { event_id } = (await join.json()) as { event_id: string };
  t.match(event_id, /^[0-9a-f]{32}$/);
  const res = await fetch(`${url}/gradio_api/queue/data?session_hash=${session}`);
  t.match(res.headers.get("content-type"), /text\/event-stream/);
  const messages: Array<Record<string, unknown>> = [];
  let text = "";
  const decoder = new TextDecoder();
  for await (const chunk of res.body!) {
    text += decoder.decode(chunk, { stream: true });
    let at: number;
    while ((at = text.indexOf("\n\n")) >= 0) {
      const line = text.slice(0, at);
      text = text.slice(at + 2);
      const m = JSON.parse(line.replace(/^data: /, "")) as Record<string, unknown>;
      messages.push(m);
      // The first yield went out and a heartbeat came: let the generator finish.
      if (m.msg === "heartbeat" && messages.some((x) => x.msg === "process_generating")) slow.open();
    }
  }
  const kinds = messages.map((m) => m.msg).filter((k) => k !== "heartbeat" && k !== "progress");
  t.same(kinds.filter((k, i, all) => k !== all[i - 1]), ["estimation", "process_starts", "process_generating", "process_completed", "close_stream"]);
  t.ok(messages.some((m) => m.msg === "heartbeat" && m.event_id === null), "heartbeats on an open stream");
  t.match(messages.find((m) => m.msg === "progress"), { event_id, progress_data: [{ unit: "nodes", desc: "count" }] });
  t.match(messages[0], { msg: "estimation", event_id, rank: 0, queue_size: 1, rank_eta: null });
  const generating = messages.filter((m) => m.msg === "process_generating").map((m) => (m.output as { data: unknown[] }).data);
  t.same(generating, [["H"], [[["append", [], "e"]]], [[["append", [], "y"]]]], "full values first, then diffs");
  t.match(messages.find((m) => m.msg === "process_completed"), { event_id, success: true, output: { data: ["Hey"], is_generating: false } });
  t.same(messages.at(-1), { msg: "close_stream", event_id: null });

  // The heartbeat stream Python's gradio_client keeps open: ALIVE, then again each interval.
  const beat = new AbortController();
  const alive: string[] = [];
  const hb = await fetch(`${url}/gradio_api/heartbeat/${session}`, { signal: beat.signal });
  t.equal(hb.status, 200);
  try {
    for await (const chunk of hb.body!) {
      alive.push(...decoder.decode(chunk).split("\n\n").filter(Boolean));
      if (alive.length >= 2) beat.abort();
    }
  } catch {
    // aborted
  }
  t.same(alive.slice(0, 2), ["data: ALIVE", "data: ALIVE"]);

  // A stream for a session with nothing pending: Gradio's 404 inside the stream.
  const none = await (await fetch(`${url}/gradio_api/queue/data?session_hash=nobody`)).text();
  t.match(JSON.parse(none.replace(/^data: /, "")), { msg: "unexpected_error", session_not_found: true });
});

t.test("job.cancel() through @gradio/client stops the engine run (the node's signal aborts); the app serves the next call", async (t) => {
  const started = gate();
  const aborted = gate();
  let calls = 0;
  // The first call waits forever (until cancelled); later ones run straight through.
  const hold = () => (calls++ === 0 ? new Promise<void>(() => {}) : undefined);
  const { url } = await serve(t, appA({ started: started.open, hold, aborted: aborted.open }));
  const client = await Client.connect(`${url}/`);
  t.teardown(() => client.close());
  // all_events: the statuses tell when the client knows its event id (the stream opens after the join's answer).
  const job = client.submit("/shout", { text: "x", times: 1 }, undefined, undefined, true);
  const data: unknown[] = [];
  const streaming = gate();
  const ended = (async () => {
    for await (const m of job) {
      // The first status is the client's own, before the join; `position` comes from the stream's estimation.
      if (m.type === "status" && (m as { position?: number }).position !== undefined) streaming.open();
      if (m.type === "data") data.push(m.data);
    }
  })();
  await Promise.all([started.opened, streaming.opened]);
  await job.cancel();
  await aborted.opened;
  t.pass("the node's ctx.signal aborted");
  await ended;
  t.same(data, [], "the cancelled job yields no result");
  const bad = await fetch(`${url}/gradio_api/cancel`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ event_id: "x" }) });
  t.equal(bad.status, 422, "a cancel without session_hash and fn_index is refused, as Gradio's CancelBody does");
  const next = await client.predict("/shout", { text: "y", times: 2 });
  t.same(next.data, ["Y!!", 3], "the next call on the same client runs");
  t.equal(calls, 2);
});

t.test("a failing node fails the call with its message; the launch token guards the Gradio API like every route", async (t) => {
  const boom = new FnNode(
    () => {
      throw new Error("kaboom");
    },
    { name: "boom", inputs: { x: gr.Textbox({ value: "a" }) }, outputs: { y: gr.Textbox() } },
  );
  const { url } = await serve(t, new Graph({ name: "Failing app", nodes: [boom], persistKey: false }), { token: "s3cret-token" });
  const denied = await fetch(`${url}/config`);
  t.equal(denied.status, 401, "no token, no config");
  const canvasDenied = await fetch(`${url}/api/schema`);
  t.equal(await denied.text(), await canvasDenied.text(), "refused the same way as the REST API");
  t.equal((await fetch(`${url}/gradio_api/info`)).status, 401);
  t.equal((await fetch(`${url}/gradio_api/queue/join`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })).status, 401);
  await t.rejects(Client.connect(`${url}/`), /401|Could not access/);
  const client = await Client.connect(`${url}/`, { headers: { Authorization: "Bearer s3cret-token" } });
  t.teardown(() => client.close());
  const err = await client.predict("/boom", { x: "a" }).then(() => undefined, (e: Error & { title?: string }) => e);
  t.match(err, { message: /Node 'boom' failed: .*kaboom/, title: "E_NODE_FAILED" }, "the message, and the daggr code as the error's title");
});

t.test("jobs of one endpoint run one at a time, the waiting one told its rank; a dropped stream cancels its session's job", async (t) => {
  const first = gate();
  const aborted = gate();
  let calls = 0;
  const log: string[] = [];
  const hold = () => {
    calls++;
    if (calls === 1) return first.opened;
    if (calls === 3) return new Promise<void>(() => {});
    return undefined;
  };
  const runs: string[] = [];
  const { url } = await serve(t, appA({ hold, aborted: aborted.open, started: () => runs.push("start"), finished: () => runs.push("end") }));
  await joinQueue(url, "shout", ["a", 1], "s1");
  await joinQueue(url, "shout", ["b", 1], "s2");
  const s2Estimations: Array<Record<string, unknown>> = [];
  await Promise.all([
    stream(url, "s1", (m) => log.push(`s1 ${m.msg}`)),
    stream(url, "s2", (m) => {
      log.push(`s2 ${m.msg}`);
      if (m.msg === "estimation") {
        s2Estimations.push(m);
        t.equal(calls, 1, "the second job waits while the first runs");
        first.open();
      }
    }),
  ]);
  t.match(s2Estimations[0], { rank: 0, queue_size: 1 }, "first in line");
  t.same(runs, ["start", "end", "start", "end"], "the second ran after the first finished");
  t.ok(log.includes("s1 process_completed") && log.includes("s2 process_completed"));

  // A third job, held forever: its caller goes away mid-run.
  await joinQueue(url, "shout", ["c", 1], "s3");
  const drop = new AbortController();
  await stream(url, "s3", (m) => m.msg === "process_starts" && calls === 3 && drop.abort(), drop.signal);
  await aborted.opened;
  t.pass("the run was cancelled when its stream dropped (Gradio's clean_events)");
  const after = await joinQueue(url, "shout", ["d", 1], "s4");
  const done: Array<Record<string, unknown>> = [];
  await stream(url, "s4", (m) => m.msg === "process_completed" && done.push(m));
  t.match(done, [{ event_id: after, success: true, output: { data: ["D!", 2] } }], "the endpoint is free again");
});

t.test("API runs reuse upstream results by recipe key and keep provenance; the output node always runs anew", async (t) => {
  const { url, store } = await serve(t, appA());
  const client = await Client.connect(`${url}/`);
  t.teardown(() => client.close());
  t.same((await client.predict("/shout", { text: "same", times: 1 })).data, ["SAME!", 5]);
  t.same((await client.predict("/shout", { text: "same", times: 2 })).data, ["SAME!!", 6]);
  const sheet = (await store.listSheets("local")).find((s) => s.name === "Gradio API: /shout")!;
  const upper = await store.listResults(sheet.id, "upper");
  const shout = await store.listResults(sheet.id, "shout");
  t.equal(upper.total, 1, "upper ran once: its key matched the second time");
  t.equal(shout.total, 2, "shout ran for each call");
  t.same(shout.results.map((r) => r.upstream.v), [upper.results[0]!.id, upper.results[0]!.id], "both consumed that one upper result");
});

t.test("an upload past maxUploadBytes is a 413 in Gradio's words", async (t) => {
  const { url } = await serve(t, appA(), { maxUploadBytes: 64 });
  const form = new FormData();
  form.append("files", new File(["x".repeat(1000)], "big.txt"));
  const res = await fetch(`${url}/gradio_api/upload`, { method: "POST", body: form });
  t.equal(res.status, 413);
  t.match(await res.text(), /maximum allowed size/);
});

t.test("an InputNode's ports are parameters; a Gallery travels as GalleryData items; a hidden output as JSON", async (t) => {
  const form = new InputNode({ name: "form", ports: { n: gr.Number({ value: 2 }), word: gr.Textbox({ value: "w" }) } });
  const pics = new FnNode(
    ({ n, word }: { n: number; word: string }) => {
      const files: string[] = [];
      for (let i = 0; i < n; i++) {
        const p = join(tmp, `pic-${word}${i}.png`);
        writeFileSync(p, `${word}${i}`);
        files.push(p);
      }
      return { gallery: files, meta: { count: n } };
    },
    { name: "pics", inputs: { n: form.out.n, word: form.out.word }, outputs: { gallery: gr.Gallery(), meta: null } },
  );
  const { url } = await serve(t, new Graph({ name: "Gallery app", nodes: [pics], persistKey: false }));
  const client = await Client.connect(`${url}/`);
  t.teardown(() => client.close());
  const api = (await client.view_api()) as { named_endpoints: Record<string, { parameters: Array<{ parameter_name: string }>; returns: Array<{ component: string; python_type: { type: string } }> }> };
  t.same(api.named_endpoints["/pics"]!.parameters.map((p) => p.parameter_name), ["n", "word"]);
  t.same(api.named_endpoints["/pics"]!.returns.map((r) => [r.component, r.python_type.type]), [
    ["Gallery", "list[dict(image: filepath, caption: str | None) | dict(video: filepath, caption: str | None)]"],
    ["Json", "Any"],
  ]);
  const r = await client.predict("/pics", { n: 2, word: "x" });
  const [gallery, meta] = r.data as [Array<{ image: { url: string; orig_name: string }; caption: null }>, unknown];
  t.same(meta, { count: 2 });
  t.same(gallery.map((g) => [g.image.orig_name, g.caption]), [["pic-x0.png", null], ["pic-x1.png", null]]);
  t.equal(await (await fetch(gallery[1]!.image.url)).text(), "x1");

  const remote = new GradioNode(`${url}/`, { name: "remote", apiName: "/pics", inputs: { n: 3, word: gr.Textbox({ value: "y" }) }, outputs: { gallery: gr.Gallery(), meta: gr.JSON() } });
  const read = new FnNode(({ g }: { g: string[] }) => g.map((p) => readFileSync(p, "utf8")), { name: "read", inputs: { g: remote.out.gallery }, outputs: { texts: gr.JSON() } });
  const out = await new Graph({ name: "Gallery caller", nodes: [read], persistKey: false }).call({ remote__word: "z" });
  t.same(out.read!.texts, ["z0", "z1", "z2"], "another daggr app's GradioNode gets the files");
});

t.test("api: false turns the Gradio API off along with the REST API", async (t) => {
  const { url } = await serve(t, appA(), { api: false });
  t.equal((await fetch(`${url}/config`)).status, 404);
  t.equal((await fetch(`${url}/gradio_api/info`)).status, 404);
  t.equal((await fetch(`${url}/api/schema`)).status, 404);
});

// ── The REST "call" API (curl) and run/, driven with plain fetch as curl drives them ──

/** `curl -X POST <url> -H "Content-Type: application/json" -d <body>`. */
async function post(url: string, body: unknown): Promise<{ status: number; type: string; text: string }> {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: res.status, type: res.headers.get("content-type") ?? "", text: await res.text() };
}

/** The SSE text of `GET call/<api>/<event_id>` as it came, and its events parsed by the lines Gradio writes. */
async function callEvents(url: string, api: string, eventId: string) {
  const res = await fetch(`${url}/gradio_api/call/${api}/${eventId}`);
  const text = await res.text();
  const blocks = text.split("\n\n");
  const last = blocks.pop();
  const events = blocks.map((b) => {
    const m = /^event: (generating|complete|error|heartbeat)\ndata: (.*)$/.exec(b);
    if (!m) throw new Error(`not an event of the call API: ${JSON.stringify(b)}`);
    return { event: m[1]!, data: JSON.parse(m[2]!) as unknown, raw: m[2]! };
  });
  if (last !== "") throw new Error(`the stream does not end on a blank line: ${JSON.stringify(last)}`);
  return { status: res.status, type: res.headers.get("content-type") ?? "", text, events };
}

t.test("call API: POST call/<api> answers {event_id}; GET call/<api>/<id> streams `event: complete` with data as json.dumps writes it, then ends", async (t) => {
  const { url } = await serve(t, appA());
  const posted = await post(`${url}/gradio_api/call/shout`, { data: ["héllo 😀", 1] });
  t.equal(posted.status, 200);
  const { event_id } = JSON.parse(posted.text) as { event_id: string };
  t.match(event_id, /^[0-9a-f]{32}$/, "uuid4().hex, as queue/join's");
  t.same(Object.keys(JSON.parse(posted.text) as object), ["event_id"]);
  const got = await callEvents(url, "shout", event_id);
  t.equal(got.status, 200);
  t.equal(got.type, "text/event-stream; charset=utf-8", "Starlette appends the charset to a text/ media type");
  // Python's json.dumps: ", " and ": " between items, non-ASCII as \u escapes (surrogate pairs past U+FFFF).
  t.equal(got.text, 'event: complete\ndata: ["H\\u00c9LLO \\ud83d\\ude00!", 9]\n\n', "exactly the bytes Gradio writes");
  t.same(got.events.map((e) => e.data), [["HÉLLO 😀!", 9]]);

  // call/v2: keyword arguments by parameter_name, defaults for the rest (times: 2).
  const v2 = await post(`${url}/gradio_api/call/v2/shout`, { text: "kw" });
  t.equal(v2.status, 200);
  const v2Events = await callEvents(url, "shout", (JSON.parse(v2.text) as { event_id: string }).event_id);
  t.equal(v2Events.text, 'event: complete\ndata: ["KW!!", 4]\n\n');
  // A value left out of call/ takes the parameter's default too (text: "hi").
  const short = await post(`${url}/gradio_api/call/shout`, { data: [] });
  t.same((await callEvents(url, "shout", (JSON.parse(short.text) as { event_id: string }).event_id)).events, [{ event: "complete", data: ["HI!!", 4], raw: '["HI!!", 4]' }]);
});

t.test("call API with files: an uploaded FileData in, a FileData dict with its url out; a generator streams full values (no diffs)", async (t) => {
  const { url } = await serve(t, appA());
  const form = new FormData();
  form.append("files", new File(["curl doc"], "doc.txt", { type: "text/plain" }));
  const [path] = (await (await fetch(`${url}/gradio_api/upload`, { method: "POST", body: form })).json()) as string[];
  const posted = await post(`${url}/gradio_api/call/stamp`, { data: [{ path, meta: { _type: "gradio.FileData" } }, "curl"] });
  t.equal(posted.status, 200);
  const got = await callEvents(url, "stamp", (JSON.parse(posted.text) as { event_id: string }).event_id);
  t.same(got.events.map((e) => e.event), ["complete"]);
  const [fd] = got.events[0]!.data as Array<Record<string, unknown>>;
  t.same(Object.keys(fd!), ["path", "url", "size", "orig_name", "mime_type", "is_stream", "meta"], "FileData's fields, in data_classes.py's order");
  t.match(fd, { meta: { _type: "gradio.FileData" }, is_stream: false });
  t.equal(fd!.url, `${url}/gradio_api/file=${fd!.path as string}`, "url = root + /gradio_api/file= + path");
  t.equal(await (await fetch(fd!.url as string)).text(), "curl doc + curl");
  t.match(got.text, /^event: complete\ndata: \[\{"path": "[0-9a-f]{64}\/[^"]+", "url": "http:\/\/127\.0\.0\.1:\d+\/gradio_api\/file=/, "json.dumps spacing inside the dict too");

  // count yields "H", "He", "Hey": each generating event carries the full value (blocks.py: no diffs in simple_format).
  const gen = await post(`${url}/gradio_api/call/count`, { data: ["Hey"] });
  const streamed = await callEvents(url, "count", (JSON.parse(gen.text) as { event_id: string }).event_id);
  t.equal(streamed.text, 'event: generating\ndata: ["H"]\n\nevent: generating\ndata: ["He"]\n\nevent: generating\ndata: ["Hey"]\n\nevent: complete\ndata: ["Hey"]\n\n');
});

t.test("call API refusals: an unknown api_name or keyword is a 500 naming the choices; a body without data is pydantic's 422; a missing token a 401", async (t) => {
  const { url } = await serve(t, appA(), { token: "tok-call" });
  const auth = { authorization: "Bearer tok-call", "content-type": "application/json" };
  t.equal((await post(`${url}/gradio_api/call/shout`, { data: ["x", 1] })).status, 401, "the launch token guards call/ like every route");
  t.equal((await fetch(`${url}/gradio_api/run/shout`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"data":[]}' })).status, 401);
  const ask = async (path: string, body: unknown) => {
    const res = await fetch(`${url}/gradio_api/${path}`, { method: "POST", headers: auth, body: JSON.stringify(body) });
    return { status: res.status, type: res.headers.get("content-type") ?? "", text: await res.text() };
  };
  const unknown = await ask("call/shoutt", { data: ["x"] });
  t.equal(unknown.status, 500, "Gradio's FnIndexInferError is unhandled: a 500");
  t.match(unknown.type, /^text\/plain/);
  t.match(unknown.text, /E_UNKNOWN_ENDPOINT.*'\/shoutt'.*Did you mean '\/shout'/);
  t.equal((await ask("call/v2/nope", { text: "x" })).status, 500);
  const kw = await ask("call/v2/shout", { tex: "x" });
  t.equal(kw.status, 500, "construct_args' TypeError");
  t.match(kw.text, /E_UNKNOWN_PARAM.*'tex'.*Did you mean 'text'/);
  const missing = await ask("call/v2/stamp", { word: "w" });
  t.equal(missing.status, 500);
  t.match(missing.text, /E_MISSING_PARAM.*No value provided for required argument: doc/);
  const noData = await ask("call/shout", { session_hash: "s" });
  t.equal(noData.status, 422);
  t.same(JSON.parse(noData.text), { detail: [{ type: "missing", loc: ["body", "data"], msg: "Field required", input: { session_hash: "s" } }] });
  const notList = await ask("call/shout", { data: "x" });
  t.same(JSON.parse(notList.text), { detail: [{ type: "list_type", loc: ["body", "data"], msg: "Input should be a valid list", input: "x" }] });
  t.equal((await ask("call/shout", { data: ["a", 1, 2] })).status, 422, "more values than parameters, as queue/join refuses them");
});

t.test("call API: a node's error is `event: error` with Gradio's error payload; an unknown event id is the 404 inside the stream", async (t) => {
  const boom = new FnNode(
    () => {
      throw new Error("kaboom");
    },
    { name: "boom", inputs: { x: gr.Textbox({ value: "a" }) }, outputs: { y: gr.Textbox() } },
  );
  const { url } = await serve(t, new Graph({ name: "Failing app", nodes: [boom], persistKey: false }));
  const posted = await post(`${url}/gradio_api/call/boom`, { data: ["a"] });
  t.equal(posted.status, 200, "the join succeeds; the failure comes on the stream");
  const got = await callEvents(url, "boom", (JSON.parse(posted.text) as { event_id: string }).event_id);
  t.same(got.events.map((e) => e.event), ["error"]);
  const payload = got.events[0]!.data as Record<string, unknown>;
  t.same(Object.keys(payload), ["error", "duration", "visible", "title"], "utils.py error_payload for a gr.Error");
  t.match(payload, { error: /Node 'boom' failed: .*kaboom/, duration: 10, visible: true, title: "E_NODE_FAILED" });
  t.match(got.events[0]!.raw, /^\{"error": ".*", "duration": 10, "visible": true, "title": "E_NODE_FAILED"\}$/);

  for (const id of ["0123456789abcdef0123456789abcdef", "not-an-event"]) {
    const bad = await callEvents(url, "boom", id);
    t.equal(bad.status, 200, "the stream has started when Gradio raises its 404");
    t.equal(bad.text, 'event: error\ndata: "404: Not Found"\n\n', `unknown id ${id}`);
  }
  const run = await post(`${url}/gradio_api/run/boom`, { data: ["a"] });
  t.equal(run.status, 500, "run/: routes.py predict answers 500 with the error payload");
  t.match(JSON.parse(run.text), { error: /kaboom/, duration: 10, visible: true, title: "E_NODE_FAILED" });
});

t.test("call API: a second GET, and a GET after the job ended under the caller's own session_hash, as routes.py simple_predict_get answers them", async (t) => {
  const { url } = await serve(t, appA());
  const before = queueTiming.heartbeatMs;
  queueTiming.heartbeatMs = 20;
  t.teardown(() => void (queueTiming.heartbeatMs = before));
  // Two jobs on one endpoint run in order: when B's stream ends, A (joined first) has finished too.
  const a = JSON.parse((await post(`${url}/gradio_api/call/shout`, { data: ["a", 1], session_hash: "a-session-of-my-own" })).text) as { event_id: string };
  const b = JSON.parse((await post(`${url}/gradio_api/call/shout`, { data: ["b", 1] })).text) as { event_id: string };
  t.equal((await callEvents(url, "shout", b.event_id)).text, 'event: complete\ndata: ["B!", 2]\n\n');
  t.equal((await callEvents(url, "shout", a.event_id)).text, 'event: complete\ndata: ["A!", 2]\n\n', "found by the unread completion of the caller's session");
  t.equal((await callEvents(url, "shout", a.event_id)).text, 'event: error\ndata: "404: Not Found"\n\n', "once read, its id names no session");
  t.equal((await callEvents(url, "anything", b.event_id.replace(/^./, (c) => (c === "0" ? "1" : "0")))).text, 'event: error\ndata: "404: Not Found"\n\n');

  // B had no session_hash: its id is its session, which Gradio still holds: the stream stays open on heartbeats.
  const stop = new AbortController();
  const res = await fetch(`${url}/gradio_api/call/shout/${b.event_id}`, { signal: stop.signal });
  t.match(res.headers.get("content-type"), /^text\/event-stream/);
  let text = "";
  try {
    for await (const chunk of res.body!) {
      text += Buffer.from(chunk).toString("utf8");
      if (text.split("\n\n").length > 2) stop.abort();
    }
  } catch {
    // aborted
  }
  t.same(text.split("\n\n").slice(0, 2), ["event: heartbeat\ndata: null", "event: heartbeat\ndata: null"], "heartbeats only, no second result");
});

t.test("run/<api_name>: the result in the answer with process_api's keys; fn_index wins over the name; a generator answers its first chunk", async (t) => {
  const slow = gate();
  const { url } = await serve(t, appA({ slow: slow.opened }));
  const ok = await post(`${url}/gradio_api/run/shout`, { data: ["run", 3] });
  t.equal(ok.status, 200);
  t.match(ok.type, /^application\/json/);
  const out = JSON.parse(ok.text) as Record<string, unknown>;
  t.same(Object.keys(out), ["data", "is_generating", "duration", "average_duration", "render_config", "changed_state_ids", "used_cache"], "blocks.py process_api's output, iterator popped");
  t.match(out, { data: ["RUN!!!", 6], is_generating: false, duration: Number, average_duration: Number, render_config: null, changed_state_ids: [], used_cache: null });
  const deps = ((await (await fetch(`${url}/config`)).json()) as { dependencies: Array<{ id: number; api_name: string }> }).dependencies;
  const byIndex = await post(`${url}/gradio_api/run/anything`, { data: ["i", 1], fn_index: deps.find((d) => d.api_name === "shout")!.id });
  t.same((JSON.parse(byIndex.text) as { data: unknown }).data, ["I!", 2], "route_utils.get_fn takes fn_index when it is given");
  const unknown = await post(`${url}/gradio_api/run/nope`, { data: [] });
  t.equal(unknown.status, 500);
  t.match(unknown.text, /E_UNKNOWN_ENDPOINT.*'\/nope'/);
  t.equal((await post(`${url}/gradio_api/run/shout`, {})).status, 422);
  // count waits on `slow` after its first yield: run/ answers with that chunk and leaves the rest.
  const first = await post(`${url}/gradio_api/run/count`, { data: ["Hey"] });
  slow.open();
  t.match(JSON.parse(first.text), { data: ["H"], is_generating: true }, "one step of the iterator, as routes.py predict");
  t.same((JSON.parse((await post(`${url}/gradio_api/run/shout`, { data: ["after", 1] })).text) as { data: unknown }).data, ["AFTER!", 6], "the endpoint serves the next call");
});

t.test("the README's curl example, run with curl against the Quickstart's app, prints what the README says", async (t) => {
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
  const section = readme.slice(readme.indexOf("\n## Every daggr app is also a Gradio app\n"), readme.indexOf("\n## Security model\n"));
  const script = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  t.ok(script, "the section has a sh block");
  // The Quickstart's app.ts as `daggr init` writes it, importing this checkout.
  const app = join(tmp, "quickstart-app.ts");
  writeFileSync(app, STARTER_APP.replace('from "daggr"', `from ${JSON.stringify(new URL("../lib/index.js", import.meta.url).pathname)}`));
  const graph = ((await import(app)) as { default: Graph }).default;
  const { url } = await serve(t, graph);
  const expected = script!.split("\n").filter((l) => l.startsWith("# ")).map((l) => l.slice(2)).join("\n");
  const commands = script!.split("\n").filter((l) => !l.startsWith("#")).join("\n").replaceAll("http://127.0.0.1:7860", url);
  t.not(commands, script, "the commands name the app's URL");
  const { stdout } = await promisify(execFile)("bash", ["-euo", "pipefail", "-c", commands]);
  t.equal(stdout, `${expected}\n\n`, "curl prints the README's lines, then the blank line that ends the event");
});

t.test("/info's bash snippets (upload, call/v2, the stream) run in bash with curl and print the endpoint's result", async (t) => {
  const { url } = await serve(t, appA());
  const info = (await (await fetch(`${url}/gradio_api/info`)).json()) as { named_endpoints: Record<string, { code_snippets: Record<string, string> }> };
  const doc = join(tmp, "snippet-doc.txt");
  writeFileSync(doc, "from the snippet");
  const sh = (script: string) => promisify(execFile)("bash", ["-euo", "pipefail", "-c", script]).then((r) => r.stdout);
  t.equal(await sh(info.named_endpoints["/shout"]!.code_snippets.bash!), 'event: complete\ndata: ["HI!!", 4]\n\n', "the defaults, by name");
  const stamp = info.named_endpoints["/stamp"]!.code_snippets.bash!;
  t.match(stamp, /^FILE_PATH=\$\(curl -s -X POST .*\/gradio_api\/upload -F 'files=@\/path\/to\/your\/file'/);
  const out = await sh(stamp.replace("/path/to/your/file", doc));
  const [, data] = /^event: complete\ndata: (.*)\n\n$/.exec(out) ?? [];
  const [fd] = JSON.parse(data!) as Array<{ url: string }>;
  t.equal(await (await fetch(fd!.url)).text(), "from the snippet + ok", "the uploaded file went through the endpoint");
});

t.test("pythonJson writes what Python's json.dumps writes (checked against python3 on this machine)", async (t) => {
  const { pythonJson } = await import("../lib/server/gradio-api/call-events.js");
  const values: unknown[] = [
    ["Hello, world!", 0.5, 1e-5, 1.5e-7, -2.5e-10, 1e-300, 3, -4, 0.0001, 0.00012, 123.456, true, false, null],
    { "a:b": "x, y", é: ["\u007f", "\n\t\"\\/", "\u0001"], nested: [{ k: [] }, {}] },
    "😀 naïve — ok",
    [],
    {},
  ];
  const ours = values.map((v) => pythonJson(JSON.stringify(v)));
  let theirs: string;
  try {
    const code = "import json,sys\nfor line in sys.stdin.read().splitlines(): print(json.dumps(json.loads(line)))";
    const child = execFile("python3", ["-c", code]);
    child.stdin!.end(values.map((v) => JSON.stringify(v)).join("\n"));
    theirs = await new Promise<string>((ok, fail) => {
      let out = "";
      child.stdout!.on("data", (d) => (out += d));
      child.on("error", fail);
      child.on("close", (code) => (code === 0 ? ok(out) : fail(new Error(`python3 exited ${code}`))));
    });
  } catch (e) {
    // Under CI a missing python3 fails; elsewhere it is a skip, never a pass.
    if (process.env.CI) throw new Error(`python3 is needed to check pythonJson: ${(e as Error).message}`);
    return void t.plan(0, `python3 is not available: ${(e as Error).message}`);
  }
  t.same(ours, theirs.trimEnd().split("\n"));
});

t.test("on a Space (SPACE_ID), run/ refuses a queued endpoint as Gradio does (api_open is false there); call/ still queues it", async (t) => {
  const before = process.env.SPACE_ID;
  process.env.SPACE_ID = "me/app";
  let served: Awaited<ReturnType<typeof serve>>;
  try {
    served = await serve(t, appA(), { host: "127.0.0.1", anonymous: "run" });
  } finally {
    if (before === undefined) delete process.env.SPACE_ID;
    else process.env.SPACE_ID = before;
  }
  const { url } = served;
  const run = await post(`${url}/gradio_api/run/shout`, { data: ["x", 1] });
  t.equal(run.status, 404);
  t.same(JSON.parse(run.text), { detail: "This API endpoint does not accept direct HTTP POST requests. Please join the queue to use this API." });
  t.equal((await post(`${url}/gradio_api/run/nope`, { data: [] })).status, 500, "an unknown name fails first, as get_fn runs before the api_open check");
  const call = await post(`${url}/gradio_api/call/shout`, { data: ["x", 1] });
  t.equal(call.status, 200);
  t.equal((await callEvents(url, "shout", (JSON.parse(call.text) as { event_id: string }).event_id)).text, 'event: complete\ndata: ["X!", 2]\n\n');
});

t.test("call API: /cancel of a call/ job (its event id is its session) ends its stream with `event: complete` and `data: null`, as Gradio's empty output gives", async (t) => {
  const started = gate();
  const aborted = gate();
  const { url } = await serve(t, appA({ started: started.open, hold: () => new Promise<void>(() => {}), aborted: aborted.open }));
  const { event_id } = JSON.parse((await post(`${url}/gradio_api/call/shout`, { data: ["x", 1] })).text) as { event_id: string };
  const streamed = callEvents(url, "shout", event_id);
  await started.opened;
  const deps = ((await (await fetch(`${url}/config`)).json()) as { dependencies: Array<{ id: number; api_name: string }> }).dependencies;
  const cancel = await post(`${url}/gradio_api/cancel`, { event_id, session_hash: event_id, fn_index: deps.find((d) => d.api_name === "shout")!.id });
  t.same(JSON.parse(cancel.text), { success: true });
  t.equal((await streamed).text, "event: complete\ndata: null\n\n");
  await aborted.opened;
  t.pass("the node's run was aborted");
});

t.test("CORS: an allowedOrigins page gets preflights (the methods and headers @gradio/client sends) and readable answers, SSE streams too; any other origin gets no CORS, and its POSTs a 403", async (t) => {
  const site = "https://my-site.example";
  const token = "s3cret-token";
  const { url } = await serve(t, appA(), { allowedOrigins: [site], token });
  const auth = { authorization: `Bearer ${token}` };
  const ask = (path: string, origin: string, method: string, headers?: string) =>
    raw(url, path, { method: "OPTIONS", headers: { origin, "access-control-request-method": method, ...(headers ? { "access-control-request-headers": headers } : {}) } });

  // What the client's requests make a browser ask: its GETs carry Authorization (token or
  // `headers` option), its POSTs JSON, queue/join also x-gradio-user; an upload is multipart.
  const preflights: Array<[string, string, string]> = [
    ["/config", "GET", "authorization"],
    ["/gradio_api/info", "GET", "authorization"],
    ["/gradio_api/heartbeat/abc", "GET", "authorization"],
    ["/gradio_api/queue/join", "POST", "authorization,content-type,x-gradio-user,x-gradio-history-bucket"],
    ["/gradio_api/queue/data?session_hash=abc", "GET", "authorization"],
    ["/gradio_api/upload", "POST", "authorization"],
    ["/gradio_api/cancel", "POST", "authorization,content-type"],
    ["/gradio_api/call/shout", "POST", "authorization,content-type"],
    ["/gradio_api/run/shout", "POST", "authorization,content-type,x-zerogpu-token,x-ip-token"],
  ];
  for (const [path, method, headers] of preflights) {
    const pre = await ask(path, site, method, headers);
    t.equal(pre.status, 204, `${method} ${path}: preflight answered, without the token (browsers never send it on one)`);
    t.equal(pre.headers["access-control-allow-origin"], site, `${path}: the exact origin, never *`);
    t.equal(pre.headers["access-control-allow-methods"], method, `${path}: the methods it serves`);
    t.equal(pre.headers["access-control-allow-headers"], headers.split(",").join(", "), `${path}: the headers asked for`);
    t.equal(pre.headers["access-control-max-age"], "600", `${path}: cached for 600 s`);
    t.equal(pre.headers["access-control-allow-credentials"], undefined, `${path}: no credentials (Gradio sends true)`);
    t.match(pre.headers.vary, /\bOrigin\b/, `${path}: Vary: Origin`);
  }
  t.equal((await ask("/gradio_api/queue/join", site, "POST", "content-type,x-custom,cookie")).headers["access-control-allow-headers"], "content-type", "a header the client does not send is not allowed");
  t.equal((await ask("/gradio_api/queue/join", site, "DELETE")).status, 405, "nor a method the path does not serve");

  // The answers themselves are readable by the page: JSON, and the SSE stream of a call.
  const config = await raw(url, "/config", { headers: { origin: site, ...auth } });
  t.equal(config.status, 200);
  t.equal(config.headers["access-control-allow-origin"], site, "config readable");
  t.match(config.headers.vary, /\bOrigin\b/);
  t.equal(config.headers["access-control-allow-credentials"], undefined, "no credentials");
  const posted = await raw(url, "/gradio_api/call/shout", { method: "POST", headers: { origin: site, ...auth, "content-type": "application/json" }, body: JSON.stringify({ data: ["cors", 1] }) });
  t.equal(posted.status, 200, "the allowed origin's POST passes the Origin check");
  t.equal(posted.headers["access-control-allow-origin"], site);
  const events = await raw(url, `/gradio_api/call/shout/${(JSON.parse(posted.body) as { event_id: string }).event_id}`, { headers: { origin: site, ...auth } });
  t.equal(events.headers["content-type"], "text/event-stream; charset=utf-8");
  t.equal(events.headers["access-control-allow-origin"], site, "the SSE stream is readable");
  t.equal(events.body, 'event: complete\ndata: ["CORS!", 5]\n\n');
  t.equal((await raw(url, "/config", { headers: { origin: site } })).headers["access-control-allow-origin"], site, "a 401 (no token) is readable too, so the page can tell why");
  t.equal((await raw(url, "/api/schema", { headers: { origin: site, ...auth } })).headers["access-control-allow-origin"], undefined, "the REST API stays closed to other origins");

  for (const other of ["https://evil.example", "null", `${site}.evil.example`, "http://my-site.example"]) {
    const pre = await ask("/gradio_api/queue/join", other, "POST", "content-type");
    t.equal(pre.status, 405, `${other}: no preflight answer`);
    for (const h of ["access-control-allow-origin", "access-control-allow-methods", "access-control-allow-headers"]) t.equal(pre.headers[h], undefined, `${other}: no ${h}`);
    const read = await raw(url, "/config", { headers: { origin: other, ...auth } });
    t.equal(read.status, 200);
    t.equal(read.headers["access-control-allow-origin"], undefined, `${other}: config not readable`);
    t.match(read.headers.vary, /\bOrigin\b/, `${other}: Vary: Origin all the same`);
    for (const path of ["/gradio_api/queue/join", "/gradio_api/call/shout", "/gradio_api/run/shout"]) {
      const post = await raw(url, path, { method: "POST", headers: { origin: other, ...auth, "content-type": "application/json" }, body: JSON.stringify({ data: ["x", 1], fn_index: 0, session_hash: "s" }) });
      t.equal(post.status, 403, `${other} POST ${path}: refused by the Origin check`);
      t.equal(post.headers["access-control-allow-origin"], undefined);
    }
  }
});

const noChromium = !existsSync(CHROMIUM);
// Under CI a missing browser fails the suite; elsewhere it is a skip, never a pass.
if (noChromium && process.env.CI) throw new Error(`Chromium is missing at ${CHROMIUM}: apt-get install -y chromium`);
t.test(
  "in a real browser, a page of an allowedOrigins origin calls the daggr app with the bundled @gradio/client and gets the result; the same page from another origin cannot",
  { skip: noChromium ? `no Chromium at ${CHROMIUM} (apt-get install -y chromium)` : false },
  async (t) => {
    let runs = 0;
    const token = "br0wser-token";
    // Two other origins serve the same page and @gradio/client's own browser build (dist/browser.js,
    // what a bundler picks through the package's "browser" export condition).
    const dist = join(import.meta.dirname, "..", "node_modules", "@gradio", "client", "dist");
    const site = createServer((req, res) => {
      const file = /^\/([\w.-]+\.js)$/.exec(req.url ?? "")?.[1];
      if (file && existsSync(join(dist, file))) return void res.writeHead(200, { "Content-Type": "text/javascript" }).end(readFileSync(join(dist, file)));
      res.writeHead(200, { "Content-Type": "text/html" }).end("<!doctype html><title>my site</title><h1>calls a daggr app</h1>");
    });
    const other = createServer(site.listeners("request")[0] as Parameters<typeof createServer>[1]);
    for (const s of [site, other]) {
      await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
      t.teardown(() => new Promise((r) => s.close(r)));
    }
    const originOf = (s: typeof site) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
    const { url } = await serve(t, appA({ started: () => void runs++ }), { allowedOrigins: [originOf(site)], token });
    const browser = await startBrowser();
    t.teardown(() => browser.close());

    /** Opens the page at `origin` and, in it, connects to the daggr app and calls `/shout`. */
    const callFrom = async (origin: string) => {
      const page = await (await browser.context()).newPage();
      page.on("pageerror", (e) => t.fail(`page error: ${e.message}`));
      // Chromium says in the console why it refused a request: kept, to tell CORS from a dead server.
      const blocked: string[] = [];
      page.on("console", (m) => {
        const cors = /^Access to fetch at '(.*)' from origin '.*' has been blocked by CORS policy/.exec(m.text());
        if (cors) blocked.push(new URL(cors[1]!).pathname);
      });
      await page.goto(origin);
      const outcome = await page.evaluate(
        async ({ app, token }) => {
          const { Client, handle_file } = (await import(`${location.origin}/browser.js`)) as typeof import("@gradio/client");
          const Authorization = `Bearer ${token}`;
          try {
            // The token as the README says to pass it: every request carries it, so each one is preflighted.
            const client = await Client.connect(app, { headers: { Authorization } });
            try {
              const shout = (await client.predict("/shout", { text: "cors", times: 3 })).data;
              // A file up (multipart upload) and one back, read from its url.
              const stamped = (await client.predict("/stamp", { doc: handle_file(new Blob(["a page's file"], { type: "text/plain" })), word: "web" })).data as Array<{ url: string }>;
              const file = await (await fetch(stamped[0]!.url, { headers: { Authorization } })).text();
              return { shout, file };
            } finally {
              client.close();
            }
          } catch (e) {
            // Straight to the queue too, as the client would post it (a JSON POST: preflighted).
            const join = await fetch(`${app}gradio_api/queue/join`, {
              method: "POST",
              headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}`, "x-gradio-user": "api" },
              body: JSON.stringify({ data: ["cors", 3], fn_index: 1, session_hash: "s" }),
            }).then((r) => `answered ${r.status}`, (x: Error) => `${x.name}: ${x.message}`);
            return { error: String((e as Error)?.message ?? JSON.stringify(e)), join };
          }
        },
        { app: `${url}/`, token },
      );
      return { ...outcome, blocked };
    };

    t.same(await callFrom(originOf(site)), { shout: ["CORS!!!", 7], file: "a page's file + web", blocked: [] }, "the allowed origin's page gets the results, a file up and back included");
    t.equal(runs, 1, "/shout ran once");
    const before = runs;
    const refused = await callFrom(originOf(other));
    t.match(refused, { error: /Failed to fetch/, join: "TypeError: Failed to fetch" }, "another origin's page cannot connect, nor join the queue");
    t.same(refused.blocked, ["/config", "/gradio_api/queue/join"], "the browser blocked both for CORS (the server is up)");
    t.equal(runs, before, "and nothing ran for it");
  },
);

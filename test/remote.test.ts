/**
 * Remote nodes against fake servers, with the real clients: GradioNode on
 * `@gradio/client`, InferenceNode on `@huggingface/inference` (and `@huggingface/hub`),
 * every request going over real HTTP to the fakes in `test/fixtures/`.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { FnNode, Graph, GradioNode, InferenceNode, MemoryStore, NodeKind, gr, registerExecutor, type ExecContext, type Progress } from "../lib/index.js";
import { gradioExecutor } from "../lib/nodes/gradio.js";
import { closeGradioClients } from "../lib/nodes/gradio-client.js";
import { apiCacheKey } from "../lib/nodes/gradio-api.js";
import { inferenceExecutor } from "../lib/nodes/inference.js";
import { remoteTiming } from "../lib/nodes/hf-retry.js";
import { hfToken, redactToken, tokenAllowed } from "../lib/nodes/hf-token.js";
import { netGuard } from "../lib/nodes/net-guard.js";
import { installFetchShim } from "./fixtures/fetch-shim.js";
import { AppError, type FakeEndpoint, type FakeGradioOptions, startFakeGradio } from "./fixtures/fake-gradio.js";
import { PNG, WAV, startFakeHf } from "./fixtures/fake-hf.js";

const TOKEN = "hf_testtokenABCDEFGH123456";
const home = mkdtempSync(join(tmpdir(), "daggr-remote-"));
process.env.HF_HOME = home;
process.env.HF_TOKEN = TOKEN;
delete process.env.HF_TOKEN_PATH;
Object.assign(remoteTiming, { backoffBaseMs: 10, backoffMaxMs: 80, pollMs: 20, maxPollMs: 50 });

registerExecutor(NodeKind.GRADIO, gradioExecutor);
registerExecutor(NodeKind.INFERENCE, inferenceExecutor);

const shim = installFetchShim();
const hf = await startFakeHf();
hf.token = TOKEN;
for (const host of ["huggingface.co", "router.huggingface.co", "v3.fal.media", "cdn.fake-assets.test"]) shim.route(host, hf.origin);

t.teardown(async () => {
  await closeGradioClients();
  await hf.close();
  shim.uninstall();
  rmSync(home, { recursive: true, force: true });
});

/** An ExecContext on a MemoryStore, recording progress and partial results. */
function harness(o: { signal?: AbortSignal; store?: MemoryStore } = {}) {
  const store = o.store ?? new MemoryStore();
  const progress: Progress[] = [];
  const partials: unknown[] = [];
  const ctx: ExecContext = {
    signal: o.signal ?? new AbortController().signal,
    progress: (p) => progress.push(p),
    partial: (raw) => partials.push(raw),
    files: { dir: store.filesDir, put: (i) => store.putFile(i), lookup: (p) => store.fileForPath(p) },
    cache: { get: (k) => store.getMeta(k), set: (k, v) => store.setMeta(k, v) },
    nodeId: "n",
    runId: "r",
  };
  return { ctx, store, progress, partials };
}

async function app(t: Tap, options: FakeGradioOptions) {
  const fake = await startFakeGradio(options);
  t.teardown(() => fake.close());
  return fake;
}
type Tap = { teardown(fn: () => unknown): void };

const predict: FakeEndpoint = {
  name: "/predict",
  parameters: [{ name: "prompt" }, { name: "n", component: "Number", default: 2 }],
  returns: [{ label: "text" }, { label: "image", component: "Image" }],
  fn: async (j) => {
    j.progress(1, 2, "half way");
    await j.sleep(20);
    return [`${j.args.prompt}×${j.args.n}`, j.file(PNG, "out.png", "image/png")];
  },
};

/** The rejection of a call that must fail, typed loosely for matching. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const fail = (p: Promise<unknown>): Promise<any> =>
  p.then(
    (v) => {
      throw new Error(`expected a failure, got ${JSON.stringify(v)}`);
    },
    (e) => e,
  );

const count = (fake: { requests: Array<{ path: string }> }, prefix: string) => fake.requests.filter((r) => r.path.startsWith(prefix)).length;

// ---------------------------------------------------------------- token

t.test("hfToken() reads HF_TOKEN, else $HF_HOME/token; redactToken() hides it", async (t) => {
  t.equal(hfToken(), TOKEN);
  const dir = mkdtempSync(join(tmpdir(), "daggr-hfhome-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "token"), "hf_fromfile123456789\n");
  t.equal(hfToken({ HF_HOME: dir }), "hf_fromfile123456789");
  t.equal(hfToken({ HF_HOME: join(dir, "none") }), undefined);
  t.equal(hfToken({ HF_TOKEN: "hf_env", HF_HOME: dir }), "hf_env");
  t.notMatch(redactToken(`failed with Bearer ${TOKEN} and ${TOKEN}`), TOKEN);
});

t.test("tokenAllowed(url) admits only huggingface.co, its router and the app's own origin (one Space, not every *.hf.space)", async (t) => {
  t.ok(tokenAllowed("https://huggingface.co/api/spaces/a/b"));
  t.ok(tokenAllowed("https://router.huggingface.co/v1/chat/completions"));
  t.ok(tokenAllowed("https://acme-app.hf.space/config", "https://acme-app.hf.space"));
  t.notOk(tokenAllowed("https://acme-app.hf.space/config"), "a Space host that is not the node's own");
  t.notOk(tokenAllowed("https://evil-app.hf.space/x", "https://acme-app.hf.space"));
  t.notOk(tokenAllowed("https://other.huggingface.co/x"), "only the Hub and the router");
  t.ok(tokenAllowed("http://127.0.0.1:7861/config", "http://127.0.0.1:7861"));
  t.notOk(tokenAllowed("http://127.0.0.1:9999/x", "http://127.0.0.1:7861"));
  t.notOk(tokenAllowed("https://huggingface.co.evil.test/x"));
  t.notOk(tokenAllowed("http://acme-app.hf.space/config"), "plain http never gets it");
  t.notOk(tokenAllowed("https://cdn.fake-assets.test/a.png"));
});

// ---------------------------------------------------------------- gradio: calls

t.test("gradioExecutor.execute maps inputs to parameters and returns the tuple, FileData downloaded into the files store", async (t) => {
  const fake = await app(t, { endpoints: [predict] });
  const node = new GradioNode(fake.url, { inputs: { prompt: gr.Textbox() }, outputs: { text: gr.Textbox(), image: gr.Image() } });
  const { ctx, store } = harness();
  const out = (await gradioExecutor.execute(node, { prompt: "cat" }, ctx)) as [string, string];
  t.equal(out[0], "cat×2", "a parameter left out takes its default");
  const meta = await store.fileForPath(out[1]);
  t.ok(meta, "the image is a file of the store");
  t.same(readFileSync(out[1]), PNG);
  t.match(meta, { name: "out.png", mime: "image/png" });
  const join = fake.requests.find((r) => r.path.startsWith("/gradio_api/queue/join"))!;
  t.match(join.body, { data: ["cat", 2], fn_index: 0 });
  t.equal(gradioExecutor.positional, true);
});

t.test("queue position, ETA and progress from the app reach ctx.progress", async (t) => {
  const slow: FakeEndpoint = { ...predict, fn: async (j) => (j.progress(3, 4, "step 3/4"), await j.sleep(250), ["x", null]) };
  const fake = await app(t, { endpoints: [slow], concurrency: 1 });
  const node = new GradioNode(fake.url, { inputs: { prompt: gr.Textbox() }, outputs: { text: gr.Textbox() } });
  const hs = [harness(), harness(), harness()];
  await Promise.all(hs.map((h) => gradioExecutor.execute(node, { prompt: "p" }, h.ctx)));
  const all = hs.flatMap((h) => h.progress);
  t.ok(all.some((p) => p.queuePosition! >= 1 && p.queueSize! >= 2 && typeof p.eta === "number" && /In queue: \d of \d/.test(p.text ?? "")), "a waiting job sees its position, the queue size and an ETA");
  t.ok(all.some((p) => p.text === "Running"), "process_starts");
  t.ok(all.some((p) => p.fraction === 0.75 && p.text === "step 3/4"), "progress bars");
  t.equal(fake.stats.maxActive, 1);
});

t.test("a job the app has started reports 'Running' with no queue position left over", async (t) => {
  const fake = await app(t, { endpoints: [predict] });
  const node = new GradioNode(fake.url, { inputs: { prompt: gr.Textbox() }, outputs: { text: gr.Textbox() } });
  const h = harness();
  await gradioExecutor.execute(node, { prompt: "p" }, h.ctx);
  const running = h.progress.filter((p) => p.text === "Running");
  t.ok(running.length > 0, "process_starts");
  t.same(running.filter((p) => p.queuePosition !== undefined), [], "a running job is in no queue: the card would say 'Next in queue · Running'");
});

t.test("generator endpoints stream partial outputs (diffs applied), heartbeats notwithstanding", async (t) => {
  const stream: FakeEndpoint = {
    name: "/stream",
    generator: true,
    parameters: [{ name: "text" }],
    returns: [{ label: "out" }, { label: "count", component: "Number" }],
    fn: async function* (j) {
      let s = "";
      for (const [i, c] of [...String(j.args.text)].entries()) {
        s += c;
        yield [s, i + 1];
        await j.sleep(15);
      }
    },
  };
  const fake = await app(t, { endpoints: [stream], heartbeatMs: 5 });
  const node = new GradioNode(fake.url, { apiName: "stream", inputs: { text: gr.Textbox() }, outputs: { out: gr.Textbox(), count: gr.Number() } });
  const { ctx, partials } = harness();
  t.same(await gradioExecutor.execute(node, { text: "Hello" }, ctx), ["Hello", 5]);
  t.same(partials.slice(0, 5), [["H", 1], ["He", 2], ["Hel", 3], ["Hell", 4], ["Hello", 5]]);
});

t.test("one connection per (app, token) is reused across runs; each job has its own session", async (t) => {
  const fake = await app(t, { endpoints: [predict] });
  const node = new GradioNode(fake.url, { inputs: { prompt: gr.Textbox() }, outputs: { text: gr.Textbox() } });
  for (let i = 0; i < 3; i++) await gradioExecutor.execute(node, { prompt: `p${i}` }, harness().ctx);
  await Promise.all([1, 2, 3].map((i) => gradioExecutor.execute(node, { prompt: `q${i}` }, harness().ctx)));
  t.equal(count(fake, "/config"), 1, "connected once");
  t.equal(count(fake, "/gradio_api/info"), 1);
  t.equal(new Set(fake.joinSessions).size, 6, "six jobs, six session hashes");
  process.env.HF_TOKEN = "hf_othertoken999999999";
  t.teardown(() => void (process.env.HF_TOKEN = TOKEN));
  await gradioExecutor.execute(node, { prompt: "x" }, harness().ctx);
  t.equal(count(fake, "/config"), 2, "another token, another client");
});

// ---------------------------------------------------------------- gradio: default names

t.test("a GradioNode built from a URL is named as a user would name the app: Space label, path, local_<port>, host", async (t) => {
  const cases: Array<[string, string]> = [
    ["abidlabs/en2fr", "en2fr"],
    ["https://abidlabs-en2fr.hf.space", "abidlabs_en2fr"],
    ["https://abidlabs-en2fr.hf.space/", "abidlabs_en2fr"],
    ["https://hf-applications-z-image-turbo.hf.space/gradio_api/", "hf_applications_z_image_turbo"],
    ["https://huggingface.co/spaces/abidlabs/en2fr", "en2fr"],
    ["https://my-server.example.org:7860/app/", "my_server"],
    ["https://my-server.example.org:7860/en2fr/", "en2fr"],
    ["https://my-server.example.org/tools/translate%20fr/", "translate_fr"],
    ["https://www.example.org/", "example"],
    ["http://gpu-box:7860", "gpu_box"],
    ["http://localhost:7860", "local_7860"],
    ["http://127.0.0.1:45951/", "local_45951"],
    ["http://[::1]:7861/", "local_7861"],
    ["http://0.0.0.0:7862/", "local_7862"],
    ["http://localhost/", "local"],
    ["http://localhost:7860/en2fr/", "en2fr"],
    ["http://10.0.0.5:7860/", "gradio_10_0_0_5"],
  ];
  for (const [src, id] of cases) {
    const n = new GradioNode(src, { validate: false });
    t.equal(n.id, id, src);
    t.match(n.id, /^[A-Za-z0-9]+(?:_[A-Za-z0-9]+)*$/, `${src}: a valid id`);
    t.equal(new GradioNode(src, { validate: false }).id, n.id, `${src}: the same every time (no counter)`);
  }
  t.equal(new GradioNode("http://127.0.0.1:7860/", { name: "Translate" }).id, "Translate", "a given name wins");
});

t.test("a GradioNode on a local app runs under local_<port>; two nodes on one app without names are E_DUPLICATE_NODE, not suffixed", async (t) => {
  const fake = await app(t, { endpoints: [predict] });
  const port = new URL(fake.url).port;
  const node = new GradioNode(fake.url, { inputs: { prompt: gr.Textbox() }, outputs: { text: gr.Textbox(), image: gr.Image() } });
  t.equal(node.id, `local_${port}`);
  const out = await node.test({ prompt: "cat" });
  t.equal(out.text, "cat×2", "the node runs against the app under its default name");
  const graph = new Graph({ name: "one app", nodes: [node] });
  t.same(graph.nodes.map((n) => n.id), [`local_${port}`]);

  const same = new GradioNode(`http://localhost:${port}/`, { inputs: { prompt: node.out.text }, outputs: { text: gr.Textbox() } });
  const e = codeOf(() => new Graph({ name: "two on one app", nodes: [same] }));
  t.equal(e.code, "E_DUPLICATE_NODE");
  t.match(e.message, `'local_${port}'`);
  t.match(e.message, /distinct `name`/);
  const named = new GradioNode(`http://localhost:${port}/`, { name: "again", inputs: { prompt: node.out.text }, outputs: { text: gr.Textbox() } });
  t.same(new Graph({ name: "named", nodes: [named] }).nodes.map((n) => n.id).sort(), ["again", `local_${port}`]);
});

/** The error `fn` throws. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function codeOf(fn: () => unknown): any {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error("expected a throw");
}

// ---------------------------------------------------------------- gradio: validation

t.test("validate() names the unknown endpoint (valid ones nearest first), unknown and missing parameters, and extra outputs", async (t) => {
  const other: FakeEndpoint = { name: "/edit", parameters: [{ name: "image", component: "Image" }, { name: "strength", component: "Number" }], returns: [{ label: "out", component: "Image" }], fn: () => [null] };
  const fake = await app(t, { endpoints: [predict, other, { ...other, name: "/predict_batch" }] });
  const cache = harness().ctx.cache;
  const bad = (apiName: string, opts: object) => gradioExecutor.validate!(new GradioNode(fake.url, { apiName, ...opts }), { cache });

  const e1 = await fail(bad("/predcit", { inputs: { prompt: gr.Textbox() } }));
  t.equal(e1.code, "E_UNKNOWN_ENDPOINT");
  t.equal(e1.details.nearest, "/predict");
  t.match(e1.message, /'\/predcit'.*Did you mean '\/predict'\?.*Valid choices: '\/predict', '\/edit', '\/predict_batch'|Valid choices: '\/predict', /);
  t.match(e1.message, /Gradio app 'http:\/\/127\.0\.0\.1:\d+\/'/);

  const e2 = await fail(bad("/predict", { inputs: { promt: gr.Textbox() } }));
  t.match(e2, { code: "E_UNKNOWN_PARAM", details: { got: "promt", nearest: "prompt", choices: ["prompt", "n"] } });

  const e3 = await fail(bad("/edit", { inputs: { image: gr.Image() } }));
  t.match(e3, { code: "E_MISSING_PARAM", details: { missing: ["strength"] } });
  t.match(e3.message, /requires 'strength'/);

  const e4 = await fail(bad("/edit", { inputs: { image: gr.Image(), strength: 1 }, outputs: { a: gr.Image(), b: gr.Image() } }));
  t.match(e4, { code: "E_OUTPUT_COUNT" });
  t.match(e4.message, /declares 2 outputs \(a, b\) but .* returns 1 \(out\)/);

  await bad("/edit", { inputs: { image: gr.Image(), strength: 1 }, outputs: { a: gr.Image() } });
  await bad("/nope", { validate: false });
  t.pass("valid nodes and validate:false pass");
});

t.test("validate(): a misspelt input or endpoint is named right after its noun, before the app and node it belongs to", async (t) => {
  const fake = await app(t, { endpoints: [predict] });
  const cache = harness().ctx.cache;
  const param = await fail(gradioExecutor.validate!(new GradioNode(fake.url, { name: "gen", inputs: { promt: gr.Textbox() } }), { cache }));
  t.match(param.message, /^\[E_UNKNOWN_PARAM\] Unknown parameter 'promt' of Gradio app 'http:\/\/127\.0\.0\.1:\d+\/' endpoint '\/predict' \(node 'gen'\)\. Did you mean 'prompt'\?/);
  const endpoint = await fail(gradioExecutor.validate!(new GradioNode(fake.url, { name: "gen", apiName: "/predcit", inputs: { prompt: gr.Textbox() } }), { cache }));
  t.match(endpoint.message, /^\[E_UNKNOWN_ENDPOINT\] Unknown endpoint '\/predcit' of Gradio app '[^']+' \(node 'gen'\)\. Did you mean '\/predict'\?/);
});

t.test("validate() keeps the API info in ctx.cache: after a restart nothing is refetched", async (t) => {
  const fake = await app(t, { endpoints: [predict] });
  const store = new MemoryStore();
  const cache = harness({ store }).ctx.cache;
  const node = new GradioNode(fake.url, { inputs: { prompt: gr.Textbox() }, outputs: { text: gr.Textbox() } });
  await gradioExecutor.validate!(node, { cache });
  t.ok(await store.getMeta(apiCacheKey(fake.url)), "cached under the app");
  await closeGradioClients(); // a restart: no live client, same store
  await gradioExecutor.validate!(node, { cache });
  t.equal(count(fake, "/config") + count(fake, "/gradio_api/info"), 2, "one config and one info fetch in all");
  // A cached description without the endpoint (the app changed): refetched before failing.
  await store.setMeta(apiCacheKey(fake.url), { endpoints: { "/old": { parameters: [], returns: [] } }, fetchedAt: Date.now() });
  await gradioExecutor.validate!(node, { cache });
  t.equal(count(fake, "/config"), 2, "a stale cache is refreshed, not trusted");
});

// ---------------------------------------------------------------- gradio: files

t.test("file parameters upload files of the store with handle_file; other strings are never read as files", async (t) => {
  const seen: unknown[] = [];
  const edit: FakeEndpoint = {
    name: "/edit",
    parameters: [{ name: "image", component: "Image" }, { name: "caption" }],
    returns: [{ label: "info" }],
    fn: (j) => {
      const up = j.upload(j.args.image);
      seen.push(j.args.image);
      return [`${up?.name}:${up?.bytes.length}:${up?.mime}|${j.args.caption}`];
    },
  };
  const fake = await app(t, { endpoints: [edit] });
  const { ctx, store } = harness();
  const stored = await store.putFile({ bytes: PNG, name: "cat.png", mime: "image/png" });
  const node = new GradioNode(fake.url, { apiName: "/edit", inputs: { image: gr.Image(), caption: gr.Textbox() }, outputs: { info: gr.Textbox() } });

  const out = (await gradioExecutor.execute(node, { image: stored.path, caption: "/etc/hostname" }, ctx)) as string[];
  t.equal(out[0], `cat.png:${PNG.length}:image/png|/etc/hostname`, "uploaded with its name and type; the text parameter got the string as is");
  t.match(seen[0], { path: /^\/tmp\/gradio\/[0-9a-f]+\/cat\.png$/, meta: { _type: "gradio.FileData" } });
  t.equal(count(fake, "/gradio_api/upload"), 1);

  const e = await fail(gradioExecutor.execute(node, { image: "/etc/passwd", caption: "x" }, ctx));
  t.match(e, { code: "E_BAD_INPUT", details: { port: "image" } });
  t.match(e.message, /never reads arbitrary local paths/);
  t.equal(count(fake, "/gradio_api/upload"), 1, "nothing was uploaded");
  t.equal(fake.stats.joined, 1, "and no job sent");
});

t.test("a failed input upload stops the job before it is sent", async (t) => {
  const fake = await app(t, { endpoints: [{ name: "/edit", parameters: [{ name: "image", component: "Image" }], returns: [{}], fn: () => ["ok"] }] });
  fake.faults.upload.push({ status: 413, body: "File exceeds the maximum allowed size" });
  const { ctx, store } = harness();
  const stored = await store.putFile({ bytes: PNG, name: "a.png" });
  const node = new GradioNode(fake.url, { apiName: "/edit", inputs: { image: gr.Image() }, outputs: { out: gr.Textbox() } });
  const e = await fail(gradioExecutor.execute(node, { image: stored.path }, ctx));
  t.match(e, { code: "E_REMOTE_FAILED" });
  t.match(e.message, /uploading an input file failed \(HTTP 413: File exceeds/);
  t.equal(fake.stats.joined, 0);
});

t.test("a file output over maxFileBytes fails with E_FILE_TOO_LARGE", async (t) => {
  const big: FakeEndpoint = { name: "/big", parameters: [], returns: [{ component: "File" }], fn: (j) => [j.file(Buffer.alloc(5000, 1), "big.bin")] };
  const fake = await app(t, { endpoints: [big] });
  const node = new GradioNode(fake.url, { apiName: "/big", outputs: { f: gr.File() }, maxFileBytes: 1000 });
  const e = await fail(gradioExecutor.execute(node, {}, harness().ctx));
  t.match(e, { code: "E_FILE_TOO_LARGE", details: { maxBytes: 1000 } });
  t.match(e.message, /maxFileBytes/);
});

t.test("the HF token goes to the app's own origin, never to a host a file URL redirects to", async (t) => {
  const fake = await app(t, { endpoints: [predict] });
  fake.fileRedirect = "https://cdn.fake-assets.test/mirror";
  const node = new GradioNode(fake.url, { inputs: { prompt: gr.Textbox() }, outputs: { text: gr.Textbox(), image: gr.Image() } });
  const before = hf.requests.length;
  const out = (await gradioExecutor.execute(node, { prompt: "a" }, harness().ctx)) as string[];
  t.same(readFileSync(out[1]!), PNG, "downloaded through the redirect");
  t.equal(fake.requests.find((r) => r.path === "/config")!.authorization, `Bearer ${TOKEN}`, "the app's origin gets the token");
  t.equal(fake.requests.find((r) => r.path.startsWith("/gradio_api/file="))!.authorization, `Bearer ${TOKEN}`);
  const cdn = hf.requests.slice(before).filter((r) => r.host === "cdn.fake-assets.test");
  t.equal(cdn.length, 1);
  t.equal(cdn[0]!.authorization, null, "the CDN does not");
});

t.test("a config whose root is on another host is refused (E_REMOTE_ROOT naming both, E_URL_REFUSED for plain http); nothing is sent there", async (t) => {
  const realResolve = netGuard.resolve;
  netGuard.resolve = async (host) => (host === "elsewhere.example" ? [{ address: "93.184.216.34", family: 4 }] : realResolve(host));
  t.teardown(() => void (netGuard.resolve = realResolve));
  const fake = await app(t, { endpoints: [predict], root: "https://elsewhere.example" });
  const node = new GradioNode(fake.url, { inputs: { prompt: gr.Textbox() }, outputs: { text: gr.Textbox() } });
  const e = await fail(gradioExecutor.execute(node, { prompt: "a" }, harness().ctx));
  const appHost = new URL(fake.origin).host;
  t.match(e, { code: "E_REMOTE_ROOT", details: { app: appHost, root: "elsewhere.example" } });
  t.ok(e.message.includes(appHost) && e.message.includes("elsewhere.example"), "the message names both hosts");
  t.equal(fake.requests.find((r) => r.path === "/config")!.authorization, `Bearer ${TOKEN}`);
  t.same(fake.requests.map((r) => r.path), ["/config"], "refused on the config: no /info, upload or job was sent anywhere");

  const probe = await app(t, { endpoints: [predict] });
  const plain = await app(t, { endpoints: [predict], root: probe.origin.replace("127.0.0.1", "localhost") });
  const e2 = await fail(gradioExecutor.execute(new GradioNode(plain.url, { inputs: { prompt: gr.Textbox() }, outputs: { text: gr.Textbox() } }), { prompt: "a" }, harness().ctx));
  t.match(e2, { code: "E_URL_REFUSED" });
  t.match(e2.message, /must use https/);
  t.same(probe.requests, [], "the plain-http root got no request, so no token");
  t.equal(count(plain, "/config"), 1, "not retried");
});

t.test("a Space id resolves through the Hub; *.hf.space gets the token, errors never show it", async (t) => {
  const leaky: FakeEndpoint = { name: "/leak", parameters: [], returns: [{}], fn: (j) => Promise.reject(new AppError(`header was ${j.headers.authorization}`)) };
  const fake = await app(t, { endpoints: [predict, leaky] });
  hf.spaces.set("acme/app", { stages: ["RUNNING"] });
  shim.route("acme-app.hf.space", fake.origin);
  const node = new GradioNode("acme/app", { inputs: { prompt: gr.Textbox() }, outputs: { text: gr.Textbox(), image: gr.Image() } });
  const out = (await gradioExecutor.execute(node, { prompt: "x" }, harness().ctx)) as string[];
  t.equal(out[0], "x×2");
  t.ok(shim.requests.some((r) => r.host === "acme-app.hf.space" && r.authorization === `Bearer ${TOKEN}`));
  const e = await fail(gradioExecutor.execute(new GradioNode("acme/app", { apiName: "/leak", outputs: { o: gr.Textbox() } }), {}, harness().ctx));
  t.match(e, { code: "E_REMOTE_FAILED" });
  t.match(e.message, /Space 'acme\/app' endpoint '\/leak' failed: header was Bearer hf_\*\*\*/);
  t.notMatch(e.message + e.stack, TOKEN);
});

// ---------------------------------------------------------------- gradio: cancel, timeouts, faults

/** A job that ends only when cancelled (or the app closes): no clock for a loaded machine to outrun. */
const slowEndpoint: FakeEndpoint = { name: "/slow", parameters: [{ name: "x" }], returns: [{}], fn: async (j) => (await j.sleep(3_600_000), ["late"]) };

t.test("cancelling the signal cancels the remote job and rejects with E_CANCELLED; the client stays usable", async (t) => {
  const fake = await app(t, { endpoints: [slowEndpoint, predict] });
  const node = new GradioNode(fake.url, { apiName: "/slow", inputs: { x: gr.Textbox() }, outputs: { o: gr.Textbox() } });
  const ac = new AbortController();
  const h = harness({ signal: ac.signal });
  const run = gradioExecutor.execute(node, { x: "1" }, h.ctx);
  while (!h.progress.some((p) => p.text === "Running")) await new Promise((r) => setTimeout(r, 5));
  ac.abort();
  await t.rejects(run, { code: "E_CANCELLED" });
  t.equal(fake.stats.completed, 0, "stops waiting at once: the held job has not finished");
  while (fake.stats.cancelled === 0) await new Promise((r) => setTimeout(r, 5));
  t.match(fake.cancels[0], { event_id: /^[0-9a-f]{32}$/, fn_index: 0 });
  const again = new GradioNode(fake.url, { inputs: { prompt: gr.Textbox() }, outputs: { text: gr.Textbox() } });
  t.equal(((await gradioExecutor.execute(again, { prompt: "ok" }, harness().ctx)) as string[])[0], "ok×2");
  t.equal(count(fake, "/config"), 1, "same client after a cancel");
});

t.test("a timeout signal stops the remote job and reports E_TIMEOUT", async (t) => {
  const fake = await app(t, { endpoints: [slowEndpoint] });
  const node = new GradioNode(fake.url, { apiName: "/slow", inputs: { x: gr.Textbox() }, outputs: { o: gr.Textbox() } });
  // The signal AbortSignal.timeout() gives, firing once the job runs on the app (a 150 ms
  // timer could fire before the job was even sent on a loaded machine: nothing to cancel then).
  const ac = new AbortController();
  const run = gradioExecutor.execute(node, { x: "1" }, harness({ signal: ac.signal }).ctx);
  await until(() => fake.stats.started === 1);
  ac.abort(new DOMException("The operation was aborted due to timeout", "TimeoutError"));
  await t.rejects(run, { code: "E_TIMEOUT" });
  await until(() => fake.stats.cancelled > 0);
  t.pass("the job was cancelled on the server");
});

t.test("a 429 is retried after its Retry-After; a busy queue too; retries run out with E_RATE_LIMITED", async (t) => {
  const fake = await app(t, { endpoints: [predict] });
  const node = new GradioNode(fake.url, { inputs: { prompt: gr.Textbox() }, outputs: { text: gr.Textbox() } });
  fake.faults.join.push({ status: 429, retryAfter: "1", body: { detail: "Too many requests" } }, { status: 503, body: { detail: "Queue is full. Max size is 1 and size is 1." } });
  const h = harness();
  const t0 = Date.now();
  t.equal(((await gradioExecutor.execute(node, { prompt: "a" }, h.ctx)) as string[])[0], "a×2");
  t.ok(Date.now() - t0 >= 1000, "waited for Retry-After");
  t.ok(h.progress.some((p) => /rate limited.*retry 1\/3 in 1\.\d s/.test(p.text ?? "")), "the wait is shown");
  fake.faults.join.push({ status: 429, retryAfter: "0" }, { status: 429, retryAfter: "0" });
  const limited = new GradioNode(fake.url, { inputs: { prompt: gr.Textbox() }, outputs: { text: gr.Textbox() }, retries: 1 });
  const e = await fail(gradioExecutor.execute(limited, { prompt: "b" }, harness().ctx));
  t.match(e, { code: "E_RATE_LIMITED", details: { attempts: 2, status: 429 } });
  t.match(e.message, /endpoint '\/predict' is rate limited \(HTTP 429.*after 2 attempts/);
  fake.faults.join.push({ status: 429, retryAfter: "86400" });
  const far = await fail(gradioExecutor.execute(node, { prompt: "c" }, harness().ctx));
  t.match(far, { code: "E_RATE_LIMITED", details: { attempts: 1, retryAfterMs: 86_400_000 } });
  t.match(far.message, /retry in 86400 s/, "a long Retry-After is shown, not waited for");
});

t.test("a dropped connection is retried on a fresh client", async (t) => {
  const fake = await app(t, { endpoints: [predict] });
  const node = new GradioNode(fake.url, { inputs: { prompt: gr.Textbox() }, outputs: { text: gr.Textbox() } });
  await gradioExecutor.execute(node, { prompt: "warm" }, harness().ctx);
  fake.faults.dropStream = 1;
  const quiet = t.capture(console, "error");
  t.equal(((await gradioExecutor.execute(node, { prompt: "a" }, harness().ctx)) as string[])[0], "a×2");
  quiet();
  t.equal(count(fake, "/config"), 2, "reconnected");
});

t.test("an app that cannot be reached is retried, then fails with E_NETWORK naming it", async (t) => {
  const fake = await startFakeGradio({ endpoints: [predict] });
  await fake.close();
  const node = new GradioNode(fake.url, { inputs: { prompt: gr.Textbox() }, outputs: { text: gr.Textbox() }, retries: 2 });
  const e = await fail(gradioExecutor.execute(node, { prompt: "a" }, harness().ctx));
  t.match(e, { code: "E_NETWORK", details: { attempts: 3 } });
  t.match(e.message, /Gradio app 'http:\/\/127\.0\.0\.1:\d+\/' could not be reached \(ECONNREFUSED\)/);
});

t.test("a ZeroGPU quota error is not retried and shows when to retry", async (t) => {
  const quota: FakeEndpoint = {
    name: "/gpu",
    parameters: [],
    returns: [{}],
    fn: () => Promise.reject(new AppError("You have exceeded your GPU quota (60s requested vs. 44s left). Try again in 0:12:34", "ZeroGPU quota exceeded")),
  };
  const fake = await app(t, { endpoints: [quota] });
  const node = new GradioNode(fake.url, { apiName: "/gpu", outputs: { o: gr.Textbox() } });
  const e = await fail(gradioExecutor.execute(node, {}, harness().ctx));
  t.match(e, { code: "E_QUOTA_EXCEEDED", details: { retryInSeconds: 754, retryAt: /^\d{4}-/ } });
  t.match(e.message, /ZeroGPU quota exceeded .* Try again in 13 min/);
  t.equal(fake.stats.joined, 1, "not retried");
});

t.test("an app error reaches the user naming the app and endpoint; a hidden one says so", async (t) => {
  const fake = await app(t, {
    endpoints: [
      { name: "/boom", parameters: [], returns: [{}], fn: () => Promise.reject(new AppError("Boom from app", "Bad input")) },
      { name: "/crash", parameters: [], returns: [{}], fn: () => Promise.reject(new Error("secret traceback")) },
    ],
  });
  const e1 = await fail(gradioExecutor.execute(new GradioNode(fake.url, { apiName: "/boom", outputs: { o: gr.Textbox() } }), {}, harness().ctx));
  t.match(e1, { code: "E_REMOTE_FAILED" });
  t.match(e1.message, /^\[E_REMOTE_FAILED\] Gradio app 'http:\/\/127\.0\.0\.1:\d+\/' endpoint '\/boom' failed: Bad input: Boom from app$/);
  const e2 = await fail(gradioExecutor.execute(new GradioNode(fake.url, { apiName: "/crash", outputs: { o: gr.Textbox() } }), {}, harness().ctx));
  t.match(e2.message, /failed: An error occurred \(the app hides its error details/);
  t.equal(fake.stats.joined, 2, "app errors are not retried");
});

// ---------------------------------------------------------------- gradio: Space status

t.test("a sleeping Space is woken and waited for; progress says so", async (t) => {
  const fake = await app(t, { endpoints: [predict] });
  hf.spaces.set("acme/sleepy", { stages: ["SLEEPING", "SLEEPING", "APP_STARTING", "RUNNING"] });
  shim.route("acme-sleepy.hf.space", fake.origin);
  const node = new GradioNode("acme/sleepy", { inputs: { prompt: gr.Textbox() }, outputs: { text: gr.Textbox() } });
  const h = harness();
  t.equal(((await gradioExecutor.execute(node, { prompt: "z" }, h.ctx)) as string[])[0], "z×2");
  t.ok(h.progress.some((p) => /asleep; waking it up/.test(p.text ?? "")));
  t.ok(h.progress.some((p) => /is starting/.test(p.text ?? "")));
  t.ok(shim.requests.some((r) => r.host === "acme-sleepy.hf.space" && new URL(r.url).pathname === "/"), "a request to the Space woke it");
});

t.test("a Space still building at the deadline fails with E_REMOTE_UNAVAILABLE", async (t) => {
  hf.spaces.set("acme/building", { stages: ["BUILDING"] });
  const node = new GradioNode("acme/building", { outputs: { text: gr.Textbox() }, wakeTimeoutMs: 120 });
  const e = await fail(gradioExecutor.execute(node, {}, harness().ctx));
  t.match(e, { code: "E_REMOTE_UNAVAILABLE", details: { stage: "BUILDING" } });
  t.match(e.message, /Space 'acme\/building' is still BUILDING after \d+ s \(wakeTimeoutMs is 120 ms\)/);
});

t.test("a paused or broken Space fails fast with its status; an unknown one is E_REMOTE_NOT_FOUND", async (t) => {
  hf.spaces.set("acme/paused", { stages: ["PAUSED"] });
  hf.spaces.set("acme/broken", { stages: ["RUNTIME_ERROR"], errorMessage: "ModuleNotFoundError: No module named 'torch'" });
  const paused = await fail(gradioExecutor.execute(new GradioNode("acme/paused", { outputs: { o: null } }), {}, harness().ctx));
  t.match(paused, { code: "E_REMOTE_UNAVAILABLE", details: { stage: "PAUSED" } });
  t.match(paused.message, /paused by its author/);
  const broken = await fail(gradioExecutor.execute(new GradioNode("acme/broken", { outputs: { o: null } }), {}, harness().ctx));
  t.match(broken.message, /Space 'acme\/broken' is not running \(stage RUNTIME_ERROR\): ModuleNotFoundError/);
  const polls = (id: string) => hf.requests.filter((r) => r.path === `/api/spaces/${id}`).length;
  t.equal(polls("acme/paused") + polls("acme/broken"), 2, "one status check each: no waiting, no retries");
  const missing = await fail(gradioExecutor.execute(new GradioNode("acme/nope", { outputs: { o: null } }), {}, harness().ctx));
  t.match(missing, { code: "E_REMOTE_NOT_FOUND" });
  hf.spaces.set("acme/private", { stages: ["RUNNING"], private: true });
  process.env.HF_TOKEN = "";
  t.teardown(() => void (process.env.HF_TOKEN = TOKEN));
  const priv = await fail(gradioExecutor.execute(new GradioNode("acme/private", { outputs: { o: null } }), {}, harness({}).ctx));
  t.match(priv, { code: "E_REMOTE_AUTH" });
  t.match(priv.message, /Set HF_TOKEN/);
});

t.test("a Space asked of a Hub this machine cannot reach fails with E_NETWORK in the socket's words and says what to do", async (t) => {
  shim.unroute("huggingface.co");
  t.teardown(() => shim.route("huggingface.co", hf.origin));
  const node = new GradioNode("acme/offline", { outputs: { o: null }, retries: 1 });
  const e = await fail(gradioExecutor.execute(node, {}, harness().ctx));
  t.match(e, { code: "E_NETWORK", details: { attempts: 2 } });
  t.match(e.message, /Space 'acme\/offline': the Hugging Face Hub could not be reached to check its status \(getaddrinfo ENOTFOUND huggingface\.co\) \(after 2 attempts\)\./);
  t.notMatch(e.message, /fetch failed/, "not fetch's bare words");
  t.match(e.message, /is this machine offline, or does it need a proxy\? Run the node again \(▶\) once the network is back\.$/);
  const closed = await startFakeGradio({ endpoints: [predict] });
  await closed.close();
  const refused = await fail(gradioExecutor.execute(new GradioNode(closed.url, { inputs: { prompt: gr.Textbox() }, outputs: { text: gr.Textbox() }, retries: 0 }), { prompt: "a" }, harness().ctx));
  t.match(refused.message, /could not be reached \(ECONNREFUSED\)\. Nothing accepts connections at that address: is the app running there\?$/);
});

// ---------------------------------------------------------------- gradio: sessions and state

/** Waits until `cond()` holds, checking after each macrotask (no fixed delays). */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}

/** `/count(step) → total`, keeping a running total in a gr.State per session. */
const counterEndpoint: FakeEndpoint = {
  name: "/count",
  parameters: [{ name: "total", component: "State", default: 0 }, { name: "step", component: "Number", default: 1 }],
  returns: [{ label: "total", component: "Number" }, { label: "total", component: "State" }],
  fn: (j) => {
    const total = Number(j.args.total) + Number(j.args.step);
    return [total, total];
  },
};

t.test("cancelling one of two concurrent jobs on one app leaves the other to complete", async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const held: FakeEndpoint = { name: "/held", parameters: [{ name: "x" }], returns: [{}], fn: async (j) => (await Promise.race([gate, j.sleep(60_000)]), [`done ${j.args.x}`]) };
  const fake = await app(t, { endpoints: [held] });
  const node = new GradioNode(fake.url, { apiName: "/held", inputs: { x: gr.Textbox() }, outputs: { o: gr.Textbox() } });
  const ac = new AbortController();
  const a = harness({ signal: ac.signal });
  const b = harness();
  const runA = gradioExecutor.execute(node, { x: "a" }, a.ctx);
  const runB = gradioExecutor.execute(node, { x: "b" }, b.ctx);
  await until(() => fake.stats.started === 2);
  ac.abort();
  await t.rejects(runA, { code: "E_CANCELLED" });
  await until(() => fake.stats.cancelled === 1);
  t.equal(fake.killed, 0, "the cancel reached no other job (each job has its own session)");
  if (fake.killed) return; // with a shared session, job b would now never complete
  release();
  t.same(await runB, ["done b"]);
  t.equal(new Set(fake.joinSessions).size, 2);
});

t.test("gr.State never leaks between runs or concurrent sheets; its heartbeats close when the jobs end", async (t) => {
  const fake = await app(t, { endpoints: [counterEndpoint] });
  const node = new GradioNode(fake.url, { apiName: "/count", inputs: { step: gr.Number() }, outputs: { total: gr.Number() } });
  await gradioExecutor.validate!(node, { cache: harness().ctx.cache });
  t.same(await gradioExecutor.execute(node, { step: 5 }, harness().ctx), [5]);
  t.same(await gradioExecutor.execute(node, { step: 5 }, harness().ctx), [5], "a second run starts from the initial state");
  t.same(await Promise.all([1, 2, 3].map((step) => gradioExecutor.execute(node, { step }, harness().ctx))), [[1], [2], [3]], "concurrent sheets too");
  const joins = fake.requests.filter((r) => r.path.startsWith("/gradio_api/queue/join"));
  t.ok(joins.every((r) => (r.body as { data: unknown[] }).data[0] === null), "the client sends null for the State");
  t.ok(fake.heartbeats.opened >= 5, `a heartbeat per session (${fake.heartbeats.opened})`);
  await until(() => fake.heartbeats.open === 0);
  t.pass("every heartbeat stream was closed");
});

t.test("a script that ran a graph through a stateful app exits by itself with code 0", async (t) => {
  const fake = await app(t, { endpoints: [counterEndpoint] });
  // Without tap's NODE_OPTIONS hooks, which change how a child exits.
  const child = spawn("/usr/bin/env", ["-u", "NODE_OPTIONS", process.execPath, "--import=tsx", join(import.meta.dirname, "fixtures", "gradio-exit.ts"), fake.url], {
    env: { ...process.env, HF_TOKEN: "", HF_HOME: home, DAGGR_HOME: join(home, "daggr-exit") },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (err += d));
  const [code, signal] = await new Promise<[number | null, string | null]>((r) => child.on("exit", (c, s) => r([c, s])));
  t.equal(signal, null, "not killed");
  t.equal(code, 0, err);
  t.same(JSON.parse(out), { counter: { total: 2 } });
  t.ok(fake.heartbeats.opened >= 1, "the job's session opened the app's heartbeat");
  t.equal(err, "", "nothing on stderr");
});

// ---------------------------------------------------------------- gradio: composite values

const storeFiles = (store: MemoryStore): Buffer[] => {
  const out: Buffer[] = [];
  const stack = [store.filesDir];
  while (stack.length) {
    const dir = stack.pop()!;
    let names: string[] = [];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const n of names) {
      const p = join(dir, n);
      if (statSync(p).isDirectory()) stack.push(p);
      else out.push(readFileSync(p));
    }
  }
  return out;
};

t.test("/info of the fake carries gradio's schemas and python_types for composite components", async (t) => {
  const fake = await app(t, {
    endpoints: [{ name: "/all", parameters: ["MultimodalTextbox", "ImageEditor", "Chatbot", "Gallery", "Image", "Model3D"].map((c) => ({ name: c.toLowerCase(), component: c })), returns: [], fn: () => [] }],
  });
  const info = (await (await fetch(`${fake.origin}/gradio_api/info`)).json()) as { named_endpoints: Record<string, { parameters: Array<{ component: string; python_type: { type: string } }> }> };
  const ps = info.named_endpoints["/all"]!.parameters;
  t.same(ps.map((p) => p.component), ["Multimodaltextbox", "Imageeditor", "Chatbot", "Gallery", "Image", "Model3d"], "props.name.capitalize()");
  t.equal(ps[0]!.python_type.type, "dict(text: str, files: list[filepath])");
  t.match(ps[1]!.python_type.type, /^dict\(background: filepath \| None, layers: list\[filepath\], composite: filepath \| None/);
  t.match(ps[2]!.python_type.type, /^list\[dict\(role: str, .*content: list\[dict\(text: str, type: Literal\[text\]\) \| dict\(file: filepath, alt_text: str \| None, type: Literal\[file\]\)/);
  t.equal(ps[3]!.python_type.type, "list[dict(image: filepath, caption: str | None) | dict(video: filepath, caption: str | None)]");
  t.equal(ps[4]!.python_type.type, "filepath");
});

t.test("composite inputs upload every nested store file; composite outputs come back with nested files downloaded", async (t) => {
  const { ctx, store } = harness();
  const cat = await store.putFile({ bytes: PNG, name: "cat.png", mime: "image/png" });
  const dog = await store.putFile({ bytes: Buffer.concat([PNG, Buffer.from("dog")]), name: "dog.png", mime: "image/png" });
  const received: Record<string, unknown> = {};
  const describe = (j: Parameters<FakeEndpoint["fn"]>[0], f: unknown) => {
    const up = j.upload(f);
    return up ? `${up.name}:${up.bytes.length}` : "missing";
  };
  const fake = await app(t, {
    endpoints: [
      {
        name: "/mm",
        parameters: [{ name: "message", component: "MultimodalTextbox" }],
        returns: [{ label: "reply", component: "MultimodalTextbox" }],
        fn: (j) => {
          const m = j.args.message as { text: string; files: unknown[] };
          received.mm = m;
          return [{ text: `${m.text}: ${m.files.map((f) => describe(j, f)).join(", ")}`, files: [j.file("reply", "reply.txt", "text/plain")] }];
        },
      },
      {
        name: "/edit",
        parameters: [{ name: "editor", component: "ImageEditor" }],
        returns: [{ label: "edited", component: "ImageEditor" }],
        fn: (j) => {
          const e = j.args.editor as { background: unknown; layers: unknown[]; composite: unknown };
          received.edit = e;
          return [{ background: null, layers: [j.file(`${describe(j, e.layers[0])}`, "layer.png", "image/png")], composite: j.file(describe(j, e.background), "composite.png", "image/png"), id: null }];
        },
      },
      {
        name: "/chat",
        parameters: [{ name: "history", component: "Chatbot" }],
        returns: [{ label: "history", component: "Chatbot" }],
        fn: (j) => {
          const h = j.args.history as Array<{ role: string; content: Array<{ type: string; file?: unknown; text?: string }> }>;
          received.chat = h;
          const file = h[0]!.content.find((c) => c.type === "file")!.file;
          return [[...h, { role: "assistant", metadata: null, content: [{ type: "text", text: describe(j, file) }, { type: "file", file: j.file(PNG, "answer.png", "image/png"), alt_text: null }] }]];
        },
      },
      {
        name: "/gallery",
        parameters: [{ name: "images", component: "Gallery" }],
        returns: [{ label: "images", component: "Gallery" }],
        fn: (j) => {
          const g = j.args.images as Array<{ image: unknown; caption: string | null }>;
          received.gallery = g;
          return [g.map((x, i) => ({ image: j.file(describe(j, x.image), `g${i}.png`, "image/png"), caption: x.caption }))];
        },
      },
    ],
  });
  const run = (apiName: string, port: string, value: unknown) =>
    gradioExecutor.execute(new GradioNode(fake.url, { apiName, inputs: { [port]: null }, outputs: { out: null } }), { [port]: value }, ctx) as Promise<unknown[]>;
  const uploaded = { path: /^\/tmp\/gradio\/[0-9a-f]+\/(cat|dog)\.png$/, meta: { _type: "gradio.FileData" } };

  const [mm] = (await run("/mm", "message", { text: "look", files: [cat.path, dog.path] })) as [{ text: string; files: string[] }];
  t.match(received.mm, { text: "look", files: [uploaded, uploaded] });
  t.equal(mm.text, `look: cat.png:${PNG.length}, dog.png:${PNG.length + 3}`);
  t.equal(readFileSync(mm.files[0]!, "utf8"), "reply");
  t.ok(await store.fileForPath(mm.files[0]!), "a file of the store");

  const [ed] = (await run("/edit", "editor", { background: cat.path, layers: [dog.path], composite: null })) as [{ layers: string[]; composite: string; background: null }];
  t.match(received.edit, { background: uploaded, layers: [uploaded], composite: null });
  t.equal(readFileSync(ed.composite, "utf8"), `cat.png:${PNG.length}`);
  t.equal(readFileSync(ed.layers[0]!, "utf8"), `dog.png:${PNG.length + 3}`);
  t.equal(ed.background, null);

  const [chat] = (await run("/chat", "history", [{ role: "user", content: [{ type: "text", text: "what is this?" }, { type: "file", file: cat.path }] }])) as [Array<{ content: Array<{ type: string; text?: string; file?: string }> }>];
  t.match(received.chat, [{ role: "user", content: [{ type: "text", text: "what is this?" }, { type: "file", file: uploaded }] }]);
  t.equal(chat[1]!.content[0]!.text, `cat.png:${PNG.length}`);
  t.same(readFileSync(chat[1]!.content[1]!.file!), PNG);

  const [gallery] = (await run("/gallery", "images", [cat.path, [dog.path, "a dog"]])) as [string[]];
  t.match(received.gallery, [{ image: uploaded }, { image: uploaded, caption: "a dog" }]);
  t.same(gallery.map((p) => readFileSync(p, "utf8")), [`cat.png:${PNG.length}`, `dog.png:${PNG.length + 3}`], "a Gallery output is a list of local files");

  const e = await fail(run("/mm", "message", { text: "x", files: ["/etc/passwd"] }));
  t.match(e, { code: "E_BAD_INPUT", details: { port: "message", path: "files[0]" } });
  t.equal(count(fake, "/gradio_api/upload"), 7, "nothing uploaded for the refused value");
});

// ---------------------------------------------------------------- gradio: validation, old apps

t.test("a validator's 422 lists each message with its parameter (E_REMOTE_VALIDATION), not retried", async (t) => {
  const fake = await app(t, {
    endpoints: [{
      ...predict,
      validate: (a) => [String(a.prompt).trim() ? null : { is_valid: false, message: "Prompt must not be empty" }, Number(a.n) > 0 ? null : { is_valid: false, message: "n must be positive" }],
    }],
  });
  const node = new GradioNode(fake.url, { inputs: { prompt: gr.Textbox(), n: gr.Number() }, outputs: { text: gr.Textbox() } });
  const e = await fail(gradioExecutor.execute(node, { prompt: " ", n: 0 }, harness().ctx));
  t.match(e, { code: "E_REMOTE_VALIDATION", details: { status: 422, errors: [{ parameter: "prompt", message: "Prompt must not be empty" }, { parameter: "n", message: "n must be positive" }] } });
  t.match(e.message, /rejected the inputs \(HTTP 422\): 'prompt': Prompt must not be empty; 'n': n must be positive\.$/);
  t.equal(count(fake, "/gradio_api/queue/join"), 1, "not retried");
  t.match(await gradioExecutor.execute(node, { prompt: "ok", n: 1 }, harness().ctx), ["ok×1", String]);
});

t.test("gradio 4.x apps (no api_prefix) work: /info, /queue/join, /upload and /file= at the root", async (t) => {
  const fake = await app(t, { version: "4.36.1", endpoints: [predict, { name: "/edit", parameters: [{ name: "image", component: "Image" }], returns: [{ component: "Image" }], fn: (j) => [j.file(j.upload(j.args.image)!.bytes, "back.png", "image/png")] }] });
  const { ctx, store } = harness();
  const out = (await gradioExecutor.execute(new GradioNode(fake.url, { inputs: { prompt: gr.Textbox() }, outputs: { text: gr.Textbox(), image: gr.Image() } }), { prompt: "old" }, ctx)) as string[];
  t.equal(out[0], "old×2");
  t.same(readFileSync(out[1]!), PNG);
  const cat = await store.putFile({ bytes: PNG, name: "cat.png", mime: "image/png" });
  const [back] = (await gradioExecutor.execute(new GradioNode(fake.url, { apiName: "/edit", inputs: { image: gr.Image() }, outputs: { o: gr.Image() } }), { image: cat.path }, ctx)) as string[];
  t.same(readFileSync(back!), PNG);
  const paths = fake.requests.map((r) => r.path.split("?")[0]!);
  t.ok(paths.includes("/info") && paths.includes("/queue/join") && paths.includes("/upload") && paths.some((p) => p.startsWith("/file=")), paths.join(" "));
  t.notOk(paths.some((p) => p.startsWith("/gradio_api")), "no /gradio_api path was asked for");
});

t.test("apps older than gradio 4.23 (no parameter_name): inputs by label, then by position, and the did-you-mean says so", async (t) => {
  const legacy: FakeEndpoint = {
    name: "/predict",
    parameters: [{ name: "prompt", label: "Prompt" }, { name: "a", label: "Value", component: "Number" }, { name: "b", label: "Value", component: "Number" }],
    returns: [{ label: "out" }],
    fn: (j) => [`${j.args.prompt}:${j.args.a}:${j.args.b}`],
  };
  const fake = await app(t, { version: "4.20.0", endpoints: [legacy] });
  const node = (inputs: Record<string, unknown>) => new GradioNode(fake.url, { inputs, outputs: { out: gr.Textbox() } });
  t.same(await gradioExecutor.execute(node({ Prompt: null, param_1: null, param_2: null }), { Prompt: "hi", param_1: 1, param_2: 2 }, harness().ctx), ["hi:1:2"], "unique label, then positions");
  t.same(await gradioExecutor.execute(node({ param_0: null, param_1: null, param_2: null }), { param_0: "yo", param_1: 3, param_2: 4 }, harness().ctx), ["yo:3:4"], "a position always works");
  const e = await fail(gradioExecutor.validate!(node({ prompt: gr.Textbox() }), { cache: harness().ctx.cache }));
  t.match(e, { code: "E_UNKNOWN_PARAM", details: { got: "prompt", nearest: "Prompt", choices: ["Prompt", "param_1", "param_2"] } });
  t.match(e.message, /older than 4\.23.*by its label .* by its position \(param_0, param_1/);
});

t.test("a 403 on an output file means the file is gone from the app (E_REMOTE_FILE_GONE), not an auth failure", async (t) => {
  const fake = await app(t, {
    endpoints: [{ name: "/gone", parameters: [], returns: [{ component: "File" }], fn: (j) => [{ ...j.file("x", "x.txt"), path: "/tmp/gradio/cleaned/x.txt", url: `${fake.origin}/gradio_api/file=/tmp/gradio/cleaned/x.txt` }] }],
  });
  const e = await fail(gradioExecutor.execute(new GradioNode(fake.url, { apiName: "/gone", outputs: { f: gr.File() } }), {}, harness().ctx));
  t.match(e, { code: "E_REMOTE_FILE_GONE", details: { status: 403 } });
  t.match(e.message, /no longer available on the app \(HTTP 403\)/);
});

// ---------------------------------------------------------------- gradio: trust at the boundary

t.test("a remote app cannot make daggr read local files: local paths in every file-bearing output shape are refused", async (t) => {
  const tokenFile = join(home, "token");
  writeFileSync(tokenFile, `${TOKEN}\n`);
  const secrets = [readFileSync("/etc/passwd"), readFileSync(tokenFile)];
  const fd = (path: string, url: string | null = null) => ({ path, url, size: null, orig_name: null, mime_type: null, is_stream: false, meta: { _type: "gradio.FileData" } });
  const shapes: Array<{ name: string; component: string; port: ReturnType<typeof gr.File> | ReturnType<typeof gr.Gallery> | null; value: unknown; code: string; shown: RegExp }> = [
    { name: "/plain", component: "File", port: gr.File(), value: "/etc/passwd", code: "E_REMOTE_OUTPUT", shown: /'\/etc\/passwd' where a file belongs/ },
    { name: "/text-to-file-port", component: "Textbox", port: gr.File(), value: tokenFile, code: "E_REMOTE_OUTPUT", shown: /returned '\/tmp\/[^']+\/token' where a file belongs/ },
    { name: "/filedata", component: "File", port: gr.File(), value: fd(tokenFile), code: "E_REMOTE_FILE_GONE", shown: /no longer available on the app/ },
    { name: "/file-url", component: "File", port: gr.File(), value: fd("/etc/passwd", "file:///etc/passwd"), code: "E_REMOTE_OUTPUT", shown: /'file:\/\/\/etc\/passwd' where a file belongs/ },
    { name: "/gallery-plain", component: "Gallery", port: gr.Gallery(), value: [{ image: "/etc/passwd", caption: null }], code: "E_REMOTE_OUTPUT", shown: /at \[0\]\.image/ },
    { name: "/gallery-filedata", component: "Gallery", port: gr.Gallery(), value: [{ image: fd(tokenFile), caption: "x" }], code: "E_REMOTE_FILE_GONE", shown: /no longer available/ },
    { name: "/chat-plain", component: "Chatbot", port: null, value: [{ role: "assistant", metadata: null, content: [{ type: "file", file: tokenFile, alt_text: null }] }], code: "E_REMOTE_OUTPUT", shown: /at \[0\]\.content\[0\]\.file/ },
    { name: "/chat-filedata", component: "Chatbot", port: null, value: [{ role: "assistant", metadata: null, content: [{ type: "file", file: fd("/etc/passwd"), alt_text: null }] }], code: "E_REMOTE_FILE_GONE", shown: /no longer available/ },
    { name: "/chat-component", component: "Chatbot", port: null, value: [{ role: "assistant", content: [{ type: "component", component: "image", value: fd(tokenFile), constructor_args: {}, props: {} }] }], code: "E_REMOTE_FILE_GONE", shown: /no longer available/ },
  ];
  const fake = await app(t, { endpoints: shapes.map((s) => ({ name: s.name, parameters: [], returns: [{ label: "out", component: s.component }], fn: () => [s.value] })) });
  const store = new MemoryStore();
  for (const s of shapes) {
    const e = await fail(gradioExecutor.execute(new GradioNode(fake.url, { apiName: s.name, outputs: { out: s.port } }), {}, harness({ store }).ctx));
    t.match(e, { code: s.code }, s.name);
    t.match(e.message, s.shown, s.name);
  }
  // Through the engine, where a file port's path would be copied into the store.
  const node = new GradioNode(fake.url, { name: "leaky", apiName: "/text-to-file-port", outputs: { out: gr.File() } });
  const session = await new Graph({ name: "leak", nodes: [node] }).session({ store });
  t.teardown(() => session.close());
  await session.run(node, { mode: "to-here" });
  t.match(session.nodeState(node.id).error, { code: "E_REMOTE_OUTPUT" });
  const stored = storeFiles(store);
  t.notOk(stored.some((b) => secrets.some((s) => b.equals(s))), `none of the ${stored.length} stored files holds a local file's bytes`);
});

t.test("a result with another number of values than the endpoint declares is an error; skip_api outputs are dropped", async (t) => {
  const fake = await app(t, {
    endpoints: [
      { name: "/short", parameters: [], returns: [{ label: "a" }, { label: "b" }], fn: () => ["only one"] },
      { name: "/long", parameters: [], returns: [{ label: "a" }], fn: () => ["one", "two"] },
      { name: "/button", parameters: [], returns: [{ label: "a" }, { component: "Button" }], fn: () => ["text", { __type__: "update", interactive: true }] },
    ],
  });
  const run = (apiName: string, outputs: Record<string, null>) => gradioExecutor.execute(new GradioNode(fake.url, { apiName, outputs }), {}, harness().ctx);
  const short = await fail(run("/short", { a: null }));
  t.match(short, { code: "E_REMOTE_OUTPUT", details: { got: "1", expected: 2 } });
  t.match(short.message, /endpoint '\/short' returned 1 value\(s\), but the endpoint declares 2 \(a, b\)/);
  t.match(await fail(run("/long", { a: null })), { code: "E_REMOTE_OUTPUT", details: { got: "2", expected: 1 } });
  t.same(await run("/button", { a: null }), ["text"], "the Button update is not an API output");
});

// ---------------------------------------------------------------- engine integration

t.test("primary.fallback(backup): the backup serves when the primary fails, and the record says so", async (t) => {
  const down = await app(t, { endpoints: [{ ...predict, fn: () => Promise.reject(new AppError("GPU fell over")) }] });
  const up = await app(t, { endpoints: [predict] });
  const prompt = gr.Textbox({ value: "fallback" });
  const primary = new GradioNode(down.url, { name: "primary", inputs: { prompt }, outputs: { text: gr.Textbox(), image: gr.Image() } });
  const backup = new GradioNode(up.url, { name: "backup", inputs: { prompt }, outputs: { text: gr.Textbox(), image: gr.Image() } });
  primary.fallback(backup);
  const join = new FnNode(({ text }) => text.toUpperCase(), { name: "join", inputs: { text: primary.out.text }, outputs: { up: gr.Textbox() } });
  const s = await new Graph({ name: "fb", nodes: [join] }).session({ store: new MemoryStore() });
  t.teardown(() => s.close());
  await s.run(join, { mode: "to-here" });
  t.match(s.selected(primary), { status: "success", servedBy: "backup", outputs: { text: "fallback×2" } });
  t.equal(s.selected(join)!.outputs.up, "FALLBACK×2");
});

// ---------------------------------------------------------------- inference

const bodies = (path: RegExp) => hf.requests.filter((r) => r.host === "router.huggingface.co" && path.test(r.path)).map((r) => r.json);

t.test("InferenceNode: the task comes from the pipeline tag (cached); chat streams tokens as partials; every input reaches the call", async (t) => {
  hf.models.set("meta/chatty", { pipeline_tag: "text-generation", tags: ["conversational"] });
  const node = new InferenceNode("meta/chatty", {
    inputs: { prompt: gr.Textbox(), system: "Be brief.", temperature: 0.2, max_tokens: 16 },
    outputs: { text: gr.Markdown() },
  });
  const { ctx, partials, store } = harness();
  const origins: unknown[] = [];
  ctx.origin = (o) => origins.push(o);
  t.equal(await inferenceExecutor.execute(node, { prompt: "hello there", system: "Be brief.", temperature: 0.2, max_tokens: 16 }, ctx), "Echo: hello there");
  t.same(origins, [{ kind: "model", remote: "meta/chatty", revision: "a".repeat(40) }], "the result records the model's revision, from the same Hub answer as its task");
  t.same(partials, ["Echo: ", "Echo: hello ", "Echo: hello there"], "tokens streamed");
  const body = bodies(/^\/v1\/chat\/completions$/).at(-1)!;
  t.match(body, { model: "meta/chatty", stream: true, temperature: 0.2, max_tokens: 16, messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "hello there" }] });
  const hubCalls = () => hf.requests.filter((r) => r.path.startsWith("/api/models/meta/chatty/revision")).length;
  t.equal(hubCalls(), 1);
  await inferenceExecutor.execute(node, { prompt: "again" }, harness({ store }).ctx);
  t.equal(hubCalls(), 1, "the task is cached");
  const auth = hf.requests.filter((r) => r.host === "router.huggingface.co").at(-1)!.authorization;
  t.equal(auth, `Bearer ${TOKEN}`);
});

t.test("InferenceNode with several outputs gets the task's full result by key; messages work as input", async (t) => {
  hf.models.set("meta/chat2", { pipeline_tag: "text-generation", tags: ["conversational"], reply: "Fine thanks" });
  const node = new InferenceNode("meta/chat2", { inputs: { messages: gr.Chatbot() }, outputs: { text: gr.Textbox(), messages: gr.Chatbot(), finish_reason: null, usage: null } });
  const out = (await inferenceExecutor.execute(node, { messages: [{ role: "user", content: "How are you?" }], stream: false }, harness().ctx)) as Record<string, unknown>;
  t.match(out, { text: "Fine thanks", finish_reason: "stop", usage: { total_tokens: Number }, messages: [{ role: "user" }, { role: "assistant", content: "Fine thanks" }] });
});

t.test("text generation, summarisation, translation and feature extraction pass every input through", async (t) => {
  hf.models.set("acme/gpt", { pipeline_tag: "text-generation" });
  hf.models.set("acme/sum", { pipeline_tag: "summarization" });
  hf.models.set("acme/tr", { pipeline_tag: "translation" });
  hf.models.set("acme/emb", { pipeline_tag: "feature-extraction" });
  const run = (model: string, inputs: Record<string, unknown>) => inferenceExecutor.execute(new InferenceNode(model, { outputs: { o: null } }), inputs, harness().ctx);
  t.equal(await run("acme/gpt", { prompt: "Once", max_new_tokens: 5, temperature: 0.5 }), " continued: Once");
  t.match(bodies(/acme\/gpt\/v1\/completions$/).at(-1), { prompt: "Once", max_tokens: 5, temperature: 0.5 });
  t.equal(await run("acme/sum", { text: "long text here", max_length: 20 }), "summary of 14 chars");
  t.match(bodies(/models\/acme\/sum$/).at(-1), { inputs: "long text here", parameters: { max_length: 20 } });
  t.equal(await run("acme/tr", { text: "bonjour", src_lang: "fr", tgt_lang: "en" }), "translated(bonjour)");
  t.match(bodies(/models\/acme\/tr$/).at(-1), { parameters: { src_lang: "fr", tgt_lang: "en" } });
  t.same(await run("acme/emb", { sentence: "hi", normalize: true }), [0.1, 0.2, 0.3]);
  t.match(bodies(/acme\/emb\/pipeline\/feature-extraction$/).at(-1), { inputs: "hi", normalize: true });
});

t.test("text-to-image (hf-inference and the fal-ai queue), image-to-image and text-to-speech save their bytes in the files store", async (t) => {
  hf.models.set("acme/sd", { pipeline_tag: "text-to-image" });
  hf.models.set("acme/flux", { pipeline_tag: "text-to-image", providers: { "fal-ai": { providerId: "fal-ai/flux/dev" } } });
  hf.models.set("acme/i2i", { pipeline_tag: "image-to-image" });
  hf.models.set("acme/tts", { pipeline_tag: "text-to-speech" });
  const { ctx, store } = harness();
  const run = (model: string, inputs: Record<string, unknown>) => inferenceExecutor.execute(new InferenceNode(model, { outputs: { o: null } }), inputs, ctx) as Promise<string>;
  const a = await run("acme/sd", { prompt: "a cat", width: 512, seed: 7 });
  t.same(readFileSync(a), PNG);
  t.match(await store.fileForPath(a), { mime: "image/png", name: "image.png" });
  t.match(bodies(/models\/acme\/sd$/).at(-1), { inputs: "a cat", parameters: { width: 512, seed: 7 } });

  const b = await run("acme/flux:fal-ai", { prompt: "a fox", num_inference_steps: 4 });
  t.same(readFileSync(b), PNG);
  t.match(bodies(/^\/fal-ai\/fal-ai\/flux\/dev\?_subdomain=queue$/).at(-1), { prompt: "a fox", num_inference_steps: 4 });
  t.ok(hf.requests.some((r) => r.host === "v3.fal.media" && r.authorization === null), "the asset host gets no token");

  const src = await store.putFile({ bytes: PNG, name: "in.png", mime: "image/png" });
  const c = await run("acme/i2i", { image: src.path, prompt: "make it blue", strength: 0.5 });
  t.same(readFileSync(c), Buffer.concat([PNG, Buffer.from("edited")]));
  t.match(bodies(/models\/acme\/i2i$/).at(-1), { inputs: PNG.toString("base64"), parameters: { prompt: "make it blue", strength: 0.5 } });

  const d = await run("acme/tts", { text: "hello" });
  t.same(readFileSync(d), WAV);
  t.match(await store.fileForPath(d), { mime: "audio/wav" });
  const big = await fail(inferenceExecutor.execute(new InferenceNode("acme/sd", { outputs: { o: null }, maxFileBytes: 10 }), { prompt: "big" }, ctx));
  t.match(big, { code: "E_FILE_TOO_LARGE", details: { maxBytes: 10, size: PNG.length } });
});

t.test("image-text-to-text sends the image with the prompt; ASR and image classification read files of the store only", async (t) => {
  hf.models.set("acme/vlm", { pipeline_tag: "image-text-to-text" });
  hf.models.set("acme/asr", { pipeline_tag: "automatic-speech-recognition" });
  hf.models.set("acme/cls", { pipeline_tag: "image-classification" });
  const { ctx, store } = harness();
  const img = await store.putFile({ bytes: PNG, name: "p.png", mime: "image/png" });
  const wav = await store.putFile({ bytes: WAV, name: "s.wav", mime: "audio/wav" });
  t.equal(await inferenceExecutor.execute(new InferenceNode("acme/vlm", { outputs: { o: null } }), { image: img.path, prompt: "What is it?" }, ctx), "Echo: What is it? [image]");
  t.match(bodies(/^\/v1\/chat\/completions$/).at(-1), { messages: [{ role: "user", content: [{ type: "text", text: "What is it?" }, { type: "image_url", image_url: { url: `data:image/png;base64,${PNG.toString("base64")}` } }] }] });
  t.equal(await inferenceExecutor.execute(new InferenceNode("acme/asr", { outputs: { o: null } }), { audio: wav.path }, ctx), `heard ${WAV.length} bytes of audio/wav`);
  t.same(await inferenceExecutor.execute(new InferenceNode("acme/cls", { outputs: { o: gr.Label() } }), { image: img.path }, ctx), {
    label: "cat",
    confidences: [{ label: "cat", confidence: 0.9 }, { label: "dog", confidence: 0.1 }],
  });
  const e = await fail(inferenceExecutor.execute(new InferenceNode("acme/cls", { outputs: { o: null } }), { image: "/etc/passwd" }, ctx));
  t.match(e, { code: "E_BAD_INPUT" });
  t.match(e.message, /never reads arbitrary local paths/);
});

t.test("a loading model is waited for with its estimate, up to wakeTimeoutMs — never the client's endless 503 retry", async (t) => {
  hf.models.set("acme/cold", { pipeline_tag: "summarization", loading: 2, estimatedTime: 0.03 });
  const h = harness();
  t.equal(await inferenceExecutor.execute(new InferenceNode("acme/cold", { outputs: { o: null } }), { text: "abc" }, h.ctx), "summary of 3 chars");
  t.ok(h.progress.some((p) => /Model is loading/.test(p.text ?? "")));
  hf.models.set("acme/frozen", { pipeline_tag: "summarization", loading: 1e9, estimatedTime: 0.03 });
  const e = await fail(inferenceExecutor.execute(new InferenceNode("acme/frozen", { outputs: { o: null }, wakeTimeoutMs: 150 }), { text: "abc" }, harness().ctx));
  t.match(e, { code: "E_REMOTE_UNAVAILABLE", details: { loading: true } });
  t.match(e.message, /still loading after \d+ s/);
  const calls = hf.requests.filter((r) => r.path === "/hf-inference/models/acme/frozen").length;
  t.ok(calls < 20, `bounded polling (${calls} calls)`);
});

t.test("provider 429s are retried honouring Retry-After; provider errors are clear and not retried", async (t) => {
  hf.models.set("acme/busy", { pipeline_tag: "translation", rateLimit: 2, retryAfter: "0" });
  t.equal(await inferenceExecutor.execute(new InferenceNode("acme/busy", { outputs: { o: null } }), { text: "x" }, harness().ctx), "translated(x)");
  hf.models.set("acme/picky", { pipeline_tag: "translation", fail: { status: 400, body: { error: "Invalid prompt" } } });
  const e = await fail(inferenceExecutor.execute(new InferenceNode("acme/picky", { outputs: { o: null } }), { text: "x" }, harness().ctx));
  t.match(e, { code: "E_REMOTE_FAILED", details: { status: 400 } });
  t.match(e.message, /InferenceNode 'picky' \(model 'acme\/picky', task translation\): the provider failed \(HTTP 400\): Invalid prompt/);
  t.equal(hf.requests.filter((r) => r.path === "/hf-inference/models/acme/picky").length, 1);
  hf.models.set("acme/limit", { pipeline_tag: "translation", rateLimit: 10, retryAfter: "0" });
  const e2 = await fail(inferenceExecutor.execute(new InferenceNode("acme/limit", { outputs: { o: null }, retries: 1 }), { text: "x" }, harness().ctx));
  t.match(e2, { code: "E_RATE_LIMITED", details: { attempts: 2 } });
});

t.test("model not found, unsupported tasks and provider mismatches are coded errors with the way out", async (t) => {
  const nf = await fail(inferenceExecutor.execute(new InferenceNode("acme/ghost", { outputs: { o: null } }), { text: "x" }, harness().ctx));
  t.match(nf, { code: "E_REMOTE_NOT_FOUND" });
  t.match(nf.message, /Model 'acme\/ghost' .* was not found on the Hugging Face Hub/);
  const typo = await fail(inferenceExecutor.validate!(new InferenceNode("acme/sum", { task: "summarisaton", outputs: { o: null } }), { cache: harness().ctx.cache }));
  t.match(typo, { code: "E_UNSUPPORTED_TASK", details: { nearest: "summarization" } });
  hf.models.set("acme/depth", { pipeline_tag: "depth-estimation" });
  const unsupported = await fail(inferenceExecutor.validate!(new InferenceNode("acme/depth", { outputs: { o: null } }), { cache: harness().ctx.cache }));
  t.match(unsupported.message, /serves model 'acme\/depth' for 'depth-estimation', a task daggr cannot call yet/);
  hf.models.set("acme/only-i2i", { pipeline_tag: "text-to-image", providers: { "fal-ai": { providerId: "fal-ai/x", task: "image-to-image" } } });
  const mismatch = await fail(inferenceExecutor.execute(new InferenceNode("acme/only-i2i:fal-ai", { task: "text-to-image", outputs: { o: null } }), { prompt: "x" }, harness().ctx));
  t.match(mismatch, { code: "E_UNSUPPORTED_TASK" });
  t.match(mismatch.message, /serves this model for task 'image-to-image', not 'text-to-image'/);
  const noProvider = await fail(inferenceExecutor.execute(new InferenceNode("acme/sd:together", { outputs: { o: null } }), { prompt: "x" }, harness().ctx));
  t.match(noProvider, { code: "E_REMOTE_NOT_FOUND" });
});

t.test("a stream that fails after tokens is reported, not retried; cancelling aborts the request", async (t) => {
  hf.models.set("acme/flaky", { pipeline_tag: "text-generation", tags: ["conversational"], streamError: "upstream overloaded" });
  const h = harness();
  const e = await fail(inferenceExecutor.execute(new InferenceNode("acme/flaky", { outputs: { o: null } }), { prompt: "hi there" }, h.ctx));
  t.match(e, { code: "E_REMOTE_FAILED" });
  t.match(e.message, /upstream overloaded/);
  t.same(h.partials, ["Echo: "]);
  hf.models.set("acme/slowchat", { pipeline_tag: "text-generation", tags: ["conversational"], reply: Array.from({ length: 200 }, (_, i) => `w${i}`).join(" ") });
  const ac = new AbortController();
  const h2 = harness({ signal: ac.signal });
  const run = inferenceExecutor.execute(new InferenceNode("acme/slowchat", { outputs: { o: null } }), { prompt: "go" }, h2.ctx);
  while (h2.partials.length < 3) await new Promise((r) => setTimeout(r, 2));
  ac.abort();
  await t.rejects(run, { code: "E_CANCELLED" });
  t.ok(h2.partials.length < 150, "the stream stopped");
});

// ---------------------------------------------------------------- inference: real routing (issue 11)

const routerBody = (path: string) => hf.requests.filter((r) => r.host === "router.huggingface.co" && r.path === path).map((r) => r.json);

t.test("the fake Hub answers an expand request with _id, id and only the fields asked for", async (t) => {
  hf.models.set("acme/expand", { pipeline_tag: "text-to-image", tags: ["diffusers"], providers: { "fal-ai": { providerId: "fal-ai/x2", task: "image-text-to-image" } } });
  const mapping = await (await fetch("https://huggingface.co/api/models/acme/expand?expand[]=inferenceProviderMapping")).json();
  t.same(Object.keys(mapping).sort(), ["_id", "id", "inferenceProviderMapping"]);
  t.same(mapping.inferenceProviderMapping, { "fal-ai": { status: "live", providerId: "fal-ai/x2", task: "image-text-to-image" } });
  const info = await (await fetch("https://huggingface.co/api/models/acme/expand/revision/HEAD?expand=pipeline_tag&expand=tags")).json();
  t.same(Object.keys(info).sort(), ["_id", "id", "pipeline_tag", "tags"]);
});

t.test("InferenceNode: the task comes from the provider mapping, not the pipeline tag; image-text-to-image on fal-ai gets the image and the prompt through the queue", async (t) => {
  // As on the real Hub, FLUX.2-klein's pipeline tag and its fal-ai mapping disagree.
  hf.models.set("bfl/klein", { pipeline_tag: "text-to-image", providers: { "fal-ai": { providerId: "fal-ai/flux-2/klein/4b/edit", task: "image-text-to-image" } }, falStatuses: ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"] });
  const { ctx, store } = harness();
  const src = await store.putFile({ bytes: PNG, name: "cut.png", mime: "image/png" });
  const node = new InferenceNode("bfl/klein:fal-ai", { inputs: { image: gr.Image(), prompt: gr.Textbox(), num_inference_steps: 4 }, outputs: { image: gr.Image() } });
  const out = (await inferenceExecutor.execute(node, { image: src.path, prompt: "a clay figurine", num_inference_steps: 4 }, ctx)) as string;
  t.same(readFileSync(out), PNG, "the result image was downloaded from the media host into the store");
  const job = [...hf.falJobs.values()].find((j) => j.model === "bfl/klein")!;
  const dataUrl = `data:image/png;base64,${PNG.toString("base64")}`;
  t.match(job.body, { prompt: "a clay figurine", num_inference_steps: 4, image_url: dataUrl, image_urls: [dataUrl] }, "image and prompt both sent");
  t.same(job.answered, ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"], "polled through IN_QUEUE and IN_PROGRESS");
  t.notOk(JSON.stringify(job.body).includes(store.filesDir), "no local path reaches the provider");
  const hub = hf.requests.filter((r) => r.host === "huggingface.co" && r.path.startsWith("/api/models/bfl/klein"));
  t.ok(hub.some((r) => /expand=inferenceProviderMapping/.test(r.path)), "daggr asks the Hub for the mapping");
  const again = (await inferenceExecutor.execute(node, { prompt: "text only" }, harness({ store }).ctx)) as string;
  t.same(readFileSync(again), PNG, "image-text-to-image without an image is a text call");
  t.match([...hf.falJobs.values()].filter((j) => j.model === "bfl/klein").at(-1)!.body, { prompt: "text only" });
});

t.test("an InferenceNode waiting in a fal-ai queue longer than its inactivityMs is not stopped: every answered poll is a sign of life", async (t) => {
  hf.models.set("bfl/klein-queued", { pipeline_tag: "text-to-image", providers: { "fal-ai": { providerId: "fal-ai/klein-q", task: "text-to-image" } }, falStatuses: ["IN_QUEUE", "IN_QUEUE", "IN_PROGRESS", "COMPLETED"] });
  // The client polls every 500 ms: a deadline under that, which only the pings (a third of it
  // apart) keep from firing, with room for a stalled event loop on a loaded machine (150 ms left
  // it 100 ms between two pings, and it fired under load).
  const node = new InferenceNode("bfl/klein-queued:fal-ai", { name: "queued", inactivityMs: 400, inputs: { prompt: gr.Textbox({ value: "a fox" }) }, outputs: { image: gr.Image() } });
  const s = await new Graph({ name: "fal queue wait", nodes: [node], persistKey: false }).session({ store: new MemoryStore() });
  t.teardown(() => s.close());
  await s.run(node, { mode: "step" });
  t.same(s.nodeState(node).error, undefined, "no error");
  const job = [...hf.falJobs.values()].find((j) => j.model === "bfl/klein-queued")!;
  t.same(job.answered, ["IN_QUEUE", "IN_QUEUE", "IN_PROGRESS", "COMPLETED"], "the job sat in the queue for several polls (each longer than 400 ms apart)");
  t.equal(s.nodeState(node).activity, "idle", "and finished instead of failing with E_IDLE_TIMEOUT");
  t.same(readFileSync(s.get(node.out.image) as string), PNG);
});

t.test("a provider the model is not mapped to is refused at validation with the mapped ones, nearest first", async (t) => {
  hf.models.set("bfl/klein2", { pipeline_tag: "text-to-image", providers: { "fal-ai": { providerId: "fal-ai/k2", task: "image-text-to-image" }, wavespeed: { providerId: "ws/k2", task: "image-text-to-image" } } });
  const e = await fail(inferenceExecutor.validate!(new InferenceNode("bfl/klein2:fal_ai", { outputs: { o: null } }), { cache: harness().ctx.cache }));
  t.match(e, { code: "E_REMOTE_NOT_FOUND", details: { got: "fal_ai", nearest: "fal-ai", choices: ["fal-ai", "wavespeed"] } });
});

t.test("chat on novita streams token by token from its OpenAI route, with max_tokens and temperature passed through", async (t) => {
  hf.models.set("meta/llama-nv", { pipeline_tag: "text-generation", tags: ["conversational"], providers: { novita: { providerId: "meta-llama/llama-3.1-8b-instruct" } }, reply: "Paris is the capital" });
  const h = harness();
  const node = new InferenceNode("meta/llama-nv:novita", { inputs: { prompt: gr.Textbox(), max_tokens: 32, temperature: 0.3 }, outputs: { text: gr.Markdown() } });
  t.equal(await inferenceExecutor.execute(node, { prompt: "Capital of France?", max_tokens: 32, temperature: 0.3 }, h.ctx), "Paris is the capital");
  t.same(h.partials, ["Paris ", "Paris is ", "Paris is the ", "Paris is the capital"]);
  t.match(routerBody("/novita/v3/openai/chat/completions").at(-1), {
    model: "meta-llama/llama-3.1-8b-instruct", stream: true, max_tokens: 32, temperature: 0.3, messages: [{ role: "user", content: "Capital of France?" }],
  });
});

t.test("text generation streams on OpenAI-compatible providers (together) and on hf-inference", async (t) => {
  hf.models.set("acme/gen-tg", { pipeline_tag: "text-generation", providers: { together: { providerId: "acme/gen-turbo", task: "text-generation" } }, reply: "once upon a time" });
  const h = harness();
  t.equal(await inferenceExecutor.execute(new InferenceNode("acme/gen-tg:together", { outputs: { o: null } }), { prompt: "Tell me", max_new_tokens: 8, temperature: 0.9 }, h.ctx), "once upon a time");
  t.same(h.partials, ["once ", "once upon ", "once upon a ", "once upon a time"]);
  t.match(routerBody("/together/v1/completions").at(-1), { model: "acme/gen-turbo", prompt: "Tell me", stream: true, max_tokens: 8, temperature: 0.9 });
  hf.models.set("acme/gen-hf", { pipeline_tag: "text-generation", reply: "a b c" });
  const h2 = harness();
  t.equal(await inferenceExecutor.execute(new InferenceNode("acme/gen-hf", { outputs: { o: null } }), { prompt: "x", max_new_tokens: 3 }, h2.ctx), "a b c");
  t.same(h2.partials, ["a ", "a b ", "a b c"]);
  t.match(routerBody("/hf-inference/models/acme/gen-hf/v1/completions").at(-1), { prompt: "x", stream: true, max_tokens: 3 });
});

t.test("every task the installed @huggingface/inference can call is callable from an InferenceNode", async (t) => {
  const { PROVIDERS } = await import("@huggingface/inference");
  const clientTasks = [...new Set(Object.values(PROVIDERS).flatMap((p) => Object.keys(p)))].sort();
  const { canonicalTask } = await import("../lib/nodes/inference-tasks.js");
  t.same(clientTasks.filter((task) => !canonicalTask(task)), [], `daggr maps all ${clientTasks.length} tasks`);

  const { ctx, store } = harness();
  const img = (await store.putFile({ bytes: PNG, name: "p.png", mime: "image/png" })).path;
  const wav = (await store.putFile({ bytes: WAV, name: "s.wav", mime: "audio/wav" })).path;
  const table = { headers: ["city", "pop"], data: [["Paris", "2"], ["Rome", "3"]] };
  const cases: Record<string, [Record<string, unknown>, (out: any) => boolean]> = {
    "text-classification": [{ text: "great" }, (o) => o.label === "cat"],
    "token-classification": [{ text: "Paris" }, (o) => o[0].entity_group === "LOC"],
    "fill-mask": [{ text: "Paris is the [MASK]." }, (o) => o[0].sequence === "Paris is the capital."],
    "zero-shot-classification": [{ text: "hi", candidate_labels: "greeting, farewell" }, (o) => o.label === "farewell"],
    "sentence-similarity": [{ source_sentence: "a", sentences: ["b", "c"] }, (o) => o.length === 2],
    "question-answering": [{ question: "Who?", context: "Me." }, (o) => o === "answer to Who?"],
    "table-question-answering": [{ question: "Largest?", table }, (o) => o === "42"],
    "text-to-audio": [{ prompt: "rain" }, (o) => readFileSync(o).equals(WAV)],
    "zero-shot-image-classification": [{ image: img, candidate_labels: ["cat", "dog"] }, (o) => o.label === "cat"],
    "object-detection": [{ image: img }, (o) => o[0].box.xmax === 1],
    "image-segmentation": [{ image: img }, (o) => readFileSync(o[0].mask).equals(PNG)],
    "image-to-text": [{ image: img }, (o) => o === `a picture of ${PNG.length} bytes`],
    "visual-question-answering": [{ image: img, question: "What?" }, (o) => o === `What? (${PNG.length} image bytes)`],
    "document-question-answering": [{ image: img, question: "Total?" }, (o) => o === `Total? (${PNG.length} image bytes)`],
    "audio-classification": [{ audio: wav }, (o) => o.label === "cat"],
    "audio-to-audio": [{ audio: wav }, (o) => readFileSync(o).equals(WAV)],
    "tabular-classification": [{ data: table }, (o) => o.length === 2],
    "tabular-regression": [{ data: { a: ["1", "2", "3"] } }, (o) => o.length === 3],
  };
  const fal: Record<string, [Record<string, unknown>, (out: any) => boolean]> = {
    "text-to-video": [{ prompt: "waves" }, (o) => readFileSync(o).subarray(4, 8).toString() === "ftyp"],
    "image-to-video": [{ image: img, prompt: "zoom" }, (o) => readFileSync(o).subarray(4, 8).toString() === "ftyp"],
    "image-text-to-video": [{ image: img, prompt: "pan" }, (o) => readFileSync(o).subarray(4, 8).toString() === "ftyp"],
  };
  const runs = [
    ...Object.entries(cases).map(([task, [inputs, ok]]) => {
      hf.models.set(`every/${task}`, { providers: { "hf-inference": { task } } });
      return [task, inferenceExecutor.execute(new InferenceNode(`every/${task}`, { outputs: { o: null } }), inputs, ctx), ok] as const;
    }),
    ...Object.entries(fal).map(([task, [inputs, ok]]) => {
      hf.models.set(`every/${task}`, { providers: { "fal-ai": { providerId: `fal-ai/${task}`, task } }, falStatuses: ["COMPLETED"] });
      return [task, inferenceExecutor.execute(new InferenceNode(`every/${task}:fal-ai`, { outputs: { o: null } }), inputs, ctx), ok] as const;
    }),
  ];
  const settled = await Promise.allSettled(runs.map(([, run]) => run));
  for (const [i, [task, , ok]] of runs.entries()) {
    const r = settled[i]!;
    t.ok(r.status === "fulfilled" && ok(r.value), task, r.status === "rejected" ? { error: String(r.reason) } : {});
  }
});

t.test("a file input is never sent as a local path: store files travel as bytes or data URLs, other paths are refused before any request", async (t) => {
  hf.models.set("bfl/klein3", { providers: { "fal-ai": { providerId: "fal-ai/k3", task: "image-text-to-image" } }, falStatuses: ["COMPLETED"] });
  const { ctx, store } = harness();
  const a = await store.putFile({ bytes: PNG, name: "a.png", mime: "image/png" });
  const b = await store.putFile({ bytes: Buffer.concat([PNG, Buffer.from("b")]), name: "b.png", mime: "image/png" });
  await inferenceExecutor.execute(new InferenceNode("bfl/klein3:fal-ai", { outputs: { o: null } }), { image: a.path, prompt: "blend", reference_image_url: b.path }, ctx);
  const body = [...hf.falJobs.values()].filter((j) => j.model === "bfl/klein3").at(-1)!.body;
  t.match(body, { reference_image_url: `data:image/png;base64,${Buffer.concat([PNG, Buffer.from("b")]).toString("base64")}` });
  t.notOk(JSON.stringify(body).includes(store.filesDir));
  const before = hf.requests.length;
  const e1 = await fail(inferenceExecutor.execute(new InferenceNode("bfl/klein3:fal-ai", { outputs: { o: null } }), { image: "/etc/hostname", prompt: "x" }, ctx));
  t.match(e1, { code: "E_BAD_INPUT", details: { port: "image", got: "/etc/hostname" } });
  const e2 = await fail(inferenceExecutor.execute(new InferenceNode("bfl/klein3:fal-ai", { outputs: { o: null } }), { image: a.path, prompt: "x", mask: "/etc/hostname" }, ctx));
  t.match(e2, { code: "E_BAD_INPUT", details: { port: "mask" } });
  hf.models.set("acme/sd-txt", { pipeline_tag: "text-to-image" });
  const e3 = await fail(inferenceExecutor.execute(new InferenceNode("acme/sd-txt", { outputs: { o: null } }), { prompt: a.path }, ctx));
  t.match(e3, { code: "E_BAD_INPUT", details: { port: "prompt" } }, "a file wired into a text input is refused, not sent as text");
  t.match(e3.message, /should be text, but it holds a file/);
  t.equal(hf.requests.filter((r) => r.host !== "huggingface.co").length - hf.requests.slice(0, before).filter((r) => r.host !== "huggingface.co").length, 0, "nothing was sent");
});

t.test("a plain script awaiting a fal-ai poll (node.test, graph.call) runs to the end and exits by itself", async (t) => {
  const { spawn } = await import("node:child_process");
  hf.models.set("acme/flux-script", { pipeline_tag: "text-to-image", providers: { "fal-ai": { providerId: "fal-ai/flux-script" } }, falStatuses: ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"] });
  // tap's process tracking wraps spawn and injects NODE_OPTIONS hooks that turn exit code 13
  // into 0; `env -u` runs the script the way a user would, so an abandoned poll shows.
  const script = join(import.meta.dirname, "fixtures", "fal-script.ts");
  const child = spawn("/usr/bin/env", ["-u", "NODE_OPTIONS", process.execPath, "--import=tsx", script], {
    env: { ...process.env, FAKE_HF: hf.origin, MODEL: "acme/flux-script:fal-ai", HF_TOKEN: TOKEN, HF_HOME: home },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (err += d));
  const code = await new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
  t.equal(code, 0, `exit code (13: Node gave up on the unsettled await in the middle of the poll) ${err.slice(0, 400)}`);
  t.match(out, new RegExp(`test ${PNG.length} bytes\\ncall ${PNG.length} bytes`));
  const jobs = [...hf.falJobs.values()].filter((j) => j.model === "acme/flux-script");
  t.same(jobs.map((j) => j.answered), [["IN_QUEUE", "IN_PROGRESS", "COMPLETED"], ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]], "both calls polled to completion");
});

t.test("keptAlive(executor) holds the process while any execution is in flight, and lets go after the last", async (t) => {
  const { keptAlive, inFlightInfo } = await import("../lib/nodes/keep-alive.js");
  const gates: Array<() => void> = [];
  const seen: Array<ReturnType<typeof inFlightInfo>> = [];
  const slow = keptAlive({ execute: () => new Promise((r) => gates.push(() => r("done"))) });
  const failing = keptAlive({ execute: async () => { seen.push(inFlightInfo()); throw new Error("boom"); } });
  t.same(inFlightInfo(), { jobs: 0, holdsProcess: false });
  const a = slow.execute(new FnNode(() => 1, { outputs: { o: null } }), {}, harness().ctx);
  const b = slow.execute(new FnNode(() => 2, { outputs: { o: null } }), {}, harness().ctx);
  t.same(inFlightInfo(), { jobs: 2, holdsProcess: true });
  await t.rejects(failing.execute(new FnNode(() => 3, { outputs: { o: null } }), {}, harness().ctx), /boom/);
  t.same(seen, [{ jobs: 3, holdsProcess: true }]);
  gates.shift()!();
  await a;
  t.same(inFlightInfo(), { jobs: 1, holdsProcess: true }, "one job still runs");
  gates.shift()!();
  await b;
  t.same(inFlightInfo(), { jobs: 0, holdsProcess: false }, "released with the last job, failures included");
});

t.test("a fal-ai text-to-image result is downloaded through the guarded, size-capped download: no private address, nothing over maxFileBytes", async (t) => {
  hf.models.set("acme/flux-ssrf", { pipeline_tag: "text-to-image", providers: { "fal-ai": { providerId: "fal-ai/ssrf" } }, falStatuses: ["COMPLETED"], falMediaUrl: "http://169.254.169.254/latest/meta-data.png" });
  // Routed to the fake, so an unguarded fetch would succeed here (and be recorded).
  shim.route("169.254.169.254", hf.origin);
  t.teardown(() => shim.unroute("169.254.169.254"));
  const e = await fail(inferenceExecutor.execute(new InferenceNode("acme/flux-ssrf:fal-ai", { outputs: { o: null } }), { prompt: "x" }, harness().ctx));
  t.match(e, { code: "E_URL_REFUSED" });
  t.notOk(shim.requests.some((r) => r.host === "169.254.169.254"), "the metadata address was never asked");
  hf.models.set("acme/flux-big", { pipeline_tag: "text-to-image", providers: { "fal-ai": { providerId: "fal-ai/big" } }, falStatuses: ["COMPLETED"] });
  const big = await fail(inferenceExecutor.execute(new InferenceNode("acme/flux-big:fal-ai", { outputs: { o: null }, maxFileBytes: 10 }), { prompt: "x" }, harness().ctx));
  t.match(big, { code: "E_FILE_TOO_LARGE", details: { maxBytes: 10 } });
});

t.test("an explicit task is checked against the provider's mapping at validation, before any call", async (t) => {
  hf.models.set("bfl/klein4", { pipeline_tag: "text-to-image", providers: { "fal-ai": { providerId: "fal-ai/k4", task: "image-text-to-image" } } });
  const cache = harness().ctx.cache;
  const e = await fail(inferenceExecutor.validate!(new InferenceNode("bfl/klein4:fal-ai", { task: "text-to-image", outputs: { o: null } }), { cache }));
  t.match(e, { code: "E_UNSUPPORTED_TASK", details: { got: "text-to-image", nearest: "image-text-to-image" } });
  t.match(e.message, /provider fal-ai serves this model for task 'image-text-to-image', not 'text-to-image'\. Set `task: "image-text-to-image"`/);
  await t.resolves(inferenceExecutor.validate!(new InferenceNode("bfl/klein4:fal-ai", { task: "image-text-to-image", outputs: { o: null } }), { cache }));
  hf.models.set("acme/emb2", { pipeline_tag: "sentence-similarity", providers: { "hf-inference": { task: "sentence-similarity" } } });
  await t.resolves(inferenceExecutor.validate!(new InferenceNode("acme/emb2", { task: "feature-extraction", outputs: { o: null } }), { cache }), "hf-inference serves embeddings for both");
  t.equal(hf.requests.filter((r) => r.host === "router.huggingface.co" && r.path.includes("k4")).length, 0, "nothing was sent to the provider");
});

t.test("an FnNode-only app loads no remote client: import \"daggr\" and a graph.call() leave @gradio/client, @huggingface/inference, @huggingface/hub and undici unloaded", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "daggr-trace-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const trace = join(dir, "modules.txt");
  const lib = new URL("../lib/index.ts", import.meta.url).href;
  // After the run, a mark; then the clients are imported on purpose: the trace must see them (it can fail).
  const code = `
    import { appendFileSync } from "node:fs";
    const { FnNode, Graph, gr } = await import(${JSON.stringify(lib)});
    const shout = new FnNode(({ text }) => text.toUpperCase() + "!", { name: "shout", inputs: { text: gr.Textbox({ value: "hi" }) }, outputs: { loud: gr.Textbox() } });
    const graph = new Graph({ name: "fn only", nodes: [shout], persistKey: false });
    console.log(JSON.stringify(await graph.call({ shout__text: "a lynx" })));
    appendFileSync(process.env.DAGGR_MODULE_TRACE, "MARK\\n");
    await import("@gradio/client"); await import("@huggingface/inference"); await import("@huggingface/hub"); await import("undici");`;
  const child = spawn(process.execPath, ["--import", "tsx", "--import", new URL("./fixtures/module-trace.mjs", import.meta.url).href, "--input-type=module", "-e", code], {
    env: { ...process.env, DAGGR_MODULE_TRACE: trace },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (c: Buffer) => (out += c));
  child.stderr.on("data", (c: Buffer) => (err += c));
  const status = await new Promise((ok) => child.on("exit", ok));
  t.equal(status, 0, err);
  t.same(JSON.parse(out), { shout: { loud: "A LYNX!" } }, "the graph ran");
  const [during, after] = readFileSync(trace, "utf8").split("MARK\n").map((s) => s.split("\n").filter(Boolean));
  const remote = (urls: string[]) => [...new Set(urls.flatMap((u) => /node_modules\/(@gradio\/client|@huggingface\/inference|@huggingface\/hub|undici)\//.exec(u)?.[1] ?? []))].sort();
  t.ok(during!.some((u) => u.endsWith("/lib/index.ts")), "the trace saw daggr load");
  t.same(remote(during!), [], "no remote client was loaded by the import or the run");
  t.same(remote(after!), ["@gradio/client", "@huggingface/hub", "@huggingface/inference", "undici"], "the trace does see them once imported");
});

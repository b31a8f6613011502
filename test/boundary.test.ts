/**
 * Trust at the boundary: URLs a remote names (address checks, redirects, DNS rebinding),
 * where the HF token may go, downloads streamed to disk under a cap, the inactivity
 * deadline of remote nodes, and the token kept out of every record. Real sockets and
 * servers throughout; DNS answers come from the resolver seam (`netGuard.resolve`).
 */
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import { type Server as NetServer, createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { type EngineEvent, FnNode, Graph, GradioNode, MemoryStore, gr } from "../lib/index.js";
import type { FileSink } from "../lib/engine/executor.js";
import { defaultInactivityMs } from "../lib/engine/executor.js";
import { LevelStore } from "../lib/store/level.js";
import { closeGradioClients } from "../lib/nodes/gradio-client.js";
import { downloadToStore, scopedFetch } from "../lib/nodes/hf-download.js";
import { addressAllowed, addressRange, netGuard } from "../lib/nodes/net-guard.js";
import { installFetchShim } from "./fixtures/fetch-shim.js";
import { type FakeEndpoint, startFakeGradio } from "./fixtures/fake-gradio.js";

const TOKEN = "hf_boundaryTOKEN0123456789abc";
const home = mkdtempSync(join(tmpdir(), "daggr-boundary-"));
process.env.HF_HOME = home;
process.env.HF_TOKEN = TOKEN;
delete process.env.HF_TOKEN_PATH;

const realResolve = netGuard.resolve;
t.teardown(async () => {
  netGuard.resolve = realResolve;
  netGuard.allow = [];
  await closeGradioClients();
  rmSync(home, { recursive: true, force: true });
});

// ---------------------------------------------------------------- helpers

/** A TCP server that counts connections and drops them (a TLS handshake then fails). */
async function tcpCounter(t: Tap, host = "127.0.0.1", port = 0): Promise<{ port: number; connections: number; server: NetServer }> {
  const c = { port: 0, connections: 0, server: createNetServer((s) => (c.connections++, s.destroy())) };
  await new Promise<void>((ok, fail) => c.server.once("error", fail).listen(port, host, () => ok()));
  c.port = (c.server.address() as { port: number }).port;
  t.teardown(() => new Promise<void>((ok) => c.server.close(() => ok())));
  return c;
}

/** An HTTP server on 127.0.0.1 with a handler per test. */
async function httpServer(t: Tap, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ origin: string; server: Server; hits: string[] }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(`${req.url} ${req.headers.authorization ?? "-"}`);
    handler(req, res);
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", () => ok()));
  t.teardown(() => new Promise<void>((ok) => (server.closeAllConnections(), server.close(() => ok()))));
  return { origin: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server, hits };
}

/** Answers host names from a table (several calls may answer differently), counting calls. */
function resolver(t: Tap, table: Record<string, string | string[] | ((call: number) => string)>) {
  const calls: string[] = [];
  netGuard.resolve = async (host) => {
    calls.push(host);
    const a = table[host];
    if (a === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND" });
    const list = typeof a === "function" ? [a(calls.filter((c) => c === host).length)] : Array.isArray(a) ? a : [a];
    return list.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
  };
  t.teardown(() => void (netGuard.resolve = realResolve));
  return calls;
}

function sinkOf(store: { filesDir: string; putFile: FileSink["put"]; fileForPath: FileSink["lookup"] }): FileSink {
  return { dir: store.filesDir, put: (i) => store.putFile(i), lookup: (p) => store.fileForPath(p) };
}

function filesIn(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir) : [];
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const fail = (p: Promise<unknown>): Promise<any> =>
  p.then(
    (v) => {
      throw new Error(`expected a failure, got ${JSON.stringify(v)}`);
    },
    (e) => e,
  );

/** Waits for a condition by polling (the event is on another process's side: the disk). */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}

type Tap = { teardown(fn: () => unknown): void };

const download = (url: string, files: FileSink, extra: Partial<Parameters<typeof downloadToStore>[1]> = {}) =>
  downloadToStore(url, { files, maxBytes: 1 << 20, label: "test", ...extra });

// ---------------------------------------------------------------- addresses and spellings

const LOOPBACK_SPELLINGS = ["2130706433", "0x7f000001", "0177.0.0.1", "127.1", "127.0.0.1.", "0x7f.1", "017700000001"];

t.test("the WHATWG URL parser turns every IPv4 spelling into dotted decimal (what the check then classifies)", async (t) => {
  for (const h of LOOPBACK_SPELLINGS) t.equal(new URL(`https://${h}/x`).hostname, "127.0.0.1", h);
  t.equal(new URL("https://[::ffff:127.0.0.1]/").hostname, "[::ffff:7f00:1]");
  t.equal(new URL("https://[0:0:0:0:0:ffff:7f00:1]/").hostname, "[::ffff:7f00:1]");
  t.equal(new URL("https://0251.0376.0251.0376/").hostname, "169.254.169.254");
});

t.test("addresses: only global unicast is public; mapped, 6to4 and NAT64 forms of private ones are not", async (t) => {
  const refused: Array<[string, string]> = [
    ["127.0.0.1", "loopback"], ["10.1.2.3", "private"], ["172.16.0.1", "private"], ["192.168.1.1", "private"],
    ["100.64.0.1", "carrierGradeNat"], ["169.254.169.254", "linkLocal"], ["0.0.0.0", "unspecified"],
    ["224.0.0.1", "multicast"], ["240.0.0.1", "reserved"], ["255.255.255.255", "broadcast"],
    ["::1", "loopback"], ["::", "unspecified"], ["fe80::1", "linkLocal"], ["fc00::1", "uniqueLocal"], ["fd12:3456::1", "uniqueLocal"],
    ["ff02::1", "multicast"], ["::ffff:127.0.0.1", "loopback"], ["::ffff:7f00:1", "loopback"], ["[::ffff:a9fe:a9fe]", "linkLocal"],
    ["2002:7f00:1::", "6to4"], ["64:ff9b::7f00:1", "rfc6052"],
  ];
  for (const [ip, range] of refused) {
    t.equal(addressAllowed(ip), false, `${ip} refused`);
    t.equal(addressRange(ip), range, `${ip} is ${range}`);
  }
  for (const ip of ["8.8.8.8", "93.184.216.34", "2606:4700::1111", "::ffff:8.8.8.8"]) t.equal(addressAllowed(ip), true, `${ip} allowed`);
  t.equal(addressAllowed("not-an-ip"), false);
});

t.test("a URL naming a non-public address in any spelling is refused before any connection", async (t) => {
  const local = await tcpCounter(t);
  const files = sinkOf(new MemoryStore({ filesDir: join(home, "spell") }));
  const spellings = [
    ...LOOPBACK_SPELLINGS, "127.0.0.1", "[::1]", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "0.0.0.0", "[::]",
    "169.254.169.254", "[fe80::1]", "10.0.0.1", "192.168.0.1", "172.31.255.255", "100.64.0.1", "[fd00::1]", "224.0.0.1",
  ];
  for (const h of spellings) {
    const e = await fail(download(`https://${h}:${local.port}/file.png`, files));
    t.match(e, { code: "E_URL_REFUSED", details: { range: /\w/ } }, h);
  }
  const http = await fail(download(`http://files.example.com/a.png`, files));
  t.match(http, { code: "E_URL_REFUSED", details: { range: "https" } }, "plain http outside the app's origin");
  t.match(http.message, /must use https/);
  t.equal(local.connections, 0, "nothing connected");
  t.same(filesIn(files.dir), []);
});

t.test("a host name resolving to a non-public address is refused where the connection is made", async (t) => {
  const local = await tcpCounter(t);
  const calls = resolver(t, {
    "intranet.test": "10.0.0.7", "metadata.test": "169.254.169.254", "loop.test": "127.0.0.1", "loop.test.": "127.0.0.1",
    "mapped.test": "::ffff:127.0.0.1", "mapped-hex.test": "::ffff:7f00:1", "cgnat.test": "100.64.1.1", "ula.test": "fd00::1",
    "v6local.test": "fe80::1", "zero.test": "0.0.0.0", "mixed.test": ["8.8.8.8", "127.0.0.1"],
  });
  const files = sinkOf(new MemoryStore({ filesDir: join(home, "dns") }));
  for (const host of ["intranet.test", "metadata.test", "loop.test", "loop.test.", "mapped.test", "mapped-hex.test", "cgnat.test", "ula.test", "v6local.test", "zero.test", "mixed.test"]) {
    const e = await fail(download(`https://${host}:${local.port}/f.png`, files));
    t.match(e, { code: "E_URL_REFUSED", details: { host, address: /./ } }, host);
    t.match(e.message, /not a public one/);
  }
  t.equal(calls.length, 11, "each name resolved once");
  t.equal(local.connections, 0, "no connection reached the local server");
});

t.test("each redirect hop is checked again: redirects to 127.0.0.1 are refused, from the app's origin and from a public host", async (t) => {
  const secret = await tcpCounter(t);
  resolver(t, { "loop.test": "127.0.0.1" });
  let target = "";
  const app = await httpServer(t, (req, res) => {
    if (req.url === "/ok") return void res.end("fine");
    if (req.url === "/same") return void res.writeHead(302, { location: "/ok" }).end();
    res.writeHead(302, { location: target }).end();
  });
  const files = sinkOf(new MemoryStore({ filesDir: join(home, "redirect") }));
  const ok = await download(`${app.origin}/same`, files, { appOrigin: app.origin });
  t.equal(readFileSync(ok.path, "utf8"), "fine", "a redirect within the app's origin is followed");

  for (const to of [`http://127.0.0.1:${secret.port}/s`, `https://127.0.0.1:${secret.port}/s`, `https://loop.test:${secret.port}/s`, `https://2130706433:${secret.port}/s`]) {
    target = to;
    const e = await fail(download(`${app.origin}/go`, files, { appOrigin: app.origin }));
    t.match(e, { code: "E_URL_REFUSED" }, `app origin → ${to}`);
  }

  // A public-looking https host (served locally through the fetch shim) redirecting inward.
  const shim = installFetchShim();
  try {
    shim.route("files.example.com", app.origin);
    for (const to of [`https://[::ffff:127.0.0.1]:${secret.port}/s`, `https://169.254.169.254/latest/meta-data/`, `http://127.0.0.1:${secret.port}/s`]) {
      target = to;
      const e = await fail(download("https://files.example.com/go", files, { appOrigin: "https://acme-app.hf.space" }));
      t.match(e, { code: "E_URL_REFUSED" }, `public host → ${to}`);
    }
    t.ok(shim.requests.some((r) => r.host === "files.example.com"), "the first hop was fetched");
  } finally {
    shim.uninstall();
  }
  t.equal(secret.connections, 0, "no hop reached the loopback server");
  t.same(filesIn(files.dir).filter((f) => f.startsWith(".tmp-")), []);
});

t.test("DNS rebinding: the address checked is the address connected to (public first, private second never connects)", async (t) => {
  // 127.0.0.2 stands for a public address (allowed by the operator list): this test cannot
  // reach a real one. 127.0.0.1, on the same port, is the private service to protect.
  const priv = await tcpCounter(t, "127.0.0.1");
  const pub = await tcpCounter(t, "127.0.0.2", priv.port);
  netGuard.allow = ["127.0.0.2/32"];
  t.teardown(() => void (netGuard.allow = []));
  const calls = resolver(t, { "rebind.test": (n) => (n === 1 ? "127.0.0.2" : "127.0.0.1") });
  const e = await fail(scopedFetch(`https://rebind.test:${priv.port}/x`, { label: "test" }));
  t.notMatch(String(e?.code), "E_URL_REFUSED", "the first answer was allowed and used");
  t.equal(pub.connections >= 1, true, "connected to the address that was checked");
  t.equal(priv.connections, 0, "never to the private one");
  t.equal(calls.length >= 1, true);
  // A client that re-resolved for every attempt would now meet the private answer; it is refused.
  const again = await fail(scopedFetch(`https://rebind.test:${priv.port}/y`, { label: "test" }));
  t.match(again, { code: "E_URL_REFUSED", details: { address: "127.0.0.1" } });
  t.equal(priv.connections, 0);
});

t.test("a Gradio app whose config names an https root resolving to a private address is refused; nothing connects there", async (t) => {
  const inner = await tcpCounter(t);
  resolver(t, { "root.test": "127.0.0.1" });
  const ep: FakeEndpoint = { name: "/predict", parameters: [], returns: [{ label: "text" }], fn: () => ["x"] };
  const fake = await startFakeGradio({ endpoints: [ep], root: `https://root.test:${inner.port}` });
  t.teardown(() => fake.close());
  const node = new GradioNode(fake.url, { outputs: { text: gr.Textbox() }, validate: false, retries: 0 });
  const s = await new Graph({ name: "root", nodes: [node] }).session({ store: new MemoryStore() });
  t.teardown(() => s.close());
  await s.run(node);
  t.match(s.nodeState(node.id).error, { code: "E_URL_REFUSED", message: /root\.test.*127\.0\.0\.1/ });
  t.equal(inner.connections, 0);
});

// ---------------------------------------------------------------- the token's destinations

t.test("the HF token goes to the node's own Space, never to another *.hf.space host", async (t) => {
  const rec = await httpServer(t, (_req, res) => res.end("x"));
  const shim = installFetchShim();
  t.teardown(() => shim.uninstall());
  shim.route("*.hf.space", rec.origin);
  await (await scopedFetch("https://acme-app.hf.space/file=a", { token: TOKEN, appOrigin: "https://acme-app.hf.space" })).text();
  await (await scopedFetch("https://evil-app.hf.space/file=b", { token: TOKEN, appOrigin: "https://acme-app.hf.space" })).text();
  t.same(
    shim.requests.map((r) => [r.host, r.authorization]),
    [["acme-app.hf.space", `Bearer ${TOKEN}`], ["evil-app.hf.space", null]],
  );
});

t.test("a GradioNode whose app names a file on another *.hf.space host downloads it without the token", async (t) => {
  const rec = await httpServer(t, (_req, res) => res.writeHead(200, { "content-type": "image/png" }).end("png-bytes"));
  const shim = installFetchShim();
  t.teardown(() => shim.uninstall());
  shim.route("evil-app.hf.space", rec.origin);
  const ep: FakeEndpoint = {
    name: "/predict",
    parameters: [],
    returns: [{ component: "Image" }],
    fn: () => [{ path: "x.png", url: "https://evil-app.hf.space/file=x.png", orig_name: "x.png", mime_type: "image/png", size: null, is_stream: false, meta: { _type: "gradio.FileData" } }],
  };
  const fake = await startFakeGradio({ endpoints: [ep] });
  t.teardown(() => fake.close());
  const node = new GradioNode(fake.url, { outputs: { image: gr.Image() }, validate: false });
  const graph = new Graph({ name: "evil-file", nodes: [node] });
  const store = new MemoryStore();
  const s = await graph.session({ store });
  t.teardown(() => s.close());
  const summary = await s.run(node);
  t.equal(summary.nodes[node.id], "ran");
  t.equal(readFileSync(s.selected(node.id)!.outputs.image as string, "utf8"), "png-bytes");
  t.equal(fake.requests.find((r) => r.path === "/config")?.authorization, `Bearer ${TOKEN}`, "the app itself gets the token");
  t.same(shim.requests.filter((r) => r.host === "evil-app.hf.space").map((r) => r.authorization), [null], "the other Space does not");
});

// ---------------------------------------------------------------- streaming to disk

async function stores(t: Tap, name: string) {
  const mem = new MemoryStore({ filesDir: join(home, name, "mem-files") });
  const level = await LevelStore.open({ appDir: join(home, name, "apps", "a"), filesDir: join(home, name, "files") });
  t.teardown(() => level.close());
  return [
    ["memory", sinkOf(mem)],
    ["level", sinkOf(level)],
  ] as const;
}

t.test("a download over the cap fails with E_FILE_TOO_LARGE and leaves no file behind (no Content-Length, a lying one)", async (t) => {
  const chunk = Buffer.alloc(16 * 1024, 7);
  const src = await httpServer(t, (req, res) => {
    if (req.url === "/chunked") {
      res.writeHead(200, { "content-type": "application/octet-stream" });
      let sent = 0;
      const more = () => {
        while (sent < 40 && res.write(chunk)) sent++;
        if (sent >= 40) res.end();
        else res.once("drain", () => (sent++, more()));
      };
      res.on("close", () => (sent = 99));
      more();
    } else if (req.url === "/declared") {
      res.writeHead(200, { "content-length": String(10 * 1024 * 1024) }).end();
    } else if (req.url === "/liar") {
      // Declares 10 bytes, then keeps writing: only what was declared may be taken.
      res.socket!.write("HTTP/1.1 200 OK\r\ncontent-length: 10\r\nconnection: close\r\n\r\n");
      res.socket!.end(Buffer.alloc(5000, 1));
    }
  });
  for (const [kind, files] of await stores(t, "cap")) {
    const over = await fail(download(`${src.origin}/chunked`, files, { appOrigin: src.origin, maxBytes: 100_000 }));
    t.match(over, { code: "E_FILE_TOO_LARGE", details: { maxBytes: 100_000 } }, `${kind}: streamed past the cap`);
    t.same(filesIn(files.dir), [], `${kind}: no blob and no temp file left`);
    const declared = await fail(download(`${src.origin}/declared`, files, { appOrigin: src.origin, maxBytes: 100_000 }));
    t.match(declared, { code: "E_FILE_TOO_LARGE", details: { size: 10 * 1024 * 1024 } }, `${kind}: refused on its Content-Length`);
    t.same(filesIn(files.dir), []);
    const liar = await download(`${src.origin}/liar`, files, { appOrigin: src.origin, maxBytes: 1000 }).catch((e: Error) => e);
    const kept = filesIn(files.dir).map((f) => statSync(join(files.dir, f)).size);
    t.ok(kept.every((n) => n <= 1000), `${kind}: nothing over the cap on disk (${kept.join(",") || "none"}; ${liar instanceof Error ? liar.message : `${liar.size} bytes`})`);
    t.same(filesIn(files.dir).filter((f) => f.startsWith(".tmp-")), []);
  }
});

t.test("a download is written to disk while it arrives (never held whole in memory); an abort removes the partial file", { timeout: 60_000 }, async (t) => {
  const CHUNK = 64 * 1024;
  const HALF = 32;
  const body = Buffer.alloc(CHUNK * HALF * 2);
  for (let i = 0; i < body.length; i++) body[i] = (i * 31) & 0xff;
  let filesDir = "";
  const onDisk = () => filesIn(filesDir).filter((f) => f.startsWith(".tmp-")).reduce((n, f) => n + (existsSync(join(filesDir, f)) ? statSync(join(filesDir, f)).size : 0), 0);
  const src = await httpServer(t, (req, res) => {
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(body.length) });
    void (async () => {
      for (let i = 0; i < HALF; i++) res.write(body.subarray(i * CHUNK, (i + 1) * CHUNK));
      // Go on only once the first half is on disk: a download that buffered the body in
      // memory would never get here (and the test would time out).
      await until(() => onDisk() >= HALF * CHUNK);
      if (req.url === "/stall") return; // the client aborts now
      res.end(body.subarray(HALF * CHUNK));
    })();
  });
  for (const [kind, files] of await stores(t, "stream")) {
    filesDir = files.dir;
    const meta = await download(`${src.origin}/full`, files, { appOrigin: src.origin, maxBytes: body.length });
    t.equal(meta.id, createHash("sha256").update(body).digest("hex"), `${kind}: the blob is named by its sha256`);
    t.equal(meta.size, body.length);
    t.same(filesIn(files.dir).filter((f) => f.startsWith(".tmp-")), [], `${kind}: no temp file left`);

    const ac = new AbortController();
    const pending = fail(download(`${src.origin}/stall`, files, { appOrigin: src.origin, maxBytes: body.length, signal: ac.signal }));
    await until(() => onDisk() >= HALF * CHUNK);
    ac.abort(new Error("stop"));
    const e = await pending;
    t.ok(e, `${kind}: the aborted download rejects`);
    await until(() => filesIn(files.dir).every((f) => !f.startsWith(".tmp-")));
    t.same(filesIn(files.dir), [meta.id], `${kind}: the partial file is gone`);
  }
});

// ---------------------------------------------------------------- inactivity deadline

t.test("remote kinds have a default inactivity deadline; local functions have none", async (t) => {
  t.equal(defaultInactivityMs(new GradioNode("http://127.0.0.1:1/", { outputs: { o: null } })), 300_000);
  t.equal(defaultInactivityMs(new FnNode(() => 1, { outputs: { o: null } })), undefined);
});

t.test("a stalled Gradio job hits its inactivity deadline (E_IDLE_TIMEOUT) and is cancelled on the app", async (t) => {
  const stall: FakeEndpoint = { name: "/stall", parameters: [], returns: [{ label: "text" }], fn: async (j) => (await j.sleep(3_600_000), ["never"]) };
  // A connection that went silent: not even heartbeats.
  const fake = await startFakeGradio({ endpoints: [stall], heartbeatMs: 3_600_000 });
  t.teardown(() => fake.close());
  const node = new GradioNode(fake.url, { apiName: "/stall", outputs: { text: gr.Textbox() }, validate: false, inactivityMs: 300 });
  const s = await new Graph({ name: "stall", nodes: [node] }).session({ store: new MemoryStore() });
  t.teardown(() => s.close());
  const failed: EngineEvent[] = [];
  s.events.subscribe((e) => e.type === "node-failed" && failed.push(e));
  const summary = await s.run(node);
  t.equal(summary.nodes[node.id], "failed");
  t.match(s.nodeState(node.id).error, { code: "E_IDLE_TIMEOUT", message: /inactivityMs/ });
  t.equal(failed.length, 1);
  await until(() => fake.stats.cancelled > 0);
  t.match(fake.cancels[0], { event_id: /^[0-9a-f]{32}$/ }, "the app got a /cancel for the job");
});

t.test("the app's heartbeats keep a long silent Gradio job alive past its inactivity deadline", async (t) => {
  // Heartbeats arrive as socket reads, after the timers of a stalled event loop: the deadline
  // leaves a loaded machine ample room (25 heartbeats each) before it would fire between two.
  const IDLE = 1000;
  const slow: FakeEndpoint = { name: "/slow", parameters: [], returns: [{ label: "text" }], fn: async (j) => (await j.sleep(IDLE * 3), ["done"]) };
  const fake = await startFakeGradio({ endpoints: [slow], heartbeatMs: 40 });
  t.teardown(() => fake.close());
  const node = new GradioNode(fake.url, { apiName: "/slow", outputs: { text: gr.Textbox() }, validate: false, inactivityMs: IDLE });
  const s = await new Graph({ name: "slow", nodes: [node] }).session({ store: new MemoryStore() });
  t.teardown(() => s.close());
  const summary = await s.run(node);
  t.equal(summary.nodes[node.id], "ran", "three deadlines long, with only heartbeats");
  t.equal(s.selected(node.id)?.outputs.text, "done");
  t.equal(fake.stats.cancelled, 0);
});

t.test("progress keeps a node alive past its inactivity deadline; silence stops it", async (t) => {
  const IDLE = 400;
  const chatty = new FnNode(
    async (_i: Record<string, never>, { progress }) => {
      const t0 = performance.now();
      let steps = 0;
      while (performance.now() - t0 < IDLE * 3) {
        await new Promise((r) => setTimeout(r, 20));
        progress(undefined, `step ${++steps}`);
      }
      return "done";
    },
    { name: "chatty", outputs: { v: null }, inactivityMs: IDLE },
  );
  const silent = new FnNode(({}, { signal }) => new Promise((_ok, no) => signal.addEventListener("abort", () => no(signal.reason))), {
    name: "silent",
    outputs: { v: null },
    inactivityMs: IDLE,
  });
  const s = await new Graph({ name: "alive", nodes: [chatty, silent], autorun: false }).session({ store: new MemoryStore() });
  t.teardown(() => s.close());
  const [a, b] = await Promise.all([s.run(chatty), s.run(silent)]);
  t.equal(a.nodes.chatty, "ran", "ran three deadlines long, reporting progress");
  t.equal(b.nodes.silent, "failed");
  t.match(s.nodeState("silent").error, { code: "E_IDLE_TIMEOUT" });
});

// ---------------------------------------------------------------- token redaction

t.test("the HF token never reaches a record, an event or the database, whatever the node kind", async (t) => {
  const leaky = new FnNode(
    async ({ q }: { q: string }, { progress }) => {
      progress(0.5, `calling with ${TOKEN}`);
      return { text: `token=${TOKEN}`, nested: [{ deep: { v: `Bearer ${TOKEN}` } }], [`key-${TOKEN}`]: 1, q };
    },
    { name: "leaky", inputs: { q: `fixed ${TOKEN}` }, outputs: { v: null } },
  );
  const thrower = new FnNode(
    () => {
      throw new Error(`upstream said: invalid token ${TOKEN}`);
    },
    { name: "thrower", outputs: { v: null } },
  );
  const dir = mkdtempSync(join(home, "level-"));
  const store = await LevelStore.open({ appDir: join(dir, "apps", "x"), filesDir: join(dir, "files") });
  const s = await new Graph({ name: "leaks", nodes: [leaky, thrower], autorun: false }).session({ store });
  const events: EngineEvent[] = [];
  s.events.subscribe((e) => events.push(e));
  await s.run(leaky);
  await s.run(thrower);
  const kept = s.selected("leaky")!;
  t.match(kept.outputs.v, { text: "token=***", nested: [{ deep: { v: "Bearer ***" } }], "key-***": 1 }, "outputs redacted, keys too");
  t.match(s.nodeState("thrower").error, { message: /invalid token \*\*\*/ });
  const records = [...(await store.listResults(s.sheetId, "leaky")).results, ...(await store.listResults(s.sheetId, "thrower")).results];
  t.equal(records.length, 2);
  t.notMatch(JSON.stringify(records), TOKEN, "stored records");
  t.match(kept.inputs, { q: "fixed ***" }, "recorded inputs redacted");
  t.notMatch(JSON.stringify(events), TOKEN, "events");
  t.ok(events.some((e) => e.type === "node-progress" && e.progress.text === "calling with ***"), "progress text redacted");
  await s.close();
  await store.close();
  // Raw bytes of the database and files: no file holds the token.
  const leaks: string[] = [];
  const walk = (d: string) => {
    for (const f of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, f.name);
      if (f.isDirectory()) walk(p);
      else if (readFileSync(p).includes(TOKEN)) leaks.push(p);
    }
  };
  walk(dir);
  t.same(leaks, [], "no database file contains the token");
});

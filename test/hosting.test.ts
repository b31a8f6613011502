/**
 * Hosting: who the user is (the token's Hugging Face account locally; each signed-in
 * visitor on a Space), public share links through a share server, and `daggr deploy`
 * to a Space. Against a fake Hub with an OAuth provider (fixtures/fake-hub.ts), a fake
 * share server and a fake `frpc` written by this test.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { EventEmitter } from "node:events";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import t, { type Test as Tap } from "tap";
import { parse as parseYaml } from "yaml";
import { deploy, describePlan, spaceHome } from "../lib/cli/deploy.js";
import { FnNode, Graph, GradioNode, gr } from "../lib/index.js";
import type { ServerMessage } from "../lib/protocol.js";
import { launch } from "../lib/server/index.js";
import { freePort, resolveOptions } from "../lib/server/options.js";
import { FRPC_CHECKSUMS, ensureFrpc, frpcFileName, frpcPath, openShare } from "../lib/server/share.js";
import { MemoryStore } from "../lib/store/memory.js";
import { type FakeHub, startFakeHub } from "./fixtures/fake-hub.js";
import { startFakeGradio } from "./fixtures/fake-gradio.js";
import { WireClient, raw } from "./fixtures/server-wire.js";

const sha = (s: string) => createHash("sha256").update(s).digest("hex");
const tmp = mkdtempSync(join(tmpdir(), "daggr-hosting-"));
const OWNER_TOKEN = "hf_OwnerOfTheSpaceToken0123456789";
const ALICE = { name: "alice", token: "hf_AliceLocalToken0123456789abcd" };
const BOB = { name: "bob", token: "hf_BobLocalToken0123456789abcdef" };

/** Runs `fn` with these environment variables set (undefined: unset), then restores them. */
async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const before = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(vars)) v === undefined ? delete process.env[k] : (process.env[k] = v);
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(before)) v === undefined ? delete process.env[k] : (process.env[k] = v);
  }
}

/** One Gradio app that echoes, remembering the Authorization header of each job. */
async function echoApp() {
  const fake = await startFakeGradio({
    endpoints: [{ name: "/predict", parameters: [{ name: "text" }], returns: [{}], fn: (job) => [`echo ${job.args.text}`] }],
  });
  const graph = new Graph({
    name: "hosting test",
    persistKey: false,
    nodes: [new GradioNode(fake.url, { name: "echo", apiName: "/predict", inputs: { text: gr.Textbox({ value: "hi" }) }, outputs: { out: gr.Textbox() } })],
  });
  const joins = () => fake.requests.filter((r) => r.path.endsWith("/queue/join")).map((r) => r.authorization);
  return { fake, graph, joins };
}

function cookiesOf(res: { headers: Record<string, string | string[] | undefined> }): string {
  const set = res.headers["set-cookie"];
  return (Array.isArray(set) ? set : set ? [set] : []).map((c) => c.split(";")[0]!).filter((c) => !c.endsWith("=")).join("; ");
}

/**
 * Signs `user` in on a Space server the way a browser does: /login/huggingface → the
 * provider's authorize page → back to /login/callback (the redirect URI names the Space
 * host; the request goes to the test server) → the target, with the session cookie.
 */
async function signIn(hub: FakeHub, server: string, user: string): Promise<string> {
  hub.signedIn = user;
  const start = await raw(server, "/login/huggingface?_target_url=%2F");
  if (start.status !== 302) throw new Error(`login answered ${start.status}: ${start.body}`);
  const stateCookie = cookiesOf(start);
  const authorize = await fetch(String(start.headers.location), { redirect: "manual" });
  if (authorize.status !== 302) throw new Error(`authorize answered ${authorize.status}: ${await authorize.text()}`);
  const back = new URL(authorize.headers.get("location")!);
  const done = await raw(server, back.pathname + back.search, { headers: { cookie: stateCookie } });
  if (done.status !== 302 || done.headers.location !== "/") throw new Error(`callback answered ${done.status}: ${done.body}`);
  return cookiesOf(done);
}

async function ws(server: string, cookie?: string, sheet?: string) {
  const c = await WireClient.connect(server, cookie ? { headers: { cookie } } : {});
  const snap = await c.request({ type: "hello", ...(sheet ? { sheet } : {}) });
  if (snap.type !== "snapshot") throw new Error(`expected a snapshot, got ${JSON.stringify(snap)}`);
  return { c, snap };
}

async function runEcho(c: WireClient): Promise<ServerMessage> {
  const done = c.next((m) => m.type === "event" && (m.event.type === "node-completed" || m.event.type === "node-failed") && m.event.nodeId === "echo");
  await c.request({ type: "run", nodeId: "echo", mode: "step" });
  return done;
}

t.test("users, locally: the token's Hugging Face account owns the sheets; asked once, then cached", async (t) => {
  const hub = await startFakeHub([ALICE, BOB]);
  t.teardown(() => hub.close());
  const store = new MemoryStore();
  const { graph, fake } = await echoApp();
  t.teardown(() => fake.close());
  await withEnv({ HF_TOKEN: ALICE.token, HF_ENDPOINT: hub.url, SPACE_ID: undefined }, async () => {
    const s1 = await launch(graph, { port: 0, quiet: true, store });
    const { c, snap } = await ws(s1.url);
    t.equal(s1.user, "alice", "launch() says whose sheets it serves");
    t.equal(snap.user, "alice", "the snapshot names the user");
    t.equal((await store.listSheets("alice")).length, 1, "the sheet belongs to alice");
    t.equal(await store.getMeta(`whoami:${sha(ALICE.token).slice(0, 32)}`), "alice", "the answer is kept in the app's store, by a hash of the token");
    t.notOk(JSON.stringify(await store.getMeta(`whoami:${sha(ALICE.token).slice(0, 32)}`)).includes(ALICE.token), "never the token itself");
    c.close();
    await s1.close();
    await hub.close();
    // The Hub is gone: the name comes from the store's cache.
    const s2 = await launch(graph, { port: 0, quiet: true, store });
    t.equal(s2.user, "alice", "a restart with the Hub unreachable keeps the user");
    await s2.close();
    t.equal(hub.requests.filter((r) => r.path === "/api/whoami-v2").length, 1, "whoami was asked once");
  });
  await withEnv({ HF_TOKEN: undefined, HF_TOKEN_PATH: join(tmp, "no-token"), HF_ENDPOINT: hub.url, SPACE_ID: undefined }, async () => {
    const s3 = await launch(graph, { port: 0, quiet: true, store: new MemoryStore() });
    t.equal(s3.user, "local", "no token: the user is 'local'");
    await s3.close();
  });
});

t.test("users on a Space: HF sign-in, own sheets only, the visitor's own token for remote calls", async (t) => {
  const hub = await startFakeHub([ALICE, BOB]);
  t.teardown(() => hub.close());
  const { graph, fake, joins } = await echoApp();
  t.teardown(() => fake.close());
  const store = new MemoryStore();
  hub.oauthClient.redirectUris = ["https://me-app.hf.space/login/callback"];
  const env = {
    SPACE_ID: "me/app", SPACE_HOST: "me-app.hf.space", HF_TOKEN: OWNER_TOKEN, HF_ENDPOINT: hub.url,
    OAUTH_CLIENT_ID: hub.oauthClient.id, OAUTH_CLIENT_SECRET: hub.oauthClient.secret, OAUTH_SCOPES: "openid profile inference-api", OPENID_PROVIDER_URL: hub.url,
  };
  await withEnv(env, async () => {
    const server = await launch(graph, { host: "127.0.0.1", port: 0, quiet: true, store });
    t.teardown(() => server.close());
    t.equal(server.token, undefined, "on a Space the sign-in is the gate, not a per-launch token");
    const aliceCookie = await signIn(hub, server.url, "alice");
    const bobCookie = await signIn(hub, server.url, "bob");
    t.match(aliceCookie, /^daggr_session=[\w-]{20,}$/, "the browser holds a session id, not a token");

    const a = await ws(server.url, aliceCookie);
    t.equal(a.snap.user, "alice");
    t.match((await raw(server.url, "/", { headers: { cookie: aliceCookie } })).body, /Signed in as <b>alice<\/b>/, "the page says who is signed in");
    t.match((await raw(server.url, "/")).body, /href="\/login\/huggingface"/, "and offers a sign-in to anonymous visitors");
    const created = await a.c.request({ type: "sheet-create", name: "alice's secret plans" });
    const aliceSheet = (created as { result: { id: string } }).result.id;
    await a.c.request({ type: "sheet-switch", sheetId: aliceSheet });
    const doneA = await runEcho(a.c);
    t.equal((doneA as { event: { type: string } }).event.type, "node-completed");

    const b = await ws(server.url, bobCookie, aliceSheet);
    t.equal(b.snap.user, "bob");
    t.not((b.snap as { sheet: { id: string } }).sheet.id, aliceSheet, "hello with alice's sheet id lands bob on his own sheet");
    t.notOk((b.snap as { sheets: Array<{ name: string }> }).sheets.some((s) => s.name === "alice's secret plans"), "bob's list has none of alice's sheets");
    const foreign = await b.c.request({ type: "sheet-switch", sheetId: aliceSheet });
    const unknown = await b.c.request({ type: "sheet-switch", sheetId: "s-does-not-exist" });
    const strip = (m: ServerMessage, id: string) => JSON.stringify({ ...m, re: undefined }).split(id).join("<id>");
    t.equal(strip(foreign, aliceSheet), strip(unknown, "s-does-not-exist"), "another user's sheet id answers exactly as an unknown one");
    t.match(foreign, { type: "error", code: "E_UNKNOWN_SHEET" });
    await runEcho(b.c);

    const anon = await ws(server.url);
    t.equal(anon.snap.user, "anonymous", "a visitor who has not signed in is anonymous");
    await runEcho(anon.c);
    t.same(await store.listSheets("anonymous"), [], "nothing of an anonymous visitor reaches the store");

    // An API client names itself with its own token: it is that user, and its runs use that token.
    const api = await WireClient.connect(server.url, { headers: { authorization: `Bearer ${ALICE.token}` } });
    const apiSnap = await api.request({ type: "hello", sheet: aliceSheet });
    t.match(apiSnap, { type: "snapshot", user: "alice", sheet: { id: aliceSheet } }, "a Bearer hf_ token on a Space is its account (whoami)");
    await runEcho(api);
    api.close();
    const forged = await WireClient.connect(server.url, { headers: { authorization: "Bearer hf_NotAnybodysToken123456" } });
    t.match(await forged.request({ type: "hello" }), { type: "snapshot", user: "anonymous" }, "a token the Hub refuses is nobody");
    forged.close();

    const tokens = joins();
    t.equal(tokens.length, 4, "four runs reached the app");
    const aliceToken = [...hub.oauthTokens].find(([, u]) => u === "alice")![0];
    const bobToken = [...hub.oauthTokens].find(([, u]) => u === "bob")![0];
    t.same(tokens, [`Bearer ${aliceToken}`, `Bearer ${bobToken}`, null, `Bearer ${ALICE.token}`], "alice's run used her OAuth token, bob's his, the anonymous one none, the API client its own");
    t.notOk(fake.requests.some((r) => r.authorization?.includes(OWNER_TOKEN)), "the Space owner's HF_TOKEN never left");

    const out = await raw(server.url, "/logout", { headers: { cookie: aliceCookie } });
    t.equal(out.status, 302);
    const after = await ws(server.url, aliceCookie);
    t.equal(after.snap.user, "anonymous", "after /logout the old session id is nobody");
    for (const x of [a, b, anon, after]) x.c.close();
  });
});

t.test("users on a Space with anonymous: 'refuse': the page sends visitors to sign in; the socket and API say 401", async (t) => {
  const hub = await startFakeHub([ALICE]);
  t.teardown(() => hub.close());
  const { graph, fake } = await echoApp();
  t.teardown(() => fake.close());
  hub.oauthClient.redirectUris = ["https://me-app.hf.space/login/callback"];
  const env = {
    SPACE_ID: "me/app", SPACE_HOST: "me-app.hf.space", HF_ENDPOINT: hub.url,
    OAUTH_CLIENT_ID: hub.oauthClient.id, OAUTH_CLIENT_SECRET: hub.oauthClient.secret, OAUTH_SCOPES: "openid profile", OPENID_PROVIDER_URL: hub.url,
  };
  await withEnv(env, async () => {
    const server = await launch(graph, { host: "127.0.0.1", port: 0, quiet: true, store: new MemoryStore(), anonymous: "refuse" });
    t.teardown(() => server.close());
    const page = await raw(server.url, "/");
    t.equal(page.status, 302);
    t.equal(page.headers.location, "/login/huggingface?_target_url=%2F");
    const refused = await WireClient.connect(server.url).then(() => undefined, (e: { status?: number }) => e.status);
    t.equal(refused, 401, "no socket without signing in");
    t.equal((await raw(server.url, "/api/schema")).status, 401);
    t.equal((await raw(server.url, "/favicon.ico")).status, 200, "the icon needs no login");
    const forged = await raw(server.url, "/login/callback?code=x&state=y");
    t.equal(forged.status, 302, "a callback without this browser's state starts the login again");
    t.match(String(forged.headers.location), /^\/login\/huggingface/);
    t.notOk(cookiesOf(forged).includes("daggr_session"), "and signs nobody in");
    const cookie = await signIn(hub, server.url, "alice");
    const { c, snap } = await ws(server.url, cookie);
    t.equal(snap.user, "alice");
    c.close();
    const evil = await raw(server.url, "/logout?_target_url=%2F%2F%2F%2Fevil.example%2Fx", { headers: { cookie } });
    t.match(String(evil.headers.location), /^\/(?![/\\])/, "_target_url stays on this server");
  });
});

// ── share links ──────────────────────────────────────────────────────────────

/**
 * A stand-in for Gradio's frpc 0.3, written by this test: it takes frpc's arguments,
 * logs in to the share server at `--server_addr` over a control connection, opens a
 * work listener that pipes each connection to `-i`:`-l`, and prints the public URL
 * after `start proxy success: ` as frpc does (or `login to server failed`, then exits).
 * Requests through the tunnel so reach the app from this process: a loopback peer.
 */
const FAKE_FRPC_JS = `const net = require("node:net"), fs = require("node:fs");
const args = process.argv.slice(2);
const get = (f) => args[args.indexOf(f) + 1];
if (process.env.FAKE_FRPC_LOG) fs.appendFileSync(process.env.FAKE_FRPC_LOG, JSON.stringify({ pid: process.pid, args, ca: args.includes("--tls_trusted_ca_file") ? fs.readFileSync(get("--tls_trusted_ca_file"), "utf8") : null }) + "\\n");
const addr = get("--server_addr"), at = addr.lastIndexOf(":");
const work = net.createServer((s) => {
  const up = net.connect(Number(get("-l")), get("-i"));
  s.pipe(up).pipe(s);
  up.on("error", () => s.destroy());
  s.on("error", () => up.destroy());
});
work.listen(0, "127.0.0.1", () => {
  const ctl = net.connect(Number(addr.slice(at + 1)), addr.slice(0, at));
  ctl.on("error", (e) => { console.log("[W] [service.go:101] login to server failed: " + e.message); process.exit(1); });
  ctl.once("data", (d) => console.log("[I] [proxy_manager.go:144] [" + get("-n").slice(0, 8) + "] start proxy success: " + d.toString().trim().slice(3)));
  ctl.on("close", () => process.exit(0));
  ctl.write("LOGIN " + get("-n") + " " + work.address().port + "\\n");
});
process.on("SIGTERM", () => process.exit(0));
`;
writeFileSync(join(tmp, "fake-frpc.cjs"), FAKE_FRPC_JS);
/** The "binary": a shell script, so no test runner's loader hooks (NODE_OPTIONS) reach the fake. */
const FAKE_FRPC = `#!/bin/sh\nunset NODE_OPTIONS\nexec "${process.execPath}" "${join(tmp, "fake-frpc.cjs")}" "$@"\n`;

/**
 * A share server: \`GET /v3/tunnel-request\` as api.gradio.app answers it, and an frps on
 * one port: a control line \`LOGIN <token> <workPort>\` registers a tunnel under a random
 * subdomain of share.test; any other connection is a public HTTP request, routed by its
 * Host to that tunnel with \`X-Forwarded-For\` added, as frp's vhost proxy does.
 */
async function startShareServer() {
  const net = await import("node:net");
  const { createServer } = await import("node:http");
  const tunnels = new Map<string, number>();
  const logins: string[] = [];
  const gone = new EventEmitter();
  const frps = net.createServer((s) => {
    s.on("error", () => undefined);
    let head = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      head = Buffer.concat([head, d]);
      if (head.toString().startsWith("LOGIN ")) {
        const line = head.toString();
        if (!line.includes("\n")) return;
        s.off("data", onData);
        const [, token, port] = line.trim().split(" ");
        const sub = Math.random().toString(36).slice(2, 10);
        tunnels.set(sub, Number(port));
        logins.push(token!);
        s.write(`OK http://${sub}.share.test:${(frps.address() as AddressInfo).port}\n`);
        s.on("close", () => (tunnels.delete(sub), gone.emit("closed", sub)));
        return;
      }
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      s.off("data", onData);
      const text = head.subarray(0, end).toString();
      const host = /\r\nhost:\s*([^\r\n]+)/i.exec(text)?.[1] ?? "";
      const port = tunnels.get(host.split(".")[0]!);
      if (!port) return void s.end("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      const firstLine = text.indexOf("\r\n");
      const rewritten = Buffer.concat([Buffer.from(`${text.slice(0, firstLine)}\r\nX-Forwarded-For: ${s.remoteAddress}\r\nX-Forwarded-Proto: http${text.slice(firstLine)}`), head.subarray(end)]);
      const up = net.connect(port, "127.0.0.1", () => up.write(rewritten));
      up.pipe(s);
      s.pipe(up);
      up.on("error", () => s.destroy());
    };
    s.on("data", onData);
  });
  await new Promise<void>((r) => frps.listen(0, "127.0.0.1", r));
  const frpsPort = (frps.address() as AddressInfo).port;
  const api = createServer((req, res) => {
    if (req.url !== "/v3/tunnel-request") return void res.writeHead(404).end();
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(JSON.stringify([{ host: "127.0.0.1", port: frpsPort, root_ca: "-----BEGIN CERTIFICATE-----\nFAKE ROOT\n-----END CERTIFICATE-----\n" }]));
  });
  await new Promise<void>((r) => api.listen(0, "127.0.0.1", r));
  return {
    address: `127.0.0.1:${frpsPort}`,
    api: `http://127.0.0.1:${(api.address() as AddressInfo).port}/v3/tunnel-request`,
    tunnels,
    logins,
    /** Resolves when the tunnel of `sub` closes (frpc went away). */
    closed: (sub: string) => new Promise<void>((r) => (tunnels.has(sub) ? gone.on("closed", (s: string) => s === sub && r()) : r())),
    /** A request to the public side, by the share link's host. */
    get: (link: string, path: string, headers: Record<string, string> = {}) => raw(`http://127.0.0.1:${frpsPort}`, path, { headers: { host: new URL(link).host, connection: "close", ...headers } }),
    close: () => Promise.all([new Promise((r) => frps.close(r)), new Promise((r) => api.close(r))]),
  };
}

/** A fake CDN serving the fake frpc under Gradio's file names. */
async function startCdn(body: string) {
  const { createServer } = await import("node:http");
  let hits = 0;
  const server = createServer((req, res) => {
    hits++;
    if (req.url === "/frpc_plan9_amd64") return void res.writeHead(403).end("Forbidden");
    res.writeHead(200, { "Content-Type": "application/octet-stream" });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits: () => hits, close: () => new Promise((r) => server.close(r)) };
}


t.test("frpc is fetched once into <HF_HOME>/gradio/frpc/frpc_<os>_<arch>_v0.3 and checked against the pinned sha256", async (t) => {
  t.equal(FRPC_CHECKSUMS.frpc_linux_amd64, "c791d1f047b41ff5885772fc4bf20b797c6059bbd82abb9e31de15e55d6a57c4", "Gradio's pin for linux amd64");
  t.equal(frpcFileName("linux", "x64"), "frpc_linux_amd64");
  t.equal(frpcFileName("darwin", "arm64"), "frpc_darwin_arm64");
  t.equal(frpcFileName("win32", "x64"), "frpc_windows_amd64.exe");
  t.equal(frpcPath({ HF_HOME: "/h" }, "frpc_linux_amd64"), "/h/gradio/frpc/frpc_linux_amd64_v0.3", "Gradio's own cache path");
  const cdn = await startCdn(FAKE_FRPC);
  t.teardown(() => cdn.close());
  const home = mkdtempSync(join(tmp, "hf-"));
  const o = { env: { HF_HOME: home }, baseUrl: cdn.url, name: "frpc_linux_amd64", checksums: { frpc_linux_amd64: sha(FAKE_FRPC) } };
  const path = await ensureFrpc(o);
  t.equal(path, join(home, "gradio", "frpc", "frpc_linux_amd64_v0.3"));
  t.ok(statSync(path).mode & 0o100, "executable");
  t.equal(await ensureFrpc(o), path);
  t.equal(cdn.hits(), 1, "downloaded once, reused after");

  const other = mkdtempSync(join(tmp, "hf-"));
  const bad = await ensureFrpc({ ...o, env: { HF_HOME: other }, checksums: { frpc_linux_amd64: "0".repeat(64) } }).catch((e) => e);
  t.match(bad, { code: "E_SHARE_FAILED", message: /does not match the sha256 Gradio pins/ });
  t.notOk(existsSync(frpcPath({ HF_HOME: other }, "frpc_linux_amd64")), "a binary that does not match is not kept");
  writeFileSync(path, FAKE_FRPC + "// tampered\n");
  t.match(await ensureFrpc(o).catch((e) => e), { code: "E_SHARE_FAILED", message: /Delete it to download it again/ }, "a cached copy that differs is never run");
  t.match(await ensureFrpc({ ...o, env: { HF_HOME: other }, name: "frpc_plan9_amd64" }).catch((e) => e), { code: "E_SHARE_FAILED", message: /no frpc build for this platform/ });
  t.equal(await ensureFrpc({ env: { DAGGR_FRPC: process.execPath } }), process.execPath, "DAGGR_FRPC names the binary to run");
  t.match(await ensureFrpc({ env: { DAGGR_FRPC: join(tmp, "nope") } }).catch((e) => e), { code: "E_SHARE_FAILED", message: /not an executable file/ });
});

t.test("openShare asks the share server for a tunnel and runs frpc with Gradio's arguments", async (t) => {
  const share = await startShareServer();
  t.teardown(() => share.close());
  const cdn = await startCdn(FAKE_FRPC);
  t.teardown(() => cdn.close());
  const log = join(tmp, "frpc-args.jsonl");
  const env = { HF_HOME: mkdtempSync(join(tmp, "hf-")), FAKE_FRPC_LOG: log, PATH: process.env.PATH };
  const s = await openShare({ host: "127.0.0.1", port: 4321, env, api: share.api, frpc: { baseUrl: cdn.url, name: "frpc_linux_amd64", checksums: { frpc_linux_amd64: sha(FAKE_FRPC) } } });
  t.match(s.url, /^https:\/\/[a-z0-9]+\.share\.test:\d+$/, "the link frpc printed, https on Gradio's share servers");
  const [{ args, ca }] = readFileSync(log, "utf8").trim().split("\n").map((l) => JSON.parse(l));
  t.same(args.slice(0, 2), ["http", "-n"]);
  t.match(args[2], /^[\w-]{43}$/, "a fresh share token (32 random bytes, url-safe)");
  t.same(args.slice(3, 16), ["-l", "4321", "-i", "127.0.0.1", "--uc", "--sd", "random", "--ue", "--server_addr", share.address, "--disable_log_color", "--tls_enable", "--tls_trusted_ca_file"]);
  t.match(ca, /FAKE ROOT/, "the share server's root_ca, written to the file frpc trusts");
  t.same(share.logins, [args[2]]);
  const sub = s.host.split(".")[0]!;
  s.close();
  await share.closed(sub);
  t.notOk(share.tunnels.has(sub), "close() stops frpc: the tunnel is gone");
});

t.test("launch({ share: true }): link printed and returned; through the tunnel the secret is required (link, then cookie); tunnel closed on stop", async (t) => {
  const share = await startShareServer();
  t.teardown(() => share.close());
  const frpc = join(tmp, "frpc-chosen");
  writeFileSync(frpc, FAKE_FRPC, { mode: 0o755 });
  const graph = new Graph({ name: "shared app", persistKey: false, nodes: [new FnNode(({ x }) => x, { name: "id", inputs: { x: gr.Textbox({ value: "a" }) }, outputs: { y: gr.Textbox() } })] });
  await withEnv({ GRADIO_SHARE_SERVER_ADDRESS: share.address, DAGGR_FRPC: frpc, SPACE_ID: undefined, DAGGR_TOKEN: undefined }, async () => {
    t.throws(() => resolveOptions({ share: true, token: false }), /share: true needs the access token/);
    // The log goes to stderr: read what it wrote.
    const printed: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string | Uint8Array) => (printed.push(String(chunk)), true)) as typeof process.stderr.write;
    let server;
    try {
      server = await launch(graph, { port: 0, share: true, store: new MemoryStore() });
    } finally {
      process.stderr.write = write;
    }
    t.teardown(() => server.close());
    const link = server.shareUrl!;
    t.match(link, /^http:\/\/[a-z0-9]+\.share\.test:\d+\/\?token=[\w-]+$/, "http on your own share server, with the token");
    t.ok(printed.some((l) => l.includes(link)), "the link is printed");
    t.ok(server.token, "share mode requires the token even on loopback");

    t.equal((await share.get(link, "/")).status, 401, "through the tunnel, no token: refused");
    t.equal((await share.get(link, "/api/schema")).status, 401);
    t.equal((await share.get(link, "/api/schema", { "x-forwarded-for": "127.0.0.1" })).status, 401, "a forwarded loopback address is no exemption");
    t.equal((await raw(server.url, "/api/schema")).status, 401, "nor is a direct loopback request, in share mode");
    const ws = await WireClient.connect(`http://127.0.0.1:${new URL(link).port}`, { headers: { host: new URL(link).host } }).then(() => 0, (e: { status?: number }) => e.status);
    t.equal(ws, 401, "the socket through the tunnel needs it too");

    const enter = await share.get(link, `/?token=${server.token}`);
    t.equal(enter.status, 302, "the link's token is traded for a cookie");
    const cookie = cookiesOf(enter);
    t.equal((await share.get(link, "/", { cookie })).status, 200, "then the page opens");
    const c = await WireClient.connect(`http://127.0.0.1:${new URL(link).port}`, { headers: { host: new URL(link).host, cookie } });
    const snap = await c.request({ type: "hello" });
    t.equal(snap.type, "snapshot", "and the canvas connects through the tunnel");
    c.close();

    const sub = new URL(link).hostname.split(".")[0]!;
    await server.close();
    await share.closed(sub);
    t.notOk(share.tunnels.has(sub), "stopping the server closes the tunnel");
  });
  await withEnv({ GRADIO_SHARE_SERVER_ADDRESS: "127.0.0.1:1", DAGGR_FRPC: frpc }, async () => {
    const e = await launch(graph, { port: 0, share: true, quiet: true, store: new MemoryStore() }).catch((x) => x);
    t.match(e, { code: "E_SHARE_FAILED", message: /login to server failed/ }, "a share server that cannot be reached fails the launch with frpc's log");
  });
});

t.test("daggr dev --share: one public link for the whole session, across reloads; the tunnel closes with the command", async (t) => {
  const share = await startShareServer();
  t.teardown(() => share.close());
  const frpc = join(tmp, "frpc-dev");
  writeFileSync(frpc, FAKE_FRPC, { mode: 0o755 });
  const dir = mkdtempSync(join(tmp, "dev-"));
  const lib = JSON.stringify(join(process.cwd(), "lib/index.ts"));
  const app = (v: string) => `import { FnNode, Graph, gr } from ${lib};\nexport default new Graph({ name: "dev share", nodes: [new FnNode(({ x }) => x + ${JSON.stringify(v)}, { name: "f", inputs: { x: gr.Textbox({ value: "a" }) }, outputs: { y: gr.Textbox() } })] });\n`;
  writeFileSync(join(dir, "app.ts"), app("1"));
  const env: NodeJS.ProcessEnv = { ...process.env, DAGGR_HOME: join(dir, "home"), GRADIO_SHARE_SERVER_ADDRESS: share.address, DAGGR_FRPC: frpc, GRADIO_SERVER_PORT: "0" };
  delete env.SPACE_ID;
  delete env.DAGGR_TOKEN;
  const proc = spawn(process.execPath, ["--import", import.meta.resolve("tsx"), join(process.cwd(), "lib/cli/index.ts"), "dev", "app.ts", "--share"], { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"] });
  t.teardown(() => void (proc.exitCode === null && proc.kill("SIGKILL")));
  let out = "";
  const seen = new EventEmitter();
  for (const s of [proc.stdout!, proc.stderr!]) s.on("data", (d) => ((out += d), seen.emit("data")));
  const waitFor = (re: RegExp, from = 0) =>
    new Promise<RegExpMatchArray>((ok, fail) => {
      const check = () => {
        const m = out.slice(from).match(re);
        if (m) return (seen.off("data", check), proc.off("exit", check), ok(m));
        if (proc.exitCode !== null) return (seen.off("data", check), fail(new Error(`exited without ${re}:\n${out}`)));
      };
      seen.on("data", check);
      proc.on("exit", check);
      check();
    });
  const link = (await waitFor(/public link[^:]*: (https?:\/\/[^\s"]+)/))[1]!;
  await waitFor(/serving app\.ts/);
  const token = new URL(link).searchParams.get("token")!;
  t.equal((await share.get(link, "/api/schema")).status, 401, "the token is required through the tunnel");
  const cookie = cookiesOf(await share.get(link, `/?token=${token}`));
  t.equal((await share.get(link, "/api/schema", { cookie })).status, 200, "the link opens the app");
  const mark = out.length;
  writeFileSync(join(dir, "app.ts"), app("2"));
  await waitFor(/reloaded/, mark);
  t.equal((await share.get(link, "/api/schema", { cookie })).status, 200, "after a reload, the same link and cookie still work");
  t.equal(share.tunnels.size, 1, "one tunnel for the session");
  const sub = new URL(link).hostname.split(".")[0]!;
  proc.kill("SIGINT");
  await share.closed(sub);
  t.equal(share.tunnels.size, 0, "the tunnel closes with the command");
});

// ── daggr deploy ─────────────────────────────────────────────────────────────

/** A project as `daggr init` makes it, with a local import, a lockfile and a .env that must stay home. */
function project(): string {
  const dir = mkdtempSync(join(tmp, "proj-"));
  mkdirSync(join(dir, "lib"));
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "wf", type: "module", dependencies: { daggr: "^0.1.0" } }, null, 2));
  writeFileSync(join(dir, "package-lock.json"), JSON.stringify({ name: "wf", lockfileVersion: 3, packages: {} }));
  writeFileSync(join(dir, "tsconfig.json"), "{}\n");
  writeFileSync(join(dir, ".env"), "OPENAI_KEY=sk-never-upload-me\n");
  writeFileSync(join(dir, "notes.txt"), "not imported by the app\n");
  writeFileSync(join(dir, "lib", "helper.ts"), `export const suffix = "!";\n`);
  writeFileSync(
    join(dir, "app.ts"),
    `import { FnNode, Graph, gr } from "daggr";\nimport { suffix } from "./lib/helper.js";\n` +
      `export default new Graph({ name: "deployed wf", nodes: [new FnNode(({ x }) => x + suffix, { name: "f", inputs: { x: gr.Textbox({ value: "a" }) }, outputs: { y: gr.Textbox() } })] });\n`,
  );
  return dir;
}

t.test("daggr deploy --dry-run lists the files and the front matter and uploads nothing", async (t) => {
  const hub = await startFakeHub([ALICE]);
  t.teardown(() => hub.close());
  const dir = project();
  const lines: string[] = [];
  const plan = await deploy({ app: join(dir, "app.ts"), space: "alice/wf", secrets: ["OPENAI_KEY"], hardware: "t4-small", dryRun: true }, { HF_TOKEN: ALICE.token, HF_ENDPOINT: hub.url, OPENAI_KEY: "sk-x" }, (l) => lines.push(l));
  t.same(plan.files.map((f) => f.path), ["app.ts", "lib/helper.ts", "package-lock.json", "package.json", "tsconfig.json", "Dockerfile", "README.md"], "the app, its local imports, package.json, lockfile, tsconfig, Dockerfile, README");
  const text = describePlan(plan);
  t.match(text, /sdk: docker\n\s+app_port: 7860\n\s+hf_oauth: true/);
  t.match(text, /Secrets .*: OPENAI_KEY/);
  t.notMatch(text, /sk-x/, "a secret's value is never printed");
  t.equal(hub.requests.length, 0, "nothing reached the Hub");
  const cli = spawn(process.execPath, ["--import", import.meta.resolve("tsx"), join(process.cwd(), "lib/cli/index.ts"), "deploy", "app.ts", "--space", "alice/wf", "--secret", "OPENAI_KEY", "--hardware", "t4-small", "--dry-run"], {
    cwd: dir, env: { ...process.env, HF_TOKEN: ALICE.token, HF_ENDPOINT: hub.url, OPENAI_KEY: "sk-x" }, stdio: ["ignore", "pipe", "pipe"],
  });
  let cliOut = "";
  cli.stdout!.on("data", (d) => (cliOut += d));
  cli.stderr!.on("data", (d) => (cliOut += d));
  t.equal(await new Promise((r) => cli.on("exit", r)), 0, cliOut);
  t.match(cliOut, /Space alice\/wf on t4-small\nFiles:\n  app\.ts \(\d+ bytes\)[\s\S]*sdk: docker/, "daggr deploy --dry-run prints the plan");
  t.equal(hub.requests.length, 0, "and the command reached nothing either");
  t.match(await deploy({ app: join(dir, "app.ts"), space: "alice/wf", hardware: "t4-smal", dryRun: true }, {}).catch((e) => e), { code: "E_BAD_OPTION", details: { nearest: "t4-small" } });
  t.match(await deploy({ app: join(dir, "app.ts"), space: "alice/wf", secrets: ["NOT_SET_ANYWHERE"], dryRun: true }, {}).catch((e) => e), { code: "E_DEPLOY_FAILED", details: { missing: ["NOT_SET_ANYWHERE"] } });
  t.match(await deploy({ app: join(dir, "nope.ts"), space: "alice/wf", dryRun: true }, {}).catch((e) => e), { code: "E_DEPLOY_FAILED", message: /No such app file/ });
  const fromClone = project();
  writeFileSync(join(fromClone, "package.json"), JSON.stringify({ name: "wf", type: "module", dependencies: { daggr: "file:/home/me/daggr" } }));
  t.match(await deploy({ app: join(fromClone, "app.ts"), space: "alice/wf", dryRun: true }, {}).catch((e) => e), { code: "E_DEPLOY_FAILED", message: /daggr \(file:\/home\/me\/daggr\): a dependency on a local path cannot be installed on the Space/ }, "a project made from a clone (daggr: file:…) is told before anything is uploaded");
  t.match(await deploy({ app: join(dir, "app.ts"), space: "alice-wf", dryRun: true }, {}).catch((e) => e), { code: "E_DEPLOY_FAILED", message: /owner\/name/ });
});

t.test("daggr deploy creates the Docker Space, commits the files, sets secrets and hardware; the image's entry point runs as a Space starts it", async (t) => {
  const hub = await startFakeHub([ALICE, BOB]);
  t.teardown(() => hub.close());
  const dir = project();
  const env = { HF_TOKEN: ALICE.token, HF_ENDPOINT: hub.url, OPENAI_KEY: "sk-secret-value-123" };
  const lines: string[] = [];
  const done = await deploy({ app: join(dir, "app.ts"), space: "alice/wf", private: true, hardware: "t4-small", secrets: ["OPENAI_KEY"] }, env, (l) => lines.push(l));
  t.equal(done.url, `${hub.url}/spaces/alice/wf`);
  const space = hub.spaces.get("alice/wf")!;
  t.match(space, { sdk: "docker", private: true, hardware: "t4-small" });
  t.same([...space.files.keys()].sort(), ["Dockerfile", "README.md", "app.ts", "lib/helper.ts", "package-lock.json", "package.json", "tsconfig.json"]);
  t.same(Object.fromEntries(space.secrets), { OPENAI_KEY: "sk-secret-value-123" }, "the secret is a Space secret");
  t.notOk([...space.files.values()].some((b) => b.includes("sk-secret-value-123") || b.includes("sk-never-upload-me")), "no file holds a secret (.env stays home)");
  const front = parseYaml(space.files.get("README.md")!.toString().split("---")[1]!) as Record<string, unknown>;
  t.match(front, { sdk: "docker", app_port: 7860, hf_oauth: true });
  const docker = space.files.get("Dockerfile")!.toString();
  t.match(docker, /^FROM node:20/m, "Node 20");
  t.match(docker, /RUN npm ci/, "installs from the lockfile");

  const again = await deploy({ app: join(dir, "app.ts"), space: "alice/wf" }, env, (l) => lines.push(l));
  t.equal(again.url, done.url);
  t.equal(space.commits.length, 2, "a second deploy updates the same Space");
  t.ok(lines.some((l) => /updating Space alice\/wf/.test(l)));
  t.match(await deploy({ app: join(dir, "app.ts"), space: "bob/wf" }, env, () => {}).catch((e) => e), { code: "E_DEPLOY_FAILED", details: { status: 403 } }, "the Hub's refusal is named");
  t.match(await deploy({ app: join(dir, "app.ts"), space: "alice/wf" }, { HF_ENDPOINT: hub.url, HF_TOKEN_PATH: join(tmp, "none") }, () => {}).catch((e) => e), { code: "E_DEPLOY_FAILED", message: /No Hugging Face token/ });

  // The image, without Docker: the committed files in WORKDIR, the packages installed, then CMD with the Space's environment.
  const app = mkdtempSync(join(tmp, "image-"));
  for (const [p, bytes] of space.files) {
    mkdirSync(dirname(join(app, p)), { recursive: true });
    writeFileSync(join(app, p), bytes);
  }
  mkdirSync(join(app, "node_modules", "daggr"), { recursive: true });
  writeFileSync(join(app, "node_modules", "daggr", "package.json"), JSON.stringify({ name: "daggr", type: "module", exports: { ".": "./index.ts" }, bin: { daggr: "cli.sh" } }));
  writeFileSync(join(app, "node_modules", "daggr", "index.ts"), `export * from ${JSON.stringify(join(process.cwd(), "lib/index.ts"))};\n`);
  mkdirSync(join(app, "node_modules", ".bin"));
  writeFileSync(join(app, "node_modules", ".bin", "daggr"), `#!/bin/sh\nexec "${process.execPath}" --import ${import.meta.resolve("tsx")} ${join(process.cwd(), "lib/cli/index.ts")} "$@"\n`, { mode: 0o755 });
  const imageEnv: Record<string, string> = {};
  for (const m of docker.matchAll(/^ENV (.+)$/gm)) for (const kv of m[1]!.split(/\s+/)) imageEnv[kv.slice(0, kv.indexOf("="))] = kv.slice(kv.indexOf("=") + 1);
  const cmd = JSON.parse(/^CMD (.+)$/m.exec(docker)![1]!) as string[];
  t.same(cmd, ["./node_modules/.bin/daggr", "run", "app.ts"]);
  t.equal(imageEnv.GRADIO_SERVER_NAME, "0.0.0.0");
  t.equal(imageEnv.GRADIO_SERVER_PORT, "7860");
  const data = mkdtempSync(join(tmp, "data-"));
  const port = String(await freePort("0.0.0.0"));
  const proc = spawn(cmd[0]!, cmd.slice(1), {
    cwd: app,
    // 7860 may be taken on this machine: the test moves the port, as GRADIO_SERVER_PORT lets it.
    env: { PATH: process.env.PATH, ...imageEnv, HOME: app, SPACE_ID: "alice/wf", SPACE_HOST: "alice-wf.hf.space", SYSTEM: "spaces", DAGGR_SPACE_DATA: data, GRADIO_SERVER_PORT: port, npm_config_cache: join(app, ".npm"), npm_config_offline: "true" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  t.teardown(() => void (proc.exitCode === null && proc.kill("SIGKILL")));
  let out = "";
  const seen = new EventEmitter();
  for (const s of [proc.stdout!, proc.stderr!]) s.on("data", (d) => ((out += d), seen.emit("data")));
  await new Promise<void>((ok, fail) => {
    const check = () => (/serving \\?"deployed wf[\s\S]*anonymous visitors/.test(out) ? ok() : proc.exitCode !== null ? fail(new Error(out)) : undefined);
    seen.on("data", check);
    proc.on("exit", check);
  });
  t.match(out, new RegExp(`keeping sheets and results in ${data}/daggr`), "state goes to the Space's persistent storage");
  t.match(out, /Hugging Face sign-in is off \(add hf_oauth: true/, "no OAuth variables here: it says so");
  const page = await raw(`http://127.0.0.1:${port}`, "/", { headers: { host: "alice-wf.hf.space" } });
  t.equal(page.status, 200, "the Space's host is served, on all interfaces, without a token");
  t.equal((await raw(`http://127.0.0.1:${port}`, "/", { headers: { host: "evil.example" } })).status, 403, "other hosts are not");
  t.ok(existsSync(join(data, "daggr")), "the database is under /data");
  proc.kill("SIGTERM");
  await new Promise((r) => proc.once("exit", r));
  t.match(spaceHome({ SPACE_ID: "a/b" }, join(tmp, "no-such-data")), /no persistent storage/, "without /data the Space says it is ephemeral");
  t.equal(spaceHome({}), undefined, "off a Space nothing changes");
  t.match(resolveOptions({}, { SPACE_ID: "a/b" }), { host: "0.0.0.0", port: 7860, token: undefined, space: true }, "on a Space: 0.0.0.0:7860, no token");
});

/**
 * Two visitors' accounts on a fake Hub, and a graph of one GradioNode whose app holds
 * every job until `release()`: so two visitors' jobs are both waiting at once.
 */
async function gatedEcho(t: Tap, name: string) {
  const hub = await startFakeHub([ALICE, BOB]);
  t.teardown(() => hub.close());
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const fake = await startFakeGradio({ endpoints: [{ name: "/predict", parameters: [{ name: "text" }], returns: [{}], fn: async (job) => (await gate, [`echo ${job.args.text}`]) }] });
  t.teardown(() => fake.close());
  const graph = new Graph({ name, persistKey: false, nodes: [new GradioNode(fake.url, { name: "echo", apiName: "/predict", inputs: { text: gr.Textbox({ value: "hi" }) }, outputs: { out: gr.Textbox() } })] });
  return { hub, fake, release, graph };
}

t.test("on a Space, jobs through the Gradio-compatible API run with their own visitor's token, even when one starts at another's end", async (t) => {
  const { hub, fake, release, graph } = await gatedEcho(t, "gapi");
  await withEnv({ SPACE_ID: "me/app", HF_TOKEN: OWNER_TOKEN, HF_ENDPOINT: hub.url }, async () => {
    const server = await launch(graph, { host: "127.0.0.1", port: 0, quiet: true, store: new MemoryStore() });
    t.teardown(() => server.close());
    const { Client } = await import("@gradio/client");
    const info = (await (await fetch(`${server.url}/gradio_api/info`)).json()) as { named_endpoints: Record<string, unknown> };
    const [endpoint] = Object.keys(info.named_endpoints);
    const alice = await Client.connect(server.url, { token: ALICE.token as `hf_${string}` });
    const bob = await Client.connect(server.url, { token: BOB.token as `hf_${string}` });
    const calls = [alice.predict(endpoint!, ["from alice"]), bob.predict(endpoint!, ["from bob"])];
    // Both are queued (one lane, one at a time) before the first can finish.
    while (fake.stats.joined < 1) await new Promise((r) => setImmediate(r));
    release();
    await Promise.all(calls);
    const byText = Object.fromEntries(fake.requests.filter((r) => r.path.endsWith("/queue/join")).map((r) => [JSON.stringify((r.body as { data?: unknown[] })?.data?.[0]), r.authorization]));
    t.same(byText, { '"from alice"': `Bearer ${ALICE.token}`, '"from bob"': `Bearer ${BOB.token}` }, "each job used its own caller's token");
    t.notOk(fake.requests.some((r) => r.authorization?.includes(OWNER_TOKEN)), "never the owner's");
  });
});

t.test("on a Space, two visitors' runs waiting on one remote-concurrency slot each keep their own token", async (t) => {
  const { hub, fake, release, graph } = await gatedEcho(t, "slot");
  await withEnv({ SPACE_ID: "me/app", HF_TOKEN: OWNER_TOKEN, HF_ENDPOINT: hub.url }, async () => {
    const server = await launch(graph, { host: "127.0.0.1", port: 0, quiet: true, store: new MemoryStore(), remoteConcurrency: 1 });
    t.teardown(() => server.close());
    const a = await WireClient.connect(server.url, { headers: { authorization: `Bearer ${ALICE.token}` } });
    const b = await WireClient.connect(server.url, { headers: { authorization: `Bearer ${BOB.token}` } });
    await a.request({ type: "hello" });
    await b.request({ type: "hello" });
    const doneA = runEcho(a);
    while (fake.stats.joined < 1) await new Promise((r) => setImmediate(r));
    // Bob's run is queued behind alice's on the app's one slot, and starts when hers ends.
    const doneB = runEcho(b);
    await b.next((m) => m.type === "event" && m.event.type === "node-queued");
    release();
    await Promise.all([doneA, doneB]);
    t.same(fake.requests.filter((r) => r.path.endsWith("/queue/join")).map((r) => r.authorization), [`Bearer ${ALICE.token}`, `Bearer ${BOB.token}`], "each run used its own visitor's token");
    a.close();
    b.close();
  });
});

/**
 * Hosting: who the user is (the token's Hugging Face account locally; each signed-in
 * visitor on a Space), public share links through a share server, and `daggr deploy`
 * to a Space. Against a fake Hub with an OAuth provider (fixtures/fake-hub.ts), a fake
 * share server and a fake `frpc` written by this test.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { Graph, GradioNode, gr } from "../lib/index.js";
import type { ServerMessage } from "../lib/protocol.js";
import { launch } from "../lib/server/index.js";
import { MemoryStore } from "../lib/store/memory.js";
import { type FakeHub, startFakeHub } from "./fixtures/fake-hub.js";
import { startFakeGradio } from "./fixtures/fake-gradio.js";
import { WireClient, raw } from "./fixtures/server-wire.js";

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
  const done = c.next((m) => m.type === "event" && (m.event.type === "node-completed" || m.event.type === "node-failed") && m.event.nodeId === "echo", 20_000);
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

    const tokens = joins();
    t.equal(tokens.length, 3, "three runs reached the app");
    const aliceToken = [...hub.oauthTokens].find(([, u]) => u === "alice")![0];
    const bobToken = [...hub.oauthTokens].find(([, u]) => u === "bob")![0];
    t.same(tokens, [`Bearer ${aliceToken}`, `Bearer ${bobToken}`, null], "alice's run used her OAuth token, bob's his, the anonymous one none");
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

import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { FnNode, Graph, InputNode, MemoryStore, branch, firstOf, gr } from "../lib/index.js";
import { MESSAGE_SCHEMAS, MESSAGE_TYPES } from "../lib/protocol-schema.js";
import type { ClientMessage, ClientMessageType, EventMessage, EventWire, FileRef, ServerMessage, SnapshotMessage } from "../lib/protocol.js";
import { launch, type ServerOptions } from "../lib/server/index.js";
import { EVENTS_MESSAGE_BYTES, Hub, type Outgoing, mergeFreshness } from "../lib/server/hub.js";
import { Wire } from "../lib/server/wire.js";
import { freePort, resolveOptions } from "../lib/server/options.js";
import { WireClient, raw } from "./fixtures/server-wire.js";

const HF_SECRET = "hf_ServerTestSecretToken1234567890";
process.env.HF_TOKEN = HF_SECRET;

const tmp = mkdtempSync(join(tmpdir(), "daggr-server-test-"));
const latches = new Map<string, () => void>();
/** A promise a slow node waits on; `release(name)` lets it finish. */
const latch = (name: string) => new Promise<void>((r) => latches.set(name, r));
const release = (name: string) => latches.get(name)?.();

/**
 * text → upper → exclaim, plus a slow node, a file producer, a secret leaker and a failing node.
 * `autorun: false` turns off the recomputes of upper, exclaim and size (the first tab's
 * compute among them), for tests that count what one explicit run does.
 */
function app(o: { autorun?: false } = {}) {
  const upper = new FnNode(({ text }) => text.toUpperCase(), { name: "upper", ...o, inputs: { text: gr.Textbox({ label: "Text", value: "hi" }) }, outputs: { upper: gr.Textbox() } });
  const exclaim = new FnNode(({ v }) => `${v}!`, { name: "exclaim", ...o, inputs: { v: upper.out.upper }, outputs: { out: gr.Textbox() } });
  const slow = new FnNode(async ({ n }) => (await latch("slow"), n * 2), { name: "slow", concurrent: true, autorun: false, inputs: { n: gr.Number({ value: 21 }) }, outputs: { double: gr.Number() } });
  const page = new FnNode(
    ({ text }) => {
      const file = join(tmp, `out-${text}.html`);
      writeFileSync(file, `<script>alert(1)</script>${text}`);
      return file;
    },
    { name: "page", autorun: false, inputs: { text: gr.Textbox({ value: "x" }) }, outputs: { html: gr.File() } },
  );
  const size = new FnNode(async ({ img }) => (img ? (await import("node:fs")).statSync(img).size : -1), { name: "size", ...o, inputs: { img: gr.Image() }, outputs: { bytes: gr.Number() } });
  const leak = new FnNode(
    ({ mode }) => {
      if (mode === "throw") throw new Error(`bad token ${process.env.HF_TOKEN}`);
      return `token=${process.env.HF_TOKEN}`;
    },
    { name: "leak", autorun: false, inputs: { mode: gr.Textbox({ value: "return" }) }, outputs: { text: gr.Textbox() } },
  );
  return new Graph({ name: "Server test", nodes: [exclaim, slow, page, size, leak], persistKey: false });
}

async function serve(t: { teardown(fn: () => unknown): void }, graph = app(), options: ServerOptions = {}) {
  const store = new MemoryStore();
  const server = await launch(graph, { port: 0, store, quiet: true, ...options });
  t.teardown(() => server.close());
  return { server, store, url: server.url };
}

/** The HTTP status a refused WebSocket upgrade got (0 if it was accepted). */
const refused = (p: Promise<WireClient>) => p.then((c) => (c.close(), 0), (e: { status?: number }) => e.status ?? -1);

const isEvent = (type: string, nodeId?: string) => (m: ServerMessage) => m.type === "event" && m.event.type === type && (!nodeId || (m.event as { nodeId?: string }).nodeId === nodeId);

/**
 * Opens the first tab on a new sheet and waits for the run its opening starts: a fresh
 * canvas computes its autorun nodes once the edit debounce passes (150 ms, later on a
 * loaded machine), so an edit or run sent at once may come before or after that run.
 * Waiting for it makes what the test does next come after it, every time.
 */
async function openComputed(url: string) {
  const o = await WireClient.open(url);
  await o.c.next(isEvent("run-finished"), undefined, 0);
  return o;
}

// ── the wire protocol ────────────────────────────────────────────────────────

t.test("hello gets one snapshot: graph, sheet, sheets, inputs, node states, results and counts", async (t) => {
  const { url } = await serve(t);
  const { c, snap } = await WireClient.open(url);
  const s = snap as SnapshotMessage;
  t.equal(s.v, 1);
  t.equal(s.user, "local");
  t.equal(s.graph.name, "Server test");
  t.same(s.graph.nodes.map((n) => n.id).sort(), ["exclaim", "leak", "page", "size", "slow", "upper"]);
  t.ok(s.graph.edges.find((e) => e.id === "upper.upper->exclaim.v"));
  t.equal(s.sheet.name, "Sheet 1");
  t.same(s.sheets.map((x) => x.id), [s.sheet.id]);
  t.equal(s.inputs.upper__text, "hi");
  t.equal(s.nodes.upper!.freshness, "empty");
  t.same(s.results, {});
  t.equal(s.counts.upper, 0);
  t.type(s.client, "string");
  c.close();
});

t.test("set-input: every tab on the sheet gets input-changed (origin = the editing tab), then the autorun recompute", async (t) => {
  const { url } = await serve(t);
  const a = await openComputed(url);
  const b = await WireClient.open(url, a.snap.type === "snapshot" ? a.snap.sheet.id : undefined);
  const ack = await a.c.request({ type: "set-input", nodeId: "upper", port: "text", value: "yo" });
  t.same(ack, { v: 1, type: "ack", re: "q2", result: { rev: 1 } }, "acknowledged (once on disk) with the input's new revision");
  for (const c of [a.c, b.c]) {
    const changed = (await c.event("input-changed")) as EventMessage;
    t.match(changed.event, { nodeId: "upper", port: "text", value: "yo", origin: (a.snap as SnapshotMessage).client });
    const done = (await c.event("node-completed", "exclaim")) as EventMessage;
    t.match(done.event, { result: { outputs: { out: "YO!" }, inputs: {} } });
  }
  a.c.close();
  b.c.close();
});

t.test("set-input with rev: a stale edit of the same input gets E_INPUT_CONFLICT with the current value; edits to different inputs both stay", async (t) => {
  const { url } = await serve(t);
  const a = await WireClient.open(url);
  const sheet = (a.snap as SnapshotMessage).sheet.id;
  const b = await WireClient.open(url, sheet);
  const seen = (b.snap as SnapshotMessage).inputRevs?.upper__text ?? 0;
  t.equal(seen, 0, "an input never written is at revision 0");
  // Both tabs edit `upper.text` on the revision they saw: the first wins, the second is stale.
  t.same(await a.c.request({ type: "set-input", nodeId: "upper", port: "text", value: "from a", rev: seen }), { v: 1, type: "ack", re: "q2", result: { rev: 1 } });
  const stale = await b.c.request({ type: "set-input", nodeId: "upper", port: "text", value: "from b", rev: seen });
  t.match(stale, { type: "error", code: "E_INPUT_CONFLICT", details: { nodeId: "upper", port: "text", value: "from a", rev: 1, got: "0" } });
  t.match((stale as { message: string }).message, /changed elsewhere/);
  // The refused edit changed nothing, anywhere: no event, and a fresh tab sees a's value.
  t.notOk(b.c.messages.some((m) => m.type === "event" && m.event.type === "input-changed" && m.event.value === "from b"));
  const c = await WireClient.open(url, sheet);
  t.equal((c.snap as SnapshotMessage).inputs.upper__text, "from a");
  t.equal((c.snap as SnapshotMessage).inputRevs?.upper__text, 1);
  // Retried on the current revision, b's edit goes through; input-changed carries the new revision.
  t.match(await b.c.request({ type: "set-input", nodeId: "upper", port: "text", value: "from b", rev: 1 }), { type: "ack", result: { rev: 2 } });
  const echoed = await a.c.next((m) => m.type === "event" && m.event.type === "input-changed" && m.event.value === "from b", undefined, 0);
  t.match((echoed as EventMessage).event, { nodeId: "upper", port: "text", rev: 2 });
  // Different inputs, each on its own revision: both kept.
  t.match(await a.c.request({ type: "set-input", nodeId: "page", port: "text", value: "p", rev: 0 }), { type: "ack", result: { rev: 1 } });
  t.match(await b.c.request({ type: "set-input", nodeId: "slow", port: "n", value: 5, rev: 0 }), { type: "ack", result: { rev: 1 } });
  const d = await WireClient.open(url, sheet);
  t.match((d.snap as SnapshotMessage).inputs, { upper__text: "from b", page__text: "p", slow__n: 5 });
  // A conflict on a file input names the current file as a FileRef, never a local path.
  const png = "data:image/png;base64," + Buffer.from("a tiny png").toString("base64");
  t.match(await a.c.request({ type: "set-input", nodeId: "size", port: "img", value: png, rev: 0 }), { type: "ack" });
  const fileConflict = await b.c.request({ type: "set-input", nodeId: "size", port: "img", value: null, rev: 0 });
  t.match(fileConflict, { code: "E_INPUT_CONFLICT", details: { value: { $file: /^[0-9a-f]{64}$/, url: /^\/files\// }, rev: 1 } });
  t.notMatch(JSON.stringify(fileConflict), /daggr-mem-|"\/tmp\//, "no local path");
  for (const x of [a.c, b.c, c.c, d.c]) x.close();
});

t.test("run: ack with the run id, then deltas only; each result crosses the wire once", async (t) => {
  const { url } = await serve(t, app({ autorun: false }));
  const { c } = await WireClient.open(url);
  const from = c.messages.length;
  const ack = await c.request({ type: "run", nodeId: "exclaim", mode: "to-here" });
  t.match(ack, { type: "ack", result: { runId: /^r/ } });
  const runId = (ack as { result: { runId: string } }).result.runId;
  await c.next((m) => m.type === "event" && m.event.type === "run-finished" && m.event.runId === runId);
  const types = c.events(from);
  t.same(types.filter((x) => x === "node-completed").length, 2, "upper and exclaim");
  t.notOk(c.messages.slice(from).some((m) => m.type === "snapshot"), "no snapshot after hello");
  const sel = c.messages.slice(from).filter(isEvent("selection-changed")) as EventMessage[];
  t.equal(sel.length, 2);
  for (const m of sel) t.notOk("result" in m.event, "selection-changed after node-completed carries only the id");
  const iDone = types.indexOf("node-completed");
  const iSel = types.indexOf("selection-changed");
  t.ok(iDone < iSel, "node-completed (with the result) comes before selection-changed");
  c.close();
});

t.test("a burst of events goes out in a few messages: every event once, each node's in order", async (t) => {
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const src = new FnNode(({ k }) => k, { name: "src", autorun: false, inputs: { k: gr.Number({ value: 1 }) }, outputs: { v: gr.Number() } });
  const workers = Array.from({ length: 50 }, (_, i) =>
    new FnNode(async ({ v }) => (await gate, v + i), { name: `w${i}`, concurrent: true, autorun: false, inputs: { v: src.out.v }, outputs: { v: gr.Number() } }),
  );
  const join = new FnNode((xs: Record<string, number>) => Object.keys(xs).length, {
    name: "join", autorun: false, inputs: Object.fromEntries(workers.map((w, i) => [`w${i}`, w.out.v])), outputs: { n: gr.Number() },
  });
  const { url } = await serve(t, new Graph({ name: "burst", nodes: [join], persistKey: false }));
  const { c } = await WireClient.open(url);
  const from = c.messages.length;
  const frames = c.frames;
  const ack = await c.request({ type: "run", nodeId: "join", mode: "all" });
  t.equal(ack.type, "ack");
  await Promise.all(workers.map((w) => c.event("node-started", w.id, from)));
  open();
  await c.event("run-finished", undefined, from);
  const events = c.messages.slice(from).flatMap((m) => (m.type === "event" ? [m.event as { type: string; nodeId?: string }] : []));
  for (const w of [src, ...workers, join]) {
    const mine = events.filter((e) => e.nodeId === w.id && (e.type === "node-started" || e.type === "node-completed")).map((e) => e.type);
    t.same(mine, ["node-started", "node-completed"], `${w.id}: started, then completed, once each`);
  }
  t.equal(events.filter((e) => e.type === "run-finished").length, 1);
  const sent = c.frames - frames;
  t.ok(sent * 10 <= events.length, `${events.length} events came in ${sent} messages`);
  // A burst's freshness changes come as one event holding each node's and edge's last value.
  const perFrame = new Map<number, number>();
  const nodes = new Map<string, string>();
  const edges = new Map<string, boolean>();
  for (const [i, m] of c.messages.entries()) {
    if (i < from || m.type !== "event" || m.event.type !== "freshness-changed") continue;
    perFrame.set(c.frameOf[i]!, (perFrame.get(c.frameOf[i]!) ?? 0) + 1);
    for (const [id, f] of Object.entries(m.event.nodes)) nodes.set(id, f);
    for (const [id, f] of Object.entries(m.event.edges)) edges.set(id, f);
  }
  t.same([...perFrame.values()].filter((n) => n > 1), [], "no message holds two freshness changes");
  t.same([...nodes.values()].filter((f) => f !== "fresh"), [], "every node ends fresh, as the engine has it");
  t.equal(edges.size, 100, "each edge's freshness was sent");
  t.same([...edges.values()].filter((f) => !f), [], "every edge ends fresh");
});

t.test("mergeFreshness: a batch's freshness changes become one event, in the last one's place, with each node's and edge's last value", async (t) => {
  type Tab = Outgoing["to"][number];
  const [a, b] = [{ id: "a" }, { id: "b" }] as unknown as [Tab, Tab];
  const fresh = (nodes: Record<string, "fresh" | "stale">, edges: Record<string, boolean>) => ({ type: "freshness-changed" as const, sheetId: "s", nodes, edges });
  const done = { type: "run-finished" as const, sheetId: "s", runId: "r", status: "done" as const };
  const box: Outgoing[] = [
    { event: fresh({ x: "stale", y: "stale" }, {}), to: [a, b] },
    { event: done, to: [a, b] },
    { event: fresh({ x: "fresh" }, { e: true }), to: [a, b] },
    { event: fresh({ y: "fresh" }, { e: false }), to: [a, b] },
    { event: done, to: [a] },
  ];
  const merged = mergeFreshness(box);
  t.same(merged.map((o) => o.event.type), ["run-finished", "freshness-changed", "run-finished"]);
  t.same(merged[1]!.event, fresh({ x: "fresh", y: "fresh" }, { e: false }), "the last value of each");
  t.same(merged[1]!.to, [a, b]);
  t.same(box[0]!.event, fresh({ x: "stale", y: "stale" }, {}), "the events themselves are left as they were");
  const apart = [box[0]!, { ...box[2]!, to: [a] }];
  t.equal(mergeFreshness(apart), apart, "changes sent to different tabs stay apart");
  t.equal(mergeFreshness(box.slice(0, 3)).length, 2);
  const one = [box[0]!, box[1]!];
  t.equal(mergeFreshness(one), one, "a lone change is left alone");
});

t.test("the hub batches a turn's events per tab; a tab attached in that turn gets its snapshot first, then only what came after", async (t) => {
  const graph = app({ autorun: false });
  const store = new MemoryStore();
  const hub = new Hub(graph, store, new Wire(graph, store), "local");
  t.teardown(() => hub.close());
  const tab = (id: string) => {
    const frames: ServerMessage[] = [];
    let wake = () => {};
    const messages = () => frames.flatMap((m) => (m.type === "events" ? m.events.map((event) => ({ ...m, type: "event" as const, event })) : [m]));
    return {
      id,
      sheetId: undefined as string | undefined,
      frames,
      messages,
      send(text: string) {
        frames.push(JSON.parse(text) as ServerMessage);
        wake();
      },
      async until(pred: (m: ServerMessage) => boolean) {
        for (;;) {
          if (messages().some(pred)) return;
          await new Promise<void>((r) => (wake = r));
        }
      },
    };
  };
  const a = tab("a");
  await hub.attach(a, undefined);
  await a.until((m) => m.type === "snapshot");
  const session = await hub.session(a);
  const emitted: string[] = [];
  session.events.subscribe((e) => e.type === "input-changed" && emitted.push(String(e.value)));
  const b = tab("b");
  // One turn: two edits, then b attaches (its snapshot holds them), then two more edits.
  session.set("upper__text", "e1");
  session.set("upper__text", "e2");
  await hub.attach(b, session.sheet.id);
  session.set("upper__text", "e3");
  session.set("upper__text", "e4");
  await a.until((m) => m.type === "event" && m.event.type === "input-changed" && m.event.value === "e4");
  await b.until((m) => m.type === "event" && m.event.type === "input-changed" && m.event.value === "e4");
  const edits = (msgs: ServerMessage[]) => msgs.flatMap((m) => (m.type === "event" && m.event.type === "input-changed" ? [String(m.event.value)] : []));
  t.same(emitted, ["e1", "e2", "e3", "e4"]);
  t.same(edits(a.messages()), ["e1", "e2", "e3", "e4"], "a: every edit, in order");
  const editsIn = (m: ServerMessage) => (m.type === "events" ? m.events : []).flatMap((e) => (e.type === "input-changed" ? [String(e.value)] : []));
  t.same(a.frames.map(editsIn).filter((x) => x.length), [["e1", "e2"], ["e3", "e4"]], "a: the turn's edits in two messages, before b's snapshot and after it");
  const bMessages = b.messages();
  const snapshot = bMessages.findIndex((m) => m.type === "snapshot");
  t.equal(snapshot, 0, "b: the snapshot first");
  t.equal((bMessages[0] as SnapshotMessage).inputs.upper__text, "e2", "b's snapshot holds the edits made before it");
  t.same(edits(bMessages), ["e3", "e4"], "b: only the edits after its snapshot");
  // A burst bigger than a message holds is split: three edits of 0.4 MB, in two messages.
  const big = ["x", "y", "z"].map((ch) => ch.repeat(0.4 * EVENTS_MESSAGE_BYTES));
  const seen = a.frames.length;
  for (const v of big) session.set("upper__text", v);
  await a.until((m) => m.type === "event" && m.event.type === "input-changed" && m.event.value === big[2]);
  // (An event of the earlier edits may still come first, in a message of its own.)
  const holdsBig = (m: ServerMessage) => (m.type === "events" ? m.events : m.type === "event" ? [m.event] : []).some((e) => e.type === "input-changed" && big.includes(e.value as string));
  const sizes = a.frames.slice(seen).filter(holdsBig).map((m) => JSON.stringify(m).length);
  t.same(edits(a.messages().slice(-3)), big, "every edit, in order");
  t.equal(sizes.length, 2, `split in two (${sizes.join(", ")} B)`);
  // A turn with one event (the input is stale already: no freshness change) sends it as an `event` message.
  const before = a.frames.length;
  session.set("upper__text", "lone");
  await a.until((m) => m.type === "event" && m.event.type === "input-changed" && m.event.value === "lone");
  const lone = a.frames.slice(before).filter((m) => (m.type === "events" ? m.events : m.type === "event" ? [m.event] : []).some((e) => e.type === "input-changed" && e.value === "lone"));
  t.same(lone.map((m) => m.type), ["event"], "a lone event goes as `event`");
});

t.test("two tabs on one sheet see the same state live; a tab on another sheet sees none of it", async (t) => {
  const { url } = await serve(t, app({ autorun: false }));
  const a = await WireClient.open(url);
  const sheet = (a.snap as SnapshotMessage).sheet.id;
  const b = await WireClient.open(url, sheet);
  const created = await a.c.request({ type: "sheet-create", name: "Other" });
  const other = (created as { result: { id: string } }).result.id;
  const c = await WireClient.open(url, other);
  t.equal((c.snap as SnapshotMessage).sheet.id, other);
  const cFrom = c.c.messages.length;
  await a.c.request({ type: "run", nodeId: "upper", mode: "step" });
  const [ea, eb] = await Promise.all([a.c.event("node-completed", "upper"), b.c.event("node-completed", "upper")]);
  t.same(ea, eb, "identical messages");
  t.equal((ea as EventMessage).sheetId, sheet);
  // A key may be its recipe's text (function source, input values): clients get its digest.
  t.match((ea as unknown as { event: { result: { key: string } } }).event.result.key, /^[0-9a-f]{40}$/, "the result's key as a digest");
  // A round trip on the other tab: anything published to it with those events has arrived before its reply.
  await c.c.request({ type: "history", nodeId: "upper" });
  const leaked = c.c.messages.slice(cFrom).filter((m) => m.type === "event" && m.sheetId === sheet);
  t.same(leaked, [], "the other sheet got none of this sheet's events");
  // A third tab opening the sheet now sees the result in its snapshot.
  const d = await WireClient.open(url, sheet);
  t.equal((d.snap as SnapshotMessage).results.upper!.outputs.upper, "HI");
  t.equal((d.snap as SnapshotMessage).counts.upper, 1);
  for (const x of [a.c, b.c, c.c, d.c]) x.close();
});

t.test("runs belong to the server: closing the tab cancels nothing, and a reconnecting tab sees the result", async (t) => {
  const { url, store } = await serve(t);
  const a = await WireClient.open(url);
  const sheet = (a.snap as SnapshotMessage).sheet.id;
  await a.c.request({ type: "run", nodeId: "slow", mode: "step" });
  await a.c.event("node-started", "slow");
  a.c.close();
  await a.c.closed;
  // A tab that comes back while the run goes on joins it live.
  const b = await WireClient.open(url, sheet);
  t.equal((b.snap as SnapshotMessage).nodes.slow!.activity, "running");
  b.c.close();
  await b.c.closed;
  // The run ends with nobody watching: its result reaches the store.
  const stored = new Promise<void>((r) => {
    const off = store.onChange((ch) => ch.type === "result" && ch.record.nodeId === "slow" && ch.record.status === "success" && (off(), r()));
  });
  release("slow");
  await stored;
  const c = await WireClient.open(url, sheet);
  const snap = c.snap as SnapshotMessage;
  t.equal(snap.results.slow?.outputs.double, 42, "the run finished with nobody watching");
  t.equal(snap.nodes.slow!.activity, "idle");
  c.c.close();
});

t.test("history pages, select-result restores, cancel, viewport, and sheet rename/switch/delete reach every tab", async (t) => {
  const { url } = await serve(t);
  const a = await openComputed(url);
  const sheet = (a.snap as SnapshotMessage).sheet.id;
  for (const text of ["one", "two"]) {
    await a.c.request({ type: "set-input", nodeId: "upper", port: "text", value: text });
    await a.c.next((m) => isEvent("node-completed", "exclaim")(m) && (m as EventMessage).event.type === "node-completed" && JSON.stringify(m).includes(text.toUpperCase()));
  }
  const hist = await a.c.request({ type: "history", nodeId: "upper", limit: 1 });
  t.match(hist, { type: "history", nodeId: "upper", total: 3, results: [{ outputs: { upper: "TWO" } }] }, "the opening's HI, then ONE and TWO");
  const older = await a.c.request({ type: "history", nodeId: "upper", before: (hist as { results: Array<{ id: string }> }).results[0]!.id });
  const first = (older as unknown as { results: Array<{ id: string; outputs: { upper: string } }> }).results[0]!;
  t.equal(first.outputs.upper, "ONE");
  const from = a.c.messages.length;
  t.match(await a.c.request({ type: "select-result", nodeId: "upper", resultId: first.id }), { type: "ack" });
  const restored = (await a.c.next((m) => isEvent("input-changed")(m), undefined, from)) as EventMessage;
  t.match(restored.event, { nodeId: "upper", port: "text", value: "one", origin: "restore" });
  t.match(await a.c.request({ type: "select-result", nodeId: "upper", resultId: "nope" }), { type: "error", code: "E_UNKNOWN_RESULT" });

  t.match(await a.c.request({ type: "cancel", runId: "r-unknown" }), { type: "ack", result: false });
  t.match(await a.c.request({ type: "viewport", x: 10, y: -5, zoom: 1.5 }), { type: "ack" });

  const b = await WireClient.open(url, sheet);
  const bFrom = b.c.messages.length;
  const renamed = await a.c.request({ type: "sheet-rename", sheetId: sheet, name: "Renamed" });
  t.match(renamed, { type: "ack", result: { id: sheet, name: "Renamed", viewport: { x: 10, y: -5, zoom: 1.5 } } });
  const list = await b.c.next((m) => m.type === "sheets", undefined, bFrom);
  t.match(list, { type: "sheets", current: sheet, sheets: [{ id: sheet, name: "Renamed" }] });

  const created = (await a.c.request({ type: "sheet-create" })) as { result: { id: string; name: string } };
  t.equal(created.result.name, "Sheet 1", "the next free default name");
  const switched = await a.c.request({ type: "sheet-switch", sheetId: created.result.id });
  t.match(switched, { type: "snapshot", sheet: { id: created.result.id }, results: {} });
  t.match(await a.c.request({ type: "sheet-switch", sheetId: "s-nope" }), { type: "error", code: "E_UNKNOWN_SHEET" });

  // Deleting the sheet tab b is on moves b to another sheet with a fresh snapshot.
  const bMove = b.c.messages.length;
  t.match(await a.c.request({ type: "sheet-delete", sheetId: sheet }), { type: "ack" });
  const moved = await b.c.next((m) => m.type === "snapshot", undefined, bMove);
  t.equal((moved as SnapshotMessage).sheet.id, created.result.id);
  t.match(await a.c.request({ type: "choice", nodeId: "upper", variant: "x" }), { type: "error", code: "E_BAD_OPTION" });
  a.c.close();
  b.c.close();
});

// ── files ────────────────────────────────────────────────────────────────────

t.test("GET /files/<id> serves only a regular file: a symlink, FIFO or directory planted as the blob is refused, never followed", async (t) => {
  const { url, store } = await serve(t);
  const secret = join(tmp, "secret.txt");
  writeFileSync(secret, "TOP SECRET");
  const plant = async (content: string, swap: (path: string) => void) => {
    const meta = await store.putFile({ bytes: Buffer.from(content), name: `${content}.txt` });
    t.equal((await raw(url, `/files/${meta.id}`)).body, content, "the genuine blob is served");
    rmSync(meta.path);
    swap(meta.path);
    return meta.id;
  };
  const link = await plant("link", (p) => symlinkSync(secret, p));
  const fifo = await plant("fifo", (p) => execFileSync("mkfifo", [p]));
  const dir = await plant("dir", (p) => mkdirSync(p));
  for (const [what, id] of [["symlink", link], ["FIFO", fifo], ["directory", dir]] as const) {
    const res = await raw(url, `/files/${id}`);
    t.equal(res.status, 404, `a ${what} is not served`);
    t.notMatch(res.body, /TOP SECRET/);
  }
});

t.test("file outputs travel as FileRefs served by /files/<id>; HTML comes as a sandboxed attachment; no local path is ever sent", async (t) => {
  const { url, store } = await serve(t);
  const { c } = await WireClient.open(url);
  await c.request({ type: "run", nodeId: "page", mode: "step" });
  const done = (await c.event("node-completed", "page")) as EventMessage;
  const ref = (done.event as unknown as { result: { outputs: { html: FileRef } } }).result.outputs.html;
  t.match(ref, { $file: /^[0-9a-f]{64}$/, url: `/files/${ref.$file}`, name: "out-x.html", mime: "text/html", size: 26 });
  for (const m of c.messages) {
    const text = JSON.stringify(m);
    t.notOk(text.includes(tmp) || text.includes(store.filesDir), `no local path in ${m.type}`);
  }
  const res = await raw(url, ref.url);
  t.equal(res.status, 200);
  t.equal(res.headers["content-type"], "text/html");
  t.equal(res.headers["x-content-type-options"], "nosniff");
  t.match(res.headers["content-disposition"], /^attachment; filename\*=UTF-8''out-x\.html$/);
  t.match(res.headers["content-security-policy"], /^sandbox/);
  t.equal(res.body, "<script>alert(1)</script>x");
  const part = await raw(url, ref.url, { headers: { range: "bytes=8-13" } });
  t.equal(part.status, 206);
  t.equal(part.body, "alert(");
  t.equal((await raw(url, ref.url, { headers: { "if-none-match": `"${ref.$file}"` } })).status, 304);
  t.equal((await raw(url, `/files/${"0".repeat(64)}`)).status, 404, "an id the server never minted");
  c.close();
});

t.test("upload → FileRef → set-input: the node reads the stored file; a path string from a client is refused", async (t) => {
  const { url } = await serve(t);
  const png = Buffer.from("89504e470d0a1a0a0000000d4948445200000001", "hex");
  const up = await raw(url, "/upload", { method: "POST", headers: { "content-type": "image/png", "x-filename": encodeURIComponent("cat ü.png") }, body: png });
  t.equal(up.status, 200);
  const ref = JSON.parse(up.body) as FileRef;
  t.match(ref, { $file: /^[0-9a-f]{64}$/, name: "cat ü.png", mime: "image/png", size: png.length });
  const octet = JSON.parse((await raw(url, "/upload", { method: "POST", headers: { "content-type": "application/octet-stream", "x-filename": "../../notes.txt" }, body: "hello" })).body) as FileRef;
  t.match(octet, { name: "notes.txt", mime: "text/plain" }, "type from the name; directories dropped");

  const { c } = await openComputed(url);
  t.match(await c.request({ type: "set-input", nodeId: "size", port: "img", value: ref }), { type: "ack" });
  const done = (await c.event("node-completed", "size")) as EventMessage;
  t.match(done.event, { result: { outputs: { bytes: png.length }, inputs: { img: { $file: ref.$file, url: ref.url } } } });
  const echoed = c.messages.find(isEvent("input-changed")) as EventMessage;
  t.match(echoed.event, { value: { $file: ref.$file } }, "the edit is echoed as a FileRef, not a path");

  for (const value of ["/etc/passwd", "../../etc/passwd", { $file: "0".repeat(64) }, { $file: "../../etc/passwd" }, [ref, "/etc/hosts"]]) {
    const reply = await c.request({ type: "set-input", nodeId: "size", port: "img", value });
    t.match(reply, { type: "error", code: "E_BAD_FILE" }, `refused: ${JSON.stringify(value)}`);
  }
  // Accepted values are applied, not just acknowledged: the node reruns on what they name.
  const applied = async (value: unknown) => {
    const from = c.messages.length;
    const ack = await c.request({ type: "set-input", nodeId: "size", port: "img", value });
    const changed = ((await c.next(isEvent("input-changed", "size"), undefined, from)) as EventMessage).event;
    // Its result: computed anew, or an earlier one with the same inputs reused (node-cached).
    const done = (m: ServerMessage) => isEvent("node-completed", "size")(m) || isEvent("node-cached", "size")(m);
    const ran = ((await c.next(done, undefined, from)) as EventMessage).event as unknown as { result: { outputs: { bytes: number } } };
    return { ack, changed, bytes: ran.result.outputs.bytes };
  };
  const cleared = await applied(null);
  t.match(cleared, { ack: { type: "ack", result: { rev: Number } }, changed: { value: null }, bytes: -1 }, "clearing is fine: the node runs without a file");
  const byUrl = await applied(`/files/${ref.$file}`);
  t.match(byUrl, { ack: { type: "ack" }, changed: { value: { $file: ref.$file } }, bytes: png.length }, "a /files/<id> URL is the stored file");
  c.close();
});

// ── REST ─────────────────────────────────────────────────────────────────────

t.test("GET /api/schema and POST /api/call[/<subgraph>] in the Python daggr's shapes, with teaching 4xx errors", async (t) => {
  const { url } = await serve(t);
  const schema = JSON.parse((await raw(url, "/api/schema")).body);
  const main = schema.subgraphs.find((s: { inputs: Array<{ id: string }> }) => s.inputs.some((i) => i.id === "upper__text"));
  t.same(main.inputs, [{ node: "upper", port: "text", type: "textbox", id: "upper__text" }]);
  t.same(main.outputs, [{ node: "exclaim", port: "out", type: "textbox" }]);
  const post = (path: string, body: unknown) => raw(url, path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

  const ok = await post(`/api/call/${main.id}`, { inputs: { upper__text: "rest" } });
  t.equal(ok.status, 200);
  t.same(JSON.parse(ok.body), { outputs: { exclaim: { out: "REST!" } } }, "a graph without branches: exactly the Python daggr's shape");

  const ambiguous = await post("/api/call", { inputs: {} });
  t.equal(ambiguous.status, 400);
  t.match(JSON.parse(ambiguous.body), { error: { code: "E_AMBIGUOUS_SUBGRAPH", available_subgraphs: schema.subgraphs.map((s: { id: string }) => s.id) } });

  const typo = await post(`/api/call/${main.id}`, { inputs: { upper__txt: "x" } });
  t.equal(typo.status, 400);
  t.match(JSON.parse(typo.body), { error: { code: "E_UNKNOWN_INPUT_ID", got: "upper__txt", nearest: "upper__text", message: /Did you mean 'upper__text'\?/ } });

  const sizeSg = schema.subgraphs.find((s: { inputs: Array<{ id: string }> }) => s.inputs.some((i) => i.id === "size__img")).id;
  const missing = await post(`/api/call/${sizeSg}`, {});
  t.equal(missing.status, 400);
  t.match(JSON.parse(missing.body), { error: { code: "E_MISSING_INPUT", missing: ["size__img"], message: /size__img/ } });

  t.equal((await post("/api/call/nope", {})).status, 404);
  t.match(JSON.parse((await post("/api/call/nope", {})).body), { error: { code: "E_UNKNOWN_SUBGRAPH", got: "nope" } });
  t.match(JSON.parse((await post(`/api/call/${main.id}`, { input: {} })).body), { error: { nearest: "inputs" } });

  const pageSg = schema.subgraphs.find((s: { inputs: Array<{ id: string }> }) => s.inputs.some((i) => i.id === "page__text")).id;
  const file = JSON.parse((await post(`/api/call/${pageSg}`, { inputs: { page__text: "api" } })).body);
  t.match(file, { outputs: { page: { html: new RegExp(`^${url}/files/[0-9a-f]{64}$`) } } }, "file outputs as absolute URLs");
  t.equal((await raw(url, new URL(file.outputs.page.html).pathname)).body, "<script>alert(1)</script>api");

  const leakSg = schema.subgraphs.find((s: { inputs: Array<{ id: string }> }) => s.inputs.some((i) => i.id === "leak__mode")).id;
  const failed = await post(`/api/call/${leakSg}`, { inputs: { leak__mode: "throw" } });
  t.equal(failed.status, 500);
  t.match(JSON.parse(failed.body), { error: { code: "E_NODE_FAILED", node: "leak" } });
  t.notOk(failed.body.includes(HF_SECRET), "the HF token is cut out of the error");
});

/** A question/statement router: `answer` or `note` runs, `reply` joins them, `log` reads `note` only. */
function branchApp() {
  const classify = new FnNode(({ text }) => (text.trim().endsWith("?") ? "question" : "statement"), { name: "classify", inputs: { text: gr.Textbox({ value: "why?" }) }, outputs: { kind: gr.Label() } });
  const answer = new FnNode(({ k }) => `an answer (${k})`, { name: "answer", inputs: { k: classify.out.kind }, outputs: { reply: gr.Textbox() } });
  const note = new FnNode(({ k }) => `noted (${k})`, { name: "note", inputs: { k: classify.out.kind }, outputs: { reply: gr.Textbox() } });
  branch(classify.out.kind, { question: answer, statement: note });
  const reply = new FnNode(({ r }) => `> ${r}`, { name: "reply", inputs: { r: firstOf(answer.out.reply, note.out.reply) }, outputs: { text: gr.Textbox() } });
  const log = new FnNode(({ r }) => r.length, { name: "log", inputs: { r: note.out.reply }, outputs: { chars: gr.Number() } });
  return new Graph({ name: "Router", nodes: [reply, log], persistKey: false });
}

t.test("GET /api/schema marks the nodes a branch may skip; POST /api/call lists the skipped ones (skipped leaves keep {})", async (t) => {
  const { url } = await serve(t, branchApp());
  const [sg] = JSON.parse((await raw(url, "/api/schema")).body).subgraphs;
  t.same(sg.conditional, {
    answer: { when: { node: "classify", port: "kind", label: "question" } },
    note: { when: { node: "classify", port: "kind", label: "statement" } },
    reply: { after: ["answer", "note"] },
    log: { after: ["note"] },
  }, "routed nodes name their case; a firstOf join is conditional only because every source is");
  t.same(
    [...sg.outputs].sort((a: { node: string }, b: { node: string }) => a.node.localeCompare(b.node)),
    [{ node: "log", port: "chars", type: "number", conditional: true }, { node: "reply", port: "text", type: "textbox", conditional: true }],
  );
  t.same(sg.inputs, [{ node: "classify", port: "text", type: "textbox", id: "classify__text" }], "inputs keep the Python daggr's shape");

  const call = async (text: string) =>
    JSON.parse((await raw(url, "/api/call", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ inputs: { classify__text: text } }) })).body);
  const question = await call("why?");
  t.same(question.outputs, { reply: { text: "> an answer (question)" }, log: {} }, "a skipped leaf keeps {} as its outputs");
  t.same(question.skipped.sort(), ["log", "note"]);
  const statement = await call("fine.");
  t.same(statement.outputs, { reply: { text: "> noted (statement)" }, log: { chars: 17 } });
  t.same(statement.skipped, ["answer"]);

  const plain = JSON.parse((await raw((await serve(t)).url, "/api/schema")).body);
  t.ok(plain.subgraphs.every((s: { conditional: object }) => Object.keys(s.conditional).length === 0), "a graph without branches has no conditional nodes");
});

t.test("run with item reruns one item of a MAP node alone; item needs a nodeId, mode step and an existing item", async (t) => {
  const calls: string[] = [];
  const list = new InputNode({ name: "list", ports: { lines: gr.JSON({ value: ["a", "b", "c"] }) } });
  const shout = new FnNode(({ line }) => (calls.push(String(line)), String(line).toUpperCase()), { name: "shout", concurrent: true, autorun: false, inputs: { line: list.out.lines.each }, outputs: { loud: gr.Textbox() } });
  // Off: the canvas's first compute (150 ms after the hello, later under load) would give shout its items before the test asks.
  const plainNode = new FnNode(({ n }) => n, { name: "plain", autorun: false, inputs: { n: gr.Number({ value: 1 }) }, outputs: { n: gr.Number() } });
  const { url } = await serve(t, new Graph({ name: "map", nodes: [shout, plainNode], persistKey: false }));
  const { c } = await WireClient.open(url);
  t.match(await c.request({ type: "run", nodeId: "shout", mode: "step", item: 0 }), { type: "error", code: "E_BAD_MESSAGE", message: /no items to rerun/ }, "before the node has items");
  await c.request({ type: "run", nodeId: "shout", mode: "to-here" });
  type Items = { result: { items: Array<{ status: string; outputs: object; startedAt: number }> } };
  const first = ((await c.event("node-completed", "shout")) as EventMessage).event as unknown as Items;
  t.same(first.result.items.map((i) => i.outputs), [{ loud: "A" }, { loud: "B" }, { loud: "C" }], "items travel with the result");
  calls.length = 0;
  await new Promise((r) => setTimeout(r, 5));

  const from = c.messages.length;
  const ack = await c.request({ type: "run", nodeId: "shout", mode: "step", item: 1 });
  t.match(ack, { type: "ack", result: { runId: /^r/ } });
  const again = ((await c.event("node-completed", "shout", from)) as EventMessage).event as unknown as Items;
  t.same(calls, ["b"], "only item #2 ran");
  t.equal(again.result.items[0]!.startedAt, first.result.items[0]!.startedAt, "the other items are kept as they were");
  t.equal(again.result.items[2]!.startedAt, first.result.items[2]!.startedAt);
  t.ok(again.result.items[1]!.startedAt > first.result.items[1]!.startedAt, "item #2 is new");

  const bad: Array<[object, RegExp]> = [
    [{ type: "run", nodeId: "shout", mode: "to-here", item: 1 }, /mode "step"/],
    [{ type: "run", mode: "step", item: 1 }, /nodeId/],
    [{ type: "run", nodeId: "shout", mode: "step", item: -1 }, /item.*integer from 0/],
    [{ type: "run", nodeId: "shout", mode: "step", item: 1.5 }, /item.*integer/],
    [{ type: "run", nodeId: "shout", mode: "step", item: 3 }, /has 3 items \(0 to 2\); there is no item 3/],
    [{ type: "run", nodeId: "plain", mode: "step", item: 0 }, /no items to rerun/],
  ];
  for (const [msg, message] of bad) t.match(await c.request(msg), { type: "error", code: "E_BAD_MESSAGE", message }, JSON.stringify(msg));
  c.close();
});

// ── the page and the bundle ──────────────────────────────────────────────────

t.test("GET / is one <daggr-canvas> and its script, under a CSP; the bundle is served as JavaScript", async (t) => {
  const { url } = await serve(t);
  const page = await raw(url, "/");
  t.equal(page.status, 200);
  t.match(page.body, `<daggr-canvas server="${url}"></daggr-canvas>`);
  t.match(page.body, '<script type="module" src="/assets/daggr-canvas.js"></script>');
  t.match(page.headers["content-security-policy"], /script-src 'self'/);
  const js = await raw(url, "/assets/daggr-canvas.js");
  t.equal(js.status, 200);
  t.match(js.headers["content-type"], /^text\/javascript/);
  t.ok(js.body.length > 0);
  const zipped = await raw(url, "/assets/daggr-canvas.js", { headers: { "accept-encoding": "gzip, br" } });
  t.equal(zipped.headers["content-encoding"], "gzip");
  t.ok(Number(zipped.headers["content-length"]) < Buffer.byteLength(js.body), "gzipped when the browser accepts it");
  t.equal((await raw(url, "/assets/nope.js")).status, 404);
});

// ── security ─────────────────────────────────────────────────────────────────

t.test("Host allowlist: a foreign Host header (DNS rebinding) is refused on HTTP and WebSocket", async (t) => {
  const { url } = await serve(t);
  t.equal((await raw(url, "/api/schema", { headers: { host: "evil.example:80" } })).status, 403);
  t.equal((await raw(url, "/api/schema", { headers: { host: `localhost:${new URL(url).port}` } })).status, 200);
  t.equal(await refused(WireClient.connect(url, { headers: { host: "evil.example" } })), 403);
});

t.test("Origin: WebSocket and state-changing HTTP need our own origin; null and foreign origins are refused", async (t) => {
  const { url } = await serve(t);
  const own = url;
  for (const origin of ["null", "http://evil.example", `${own}.evil.example`, "file://", own.replace("127.0.0.1", "localhost")]) {
    t.equal(await refused(WireClient.connect(url, { origin })), 403, `ws from ${origin}`);
    const res = await raw(url, "/api/call/x", { method: "POST", headers: { "content-type": "application/json", origin }, body: "{}" });
    t.equal(res.status, 403, `POST from ${origin}`);
    t.equal((await raw(url, "/upload", { method: "POST", headers: { "content-type": "image/png", origin }, body: "x" })).status, 403, `upload from ${origin}`);
  }
  const c = await WireClient.connect(url, { origin: own });
  c.close();
  const scriptClient = await WireClient.connect(url); // no Origin: not a browser page
  scriptClient.close();
  t.equal((await raw(url, "/api/schema", { headers: { origin: "http://evil.example" } })).status, 200, "reads carry no state change");
});

t.test("allowedOrigins: a page of another origin may embed the canvas: CORS on the bundle, files and uploads, for it alone", async (t) => {
  const embedder = "https://my-site.example";
  const { url } = await serve(t, app(), { allowedOrigins: [embedder] });
  const from = (origin?: string): { headers: Record<string, string> } => ({ headers: origin ? { origin } : {} });

  const pre = await raw(url, "/upload", { method: "OPTIONS", headers: { origin: embedder, "access-control-request-method": "POST", "access-control-request-headers": "content-type,x-filename" } });
  t.equal(pre.status, 204, "the upload preflight is answered");
  t.equal(pre.headers["access-control-allow-origin"], embedder, "with the exact origin, never *");
  t.equal(pre.headers["access-control-allow-methods"], "POST");
  t.match(pre.headers["access-control-allow-headers"], /^Content-Type, X-Filename$/i);
  t.match(pre.headers.vary, /Origin/);
  const up = await raw(url, "/upload", { method: "POST", headers: { origin: embedder, "content-type": "image/png", "x-filename": "dot.png" }, body: "x" });
  t.equal(up.status, 200);
  t.equal(up.headers["access-control-allow-origin"], embedder, "the page may read the FileRef");
  const ref = JSON.parse(up.body) as FileRef;

  for (const path of ["/assets/daggr-canvas.js", ref.url]) {
    const res = await raw(url, path, from(embedder));
    t.equal(res.status, 200, path);
    t.equal(res.headers["access-control-allow-origin"], embedder, `${path}: readable by the embedding page`);
    t.equal(res.headers["cross-origin-resource-policy"], "cross-origin", `${path}: loadable by it`);
    t.match(res.headers.vary, /\bOrigin\b/, `${path}: Vary: Origin`);
    const own = await raw(url, path, from());
    t.equal(own.headers["access-control-allow-origin"], undefined, `${path}: no CORS without an Origin`);
    t.equal(own.headers["cross-origin-resource-policy"], "same-origin");
    t.match(own.headers.vary, /\bOrigin\b/, `${path}: Vary: Origin either way (a cache must not mix them up)`);
  }
  t.match((await raw(url, "/assets/daggr-canvas.js", { headers: { origin: embedder, "accept-encoding": "gzip" } })).headers.vary, /Accept-Encoding, Origin/);
  (await WireClient.connect(url, { origin: embedder })).close();

  const schema = await raw(url, "/api/schema", from(embedder));
  t.equal(schema.headers["access-control-allow-origin"], undefined, "the REST API is not opened to the embedder (the canvas does not use it)");
  t.equal((await raw(url, "/assets/daggr-canvas.js", { method: "OPTIONS", headers: { origin: embedder, "access-control-request-method": "GET" } })).status, 405, "reads need no preflight");

  for (const other of ["https://evil.example", "null", `${embedder}.evil.example`, "http://my-site.example"]) {
    for (const path of ["/assets/daggr-canvas.js", ref.url]) {
      const res = await raw(url, path, from(other));
      t.equal(res.headers["access-control-allow-origin"], undefined, `${other} ${path}: no CORS`);
      t.equal(res.headers["cross-origin-resource-policy"], "same-origin", `${other} ${path}: not loadable cross-origin`);
    }
    const preflight = await raw(url, "/upload", { method: "OPTIONS", headers: { origin: other, "access-control-request-method": "POST" } });
    t.equal(preflight.status, 405, `${other}: no preflight answer`);
    t.equal(preflight.headers["access-control-allow-origin"], undefined);
    t.equal((await raw(url, "/upload", { method: "POST", headers: { origin: other, "content-type": "image/png" }, body: "x" })).status, 403, `${other}: no upload`);
  }
  const none = await serve(t);
  t.equal((await raw(none.url, "/upload", { method: "OPTIONS", headers: { origin: embedder, "access-control-request-method": "POST" } })).status, 405, "a server without allowedOrigins answers no preflight");
});

t.test("POSTs must be JSON; uploads refuse the types a cross-site form can send", async (t) => {
  const { url } = await serve(t);
  for (const type of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""]) {
    const headers: Record<string, string> = type ? { "content-type": type } : {};
    t.equal((await raw(url, "/api/call", { method: "POST", headers, body: '{"inputs":{}}' })).status, 415, `call as '${type}'`);
    t.equal((await raw(url, "/upload", { method: "POST", headers, body: "data" })).status, 415, `upload as '${type}'`);
  }
  t.equal((await raw(url, "/api/schema", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })).status, 405);
});

t.test("a per-launch token is required when bound beyond loopback", async (t) => {
  t.ok(resolveOptions({ host: "0.0.0.0" }, {}).token, "generated for 0.0.0.0");
  t.notOk(resolveOptions({ host: "127.0.0.1" }, {}).token, "none on loopback");
  t.equal(resolveOptions({ host: "0.0.0.0" }, { DAGGR_TOKEN: "abc" }).token, "abc");
  t.equal(resolveOptions({}, { GRADIO_SERVER_NAME: "0.0.0.0", GRADIO_SERVER_PORT: "9000" }).port, 9000);
  t.ok(resolveOptions({}, { GRADIO_SERVER_NAME: "0.0.0.0" }).token);

  const { server, url } = await serve(t, app(), { host: "0.0.0.0" });
  const token = server.token!;
  t.match(token, /^[A-Za-z0-9_-]{20,}$/);
  t.equal((await raw(url, "/api/schema")).status, 401);
  t.equal((await raw(url, "/api/schema", { headers: { authorization: "Bearer wrong" } })).status, 401);
  t.equal((await raw(url, "/api/schema", { headers: { authorization: `Bearer ${token}` } })).status, 200);
  const login = await raw(url, `/?token=${token}`);
  t.equal(login.status, 302);
  t.equal(login.headers.location, "/");
  const cookie = (login.headers["set-cookie"] as string[])[0]!;
  t.match(cookie, new RegExp(`^daggr_token_${server.port}=${token}; HttpOnly; SameSite=Strict`));
  t.equal((await raw(url, "/", { headers: { cookie: cookie.split(";")[0]! } })).status, 200, "the cookie opens the page");
  t.equal(await refused(WireClient.connect(url)), 401);
  (await WireClient.connect(url, { path: `/ws?token=${token}` })).close();
  (await WireClient.connect(url, { headers: { cookie: cookie.split(";")[0]! } })).close();
});

t.test("size limits: an oversize frame closes that socket only; an oversize upload or body is a 413", async (t) => {
  const { url } = await serve(t, app(), { maxMessageBytes: 64 * 1024, maxUploadBytes: 1000 });
  const victim = await WireClient.open(url);
  const bystander = await WireClient.open(url);
  victim.c.ws.send(JSON.stringify({ v: 1, type: "set-input", nodeId: "upper", port: "text", value: "x".repeat(100 * 1024) }));
  const closed = await victim.c.closed;
  t.equal(closed.code, 1009, "closed with 'message too big'");
  t.match(await bystander.c.request({ type: "set-input", nodeId: "upper", port: "text", value: "still here" }), { type: "ack" }, "the other socket is fine");
  const up = await raw(url, "/upload", { method: "POST", headers: { "content-type": "image/png" }, body: Buffer.alloc(2000) });
  t.equal(up.status, 413);
  const chunked = await raw(url, "/upload", { method: "POST", headers: { "content-type": "image/png", "transfer-encoding": "chunked" }, body: Buffer.alloc(5000) }).catch((e) => ({ status: (e as Error).message }));
  t.ok(chunked.status === 413 || /ECONNRESET|socket hang up|EPIPE/.test(String(chunked.status)), `chunked oversize upload refused (${chunked.status})`);
  const body = await raw(url, "/api/call", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ inputs: { upper__text: "x".repeat(70 * 1024) } }) });
  t.equal(body.status, 413);
  t.equal((await raw(url, "/api/schema")).status, 200, "server up");
  bystander.c.close();
});

t.test("every incoming message is validated: a coded error reply, the socket and the server stay up", async (t) => {
  const { url } = await serve(t);
  const c = await WireClient.connect(url);
  const reply = async (text: string | Buffer) => {
    const from = c.messages.length;
    c.ws.send(text);
    return c.next((m) => m.type === "error", undefined, from);
  };
  t.match(await reply("not json"), { code: "E_BAD_JSON" });
  t.match(await reply("[1,2]"), { code: "E_BAD_JSON" });
  t.match(await reply(Buffer.from([1, 2, 3])), { code: "E_BAD_JSON" }, "binary frame");
  t.match(await reply(JSON.stringify({ v: 2, type: "hello" })), { code: "E_PROTOCOL_VERSION" });
  t.match(await reply(JSON.stringify({ v: 1, type: "set-input", id: "a", nodeId: "upper", port: "text", value: 1 })), { code: "E_NO_HELLO", re: "a" });
  t.match(await reply(JSON.stringify({ v: 1, type: "helo", id: "b" })), { code: "E_UNKNOWN_TYPE", re: "b", details: { nearest: "hello" }, message: /Did you mean 'hello'\?/ });
  await c.request({ type: "hello" });
  const bad: Array<[object, string, RegExp | object]> = [
    [{ type: "run", mode: "sideways" }, "E_BAD_MESSAGE", /mode.*one of "step", "to-here", "all"/],
    [{ type: "run", nodeId: 7, mode: "step" }, "E_BAD_MESSAGE", /nodeId/],
    [{ type: "run", nodId: "upper", mode: "step" }, "E_BAD_MESSAGE", { field: "nodId", nearest: "nodeId" }],
    [{ type: "select-result", nodeId: "upper" }, "E_BAD_MESSAGE", /needs the field 'resultId'/],
    [{ type: "viewport", x: 0, y: 0, zoom: -1 }, "E_BAD_MESSAGE", /zoom/],
    [{ type: "history", nodeId: "upper", limit: 1e9 }, "E_BAD_MESSAGE", /limit/],
    [{ type: "run", nodeId: "uper", mode: "step" }, "E_UNKNOWN_NODE", /Did you mean 'upper'\?/],
    [{ type: "set-input", nodeId: "upper", port: "txt", value: 1 }, "E_UNKNOWN_INPUT_ID", /Did you mean 'upper__text'\?/],
  ];
  for (const [msg, code, detail] of bad) {
    t.match(await c.request(msg), { type: "error", code, ...(detail instanceof RegExp ? { message: detail } : { details: detail }) }, JSON.stringify(msg));
  }
  t.match(await reply('{"v":1,"type":"set-input","id":"p","nodeId":"upper","port":"text","value":{"a":{"__proto__":{"polluted":true}}}}'), { code: "E_BAD_MESSAGE", re: "p", message: /__proto__/ });
  t.equal(({} as Record<string, unknown>).polluted, undefined);
  t.match(await reply(JSON.stringify({ v: 1, type: "set-input", nodeId: "upper", port: "text", constructor: 1, value: 1 })), { code: "E_BAD_MESSAGE" });
  let deep: unknown = 1;
  for (let i = 0; i < 100; i++) deep = [deep];
  t.match(await reply(JSON.stringify({ v: 1, type: "set-input", nodeId: "upper", port: "text", value: deep })), { code: "E_BAD_MESSAGE", message: /deeper/ });
  t.match(await reply("[".repeat(60000) + "]".repeat(60000)), { code: "E_BAD_MESSAGE" }, "very deep JSON");
  t.match(await c.request({ type: "set-input", nodeId: "upper", port: "text", value: "alive" }), { type: "ack" }, "the same socket still works");
  c.close();
});

t.test("a valid run the engine cannot do is acked with its run id; the failure arrives as node-failed with its code", async (t) => {
  // Neither node runs on its own, so `down` has no upstream result when it is asked to step.
  const up = new FnNode(({ n }) => n, { name: "up", autorun: false, inputs: { n: gr.Number({ value: 1 }) }, outputs: { n: gr.Number() } });
  const down = new FnNode(({ n }) => n, { name: "down", autorun: false, inputs: { n: up.out.n }, outputs: { n: gr.Number() } });
  const { url } = await serve(t, new Graph({ name: "no upstream", nodes: [down], persistKey: false }));
  const { c } = await WireClient.open(url);
  const ack = await c.request({ type: "run", nodeId: "down", mode: "step" });
  t.match(ack, { type: "ack", result: { runId: /^r/ } });
  const failed = ((await c.event("node-failed", "down")) as EventMessage).event as Extract<EventWire, { type: "node-failed" }>;
  t.equal(failed.runId, (ack as { result: { runId: string } }).result.runId, "the failure belongs to the acked run");
  t.equal(failed.error.code, "E_UPSTREAM_MISSING");
  t.match(failed.error.message, /reads from 'up', which has no result yet/);
  t.same(c.events().filter((e) => e === "node-started"), [], "nothing ran");
  c.close();
});

t.test("the server checks each client message with the schema its type comes from: a missing, unknown or ill-typed field is E_BAD_MESSAGE naming it", async (t) => {
  // One well-formed message of every type, typed by the schema (a field the schema lacks is a compile error).
  const samples: { [T in ClientMessageType]: Extract<ClientMessage, { type: T }> } = {
    hello: { v: 1, type: "hello", sheet: "s" },
    "set-input": { v: 1, type: "set-input", nodeId: "upper", port: "text", value: "x", rev: 1 },
    run: { v: 1, type: "run", nodeId: "upper", mode: "step" },
    "edit-item": { v: 1, type: "edit-item", nodeId: "upper", item: 0, value: "x" },
    cancel: { v: 1, type: "cancel", runId: "r" },
    "select-result": { v: 1, type: "select-result", nodeId: "upper", resultId: "r" },
    history: { v: 1, type: "history", nodeId: "upper", limit: 5 },
    "sheet-create": { v: 1, type: "sheet-create", name: "n" },
    "sheet-rename": { v: 1, type: "sheet-rename", sheetId: "s", name: "n" },
    "sheet-delete": { v: 1, type: "sheet-delete", sheetId: "s" },
    "sheet-switch": { v: 1, type: "sheet-switch", sheetId: "s" },
    viewport: { v: 1, type: "viewport", x: 0, y: 0, zoom: 1 },
    choice: { v: 1, type: "choice", nodeId: "pick", variant: "a" },
  };
  // @ts-expect-error a misspelt field is not part of ClientMessage
  const misspelt: ClientMessage = { v: 1, type: "viewport", x: 0, y: 0, zom: 1 };
  t.ok(misspelt);
  t.same(Object.keys(samples).sort(), [...MESSAGE_TYPES].sort(), "a sample of every type the server accepts");

  const { url } = await serve(t);
  const { c, snap } = (await WireClient.open(url)) as { c: WireClient; snap: SnapshotMessage };
  let checked = 0;
  const expect = async (msg: Record<string, unknown>, field: string, message: RegExp) => {
    const { v: _v, ...rest } = msg;
    const reply = await c.request(rest);
    t.match(reply, { type: "error", code: "E_BAD_MESSAGE", details: { field }, message }, `${msg.type}: ${field}`);
    checked++;
  };
  for (const [type, sample] of Object.entries(samples) as Array<[ClientMessageType, Record<string, unknown>]>) {
    const schema = MESSAGE_SCHEMAS[type];
    await expect({ ...sample, bogus: 1 }, "bogus", new RegExp(`Unknown field 'bogus' in a '${type}' message`));
    for (const [key, entry] of Object.entries(schema.entries)) {
      if (key === "v" || key === "type" || key === "value" || key === "id") continue;
      if (entry.type !== "optional") {
        const { [key]: _gone, ...without } = sample;
        await expect(without, key, new RegExp(`A '${type}' message needs the field '${key}'\\.`));
      }
      const wrong = typeof sample[key] === "string" ? 42 : typeof sample[key] === "number" ? "forty-two" : true;
      await expect({ ...sample, [key]: wrong }, key, new RegExp(`Field '${key}' of a '${type}' message must be (a string|a finite number|a positive number|an integer from \\d+ to \\d+|one of "step", "to-here", "all")\\.$`));
    }
  }
  t.ok(checked > 40, `${checked} bad messages, each refused with its field`);
  const from = c.messages.length;
  c.ws.send(JSON.stringify({ v: 1, type: "viewport", id: 42, x: 0, y: 0, zoom: 1 }));
  t.match(await c.next((m) => m.type === "error", undefined, from), { code: "E_BAD_MESSAGE", details: { field: "id" }, message: /Field 'id' of a 'viewport' message must be a string/ });
  t.match(await c.request({ type: "sheet-create", name: "a\u0007b" }), { code: "E_BAD_MESSAGE", details: { field: "name" }, message: /free of control characters/ });
  t.match(await c.request({ type: "run", nodeId: "upper", mode: "all", item: 0 }), { code: "E_BAD_MESSAGE", details: { field: "item" }, message: /mode "step"/ });
  t.match(await c.request({ type: "viewport", x: 1, y: 2, zoom: 1.5 }), { type: "ack" });
  t.match(await c.request({ type: "sheet-rename", sheetId: snap.sheet.id, name: "Checked" }), { type: "ack", result: { name: "Checked", viewport: { x: 1, y: 2, zoom: 1.5 } } }, "a well-formed message still applies");
  c.close();
});

t.test("createLogger: JSON lines at the chosen level, pretty text for a terminal, child fields; the HF token is never written", async (t) => {
  const { createLogger } = await import("../lib/server/index.js");
  const sink = (isTTY: boolean) => ({ isTTY, text: "", write(s: string) { this.text += s; } });
  const pipe = sink(false);
  const log = createLogger({ stream: pipe, env: { DAGGR_LOG_LEVEL: "warn" } });
  log.info("not shown at warn");
  log.child({ node: "upper" }).warn({ code: "E_TIMEOUT", header: `Bearer ${HF_SECRET}` }, `slow; token ${HF_SECRET}`);
  const lines = pipe.text.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
  t.equal(lines.length, 1, "info is below warn");
  t.match(lines[0], { level: 40, node: "upper", code: "E_TIMEOUT", msg: "slow; token hf_***", header: "Bearer hf_***" });
  t.notOk(pipe.text.includes(HF_SECRET), "the token is cut out of the message and the fields");

  const tty = sink(true);
  createLogger({ stream: tty, env: { NO_COLOR: "1" } }).child({ node: "upper" }).info(`ran with ${HF_SECRET}`);
  t.match(tty.text, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: ran with hf_\*\*\* \{"node":"upper"\}\n$/, "a terminal gets one readable line");
  const debug = sink(false);
  createLogger({ stream: debug, env: { DAGGR_DEBUG: "1" } }).debug("traced");
  t.match(debug.text, /"msg":"traced"/, "DAGGR_DEBUG=1 means debug");
});

t.test("path traversal on every route is a 404, and so is every path that is not a route", async (t) => {
  const { url } = await serve(t);
  const up = JSON.parse((await raw(url, "/upload", { method: "POST", headers: { "content-type": "image/png" }, body: "img" })).body) as FileRef;
  const attempts = [
    "/../../../../etc/passwd",
    "/..%2f..%2f..%2fetc%2fpasswd",
    "/%2e%2e/%2e%2e/etc/passwd",
    "/files/../../../../etc/passwd",
    `/files/${up.$file}/../../../../etc/passwd`,
    "/files/..%2F..%2F..%2Fetc%2Fpasswd",
    "/files/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/files//etc/passwd",
    "/files/%2Fetc%2Fpasswd",
    "/files/..\\..\\..\\etc\\passwd",
    "/files/C:\\Windows\\win.ini",
    `/files/${up.$file.toUpperCase()}`,
    `/files/${up.$file}%00.html`,
    "/assets/../../package.json",
    "/assets/..%2f..%2fpackage.json",
    "/assets/%2e%2e/%2e%2e/package.json",
    "/assets/..\\..\\package.json",
    "/assets//etc/passwd",
    "/assets/daggr-canvas.js/../../../package.json",
    "/assets/.%2e/.%2e/package.json",
    "/api/call/..%2f..%2fetc",
    "/api/schema/../../etc/passwd",
    "/upload/../../etc/passwd",
    "//etc/passwd",
    "/./api/schema",
    "/lib/server/index.ts",
    "/package.json",
    "/etc/passwd",
    "/ws/../files",
  ];
  for (const path of attempts) {
    for (const method of ["GET", "POST"]) {
      const res = await raw(url, path, { method, headers: { "content-type": "application/json" }, body: method === "POST" ? "{}" : undefined });
      t.equal(res.status, 404, `${method} ${path}`);
      t.notMatch(res.body, /root:|"name": "daggr"/);
    }
  }
  t.equal((await raw(url, "http://127.0.0.1/etc/passwd")).status, 404, "absolute-form request target");
  const upgrade = { connection: "Upgrade", upgrade: "websocket", "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==" };
  for (const path of ["/ws/../ws", "/x/../ws", "/ws%2f", "/%77s", "/ws/", "//ws"]) t.equal((await raw(url, path, { headers: upgrade })).status, 404, `upgrade at ${path}`);
  t.equal((await raw(url, up.url)).status, 200, "the real file still serves");
});

t.test("the HF token never appears in any response: events, errors, REST", async (t) => {
  const { url } = await serve(t);
  const { c } = await WireClient.open(url);
  await c.request({ type: "run", nodeId: "leak", mode: "step" });
  const done = (await c.event("node-completed", "leak")) as EventMessage;
  // Masked where it is recorded ("***") or, failing that, where it is sent ("hf_***").
  t.match(done.event, { result: { outputs: { text: /^token=(hf_)?\*\*\*$/ } } });
  await c.request({ type: "set-input", nodeId: "leak", port: "mode", value: "throw" });
  await c.request({ type: "run", nodeId: "leak", mode: "step" });
  const failed = (await c.event("node-failed", "leak")) as EventMessage;
  t.match(failed.event, { error: { message: /bad token (hf_)?\*\*\*/ } });
  t.notOk(c.messages.some((m) => JSON.stringify(m).includes(HF_SECRET)), "no ws message holds it");
  const rest = await raw(url, "/api/schema");
  t.notOk(rest.body.includes(HF_SECRET));
  c.close();
});

t.test("the next free port is used when the port is taken; strictPort refuses instead", async (t) => {
  const port = await freePort();
  const g = app();
  const first = await launch(g, { port, store: new MemoryStore(), quiet: true });
  t.teardown(() => first.close());
  const second = await launch(g, { port, store: new MemoryStore(), quiet: true });
  t.teardown(() => second.close());
  t.equal(first.port, port);
  t.ok(second.port > port, `moved to ${second.port}`);
  await t.rejects(launch(g, { port, strictPort: true, store: new MemoryStore(), quiet: true }), /already in use/);
});

t.test("an InputNode's ports are editable over the wire like component inputs", async (t) => {
  const settings = new InputNode({ name: "Settings", ports: { prompt: gr.Textbox({ value: "a cat" }) } });
  const echo = new FnNode(({ p }) => `<${p}>`, { name: "echo", inputs: { p: settings.out.prompt }, outputs: { out: gr.Textbox() } });
  const { url } = await serve(t, new Graph({ name: "inputs", nodes: [echo], persistKey: false }));
  const { c, snap } = await openComputed(url);
  t.equal((snap as SnapshotMessage).inputs.Settings__prompt, "a cat");
  await c.request({ type: "set-input", nodeId: "Settings", port: "prompt", value: "a dog" });
  const done = (await c.event("node-completed", "echo")) as EventMessage;
  t.match(done.event, { result: { outputs: { out: "<a dog>" } } });
  c.close();
});

t.test("graph.launch() in a plain script serves the same way", async (t) => {
  const store = new MemoryStore();
  const server = await app().launch({ port: 0, store, quiet: true });
  t.teardown(() => server.close());
  t.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const { c, snap } = await WireClient.open(server.url);
  t.equal((snap as SnapshotMessage).graph.name, "Server test");
  c.close();
});

// ── limits: one tab cannot starve the rest ───────────────────────────────────

/** Resolves once `pred` holds, checking after each turn of the event loop (bounded). */
async function until(pred: () => boolean, what: string, tries = 2000): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (pred()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`never happened: ${what}`);
}

/** A node that holds every execution until `open()`; counts the executions running at once. */
function holder(name = "hold") {
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const stats = { running: 0, peak: 0, started: 0 };
  const node = new FnNode(
    async ({ n }) => {
      stats.started++;
      stats.peak = Math.max(stats.peak, ++stats.running);
      await gate;
      stats.running--;
      return n + 1;
    },
    { name, concurrent: true, autorun: false, inputs: { n: gr.Number({ value: 1 }) }, outputs: { out: gr.Number() } },
  );
  return { node, stats, open: () => open() };
}

t.test("messageRate: past a socket's token bucket each message gets E_TOO_MANY_MESSAGES (not applied); the socket stays up, other sockets are unaffected", async (t) => {
  // A bucket of 5 that refills once in ~17 minutes: exactly 5 messages pass, whatever the machine's speed.
  const { url } = await serve(t, app(), { messageRate: { perSecond: 0.001, burst: 5 } });
  const flood = await WireClient.connect(url);
  const replies = Array.from({ length: 20 }, (_, i) => flood.request(i === 0 ? { type: "hello" } : { type: "set-input", nodeId: "upper", port: "text", value: `v${i}` }));
  const got = await Promise.all(replies);
  t.equal(got[0]!.type, "snapshot", "the first message (hello) was applied");
  t.same(got.slice(1, 5).map((m) => m.type), ["ack", "ack", "ack", "ack"], "the next four were applied");
  for (const m of got.slice(5)) t.match(m, { type: "error", code: "E_TOO_MANY_MESSAGES", details: { retryAfterMs: Number } });
  t.equal(got.slice(5).length, 15, "the other 15 were refused, each with its own coded reply");
  const other = await WireClient.open(url);
  t.match(await other.c.request({ type: "set-input", nodeId: "upper", port: "text", value: "mine" }), { type: "ack" }, "another socket is unaffected");
  const last = (await other.c.event("input-changed", "upper")) as EventMessage;
  t.match(last.event, { value: "mine" });
  t.notOk(flood.messages.some((m) => m.type === "event" && m.event.type === "input-changed" && (m.event as { value?: unknown }).value === "v5"), "a refused edit was not applied");
  t.match(await flood.request({ type: "viewport", x: 0, y: 0, zoom: 1 }), { type: "error", code: "E_TOO_MANY_MESSAGES" }, "the flooding socket is still open, still limited");
  t.equal(flood.ws.readyState, flood.ws.OPEN);
  flood.close();
  other.c.close();
});

t.test("run queue: past maxRunsPerSheet / maxRuns a run is refused with E_RUN_QUEUE_FULL (REST: 503); finished runs free their places", async (t) => {
  const h = holder();
  const graph = new Graph({ name: "queue", nodes: [h.node], persistKey: false });
  const { url } = await serve(t, graph, { maxRunsPerSheet: 2, maxRuns: 3 });
  const a = await WireClient.open(url);
  const run = (c: WireClient) => c.request({ type: "run", nodeId: "hold", mode: "step" });
  t.match(await run(a.c), { type: "ack", result: { runId: String } });
  t.match(await run(a.c), { type: "ack" });
  t.match(await run(a.c), { type: "error", code: "E_RUN_QUEUE_FULL", details: { scope: "sheet", limit: 2 } }, "a third run on the sheet");
  const sheet = (await a.c.request({ type: "sheet-create", name: "other" })) as { result: { id: string } };
  const b = await WireClient.open(url, sheet.result.id);
  t.match(await run(b.c), { type: "ack" }, "another sheet has its own places");
  t.match(await run(b.c), { type: "error", code: "E_RUN_QUEUE_FULL", details: { scope: "server", limit: 3 } }, "until the server's bound");
  const rest = await raw(url, "/api/call", { method: "POST", headers: { "content-type": "application/json" }, body: '{"inputs":{"hold__n":1}}' });
  t.equal(rest.status, 503, "a REST call counts too");
  t.equal(rest.headers["retry-after"], "5");
  t.match(JSON.parse(rest.body), { error: { code: "E_RUN_QUEUE_FULL" } });
  t.ok(h.stats.started <= 3, "nothing refused was started");
  h.open();
  await a.c.next((m) => m.type === "event" && m.event.type === "run-finished", undefined, 0);
  await b.c.next((m) => m.type === "event" && m.event.type === "run-finished", undefined, 0);
  await until(() => a.c.events().filter((e) => e === "run-finished").length === 2, "both runs of sheet a finished");
  t.match(await run(a.c), { type: "ack" }, "finished runs gave their places back");
  a.c.close();
  b.c.close();
});

t.test("remote concurrency: 10 REST calls on one Gradio app run at most 4 jobs at once (default), remoteConcurrency and a node's maxConcurrent change it", async (t) => {
  const { startFakeGradio } = await import("./fixtures/fake-gradio.js");
  const { closeGradioClients } = await import("../lib/nodes/gradio-client.js");
  const { GradioNode } = await import("../lib/index.js");
  const { limits } = await import("../lib/engine/index.js");
  t.teardown(() => closeGradioClients());

  /** A fake app whose jobs all wait for `open()`; a graph of one node on it; `n` calls at once. */
  const round = async (label: string, n: number, options: ServerOptions, nodeOptions: { maxConcurrent?: number } = {}) => {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const fake = await startFakeGradio({
      endpoints: [{ name: "/predict", parameters: [{ name: "prompt" }], returns: [{ label: "text" }], fn: async (j) => (await gate, [`${j.args.prompt}!`]) }],
    });
    t.teardown(() => fake.close());
    const gen = new GradioNode(fake.url, { name: "gen", apiName: "/predict", inputs: { prompt: gr.Textbox() }, outputs: { text: gr.Textbox() }, ...nodeOptions });
    const { url } = await serve(t, new Graph({ name: `remote ${label}`, nodes: [gen], persistKey: false }), options);
    const calls = Array.from({ length: n }, (_, i) =>
      raw(url, "/api/call", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ inputs: { gen__prompt: `p${i}` } }) }),
    );
    const pool = () => limits.load().find((l) => (nodeOptions.maxConcurrent ? l.key === "node:gen" : l.key === `remote:gradio:${fake.origin}`) && l.active + l.waiting > 0);
    await until(() => (pool()?.waiting ?? 0) + (pool()?.active ?? 0) === n && fake.stats.started === pool()!.size, `${label}: every call admitted, the pool's jobs started`);
    t.equal(fake.stats.started, pool()!.size, `${label}: ${pool()!.size} jobs started at the app, the rest wait in daggr`);
    open();
    const done = await Promise.all(calls);
    t.same([...new Set(done.map((r) => r.status))], [200], `${label}: every call answered`);
    t.match(JSON.parse(done[n - 1]!.body), { outputs: { gen: { text: `p${n - 1}!` } } });
    t.equal(fake.stats.completed, n);
    return fake.stats.maxActive;
  };
  t.equal(await round("default", 10, {}), 4, "peak jobs at the app: 4 by default");
  t.equal(await round("launch", 6, { remoteConcurrency: 2 }), 2, "launch({ remoteConcurrency: 2 })");
  t.equal(await round("node", 5, { remoteConcurrency: 2 }, { maxConcurrent: 3 }), 3, "a node's own maxConcurrent overrides the default");
});

t.test("connection cap: past maxConnectionsPerIp or maxConnections a connection gets a 503; the others and other addresses are unaffected", async (t) => {
  const { default: WebSocket } = await import("ws");
  const { request } = await import("node:http");
  const { url } = await serve(t, app(), { maxConnectionsPerIp: 3, maxConnections: 4 });
  const port = Number(new URL(url).port);
  /** A WebSocket from a given local address: resolves with it, or with the refusing status. */
  const ws = (from: string) =>
    new Promise<{ ws?: InstanceType<typeof WebSocket>; status?: number }>((ok, fail) => {
      const s = new WebSocket(`ws://127.0.0.1:${port}/ws`, { localAddress: from });
      s.on("error", () => undefined);
      s.once("open", () => ok({ ws: s }));
      s.once("unexpected-response", (_q, res) => ok({ status: res.statusCode }));
      s.once("error", fail);
    });
  const get = (from: string) =>
    new Promise<{ status: number; body: string }>((ok, fail) => {
      request({ host: "127.0.0.1", port, path: "/api/schema", localAddress: from, agent: false }, (res) => {
        let body = "";
        res.on("data", (c) => (body += c));
        res.on("end", () => ok({ status: res.statusCode!, body }));
      })
        .on("error", fail)
        .end();
    });
  const mine = [await ws("127.0.0.1"), await ws("127.0.0.1"), await ws("127.0.0.1")];
  t.ok(mine.every((m) => m.ws), "three from one address");
  t.equal((await ws("127.0.0.1")).status, 503, "a fourth WebSocket from it is refused");
  const refusedGet = await get("127.0.0.1");
  t.equal(refusedGet.status, 503, "so is an HTTP request on a new connection from it");
  t.match(refusedGet.body, /E_TOO_MANY_CONNECTIONS/);
  const other = await ws("127.0.0.2");
  t.ok(other.ws, "another address still connects");
  t.equal((await ws("127.0.0.3")).status, 503, "until the total cap");
  // The connections already open keep working.
  const first = mine[0]!.ws!;
  const reply = new Promise<string>((r) => first.once("message", (d) => r(String(d))));
  first.send(JSON.stringify({ v: 1, type: "hello", id: "h" }));
  t.match(JSON.parse(await reply), { type: "snapshot" });
  // Closing one frees its place (the server counts it closed a moment after the client does).
  await new Promise((r) => (mine[1]!.ws!.once("close", r), mine[1]!.ws!.close()));
  let again: { ws?: InstanceType<typeof WebSocket>; status?: number } = {};
  for (let i = 0; i < 50 && !again.ws; i++) again = await ws("127.0.0.1");
  t.ok(again.ws, "a closed connection gives its place back");
  for (const s of [...mine.map((m) => m.ws), other.ws, again.ws]) s?.terminate();
});

t.test("body rate: an upload or JSON body trickling 1 byte at a time is cut off with 408; a normal one passes", async (t) => {
  const { request } = await import("node:http");
  const { url } = await serve(t, app(), { bodyRate: { graceMs: 200, minBytesPerSecond: 1000 } });
  const port = Number(new URL(url).port);
  const trickle = (path: string, type: string, size: number) =>
    new Promise<{ status: number; sent: number; closed: Promise<void> }>((ok, fail) => {
      let sent = 0;
      const req = request({ host: "127.0.0.1", port, path, method: "POST", agent: false, headers: { "content-type": type, "content-length": size } }, (res) => {
        clearInterval(timer);
        res.resume();
        const closed = new Promise<void>((r) => req.socket!.once("close", () => r()));
        ok({ status: res.statusCode!, sent, closed });
      });
      req.on("error", (e) => (clearInterval(timer), fail(e)));
      req.flushHeaders();
      const timer = setInterval(() => {
        if (sent < size) (req.write("x"), sent++);
      }, 20);
    });
  for (const [path, type] of [["/upload", "image/png"], ["/api/call", "application/json"]] as const) {
    const slow = await trickle(path, type, 100_000);
    t.equal(slow.status, 408, `${path}: 408`);
    t.ok(slow.sent < 100_000, `${path}: cut off after ${slow.sent} of 100000 bytes`);
    await slow.closed;
    t.pass(`${path}: the connection is closed`);
  }
  const fast = await raw(url, "/upload", { method: "POST", headers: { "content-type": "image/png" }, body: Buffer.alloc(100_000) });
  t.equal(fast.status, 200, "a body sent at once passes under the same rule");
});

t.test("data: URLs are memoised in a bounded LRU (by bytes, keyed by digest), not kept for the server's lifetime", async (t) => {
  const { Wire } = await import("../lib/server/wire.js");
  const graph = app();
  const store = new MemoryStore();
  const cap = 64 * 1024;
  const wire = new Wire(graph, store, { ingestCacheBytes: cap });
  const size = graph.node("size");
  const url = (i: number) => `data:image/png;base64,${Buffer.from(`${i}`.padEnd(48 * 1024, "-")).toString("base64")}`;
  const first = await wire.decodeInput(size, "img", url(0));
  t.equal(await wire.decodeInput(size, "img", url(0)), first, "the same URL gives the same stored file");
  let keyBytes = 0;
  for (let i = 1; i < 300; i++) {
    await wire.decodeInput(size, "img", url(i));
    keyBytes += url(i).length;
  }
  t.ok(keyBytes > 100 * cap, `${Math.round(keyBytes / 1e6)} MB of distinct data: URLs went through`);
  t.ok(wire.ingested.calculatedSize <= cap, `the memo holds ${wire.ingested.calculatedSize} bytes (cap ${cap})`);
  t.ok(wire.ingested.size > 0 && wire.ingested.size < 300, `${wire.ingested.size} of 300 entries kept`);
  t.ok([...wire.ingested.keys()].every((k) => k.length < 100), "no key is the URL itself");
  t.equal(await wire.decodeInput(size, "img", url(0)), first, "an evicted URL is stored again under the same content address");
});

t.test("frame-ancestors: the page may be framed only by the allowed embedding origins ('none' by default), and X-Frame-Options agrees", async (t) => {
  const { url } = await serve(t);
  const page = await raw(url, "/");
  t.match(page.headers["content-security-policy"], /(^|; )frame-ancestors 'none'(;|$)/);
  t.equal(page.headers["x-frame-options"], "DENY");
  const embedder = "https://my-site.example";
  const open = await serve(t, app(), { allowedOrigins: [embedder, "https://other.example/"] });
  const embedded = await raw(open.url, "/");
  t.match(embedded.headers["content-security-policy"], /(^|; )frame-ancestors https:\/\/my-site\.example https:\/\/other\.example(;|$)/);
  t.equal(embedded.headers["x-frame-options"], undefined, "no X-Frame-Options (it cannot name origins; DENY or SAMEORIGIN would block them)");
  t.same(resolveOptions({}, { SPACE_HOST: "me-app.hf.space" }).frameAncestors, ["https://huggingface.co"], "on a Space, the Hub's page frames the app");
  t.same(resolveOptions({}, {}).frameAncestors, []);
});

t.test("frame-ancestors in a real browser: another origin's iframe of the page is blocked by default, and shown when that origin is allowed", async (t) => {
  const { existsSync } = await import("node:fs");
  const { CHROMIUM, startBrowser } = await import("./fixtures/canvas-browser.js");
  if (!existsSync(CHROMIUM)) {
    // Under CI a missing browser fails; elsewhere it is a skip, never a pass.
    if (process.env.CI) throw new Error(`Chromium is missing at ${CHROMIUM}: apt-get install -y chromium`);
    return void t.plan(0, `no Chromium at ${CHROMIUM} (apt-get install -y chromium)`);
  }
  const { createServer } = await import("node:http");
  // The embedding site: another origin (another port), one iframe of the daggr page named in its query.
  const site = createServer((req, res) => {
    const target = new URL(req.url!, "http://x").searchParams.get("src") ?? "";
    res.writeHead(200, { "content-type": "text/html" }).end(`<!doctype html><iframe id="f" src="${target.replace(/[<>"&]/g, "")}/"></iframe>`);
  });
  await new Promise<void>((r) => site.listen(0, "127.0.0.1", r));
  // The browser may still hold a connection to the site (a preconnect, a request in flight): closed, not waited for.
  t.teardown(() => new Promise((r) => (site.closeAllConnections(), site.close(r))));
  const siteOrigin = `http://127.0.0.1:${(site.address() as { port: number }).port}`;
  const browser = await startBrowser();
  t.teardown(() => browser.close());
  const page = await (await browser.context()).newPage();
  const framed = async (daggrUrl: string) => {
    await page.goto(`${siteOrigin}/?src=${encodeURIComponent(daggrUrl)}`, { waitUntil: "domcontentloaded" });
    const frame = await (await page.waitForSelector("#f")).contentFrame();
    await frame!.waitForLoadState("domcontentloaded");
    return { url: frame!.url(), canvas: await frame!.evaluate(() => document.querySelector("daggr-canvas") !== null).catch(() => false) };
  };
  const closed = await serve(t);
  const blocked = await framed(closed.url);
  t.notOk(blocked.canvas, `the default page is not shown inside ${siteOrigin} (frame: ${blocked.url})`);
  const open = await serve(t, app(), { allowedOrigins: [siteOrigin] });
  const shown = await framed(open.url);
  t.ok(shown.canvas, "an allowed embedding origin may frame it");
  t.equal(shown.url, `${open.url}/`);
});

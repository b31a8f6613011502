import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { newId, type ResultRecord, type RunRecord } from "../lib/engine/records.js";
import type { Store, StoreChange } from "../lib/engine/store.js";
import type { ServerMessage } from "../lib/protocol.js";
import { DaggrError } from "../lib/graph/index.js";
import { defaultHome, isStoreLocked, LevelStore, MemoryStore, openStore, SCHEMA_VERSION, type Migration } from "../lib/store/index.js";
import { Claims } from "../lib/store/claims.js";
import { FilesDir } from "../lib/store/files.js";
import { K, under } from "../lib/store/level-keys.js";
import { openLocked, writeBatch } from "../lib/store/lock.js";
import { auditStore } from "./fixtures/store-audit.js";

const WRITER = join(import.meta.dirname, "fixtures", "store-writer.ts");

/**
 * The writer bundled once (esbuild): a child starts in a fraction of the time it takes
 * under tsx, which is what makes hundreds of kill rounds affordable. Lives in the
 * git-ignored test/scratch, so `level` resolves from node_modules.
 */
let bundled: Promise<string> | undefined;
function writerBundle(): Promise<string> {
  return (bundled ??= (async () => {
    const { build } = await import("esbuild");
    const dir = join(import.meta.dirname, "scratch");
    mkdirSync(dir, { recursive: true });
    const outfile = join(dir, `store-writer-${process.pid}.mjs`);
    // Everything but native and binary packages goes in: loading rxjs's hundreds of ESM
    // files alone costs a child more than the whole bundle.
    await build({
      entryPoints: [WRITER],
      bundle: true,
      platform: "node",
      format: "esm",
      external: ["level", "esbuild", "bufferutil", "utf-8-validate"],
      banner: { js: "import { createRequire as __daggrRequire } from 'node:module'; const require = __daggrRequire(import.meta.url);" },
      outfile,
      logLevel: "error",
    });
    t.teardown(() => rmSync(outfile, { force: true }));
    return outfile;
  })());
}

/** Seeded PRNG (mulberry32): the same seed gives the same kill points and edits. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** What the helpers need of a subtest's `t`. */
type T = { teardown(fn: () => unknown): void };

function tempHome(t: T): string {
  const dir = mkdtempSync(join(tmpdir(), "daggr-store-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function rec(sheetId: string, nodeId: string, extra: Partial<ResultRecord> = {}): ResultRecord {
  return {
    id: newId("r"),
    nodeId,
    sheetId,
    runId: "run1",
    key: "k1",
    inputs: { prompt: "a cat" },
    upstream: {},
    outputs: { text: "meow" },
    outputHashes: { text: "h1" },
    status: "success",
    startedAt: Date.now(),
    ms: 3,
    files: [],
    ...extra,
  };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as DaggrError).code;
  }
  return "(no error)";
}

const bytes = (s: string) => new TextEncoder().encode(s);

// ---------------------------------------------------------------------------------------
// One conformance suite, run against every Store implementation.
// ---------------------------------------------------------------------------------------

const factories: Record<string, (t: T) => Promise<Store>> = {
  MemoryStore: async (t) => new MemoryStore({ filesDir: join(tempHome(t), "files") }),
  LevelStore: async (t) => {
    const home = tempHome(t);
    const s = await LevelStore.open({ appDir: join(home, "apps", "app"), filesDir: join(home, "files") });
    t.teardown(() => s.close());
    return s;
  },
};

for (const [impl, make] of Object.entries(factories)) {
  t.test(`${impl} conformance`, async (t) => {
    t.test("createSheet(user) names sheets 'Sheet 1', 'Sheet 2'…; listSheets lists a user's own, newest first", async (t) => {
      const s = await make(t);
      const a = await s.createSheet("local");
      const b = await s.createSheet("local");
      const named = await s.createSheet("local", "Experiments");
      const c = await s.createSheet("local");
      await s.createSheet("alice");
      t.same([a.name, b.name, named.name, c.name], ["Sheet 1", "Sheet 2", "Experiments", "Sheet 3"]);
      t.same((await s.listSheets("local")).map((x) => x.id), [c.id, named.id, b.id, a.id]);
      t.same((await s.listSheets("alice")).map((x) => x.name), ["Sheet 1"]);
      t.same(await s.listSheets("nobody"), []);
      t.equal(a.revision, 0);
      await s.deleteSheet(a.id);
      t.equal((await s.createSheet("local")).name, "Sheet 1", "a freed default name is reused");
    });

    t.test("updateSheet(id, patch) renames and keeps viewport and choices; unknown sheets are E_UNKNOWN_SHEET", async (t) => {
      const s = await make(t);
      const a = await s.createSheet("local");
      const u = await s.updateSheet(a.id, { name: "Renamed", viewport: { x: 1, y: 2, zoom: 0.5 }, choices: { pick: "b" } });
      t.equal(u.name, "Renamed");
      t.same((await s.getSheet(a.id))!.viewport, { x: 1, y: 2, zoom: 0.5 });
      t.same((await s.getSheet(a.id))!.choices, { pick: "b" });
      t.equal((await s.listSheets("local"))[0]!.name, "Renamed");
      t.equal(await s.getSheet("nope"), undefined);
      t.equal(await codeOf(s.updateSheet("nope", { name: "x" })), "E_UNKNOWN_SHEET");
      t.equal(await codeOf(s.loadSheet("nope")), "E_UNKNOWN_SHEET");
      t.equal(await codeOf(s.setInputs("nope", { a: 1 })), "E_UNKNOWN_SHEET");
      t.equal(await codeOf(s.commitResult(rec("nope", "n"), { select: true })), "E_UNKNOWN_SHEET");
    });

    t.test("setInputs merges values and setSelections sets or clears; each bumps the revision", async (t) => {
      const s = await make(t);
      const a = await s.createSheet("local");
      t.equal(await s.setInputs(a.id, { gen__prompt: "a cat", gen__seed: 3 }), 1);
      t.equal(await s.setInputs(a.id, { gen__prompt: "a dog" }), 2);
      t.equal(await s.setSelections(a.id, { gen: "r1", cut: "r2" }), 3);
      t.equal(await s.setSelections(a.id, { cut: null }), 4);
      const state = await s.loadSheet(a.id);
      t.same(state.inputs, { gen__prompt: "a dog", gen__seed: 3 });
      t.same(state.selections, { gen: "r1" });
      t.same(state.selected, [], "a selection of an unknown result loads no record");
      t.equal(state.sheet.revision, 4);
    });

    t.test("commitResult(record, { select }) stores, selects, counts and indexes by recipe key", async (t) => {
      const s = await make(t);
      const a = await s.createSheet("local");
      const r1 = rec(a.id, "gen", { key: "k1" });
      const r2 = rec(a.id, "gen", { key: "k1", status: "failed", error: { message: "boom" } });
      const r3 = rec(a.id, "gen", { key: "k2" });
      const other = rec(a.id, "cut", { key: "k1" });
      await s.commitResult(r1, { select: true });
      await s.commitResult(r2, { select: false });
      await s.commitResult(r3, { select: false });
      await s.commitResult(other, { select: true });
      const state = await s.loadSheet(a.id);
      t.same(state.selections, { gen: r1.id, cut: other.id });
      t.same(state.selected.map((r) => r.id).sort(), [r1.id, other.id].sort());
      t.same(state.counts, { gen: 3, cut: 1 });
      t.equal(state.sheet.revision, 2, "each selecting commit bumps the revision");
      t.same(await s.getResult(a.id, r2.id), r2);
      t.equal(await s.getResult(a.id, "missing"), undefined);
      t.equal((await s.findByKey(a.id, "gen", "k1"))?.id, r1.id, "a failed result is never a cache hit");
      t.equal((await s.findByKey(a.id, "gen", "k2"))?.id, r3.id);
      t.equal(await s.findByKey(a.id, "cut", "k2"), undefined);
      const r4 = rec(a.id, "gen", { key: "k1" });
      await s.commitResult(r4, { select: false });
      t.equal((await s.findByKey(a.id, "gen", "k1"))?.id, r4.id, "the newest success wins");
      // A long history (the memory store indexes keys once a node holds more than a few results).
      const long = Array.from({ length: 20 }, (_, i) => rec(a.id, "gen", { key: `n${i % 5}`, ...(i === 17 ? { status: "failed" as const } : {}) }));
      for (const [i, r] of long.entries()) await s.commitResult(r, { select: i % 2 === 0 });
      t.equal((await s.findByKey(a.id, "gen", "n2"))?.id, long[12]!.id, "the newest success of a key in a long history");
      t.equal((await s.findByKey(a.id, "gen", "n4"))?.id, long[19]!.id);
      t.equal((await s.findByKey(a.id, "gen", "k2"))?.id, r3.id, "an old key stays findable");
      t.equal(await s.findByKey(a.id, "cut", "n2"), undefined, "another node's results are not its hits");
      // A run asks for every node it may execute at once (LevelStore reads such lookups together).
      const asked: Array<[string, string]> = [["gen", "n2"], ["cut", "n2"], ["gen", "k2"], ["cut", "k1"], ["gen", "n4"], ["gen", "nope"]];
      const together = await Promise.all(asked.map(([node, key]) => s.findByKey(a.id, node, key)));
      t.same(together.map((r) => r?.id), [long[12]!.id, undefined, r3.id, other.id, long[19]!.id, undefined], "lookups asked in one tick each get their own answer");
      const after = await s.loadSheet(a.id);
      t.same(after.counts, { gen: 24, cut: 1 });
      t.same(after.selections, { gen: long[18]!.id, cut: other.id });
      t.equal((await s.listResults(a.id, "gen", { limit: 3 })).results.map((r) => r.id).join(), [long[19]!.id, long[18]!.id, long[17]!.id].join());
      const later = rec(a.id, "gen", { key: "n2" });
      await s.commitResult(later, { select: false });
      t.equal((await s.findByKey(a.id, "gen", "n2"))?.id, later.id, "a result committed after a lookup is found by the next");
    });

    t.test("commitResult refuses to rewrite a result (E_RESULT_EXISTS) or to reference an unknown file (E_UNKNOWN_FILE)", async (t) => {
      const s = await make(t);
      const a = await s.createSheet("local");
      const r = rec(a.id, "gen");
      await s.commitResult(r, { select: true });
      t.equal(await codeOf(s.commitResult({ ...r, status: "failed" }, { select: true })), "E_RESULT_EXISTS");
      t.equal((await s.getResult(a.id, r.id))?.status, "success");
      t.equal(await codeOf(s.commitResult(rec(a.id, "gen", { files: ["f".repeat(64)] }), { select: true })), "E_UNKNOWN_FILE");
      t.same((await s.loadSheet(a.id)).counts, { gen: 1 }, "a refused commit leaves nothing behind");
      // The same once results were asked for by id (the memory store keeps an index of ids from then on).
      t.equal(await codeOf(s.commitResult({ ...r, status: "failed" }, { select: true })), "E_RESULT_EXISTS", "after a lookup by id too");
      const later = rec(a.id, "gen");
      await s.commitResult(later, { select: true });
      t.equal((await s.getResult(a.id, later.id))?.id, later.id, "a result committed after a lookup by id is found by id");
      t.equal(await codeOf(s.commitResult({ ...rec(a.id, "cut"), id: later.id }, { select: true })), "E_RESULT_EXISTS", "an id another node holds");
      t.equal((await s.getResult(a.id, later.id))?.nodeId, "gen");
    });

    t.test("results committed at once keep their order with other writes; a refused one fails alone", async (t) => {
      const s = await make(t);
      const a = await s.createSheet("local");
      const b = await s.createSheet("local");
      const [r0, r1, r2] = [rec(a.id, "gen"), rec(a.id, "gen"), rec(a.id, "gen")];
      await s.commitResult(r0, { select: true });
      // None awaited before the next: a selection written between two commits stays between them.
      const writes = [s.commitResult(r1, { select: true }), s.setSelections(a.id, { gen: r0.id }), s.commitResult(r2, { select: true })];
      // A commit of r2's id again, in the same burst, is refused alone; the others of the burst are stored.
      const others = Array.from({ length: 20 }, (_, i) => rec(i % 2 ? a.id : b.id, `n${i % 3}`));
      const again = codeOf(s.commitResult({ ...r2, status: "failed" }, { select: true }));
      const rest = others.map((r) => s.commitResult(r, { select: true }));
      await Promise.all(writes);
      t.equal(await again, "E_RESULT_EXISTS");
      await Promise.all(rest);
      t.equal((await s.loadSheet(a.id)).selections.gen, r2.id, "the commit after the selection wins");
      t.equal((await s.getResult(a.id, r2.id))?.status, "success", "the refused commit changed nothing");
      const [sa, sb] = [await s.loadSheet(a.id), await s.loadSheet(b.id)];
      t.same(sa.counts, { gen: 3, n0: 3, n1: 4, n2: 3 });
      t.same(sb.counts, { n0: 4, n1: 3, n2: 3 });
      // Every selection counts in the revision: 4 commits selecting and a selection in a, 10 in b.
      t.equal(sa.sheet.revision, 1 + 1 + 1 + 1 + 10);
      t.equal(sb.sheet.revision, 10);
      for (const r of others) t.equal((await s.getResult(r.sheetId, r.id))?.id, r.id);
    });

    t.test("listResults pages 1,000 results newest first with `before`, without mixing nodes", async (t) => {
      const s = await make(t);
      const a = await s.createSheet("local");
      const ids: string[] = [];
      for (let i = 0; i < 1000; i++) {
        const r = rec(a.id, "gen", { key: `k${i}`, inputs: { i } });
        ids.push(r.id);
        await s.commitResult(r, { select: i === 999 });
        if (i % 100 === 0) await s.commitResult(rec(a.id, "other"), { select: false });
      }
      const seen: string[] = [];
      let before: string | undefined;
      for (;;) {
        const page = await s.listResults(a.id, "gen", { before, limit: 75 });
        t.equal(page.total, 1000);
        if (!page.results.length) break;
        seen.push(...page.results.map((r) => r.id));
        before = page.results.at(-1)!.id;
      }
      t.same(seen, [...ids].reverse(), "every result once, newest first");
      const first = await s.listResults(a.id, "gen");
      t.equal(first.results.length, 20, "default page size");
      t.equal(first.results[0]!.inputs.i, 999);
      t.equal((await s.listResults(a.id, "other")).total, 10);
      t.same(await s.listResults(a.id, "never-ran"), { results: [], total: 0 });
      t.same((await s.loadSheet(a.id)).counts, { gen: 1000, other: 10 });
    });

    t.test("putFile stores content-addressed blobs with name, MIME type and size", async (t) => {
      const s = await make(t);
      const f1 = await s.putFile({ bytes: bytes("hello"), name: "greeting.txt" });
      const f2 = await s.putFile({ bytes: bytes("hello"), name: "again.txt" });
      t.equal(f1.id, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
      t.equal(f2.id, f1.id, "same content, same id");
      t.equal(f1.mime, "text/plain");
      t.equal(f1.size, 5);
      t.equal(f1.path, join(s.filesDir, f1.id));
      t.ok(existsSync(f1.path));
      const src = join(tempHome(t), "pic.png");
      writeFileSync(src, "not really a png");
      const f3 = await s.putFile({ path: src });
      t.equal(f3.name, "pic.png");
      t.equal(f3.mime, "image/png");
      t.same(await s.getFile(f3.id), f3);
      t.same(await s.fileForPath(f3.path), f3);
      t.equal(await s.fileForPath(src), undefined, "a path outside the store is not a file of it");
      t.equal(await s.getFile("../etc/passwd"), undefined);
    });

    t.test("deleteSheet removes the sheet, its records, and every file nothing else references", async (t) => {
      const s = await make(t);
      const a = await s.createSheet("local");
      const b = await s.createSheet("local");
      const onlyA = await s.putFile({ bytes: bytes("only in A") });
      const shared = await s.putFile({ bytes: bytes("in A and B's results") });
      const inBInput = await s.putFile({ bytes: bytes("A's result, B's input") });
      const unreferenced = await s.putFile({ bytes: bytes("uploaded, not used yet") });
      const onlyAInput = await s.putFile({ bytes: bytes("only an input of A") });
      await s.setInputs(a.id, { gen__image: onlyAInput.path });
      const ra = rec(a.id, "gen", { files: [onlyA.id, shared.id, inBInput.id] });
      await s.commitResult(ra, { select: true });
      await s.commitResult(rec(b.id, "gen", { files: [shared.id] }), { select: true });
      await s.setInputs(b.id, { gen__image: inBInput.path });
      await s.putRun({ id: "u1", sheetId: a.id, mode: "step", nodes: ["gen"], status: "done", startedAt: 1 });
      await s.deleteSheet(a.id);
      t.equal(await s.getSheet(a.id), undefined);
      t.equal(await s.getResult(a.id, ra.id), undefined);
      t.equal(await s.getRun(a.id, "u1"), undefined);
      t.equal(await codeOf(s.loadSheet(a.id)), "E_UNKNOWN_SHEET");
      t.same((await s.listSheets("local")).map((x) => x.id), [b.id]);
      for (const gone of [onlyA, onlyAInput]) {
        t.equal(await s.getFile(gone.id), undefined);
        t.notOk(existsSync(gone.path), "a blob only A referenced is gone");
      }
      for (const kept of [shared, inBInput, unreferenced]) {
        t.ok(await s.getFile(kept.id), `${kept.id.slice(0, 8)} kept`);
        t.ok(existsSync(kept.path));
      }
      t.equal(await codeOf(s.deleteSheet(a.id)), "E_UNKNOWN_SHEET");
    });

    t.test("putRun / getRun keep run records per sheet", async (t) => {
      const s = await make(t);
      const a = await s.createSheet("local");
      const run: RunRecord = { id: newId("u"), sheetId: a.id, mode: "to-here", target: "cut", nodes: ["gen", "cut"], status: "running", startedAt: 5 };
      await s.putRun(run);
      t.same(await s.getRun(a.id, run.id), run);
      await s.putRun({ ...run, status: "done", finishedAt: 9 });
      t.equal((await s.getRun(a.id, run.id))?.status, "done");
      t.equal(await s.getRun(a.id, "nope"), undefined);
    });

    t.test("getMeta / setMeta keep an app-level cache", async (t) => {
      const s = await make(t);
      t.equal(await s.getMeta("api:space"), undefined);
      await s.setMeta("api:space", { endpoints: ["/predict"] });
      t.same(await s.getMeta("api:space"), { endpoints: ["/predict"] });
    });

    t.test("onChange(listener) sees every change made through the handle until unsubscribed", async (t) => {
      const s = await make(t);
      const seen: StoreChange[] = [];
      const off = s.onChange((c) => seen.push(c));
      const a = await s.createSheet("local");
      await s.setInputs(a.id, { x: 1 });
      await s.setSelections(a.id, { gen: null });
      const r = rec(a.id, "gen");
      await s.commitResult(r, { select: true });
      await s.updateSheet(a.id, { name: "n" });
      off();
      await s.setInputs(a.id, { x: 2 });
      t.same(seen, [
        { type: "sheets", user: "local" },
        { type: "inputs", sheetId: a.id, values: { x: 1 }, revision: 1 },
        { type: "selections", sheetId: a.id, selections: { gen: null }, revision: 2 },
        { type: "result", sheetId: a.id, record: r, selected: true },
        { type: "sheets", user: "local" },
      ]);
    });

    t.test("two sessions on one sheet: concurrent edits to different inputs are both kept, the same input converges on the last write", async (t) => {
      const s = await make(t);
      const a = await s.createSheet("local");
      // Each "session" mirrors the sheet's inputs from the changes it sees.
      const mirrors = [{}, {}].map((m: Record<string, unknown>) => {
        s.onChange((c) => c.type === "inputs" && c.sheetId === a.id && Object.assign(m, c.values));
        return m;
      });
      const revisions = await Promise.all([
        s.setInputs(a.id, { gen__prompt: "from tab 1" }),
        s.setInputs(a.id, { gen__seed: 7 }),
        s.setInputs(a.id, { cut__mode: "first" }),
        s.setInputs(a.id, { cut__mode: "last" }),
      ]);
      t.same(revisions, [1, 2, 3, 4], "each edit gets its own revision, in order");
      const want = { gen__prompt: "from tab 1", gen__seed: 7, cut__mode: "last" };
      t.same((await s.loadSheet(a.id)).inputs, want);
      for (const m of mirrors) t.same(m, want, "every session converged");
    });
  });
}

// ---------------------------------------------------------------------------------------
// LevelStore only: durability, upgrades, the lock, crashes.
// ---------------------------------------------------------------------------------------

function levelAt(home: string, app = "app", extra: Partial<Parameters<typeof LevelStore.open>[0]> = {}) {
  return LevelStore.open({ appDir: join(home, "apps", app), filesDir: join(home, "files"), ...extra });
}

t.test("LevelStore: reopening finds everything, and recovery marks running runs interrupted", async (t) => {
  const home = tempHome(t);
  let s = await levelAt(home);
  const a = await s.createSheet("local");
  await s.updateSheet(a.id, { viewport: { x: 3, y: 4, zoom: 2 }, choices: { c: "v2" } });
  const f = await s.putFile({ bytes: bytes("png bytes"), name: "out.png" });
  await s.setInputs(a.id, { gen__prompt: "cat", gen__image: f.path });
  const r = rec(a.id, "gen", { files: [f.id], outputs: { image: f.path } });
  await s.commitResult(r, { select: true });
  const live: RunRecord = { id: newId("u"), sheetId: a.id, mode: "all", nodes: ["gen"], status: "running", startedAt: 1 };
  const done: RunRecord = { ...live, id: newId("u"), status: "done", finishedAt: 2 };
  await s.putRun(live);
  await s.putRun(done);
  await s.setMeta("info", { v: 1 });
  const before = await s.loadSheet(a.id);
  await s.close();

  s = await levelAt(home);
  t.teardown(() => s.close());
  t.same(s.interruptedRuns, [live.id]);
  t.same(await s.loadSheet(a.id), before);
  t.same(await s.getResult(a.id, r.id), r);
  t.same(await s.findByKey(a.id, "gen", r.key), r);
  t.same(await s.getFile(f.id), f);
  t.same(await s.getMeta("info"), { v: 1 });
  t.equal((await s.getRun(a.id, live.id))?.status, "interrupted");
  t.same(await s.getRun(a.id, done.id), done, "recovery never changes a finished run");
  t.equal(await codeOf(s.commitResult(r, { select: true })), "E_RESULT_EXISTS", "a finished result never changes");
});

t.test("LevelStore: an upgrade steps through migrations and every record reads back", async (t) => {
  const home = tempHome(t);
  let s = await levelAt(home);
  const a = await s.createSheet("local");
  const b = await s.createSheet("alice", "Theirs");
  const f = await s.putFile({ bytes: bytes("kept across upgrades") });
  await s.setInputs(a.id, { p: "x", img: f.path });
  const records: ResultRecord[] = [];
  for (let i = 0; i < 30; i++) {
    const r = rec(i % 2 ? a.id : b.id, `n${i % 3}`, { key: `k${i}`, files: i % 5 ? [] : [f.id] });
    records.push(r);
    await s.commitResult(r, { select: i % 4 === 0 });
  }
  await s.setMeta("cache", [1, 2]);
  const states = [await s.loadSheet(a.id), await s.loadSheet(b.id)];
  await s.close();

  // A sample step: v1 -> v2 gives every result a `tags` list and renames meta `cache`.
  const step: Migration = {
    from: SCHEMA_VERSION,
    to: SCHEMA_VERSION + 1,
    description: "results get tags; meta cache -> api-cache",
    async run(tx) {
      for await (const [k, r] of tx.entries(under("result"))) tx.put(k, { ...(r as object), tags: [] });
      tx.put(K.meta("api-cache"), await tx.get(K.meta("cache")));
      tx.del(K.meta("cache"));
    },
  };
  s = await levelAt(home, "app", { schemaVersion: SCHEMA_VERSION + 1, migrations: [step] });
  for (const r of records) t.same(await s.getResult(r.sheetId, r.id), { ...r, tags: [] });
  for (const st of states) {
    const now = await s.loadSheet(st.sheet.id);
    t.same(now.inputs, st.inputs);
    t.same(now.selections, st.selections);
    t.same(now.counts, st.counts);
    t.same(now.sheet, st.sheet);
  }
  t.same((await s.listSheets("alice")).map((x) => x.name), ["Theirs"]);
  t.same(await s.getMeta("api-cache"), [1, 2]);
  t.same(await s.getFile(f.id), f);
  await s.close();
  t.same(await auditStore(join(home, "apps", "app"), join(home, "files")), []);

  // The old code refuses a database it cannot read, rather than rewriting it.
  t.equal(await codeOf(levelAt(home)), "E_STORE_SCHEMA");
  // And a gap in the steps is named.
  s = await levelAt(home, "app", { schemaVersion: SCHEMA_VERSION + 1, migrations: [step] });
  await s.close();
  t.match(await levelAt(home, "app", { schemaVersion: SCHEMA_VERSION + 3, migrations: [step] }).catch((e) => e.message), new RegExp(`No migration from schema version ${SCHEMA_VERSION + 1}`));
});

t.test("LevelStore: a migration never drops data — replaced values are kept as backups", async (t) => {
  const home = tempHome(t);
  let s = await levelAt(home);
  await s.setMeta("old", "value");
  await s.close();
  const step: Migration = { from: SCHEMA_VERSION, to: SCHEMA_VERSION + 1, description: "drop old", run: async (tx) => tx.del(K.meta("old")) };
  s = await levelAt(home, "app", { schemaVersion: SCHEMA_VERSION + 1, migrations: [step] });
  t.equal(await s.getMeta("old"), undefined);
  await s.close();
  const { Level } = await import("level");
  const db = new Level<string, any>(join(home, "apps", "app", "db"), { valueEncoding: "json" });
  t.equal(await db.get(K.backup(SCHEMA_VERSION, K.meta("old"))), "value");
  t.equal(await db.get(K.version), SCHEMA_VERSION + 1);
  await db.close();
});

t.test("LevelStore: results that finish while a batch waits for the disk are written together, in one synced batch", async (t) => {
  const s = await levelAt(tempHome(t));
  t.teardown(() => s.close());
  const a = await s.createSheet("local");
  // Every batch written to the real database, counted; the first is held until the next results are in.
  type Batch = { length: number; write: (o?: { sync?: boolean }) => Promise<void> };
  const db = (s as unknown as { db: { batch: () => Batch } }).db;
  const open = db.batch.bind(db);
  const batches: Array<{ ops: number; sync: boolean }> = [];
  let entered!: () => void;
  const inFirst = new Promise<void>((r) => (entered = r));
  db.batch = () => {
    const batch = open();
    const write = batch.write.bind(batch);
    batch.write = async (o) => {
      batches.push({ ops: batch.length, sync: o?.sync === true });
      if (batches.length === 1) entered();
      return write(o);
    };
    return batch;
  };
  const first = s.commitResult(rec(a.id, "w0"), { select: true });
  await inFirst;
  const rest = Array.from({ length: 50 }, (_, i) => rec(a.id, `w${i + 1}`));
  await Promise.all([first, ...rest.map((r) => s.commitResult(r, { select: true }))]);
  t.equal(batches.length, 2, "the 50 results that came during the first batch went in one more");
  t.ok(batches.every((b) => b.sync), "both synced");
  const state = await s.loadSheet(a.id);
  t.equal(Object.keys(state.selections).length, 51);
  t.equal(state.sheet.revision, 51, "one revision per selecting result");
  for (const r of rest) t.equal((await s.getResult(a.id, r.id))?.nodeId, r.nodeId);
});

t.test("writeBatch writes all of its ops or none: a bad op rejects it, nothing is written, and the database stays usable", async (t) => {
  const db = await openLocked(join(tempHome(t), "raw"));
  t.teardown(() => db.close());
  await writeBatch(db, [{ type: "put", key: "a", value: { n: 1 } }, { type: "put", key: "b", value: 2 }], { sync: true });
  t.same(await db.getMany(["a", "b"]), [{ n: 1 }, 2]);
  const bad = writeBatch(db, [{ type: "put", key: "c", value: 3 }, { type: "del", key: "a" }, { type: "put", key: "d", value: undefined }]);
  await t.rejects(bad, { code: "LEVEL_INVALID_VALUE" });
  t.same(await db.getMany(["a", "c", "d"]), [{ n: 1 }, undefined, undefined], "none of the batch's ops was written");
  await writeBatch(db, [{ type: "del", key: "b" }]);
  t.equal(await db.get("b"), undefined, "a later batch is written");
});

t.test("LevelStore: a second open of one database is 'already in use by another daggr process'", async (t) => {
  const home = tempHome(t);
  const first = await levelAt(home);
  t.teardown(() => first.close());
  const a = await first.createSheet("local");
  const err = await levelAt(home).catch((e) => e);
  t.ok(isStoreLocked(err));
  t.ok(err instanceof DaggrError);
  t.equal(err.code, "E_STORE_LOCKED");
  t.match(err.message, /already in use by another daggr process/);

  // Another process: it prints the message and exits non-zero; the first is unaffected.
  const child = spawn(process.execPath, ["--import", "tsx", WRITER, "open", join(home, "apps", "app"), join(home, "files")], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const code = await new Promise((ok) => child.on("exit", ok));
  t.equal(code, 1);
  t.match(stderr, new RegExp(`already in use by another daggr process \\(pid ${process.pid}`));
  t.equal(await first.setInputs(a.id, { still: "works" }), 1);
});

t.test("LevelStore: files are shared by apps; a blob goes only when no app references it", async (t) => {
  const home = tempHome(t);
  const one = await levelAt(home, "one");
  const two = await levelAt(home, "two");
  t.teardown(() => Promise.all([one.close(), two.close()]));
  const [s1, s2] = [await one.createSheet("local"), await two.createSheet("local")];
  const f1 = await one.putFile({ bytes: bytes("same picture") });
  const f2 = await two.putFile({ bytes: bytes("same picture") });
  t.equal(f1.path, f2.path);
  await one.commitResult(rec(s1.id, "gen", { files: [f1.id] }), { select: true });
  await two.commitResult(rec(s2.id, "gen", { files: [f2.id] }), { select: true });
  await one.deleteSheet(s1.id);
  t.equal(await one.getFile(f1.id), undefined, "app one forgot it");
  t.ok(existsSync(f2.path), "app two still has the blob");
  await two.deleteSheet(s2.id);
  t.notOk(existsSync(f2.path), "the last reference took it");
  t.same(readdirSync(join(home, "files")), [], "no tombs or temp files left");
});

t.test("Claims.release(id) replayed after a crash puts back a blob another app claims, or finishes deleting it", async (t) => {
  const home = tempHome(t);
  const files = new FilesDir(join(home, "files"));
  const [one, two] = ["one", "two"].map((app) => new Claims(join(home, "apps", app), files));
  const f = await files.put({ bytes: bytes("shared") });
  t.ok(await one!.claim(f.id));
  t.ok(await two!.claim(f.id));
  // One died between moving the blob to its tomb and re-checking the claims.
  rmSync(join(one!.dir, f.id));
  renameSync(f.path, join(files.dir, `.gc-${f.id}-one`));
  await one!.release(f.id); // what recovery replays from the gc journal
  t.ok(existsSync(f.path), "two's blob is back");
  await two!.release(f.id);
  t.notOk(existsSync(f.path));
  t.same(readdirSync(files.dir), []);
  t.notOk(await one!.claim(f.id), "claiming a missing blob says so, so putFile writes it again");
});

t.test("openStore({ home, persistKey }) lays out <home>/apps/<key>/db and <home>/files", async (t) => {
  const home = tempHome(t);
  const s = await openStore({ home, persistKey: "my_cool_app" });
  const f = await s.putFile({ bytes: bytes("x") });
  t.equal(f.path, join(home, "files", f.id));
  t.ok(existsSync(join(home, "apps", "my_cool_app", "db", "CURRENT")));
  await s.close();
  t.ok((await openStore({ home, persistKey: false })) instanceof MemoryStore);
  t.equal(await codeOf(openStore({ home, persistKey: "../escape" })), "E_BAD_PERSIST_KEY");
  t.equal(defaultHome({ DAGGR_HOME: "/d", HF_HOME: "/h" }), "/d");
  t.equal(defaultHome({ HF_HOME: "/h" }), "/h/daggr");
  t.match(defaultHome({}), /\.cache\/huggingface\/daggr$/);
});

t.test("LevelStore: loadSheet reads O(nodes), not O(results)", async (t) => {
  const home = tempHome(t);
  const s = await levelAt(home);
  t.teardown(() => s.close());
  const a = await s.createSheet("local");
  for (let i = 0; i < 300; i++) await s.commitResult(rec(a.id, `n${i % 3}`, { outputs: { big: "x".repeat(2000) } }), { select: true });
  const state = await s.loadSheet(a.id);
  t.equal(state.selected.length, 3, "only the selected records are loaded");
  t.same(state.counts, { n0: 100, n1: 100, n2: 100 });
});

// ---------------------------------------------------------------------------------------
// Crash safety: kill -9 a writer at random points, 50 times.
// ---------------------------------------------------------------------------------------

interface Acks {
  runs: Set<string>;
  done: Set<string>;
  commits: Array<{ id: string; node: string; files: string[] }>;
}

async function runAndKill(appDir: string, filesDir: string, sheetId: string, acks: Acks): Promise<void> {
  // Without tap's coverage hooks (NODE_OPTIONS): they slow each start and are not wanted here.
  const env = { ...process.env, NODE_OPTIONS: "" };
  const child = spawn(process.execPath, [await writerBundle(), "write", appDir, filesDir, sheetId], { stdio: ["ignore", "pipe", "pipe"], env });
  let buf = "";
  let stderr = "";
  let commits = 0;
  const exited = new Promise<void>((ok) => child.on("exit", () => ok()));
  const started = new Promise<void>((ok) => {
    child.stdout.on("data", (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split("\n");
      buf = lines.pop()!;
      for (const line of lines) {
        const [what, id, node, ...files] = line.split(" ");
        if (what === "run") acks.runs.add(id!);
        if (what === "done") acks.done.add(id!);
        if (what === "commit") {
          acks.commits.push({ id: id!, node: node!, files });
          if (++commits === 1) ok();
        }
      }
    });
    child.on("exit", () => ok());
  });
  child.stderr.on("data", (d) => (stderr += d));
  await started;
  await new Promise((ok) => setTimeout(ok, Math.random() * 80));
  child.kill("SIGKILL");
  await exited;
  if (commits === 0) throw new Error(`writer made no commit: ${stderr}`);
}

/** A start can fail for reasons outside the store (a file being rewritten under tsx): retry once. */
async function runAndKillRetry(appDir: string, filesDir: string, sheetId: string, acks: Acks): Promise<void> {
  await runAndKill(appDir, filesDir, sheetId, acks).catch(() => runAndKill(appDir, filesDir, sheetId, acks));
}

/** One lane: its own app and sheet, the shared files dir; `rounds` kills and checks. */
async function crashLane(appDir: string, filesDir: string, rounds: number, failures: string[]): Promise<number> {
  let s = await LevelStore.open({ appDir, filesDir });
  const sheet = await s.createSheet("local");
  await s.close();
  const acks: Acks = { runs: new Set(), done: new Set(), commits: [] };
  for (let round = 0; round < rounds && !failures.length; round++) {
    const fail = (what: string) => failures.push(`${appDir} round ${round}: ${what}`);
    await runAndKillRetry(appDir, filesDir, sheet.id, acks);
    s = await LevelStore.open({ appDir, filesDir });
    try {
      const state = await s.loadSheet(sheet.id);
      const lastAcked = new Map<string, string>();
      for (const c of acks.commits) {
        lastAcked.set(c.node, c.id);
        const r = await s.getResult(sheet.id, c.id);
        if (!r) fail(`acknowledged ${c.id} missing`);
        else if (r.files.join() !== c.files.join()) fail(`${c.id} files differ`);
        for (const f of c.files) if (!(await s.getFile(f)) || !existsSync(join(filesDir, f))) fail(`file ${f} of ${c.id} missing`);
      }
      for (const [node, id] of lastAcked) {
        const sel = state.selections[node];
        if (!sel || sel < id) fail(`selection of ${node} is ${sel}, acknowledged ${id}`);
      }
      for (const id of acks.runs) {
        const status = (await s.getRun(sheet.id, id))?.status;
        const want = acks.done.has(id) ? ["done"] : ["done", "interrupted"];
        if (!want.includes(status!)) fail(`run ${id} reads ${status}`);
      }
    } finally {
      await s.close();
    }
    for (const p of await auditStore(appDir, filesDir)) fail(p);
  }
  return acks.commits.length;
}

t.test("LevelStore survives kill -9 of a writer 20 times: acknowledged commits whole, nothing dangling, runs interrupted", async (t) => {
  // Two apps side by side on the shared files dir (two lanes keep both cores busy while
  // a child starts), so blob claims between apps are crash-tested as well.
  const home = tempHome(t);
  const failures: string[] = [];
  const filesDir = join(home, "files");
  const commits = await Promise.all(["one", "two"].map((app) => crashLane(join(home, "apps", app), filesDir, 10, failures)));
  t.same(failures, []);
  t.ok(commits.every((n) => n >= 10), `${commits.join(" + ")} acknowledged commits checked`);
});

// ---------------------------------------------------------------------------------------
// What the server acknowledges is on disk: kill -9 a real server at random points, many
// of them right as an acknowledgement arrives, and check every acknowledgement held.
// ---------------------------------------------------------------------------------------

/** What a client was told, in arrival order: each is a promise the store must keep. */
interface ServerAcks {
  /** Per input: every value sent, in order, and the index of the last acknowledged one. */
  inputs: Map<string, { sent: unknown[]; acked: number; rev: number }>;
  /** Runs reported `run-finished: done`, with the results their nodes completed with. */
  done: Set<string>;
  /** Runs acknowledged (started): each must read done, failed or interrupted afterwards. */
  started: Set<string>;
  /** Results shown as done (`node-completed`). */
  shown: Set<string>;
}

type KillAt = "ack" | "done" | "completed" | "timer";

/**
 * One round: starts the server child on the lane's store, connects, sends a seeded burst
 * of edits and runs, and kills the child with SIGKILL at the chosen point: synchronously
 * inside the message handler that receives the n-th acknowledgement of that kind, or
 * after a seeded delay. Everything received before the kill counts as acknowledged.
 */
/** A server child that has loaded its code and waits for `go` to open the store (see store-writer.ts). */
interface Warm {
  child: ReturnType<typeof spawn>;
  exited: Promise<void>;
  url: Promise<string>;
}

/**
 * Starts the next round's child while this round is checked: loading code is most of a
 * child's start, and it holds no lock until told to go (after the previous child died).
 */
async function warmChild(appDir: string, filesDir: string): Promise<Warm> {
  const env = { ...process.env, NODE_OPTIONS: "" };
  const child = spawn(process.execPath, [await writerBundle(), "serve", appDir, filesDir], { stdio: ["pipe", "pipe", "pipe"], env });
  const exited = new Promise<void>((ok) => child.on("exit", () => ok()));
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  const url = new Promise<string>((ok, fail) => {
    let buf = "";
    child.stdout!.on("data", (d: Buffer) => {
      buf += d.toString();
      const m = /ready (\S+)/.exec(buf);
      if (m) ok(m[1]!);
    });
    child.on("exit", () => fail(new Error(`server child exited before ready: ${stderr}`)));
  });
  url.catch(() => undefined);
  return { child, exited, url };
}

async function serveAndKill(warm: Warm, rand: () => number, round: number, acks: ServerAcks): Promise<{ sheetId: string; kill: string }> {
  const { child, exited } = warm;
  child.stdin!.write("go\n");
  const url = await warm.url;
  const { WireClient } = await import("./fixtures/server-wire.js");
  const { c, snap } = await WireClient.open(url);
  if (snap.type !== "snapshot") throw new Error("no snapshot");
  const sheetId = snap.sheet.id;

  const kinds: KillAt[] = ["ack", "ack", "done", "completed", "timer"];
  const killAt = kinds[Math.floor(rand() * kinds.length)]!;
  const nth = 1 + Math.floor(rand() * 6);
  let seen = 0;
  let killed = false;
  const kill = () => {
    if (killed) return;
    killed = true;
    child.kill("SIGKILL");
  };
  const pending = new Map<string, { input?: string; index?: number; run?: boolean }>();
  let runsAcked = 0;
  let runsFinished = 0;
  let allFinished: () => void = () => undefined;
  c.ws.on("message", (data: Buffer) => {
    const frame = JSON.parse(data.toString());
    // A burst of events comes in one message: each is read as its own.
    for (const m of frame.type === "events" ? frame.events.map((event: unknown) => ({ type: "event", event })) : [frame]) observe(m);
  });
  function observe(m: ReturnType<typeof JSON.parse>): void {
    if (m.type === "ack" && pending.has(m.re)) {
      const p = pending.get(m.re)!;
      if (p.input) {
        const rec = acks.inputs.get(p.input)!;
        rec.acked = Math.max(rec.acked, p.index!);
        rec.rev = Math.max(rec.rev, m.result?.rev ?? 0);
      }
      if (p.run) {
        acks.started.add(m.result.runId);
        runsAcked++;
      }
      if (killAt === "ack" && ++seen === nth) kill();
    }
    if (m.type === "event" && m.event.type === "run-finished" && acks.started.has(m.event.runId) && ++runsFinished === runsAcked) allFinished();
    if (m.type === "event" && m.event.type === "run-finished" && m.event.status === "done") {
      acks.done.add(m.event.runId);
      if (killAt === "done" && ++seen === nth) kill();
    }
    if (m.type === "event" && m.event.type === "node-completed") {
      acks.shown.add(m.event.result.id);
      if (killAt === "completed" && ++seen === nth) kill();
    }
  }
  if (killAt === "timer") setTimeout(kill, Math.floor(rand() * 40));
  // A burst of edits to two inputs (with the revision each was made on) and explicit runs.
  const ops = 6 + Math.floor(rand() * 20);
  for (let i = 0; i < ops && !killed; i++) {
    const id = `q${round}-${i}`;
    const r = rand();
    if (r < 0.25) {
      pending.set(id, { run: true });
      c.send({ id, type: "run", nodeId: "pair", mode: "to-here" });
      continue;
    }
    const input = r < 0.65 ? "shout__text" : "pair__n";
    const rec = acks.inputs.get(input) ?? { sent: [], acked: -1, rev: 0 };
    acks.inputs.set(input, rec);
    const value = input === "pair__n" ? round * 1000 + i : `v${round}-${i}`;
    rec.sent.push(value);
    pending.set(id, { input, index: rec.sent.length - 1 });
    const [nodeId, port] = input.split("__");
    c.send({ id, type: "set-input", nodeId, port, value });
    if (rand() < 0.3) await new Promise((ok) => setImmediate(ok));
  }
  // A kill point not reached during the burst: wait for the burst's last answer and,
  // for the kinds that need it, for the runs it started to finish; then kill anyway.
  const last = (m: ServerMessage) => (m.type === "ack" || m.type === "error") && m.re === `q${round}-${ops - 1}`;
  if (!killed) await Promise.race([exited, c.next(last, 5000).catch(() => undefined)]);
  if (!killed && (killAt === "done" || killAt === "completed") && runsFinished < runsAcked) {
    await Promise.race([exited, new Promise<void>((ok) => (allFinished = ok))]);
  }
  kill();
  await exited;
  c.close();
  return { sheetId, kill: `${killAt}#${nth}` };
}

/** Checks a reopened store against everything acknowledged so far; returns what broke. */
async function checkAcks(s: LevelStore, sheetId: string, acks: ServerAcks): Promise<string[]> {
  const bad: string[] = [];
  const state = await s.loadSheet(sheetId);
  for (const [input, rec] of acks.inputs) {
    if (rec.acked < 0) continue;
    // The last acknowledged value, or one sent after it that also landed before the kill.
    const allowed = rec.sent.slice(rec.acked);
    if (!allowed.some((v) => v === state.inputs[input])) bad.push(`input ${input} reads ${JSON.stringify(state.inputs[input])}, acknowledged ${JSON.stringify(rec.sent[rec.acked])}`);
    if ((state.inputRevs?.[input] ?? 0) < rec.rev) bad.push(`input ${input} at revision ${state.inputRevs?.[input]}, acknowledged ${rec.rev}`);
  }
  for (const runId of acks.started) {
    const status = (await s.getRun(sheetId, runId))?.status;
    if (acks.done.has(runId) ? status !== "done" : !["done", "failed", "interrupted"].includes(status!)) bad.push(`run ${runId} reads ${status}${acks.done.has(runId) ? ", reported done" : ""}`);
  }
  for (const id of acks.shown) if ((await s.getResult(sheetId, id))?.status !== "success") bad.push(`result ${id} shown done is missing`);
  return bad;
}

t.test("the server acknowledges only what is on disk: kill -9 at random points (seeded; 40 rounds, DAGGR_CRASH_ROUNDS for more) loses no acknowledged edit, run or result", async (t) => {
  const seed = Number(process.env.DAGGR_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
  t.comment(`seed ${seed} (replay the same kill points and edits: DAGGR_CRASH_SEED=${seed})`);
  // 40 rounds by default keep the file within its time on a loaded 2-core machine; DAGGR_CRASH_ROUNDS=200 (or more) for the long run.
  const rounds = Number(process.env.DAGGR_CRASH_ROUNDS ?? 40);
  const home = tempHome(t);
  const filesDir = join(home, "files");
  const failures: string[] = [];
  const kills = new Map<string, number>();
  const started = performance.now();
  const lane = async (name: string, count: number, laneSeed: number) => {
    const appDir = join(home, "apps", name);
    const rand = prng(laneSeed);
    const acks: ServerAcks = { inputs: new Map(), done: new Set(), started: new Set(), shown: new Set() };
    let warm = await warmChild(appDir, filesDir);
    for (let round = 0; round < count && !failures.length; round++) {
      const { sheetId, kill } = await serveAndKill(warm, rand, round, acks);
      warm = await warmChild(appDir, filesDir);
      kills.set(kill.split("#")[0]!, (kills.get(kill.split("#")[0]!) ?? 0) + 1);
      const s = await LevelStore.open({ appDir, filesDir });
      try {
        for (const b of await checkAcks(s, sheetId, acks)) failures.push(`${name} round ${round} (killed at ${kill}): ${b}`);
      } finally {
        await s.close();
      }
      for (const p of await auditStore(appDir, filesDir)) failures.push(`${name} round ${round}: ${p}`);
    }
    warm.child.kill("SIGKILL");
    await warm.exited;
    return acks;
  };
  const half = Math.ceil(rounds / 2);
  const lanes = await Promise.all([lane("one", half, seed), lane("two", rounds - half, seed ^ 0x5bd1e995)]);
  t.same(failures, [], `seed ${seed}`);
  const total = (f: (a: ServerAcks) => number) => lanes.reduce((n, a) => n + f(a), 0);
  const edits = total((a) => [...a.inputs.values()].reduce((n, r) => n + r.acked + 1, 0));
  t.ok(total((a) => a.done.size) > 0 && edits > rounds, `${edits} acknowledged edits, ${total((a) => a.done.size)} runs reported done, ${total((a) => a.shown.size)} results shown done`);
  t.comment(`kill points: ${[...kills].map(([k, n]) => `${k} ${n}`).join(", ")}; ${rounds} rounds in ${((performance.now() - started) / 1000).toFixed(1)} s`);
});

t.test("a run a restart interrupts shows as interrupted to a tab that reconnects: run record, history and the node's state", async (t) => {
  const home = tempHome(t);
  const appDir = join(home, "apps", "crash");
  const filesDir = join(home, "files");
  const warm = await warmChild(appDir, filesDir);
  warm.child.stdin!.write("go\n");
  const { WireClient } = await import("./fixtures/server-wire.js");
  const { c, snap } = await WireClient.open(await warm.url);
  const sheetId = (snap as { sheet: { id: string } }).sheet.id;
  const ack = (await c.request({ type: "run", nodeId: "hang", mode: "step" })) as { result: { runId: string } };
  await c.event("node-started", "hang");
  warm.child.kill("SIGKILL");
  await warm.exited;
  c.close();

  // The next start, in this process: the same app, the same graph, a real server.
  const store = await LevelStore.open({ appDir, filesDir });
  t.same(store.interruptedRuns, [ack.result.runId]);
  const { crashGraph } = await import("./fixtures/store-writer-graph.js");
  const { launch } = await import("../lib/server/index.js");
  const server = await launch(crashGraph(), { store, port: 0, quiet: true });
  t.teardown(async () => {
    await server.close();
    await store.close();
  });
  const again = await WireClient.open(server.url, sheetId);
  const s = again.snap as import("../lib/protocol.js").SnapshotMessage;
  t.match(s.nodes.hang, { activity: "failed", error: { code: "E_INTERRUPTED", message: /server stopped before node 'hang' finished/ } });
  t.equal(s.counts.hang, 1, "the interruption is in the node's history");
  t.match(s.nodes.pair, { activity: "idle" }, "nodes the run did not start are untouched");
  t.equal((await store.getRun(sheetId, ack.result.runId))?.status, "interrupted");
  const history = (await again.c.request({ type: "history", nodeId: "hang" })) as { results: Array<{ status: string; runId: string }> };
  t.match(history.results, [{ status: "interrupted", runId: ack.result.runId }]);
  again.c.close();
});

t.test("temp files of dead processes are swept at start-up (blobs, uploads, call stores, FnNode scratch); live ones are kept; a closing server sweeps its uploads", async (t) => {
  const home = tempHome(t);
  const filesDir = join(home, "files");
  mkdirSync(filesDir, { recursive: true });
  // A pid that is surely gone: a child that has exited.
  const dead = await new Promise<number>((ok) => {
    const c = spawn(process.execPath, ["-e", "0"]);
    c.on("exit", () => ok(c.pid!));
  });
  const os = tmpdir();
  const planted = {
    deadBlob: join(filesDir, `.tmp-${dead}-0badc0de`),
    liveBlob: join(filesDir, `.tmp-${process.pid}-0badc0de`),
    deadUpload: join(os, `daggr-upload-${dead}-0badc0de`),
    deadCall: join(os, `daggr-mem-${dead}-0badc0de`),
    deadFn: join(os, `daggr-fn-${dead}-0badc0de`),
    ownUpload: join(os, `daggr-upload-${process.pid}-0badc0de`),
  };
  for (const p of [planted.deadBlob, planted.liveBlob, planted.deadUpload, planted.ownUpload]) writeFileSync(p, "partial");
  for (const p of [planted.deadCall, planted.deadFn]) {
    mkdirSync(join(p, "files"), { recursive: true });
    writeFileSync(join(p, "files", "x"), "scratch");
  }
  t.teardown(() => Object.values(planted).forEach((p) => rmSync(p, { recursive: true, force: true })));
  const store = await LevelStore.open({ appDir: join(home, "apps", "app"), filesDir });
  for (const k of ["deadBlob", "deadUpload", "deadCall", "deadFn"] as const) t.notOk(existsSync(planted[k]), `${k} swept at start-up`);
  t.ok(existsSync(planted.liveBlob), "a live process's blob in flight is kept");
  t.ok(existsSync(planted.ownUpload), "this process's upload in flight is kept while it serves");
  const { launch } = await import("../lib/server/index.js");
  const { crashGraph } = await import("./fixtures/store-writer-graph.js");
  const server = await launch(crashGraph(), { store, port: 0, quiet: true });
  await server.close();
  await store.close();
  t.notOk(existsSync(planted.ownUpload), "a closing server sweeps the uploads it left");
});

const diskFullSkip =
  process.platform !== "linux" || process.getuid?.() !== 0 ? "needs root on Linux to mount a small tmpfs (mount -t tmpfs); run the suite as root (CI does) to cover it" : false;
if (diskFullSkip) t.comment(`disk-full test skipped: ${diskFullSkip}`);

t.test("disk full: the node fails with E_STORAGE (never stays running), /api/health says degraded, and writing resumes once space is freed, keeping what was acknowledged", { skip: diskFullSkip }, async (t) => {
  const { execFileSync } = await import("node:child_process");
  const { FnNode, Graph, gr } = await import("../lib/index.js");
  const { launch } = await import("../lib/server/index.js");
  const { WireClient, raw } = await import("./fixtures/server-wire.js");
  const disk = mkdtempSync(join(tmpdir(), "daggr-full-"));
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=24m", "tmpfs", disk]);
  t.teardown(() => {
    execFileSync("umount", ["-l", disk]);
    rmSync(disk, { recursive: true, force: true });
  });
  const scratch = mkdtempSync(join(tmpdir(), "daggr-full-out-"));
  t.teardown(() => rmSync(scratch, { recursive: true, force: true }));
  // `blob` writes its output outside the full disk; copying it into the store is what fails.
  const text = new FnNode(({ text }: { text: string }) => text.toUpperCase(), { name: "text", autorun: false, inputs: { text: gr.Textbox({ value: "a" }), keep: gr.Number({ value: 0 }) }, outputs: { out: gr.Textbox() } });
  const blob = new FnNode(
    ({ kb }: { kb: number }) => {
      const path = join(scratch, `out-${kb}-${Date.now()}.bin`);
      writeFileSync(path, Buffer.alloc(kb * 1024, kb % 251));
      return path;
    },
    { name: "blob", autorun: false, inputs: { kb: gr.Number({ value: 512 }) }, outputs: { file: gr.File() } },
  );
  const graph = new Graph({ name: "full", nodes: [text, blob] });
  const appDir = join(disk, "apps", "full");
  const filesDir = join(disk, "files");
  let store = await LevelStore.open({ appDir, filesDir });
  const server = await launch(graph, { store, port: 0, quiet: true });
  let closed = false;
  t.teardown(async () => {
    if (!closed) await server.close();
    await store.close();
  });
  const { c, snap } = await WireClient.open(server.url);
  const sheetId = (snap as { sheet: { id: string } }).sheet.id;
  t.match(await c.request({ type: "set-input", nodeId: "text", port: "keep", value: 7 }), { type: "ack" }, "acknowledged before the disk fills");
  t.equal((await raw(server.url, "/api/health")).status, 200);

  // Fill the disk.
  const fillers: string[] = [];
  try {
    for (;;) {
      const f = join(disk, `filler-${fillers.length}`);
      writeFileSync(f, Buffer.alloc(64 * 1024, 1));
      fillers.push(f);
    }
  } catch (e) {
    t.equal((e as NodeJS.ErrnoException).code, "ENOSPC", `disk full after ${fillers.length} fillers`);
  }
  const ack = (await c.request({ type: "run", nodeId: "blob", mode: "step" })) as { type: string; result?: { runId: string }; code?: string };
  if (ack.type === "ack") {
    const failed = (await c.event("node-failed", "blob")) as { event: { error: { code: string; message: string } } };
    t.notMatch(failed.event.error.message, new RegExp(disk), "the message names files, not where they live");
    t.match(failed.event.error, { code: "E_STORAGE", message: /disk refused the write.*no space left on device.*Free some space/is }, "the node fails with a clear message");
    const finished = (await c.next((m) => m.type === "event" && m.event.type === "run-finished" && m.event.runId === ack.result!.runId)) as { event: { status: string } };
    t.equal(finished.event.status, "failed");
  } else t.equal(ack.code, "E_STORAGE", "or the run itself could not be recorded");
  const probe = await WireClient.open(server.url, sheetId);
  t.not((probe.snap as { nodes: Record<string, { activity: string }> }).nodes.blob!.activity, "running", "never left running");
  probe.c.close();
  const degraded = await raw(server.url, "/api/health");
  t.equal(degraded.status, 503);
  t.match(JSON.parse(degraded.body), { status: "degraded", storage: "degraded", error: /no space left on device/i });
  t.notMatch(degraded.body, new RegExp(disk), "no local path in the health report");

  // Free the space: health comes back, edits and runs work, nothing acknowledged was lost.
  for (const f of fillers) rmSync(f);
  const healthy = await raw(server.url, "/api/health");
  t.equal(healthy.status, 200, healthy.body);
  t.match(await c.request({ type: "set-input", nodeId: "text", port: "text", value: "after" }), { type: "ack" });
  await c.request({ type: "run", nodeId: "blob", mode: "step" });
  const done = (await c.event("node-completed", "blob")) as { event: { result: { id: string } } };
  c.close();
  await server.close();
  closed = true;
  await store.close();
  store = await LevelStore.open({ appDir, filesDir });
  const state = await store.loadSheet(sheetId);
  t.match(state.inputs, { text__keep: 7, text__text: "after" }, "edits acknowledged before and after the full disk are kept");
  t.equal((await store.getResult(sheetId, done.event.result.id))?.status, "success");
  await store.close();
  t.same(await auditStore(appDir, filesDir), [], "the database is consistent");
});

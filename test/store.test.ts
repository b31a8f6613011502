import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { newId, type ResultRecord, type RunRecord } from "../lib/engine/records.js";
import type { Store, StoreChange } from "../lib/engine/store.js";
import { DaggrError } from "../lib/graph/index.js";
import { defaultHome, isStoreLocked, LevelStore, MemoryStore, openStore, SCHEMA_VERSION, type Migration } from "../lib/store/index.js";
import { Claims } from "../lib/store/claims.js";
import { FilesDir } from "../lib/store/files.js";
import { K, under } from "../lib/store/level-keys.js";
import { auditStore } from "./fixtures/store-audit.js";

const WRITER = join(import.meta.dirname, "fixtures", "store-writer.ts");

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
  t.match(await levelAt(home, "app", { schemaVersion: SCHEMA_VERSION + 3, migrations: [step] }).catch((e) => e.message), /No migration from schema version 2/);
});

t.test("LevelStore: a migration never drops data — replaced values are kept as backups", async (t) => {
  const home = tempHome(t);
  let s = await levelAt(home);
  await s.setMeta("old", "value");
  await s.close();
  const step: Migration = { from: 1, to: 2, description: "drop old", run: async (tx) => tx.del(K.meta("old")) };
  s = await levelAt(home, "app", { schemaVersion: 2, migrations: [step] });
  t.equal(await s.getMeta("old"), undefined);
  await s.close();
  const { Level } = await import("level");
  const db = new Level<string, any>(join(home, "apps", "app", "db"), { valueEncoding: "json" });
  t.equal(await db.get(K.backup(1, K.meta("old"))), "value");
  t.equal(await db.get(K.version), 2);
  await db.close();
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
  const child = spawn(process.execPath, ["--import", "tsx", WRITER, "write", appDir, filesDir, sheetId], { stdio: ["ignore", "pipe", "pipe"], env });
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

t.test("LevelStore survives kill -9 of a writer 50 times: acknowledged commits whole, nothing dangling, runs interrupted", async (t) => {
  // Two apps side by side on the shared files dir (two lanes keep both cores busy while
  // a child starts), so blob claims between apps are crash-tested as well.
  const home = tempHome(t);
  const failures: string[] = [];
  const filesDir = join(home, "files");
  const commits = await Promise.all(["one", "two"].map((app) => crashLane(join(home, "apps", app), filesDir, 25, failures)));
  t.same(failures, []);
  t.ok(commits.every((n) => n >= 25), `${commits.join(" + ")} acknowledged commits checked`);
});

import { statfs } from "node:fs/promises";
import { newId, ResultStatus, RunStatus, type ResultRecord, type RunRecord } from "../engine/records.js";
import type { FileMeta, HistoryPage, PutFileInput, SheetInfo, SheetState, Store, StoreChange, StoreHealth } from "../engine/store.js";
import { Claims } from "./claims.js";
import { isDiskError, resultExists, storageError, unknownFiles, unknownSheet } from "./errors.js";
import { fileIdsIn } from "./file-refs.js";
import { FilesDir, isFileId } from "./files.js";
import { purgeSheet } from "./level-gc.js";
import { holder, K, lastPart, under } from "./level-keys.js";
import { openLocked, reopen, writeBatch, type DB, type Op } from "./lock.js";
import { migrate, MIGRATIONS, SCHEMA_VERSION, type Migration } from "./migrations.js";
import { recover } from "./recovery.js";
import { sweepOsTemp, sweepTemp, TempPrefix } from "./temp.js";

export interface LevelStoreOptions {
  /** The app's directory, `<home>/apps/<persistKey>`: holds `db/`, `claims/`, `owner.json`. */
  appDir: string;
  /** The shared blobs directory, `<home>/files`. */
  filesDir: string;
  /** Target schema version and steps; for upgrade tests. */
  schemaVersion?: number;
  migrations?: readonly Migration[];
}

type StoredFile = Omit<FileMeta, "path">;

/** A result waiting to be written with others (`LevelStore.commitResult`), and its caller's promise. */
interface PendingResult {
  record: ResultRecord;
  options: { select: boolean };
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** A `findByKey` waiting to be read with the others asked in the same tick, and its caller's promise. */
interface PendingLookup {
  sheetId: string;
  nodeId: string;
  key: string;
  resolve: (record: ResultRecord | undefined) => void;
  reject: (e: unknown) => void;
}

/**
 * What a batch of results read before it was built, and what its accepted results changed
 * so far: the sheets as they will be (a revision per selection) and which of them changed,
 * the nodes' result counts, the files the store holds, the ids taken in the batch.
 */
interface Batch {
  sheets: Map<string, SheetInfo | undefined>;
  revised: Set<string>;
  counts: Map<string, number>;
  known: Set<string>;
  ids: Set<string>;
}

/** Free space a faulted database needs before it is reopened (twice LevelDB's write buffer). */
const REOPEN_ROOM = 8 * 1024 * 1024;

async function freeBytes(dir: string): Promise<number> {
  try {
    const s = await statfs(dir);
    return s.bavail * s.bsize;
  } catch {
    return Number.POSITIVE_INFINITY; // cannot tell: try
  }
}

/** Writes that back an acknowledgement wait for the disk (see `Store`). */
const SYNC = { sync: true } as const;
const BATCHED = { sync: false } as const;

/**
 * The store on LevelDB (`level`): one database per app, every multi-key change in one
 * atomic batch, history paged by key range. See `level-keys.ts` for the layout and
 * `index.ts` for where it lives on disk.
 *
 * Writes go through one queue, so read-modify-write steps (counts, revisions, file
 * references) never interleave; reads of several keys use a LevelDB snapshot instead.
 *
 * Durability: writes that back an acknowledgement are `sync` (see `Store`). A write the
 * disk refuses (full, I/O error) rejects with `E_STORAGE` and marks the store degraded;
 * the next write first reopens the database, because LevelDB must replay its log after a
 * failed append (records appended after it would otherwise be dropped at the next open).
 * Once a write succeeds again the store is healthy.
 *
 * @example
 * const store = await LevelStore.open({ appDir: "/tmp/d/apps/demo", filesDir: "/tmp/d/files" });
 * const sheet = await store.createSheet("local");
 */
export class LevelStore implements Store {
  readonly filesDir: string;
  private readonly files: FilesDir;
  private readonly claims: Claims;
  private readonly listeners = new Set<(c: StoreChange) => void>();
  /** Files put through this handle and not referenced yet: the GC must not take them. */
  private readonly unreferenced = new Set<string>();
  private queue: Promise<unknown> = Promise.resolve();
  /** Results waiting to be written together: the commits queued since the last other write (see `commitResult`). */
  private gathering: PendingResult[] | undefined;
  /** Lookups by recipe key asked in this tick, read together (see `findByKey`). */
  private lookups: PendingLookup[] | undefined;
  private closed?: Promise<void>;
  /** Set when a write failed: the database must be reopened before the next write. */
  private fault?: { error: string; since: number };

  private constructor(
    private readonly db: DB,
    options: LevelStoreOptions,
    /** Runs recovery found in flight and marked interrupted on open. */
    readonly interruptedRuns: readonly string[],
    /** The oldest recipe key scheme whose results may remain (`SheetState.legacyKeys`), or undefined. */
    private readonly legacyKeys: number | undefined,
  ) {
    this.files = new FilesDir(options.filesDir);
    this.filesDir = this.files.dir;
    this.claims = new Claims(options.appDir, this.files);
  }

  /**
   * Opens (creating if needed) the app's database: takes the single-writer lock
   * (`E_STORE_LOCKED` if taken), migrates the schema, then recovers from any crash.
   */
  static async open(options: LevelStoreOptions): Promise<LevelStore> {
    const db = await openLocked(options.appDir);
    try {
      await migrate(db, options.schemaVersion ?? SCHEMA_VERSION, options.migrations ?? MIGRATIONS);
      const files = new FilesDir(options.filesDir);
      const claims = new Claims(options.appDir, files);
      const { interrupted } = await recover(db, claims);
      // Temp files of processes that died mid-write: blobs being copied in, uploads, scratch stores.
      await sweepTemp(files.dir, [TempPrefix.BLOB]);
      await sweepOsTemp();
      return new LevelStore(db, options, interrupted, (await db.get(K.legacyKeys)) as number | undefined);
    } catch (e) {
      await db.close();
      throw e;
    }
  }

  /** Runs `fn` after every write queued before it. */
  private serial<T>(fn: () => Promise<T>, what: string | (() => string) = "this change"): Promise<T> {
    // Results committed after this write are written after it, not with the ones before.
    this.gathering = undefined;
    const guarded = () => this.guarded(fn, typeof what === "string" ? what : what());
    const run = this.queue.then(guarded, guarded);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * One queued write: reopens a faulted database first; a disk failure becomes E_STORAGE
   * and a fault. A reopen replays the log into a table (up to LevelDB's 4 MB write
   * buffer), so it is tried only once the disk has room: until then the database stays
   * open for reading and writes are refused at once.
   */
  private async guarded<T>(fn: () => Promise<T>, what: string): Promise<T> {
    if (this.fault) {
      const free = await freeBytes(this.db.location);
      if (free < REOPEN_ROOM) {
        throw storageError(new Error(`${this.fault.error}; ${Math.floor(free / 1024)} KiB free, ${REOPEN_ROOM / 1024 / 1024} MiB needed to resume`), what);
      }
    }
    try {
      if (this.fault) await reopen(this.db);
      const out = await fn();
      this.fault = undefined;
      return out;
    } catch (e) {
      if (!isDiskError(e) && !(this.fault && this.db.status !== "open")) throw e;
      this.fault ??= { error: String((e as { cause?: Error })?.cause?.message ?? (e as Error)?.message ?? e).slice(0, 300), since: Date.now() };
      throw storageError(e, what);
    }
  }

  /**
   * `ok`, or `degraded` since a write failed. A degraded store tries one small synced
   * write (reopening the database first), so health comes back as soon as the disk does.
   */
  async health(): Promise<StoreHealth> {
    if (this.fault && !this.closed) await this.serial(() => this.db.put(K.health, Date.now(), SYNC), "a health probe").catch(() => undefined);
    const f = this.fault;
    return f ? { storage: "degraded", error: f.error, since: f.since } : { storage: "ok" };
  }

  private emit(change: StoreChange) {
    for (const l of this.listeners) {
      try {
        l(change);
      } catch (e) {
        // The change is committed whatever a listener does; do not fail the write.
        process.emitWarning(`daggr store listener threw: ${(e as Error)?.stack ?? e}`);
      }
    }
  }

  private async sheetOrThrow(id: string): Promise<SheetInfo> {
    const info = (await this.db.get(K.sheet(id))) as SheetInfo | undefined;
    if (!info) throw unknownSheet(id);
    return info;
  }

  async listSheets(user: string): Promise<SheetInfo[]> {
    const ids: string[] = [];
    for await (const k of this.db.keys({ ...under("user-sheet", user), reverse: true })) ids.push(lastPart(k));
    if (!ids.length) return [];
    const infos = (await this.db.getMany(ids.map(K.sheet))) as (SheetInfo | undefined)[];
    return infos.filter((i): i is SheetInfo => !!i);
  }

  createSheet(user: string, name?: string): Promise<SheetInfo> {
    return this.serial(async () => {
      const taken = new Set((await this.listSheets(user)).map((s) => s.name));
      let n = 1;
      while (taken.has(`Sheet ${n}`)) n++;
      const now = Date.now();
      const info: SheetInfo = { id: newId("s"), user, name: name ?? `Sheet ${n}`, createdAt: now, updatedAt: now, revision: 0 };
      const ops: Op[] = [
        { type: "put", key: K.sheet(info.id), value: info },
        { type: "put", key: K.userSheet(user, info.id), value: 0 },
      ];
      await writeBatch(this.db, ops, SYNC);
      this.emit({ type: "sheets", user });
      return info;
    });
  }

  async getSheet(sheetId: string): Promise<SheetInfo | undefined> {
    return (await this.db.get(K.sheet(sheetId))) as SheetInfo | undefined;
  }

  updateSheet(sheetId: string, patch: Partial<Pick<SheetInfo, "name" | "viewport" | "choices">>): Promise<SheetInfo> {
    return this.serial(async () => {
      const info: SheetInfo = { ...(await this.sheetOrThrow(sheetId)), ...patch, updatedAt: Date.now() };
      // A viewport move is not worth a disk flush; a name or a choice is acknowledged.
      const viewportOnly = Object.keys(patch).every((k) => k === "viewport");
      await this.db.put(K.sheet(sheetId), info, viewportOnly ? BATCHED : SYNC);
      this.emit({ type: "sheets", user: info.user });
      return info;
    });
  }

  deleteSheet(sheetId: string): Promise<void> {
    return this.serial(async () => {
      const info = await this.sheetOrThrow(sheetId);
      const ops: Op[] = [
        { type: "del", key: K.sheet(sheetId) },
        { type: "del", key: K.userSheet(info.user, sheetId) },
        { type: "put", key: K.trash(sheetId), value: info.user },
      ];
      await writeBatch(this.db, ops, SYNC);
      await purgeSheet(this.db, this.claims, sheetId, this.unreferenced);
      this.emit({ type: "sheets", user: info.user });
    });
  }

  async loadSheet(sheetId: string): Promise<SheetState> {
    const snapshot = this.db.snapshot();
    try {
      const sheet = (await this.db.get(K.sheet(sheetId), { snapshot })) as SheetInfo | undefined;
      if (!sheet) throw unknownSheet(sheetId);
      const read = async (family: string) => {
        const out: Record<string, any> = {};
        for await (const [k, v] of this.db.iterator({ ...under(family, sheetId), snapshot })) out[lastPart(k)] = v;
        return out;
      };
      const [inputs, selections, counts, inputRevs] = await Promise.all([read("input"), read("sel"), read("count"), read("input-rev")]);
      const picked = Object.entries(selections as Record<string, string>);
      const records = picked.length ? await this.db.getMany(picked.map(([node, id]) => K.result(sheetId, node, id)), { snapshot }) : [];
      const selected = records.filter((r): r is ResultRecord => !!r);
      // A node whose newest result is an interrupted one shows so (one read per node with results).
      const interrupted: ResultRecord[] = [];
      for (const node of Object.keys(counts)) {
        const [newest] = (await this.db.values({ ...under("result", sheetId, node), reverse: true, limit: 1, snapshot }).all()) as ResultRecord[];
        if (newest?.status === ResultStatus.INTERRUPTED) interrupted.push(newest);
      }
      return { sheet, inputs, selections, selected, counts, inputRevs, ...(interrupted.length ? { interrupted } : {}), ...(this.legacyKeys ? { legacyKeys: this.legacyKeys } : {}) };
    } finally {
      await snapshot.close();
    }
  }

  setInputs(sheetId: string, values: Record<string, unknown>): Promise<number> {
    return this.serial(async () => {
      const info = await this.sheetOrThrow(sheetId);
      const names = Object.keys(values);
      const old = names.length ? await this.db.getMany(names.map((n) => K.input(sheetId, n))) : [];
      const revs = names.length ? ((await this.db.getMany(names.map((n) => K.inputRev(sheetId, n)))) as (number | undefined)[]) : [];
      const ops: Op[] = [];
      for (const [i, name] of names.entries()) {
        const v = values[name];
        ops.push(v === undefined ? { type: "del", key: K.input(sheetId, name) } : { type: "put", key: K.input(sheetId, name), value: v });
        ops.push({ type: "put", key: K.inputRev(sheetId, name), value: (revs[i] ?? 0) + 1 });
        ops.push(...(await this.refOps(sheetId, holder.input(name), fileIdsIn(old[i], this.files), fileIdsIn(v, this.files))));
      }
      const revision = info.revision + 1;
      ops.push({ type: "put", key: K.sheet(sheetId), value: { ...info, revision } });
      await writeBatch(this.db, ops, SYNC);
      this.emit({ type: "inputs", sheetId, values, revision });
      return revision;
    }, "the edit");
  }

  /** Ops moving a holder's file references from `before` to `after` (known files only). */
  private async refOps(sheetId: string, who: string, before: string[], after: string[]): Promise<Op[]> {
    const ops: Op[] = [];
    for (const id of before) {
      if (after.includes(id)) continue;
      ops.push({ type: "del", key: K.ref(id, sheetId, who) }, { type: "del", key: K.sheetRef(sheetId, id, who) });
    }
    const known = after.length ? await this.db.getMany(after.map(K.file)) : [];
    ops.push(...this.refPuts(sheetId, who, after.filter((_, i) => known[i] !== undefined)));
    return ops;
  }

  /** Ops adding a holder's references to files the store holds. */
  private refPuts(sheetId: string, who: string, ids: string[]): Op[] {
    const ops: Op[] = [];
    for (const id of ids) {
      ops.push({ type: "put", key: K.ref(id, sheetId, who), value: 0 }, { type: "put", key: K.sheetRef(sheetId, id, who), value: 0 });
      this.unreferenced.delete(id);
    }
    return ops;
  }

  setSelections(sheetId: string, selections: Record<string, string | null>): Promise<number> {
    return this.serial(async () => {
      const info = await this.sheetOrThrow(sheetId);
      const ops: Op[] = Object.entries(selections).map(([node, id]) =>
        id === null ? { type: "del", key: K.sel(sheetId, node) } : { type: "put", key: K.sel(sheetId, node), value: id },
      );
      const revision = info.revision + 1;
      ops.push({ type: "put", key: K.sheet(sheetId), value: { ...info, revision } });
      await writeBatch(this.db, ops, SYNC);
      this.emit({ type: "selections", sheetId, selections, revision });
      return revision;
    }, "the selection");
  }

  /**
   * Stores a result. Results committed one after another with no other write between them
   * are written in one synced batch: while a batch waits for the disk (a sync costs 2-6 ms
   * here), the results that finish meanwhile gather for the next, so a wide fan-out pays
   * a few syncs, not one per node. Order with every other write is kept: a write queued
   * after a result goes after it. A result the store refuses (its id taken, an unknown
   * file, an unknown sheet) fails alone; a batch the disk refuses fails all of its results.
   */
  commitResult(record: ResultRecord, options: { select: boolean }): Promise<void> {
    let group = this.gathering;
    if (!group) {
      const mine: PendingResult[] = [];
      const what = () => (mine.length === 1 ? `the result of node '${mine[0]!.record.nodeId}'` : `the results of nodes ${mine.map((p) => `'${p.record.nodeId}'`).join(", ")}`);
      this.serial(() => {
        if (this.gathering === mine) this.gathering = undefined;
        return this.writeResults(mine);
      }, what).catch((e) => {
        for (const p of mine) p.reject(e);
      });
      this.gathering = group = mine;
    }
    return new Promise<void>((resolve, reject) => group.push({ record, options, resolve, reject }));
  }

  /**
   * Writes gathered results in one synced batch; refused ones are rejected and left out.
   * What the checks need (ids taken, result counts, file metadata, the sheets) is read for
   * the whole group at once: read per result, one read after another, it cost ~0.3 ms a
   * result, and a 1,000-wide fan-out waited ~300 ms after its last node for its writes.
   */
  private async writeResults(group: PendingResult[]): Promise<void> {
    const records = group.map((p) => p.record);
    const sheetIds = [...new Set(records.map((r) => r.sheetId))];
    const countKeys = [...new Set(records.map((r) => K.count(r.sheetId, r.nodeId)))];
    const fileIds = [...new Set(records.flatMap((r) => r.files))];
    const [infos, taken, counts, metas] = await Promise.all([
      this.db.getMany(sheetIds.map(K.sheet)) as Promise<(SheetInfo | undefined)[]>,
      this.db.getMany(records.map((r) => K.resultNode(r.sheetId, r.id))),
      this.db.getMany(countKeys) as Promise<(number | undefined)[]>,
      fileIds.length ? this.db.getMany(fileIds.map((f) => (isFileId(f) ? K.file(f) : K.file("-")))) : [],
    ]);
    const batch: Batch = {
      sheets: new Map(sheetIds.map((id, i) => [id, infos[i]])),
      revised: new Set(),
      counts: new Map(countKeys.map((k, i) => [k, counts[i] ?? 0])),
      known: new Set(fileIds.filter((_, i) => metas[i] !== undefined)),
      ids: new Set(),
    };
    const ops: Op[] = [];
    const written: PendingResult[] = [];
    for (const [i, p] of group.entries()) {
      try {
        ops.push(...this.resultOps(p.record, p.options, taken[i] !== undefined, batch));
        written.push(p);
      } catch (e) {
        p.reject(e);
      }
    }
    if (!written.length) return;
    for (const id of batch.revised) ops.push({ type: "put", key: K.sheet(id), value: batch.sheets.get(id) });
    await writeBatch(this.db, ops, SYNC);
    for (const p of written) {
      this.emit({ type: "result", sheetId: p.record.sheetId, record: p.record, selected: p.options.select });
      p.resolve();
    }
  }

  /**
   * The writes that store one result, given what its batch read and accepted so far (see
   * `Batch`); `taken` when its id was stored before the batch. Throws when it is refused.
   */
  private resultOps(record: ResultRecord, options: { select: boolean }, taken: boolean, batch: Batch): Op[] {
    const { sheetId, nodeId, id } = record;
    const info = batch.sheets.get(sheetId);
    if (!info) throw unknownSheet(sheetId);
    if (taken || batch.ids.has(K.resultNode(sheetId, id))) throw resultExists(record);
    const fileIds = [...new Set(record.files)];
    const missing = fileIds.filter((f) => !batch.known.has(f));
    if (missing.length) throw unknownFiles(record, missing);
    const countKey = K.count(sheetId, nodeId);
    const count = batch.counts.get(countKey)!;
    const ops: Op[] = [
      { type: "put", key: K.result(sheetId, nodeId, id), value: record },
      { type: "put", key: K.resultNode(sheetId, id), value: nodeId },
      { type: "put", key: countKey, value: count + 1 },
      ...this.refPuts(sheetId, holder.result(id), fileIds),
    ];
    if (record.status === ResultStatus.SUCCESS) ops.push({ type: "put", key: K.byKey(sheetId, nodeId, record.key), value: id });
    if (options.select) ops.push({ type: "put", key: K.sel(sheetId, nodeId), value: id });
    // Taken only once the result is accepted, so a refused one changes nothing of its batch.
    batch.ids.add(K.resultNode(sheetId, id));
    batch.counts.set(countKey, count + 1);
    if (options.select) {
      batch.sheets.set(sheetId, { ...info, revision: info.revision + 1 });
      batch.revised.add(sheetId);
    }
    return ops;
  }

  async getResult(sheetId: string, resultId: string): Promise<ResultRecord | undefined> {
    const nodeId = (await this.db.get(K.resultNode(sheetId, resultId))) as string | undefined;
    return nodeId === undefined ? undefined : ((await this.db.get(K.result(sheetId, nodeId, resultId))) as ResultRecord | undefined);
  }

  /**
   * The node's newest successful result with this recipe key. The lookups asked in one
   * tick are read together, one `getMany` for their ids and one for the results found: a
   * run asks once per node it may execute, all at once for a fan-out's children, and a
   * read each cost ~8 us of this thread (a 1,000-wide fan-out on LevelDB: 56 ms a run with
   * lookups read together, 61 ms one by one).
   */
  findByKey(sheetId: string, nodeId: string, key: string): Promise<ResultRecord | undefined> {
    let group = this.lookups;
    if (!group) {
      const mine: PendingLookup[] = (group = this.lookups = []);
      queueMicrotask(() => {
        this.lookups = undefined;
        this.lookUp(mine).catch((e) => {
          for (const l of mine) l.reject(e);
        });
      });
    }
    return new Promise((resolve, reject) => group.push({ sheetId, nodeId, key, resolve, reject }));
  }

  private async lookUp(group: PendingLookup[]): Promise<void> {
    const ids = (await this.db.getMany(group.map((l) => K.byKey(l.sheetId, l.nodeId, l.key)))) as (string | undefined)[];
    const found = group.flatMap((l, i) => (ids[i] === undefined ? [] : [K.result(l.sheetId, l.nodeId, ids[i]!)]));
    const records = found.length ? ((await this.db.getMany(found)) as (ResultRecord | undefined)[]) : [];
    let at = 0;
    for (const [i, l] of group.entries()) l.resolve(ids[i] === undefined ? undefined : records[at++]);
  }

  async listResults(sheetId: string, nodeId: string, page: { before?: string; limit?: number } = {}): Promise<HistoryPage> {
    const snapshot = this.db.snapshot();
    try {
      if ((await this.db.get(K.sheet(sheetId), { snapshot })) === undefined) {
        throw unknownSheet(sheetId);
      }
      const total = ((await this.db.get(K.count(sheetId, nodeId), { snapshot })) as number | undefined) ?? 0;
      const range = under("result", sheetId, nodeId);
      if (page.before) range.lt = K.result(sheetId, nodeId, page.before);
      const results = (await this.db.values({ ...range, reverse: true, limit: page.limit ?? 20, snapshot }).all()) as ResultRecord[];
      return { results, total };
    } finally {
      await snapshot.close();
    }
  }

  putRun(run: RunRecord): Promise<void> {
    return this.serial(async () => {
      await this.sheetOrThrow(run.sheetId);
      const live = run.status === RunStatus.RUNNING;
      // A run's first record (its start is acknowledged) and its last (run-finished) are
      // synced; the updates between (which nodes started) are batched.
      const ops: Op[] = [
        { type: "put", key: K.run(run.sheetId, run.id), value: run },
        live ? { type: "put", key: K.running(run.sheetId, run.id), value: 0 } : { type: "del", key: K.running(run.sheetId, run.id) },
      ];
      await writeBatch(this.db, ops, live && run.started?.length ? BATCHED : SYNC);
    }, "the run record");
  }

  async getRun(sheetId: string, runId: string): Promise<RunRecord | undefined> {
    return (await this.db.get(K.run(sheetId, runId))) as RunRecord | undefined;
  }

  async putFile(input: PutFileInput): Promise<FileMeta> {
    if (input.stream) {
      // A stream is read once, but the claim race below may need a second put: stage it.
      const staged = await this.files.stage(input);
      try {
        return await this.putFile(staged.input);
      } finally {
        await staged.discard();
      }
    }
    // Hashing and copying happen outside the write queue; only the bookkeeping is serial.
    let put: FileMeta;
    try {
      put = await this.files.put(input);
    } catch (e) {
      if (!isDiskError(e)) throw e;
      this.fault ??= { error: String((e as Error)?.message ?? e).slice(0, 300), since: Date.now() };
      throw storageError(e, `the file ${input.name ?? input.path ?? ""}`.trim());
    }
    return this.serial(async () => {
      // Another app may have released the blob between our write and our claim.
      if (!(await this.claims.claim(put.id))) await this.files.put(input);
      this.unreferenced.add(put.id);
      const known = (await this.db.get(K.file(put.id))) as StoredFile | undefined;
      if (known) return { ...known, path: put.path };
      const stored: StoredFile = { id: put.id, name: put.name, mime: put.mime, size: put.size };
      await this.db.put(K.file(put.id), stored);
      return put;
    }, "a file");
  }

  async getFile(id: string): Promise<FileMeta | undefined> {
    if (!isFileId(id)) return undefined;
    const known = (await this.db.get(K.file(id))) as StoredFile | undefined;
    return known && { ...known, path: this.files.pathOf(id) };
  }

  async fileForPath(path: string): Promise<FileMeta | undefined> {
    const id = this.files.idForPath(path);
    return id ? this.getFile(id) : undefined;
  }

  async getMeta<T = unknown>(key: string): Promise<T | undefined> {
    return (await this.db.get(K.meta(key))) as T | undefined;
  }

  setMeta(key: string, value: unknown): Promise<void> {
    return this.serial(() => (value === undefined ? this.db.del(K.meta(key)) : this.db.put(K.meta(key), value)));
  }

  onChange(listener: (change: StoreChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Waits for queued writes, then releases the database (and its lock). Idempotent. */
  close(): Promise<void> {
    this.closed ??= this.queue.then(async () => {
      this.listeners.clear();
      await this.db.close();
    });
    return this.closed;
  }
}

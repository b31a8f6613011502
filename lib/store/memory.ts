import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ResultStatus, type ResultRecord, type RunRecord } from "../engine/records.js";
import { newId } from "../engine/records.js";
import { fulfilled } from "../engine/known.js";
import type { FileMeta, HistoryPage, PutFileInput, SheetInfo, SheetState, Store, StoreChange, StoreHealth } from "../engine/store.js";
import { resultExists, unknownFiles, unknownSheet } from "./errors.js";
import { fileIdsIn } from "./file-refs.js";
import { FilesDir } from "./files.js";

interface SheetData {
  info: SheetInfo;
  inputs: Record<string, unknown>;
  /** Writes of each input so far (its revision). */
  inputRevs: Record<string, number>;
  /** Each node's results and selection (see `History`). */
  byNode: Map<string, History>;
  /**
   * Every result by id, made on the first `getResult` (restoring an older result) and kept
   * from then on. A sheet-wide map written at every commit cost more than the rest of the
   * commit once it held many thousand results (a table that size misses the caches).
   */
  byId: Map<string, ResultRecord> | undefined;
  runs: Map<string, RunRecord>;
}

/**
 * A node's results (oldest first) and its selected one. In the common case, one result and
 * it is selected, just that result: a node then costs one map entry and no objects.
 */
type History = ResultRecord | LongHistory;

/**
 * A node's results and selection, and once a lookup finds it holding more than `SCAN_MAX`
 * results, its newest successful result per recipe key (a shorter history is scanned,
 * newest first: no index to keep for the many nodes that run once or a few times).
 */
class LongHistory {
  recs: ResultRecord[] = [];
  /** The selected result's id (setSelections may name one this store never had). */
  sel: string | undefined = undefined;
  private byKey: Map<string, ResultRecord> | undefined = undefined;
  /** How many of `recs` (the oldest) `byKey` has taken in. */
  private keyed = 0;
  /** The greatest id of `recs` (as strings compare): an id above it is not among them. */
  maxId = "";

  push(r: ResultRecord): void {
    this.recs.push(r);
    if (r.id > this.maxId) this.maxId = r.id;
  }

  /**
   * The newest successful result per recipe key, brought up to date when asked: a commit
   * only appends, so a fan-out's completions (the busiest moments of a run) do not pay for
   * the index; the lookups before the next run's starts do, while its nodes wait anyway.
   */
  indexed(): Map<string, ResultRecord> {
    const byKey = (this.byKey ??= new Map());
    const recs = this.recs;
    for (let i = this.keyed; i < recs.length; i++) if (recs[i]!.status === ResultStatus.SUCCESS) byKey.set(recs[i]!.key, recs[i]!);
    this.keyed = recs.length;
    return byKey;
  }

  /** The node's result with this id, newest first. */
  find(id: string): ResultRecord | undefined {
    if (id > this.maxId) return undefined;
    for (let i = this.recs.length - 1; i >= 0; i--) if (this.recs[i]!.id === id) return this.recs[i];
    return undefined;
  }
}

const SCAN_MAX = 8;

function recsOf(h: History | undefined): readonly ResultRecord[] {
  return h === undefined ? [] : h instanceof LongHistory ? h.recs : [h];
}

function selOf(h: History | undefined): string | undefined {
  return h instanceof LongHistory ? h.sel : h?.id;
}

/** A node's history in its long form, put in the map, to change it. */
function longHistory(s: SheetData, nodeId: string): LongHistory {
  const h = s.byNode.get(nodeId);
  if (h instanceof LongHistory) return h;
  const long = new LongHistory();
  if (h !== undefined) {
    long.push(h);
    long.sel = h.id;
  }
  s.byNode.set(nodeId, long);
  return long;
}

/** Back to the short form when a node has one result and it is selected. */
function settle(s: SheetData, nodeId: string, h: LongHistory): void {
  if (h.recs.length === 1 && h.sel === h.recs[0]!.id) s.byNode.set(nodeId, h.recs[0]!);
  else if (h.recs.length === 0 && h.sel === undefined) s.byNode.delete(nodeId);
}

/**
 * A store that keeps everything in memory (files still go to a temp directory, since
 * nodes receive file paths). Used with `persistKey: false`, by `graph.call` and in tests.
 */
export class MemoryStore implements Store {
  private dir: string | undefined;
  private filesMemo: FilesDir | undefined;
  private readonly sheets = new Map<string, SheetData>();
  private readonly fileMeta = new Map<string, FileMeta>();
  private readonly meta = new Map<string, unknown>();
  private readonly listeners = new Set<(c: StoreChange) => void>();

  constructor(options: { filesDir?: string } = {}) {
    this.dir = options.filesDir;
  }

  /**
   * Where stored files go: a unique temp path unless given, named at first ask and created
   * only when the first file is stored (most memory stores hold none, and `graph.call` makes
   * one per call: naming it costs an environment read and random bytes).
   */
  get filesDir(): string {
    return (this.dir ??= join(tmpdir(), `daggr-mem-${process.pid}-${randomBytes(6).toString("hex")}`, "files"));
  }

  private get files(): FilesDir {
    return (this.filesMemo ??= new FilesDir(this.filesDir));
  }

  private sheet(id: string): SheetData {
    const s = this.sheets.get(id);
    if (!s) throw unknownSheet(id);
    return s;
  }

  private emit(change: StoreChange) {
    for (const l of this.listeners) l(change);
  }

  async listSheets(user: string): Promise<SheetInfo[]> {
    return [...this.sheets.values()]
      .map((s) => s.info)
      .filter((i) => i.user === user)
      .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1));
  }

  async createSheet(user: string, name?: string): Promise<SheetInfo> {
    const taken = new Set((await this.listSheets(user)).map((s) => s.name));
    let n = 1;
    while (taken.has(`Sheet ${n}`)) n++;
    const now = Date.now();
    const info: SheetInfo = { id: newId("s"), user, name: name ?? `Sheet ${n}`, createdAt: now, updatedAt: now, revision: 0 };
    this.sheets.set(info.id, { info, inputs: {}, inputRevs: {}, byNode: new Map(), byId: undefined, runs: new Map() });
    this.emit({ type: "sheets", user });
    return { ...info };
  }

  async getSheet(sheetId: string): Promise<SheetInfo | undefined> {
    const s = this.sheets.get(sheetId);
    return s && { ...s.info };
  }

  async updateSheet(sheetId: string, patch: Partial<Pick<SheetInfo, "name" | "viewport" | "choices">>): Promise<SheetInfo> {
    const s = this.sheet(sheetId);
    s.info = { ...s.info, ...patch, updatedAt: Date.now() };
    this.emit({ type: "sheets", user: s.info.user });
    return { ...s.info };
  }

  async deleteSheet(sheetId: string): Promise<void> {
    const s = this.sheet(sheetId);
    this.sheets.delete(sheetId);
    const stillUsed = new Set<string>();
    for (const other of this.sheets.values()) {
      for (const h of other.byNode.values()) for (const r of recsOf(h)) for (const f of r.files) stillUsed.add(f);
      // An input value holding a store path keeps its file too (an uploaded image).
      for (const f of fileIdsIn(other.inputs, this.files)) stillUsed.add(f);
    }
    const held = new Set(fileIdsIn(s.inputs, this.files));
    for (const h of s.byNode.values()) for (const r of recsOf(h)) for (const f of r.files) held.add(f);
    for (const f of held) {
      if (!stillUsed.has(f) && this.fileMeta.has(f)) {
        this.fileMeta.delete(f);
        await this.files.remove(f);
      }
    }
    this.emit({ type: "sheets", user: s.info.user });
  }

  async loadSheet(sheetId: string): Promise<SheetState> {
    const s = this.sheet(sheetId);
    const selections: Record<string, string> = {};
    const selected: ResultRecord[] = [];
    const counts: Record<string, number> = {};
    for (const [node, h] of s.byNode) {
      const long = h instanceof LongHistory;
      const n = long ? h.recs.length : 1;
      if (n) counts[node] = n;
      const sel = selOf(h);
      if (sel === undefined) continue;
      selections[node] = sel;
      const r = long ? h.find(sel) : h;
      if (r) selected.push(r);
    }
    return { sheet: { ...s.info }, inputs: { ...s.inputs }, selections, selected, counts, inputRevs: { ...s.inputRevs } };
  }

  async setInputs(sheetId: string, values: Record<string, unknown>): Promise<number> {
    const s = this.sheet(sheetId);
    Object.assign(s.inputs, values);
    for (const k of Object.keys(values)) s.inputRevs[k] = (s.inputRevs[k] ?? 0) + 1;
    const revision = ++s.info.revision;
    this.emit({ type: "inputs", sheetId, values, revision });
    return revision;
  }

  async setSelections(sheetId: string, selections: Record<string, string | null>): Promise<number> {
    const s = this.sheet(sheetId);
    for (const [node, id] of Object.entries(selections)) {
      if (selOf(s.byNode.get(node)) === (id ?? undefined)) continue;
      const h = longHistory(s, node);
      h.sel = id ?? undefined;
      settle(s, node, h);
    }
    const revision = ++s.info.revision;
    this.emit({ type: "selections", sheetId, selections, revision });
    return revision;
  }

  /** Commits at once: the promise is already fulfilled (see `engine/known.ts`), so the engine goes on in the same tick. */
  commitResult(record: ResultRecord, options: { select: boolean }): Promise<void> {
    try {
      this.commitNow(record, options);
    } catch (e) {
      return Promise.reject(e);
    }
    return fulfilled(undefined);
  }

  private commitNow(record: ResultRecord, options: { select: boolean }): void {
    const s = this.sheet(record.sheetId);
    const h = s.byNode.get(record.nodeId);
    // A result is never rewritten. Ids are unique per node here, and everywhere once any
    // result was asked for by id (newId makes them unique everywhere anyway).
    if (s.byId ? s.byId.has(record.id) : h instanceof LongHistory ? h.find(record.id) : h?.id === record.id) throw resultExists(record);
    if (record.files.length) {
      const missing = [...new Set(record.files)].filter((f) => !this.fileMeta.has(f));
      if (missing.length) throw unknownFiles(record, missing);
    }
    s.byId?.set(record.id, record);
    if (options.select && h === undefined) s.byNode.set(record.nodeId, record);
    else {
      const long = longHistory(s, record.nodeId);
      long.push(record);
      if (options.select) long.sel = record.id;
      settle(s, record.nodeId, long);
    }
    if (options.select) s.info.revision++;
    if (this.listeners.size) this.emit({ type: "result", sheetId: record.sheetId, record, selected: options.select });
  }

  async getResult(sheetId: string, resultId: string): Promise<ResultRecord | undefined> {
    const s = this.sheets.get(sheetId);
    if (!s) return undefined;
    if (!s.byId) {
      s.byId = new Map();
      for (const h of s.byNode.values()) for (const r of recsOf(h)) s.byId.set(r.id, r);
    }
    return s.byId.get(resultId);
  }

  findByKey(sheetId: string, nodeId: string, key: string): Promise<ResultRecord | undefined> {
    const h = this.sheets.get(sheetId)?.byNode.get(nodeId);
    if (h === undefined) return fulfilled(undefined);
    if (!(h instanceof LongHistory)) return fulfilled(h.status === ResultStatus.SUCCESS && h.key === key ? h : undefined);
    const recs = h.recs;
    if (recs.length > SCAN_MAX) return fulfilled(h.indexed().get(key));
    for (let i = recs.length - 1; i >= 0; i--) {
      const r = recs[i]!;
      if (r.status === ResultStatus.SUCCESS && r.key === key) return fulfilled(r);
    }
    return fulfilled(undefined);
  }

  async listResults(sheetId: string, nodeId: string, page: { before?: string; limit?: number } = {}): Promise<HistoryPage> {
    const s = this.sheet(sheetId);
    const recs = recsOf(s.byNode.get(nodeId));
    let end = recs.length;
    if (page.before) {
      const at = recs.findIndex((r) => r.id === page.before);
      end = at < 0 ? recs.length : at;
    }
    const limit = page.limit ?? 20;
    return { results: recs.slice(Math.max(0, end - limit), end).reverse(), total: recs.length };
  }

  async putRun(run: RunRecord): Promise<void> {
    this.sheet(run.sheetId).runs.set(run.id, { ...run });
  }

  async getRun(sheetId: string, runId: string): Promise<RunRecord | undefined> {
    return this.sheets.get(sheetId)?.runs.get(runId);
  }

  async putFile(input: PutFileInput): Promise<FileMeta> {
    const meta = await this.files.put(input);
    const known = this.fileMeta.get(meta.id);
    if (known) return known;
    this.fileMeta.set(meta.id, meta);
    return meta;
  }

  async getFile(id: string): Promise<FileMeta | undefined> {
    return this.fileMeta.get(id);
  }

  async fileForPath(path: string): Promise<FileMeta | undefined> {
    const id = this.files.idForPath(path);
    return id ? this.fileMeta.get(id) : undefined;
  }

  async getMeta<T>(key: string): Promise<T | undefined> {
    return this.meta.get(key) as T | undefined;
  }

  async setMeta(key: string, value: unknown): Promise<void> {
    this.meta.set(key, value);
  }

  /** Memory never fills up the way a disk does: always ok. */
  async health(): Promise<StoreHealth> {
    return { storage: "ok" };
  }

  onChange(listener: (change: StoreChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}

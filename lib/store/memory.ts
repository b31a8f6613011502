import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DaggrError, ErrorCode } from "../graph/errors.js";
import { ResultStatus, type ResultRecord, type RunRecord } from "../engine/records.js";
import { newId } from "../engine/records.js";
import { fulfilled } from "../engine/known.js";
import type { FileMeta, HistoryPage, PutFileInput, SheetInfo, SheetState, Store, StoreChange, StoreHealth } from "../engine/store.js";
import { resultExists, unknownFiles } from "./errors.js";
import { fileIdsIn } from "./file-refs.js";
import { FilesDir } from "./files.js";

interface SheetData {
  info: SheetInfo;
  inputs: Record<string, unknown>;
  /** Writes of each input so far (its revision). */
  inputRevs: Record<string, number>;
  results: Map<string, ResultRecord>;
  /** Each node's result ids and selection (see `History`). */
  byNode: Map<string, History>;
  /**
   * Newest successful result id per recipe key, checked against its node; when nodes of
   * the same recipe share a key, a map by node id. (Keying by the key alone spares
   * building a node+key string on every commit and lookup.)
   */
  byKey: Map<string, string | Map<string, string>>;
  runs: Map<string, RunRecord>;
}

/**
 * A node's result ids (oldest first) and its selected one. In the common case, one
 * result and it is selected, just that result's id: a node then costs one map entry and
 * no objects.
 */
type History = string | { ids: string[]; sel: string | undefined };

function idsOf(h: History | undefined): readonly string[] {
  return h === undefined ? [] : typeof h === "string" ? [h] : h.ids;
}

function selOf(h: History | undefined): string | undefined {
  return typeof h === "string" ? h : h?.sel;
}

/** A node's history in its long form, put in the map, to change it. */
function longHistory(s: SheetData, nodeId: string): { ids: string[]; sel: string | undefined } {
  const h = s.byNode.get(nodeId);
  if (typeof h === "object") return h;
  const long = h === undefined ? { ids: [], sel: undefined } : { ids: [h], sel: h };
  s.byNode.set(nodeId, long);
  return long;
}

/** Back to the short form when a node has one result and it is selected. */
function settle(s: SheetData, nodeId: string, h: { ids: string[]; sel: string | undefined }): void {
  if (h.ids.length === 1 && h.sel === h.ids[0]) s.byNode.set(nodeId, h.sel);
  else if (h.ids.length === 0 && h.sel === undefined) s.byNode.delete(nodeId);
}

/**
 * A store that keeps everything in memory (files still go to a temp directory, since
 * nodes receive file paths). Used with `persistKey: false`, by `graph.call` and in tests.
 */
export class MemoryStore implements Store {
  readonly filesDir: string;
  private readonly files: FilesDir;
  private readonly sheets = new Map<string, SheetData>();
  private readonly fileMeta = new Map<string, FileMeta>();
  private readonly meta = new Map<string, unknown>();
  private readonly listeners = new Set<(c: StoreChange) => void>();

  constructor(options: { filesDir?: string } = {}) {
    // A unique path, created only when the first file is stored (most memory stores hold none).
    this.filesDir = options.filesDir ?? join(tmpdir(), `daggr-mem-${process.pid}-${randomBytes(6).toString("hex")}`, "files");
    this.files = new FilesDir(this.filesDir);
  }

  private sheet(id: string): SheetData {
    const s = this.sheets.get(id);
    if (!s) throw new DaggrError(ErrorCode.UNKNOWN_SHEET, `Unknown sheet '${id}'.`, { got: id });
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
    this.sheets.set(info.id, { info, inputs: {}, inputRevs: {}, results: new Map(), byNode: new Map(), byKey: new Map(), runs: new Map() });
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
      for (const r of other.results.values()) for (const f of r.files) stillUsed.add(f);
      // An input value holding a store path keeps its file too (an uploaded image).
      for (const f of fileIdsIn(other.inputs, this.files)) stillUsed.add(f);
    }
    const held = new Set(fileIdsIn(s.inputs, this.files));
    for (const r of s.results.values()) for (const f of r.files) held.add(f);
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
      const n = typeof h === "string" ? 1 : h.ids.length;
      if (n) counts[node] = n;
      const sel = selOf(h);
      if (sel === undefined) continue;
      selections[node] = sel;
      const r = s.results.get(sel);
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
    if (s.results.has(record.id)) throw resultExists(record);
    if (record.files.length) {
      const missing = [...new Set(record.files)].filter((f) => !this.fileMeta.has(f));
      if (missing.length) throw unknownFiles(record, missing);
    }
    s.results.set(record.id, record);
    if (options.select && !s.byNode.has(record.nodeId)) s.byNode.set(record.nodeId, record.id);
    else {
      const h = longHistory(s, record.nodeId);
      h.ids.push(record.id);
      if (options.select) h.sel = record.id;
      settle(s, record.nodeId, h);
    }
    if (record.status === ResultStatus.SUCCESS) indexKey(s, record);
    if (options.select) s.info.revision++;
    if (this.listeners.size) this.emit({ type: "result", sheetId: record.sheetId, record, selected: options.select });
  }

  async getResult(sheetId: string, resultId: string): Promise<ResultRecord | undefined> {
    return this.sheets.get(sheetId)?.results.get(resultId);
  }

  findByKey(sheetId: string, nodeId: string, key: string): Promise<ResultRecord | undefined> {
    const s = this.sheets.get(sheetId);
    const at = s?.byKey.get(key);
    const id = typeof at === "string" ? at : at?.get(nodeId);
    const hit = id === undefined ? undefined : s!.results.get(id);
    return fulfilled(hit?.nodeId === nodeId ? hit : undefined);
  }

  async listResults(sheetId: string, nodeId: string, page: { before?: string; limit?: number } = {}): Promise<HistoryPage> {
    const s = this.sheet(sheetId);
    const ids = idsOf(s.byNode.get(nodeId));
    let end = ids.length;
    if (page.before) {
      const at = ids.indexOf(page.before);
      end = at < 0 ? ids.length : at;
    }
    const limit = page.limit ?? 20;
    const slice = ids.slice(Math.max(0, end - limit), end).reverse();
    return { results: slice.map((id) => s.results.get(id)!), total: ids.length };
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

/** Makes a successful record the newest of its node and key. */
function indexKey(s: SheetData, record: ResultRecord): void {
  const at = s.byKey.get(record.key);
  if (at === undefined) s.byKey.set(record.key, record.id);
  else if (typeof at !== "string") at.set(record.nodeId, record.id);
  else {
    const other = s.results.get(at)!.nodeId;
    s.byKey.set(record.key, other === record.nodeId ? record.id : new Map([[other, at], [record.nodeId, record.id]]));
  }
}

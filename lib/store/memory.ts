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
  runs: Map<string, RunRecord>;
}

/**
 * A node's result ids (oldest first) and its selected one. In the common case, one
 * result and it is selected, just that result's id: a node then costs one map entry and
 * no objects.
 */
type History = string | LongHistory;

/**
 * A node's result ids and selection, and once it holds more than `SCAN_MAX` results, its
 * newest successful result id per recipe key (a shorter history is scanned, newest first:
 * no index to keep for the many nodes that run once or a few times).
 */
interface LongHistory {
  ids: string[];
  sel: string | undefined;
  byKey: Map<string, string> | undefined;
}

const SCAN_MAX = 8;

function idsOf(h: History | undefined): readonly string[] {
  return h === undefined ? [] : typeof h === "string" ? [h] : h.ids;
}

function selOf(h: History | undefined): string | undefined {
  return typeof h === "string" ? h : h?.sel;
}

/** A node's history in its long form, put in the map, to change it. */
function longHistory(s: SheetData, nodeId: string): LongHistory {
  const h = s.byNode.get(nodeId);
  if (typeof h === "object") return h;
  const long: LongHistory = h === undefined ? { ids: [], sel: undefined, byKey: undefined } : { ids: [h], sel: h, byKey: undefined };
  s.byNode.set(nodeId, long);
  return long;
}

/** Back to the short form when a node has one result and it is selected. */
function settle(s: SheetData, nodeId: string, h: LongHistory): void {
  if (h.ids.length === 1 && h.sel === h.ids[0]) s.byNode.set(nodeId, h.sel);
  else if (h.ids.length === 0 && h.sel === undefined) s.byNode.delete(nodeId);
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
    this.sheets.set(info.id, { info, inputs: {}, inputRevs: {}, results: new Map(), byNode: new Map(), runs: new Map() });
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
      if (h.byKey) {
        if (record.status === ResultStatus.SUCCESS) h.byKey.set(record.key, record.id);
      } else if (h.ids.length > SCAN_MAX) {
        h.byKey = new Map();
        for (const id of h.ids) {
          const r = s.results.get(id)!;
          if (r.status === ResultStatus.SUCCESS) h.byKey.set(r.key, id);
        }
      }
      settle(s, record.nodeId, h);
    }
    if (options.select) s.info.revision++;
    if (this.listeners.size) this.emit({ type: "result", sheetId: record.sheetId, record, selected: options.select });
  }

  async getResult(sheetId: string, resultId: string): Promise<ResultRecord | undefined> {
    return this.sheets.get(sheetId)?.results.get(resultId);
  }

  findByKey(sheetId: string, nodeId: string, key: string): Promise<ResultRecord | undefined> {
    const s = this.sheets.get(sheetId);
    const h = s?.byNode.get(nodeId);
    if (h === undefined) return fulfilled(undefined);
    if (typeof h === "object" && h.byKey) {
      const id = h.byKey.get(key);
      return fulfilled(id === undefined ? undefined : s!.results.get(id));
    }
    const ids = typeof h === "string" ? [h] : h.ids;
    for (let i = ids.length - 1; i >= 0; i--) {
      const r = s!.results.get(ids[i]!);
      if (r && r.status === ResultStatus.SUCCESS && r.key === key) return fulfilled(r);
    }
    return fulfilled(undefined);
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

import type { ResultRecord, RunRecord } from "./records.js";

/** The canvas viewport of a sheet. */
export interface Viewport {
  x: number;
  y: number;
  zoom: number;
  /** The size of the view it was saved from, so a window of another size shows the same part. */
  width?: number;
  height?: number;
}

/** A named workspace: its inputs, history and selections belong to one user and app. */
export interface SheetInfo {
  id: string;
  user: string;
  name: string;
  createdAt: number;
  updatedAt: number;
  /** Increases on every change of the sheet's inputs or selections. */
  revision: number;
  viewport?: Viewport;
  /** Selected variant per choice node. */
  choices?: Record<string, string>;
}

/** What a session needs to open a sheet, without its history. */
export interface SheetState {
  sheet: SheetInfo;
  /** Editable input values by `node__port`. */
  inputs: Record<string, unknown>;
  /** Selected result id by node id. */
  selections: Record<string, string>;
  /** The selected result records (only these: history is paged separately). */
  selected: ResultRecord[];
  /** Number of results per node, for history arrows (‹ 2/5 ›). */
  counts: Record<string, number>;
  /**
   * Revision of each edited input by `node__port` (absent: 0, never written). It grows by
   * one with every write of that input, so a client can say which value it edited.
   */
  inputRevs?: Record<string, number>;
  /**
   * Nodes cut short by a restart: their newest result, when it is an `interrupted` one
   * (recovery writes it for each node a run was executing when the process died).
   */
  interrupted?: ResultRecord[];
  /**
   * The oldest recipe key scheme whose results the store may hold, when older than the
   * current one (1 or 2: a store made before scheme 2 or 3): the engine then also looks
   * for a node's keys of those schemes when its key misses (see `SheetKeys.olderKeys`).
   */
  legacyKeys?: number;
}

/** Whether the store can write now (`GET /api/health`). */
export interface StoreHealth {
  /** `ok`, or `degraded` after a write failed (disk full, I/O error) until one succeeds again. */
  storage: "ok" | "degraded";
  /** What failed, when degraded. */
  error?: string;
  /** When it started failing (epoch ms), when degraded. */
  since?: number;
}

/** A file in the content-addressed files store. */
export interface FileMeta {
  /** The sha256 of the content: the only way a client can name a file. */
  id: string;
  name: string;
  mime: string;
  size: number;
  /** Local path (`<home>/files/<sha256>`), what nodes receive. */
  path: string;
}

export interface PutFileInput {
  /** Copy this local file in. */
  path?: string;
  /** Or store these bytes. */
  bytes?: Uint8Array;
  /**
   * Or stream these chunks to disk (hashed while written to a temp file in the files
   * directory, then renamed to its sha256; the temp file is removed if the source throws).
   * The source enforces any size cap; it is read once.
   */
  stream?: AsyncIterable<Uint8Array>;
  name?: string;
  mime?: string;
}

export interface HistoryPage {
  /** Newest first. */
  results: ResultRecord[];
  total: number;
}

/** A change made through one store handle, seen by sessions on the same sheet. */
export type StoreChange =
  | { type: "inputs"; sheetId: string; values: Record<string, unknown>; revision: number }
  | { type: "selections"; sheetId: string; selections: Record<string, string | null>; revision: number }
  | { type: "result"; sheetId: string; record: ResultRecord; selected: boolean }
  | { type: "sheets"; user: string };

/**
 * Where sheets, results and files live. One interface, two implementations (memory and
 * LevelDB), one conformance suite (`test/store.test.ts`).
 *
 * Durability: a promise of a write that backs an acknowledgement resolves only once the
 * write is on disk (LevelDB `sync`): `setInputs`, `setSelections`, `commitResult`, a
 * finished `putRun`, sheet creation, renaming and deletion. Other writes (a run starting,
 * file metadata, viewport, the app cache) are batched by the OS; every synced write
 * makes the ones before it durable too.
 */
export interface Store {
  /** The directory holding `files/<sha256>`. */
  readonly filesDir: string;

  listSheets(user: string): Promise<SheetInfo[]>;
  /** Creates a sheet; its default name is the next free "Sheet N". */
  createSheet(user: string, name?: string): Promise<SheetInfo>;
  getSheet(sheetId: string): Promise<SheetInfo | undefined>;
  updateSheet(sheetId: string, patch: Partial<Pick<SheetInfo, "name" | "viewport" | "choices">>): Promise<SheetInfo>;
  /** Removes the sheet, its records, and every file no other record references. */
  deleteSheet(sheetId: string): Promise<void>;
  loadSheet(sheetId: string): Promise<SheetState>;

  /** Merges input values into the sheet (each written input's revision grows by one); returns the sheet's new revision. */
  setInputs(sheetId: string, values: Record<string, unknown>): Promise<number>;
  /** Sets (or clears, with null) selections; returns the new revision. */
  setSelections(sheetId: string, selections: Record<string, string | null>): Promise<number>;

  /**
   * Stores a result, its file references and (with `select`) its selection in one
   * atomic batch: after a crash either all of it is there or none. A result is never
   * rewritten: its id taken already is `E_RESULT_EXISTS` (the memory store checks the
   * node's results until a result is looked up by id, then all of them; `newId` ids are
   * unique everywhere anyway).
   */
  commitResult(record: ResultRecord, options: { select: boolean }): Promise<void>;
  getResult(sheetId: string, resultId: string): Promise<ResultRecord | undefined>;
  /** The newest successful result of a node with this recipe key. */
  findByKey(sheetId: string, nodeId: string, key: string): Promise<ResultRecord | undefined>;
  /** A page of a node's history, newest first; `before` is a result id from the previous page. */
  listResults(sheetId: string, nodeId: string, page?: { before?: string; limit?: number }): Promise<HistoryPage>;

  putRun(run: RunRecord): Promise<void>;
  getRun(sheetId: string, runId: string): Promise<RunRecord | undefined>;

  /** Copies a file into the files store (content-addressed) and records its metadata. */
  putFile(input: PutFileInput): Promise<FileMeta>;
  getFile(id: string): Promise<FileMeta | undefined>;
  /** The file whose store path this is, if it is one. */
  fileForPath(path: string): Promise<FileMeta | undefined>;

  /** App-level cache (API info, model tasks) that survives restarts. */
  getMeta<T = unknown>(key: string): Promise<T | undefined>;
  setMeta(key: string, value: unknown): Promise<void>;

  /** Subscribes to changes committed through this handle; returns an unsubscribe function. */
  onChange(listener: (change: StoreChange) => void): () => void;

  /** Whether writes currently succeed (a store without it is taken as ok); a degraded LevelStore reopens its database on the next write or check. */
  health?(): Promise<StoreHealth>;

  close(): Promise<void>;
}

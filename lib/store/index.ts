import { join, resolve } from "node:path";
import type { Store } from "../engine/store.js";
import { StoreError, StoreErrorCode } from "./errors.js";
import { LevelStore } from "./level.js";
import { MemoryStore } from "./memory.js";
import { defaultHome } from "../home.js";

export { defaultHome } from "../home.js";
export { LevelStore, type LevelStoreOptions } from "./level.js";
export { MemoryStore } from "./memory.js";
export { FilesDir, isFileId } from "./files.js";
export { StoreError, StoreErrorCode, isStoreLocked } from "./errors.js";
export { SCHEMA_VERSION, MIGRATIONS, migrate, type Migration, type MigrationTx } from "./migrations.js";

export interface OpenStoreOptions {
  /** The state directory; defaults to {@link defaultHome}. */
  home?: string;
  /** The app's database name (derived from the graph name), or false for memory only. */
  persistKey: string | false;
}

const PERSIST_KEY = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * Opens the store of one app. The layout under `home`:
 *
 * ```
 * <home>/
 *   files/<sha256>              content-addressed blobs, shared by every app
 *   apps/<persistKey>/
 *     db/                       LevelDB (classic-level); its LOCK is the single-writer lock
 *     owner.json                pid, host and start time of the process holding the lock
 *     claims/<sha256>           empty marker: this app references that blob (see claims.ts)
 * ```
 *
 * With `persistKey: false` it returns a {@link MemoryStore} with its own temporary files
 * directory: its sheet deletion removes blobs outright, so it must not share `<home>/files`. A database held by another process throws
 * `E_STORE_LOCKED` ("already in use by another daggr process"); see `isStoreLocked`.
 *
 * @example
 * const store = await openStore({ persistKey: "transparent-background" });
 */
export async function openStore(options: OpenStoreOptions): Promise<Store> {
  if (options.persistKey === false) return new MemoryStore();
  const key = options.persistKey;
  if (typeof key !== "string" || !PERSIST_KEY.test(key)) {
    throw new StoreError(
      StoreErrorCode.BAD_PERSIST_KEY,
      `persistKey ${JSON.stringify(key)} cannot name a directory: use letters, digits, '.', '_' or '-' (at most 128, not starting with '.' or '-'), e.g. "my-workflow"; or persistKey: false to keep state in memory.`,
      { got: String(key) },
    );
  }
  const home = resolve(options.home ?? defaultHome());
  return LevelStore.open({ appDir: join(home, "apps", key), filesDir: join(home, "files") });
}

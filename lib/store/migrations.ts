import { StoreError, StoreErrorCode } from "./errors.js";
import { K, key, under } from "./level-keys.js";
import type { DB } from "./lock.js";

/** The layout this code reads and writes (see `level-keys.ts`). */
export const SCHEMA_VERSION = 3;

/** What a migration step may do: read the database as it was, and queue writes. */
export interface MigrationTx {
  /** Entries in a key range, as before this step. */
  entries(range: { gt?: string; gte?: string; lt?: string; lte?: string }): AsyncIterable<[string, unknown]>;
  get(key: string): Promise<unknown>;
  put(key: string, value: unknown): void;
  del(key: string): void;
}

/**
 * One schema step. Steps run in order from the database's version to the code's, each
 * in a single atomic batch that also records the new version, so a crash mid-upgrade
 * leaves the database at a whole version and the next open resumes.
 *
 * @example
 * const addTags: Migration = {
 *   from: 1, to: 2, description: "results get an empty tags list",
 *   async run(tx) {
 *     for await (const [k, r] of tx.entries(under("result"))) tx.put(k, { ...r, tags: [] });
 *   },
 * };
 */
export interface Migration {
  from: number;
  to: number;
  description: string;
  run(tx: MigrationTx): Promise<void>;
}

/** Every step shipped so far, oldest first. Version 1 is the first layout. */
export const MIGRATIONS: readonly Migration[] = [
  {
    from: 1,
    to: 2,
    description: "recipe key scheme 2: results stored before it stay findable under their scheme-1 keys",
    /*
     * Scheme 2 (lib/engine/recipe-key.ts) makes a short value its own identity and puts a
     * short fingerprint into the key as text, so most keys changed. Stored results cannot
     * be re-keyed here: a key covers the node's fingerprint, which was never stored. So
     * they stay as they are, and this marks the database as holding them: the engine then
     * also tries a node's scheme-1 key, computed from its current code, when its scheme-2
     * key finds nothing, and counts a selected result fresh under either key.
     */
    async run(tx) {
      for await (const _ of tx.entries(under("result"))) {
        tx.put(K.legacyKeys, 1);
        break;
      }
    },
  },
  {
    from: 2,
    to: 3,
    description: "recipe key scheme 3: results stored before it stay findable under their scheme-2 keys",
    /*
     * Scheme 3 keeps a short key text as the key, where scheme 2 hashed it: the stored
     * key of such a recipe is the hash of its new key, so the engine finds it by hashing
     * (`schemeTwoKey`). Nothing is re-keyed; the database is marked as holding scheme-2
     * results, unless it is already marked for scheme 1 (the older mark covers both).
     */
    async run(tx) {
      if ((await tx.get(K.legacyKeys)) !== undefined) return;
      for await (const _ of tx.entries(under("result"))) {
        tx.put(K.legacyKeys, 2);
        break;
      }
    },
  },
];

/**
 * Brings `db` to `target`. A fresh database is stamped with `target`; a newer one is
 * refused (an older daggr must not rewrite what it cannot read). An upgrade never drops
 * data: every value a step deletes or overwrites is kept under `backup ∅ from ∅ key`.
 * Returns the versions stepped through.
 */
export async function migrate(db: DB, target = SCHEMA_VERSION, steps: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  let version = await readVersion(db);
  if (version === undefined) {
    await db.put(K.version, target);
    return [];
  }
  if (version > target) {
    throw new StoreError(
      StoreErrorCode.STORE_SCHEMA,
      `The database ${db.location} has schema version ${version}, newer than this daggr understands (${target}). Upgrade daggr, or point DAGGR_HOME elsewhere.`,
      { got: String(version) },
    );
  }
  const passed: number[] = [];
  while (version < target) {
    const step = steps.find((s) => s.from === version);
    if (!step || step.to <= version || step.to > target) {
      throw new StoreError(
        StoreErrorCode.STORE_SCHEMA,
        `No migration from schema version ${version} towards ${target} for ${db.location}. Steps known: ${steps.map((s) => `${s.from}->${s.to}`).join(", ") || "(none)"}.`,
        { got: String(version), choices: steps.map((s) => `${s.from}->${s.to}`) },
      );
    }
    await runStep(db, step);
    passed.push(step.to);
    version = step.to;
  }
  return passed;
}

async function readVersion(db: DB): Promise<number | undefined> {
  const v = (await db.get(K.version)) as number | undefined;
  if (v !== undefined) return v;
  // No version but data: the first layout, before stamping existed.
  for await (const _ of db.keys({ limit: 1 })) return 1;
  return undefined;
}

async function runStep(db: DB, step: Migration): Promise<void> {
  const ops = new Map<string, { type: "put"; value: unknown } | { type: "del" }>();
  const snapshot = db.snapshot();
  try {
    const tx: MigrationTx = {
      async *entries(range) {
        for await (const [k, v] of db.iterator({ ...range, snapshot })) yield [k, v];
      },
      get: (k) => db.get(k, { snapshot }),
      put: (k, value) => void ops.set(k, { type: "put", value }),
      del: (k) => void ops.set(k, { type: "del" }),
    };
    await step.run(tx);
    const batch = db.batch();
    const touched = [...ops.keys()];
    const before = touched.length ? await db.getMany(touched, { snapshot }) : [];
    touched.forEach((k, i) => {
      const op = ops.get(k)!;
      const old = before[i];
      const replaced = old !== undefined && (op.type === "del" || JSON.stringify(old) !== JSON.stringify(op.value));
      if (replaced && !k.startsWith(key("backup") + "\x00")) batch.put(K.backup(step.from, k), old);
      if (op.type === "put") batch.put(k, op.value);
      else batch.del(k);
    });
    batch.put(K.version, step.to);
    await batch.write();
  } finally {
    await snapshot.close();
  }
}

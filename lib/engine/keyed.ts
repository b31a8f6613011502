/**
 * An empty object for many keys (a run's outcomes per node, a wide node's values and
 * provenance per port): in dictionary mode from the start, with the usual prototype.
 * Filled one key at a time, a plain `{}` stays in fast mode and copies its property
 * store as it grows: for a join of 1,000 parents that was 1.3 MB per object per run,
 * and a third of the join's time.
 */
export function keyedObject<T>(): Record<string, T> {
  return Object.setPrototypeOf(Object.create(null), Object.prototype) as Record<string, T>;
}

type Maker = (values: readonly unknown[]) => Record<string, unknown>;
/** A maker per key list (a node's ports: few distinct lists), bounded all the same. */
const makers = new Map<string, Maker>();
const MAX_MAKERS = 4096;
let generated = true;

/**
 * An object of `keys` → `values` (same order) at its exact size. A `{}` filled key by key
 * reserves room for four fields whatever it holds (56 bytes for one key, against 32), and
 * a result record keeps three such objects per node for as long as it is selected. A
 * literal of known keys is allocated to size, so each key list gets a small function
 * returning that literal, made once (the keys JSON-quoted; `__proto__`, which a literal
 * would take as the prototype, and a host that forbids generating code fall back to
 * `Object.fromEntries`).
 */
export function exactObject(keys: readonly string[], values: readonly unknown[], count = keys.length): Record<string, unknown> {
  return makerFor(keys, count)(values);
}

/**
 * The keys of a table (a node's output ports) with makers of objects keyed by them, made
 * once per table: node tables are shared by nodes with the same ports, so the hot path
 * lists no keys and builds no key-list id per call. `one` makes the object of a single key
 * from its value alone, without an array.
 */
export interface Keyed {
  readonly keys: readonly string[];
  readonly make: Maker;
  readonly one: (value: unknown) => Record<string, unknown>;
}

const byTable = new WeakMap<object, Keyed>();

export function keyedBy(table: object): Keyed {
  let k = byTable.get(table);
  if (k === undefined) {
    const keys = Object.freeze(Object.keys(table));
    const make: Maker = keys.length ? makerFor(keys) : () => ({});
    k = { keys, make, one: keys.length === 1 ? oneMaker(keys[0]!) : (value) => make([value]) };
    byTable.set(table, k);
  }
  return k;
}

/**
 * Most keys a literal-made object keeps in fast mode (V8's limit on a map's descriptors);
 * past it the object would be a dictionary anyway, made more dearly.
 */
const MAX_LITERAL_KEYS = 1020;
const byList = new WeakMap<readonly string[], Maker>();

/**
 * An object of the first `count` of `keys` → `values` for many keys (a wide node's values
 * and provenance). When they are exactly `list`, a stable list (a node's ports, as
 * `activePorts` keeps them), it is made at its size by a maker kept per list (and per key
 * list, for a list that is made anew per call): a join of
 * 1,000 parents then allocates 8 KB per object, where filling a dictionary one key at a
 * time allocated ~100 KB (its table regrown as it filled), per run and, for the
 * provenance kept in every result, per result. Otherwise (a port skipped, more keys than
 * a fast object holds, code generation forbidden) a dictionary is filled.
 */
export function wideObject(keys: readonly string[], values: readonly unknown[], count: number, list: readonly string[]): Record<string, unknown> {
  if (count === list.length && count <= MAX_LITERAL_KEYS && generated) {
    let same = true;
    for (let i = 0; i < count && same; i++) same = keys[i] === list[i];
    if (same) {
      // By the list itself, else by its keys (a list made anew per call still compiles once).
      let make = byList.get(list);
      if (!make) byList.set(list, (make = makerFor(list)));
      return make(values);
    }
  }
  const o = keyedObject();
  for (let i = 0; i < count; i++) o[keys[i]!] = values[i];
  return o;
}

/** The maker for the first `count` keys, made once per key list. */
function makerFor(keys: readonly string[], count = keys.length): Maker {
  let id = keys[0] ?? "";
  for (let i = 1; i < count; i++) id += `\u0000${keys[i]}`;
  let make = makers.get(id);
  if (!make) {
    make = maker(keys.slice(0, count));
    if (makers.size < MAX_MAKERS) makers.set(id, make);
  }
  return make;
}

function oneMaker(key: string): (value: unknown) => Record<string, unknown> {
  if (generated && key !== "__proto__") {
    try {
      return new Function("v", `return {${JSON.stringify(key)}: v};`) as (value: unknown) => Record<string, unknown>;
    } catch {
      generated = false;
    }
  }
  return (value) => Object.fromEntries([[key, value]]);
}

function maker(keys: readonly string[]): Maker {
  if (generated && !keys.includes("__proto__") && new Set(keys).size === keys.length) {
    try {
      return new Function("v", `return {${keys.map((k, i) => `${JSON.stringify(k)}: v[${i}]`).join(", ")}};`) as Maker;
    } catch {
      generated = false; // --disallow-code-generation-from-strings
    }
  }
  // Defined, not assigned: `o["__proto__"] = v` would set the prototype instead of a key.
  return (values) => Object.fromEntries(keys.map((k, i) => [k, values[i]]));
}

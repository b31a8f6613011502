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
  let id = keys[0] ?? "";
  for (let i = 1; i < count; i++) id += `\u0000${keys[i]}`;
  let make = makers.get(id);
  if (!make) {
    make = maker(keys.slice(0, count));
    if (makers.size < MAX_MAKERS) makers.set(id, make);
  }
  return make(values);
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

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

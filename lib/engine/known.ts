/**
 * Promises whose value is already known. The Store and Executor interfaces are async, but
 * an in-memory store or a sync FnNode has its answer at once. Marking the promise lets the
 * engine go on in the same tick, without a microtask hop (and the allocations of an async
 * frame) per step, while every other caller still simply awaits it.
 */
const VALUE = Symbol("daggr.known");

type Known<T> = Promise<T> & { [VALUE]: T };

/** One shared promise of `undefined` (a store's commit, a lookup that found nothing). */
const NOTHING: Known<undefined> = Object.assign(Promise.resolve(undefined), { [VALUE]: undefined });

/** A fulfilled promise of `value` whose value the engine can read without awaiting. */
export function fulfilled<T>(value: T): Promise<T> {
  if (value === undefined) return NOTHING as unknown as Promise<T>;
  const p = Promise.resolve(value);
  // A thenable is adopted, so its value is not known yet.
  if (!isThenable(value)) (p as Known<T>)[VALUE] = value;
  return p;
}

/** Whether `p` came from `fulfilled`, so `knownValue(p)` may be read now. */
export function isKnown<T>(p: Promise<T>): p is Known<T> {
  return VALUE in p;
}

export function knownValue<T>(p: Known<T>): T {
  return p[VALUE];
}

export function isThenable(x: unknown): x is PromiseLike<unknown> {
  return (typeof x === "object" || typeof x === "function") && x !== null && typeof (x as PromiseLike<unknown>).then === "function";
}

/** A value now, or later. */
export type Maybe<T> = T | Promise<T>;

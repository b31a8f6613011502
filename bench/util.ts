/** One benchmark figure. */
export interface Figure {
  name: string;
  value: number;
  unit: string;
  /** What the figure should be, e.g. "<= 1.0". */
  target?: string;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Runs `fn` `warmup` times unmeasured, then `runs` times; returns the median in ms. */
export async function timeMedian(fn: () => Promise<unknown> | unknown, runs = 5, warmup = 1): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  return median(times);
}

export function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Prints `BENCH <name> <value>` lines and a readable table. */
export function report(figures: Figure[]): void {
  for (const f of figures) console.log(`BENCH ${f.name} ${round(f.value)}`);
  table(figures);
}

/** The readable table alone. */
export function table(figures: Figure[]): void {
  console.table(figures.map((f) => ({ name: f.name, value: round(f.value), unit: f.unit, target: f.target ?? "" })));
}

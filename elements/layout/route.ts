/**
 * Edge routes that go around cards instead of behind them. The layouts are layered left
 * to right, so the columns between layers are free: an edge whose plain curve would
 * cross a card on its way bends, in the free column after its source, onto a horizontal
 * channel clear of every card it passes, runs along it, and bends back in the column
 * before its target. An edge with nothing in its way keeps its plain curve.
 */

export interface Rect {
  id: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Room kept between a routed edge and a card, in px. */
const MARGIN = 14;
/**
 * The strip above each card that its timing label ("87ms") takes: an edge passing over a
 * card runs above the label, not through it.
 */
const LABEL = 20;
/** How far into the free column after its source an edge bends, at most. */
const BEND = 56;

/** The cards, sorted by their left edge, to find those an edge passes in a few steps. */
export class Obstacles {
  private readonly rects: Rect[];
  private readonly maxW: number;

  constructor(rects: Iterable<Rect>) {
    this.rects = [...rects].sort((a, b) => a.x - b.x);
    this.maxW = this.rects.reduce((m, r) => Math.max(m, r.w), 0);
  }

  /** Cards overlapping the open x-range (x0, x1), except the edge's own two. */
  between(x0: number, x1: number, from: string, to: string): Rect[] {
    const out: Rect[] = [];
    const rects = this.rects;
    // The first card that may reach x0: its left edge is past x0 - (widest card).
    let lo = 0;
    let hi = rects.length;
    const start = x0 - this.maxW;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (rects[mid]!.x < start) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < rects.length && rects[i]!.x < x1; i++) {
      const r = rects[i]!;
      if (r.x + r.w > x0 && r.id !== from && r.id !== to) out.push(r);
    }
    return out;
  }
}

const hits = (rs: Rect[], y0: number, y1: number) => rs.some((r) => r.y - LABEL < y1 && r.y + r.h > y0);

/** A plain left-to-right curve between two port dots. */
export function curve(x1: number, y1: number, x2: number, y2: number): string {
  const dx = Math.max(40, Math.abs(x2 - x1) * 0.45);
  return `M${x1},${y1} C${x1 + dx},${y1} ${x2 - dx},${y2} ${x2},${y2}`;
}

/**
 * The path of an edge from (x1, y1), the source's output dot, to (x2, y2), the target's
 * input dot: the plain curve when no card is in its way, else a route along the nearest
 * clear horizontal channel.
 */
export function route(x1: number, y1: number, x2: number, y2: number, obstacles: Obstacles, from: string, to: string): { d: string; routed: boolean } {
  const d = detour(x1, y1, x2, y2, obstacles, from, to);
  return d ? { d, routed: true } : { d: curve(x1, y1, x2, y2), routed: false };
}

function detour(x1: number, y1: number, x2: number, y2: number, obstacles: Obstacles, from: string, to: string): string | undefined {
  if (x2 - x1 < 2 * BEND) return undefined;
  const passed = obstacles.between(x1 + 1, x2 - 1, from, to);
  if (!passed.length || !hits(passed, Math.min(y1, y2) - MARGIN, Math.max(y1, y2) + MARGIN)) return undefined;
  // Candidate channels: the two ends' own heights, then just above (its label) or below each card passed.
  const candidates = [y1, y2];
  for (const r of passed) candidates.push(r.y - LABEL - MARGIN, r.y + r.h + MARGIN);
  const cost = (c: number) => Math.abs(c - y1) + Math.abs(c - y2);
  candidates.sort((a, b) => cost(a) - cost(b));
  const channel = candidates.find((c) => !hits(passed, c - MARGIN / 2, c + MARGIN / 2));
  if (channel === undefined) return undefined;
  const bend = Math.min(BEND, (x2 - x1) / 3);
  const xa = x1 + bend;
  const xb = x2 - bend;
  const k = bend / 2;
  return `M${x1},${y1} C${x1 + k},${y1} ${xa - k},${channel} ${xa},${channel} L${xb},${channel} C${xb + k},${channel} ${x2 - k},${y2} ${x2},${y2}`;
}

import { safeGet, safeSet } from "../controllers/theme.js";
import type { LayoutInput, LayoutResult } from "./types.js";

const KEY = "daggr:layouts";
const KEEP = 8;

interface Entry {
  k: string;
  p: Array<[string, number, number]>;
  b: LayoutResult["bounds"];
}

/**
 * Layouts remembered across page loads (localStorage, the last 8), keyed by a hash of
 * the graph's shape: node ids, widths, ports and edges. Heights are left out: a card's
 * height follows its content (a result arriving, an error), which changes between two
 * opens of the same graph (a sheet that ran on open), and cards that grow after the
 * layout are settled apart anyway. A reload of an unchanged graph is laid out at once;
 * any change of shape misses.
 */
export function layoutKey(input: LayoutInput): string {
  const text = JSON.stringify([input.nodes.map((n) => [n.id, Math.round(n.width), n.ports]), input.edges, input.aspectRatio?.toFixed(1)]);
  // Two FNV-1a passes with different seeds: 64 bits, plenty for 8 entries.
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
  }
  return `${(a >>> 0).toString(36)}.${(b >>> 0).toString(36)}`;
}

function entries(): Entry[] {
  try {
    const parsed = JSON.parse(safeGet(KEY) ?? "[]") as unknown;
    return Array.isArray(parsed) ? (parsed as Entry[]) : [];
  } catch {
    return [];
  }
}

export function cachedLayout(key: string): LayoutResult | undefined {
  const e = entries().find((x) => x.k === key);
  if (!e) return undefined;
  return { positions: new Map(e.p.map(([id, x, y]) => [id, { x, y }])), bounds: e.b, engine: "elk", ms: 0 };
}

export function rememberLayout(key: string, r: LayoutResult): void {
  if (r.engine !== "elk") return;
  const e: Entry = { k: key, p: [...r.positions].map(([id, p]) => [id, Math.round(p.x), Math.round(p.y)]), b: r.bounds };
  safeSet(KEY, JSON.stringify([e, ...entries().filter((x) => x.k !== key)].slice(0, KEEP)));
}

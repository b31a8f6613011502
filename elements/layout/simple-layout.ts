import type { LayoutInput, LayoutResult } from "./types.js";

const GAP_X = 96;
const GAP_Y = 36;

/**
 * A small layered layout for when no worker can run ELK (a page whose CSP forbids
 * `blob:` workers): longest-path layers left to right, then one barycentre pass to
 * order each layer by its parents. Linear in the graph's size, so it never freezes the
 * page either; ELK's result is nicer (fewer crossings, better alignment).
 */
export function simpleLayout(input: LayoutInput): LayoutResult {
  const t0 = performance.now();
  const parents = new Map<string, string[]>();
  for (const n of input.nodes) parents.set(n.id, []);
  for (const e of input.edges) parents.get(e.target)?.push(e.source);
  const layer = new Map<string, number>();
  const visiting = new Set<string>();
  const depth = (id: string): number => {
    const known = layer.get(id);
    if (known !== undefined) return known;
    if (visiting.has(id)) return 0;
    visiting.add(id);
    let d = 0;
    for (const p of parents.get(id) ?? []) if (layer.has(p) || parents.has(p)) d = Math.max(d, depth(p) + 1);
    visiting.delete(id);
    layer.set(id, d);
    return d;
  };
  const layers: string[][] = [];
  for (const n of input.nodes) (layers[depth(n.id)] ??= []).push(n.id);

  const byId = new Map(input.nodes.map((n) => [n.id, n]));
  const positions = new Map<string, { x: number; y: number }>();
  const rank = new Map<string, number>();
  let x = 0;
  let height = 0;
  let width = 0;
  for (const ids of layers) {
    if (!ids) continue;
    const bary = (id: string) => {
      const ps = (parents.get(id) ?? []).filter((p) => rank.has(p));
      return ps.length ? ps.reduce((s, p) => s + rank.get(p)!, 0) / ps.length : Number.MAX_SAFE_INTEGER;
    };
    ids.sort((a, b) => bary(a) - bary(b));
    let y = 0;
    let w = 0;
    ids.forEach((id, i) => {
      const n = byId.get(id)!;
      positions.set(id, { x, y });
      rank.set(id, i);
      y += n.height + GAP_Y;
      w = Math.max(w, n.width);
    });
    height = Math.max(height, y - GAP_Y);
    width = x + w;
    x += w + GAP_X;
  }
  return { positions, bounds: { x: 0, y: 0, width, height }, engine: "fallback", ms: performance.now() - t0 };
}

import type { LayoutInput, LayoutResult } from "./types.js";

const GAP_X = 96;
const GAP_Y = 36;
const GAP_PARTS = 72;
const SWEEPS = 4;

/**
 * A fast layered layout, left to right: the canvas's layout for large graphs (where
 * ELK takes seconds), and the fallback when no worker can run ELK (a page whose CSP
 * forbids `blob:` workers). Each connected part is laid out alone: longest-path layers
 * (a source node sits just left of its first consumer), a few barycentre sweeps to order
 * each layer, then each card is placed level with its parents as far as the cards above
 * it allow. The parts are packed in rows towards the view's shape. Iterative and about
 * linear in the graph's size: 1,000 nodes take a few milliseconds.
 */
export function simpleLayout(input: LayoutInput): LayoutResult {
  const t0 = performance.now();
  const index = new Map(input.nodes.map((n, i) => [n.id, i]));
  const count = input.nodes.length;
  const parents: number[][] = input.nodes.map(() => []);
  const children: number[][] = input.nodes.map(() => []);
  const portY = new Map<string, number>();
  for (const n of input.nodes) for (const p of n.ports) portY.set(p.id, p.y);
  // Per edge, the vertical offset from the source card's top to the target card's top
  // that would make it straight.
  const offsets: Array<Map<number, number>> = input.nodes.map(() => new Map());
  for (const e of input.edges) {
    const s = index.get(e.source);
    const t = index.get(e.target);
    if (s === undefined || t === undefined || s === t) continue;
    parents[t]!.push(s);
    children[s]!.push(t);
    offsets[t]!.set(s, (portY.get(e.sourcePort) ?? 0) - (portY.get(e.targetPort) ?? 0));
  }

  const parts = components(count, parents, children);
  const boxes = parts.map((part) => layoutPart(part, input, parents, children, offsets));
  const positions = new Map<string, { x: number; y: number }>();
  const { width, height } = pack(boxes, input.aspectRatio ?? 1.6, (part, dx, dy) => {
    for (const [i, p] of part.positions) positions.set(input.nodes[i]!.id, { x: p.x + dx, y: p.y + dy });
  });
  return { positions, bounds: { x: 0, y: 0, width, height }, engine: "layered", ms: performance.now() - t0 };
}

interface Part {
  positions: Map<number, { x: number; y: number }>;
  width: number;
  height: number;
}

/** Connected parts (edges taken both ways), each in model order. */
function components(count: number, parents: number[][], children: number[][]): number[][] {
  const part = new Array<number>(count).fill(-1);
  const parts: number[][] = [];
  for (let s = 0; s < count; s++) {
    if (part[s] !== -1) continue;
    const members: number[] = [];
    const stack = [s];
    part[s] = parts.length;
    while (stack.length) {
      const v = stack.pop()!;
      members.push(v);
      for (const u of [...parents[v]!, ...children[v]!]) {
        if (part[u] === -1) {
          part[u] = parts.length;
          stack.push(u);
        }
      }
    }
    parts.push(members.sort((a, b) => a - b));
  }
  return parts;
}

function layoutPart(members: number[], input: LayoutInput, parents: number[][], children: number[][], offsets: Array<Map<number, number>>): Part {
  const nodes = input.nodes;
  // Topological order (Kahn), model order among ready nodes; nodes on a cycle, if any, last.
  const indeg = new Map(members.map((v) => [v, parents[v]!.length]));
  const ready = members.filter((v) => indeg.get(v) === 0);
  const order: number[] = [];
  for (let i = 0; i < ready.length; i++) {
    const v = ready[i]!;
    order.push(v);
    for (const c of children[v]!) {
      const d = indeg.get(c)! - 1;
      indeg.set(c, d);
      if (d === 0) ready.push(c);
    }
  }
  if (order.length < members.length) {
    const seen = new Set(order);
    for (const v of members) if (!seen.has(v)) order.push(v);
  }
  // Longest-path layers; then each source moves right, next to its nearest consumer.
  const layer = new Map<number, number>();
  for (const v of order) layer.set(v, Math.max(0, ...parents[v]!.filter((p) => layer.has(p)).map((p) => layer.get(p)! + 1)));
  for (let i = order.length - 1; i >= 0; i--) {
    const v = order[i]!;
    if (parents[v]!.length || !children[v]!.length) continue;
    layer.set(v, Math.max(layer.get(v)!, Math.min(...children[v]!.map((c) => layer.get(c)!)) - 1));
  }
  const layers: number[][] = [];
  for (const v of members) (layers[layer.get(v)!] ??= []).push(v);
  for (let l = 0; l < layers.length; l++) layers[l] ??= [];

  // Barycentre sweeps: down by parents' ranks, up by children's.
  const rank = new Map<number, number>();
  const setRanks = (ids: number[]) => ids.forEach((v, i) => rank.set(v, i));
  layers.forEach(setRanks);
  const sortBy = (ids: number[], near: (v: number) => number[]) => {
    const key = new Map<number, number>();
    for (const v of ids) {
      const ns = near(v).filter((u) => rank.has(u));
      key.set(v, ns.length ? ns.reduce((s, u) => s + rank.get(u)!, 0) / ns.length : rank.get(v)!);
    }
    ids.sort((a, b) => key.get(a)! - key.get(b)! || rank.get(a)! - rank.get(b)!);
    setRanks(ids);
  };
  for (let s = 0; s < SWEEPS; s++) {
    for (let l = 1; l < layers.length; l++) sortBy(layers[l]!, (v) => parents[v]!.filter((p) => layer.get(p) === l - 1));
    for (let l = layers.length - 2; l >= 0; l--) sortBy(layers[l]!, (v) => children[v]!.filter((c) => layer.get(c) === l + 1));
  }

  // x per layer; y level with the parents where the cards above allow.
  const positions = new Map<number, { x: number; y: number }>();
  let x = 0;
  let height = 0;
  for (const ids of layers) {
    let w = 0;
    let floor = 0;
    for (const v of ids) {
      const placed = parents[v]!.filter((p) => positions.has(p));
      const want = placed.length ? placed.reduce((s, p) => s + positions.get(p)!.y + (offsets[v]!.get(p) ?? 0), 0) / placed.length : floor;
      const y = Math.max(floor, want);
      positions.set(v, { x, y });
      floor = y + nodes[v]!.height + GAP_Y;
      w = Math.max(w, nodes[v]!.width);
    }
    height = Math.max(height, floor - GAP_Y);
    x += w + GAP_X;
  }
  return { positions, width: Math.max(0, x - GAP_X), height: Math.max(0, height) };
}

/** Shelf packing, largest part first, rows as wide as makes the whole about `aspect` wide over tall. */
function pack(parts: Part[], aspect: number, place: (p: Part, dx: number, dy: number) => void): { width: number; height: number } {
  const sorted = [...parts].sort((a, b) => b.height * b.width - a.height * a.width);
  const area = sorted.reduce((s, p) => s + (p.width + GAP_PARTS) * (p.height + GAP_PARTS), 0);
  const rowWidth = Math.max(sorted[0]?.width ?? 0, Math.sqrt(area * aspect));
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  let width = 0;
  for (const p of sorted) {
    if (x > 0 && x + p.width > rowWidth) {
      y += rowHeight + GAP_PARTS;
      x = 0;
      rowHeight = 0;
    }
    place(p, x, y);
    x += p.width + GAP_PARTS;
    width = Math.max(width, x - GAP_PARTS);
    rowHeight = Math.max(rowHeight, p.height);
  }
  return { width, height: y + rowHeight };
}

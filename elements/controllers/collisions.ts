const GAP = 24;

export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

/**
 * Where cards go when their heights change after layout (an image arrived, an error
 * appeared): each stays at its laid-out spot unless a card above it, in an overlapping
 * column, has grown into it; then it moves down just enough. Computed from the layout's
 * own positions each time, so cards move back up when a neighbour shrinks again. This
 * is not a new layout: nothing is reordered and ELK is not asked.
 *
 * @returns the new top of every card whose top differs from its laid-out one.
 */
export function settle(laid: Map<string, { x: number; y: number }>, size: (id: string) => { w: number; h: number }): Map<string, number> {
  const boxes: Array<Box & { id: string }> = [];
  for (const [id, p] of laid) boxes.push({ id, x: p.x, y: p.y, ...size(id) });
  boxes.sort((a, b) => a.y - b.y || a.x - b.x);
  const placed: Array<Box & { id: string }> = [];
  const moved = new Map<string, number>();
  for (const b of boxes) {
    let top = b.y;
    for (const a of placed) {
      if (a.x < b.x + b.w && b.x < a.x + a.w) top = Math.max(top, a.y + a.h + GAP);
    }
    placed.push({ ...b, y: top });
    if (top !== b.y) moved.set(b.id, top);
  }
  return moved;
}

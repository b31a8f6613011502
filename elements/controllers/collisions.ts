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
  // Cards of a layered layout share few columns: keep the lowest bottom placed so far per
  // column (left edge and width), and test a card against the columns, not every card.
  const columns = new Map<string, { x: number; w: number; bottom: number }>();
  const moved = new Map<string, number>();
  for (const b of boxes) {
    let top = b.y;
    for (const c of columns.values()) {
      if (c.x < b.x + b.w && b.x < c.x + c.w) top = Math.max(top, c.bottom + GAP);
    }
    const key = `${b.x}:${b.w}`;
    const col = columns.get(key);
    if (col) col.bottom = Math.max(col.bottom, top + b.h);
    else columns.set(key, { x: b.x, w: b.w, bottom: top + b.h });
    if (top !== b.y) moved.set(b.id, top);
  }
  return moved;
}

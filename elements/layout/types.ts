/** What the layout needs of a node: its measured size and where its port dots sit. */
export interface LayoutNode {
  id: string;
  width: number;
  height: number;
  ports: Array<{ id: string; side: "in" | "out"; y: number }>;
}

export interface LayoutEdge {
  id: string;
  source: string;
  sourcePort: string;
  target: string;
  targetPort: string;
}

export interface LayoutInput {
  nodes: LayoutNode[];
  edges: LayoutEdge[];
  /** Width over height the disconnected parts are packed towards (the view's shape). */
  aspectRatio?: number;
}

export interface LayoutResult {
  positions: Map<string, { x: number; y: number }>;
  bounds: { x: number; y: number; width: number; height: number };
  /**
   * Which engine produced it: ELK in a worker, the fast layered layout (large graphs), or
   * that same layout as the fallback when ELK cannot run.
   */
  engine: "elk" | "layered" | "fallback";
  ms: number;
}

/** A port's id in the layout graph. */
export const portId = (node: string, side: "in" | "out", port: string) => `${node}\u0000${side}\u0000${port}`;

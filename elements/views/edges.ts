import { css } from "lit";
import type { CanvasStore } from "../controllers/canvas-store.js";
import type { EdgeWire } from "../wire.js";
import { outputPorts, portY, wiredInputs } from "../layout/geometry.js";
import { Obstacles, route } from "../layout/route.js";

type Sizes = ReadonlyMap<string, { w: number; h: number }>;

const SVG = "http://www.w3.org/2000/svg";

/** Length of a crow's foot (the "many" end of a scatter or gather edge), in px. */
const FOOT = 16;
const FOOT_SPREAD = 7;

/**
 * The edges: one SVG path per edge, from the output port's dot to the input port's dot,
 * drawn once per layout, around the cards between them (`layout/route.ts`). Freshness and activity updates only flip classes on the
 * affected paths, so an event about one node touches only the edges around it.
 *
 * Edge kinds read at a glance: a scatter (`each`) ends in a crow's foot at the MAP node
 * (one list, many runs), a gather (`all`) starts with one at the MAP node's side, a
 * `firstOf` source is dashed, a branch condition (`when`) is dotted. Edges touching a
 * skipped node, and edges into a choice's unselected variant, fade.
 */
export class EdgeLayer {
  private readonly paths = new Map<string, SVGPathElement>();
  private highlighted = new Set<string>();
  /** Edges that take a detour around cards (a card moving may free their way). */
  private readonly routed = new Set<string>();

  constructor(
    readonly svg: SVGSVGElement,
    private readonly store: CanvasStore,
  ) {}

  /** Redraws every edge for a new layout (positions by node id; each card's size). */
  draw(positions: Map<string, { x: number; y: number }>, widthOf: (id: string) => number, bounds: { width: number; height: number }, sizes: Sizes = new Map()): void {
    this.svg.replaceChildren();
    this.paths.clear();
    this.routed.clear();
    this.svg.setAttribute("width", String(Math.ceil(bounds.width + 20)));
    this.svg.setAttribute("height", String(Math.ceil(bounds.height + 20)));
    const frag = document.createDocumentFragment();
    const obstacles = obstaclesOf(positions, sizes);
    for (const e of this.store.graph?.edges ?? []) {
      const d = this.pathFor(e, positions, widthOf, obstacles);
      if (!d) continue;
      const p = document.createElementNS(SVG, "path");
      p.setAttribute("d", d);
      p.dataset.edge = e.id;
      p.dataset.from = e.from.node;
      p.dataset.to = e.to.node;
      this.paths.set(e.id, p);
      this.style(e, p);
      frag.append(p);
    }
    this.svg.append(frag);
  }

  /** Re-routes the edges touching these nodes (they moved). */
  reroute(nodes: Set<string>, positions: Map<string, { x: number; y: number }>, widthOf: (id: string) => number, sizes: Sizes = new Map()): void {
    const obstacles = obstaclesOf(positions, sizes);
    for (const e of this.store.graph?.edges ?? []) {
      // A moved card may now sit in the way of an edge between two others: those are re-routed too.
      const ends = nodes.has(e.from.node) || nodes.has(e.to.node);
      const p = this.paths.get(e.id);
      if (!p || (!ends && !this.routed.has(e.id) && !crosses(e, nodes, positions, sizes))) continue;
      const d = this.pathFor(e, positions, widthOf, obstacles);
      if (d) p.setAttribute("d", d);
    }
  }

  /**
   * Restyles the given edges (after freshness or activity changes): the work is that of
   * the edges given, not of the graph (a run of a 1,000-wide fan-out restyles a few edges
   * ~4,000 times; a table of every edge made per call cost the tab 0.4 s a run).
   */
  update(ids: Iterable<string>): void {
    for (const id of ids) {
      const p = this.paths.get(id);
      const e = this.store.edgeById.get(id);
      if (p && e) this.style(e, p);
    }
  }

  /** Emphasises edges between nodes a run would execute (hover on a run button). */
  highlight(nodes: Set<string> | undefined): void {
    for (const id of this.highlighted) this.paths.get(id)?.classList.remove("will-run");
    this.highlighted.clear();
    if (!nodes) return;
    for (const [id, p] of this.paths) {
      if (nodes.has(p.dataset.to!)) {
        p.classList.add("will-run");
        this.highlighted.add(id);
      }
    }
  }

  private style(e: EdgeWire, p: SVGPathElement): void {
    const fresh = this.store.edgeFresh.get(e.id) ?? false;
    const act = this.store.state(e.to.node).activity;
    const cls = ["edge", fresh ? "fresh" : "stale"];
    if (e.kind) cls.push(`k-${e.kind}`);
    if (act === "running" || act === "queued") cls.push("active");
    if (act === "skipped" || this.store.state(e.from.node).activity === "skipped") cls.push("skipped");
    const chosen = this.store.variantOf(e.to.node);
    if (chosen !== undefined && e.to.port.includes(".") && !e.to.port.startsWith(`${chosen}.`)) cls.push("inactive");
    if (this.highlighted.has(e.id)) cls.push("will-run");
    // Set only when it changes: each write restyles the path.
    const text = cls.join(" ");
    if (p.getAttribute("class") !== text) p.setAttribute("class", text);
  }

  private pathFor(e: EdgeWire, pos: Map<string, { x: number; y: number }>, widthOf: (id: string) => number, obstacles: Obstacles): string | undefined {
    const a = pos.get(e.from.node);
    const b = pos.get(e.to.node);
    const from = this.store.node(e.from.node);
    const to = this.store.node(e.to.node);
    if (!a || !b || !from || !to) return undefined;
    const outRow = outputPorts(from, this.store.edgesOutOf.get(from.id)).indexOf(e.from.port);
    const inRow = wiredInputs(to).indexOf(e.to.port);
    if (outRow < 0 || inRow < 0) return undefined;
    const x1 = a.x + widthOf(e.from.node);
    const y1 = a.y + portY(outRow);
    const x2 = b.x;
    const y2 = b.y + portY(inRow);
    const { d: curve, routed } = route(x1, y1, x2, y2, obstacles, e.from.node, e.to.node);
    this.routed[routed ? "add" : "delete"](e.id);
    // Crow's feet on the "many" side: the MAP node's end of a scatter or a gather.
    if (e.kind === "each") return `${curve} M${x2 - FOOT},${y2} L${x2},${y2 - FOOT_SPREAD} M${x2 - FOOT},${y2} L${x2},${y2 + FOOT_SPREAD}`;
    if (e.kind === "all") return `${curve} M${x1 + FOOT},${y1} L${x1},${y1 - FOOT_SPREAD} M${x1 + FOOT},${y1} L${x1},${y1 + FOOT_SPREAD}`;
    return curve;
  }
}

function obstaclesOf(positions: Map<string, { x: number; y: number }>, sizes: Sizes): Obstacles {
  const rects = [];
  for (const [id, p] of positions) {
    const s = sizes.get(id);
    if (s) rects.push({ id, x: p.x, y: p.y, w: s.w, h: s.h });
  }
  return new Obstacles(rects);
}

/** Whether one of the moved cards now lies between an edge's two ends (horizontally). */
function crosses(e: EdgeWire, moved: Set<string>, positions: Map<string, { x: number; y: number }>, sizes: Sizes): boolean {
  const a = positions.get(e.from.node);
  const b = positions.get(e.to.node);
  if (!a || !b) return false;
  for (const id of moved) {
    const p = positions.get(id);
    const s = sizes.get(id);
    if (p && s && p.x + s.w > a.x && p.x < b.x) return true;
  }
  return false;
}

export const edgeStyles = css`
  svg.edges {
    position: absolute;
    left: 0;
    top: 0;
    overflow: visible;
    pointer-events: none;
  }
  .edge {
    fill: none;
    stroke-width: 2;
    /* Edges stay visible however far out the view is zoomed. */
    vector-effect: non-scaling-stroke;
    transition: stroke 0.2s;
  }
  .edge.fresh {
    stroke: var(--daggr-accent);
  }
  .edge.stale {
    stroke: var(--daggr-stale);
  }
  .edge.k-each,
  .edge.k-all {
    stroke-width: 2.5;
  }
  .edge.k-first {
    stroke-dasharray: 7 5;
  }
  .edge.k-when {
    stroke-width: 2;
    stroke-dasharray: 0.5 5;
    stroke-linecap: round;
  }
  .edge.skipped,
  .edge.inactive {
    stroke: var(--daggr-stale);
    opacity: 0.45;
  }
  .edge.skipped:not(.k-when) {
    stroke-dasharray: 3 5;
  }
  .edge.active {
    stroke: var(--daggr-accent);
    stroke-dasharray: 6 6;
    opacity: 1;
    animation: flow 0.6s linear infinite;
  }
  .edge.will-run {
    stroke: var(--daggr-accent);
    stroke-width: 3.5;
    filter: drop-shadow(0 0 4px color-mix(in srgb, var(--daggr-accent) 60%, transparent));
  }
  @keyframes flow {
    to {
      stroke-dashoffset: -12;
    }
  }
`;

import elkWorkerSource from "./elk-worker.txt";
import { type LayoutInput, type LayoutResult } from "./types.js";

/**
 * ELK's layered algorithm, left to right, run in a Web Worker created from the inlined
 * elkjs worker script (a Blob URL works from any embedding origin, unlike a worker URL).
 * Only the layered algorithm is registered. Brandes-Köpf placement and polyline routing
 * keep a 200-node graph around a third of a second (network-simplex placement and
 * orthogonal routing cost several times that, and the canvas draws its own edges).
 */
const ROOT_OPTIONS: Record<string, string> = {
  "elk.algorithm": "layered",
  "elk.direction": "RIGHT",
  "elk.layered.nodePlacement.strategy": "BRANDES_KOEPF",
  "elk.edgeRouting": "POLYLINE",
  "elk.spacing.nodeNode": "36",
  "elk.layered.spacing.nodeNodeBetweenLayers": "96",
  "elk.spacing.componentComponent": "72",
  "elk.separateConnectedComponents": "true",
  "elk.layered.considerModelOrder.strategy": "NODES_AND_EDGES",
};

interface Reply {
  id: number;
  data?: ElkOut;
  error?: unknown;
}

interface ElkOut {
  width?: number;
  height?: number;
  children?: Array<{ id: string; x?: number; y?: number }>;
}

export class ElkWorker {
  private readonly worker: Worker;
  private readonly url: string;
  private seq = 0;
  private readonly waiting = new Map<number, { resolve(d: ElkOut | undefined): void; reject(e: Error): void }>();

  /** Throws when workers cannot be created here (e.g. a page CSP without `worker-src blob:`). */
  constructor() {
    this.url = URL.createObjectURL(new Blob([elkWorkerSource], { type: "text/javascript" }));
    try {
      this.worker = new Worker(this.url);
    } catch (e) {
      URL.revokeObjectURL(this.url);
      throw e;
    }
    this.worker.onmessage = (ev: MessageEvent<Reply>) => {
      const w = this.waiting.get(ev.data.id);
      if (!w) return;
      this.waiting.delete(ev.data.id);
      if (ev.data.error) w.reject(new Error(describe(ev.data.error)));
      else w.resolve(ev.data.data);
    };
    this.worker.onerror = (ev) => {
      ev.preventDefault();
      for (const w of this.waiting.values()) w.reject(new Error(ev.message || "The layout worker failed."));
      this.waiting.clear();
    };
    void this.call({ cmd: "register", algorithms: ["layered"] }).catch(() => undefined);
    // A throwaway layout while the page is still busy elsewhere: ELK is compiled Java,
    // and its first real layout would otherwise pay for the JIT warming up.
    void this.layout(warmupGraph()).then(
      () => undefined,
      () => undefined,
    );
  }


  async layout(input: LayoutInput): Promise<LayoutResult> {
    const t0 = performance.now();
    const big = input.nodes.length > 60;
    const graph = {
      id: "root",
      layoutOptions: {
        ...ROOT_OPTIONS,
        ...(big ? { "elk.layered.thoroughness": "1" } : {}),
        ...(input.aspectRatio ? { "elk.aspectRatio": input.aspectRatio.toFixed(2) } : {}),
      },
      children: input.nodes.map((n) => ({
        id: n.id,
        width: n.width,
        height: n.height,
        layoutOptions: { "elk.portConstraints": "FIXED_POS" },
        ports: n.ports.map((p) => ({ id: p.id, x: p.side === "in" ? 0 : n.width, y: p.y, width: 0, height: 0 })),
      })),
      edges: input.edges.map((e) => ({ id: e.id, sources: [e.sourcePort], targets: [e.targetPort] })),
    };
    const out = await this.call({ cmd: "layout", graph, layoutOptions: {}, options: {} });
    const positions = new Map<string, { x: number; y: number }>();
    for (const c of out?.children ?? []) positions.set(c.id, { x: c.x ?? 0, y: c.y ?? 0 });
    return {
      positions,
      bounds: { x: 0, y: 0, width: out?.width ?? 0, height: out?.height ?? 0 },
      engine: "elk",
      ms: performance.now() - t0,
    };
  }

  destroy(): void {
    this.worker.terminate();
    URL.revokeObjectURL(this.url);
    for (const w of this.waiting.values()) w.reject(new Error("The layout worker was stopped."));
    this.waiting.clear();
  }

  private call(msg: Record<string, unknown>): Promise<ElkOut | undefined> {
    const id = ++this.seq;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ ...msg, id });
    });
  }
}

function describe(err: unknown): string {
  if (err && typeof err === "object" && "message" in err) return String((err as { message: unknown }).message);
  return typeof err === "string" ? err : "ELK could not lay the graph out.";
}

/** A small layered graph with ports and joins, exercising the same code paths as a real one. */
function warmupGraph(): LayoutInput {
  const nodes: LayoutInput["nodes"] = [];
  const edges: LayoutInput["edges"] = [];
  for (let i = 0; i < 40; i++) {
    nodes.push({ id: `w${i}`, width: 320, height: 120 + (i % 3) * 40, ports: [{ id: `w${i}i0`, side: "in", y: 60 }, { id: `w${i}i1`, side: "in", y: 82 }, { id: `w${i}o`, side: "out", y: 60 }] });
    if (i >= 3) edges.push({ id: `we${i}`, source: `w${i - 3}`, sourcePort: `w${i - 3}o`, target: `w${i}`, targetPort: `w${i}i0` });
    if (i >= 7 && i % 4 === 0) edges.push({ id: `wf${i}`, source: `w${i - 7}`, sourcePort: `w${i - 7}o`, target: `w${i}`, targetPort: `w${i}i1` });
  }
  return { nodes, edges };
}

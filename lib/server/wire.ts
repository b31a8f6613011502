import { createHash } from "node:crypto";
import { resolve, sep } from "node:path";
import { LRUCache } from "lru-cache";
import { type EngineEvent, type NodeState, type ResultRecord, type Store, schemeTwoKey } from "../engine/index.js";
import { type Component, type Graph, type Node, isFileComponent } from "../graph/index.js";
import {
  type ErrorWire, type EventWire, type FileRef, type GraphWire, type NodeStateWire, type ResultWire, WireErrorCode,
} from "../protocol.js";
import { hfToken, hfTokenScoped, processHfToken } from "../nodes/hf-token.js";
import { originWire } from "../nodes/upstream.js";
import { DaggrError, ErrorCode } from "../graph/index.js";
import { WireError } from "./errors.js";

/** One item of a mapped node's result, as the engine records it. */
interface ItemRecord {
  key: string;
  inputs: Record<string, unknown>;
  outputs: Record<string, unknown>;
  status: ResultWire["status"];
  error?: ErrorWire;
  startedAt: number;
  ms: number;
}

const FILE_URL = /^(?:https?:\/\/[^/]+)?\/files\/([0-9a-f]{64})$/;
const MAX_DEPTH = 64;
/** Bytes the memo of ingested values may hold (keys and FileRefs, estimated); least recently used go first. */
export const INGEST_CACHE_BYTES = 4 * 1024 * 1024;
/** FileRefs remembered by file id (one per distinct file served); least recently used go first. */
const REF_CACHE_ENTRIES = 10_000;
/** Rough bytes of one memo entry besides its key: a FileRef, its promise, the cache's own links. */
const ENTRY_BYTES = 400;

/**
 * Serialisation between engine values and the wire. Files travel as local path strings
 * inside the engine; on the wire they are {@link FileRef}s naming a server-minted id, so
 * no local path ever leaves the server and no client can make a node read one.
 *
 * Outgoing: every string that is a path inside the files store becomes a FileRef,
 * wherever it sits in a value. A value on a file port that is not in the store yet (an
 * app's default `gr.Image({ value: "./cat.png" })`, a partial output) is copied in first.
 * Incoming: a file port accepts only FileRefs (or `/files/<id>` URLs, or `data:` URLs,
 * which are stored); any other string is refused.
 */
export class Wire {
  private readonly prefix: string;
  // Both memos are bounded: clients decide how many distinct values pass through them.
  private readonly refs = new LRUCache<string, FileRef>({ max: REF_CACHE_ENTRIES });
  /** Ingested values by {@link ingestKey} (a `data:` URL by its digest, not the URL itself). */
  readonly ingested: LRUCache<string, Promise<FileRef | null>>;
  private graphWire: Promise<GraphWire> | undefined;
  private secret: { value: string | undefined; at: number } = { value: undefined, at: 0 };

  constructor(
    readonly graph: Graph,
    readonly store: Store,
    limits: { ingestCacheBytes?: number } = {},
  ) {
    this.prefix = resolve(store.filesDir) + sep;
    this.ingested = new LRUCache({ maxSize: limits.ingestCacheBytes ?? INGEST_CACHE_BYTES, sizeCalculation: (_v, k) => k.length * 2 + ENTRY_BYTES });
  }

  // ── outgoing ───────────────────────────────────────────────────────────────

  /** JSON for a message, with the HF token cut out wherever a node or error put it. */
  encode(message: object): string {
    return this.redact(JSON.stringify(message));
  }

  /** A message's JSON with the HF token cut out (see `encode`). */
  redact(text: string): string {
    // The machine's token, and a visitor's own (on a Space) when this runs for one.
    for (const token of [this.hfToken(), hfTokenScoped() ? hfToken() : undefined]) {
      if (token && token.length >= 4 && text.includes(token)) text = text.split(token).join("hf_***");
    }
    return text;
  }

  private hfToken(): string | undefined {
    // Re-read at most every 10 s: `hf auth login` while serving is picked up, cheaply.
    const now = Date.now();
    if (now - this.secret.at > 10_000) this.secret = { value: processHfToken(), at: now };
    const v = this.secret.value;
    return v && v.length >= 4 ? v : undefined;
  }

  /** The FileRef of a path inside the files store, or undefined for any other string. */
  async fileRef(path: string): Promise<FileRef | undefined> {
    if (!path.startsWith(this.prefix)) return undefined;
    const id = path.slice(this.prefix.length);
    const known = this.refs.get(id);
    if (known) return known;
    const meta = await this.store.fileForPath(path);
    if (!meta) return undefined;
    const ref: FileRef = { $file: meta.id, url: `/files/${meta.id}`, name: meta.name, mime: meta.mime, size: meta.size };
    this.refs.set(meta.id, ref);
    return ref;
  }

  /** A value for the wire. `file`: the value sits on a file port (strings there are files). */
  async value(v: unknown, file = false, depth = 0): Promise<unknown> {
    if (typeof v === "string") {
      const ref = await this.fileRef(v);
      if (ref) return ref;
      if (file && depth <= 1 && v !== "" && !/^https?:\/\//.test(v)) return this.ingest(v);
      return v;
    }
    if (v === null || typeof v !== "object") {
      if (typeof v === "bigint") return String(v);
      if (typeof v === "number" && !Number.isFinite(v)) return String(v);
      return typeof v === "function" || typeof v === "symbol" ? undefined : v;
    }
    if (depth >= MAX_DEPTH) return "[too deep]";
    if (Array.isArray(v)) return Promise.all(v.map((x) => this.value(x, file, depth + 1)));
    if (v instanceof Uint8Array) return { $bytes: v.byteLength };
    if (v instanceof Date) return v.toISOString();
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = await this.value(x, false, depth + 1);
    return out;
  }

  /** Copies a file-port value that is not in the store yet (a local path or data: URL) in. */
  private ingest(v: string): Promise<FileRef | null> {
    const key = ingestKey(v);
    let p = this.ingested.get(key);
    if (!p) {
      p = (async () => {
        try {
          const m = /^data:([^;,]+)?(;base64)?,(.*)$/s.exec(v);
          const meta = m
            ? await this.store.putFile({ bytes: m[2] ? Buffer.from(m[3]!, "base64") : Buffer.from(decodeURIComponent(m[3]!)), mime: m[1] })
            : await this.store.putFile({ path: v });
          return (await this.fileRef(meta.path)) ?? null;
        } catch {
          return null;
        }
      })();
      this.ingested.set(key, p);
    }
    return p;
  }

  /** Values keyed by port, file ports marked by `component(port)`. */
  private async ports(values: Record<string, unknown>, component: (port: string) => Component | null | undefined): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    for (const [port, v] of Object.entries(values)) out[port] = await this.value(v, isFileComponent(component(port)));
    return out;
  }

  async outputs(nodeId: string, outputs: Record<string, unknown>): Promise<Record<string, unknown>> {
    const node = this.node(nodeId);
    return this.ports(outputs, (p) => node?.outputs[p]);
  }

  /** One editable input's value. */
  async input(nodeId: string, port: string, v: unknown): Promise<unknown> {
    return this.value(v, isFileComponent(this.node(nodeId)?.editableComponent(port)));
  }

  /** Every editable input, keyed `node__port`. */
  async inputs(values: Record<string, unknown>): Promise<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    for (const [id, v] of Object.entries(values)) {
      const sep = id.lastIndexOf("__");
      out[id] = await this.input(id.slice(0, sep), id.slice(sep + 2), v);
    }
    return out;
  }

  async result(r: ResultRecord): Promise<ResultWire> {
    const node = this.node(r.nodeId);
    const out: ResultWire = {
      id: r.id,
      nodeId: r.nodeId,
      runId: r.runId,
      // A digest: a key may be the recipe's text, with the function's source and input values.
      key: schemeTwoKey(r.key),
      inputs: await this.ports(r.inputs, (p) => node?.editableComponent(p)),
      upstream: r.upstream,
      outputs: await this.outputs(r.nodeId, r.outputs),
      status: r.status,
      startedAt: r.startedAt,
      ms: r.ms,
    };
    if (r.error) out.error = (await this.value(r.error)) as ErrorWire;
    if (r.servedBy) out.servedBy = r.servedBy;
    if (r.origin) out.origin = originWire(r.origin);
    if (r.edited) out.edited = r.edited;
    const items = (r as { items?: ItemRecord[] }).items;
    if (items) {
      out.items = await Promise.all(
        items.map(async (it) => ({
          key: it.key,
          inputs: (await this.value(it.inputs)) as Record<string, unknown>,
          outputs: await this.outputs(r.nodeId, it.outputs),
          status: it.status,
          ...(it.error ? { error: (await this.value(it.error)) as ErrorWire } : {}),
          startedAt: it.startedAt,
          ms: it.ms,
        })),
      );
    }
    return out;
  }

  async nodeState(s: NodeState): Promise<NodeStateWire> {
    const out: NodeStateWire = { nodeId: s.nodeId, freshness: s.freshness, activity: s.activity, selectedId: s.selectedId, count: s.count };
    if (s.runId) out.runId = s.runId;
    if (s.startedAt !== undefined) out.startedAt = s.startedAt;
    if (s.lastMs !== undefined) out.lastMs = s.lastMs;
    if (s.progress) out.progress = s.progress;
    if (s.partial) out.partial = await this.outputs(s.nodeId, s.partial);
    if (s.error) out.error = (await this.value(s.error)) as ErrorWire;
    const items = (s as { items?: NodeStateWire["items"] }).items;
    if (items) out.items = (await this.value(items)) as NodeStateWire["items"];
    return out;
  }

  /**
   * An engine event as it goes on the wire: the sheet id dropped (the message carries
   * it), results as ResultWire, values with FileRefs. Generic over the event union, so
   * a new engine event reaches clients without a change here.
   */
  async event(e: EngineEvent): Promise<EventWire> {
    const { sheetId: _sheet, ...out } = e as EngineEvent & Record<string, unknown>;
    if ("result" in e && e.result) out.result = await this.result(e.result);
    if ("error" in e && e.error) out.error = await this.value(e.error);
    if (e.type === "node-partial") out.outputs = await this.outputs(e.nodeId, e.outputs);
    if (e.type === "input-changed") out.value = await this.input(e.nodeId, e.port, e.value);
    return out as unknown as EventWire;
  }

  /** The graph as the canvas needs it, computed once per launch. */
  graphDescription(): Promise<GraphWire> {
    this.graphWire ??= (async () => {
      const d = this.graph.describe();
      // Default values of file components become FileRefs like every other file value.
      const component = async (c: Component | null | undefined) =>
        c && isFileComponent(c) && c.props.value !== undefined && c.props.value !== null
          ? { ...c, props: { ...c.props, value: await this.value(c.props.value, true) } }
          : c;
      const nodes = await Promise.all(
        d.nodes.map(async (n) => ({
          ...n,
          inputs: await Promise.all(n.inputs.map(async (i) => (i.component ? { ...i, component: await component(i.component) } : i))),
          outputs: await Promise.all(n.outputs.map(async (o) => ({ ...o, component: (await component(o.component)) ?? null }))),
        })),
      );
      return JSON.parse(JSON.stringify({ ...d, nodes })) as GraphWire;
    })();
    return this.graphWire;
  }

  /**
   * An error on its way to a client, with any value it carries made wire-safe: an
   * `E_INPUT_CONFLICT` names the input's current value, which may be a stored file
   * (a local path inside the server): it leaves as a FileRef.
   */
  async error(e: unknown): Promise<unknown> {
    if (!(e instanceof DaggrError) || e.code !== ErrorCode.INPUT_CONFLICT) return e;
    const d = e.details as { nodeId: string; port: string; value: unknown };
    const value = await this.input(d.nodeId, d.port, d.value);
    return new DaggrError(e.code, e.message, { ...e.details, value });
  }

  // ── incoming ───────────────────────────────────────────────────────────────

  /**
   * A client's value for an editable input, as the engine takes it. File ports accept a
   * FileRef (or `{ $file: id }`, or a `/files/<id>` URL) naming a file the server minted,
   * or a `data:` URL (stored); a local path from a client is refused.
   */
  async decodeInput(node: Node, port: string, v: unknown): Promise<unknown> {
    if (!isFileComponent(node.editableComponent(port))) return v;
    const where = `Input '${port}' of node '${node.id}'`;
    const one = async (x: unknown): Promise<unknown> => {
      if (x === null || x === undefined || x === "") return x ?? null;
      if (typeof x === "object" && !Array.isArray(x) && typeof (x as FileRef).$file === "string") return this.pathOf((x as FileRef).$file, where);
      if (typeof x === "string") {
        const m = FILE_URL.exec(x);
        if (m) return this.pathOf(m[1]!, where);
        if (x.startsWith("data:")) {
          const ref = await this.ingest(x);
          if (ref) return this.pathOf(ref.$file, where);
        } else if (x.startsWith(this.prefix) && (await this.store.fileForPath(x))) return x;
      }
      throw new WireError(
        WireErrorCode.BAD_FILE,
        `${where} is a file port: send a FileRef from POST /upload (or a /files/<id> URL of a file this server holds). Local paths are not accepted from clients.`,
        { node: node.id, port },
      );
    };
    return Array.isArray(v) ? Promise.all(v.map(one)) : one(v);
  }

  private async pathOf(id: string, where: string): Promise<string> {
    const meta = /^[0-9a-f]{64}$/.test(id) ? await this.store.getFile(id) : undefined;
    if (!meta) throw new WireError(WireErrorCode.BAD_FILE, `${where}: no file '${id.slice(0, 80)}' on this server. Upload it first (POST /upload).`, { got: id.slice(0, 80) });
    return meta.path;
  }

  private node(id: string): Node | undefined {
    return this.graph.has(id) ? this.graph.node(id) : undefined;
  }
}

/** A memo key that costs little whatever the value's size: long values (a `data:` URL of megabytes) by their digest. */
function ingestKey(v: string): string {
  return v.length <= 512 ? v : `sha256:${createHash("sha256").update(v).digest("hex")}`;
}

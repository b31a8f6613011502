/**
 * One Gradio API job through the engine. Each endpoint has its own sheet in the app's
 * store ("Gradio API: /<leaf>", owned by the server's user), so API runs have what
 * canvas runs have: recipe keys (an upstream node whose key already has a result is
 * reused, the output node always runs anew), history and provenance, visible on the
 * canvas by opening that sheet. The queue runs one job per endpoint at a time, so one
 * job's inputs never meet another's on the sheet.
 */
import type { FileMeta, Session, Store } from "../../engine/index.js";
import { openSession } from "../../engine/index.js";
import { DaggrError, ErrorCode, type Graph } from "../../graph/index.js";
import type { RunQueue } from "../limits.js";
import { type Endpoint, type Param, parameterDefault } from "./endpoints.js";
import { fileData, isFileDataLike, storedFile } from "./files.js";
import type { JobRunner } from "./queue.js";

/** How deep an untyped value (a JSON or hidden output) is searched for stored files. */
const MAX_DEPTH = 32;

export function sheetName(ep: Endpoint): string {
  return `Gradio API: /${ep.leaf}`;
}

export class EngineJobs {
  private readonly sessions = new Map<number, Promise<Session>>();

  constructor(
    private readonly graph: Graph,
    private readonly store: Store,
    private readonly user: string,
    private readonly runs: RunQueue,
  ) {}

  readonly run: JobRunner = async (ep, data, { root, signal, report }) => {
    const inputs: Record<string, unknown> = {};
    for (let i = 0; i < ep.parameters.length; i++) {
      const p = ep.parameters[i]!;
      const given = data[i];
      const value = given === undefined || (given === null && parameterDefault(p).has) ? parameterDefault(p).value : given;
      inputs[`${p.nodeId}__${p.port}`] = p.file ? await this.inputFiles(p, value) : value;
    }
    if (signal.aborted) throw cancelled();
    const session = await this.session(ep);
    const leave = this.runs.enter(session.sheetId);
    const position = new Map(ep.nodes.map((id, i) => [id, i]));
    let runId = "";
    let leafOutputs: Record<string, unknown> | undefined;
    // Partials go out in the order they came, each after the previous one's files are looked up.
    let partials = Promise.resolve();
    const sub = session.events.subscribe((e) => {
      if (!("runId" in e) || e.runId !== runId) return;
      if (e.type === "node-started") {
        report.progress({ index: position.get(e.nodeId) ?? null, length: ep.nodes.length, unit: "nodes", progress: null, desc: e.nodeId });
      } else if (e.type === "node-progress") {
        const text = e.progress.text ?? (e.progress.queuePosition !== undefined ? `queue position ${e.progress.queuePosition}` : undefined);
        report.progress({ index: null, length: null, unit: "steps", progress: e.progress.fraction ?? null, desc: text ? `${e.nodeId}: ${text}` : e.nodeId });
      } else if (e.type === "node-partial" && e.nodeId === ep.leaf) {
        const outputs = e.outputs;
        partials = partials.then(() => this.outputData(ep, outputs, root)).then((d) => report.partial(d));
      } else if ((e.type === "node-completed" || e.type === "node-cached") && e.nodeId === ep.leaf) {
        leafOutputs = e.result.outputs;
      }
    });
    const stop = () => session.cancel(runId);
    try {
      session.setMany(inputs, "gradio-api");
      const started = session.start(ep.leaf, { mode: "to-here" });
      runId = started.runId;
      signal.addEventListener("abort", stop, { once: true });
      if (signal.aborted) stop();
      const summary = await started.done;
      await partials;
      if (signal.aborted) throw cancelled();
      const bad = Object.entries(summary.nodes).filter(([, o]) => o === "failed" || o === "cancelled" || o === "blocked");
      if (bad.length) {
        const [id, outcome] = bad[0]!;
        const err = session.nodeState(id).error;
        throw new DaggrError(ErrorCode.NODE_FAILED, `Node '${id}' ${outcome}${err ? `: ${err.code ? `[${err.code}] ` : ""}${err.message}` : "."}`, { node: id, error: err });
      }
      return this.outputData(ep, leafOutputs ?? session.selected(ep.leaf)?.outputs ?? {}, root);
    } finally {
      signal.removeEventListener("abort", stop);
      sub.unsubscribe();
      leave();
    }
  };

  async close(): Promise<void> {
    const open = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(open.map((s) => s.then((x) => x.close()).catch(() => undefined)));
  }

  private session(ep: Endpoint): Promise<Session> {
    let s = this.sessions.get(ep.index);
    if (!s) {
      s = (async () => {
        const name = sheetName(ep);
        const sheet = (await this.store.listSheets(this.user)).find((x) => x.name === name) ?? (await this.store.createSheet(this.user, name));
        return openSession(this.graph, this.store, { sheet: sheet.id, user: this.user, autorun: false, validate: false });
      })();
      this.sessions.set(ep.index, s);
      s.catch(() => this.sessions.delete(ep.index));
    }
    return s;
  }

  /** A file parameter's value as the engine takes it: stored paths (a Gallery: a list of them). */
  private async inputFiles(p: Param, v: unknown): Promise<unknown> {
    if (v === null || v === undefined || v === "") return null;
    const one = async (x: unknown): Promise<string | null> => {
      if (x === null || x === undefined || x === "") return null;
      let f: unknown = x;
      if (Array.isArray(x)) f = x[0]; // a Gallery item as [file, caption]
      else if (!isFileDataLike(x) && typeof x === "object") f = (x as { image?: unknown; video?: unknown }).image ?? (x as { video?: unknown }).video;
      const meta = await storedFile(f, this.store);
      if (meta) return meta.path;
      const shown = JSON.stringify(x)?.slice(0, 200);
      throw new DaggrError(
        ErrorCode.BAD_INPUT,
        `Parameter '${p.name}' is a file: send a file uploaded to this app (POST /gradio_api/upload, as handle_file() does) or one of its own outputs; got ${shown}. URLs of other hosts and local paths are not read.`,
        { parameter: p.name, got: shown },
      );
    };
    if (p.component?.type === "Gallery") return Promise.all((Array.isArray(v) ? v : [v]).map(one));
    return one(v);
  }

  /** The leaf's outputs in the endpoint's order, files as FileData (a file not stored yet, in a partial, is null). */
  private async outputData(ep: Endpoint, outputs: Record<string, unknown>, root: string): Promise<unknown[]> {
    const meta = async (v: unknown): Promise<FileMeta | undefined> => (typeof v === "string" && v ? this.store.fileForPath(v) : undefined);
    const data: unknown[] = [];
    for (const r of ep.returns) {
      const v = outputs[r.port];
      if (!r.file) {
        data.push(await this.looseFiles(v, root, 0));
        continue;
      }
      if (r.component?.type === "Gallery") {
        const items = Array.isArray(v) ? v : [];
        const out: unknown[] = [];
        for (const x of items) {
          const m = await meta(x);
          if (m) out.push(m.mime.startsWith("video/") ? { video: fileData(m, root), caption: null } : { image: fileData(m, root), caption: null });
        }
        data.push(out);
      } else {
        const m = await meta(Array.isArray(v) ? v[0] : v);
        data.push(m ? fileData(m, root) : null);
      }
    }
    return data;
  }

  /** Stored files anywhere in an untyped value become FileData; other values pass as they are. */
  private async looseFiles(v: unknown, root: string, depth: number): Promise<unknown> {
    if (typeof v === "string") {
      const m = v.startsWith("/") ? await this.store.fileForPath(v) : undefined;
      return m ? fileData(m, root) : v;
    }
    if (depth >= MAX_DEPTH || v === null || typeof v !== "object") return typeof v === "bigint" ? String(v) : v;
    if (Array.isArray(v)) return Promise.all(v.map((x) => this.looseFiles(x, root, depth + 1)));
    if (Object.getPrototypeOf(v) !== Object.prototype) return v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = await this.looseFiles(x, root, depth + 1);
    return out;
  }
}

function cancelled(): DaggrError {
  return new DaggrError(ErrorCode.CANCELLED, "The job was cancelled.");
}

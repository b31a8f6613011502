import { DaggrError, ErrorCode, isFileComponent, unknownName, type Node } from "../graph/index.js";
import type { FileSink } from "./executor.js";
import { keyedBy } from "./keyed.js";

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}

/**
 * Maps a node's (postprocessed) raw result onto its output ports:
 * - `positional` kinds (Gradio tuples) map an array in order;
 * - a node with one output takes the value itself;
 * - a node with several outputs takes an object keyed by output name, and a misspelt
 *   key is a coded error naming the nearest output.
 */
export function mapOutputs(node: Node, value: unknown, positional: boolean): Record<string, unknown> {
  const { keys: ports, make, one } = keyedBy(node.outputs);
  if (ports.length === 0) return {};
  if (positional && Array.isArray(value)) {
    if (value.length < ports.length) {
      throw new DaggrError(
        ErrorCode.OUTPUT_MISSING,
        `Node '${node.id}' declares ${ports.length} outputs (${ports.join(", ")}) but the call returned ${value.length} value(s). Remove the extra outputs or reshape the result with \`postprocess\`.`,
      );
    }
    return make(value.length === ports.length ? value : value.slice(0, ports.length));
  }
  if (ports.length === 1) {
    const only = ports[0]!; // not destructured: that makes an iterator per call
    // An object keyed exactly by the single output name is accepted too.
    if (isPlainObject(value) && only in value && Object.keys(value).length === 1) return one(value[only]);
    return one(value);
  }
  if (!isPlainObject(value)) {
    throw new DaggrError(
      ErrorCode.OUTPUT_KEY,
      `Node '${node.id}' has several outputs (${ports.join(", ")}), so it must return an object keyed by output name; it returned ${describe(value)}.`,
      { choices: ports },
    );
  }
  for (const key of Object.keys(value)) {
    if (!ports.includes(key)) {
      throw unknownName(ErrorCode.OUTPUT_KEY, `output key returned by node '${node.id}'`, key, ports);
    }
  }
  const missing = ports.filter((p) => !(p in value));
  if (missing.length) {
    throw new DaggrError(
      ErrorCode.OUTPUT_MISSING,
      `Node '${node.id}' returned no value for output(s) ${missing.map((m) => `'${m}'`).join(", ")}. Return every output: ${ports.join(", ")}.`,
      { choices: ports },
    );
  }
  return make(ports.map((p) => value[p]));
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (v === null) return "null";
  return typeof v === "object" ? "a non-plain object" : `a ${typeof v}`;
}

/**
 * Copies every file an output refers to into the files store, replacing the path with
 * the store's path, and collects the file ids. Only ports with a file component count:
 * a plain string is never taken for a file.
 */
export async function ingestFiles(node: Node, outputs: Record<string, unknown>, files: FileSink): Promise<{ outputs: Record<string, unknown>; fileIds: string[] }> {
  if (!hasFilePorts(node).outputs) return { outputs, fileIds: [] };
  const ids: string[] = [];
  const out: Record<string, unknown> = { ...outputs };
  const one = async (port: string, v: unknown): Promise<unknown> => {
    if (v === null || v === undefined || v === "") return v;
    if (typeof v !== "string") {
      throw new DaggrError(ErrorCode.BAD_INPUT, `Output '${port}' of node '${node.id}' is a file port and expects a file path string, got ${describe(v)}. If you use postprocess, return the path.`);
    }
    const known = await files.lookup(v);
    const meta = known ?? (await fileFrom(v));
    ids.push(meta.id);
    return meta.path;
  };
  const fileFrom = async (v: string) => {
    if (v.startsWith("data:")) {
      const m = /^data:([^;,]+)?(;base64)?,(.*)$/s.exec(v);
      if (!m) throw new DaggrError(ErrorCode.BAD_INPUT, `Node '${node.id}' returned a malformed data: URL.`);
      const bytes = m[2] ? Buffer.from(m[3]!, "base64") : Buffer.from(decodeURIComponent(m[3]!));
      return files.put({ bytes, mime: m[1] });
    }
    try {
      return await files.put({ path: v });
    } catch (e) {
      throw new DaggrError(ErrorCode.BAD_INPUT, `Output of node '${node.id}' should be a file path, but '${v.slice(0, 200)}' could not be read (${(e as Error).message}).`);
    }
  };
  for (const [port, component] of Object.entries(node.outputs)) {
    if (!isFileComponent(component)) continue;
    const v = out[port];
    out[port] = Array.isArray(v) ? await Promise.all(v.map((x) => one(port, x))) : await one(port, v);
  }
  return { outputs: out, fileIds: ids };
}

/** Ids of stored files that inputs of file components point at (kept alive by the record). */
export async function inputFileIds(node: Node, inputs: Record<string, unknown>, files: FileSink): Promise<string[]> {
  if (!hasFilePorts(node).inputs) return [];
  const ids: string[] = [];
  for (const [port, spec] of Object.entries(node.inputs)) {
    if (spec.kind !== "component" || !isFileComponent(spec.component)) continue;
    const v = inputs[port];
    for (const x of Array.isArray(v) ? v : [v]) {
      if (typeof x !== "string") continue;
      const meta = await files.lookup(x);
      if (meta) ids.push(meta.id);
    }
  }
  return ids;
}

/** Whether a node has file-typed inputs or outputs (cached: checked on every execution). */
export function hasFilePorts(node: Node): { inputs: boolean; outputs: boolean } {
  let f = node.filePortsMemo;
  if (!f) {
    // Loops, not Object.values(…).some(…): checked once per node, but for every node built.
    let inputs = false;
    for (const port in node.inputs) {
      const s = node.inputs[port]!;
      if (s.kind === "component" && isFileComponent(s.component)) {
        inputs = true;
        break;
      }
    }
    let outputs = false;
    for (const port in node.outputs) {
      if (isFileComponent(node.outputs[port])) {
        outputs = true;
        break;
      }
    }
    // One of four shared answers: most nodes have no file ports.
    f = node.filePortsMemo = FILE_PORTS[(inputs ? 1 : 0) + (outputs ? 2 : 0)]!;
  }
  return f;
}

const FILE_PORTS = [
  Object.freeze({ inputs: false, outputs: false }),
  Object.freeze({ inputs: true, outputs: false }),
  Object.freeze({ inputs: false, outputs: true }),
  Object.freeze({ inputs: true, outputs: true }),
];

import { DaggrError, type Node } from "../graph/index.js";
import { type CodePlace, THROWN_AT, userFrame } from "../graph/frames.js";
import type { FileSink } from "./executor.js";
import type { Maybe } from "./known.js";
import { hasFilePorts, ingestFiles, inputFileIds } from "./outputs.js";
import { contentHash } from "./recipe-key.js";
import { currentSecrets, redactValue } from "./redact.js";
import { keyedBy } from "./keyed.js";
import { type ResultRecord, ResultStatus } from "./records.js";
import { SKIPPED_HASH } from "./state.js";

/*
 * What an execution's record holds once the node has answered: its outputs with their
 * content hashes and the files they reference, a skip, secrets hidden, an error as stored.
 */

/** What a result (or one item of a mapped node) is filled with. */
export interface Produced {
  inputs: Record<string, unknown>;
  outputs: Record<string, unknown>;
  outputHashes: Record<string, string>;
  files?: string[];
}

/**
 * Copies produced files into the store, notes the files the result references, hashes
 * outputs. Synchronous for a node without file ports.
 */
export function finish(node: Node, target: Produced, outputs: Record<string, unknown>, files: FileSink, fp = hasFilePorts(node)): Maybe<void> {
  if (fp.outputs || (fp.inputs && target.files)) return finishFiles(node, target, outputs, files);
  target.outputs = outputs;
  hashOutputs(node, target);
}

async function finishFiles(node: Node, target: Produced, outputs: Record<string, unknown>, files: FileSink): Promise<void> {
  const ingested = await ingestFiles(node, outputs, files);
  target.outputs = ingested.outputs;
  if (target.files) {
    for (const id of [...ingested.fileIds, ...(await inputFileIds(node, target.inputs, files))]) {
      if (!target.files.includes(id)) target.files.push(id);
    }
  }
  hashOutputs(node, target);
}

export const NO_FILES = Object.freeze([]) as unknown as string[];

export function hasAnyFiles(fp: { inputs: boolean; outputs: boolean }): boolean {
  return fp.inputs || fp.outputs;
}

/** Hashes each output, keyed in the node's port order (a backup's outputs are the same ports). */
function hashOutputs(node: Node, target: Produced): void {
  const outputs = target.outputs;
  const { keys: ports, make, one } = keyedBy(node.outputs);
  if (ports.length === 1) {
    target.outputHashes = one(contentHash(outputs[ports[0]!])) as Record<string, string>;
    return;
  }
  const hashes: string[] = new Array(ports.length);
  for (let i = 0; i < ports.length; i++) hashes[i] = contentHash(outputs[ports[i]!]);
  target.outputHashes = make(hashes) as Record<string, string>;
}

export function skip(record: ResultRecord, node: Node, reason: string): ResultRecord {
  record.status = ResultStatus.SKIPPED;
  record.error = { message: `Skipped: ${reason}.` };
  const { keys: ports, make } = keyedBy(node.outputs);
  record.outputHashes = make(ports.map(() => SKIPPED_HASH)) as Record<string, string>;
  return record;
}

/**
 * Hides secrets (the HF token) in what a record keeps: its inputs, outputs, error and
 * items, whatever the node kind, before it is stored or sent. Hashes of outputs that
 * changed are recomputed, so they describe what is stored.
 */
export function redactRecord(record: ResultRecord): void {
  const secrets = currentSecrets();
  if (!secrets.length) return;
  record.inputs = redactValue(record.inputs, secrets);
  record.error = redactValue(record.error, secrets);
  const outputs = redactValue(record.outputs, secrets);
  if (outputs !== record.outputs) {
    for (const port in outputs) if (outputs[port] !== record.outputs[port]) record.outputHashes[port] = contentHash(outputs[port]);
    record.outputs = outputs;
  }
  if (record.items) record.items = redactValue(record.items, secrets);
}

/**
 * An error as a result keeps it. A throw from the app's own code (an FnNode's function, a
 * hook) also says where, `details: { file, line, column }`: its first stack frame outside
 * node's, daggr's and packages' code, so the card and the terminal can point at the line.
 */
export function toResultError(e: unknown): ResultRecord["error"] {
  if (e instanceof DaggrError) return { code: e.code, message: e.message, ...(hasExtra(e.details) ? { details: e.details } : {}) };
  if (e instanceof Error) {
    const at = (e as { [THROWN_AT]?: CodePlace })[THROWN_AT] ?? userFrame(e.stack);
    return { message: e.message || e.name, ...(at ? { details: { ...at } } : {}) };
  }
  return { message: String(e) };
}

function hasExtra(d: Record<string, unknown>): boolean {
  return Object.keys(d).length > 0;
}

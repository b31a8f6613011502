/**
 * Memos shared between nodes, so that a graph of thousands of similar nodes costs little
 * per node: the JSON of code sources and names for fingerprints, and one frozen copy of
 * each distinct output table and port list. Each is bounded: past a few thousand entries
 * it starts again.
 */
import { Buffer } from "node:buffer";
import type { Component } from "./components.js";

/** The empty port list every node without ports shares. */
export const NO_PORTS = Object.freeze([]) as unknown as string[];

/**
 * `JSON.stringify(s)` for a string. Names and port references are nearly always printable
 * ASCII without quotes or backslashes, which JSON writes unchanged between quotes.
 */
export function quote(s: string): string {
  return isPlainText(s) ? `"${s}"` : JSON.stringify(s);
}

/** Whether JSON writes `s` unchanged between quotes (printable ASCII, no quote or backslash). */
export function isPlainText(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}

/**
 * The output port names of an output table as the elements of a JSON array
 * (`"a","b"`), made once per table: nodes with the same outputs share one table
 * (`sharedOutputs`), so a graph of thousands of nodes writes it a few times.
 */
export function outputNamesText(outputs: Readonly<Record<string, unknown>>): string {
  let text = outputNames.get(outputs);
  if (text === undefined) {
    text = "";
    for (const port in outputs) text += `${text ? "," : ""}${quote(port)}`;
    outputNames.set(outputs, text);
  }
  return text;
}
const outputNames = new WeakMap<object, string>();

/**
 * The JSON string of a code part, `prefix` + the function's source. Writing a source as
 * JSON costs about a microsecond, and a few sources serve thousands of nodes (one
 * function, or closures made in a loop), so it is memoised per source text (a bounded
 * map: sources are not kept per function, which would cost a weak-map entry per node).
 * The last function is remembered too: nodes built in a loop often share it.
 */
export function quoteCode(prefix: "fn:" | "pre:" | "post:", fn: unknown): string {
  if (typeof fn !== "function") return JSON.stringify(`${prefix}${fn}`);
  if (lastCode?.deref() !== fn) {
    const source = `${fn}`;
    let quoted = quotedSources.get(source);
    if (quoted === undefined) {
      if (quotedSources.size >= 1024) quotedSources.clear();
      quotedSources.set(source, (quoted = oneByte(JSON.stringify(source).slice(1))));
    }
    lastCode = new WeakRef(fn);
    lastQuoted = quoted;
  }
  return `"${prefix}${lastQuoted}`;
}
const quotedSources = new Map<string, string>();

/**
 * `s` held one byte a character when every character fits in one (Latin-1). A function's
 * source is a piece of its file's text, which V8 holds two bytes a character as soon as
 * the file has one non-ASCII character (a comment's dash, a µ): the source, and every
 * fingerprint built from it, would then cost twice its length for as long as it is kept.
 */
function oneByte(s: string): string {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0xff) return s;
  return Buffer.from(s, "latin1").toString("latin1");
}
let lastCode: WeakRef<object> | undefined;
let lastQuoted = "";

/**
 * One list for each distinct list of port names (most nodes of a graph have the same few
 * ports): the node keeps the shared copy. Found in a trie by port name (names' hashes are
 * cached, so no key string is built); bounded, as the sources' memo.
 */
export function sharedPorts(ports: string[]): string[] {
  if (!ports.length) return NO_PORTS;
  let at = portLists;
  for (const p of ports) {
    let next = (at.next ??= new Map()).get(p);
    if (!next) {
      if (++portListCount > 4096) (portLists.next = undefined), (portListCount = 0);
      (at.next ??= new Map()).set(p, (next = {}));
    }
    at = next;
  }
  return (at.list ??= Object.freeze(ports) as string[]);
}

/**
 * The one frozen table for these outputs (ports and components, in this order), made from
 * `specs` the first time. The caller has checked the components.
 */
export function sharedOutputs(specs: Record<string, Component | null>, ports: readonly string[]): Readonly<Record<string, Component | null>> {
  let at = outputTables;
  for (const port of ports) at = outputStep(at, port, specs[port]!);
  if (!at.table) {
    const outputs: Record<string, Component | null> = {};
    for (const port of ports) outputs[port] = specs[port]!;
    at.table = Object.freeze(outputs);
  }
  return at.table;
}

/**
 * Output tables by port and component, in order: a trie whose leaves hold the shared
 * table. Components are held weakly; the whole is bounded as the other memos.
 */
interface OutputTrie {
  table?: Readonly<Record<string, Component | null>>;
  next?: Map<string, { hidden?: OutputTrie; shown?: WeakMap<Component, OutputTrie> }>;
}
let outputTables: OutputTrie = {};
let outputTableCount = 0;
function outputStep(at: OutputTrie, port: string, c: Component | null): OutputTrie {
  let byPort = (at.next ??= new Map()).get(port);
  if (!byPort) at.next.set(port, (byPort = {}));
  let next = c === null ? byPort.hidden : byPort.shown?.get(c);
  if (next) return next;
  if (++outputTableCount > 4096) (outputTables = {}), (outputTableCount = 0);
  next = {};
  if (c === null) byPort.hidden = next;
  else (byPort.shown ??= new WeakMap()).set(c, next);
  return next;
}

interface PortTrie {
  list?: string[];
  next?: Map<string, PortTrie>;
}
const portLists: PortTrie = {};
let portListCount = 0;

import { nearestChoice } from "../graph/index.js";
import { type ClientMessage, type ClientMessageType, PROTOCOL_VERSION, WireErrorCode } from "../protocol.js";
import { WireError } from "./errors.js";

/** Deeper JSON than this is refused before anything reads it. */
export const MAX_DEPTH = 32;
/** The highest item index a `run` may name (a MAP node's items are 0-based). */
export const MAX_ITEM = 1_000_000;
const RESERVED_KEYS = new Set(["__proto__", "constructor", "prototype"]);

type Check = (v: unknown) => string | undefined;
interface Field {
  check: Check;
  optional?: boolean;
}

const str = (max: number): Check => (v) =>
  typeof v !== "string" ? "a string" : v.length === 0 || v.length > max ? `1 to ${max} characters` : /[\x00-\x1f\x7f]/.test(v) ? "free of control characters" : undefined;
const id = str(256);
const name = str(200);
const num: Check = (v) => (typeof v === "number" && Number.isFinite(v) ? undefined : "a finite number");
const positive: Check = (v) => (typeof v === "number" && Number.isFinite(v) && v > 0 ? undefined : "a positive number");
const oneOf = (...choices: string[]): Check => (v) => (typeof v === "string" && choices.includes(v) ? undefined : `one of ${choices.map((c) => `"${c}"`).join(", ")}`);
const intIn = (lo: number, hi: number): Check => (v) => (Number.isInteger(v) && (v as number) >= lo && (v as number) <= hi ? undefined : `an integer from ${lo} to ${hi}`);
const any: Check = () => undefined;
const req = (check: Check): Field => ({ check });
const opt = (check: Check): Field => ({ check, optional: true });

/** The fields of each client message besides `v`, `type` and `id`. */
const SCHEMAS: Record<ClientMessageType, Record<string, Field>> = {
  hello: { sheet: opt(id) },
  "set-input": { nodeId: req(id), port: req(id), value: req(any), rev: opt(intIn(0, Number.MAX_SAFE_INTEGER)) },
  run: { nodeId: opt(id), mode: req(oneOf("step", "to-here", "all")), item: opt(intIn(0, MAX_ITEM)) },
  cancel: { runId: opt(id), nodeId: opt(id) },
  "select-result": { nodeId: req(id), resultId: req(id) },
  history: { nodeId: req(id), before: opt(id), limit: opt(intIn(1, 100)) },
  "sheet-create": { name: opt(name) },
  "sheet-rename": { sheetId: req(id), name: req(name) },
  "sheet-delete": { sheetId: req(id) },
  "sheet-switch": { sheetId: req(id) },
  viewport: { x: req(num), y: req(num), zoom: req(positive) },
  choice: { nodeId: req(id), variant: req(id) },
};

export const MESSAGE_TYPES = Object.keys(SCHEMAS) as ClientMessageType[];

/**
 * Parses JSON text and refuses what could hurt code that reads it later: nesting deeper
 * than {@link MAX_DEPTH} and the keys `__proto__`, `constructor` and `prototype` at any
 * depth (prototype pollution once a value is spread or merged).
 */
export function parseJson(text: string): unknown {
  const value = parseRaw(text);
  checkShape(value);
  return value;
}

/** JSON.parse with a coded error; call {@link checkShape} before using the value. */
export function parseRaw(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new WireError(WireErrorCode.BAD_JSON, "The message is not valid JSON.");
  }
}

/** Throws E_BAD_MESSAGE for deep nesting or a reserved key anywhere in `value`. */
export function checkShape(value: unknown): void {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (depth >= MAX_DEPTH) throw new WireError(WireErrorCode.BAD_MESSAGE, `The message nests deeper than ${MAX_DEPTH} levels.`);
    if (Array.isArray(v)) {
      for (const x of v) stack.push([x, depth + 1]);
      continue;
    }
    for (const k of Object.keys(v)) {
      if (RESERVED_KEYS.has(k)) throw new WireError(WireErrorCode.BAD_MESSAGE, `The key '${k}' is not allowed in a message.`, { got: k });
      stack.push([(v as Record<string, unknown>)[k], depth + 1]);
    }
  }
}

/** Checks a parsed client message against its type's schema; returns it typed, or throws a coded error. */
export function validateMessage(value: unknown): ClientMessage {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new WireError(WireErrorCode.BAD_JSON, "A message must be a JSON object with `v` and `type`.");
  }
  const m = value as Record<string, unknown>;
  if (m.v !== PROTOCOL_VERSION) {
    throw new WireError(WireErrorCode.PROTOCOL_VERSION, `This server speaks protocol version ${PROTOCOL_VERSION}; the message has v=${JSON.stringify(m.v)}. Reload the page.`, { expected: PROTOCOL_VERSION });
  }
  if (m.id !== undefined && id(m.id)) throw new WireError(WireErrorCode.BAD_MESSAGE, "Field 'id' must be a string of 1 to 256 characters.", { field: "id" });
  const type = m.type;
  if (typeof type !== "string" || !(type in SCHEMAS)) {
    const got = typeof type === "string" ? type.slice(0, 100) : String(type);
    const nearest = typeof type === "string" ? nearestChoice(type, MESSAGE_TYPES) : undefined;
    throw new WireError(
      WireErrorCode.UNKNOWN_TYPE,
      `Unknown message type '${got}'.${nearest ? ` Did you mean '${nearest}'?` : ""} Valid types: ${MESSAGE_TYPES.join(", ")}.`,
      { got, nearest, choices: MESSAGE_TYPES },
    );
  }
  const schema = SCHEMAS[type as ClientMessageType];
  const fields = Object.keys(schema);
  for (const key of Object.keys(m)) {
    if (key === "v" || key === "type" || key === "id" || key in schema) continue;
    const nearest = nearestChoice(key, fields);
    throw new WireError(
      WireErrorCode.BAD_MESSAGE,
      `Unknown field '${key.slice(0, 100)}' in a '${type}' message.${nearest ? ` Did you mean '${nearest}'?` : ""} Fields: ${fields.join(", ") || "(none)"}.`,
      { field: key.slice(0, 100), nearest, choices: fields },
    );
  }
  for (const [key, f] of Object.entries(schema)) {
    if (m[key] === undefined) {
      if (!f.optional) throw new WireError(WireErrorCode.BAD_MESSAGE, `A '${type}' message needs the field '${key}'.`, { field: key });
      continue;
    }
    const want = f.check(m[key]);
    if (want) throw new WireError(WireErrorCode.BAD_MESSAGE, `Field '${key}' of a '${type}' message must be ${want}.`, { field: key });
  }
  if (type === "run" && m.item !== undefined && (m.mode !== "step" || m.nodeId === undefined)) {
    throw new WireError(WireErrorCode.BAD_MESSAGE, "Field 'item' reruns one item of a MAP node: send it with a 'nodeId' and mode \"step\".", { field: "item" });
  }
  return m as unknown as ClientMessage;
}

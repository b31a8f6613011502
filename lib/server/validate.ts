import * as v from "valibot";
import { nearestChoice } from "../graph/index.js";
import { type ClientMessage, type ClientMessageType, MESSAGE_SCHEMAS, MESSAGE_TYPES } from "../protocol-schema.js";
import { PROTOCOL_VERSION, WireErrorCode } from "../protocol.js";
import { WireError } from "./errors.js";

/** Deeper JSON than this is refused before anything reads it. */
export const MAX_DEPTH = 32;
const RESERVED_KEYS = new Set(["__proto__", "constructor", "prototype"]);

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

/**
 * Checks a parsed client message against its type's schema (lib/protocol-schema.ts);
 * returns it typed, or throws a coded error naming the field: `E_PROTOCOL_VERSION` for
 * another `v`, `E_UNKNOWN_TYPE` (with the nearest type) for an unknown `type`,
 * `E_BAD_MESSAGE` with `details.field` for a missing, unknown or ill-typed field.
 */
export function validateMessage(value: unknown): ClientMessage {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new WireError(WireErrorCode.BAD_JSON, "A message must be a JSON object with `v` and `type`.");
  }
  const m = value as Record<string, unknown>;
  if (m.v !== PROTOCOL_VERSION) {
    throw new WireError(WireErrorCode.PROTOCOL_VERSION, `This server speaks protocol version ${PROTOCOL_VERSION}; the message has v=${JSON.stringify(m.v)}. Reload the page.`, { expected: PROTOCOL_VERSION });
  }
  const type = m.type;
  if (typeof type !== "string" || !Object.hasOwn(MESSAGE_SCHEMAS, type)) {
    const got = typeof type === "string" ? type.slice(0, 100) : String(type);
    const nearest = typeof type === "string" ? nearestChoice(type, MESSAGE_TYPES) : undefined;
    throw new WireError(
      WireErrorCode.UNKNOWN_TYPE,
      `Unknown message type '${got}'.${nearest ? ` Did you mean '${nearest}'?` : ""} Valid types: ${MESSAGE_TYPES.join(", ")}.`,
      { got, nearest, choices: MESSAGE_TYPES },
    );
  }
  const schema = MESSAGE_SCHEMAS[type as ClientMessageType];
  const parsed = v.safeParse(schema, m, { abortEarly: true });
  if (parsed.success) return parsed.output;
  throw fieldError(type, Object.keys(schema.entries), parsed.issues[0]);
}

/** The first schema issue as a coded error that names the field, and for an unknown field the nearest known one. */
function fieldError(type: string, known: string[], issue: v.BaseIssue<unknown>): WireError {
  const key = String(issue.path?.[0]?.key ?? "").slice(0, 100);
  const fields = known.filter((f) => f !== "v" && f !== "type");
  if (issue.type === "strict_object" && issue.expected === "never") {
    const nearest = nearestChoice(key, fields);
    return new WireError(
      WireErrorCode.BAD_MESSAGE,
      `Unknown field '${key}' in a '${type}' message.${nearest ? ` Did you mean '${nearest}'?` : ""} Fields: ${fields.join(", ")}.`,
      { field: key, nearest, choices: fields },
    );
  }
  if (issue.type === "strict_object" && issue.received === "undefined") {
    return new WireError(WireErrorCode.BAD_MESSAGE, `A '${type}' message needs the field '${key}'.`, { field: key });
  }
  // A check on the whole message (a `forward`ed one) carries its own sentence.
  if (issue.kind === "validation" && issue.type === "check") return new WireError(WireErrorCode.BAD_MESSAGE, issue.message, { field: key });
  return new WireError(WireErrorCode.BAD_MESSAGE, `Field '${key}' of a '${type}' message must be ${issue.message}.`, { field: key });
}

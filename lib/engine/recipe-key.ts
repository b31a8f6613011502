import * as crypto from "node:crypto";

const { createHash } = crypto;
/** One-shot hashing (Node >= 20.12) avoids a Hash object per call: keys are hashed on every completion. */
const oneShot = (crypto as { hash?: (alg: string, data: string) => string }).hash;

/**
 * Canonical JSON: object keys sorted, `undefined` dropped, so equal values hash equal
 * whatever order their keys were built in.
 */
export function canonical(value: unknown): string {
  switch (typeof value) {
    case "string":
      return quote(value);
    case "number":
      // A finite number prints as JSON does (Number#toString); others are quoted.
      return Number.isFinite(value) ? `${value}` : `"${value}"`;
    case "boolean":
      return value ? "true" : "false";
    case "bigint":
      return `"${value}n"`;
    case "function":
    case "undefined":
      return "null";
    case "object":
      break;
    default:
      return JSON.stringify(value);
  }
  if (value === null) return "null";
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value instanceof Uint8Array) return `{"$bytes":"${createHash("sha256").update(value).digest("hex")}"}`;
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  const keys = Object.keys(value);
  if (keys.length > 1) keys.sort();
  let out = "{";
  for (const k of keys) {
    const v = (value as Record<string, unknown>)[k];
    if (v === undefined) continue;
    if (out.length > 1) out += ",";
    out += `${quote(k)}:${canonical(v)}`;
  }
  return `${out}}`;
}

/**
 * `JSON.stringify` of a string, without its cost for the short plain strings keys are made
 * of (port names, hashes): those only need quotes.
 */
export function quote(s: string): string {
  if (s.length > 64) return JSON.stringify(s);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || c > 0x7e) return JSON.stringify(s);
  }
  return `"${s}"`;
}

export function hashText(text: string): string {
  // The first 40 hex digits as a string of their own: a slice would keep the whole 64-digit
  // digest alive behind it for as long as the key lives (~60 B more per hash held). Changing
  // the case copies it into a flat string; changing it back leaves the digits as they were
  // (hex has no other letters). The two copies cost a third of JSON.parse('"…"'), which did
  // the same; encodeURIComponent and normalize() return the slice itself or cost more.
  return (oneShot ? oneShot("sha256", text) : createHash("sha256").update(text).digest("hex")).slice(0, 40).toUpperCase().toLowerCase();
}

/** Content hash of a value. Files are path strings inside the content-addressed store, so a path names its content. */
export function contentHash(value: unknown): string {
  return hashText(canonical(value));
}

/** Marker entering the key for a function input: its realised value changes every run and must not make the node stale. */
export const FN_INPUT_MARKER = "$fn";

/**
 * The recipe key of a node's next execution: its fingerprint, its own resolved inputs and
 * the content hashes of the upstream output values it would consume. Upstream *values*
 * enter the key, not upstream recipes, because AI nodes are not deterministic: two runs
 * of the same recipe may differ, and what matters downstream is what was actually produced.
 */
export function recipeKey(fingerprintHash: string, ownInputs: Record<string, unknown>, upstreamHashes: Record<string, string>): string {
  return hashText(`${fingerprintHash}|${canonical(ownInputs)}|${canonical(upstreamHashes)}`);
}

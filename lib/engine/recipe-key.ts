import * as crypto from "node:crypto";
import { currentSecrets } from "./redact.js";

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

/**
 * The longest canonical text a value is its own identity with: no longer than the 40
 * hex digits of a hash, so an identity never grows a record or a key.
 */
export const INLINE_MAX = 40;

/**
 * The identity of a value in recipe keys and records (`outputHashes`): a short value is
 * its own canonical text after `=` (`=42`, `="ok"`, `=null`), a longer one the hash of
 * that text. Both kinds are injective and never meet (a hash has no `=`), so two values
 * never share an identity. Small values (counts, flags, short labels) are the common
 * output of plain functions, and a native hash call costs ~0.6 µs whatever its length:
 * hashing was a third of a node's run in a graph of small functions (31% in a profile;
 * key scheme 2 leaves one hash per node, its key).
 * Files are path strings inside the content-addressed store, so a path names its content.
 */
export function contentHash(value: unknown): string {
  const text = canonical(value);
  return text.length <= INLINE_MAX ? `=${text}` : hashText(text);
}

/**
 * An identity as a hash whatever its length: what key scheme 1 used for every value.
 * A list of item identities (a mapped port) is made of these, so its identity is the
 * same in both schemes.
 */
export function hashedIdentity(id: string): string {
  return id.charCodeAt(0) === 61 /* = */ ? hashText(id.slice(1)) : id;
}

/**
 * The fingerprint as it enters a recipe key: a short one as its text, a long one (a big
 * function's source) by its hash. The text is a JSON array, so it ends where its last
 * bracket closes and starts with `[`, which no hash does: the key text stays unambiguous.
 * Hashing it at every open cost more than the longer key text costs to hash.
 */
export function fingerprintPart(text: string): string {
  if (text.length > FINGERPRINT_INLINE_MAX) return hashText(text);
  // A fingerprint is written piece by piece: kept as it is, each piece would cost ~32 B for
  // as long as the node lives (~800 B a node, measured). Reading a character flattens the
  // string in place (the cheapest of the ways measured: normalize(), a regex test). Kept
  // text costs its length once, or twice when a function's source comes from a file with
  // non-ASCII characters (V8 then holds it two bytes a character): ~150-300 B a node
  // against a hash's 56, which only a graph of many thousand nodes notices.
  text.charCodeAt(0);
  return text;
}
const FINGERPRINT_INLINE_MAX = 256;

/**
 * The version of the recipe key scheme: what `contentHash`, `fingerprintPart` and
 * `recipeKey` make. Scheme 1 hashed every value and the fingerprint; scheme 2 made a short
 * value its own identity and put a short fingerprint into the key text, then hashed that
 * text; scheme 3 (this one) keeps a short key text as the key itself. Stores made before
 * keep their results findable (see `lib/store/migrations.ts`): a scheme-2 key is
 * `hashText` of a scheme-3 text key (`schemeTwoKey`), a scheme-1 key is `legacyRecipeKey`.
 */
export const KEY_SCHEME = 3;

/**
 * The longest key text that is its own key. A node with a short fingerprint and a few
 * short inputs has a text of 70-450 characters: hashing it cost ~0.7 µs, a fifth of a
 * small function's whole run, where keeping it costs its length (a hash has 40).
 */
export const KEY_INLINE_MAX = 512;

/** Marker entering the key for a function input: its realised value changes every run and must not make the node stale. */
export const FN_INPUT_MARKER = "$fn";

/**
 * The recipe key of a node's next execution: its fingerprint (`fingerprintPart`), its own resolved inputs and
 * the content hashes of the upstream output values it would consume. Upstream *values*
 * enter the key, not upstream recipes, because AI nodes are not deterministic: two runs
 * of the same recipe may differ, and what matters downstream is what was actually produced.
 */
export function recipeKey(fingerprint: string, ownInputs: Record<string, unknown>, upstreamHashes: Record<string, string>): string {
  return keyOfText(recipeText(fingerprint, ownInputs, upstreamHashes));
}

/** The text a recipe key is made from (`keyOfText`). */
export function recipeText(fingerprint: string, ownInputs: Record<string, unknown>, upstreamHashes: Record<string, string>): string {
  return `${fingerprint}|${canonical(ownInputs)}|${canonical(upstreamHashes)}`;
}

/**
 * The key of a recipe's text: the text itself when it is at most `KEY_INLINE_MAX`
 * characters and holds no secret (see redact.ts), else its hash. A text key is never a
 * hash (it has `|`, a hash has none), and two text keys are equal only when their
 * recipes are: exact, where a hash is as good as its 160 bits.
 * A text key holds the node's own inputs and function source: it stays in this process
 * and its store; the wire gives clients its hash (`schemeTwoKey`).
 */
export function keyOfText(text: string): string {
  if (text.length > KEY_INLINE_MAX) return hashText(text);
  const secrets = currentSecrets();
  for (let i = 0; i < secrets.length; i++) if (text.includes(secrets[i]!)) return hashText(text);
  // Flattened once (read a character): a text built piece by piece would keep its pieces.
  text.charCodeAt(0);
  return text;
}

/** Whether a key is a recipe's text (scheme 3) rather than a hash. */
export function isTextKey(key: string): boolean {
  return key.includes("|");
}

/**
 * The key as key scheme 2 made it: the hash of its text. What a result stored before
 * scheme 3 is found under, and what clients see of a key (a digest of a bounded length,
 * no function source or input values).
 */
export function schemeTwoKey(key: string): string {
  return isTextKey(key) ? hashText(key) : key;
}

/**
 * A node's recipe key as key scheme 1 made it, from its fingerprint's text, its own
 * inputs and its upstream identities in scheme 2 (each turned back into a hash): the
 * key a result stored before the change was found under.
 */
export function legacyRecipeKey(fingerprintText: string, ownInputs: Record<string, unknown>, upstreamHashes: Record<string, string>): string {
  return hashText(`${hashText(fingerprintText)}|${canonical(ownInputs)}|${canonical(upstreamHashes)}`);
}

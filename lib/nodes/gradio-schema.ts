/**
 * Where the files are in a Gradio value, read from the JSON schema the app gives for it
 * in `/info` (`type`: pydantic's schema with `$defs`/`$ref`). A file is an object schema
 * with `path` and a `meta` whose `_type` is `gradio.FileData` (as a `const`, or as the
 * default of a plain dict): gradio's own `_is_file_schema`. So `MultimodalTextbox`
 * (`{text, files: [file]}`), `ImageEditor` (`{background, layers, composite}`), Chatbot
 * messages and Gallery items are all walked the same way.
 */

export type Schema = Record<string, unknown>;
export type Defs = Record<string, Schema>;

/** Schemas nest a few levels; anything deeper is a recursive `$ref` and is not followed. */
const MAX_DEPTH = 24;

function asSchema(v: unknown): Schema | undefined {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Schema) : undefined;
}

export function resolveRef(s: Schema, defs: Defs): Schema {
  let cur = s;
  for (let i = 0; i < 8 && typeof cur.$ref === "string"; i++) cur = defs[cur.$ref.split("/").at(-1)!] ?? {};
  return cur;
}

/** gradio's `_is_file_schema`. */
export function isFileSchema(s: Schema, defs: Defs): boolean {
  const props = asSchema(s.properties);
  if (!props || !props.path || !props.meta) return false;
  const meta = resolveRef(asSchema(props.meta) ?? {}, defs);
  const typeSchema = asSchema(asSchema(meta.properties)?._type);
  if (typeSchema) return typeSchema.const === "gradio.FileData";
  return (asSchema(meta.default) as { _type?: unknown } | undefined)?._type === "gradio.FileData";
}

/** Whether a schema has a file anywhere inside (bounded by depth, `$ref`s resolved). */
export function containsFile(schema: unknown, defs: Defs = (asSchema(schema)?.$defs as Defs) ?? {}): boolean {
  const stack: Array<{ s: unknown; depth: number }> = [{ s: schema, depth: 0 }];
  while (stack.length) {
    const { s, depth } = stack.pop()!;
    if (depth > MAX_DEPTH) continue;
    if (Array.isArray(s)) {
      for (const x of s) stack.push({ s: x, depth: depth + 1 });
      continue;
    }
    const o = asSchema(s);
    if (!o) continue;
    const r = resolveRef(o, defs);
    if (isFileSchema(r, defs)) return true;
    for (const [k, v] of Object.entries(r)) if (k !== "$defs" && typeof v === "object" && v !== null) stack.push({ s: v, depth: depth + 1 });
  }
  return false;
}

/** The file schema a position holds, if the position is exactly one file (or an optional one). */
function fileAt(s: Schema, defs: Defs): boolean {
  if (isFileSchema(s, defs)) return true;
  const options = (s.anyOf ?? s.oneOf) as Schema[] | undefined;
  return !!options && options.some((o) => isFileSchema(resolveRef(o, defs), defs)) && options.every((o) => isFileSchema(resolveRef(o, defs), defs) || resolveRef(o, defs).type === "null");
}

/** Called on each value found at a file position, with the path that leads to it. */
export type FileVisitor = (value: unknown, path: string) => Promise<unknown>;

export interface WalkOptions {
  /** Called for a value at a file position. */
  file: FileVisitor;
  /**
   * Called for a value at an object position that holds exactly one file property (a
   * Gallery item `{image, caption}`, a chat `{file}` part) when the value is not an
   * object: lets a caller accept a bare file there. Returns the object to walk instead.
   */
  wrap?: (value: unknown, fileKey: string, schema: Schema) => unknown;
  /** Called for a value where the schema says nothing (`Any`): e.g. a FileData inside. */
  loose?: (value: unknown, path: string) => Promise<unknown>;
}

/**
 * Maps a value by its schema, replacing what sits at file positions by what `o.file`
 * returns; the rest is copied as is. Recursion follows the schema (its depth is the
 * app's, bounded), iteration follows the value.
 */
export async function mapBySchema(value: unknown, schema: unknown, o: WalkOptions, path = "", defs: Defs = (asSchema(schema)?.$defs as Defs) ?? {}, depth = 0): Promise<unknown> {
  const raw = asSchema(schema);
  if (!raw || depth > MAX_DEPTH) return o.loose ? o.loose(value, path) : value;
  const s = resolveRef(raw, defs);
  if (fileAt(s, defs)) return value === null || value === undefined ? value : o.file(value, path);
  if (value === null || value === undefined) return value;

  const options = (s.anyOf ?? s.oneOf) as Schema[] | undefined;
  if (options) return mapBySchema(value, pickOption(value, options, defs), o, path, defs, depth + 1);

  if (s.type === "array" && Array.isArray(value)) {
    const items = asSchema(s.items);
    const tuple = (s.prefixItems ?? asSchema(s.items)?.prefixItems) as Schema[] | undefined;
    const out: unknown[] = [];
    for (let i = 0; i < value.length; i++) out.push(await mapBySchema(value[i], tuple ? tuple[i] : items, o, `${path}[${i}]`, defs, depth + 1));
    return out;
  }
  if (s.type === "object" || s.properties) {
    const props = asSchema(s.properties) ?? {};
    if (typeof value !== "object" || Array.isArray(value)) {
      const key = o.wrap ? soleFileKey(s, defs) : undefined;
      if (key === undefined) return value;
      const wrapped = o.wrap!(value, key, s);
      return wrapped === value ? value : mapBySchema(wrapped, s, o, path, defs, depth + 1);
    }
    const extra = asSchema(s.additionalProperties);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      const sub = (props[k] as Schema | undefined) ?? extra;
      out[k] = sub ? await mapBySchema(v, sub, o, path ? `${path}.${k}` : k, defs, depth + 1) : o.loose ? await o.loose(v, path ? `${path}.${k}` : k) : v;
    }
    return out;
  }
  if (Object.keys(s).filter((k) => k !== "title" && k !== "description" && k !== "default").length === 0) return o.loose ? o.loose(value, path) : value;
  return value;
}

/** The one property of an object schema that is a file, when the others are optional. */
function soleFileKey(s: Schema, defs: Defs): string | undefined {
  const props = asSchema(s.properties) ?? {};
  const files = Object.entries(props).filter(([, v]) => fileAt(resolveRef(asSchema(v) ?? {}, defs), defs));
  if (files.length !== 1) return undefined;
  const required = (s.required as string[] | undefined) ?? [];
  return required.every((r) => r === files[0]![0]) ? files[0]![0] : undefined;
}

/**
 * The alternative of an `anyOf` a value belongs to: for an object, the one whose
 * properties cover its keys best (GalleryImage `{image}` vs GalleryVideo `{video}`; a
 * `type: "file"` chat part by its `const`); else the first of the value's JSON type.
 */
function pickOption(value: unknown, options: Schema[], defs: Defs): Schema {
  const resolved = options.map((x) => resolveRef(x, defs));
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const keys = Object.keys(value);
    let best: Schema | undefined;
    let bestScore = -1;
    for (const r of resolved) {
      const props = asSchema(r.properties);
      if (!props) continue;
      const constMismatch = keys.some((k) => {
        const c = asSchema(props[k])?.const;
        return c !== undefined && c !== (value as Record<string, unknown>)[k];
      });
      if (constMismatch) continue;
      const score = keys.filter((k) => k in props).length;
      if (score > bestScore) [best, bestScore] = [r, score];
    }
    if (best) return best;
  }
  const jsonType = Array.isArray(value) ? "array" : typeof value === "object" ? "object" : typeof value === "number" ? "number" : typeof value;
  return resolved.find((r) => r.type === jsonType || (jsonType === "number" && r.type === "integer")) ?? resolved.find((r) => r.type !== "null") ?? {};
}

export function isFileDataLike(v: unknown): v is { path: unknown; url?: unknown; meta?: { _type?: unknown } } {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const o = v as Record<string, unknown>;
  if ((o.meta as { _type?: string } | undefined)?._type === "gradio.FileData") return true;
  return "path" in o && "url" in o && ("orig_name" in o || "mime_type" in o);
}

/**
 * Secrets (the HF token) kept out of everything the engine records or reports: result
 * records (inputs, outputs, errors, items), progress and partial results, whatever the
 * node kind. The engine does not know where secrets come from; `lib/nodes` installs the
 * source with {@link setSecrets}, as it installs executors.
 */
let source: (() => readonly string[]) | undefined;

/** Installs where the current secrets are read from (called per record: make it cheap). */
export function setSecrets(fn: (() => readonly string[]) | undefined): void {
  source = fn;
}

export const REDACTED = "***";

/**
 * The secrets to hide now (only those long enough to be one). Asked twice per node
 * execution (its key, its record): the list kept is reused while the source gives the
 * same one (the built-in source makes a new list only when the token changes).
 */
export function currentSecrets(): readonly string[] {
  if (!source) return NONE;
  const all = source();
  if (!all.length) return NONE;
  if (all !== lastAll) {
    lastAll = all;
    lastLong = all.filter((s) => typeof s === "string" && s.length >= 8);
  }
  return lastLong;
}
const NONE: readonly string[] = [];
let lastAll: readonly string[] = NONE;
let lastLong: readonly string[] = NONE;

/** A string with every secret replaced. */
export function redactText(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join(REDACTED);
  return out;
}

type Path = Array<string | number>;

/**
 * `value` with every secret replaced in its strings (and keys), or `value` itself when
 * none occurs (the common case costs one walk and no copy). Iterative, so a deep value
 * cannot overflow the stack; a value with a secret is copied (structuredClone) before
 * the strings are replaced, so no caller's object is changed.
 */
export function redactValue<T>(value: T, secrets: readonly string[]): T {
  if (!secrets.length) return value;
  if (typeof value === "string") return redactText(value, secrets) as T;
  const hits = findSecrets(value, secrets);
  if (!hits.length) return value;
  let copy: unknown;
  try {
    copy = structuredClone(value);
  } catch {
    // Not cloneable (functions, class instances): replace in place rather than keep the secret.
    copy = value;
  }
  // Strings first, then keys, deepest first, so a moved key never breaks a path still to visit.
  const isKey = (p: Path) => (typeof p[p.length - 1] === "object" ? 1 : 0);
  hits.sort((a, b) => isKey(a) - isKey(b) || b.length - a.length);
  for (const path of hits) replaceAt(copy, path, secrets);
  return copy as T;
}

/** Paths of the strings holding a secret; a key holding one is reported as its parent's path plus the key. */
function findSecrets(root: unknown, secrets: readonly string[]): Path[] {
  const hits: Path[] = [];
  const stack: Array<{ v: unknown; path: Path }> = [{ v: root, path: [] }];
  const seen = new Set<object>();
  while (stack.length) {
    const { v, path } = stack.pop()!;
    if (typeof v === "string") {
      if (secrets.some((s) => v.includes(s))) hits.push(path);
      continue;
    }
    if (typeof v !== "object" || v === null || seen.has(v)) continue;
    seen.add(v);
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) stack.push({ v: v[i], path: [...path, i] });
    } else if (isPlain(v)) {
      for (const k of Object.keys(v)) {
        if (secrets.some((s) => k.includes(s))) hits.push([...path, { key: k } as never]);
        stack.push({ v: (v as Record<string, unknown>)[k], path: [...path, k] });
      }
    }
  }
  return hits;
}

function replaceAt(root: unknown, path: Path, secrets: readonly string[]): void {
  let parent: unknown = root;
  for (let i = 0; i < path.length - 1; i++) parent = (parent as Record<string | number, unknown>)[path[i] as string];
  const last = path[path.length - 1] as unknown;
  if (typeof parent !== "object" || parent === null) return;
  const obj = parent as Record<string | number, unknown>;
  if (typeof last === "object" && last !== null && "key" in last) {
    // A key holding a secret: move its value under the redacted key.
    const key = (last as { key: string }).key;
    if (!(key in obj)) return;
    const v = obj[key];
    delete obj[key];
    obj[redactText(key, secrets)] = v;
    return;
  }
  const v = obj[last as string | number];
  if (typeof v === "string") obj[last as string | number] = redactText(v, secrets);
}

function isPlain(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

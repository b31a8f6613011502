import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, resolve, sep } from "node:path";

const IMPORT = /(?:\bimport|\bexport)\s*(?:[\w*{}\s,$]*?\s*from\s*)?["']([^"']+)["']|\bimport\s*\(\s*["']([^"']+)["']\s*\)/g;
const EXTENSIONS = [".ts", ".tsx", ".mts", ".cts", ".js", ".mjs", ".cjs", ".jsx"];

/**
 * The app file and every local file it imports, transitively: what `daggr dev` watches.
 * Found by scanning import specifiers that start with `./`, `../` or `/` (packages are
 * not watched), resolved the way tsx resolves them (`./x.js` may be `./x.ts`). A
 * commented-out import only adds a file to watch. Works on files that do not compile,
 * so the fix of a syntax error is seen.
 */
export function localImports(entry: string): Set<string> {
  const seen = new Set<string>();
  const stack = [resolve(entry)];
  while (stack.length) {
    const file = stack.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue; // deleted or unreadable: still watched, so its return is seen
    }
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2]!;
      if (!/^\.{0,2}\//.test(spec)) continue;
      const target = resolveLocal(dirname(file), spec);
      if (target && !target.split(sep).includes("node_modules")) stack.push(target);
    }
  }
  return seen;
}

function resolveLocal(dir: string, spec: string): string | undefined {
  const base = resolve(dir, spec.split("?")[0]!);
  const stem = base.replace(/\.(m|c)?jsx?$/, "");
  const candidates = [base, ...EXTENSIONS.map((e) => stem + e), ...EXTENSIONS.map((e) => resolve(base, `index${e}`))];
  return candidates.find((c) => existsSync(c) && statSync(c).isFile());
}

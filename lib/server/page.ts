import { existsSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { gzipSync } from "node:zlib";
import { log } from "./log.js";

/** daggr's package root: the nearest package.json above this file (in lib/server/, or in a dist/ bundle). */
const ROOT = packageRoot(fileURLToPath(new URL(".", import.meta.url)));
const PREBUILT = join(ROOT, "dist", "elements");
const ENTRY = join(ROOT, "elements", "index.ts");
/** The 3D viewer (`@google/model-viewer` + three.js, ~1 MB): its own asset, loaded by the Model3D view when needed. */
const VIEWER_ENTRY = join(ROOT, "elements", "model-viewer.ts");
/** The plots (Observable Plot + d3, ~300 kB): their own asset, loaded by the plot views when one is shown. */
const PLOT_ENTRY = join(ROOT, "elements", "plot.ts");

/**
 * The canvas page: one `<daggr-canvas>` pointed at this server, and its script. Nothing
 * else, so any other page can embed the canvas the same way.
 */
export function canvasPage(title: string, server: string, account?: PageAccount): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · daggr</title>
<style>html,body{margin:0;height:100%}daggr-canvas{display:block;height:100vh}</style>
<script type="module" src="/assets/daggr-canvas.js"></script>
</head>
<body>
<daggr-canvas server="${escapeHtml(server)}"></daggr-canvas>${account ? accountBar(account) : ""}
</body>
</html>
`;
}

/** On a Space: who the visitor is, for the sign-in / sign-out link in a corner of the page. */
export interface PageAccount {
  /** The signed-in Hugging Face user; absent for an anonymous visitor. */
  user?: string;
}

function accountBar(a: PageAccount): string {
  const style = "position:fixed;left:8px;bottom:8px;z-index:10;font:12px system-ui,sans-serif;background:rgba(255,255,255,.85);color:#222;padding:3px 8px;border-radius:4px";
  // target=_top: on a Space the page is in an iframe on huggingface.co, where the login cookie may not stick.
  const body = a.user
    ? `Signed in as <b>${escapeHtml(a.user)}</b> · <a href="/logout" target="_top">Sign out</a>`
    : `Not signed in: sheets last for this tab only · <a href="/login/huggingface" target="_top">Sign in with Hugging Face</a>`;
  return `\n<div id="daggr-account" style="${style}">${body}</div>`;
}

/**
 * The page's CSP: scripts only from this server; connections back to it. WebAssembly
 * may compile (`'wasm-unsafe-eval'`, which allows no JavaScript eval): the 3D viewer's
 * mesh decoder is WebAssembly. Only `frameAncestors` (the allowed embedding origins) may
 * frame the page, nobody by default, so another site cannot overlay it (clickjacking).
 */
export function pageCsp(host: string, frameAncestors: readonly string[] = []): string {
  return [
    "default-src 'self'",
    "script-src 'self' 'wasm-unsafe-eval'",
    "worker-src 'self' blob:",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "media-src 'self' data: blob:",
    `connect-src 'self' ws://${host} wss://${host}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    `frame-ancestors ${frameAncestors.length ? frameAncestors.join(" ") : "'none'"}`,
  ].join("; ");
}

export interface Asset {
  body: string | Uint8Array;
  type: string;
}

const PLACEHOLDER = `// The daggr canvas is not built: elements/index.ts is missing and dist/elements/ is empty.
customElements.get("daggr-canvas") || customElements.define("daggr-canvas", class extends HTMLElement {
  connectedCallback() {
    this.style.cssText = "display:flex;align-items:center;justify-content:center;height:100vh;font:16px system-ui";
    this.textContent = "The daggr canvas is not built. Run \\"npm run build\\", or restore elements/index.ts. The API works meanwhile: GET /api/schema.";
  }
});
`;

/** Bundles built from the sources, by asset name, each on its first request. */
const built = new Map<string, Promise<Asset>>();
/** Prebuilt assets by path, with the mtime they were read at (one entry per asset: a rebuild replaces it). */
const fromDisk = new Map<string, { mtime: number; asset: Asset }>();

/** Source entries by asset name: the canvas, and the 3D viewer and plots it loads when one is shown. */
const ENTRIES: Record<string, string> = { "daggr-canvas.js": ENTRY, "model-viewer.js": VIEWER_ENTRY, "plot.js": PLOT_ENTRY };

/**
 * `/assets/<name>`: in a clone (the sources are here), a bundle of its source entry
 * (`elements/index.ts`, `elements/model-viewer.ts` for the 3D viewer, `elements/plot.ts` for plots) built with esbuild
 * on first request and kept in memory, so what you edit is what you get even when dist/
 * is older; in an installed package, the prebuilt `dist/elements/<name>`; else (for the
 * canvas) a placeholder script that says the canvas is not built. Names are checked by
 * the router (`[a-z0-9-]+.(js|css|map)`), never joined from raw input.
 */
export async function asset(name: string): Promise<Asset | undefined> {
  const entry = Object.hasOwn(ENTRIES, name) ? ENTRIES[name]! : undefined;
  if (entry && existsSync(entry)) {
    let p = built.get(name);
    if (!p) {
      p = bundle(entry, name);
      built.set(name, p);
      p.catch(() => built.delete(name)); // try again on the next request, after a fix
    }
    try {
      return await p;
    } catch (e) {
      if (name !== "daggr-canvas.js") return undefined;
      log.error({ asset: name }, `the canvas failed to build: ${(e as Error).message}`);
      return { body: `console.error(${JSON.stringify(`daggr: the canvas failed to build: ${(e as Error).message}`)});\n${PLACEHOLDER}`, type: typeOf(name) };
    }
  }
  const prebuilt = join(PREBUILT, name);
  if (existsSync(prebuilt)) {
    const mtime = statSync(prebuilt).mtimeMs;
    const known = fromDisk.get(prebuilt);
    if (known?.mtime === mtime) return known.asset;
    const asset: Asset = { body: await readFile(prebuilt), type: typeOf(name) };
    fromDisk.set(prebuilt, { mtime, asset });
    return asset;
  }
  return name === "daggr-canvas.js" ? { body: PLACEHOLDER, type: typeOf(name) } : undefined;
}

/** One self-contained bundle (no shared chunks: the canvas stays one file a page can host). */
async function bundle(entry: string, name: string): Promise<Asset> {
  const { build } = await import("esbuild");
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    sourcemap: false,
    write: false,
    outfile: `/assets/${name}`,
    logLevel: "silent",
  });
  return { body: result.outputFiles[0]!.contents, type: typeOf(name) };
}

const compressed = new WeakMap<Asset, Buffer>();

/** The asset gzipped, once (the bundle is ~1.8 MB, ~0.5 MB gzipped). */
export function gzipped(a: Asset): Buffer {
  let z = compressed.get(a);
  if (!z) compressed.set(a, (z = gzipSync(a.body)));
  return z;
}

function typeOf(name: string): string {
  if (name.endsWith(".js")) return "text/javascript; charset=utf-8";
  if (name.endsWith(".css")) return "text/css; charset=utf-8";
  return "application/json; charset=utf-8";
}

function packageRoot(dir: string): string {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, "package.json"))) return d;
    if (dirname(d) === d) return dir;
  }
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

import { register } from "node:module";

/**
 * Loads an app's own `.ts`/`.tsx` files as ES modules, whatever the nearest
 * package.json says. Without it, tsx compiles a `.ts` file outside a `"type": "module"`
 * package to CommonJS: top-level `await graph.launch()` fails, and the app's `import
 * "daggr"` loads a second copy of daggr beside the one the command preloaded (which
 * also makes every dev reload pay for importing daggr again). Packages in
 * node_modules keep their own format. Register after the TypeScript loader.
 */
export function loadAppsAsEsm(): void {
  const hook = `export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  if (r.url.startsWith("file:") && !r.url.includes("/node_modules/") && /\\.tsx?$/.test(new URL(r.url).pathname)) return { ...r, format: "module" };
  return r;
}`;
  register(`data:text/javascript,${encodeURIComponent(hook)}`);
}

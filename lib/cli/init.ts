import { existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, writeFileSync } from "node:fs";
import { basename, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The app `daggr init` writes: runs offline, two steps, one edit away from something new.
 * The README's Quickstart shows this same file (test/readme.test.ts keeps them equal).
 */
export const STARTER_APP = `import { FnNode, Graph, gr } from "daggr";

export const shout = new FnNode(({ text }) => text.toUpperCase() + "!", {
  name: "shout",
  inputs: { text: gr.Textbox({ label: "Text", value: "hello from daggr", lines: 2 }) },
  outputs: { loud: gr.Textbox({ label: "Shouted" }) },
});

export const count = new FnNode(({ loud }) => ({ words: loud.split(/\\s+/).length, letters: loud.replace(/\\W/g, "").length }), {
  name: "count",
  inputs: { loud: shout.out.loud },
  outputs: { words: gr.Number({ label: "Words" }), letters: gr.Number({ label: "Letters" }) },
});

export default new Graph({ name: "My first app", nodes: [count] });
`;

const TSCONFIG = {
  compilerOptions: {
    target: "ES2022",
    module: "NodeNext",
    moduleResolution: "NodeNext",
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: ["node"],
  },
  include: ["*.ts"],
};

/** daggr's own package: its root directory, version and the tsx it runs apps with. */
function self(): { root: string; version: string; tsx: string } {
  let dir = fileURLToPath(new URL(".", import.meta.url));
  while (!existsSync(join(dir, "package.json")) && resolve(dir, "..") !== dir) dir = resolve(dir, "..");
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version: string; dependencies?: Record<string, string> };
  return { root: realpathSync(dir), version: pkg.version, tsx: pkg.dependencies?.tsx ?? "^4" };
}

/**
 * How the new project depends on daggr: run from a clone (daggr is not inside a
 * node_modules folder), a `file:` link to that clone, so the project uses the code you
 * have; run from an installed daggr, the same version from the registry.
 */
export function daggrDependency(): string {
  const { root, version } = self();
  return root.split(sep).includes("node_modules") ? `^${version}` : `file:${root}`;
}

/**
 * `daggr init <dir>`: a new project in `dir` (created; refused if it has files already):
 * package.json depending on daggr, tsconfig.json, an offline app.ts, a README, a .gitignore.
 * Returns the text to print: what was made and the next two commands.
 */
export function init(dir: string): string {
  const target = resolve(dir);
  if (existsSync(target) && readdirSync(target).length) throw new Error(`${dir} already exists and is not empty; pick a new directory name.`);
  mkdirSync(target, { recursive: true });
  const name = basename(target).toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^[._-]+/, "") || "daggr-app";
  const { version, tsx } = self();
  const pkg = {
    name,
    version: "0.1.0",
    private: true,
    type: "module",
    scripts: { dev: "daggr dev app.ts", start: "daggr run app.ts", typecheck: "tsc" },
    dependencies: { daggr: daggrDependency() },
    // tsx runs a script of your own on the app (\`npx tsx run.ts\`, as daggr's README shows);
    // daggr's own copy is not on the project's PATH when daggr is a \`file:\` link.
    devDependencies: { "@types/node": "^20.19.0", tsx, typescript: "~6.0" },
  };
  const readme = `# ${name}

A [daggr](https://www.npmjs.com/package/daggr) ${version} workflow. Start it with:

\`\`\`sh
npm install
npx daggr dev app.ts     # open the printed address; edit app.ts and the canvas reloads
\`\`\`

\`app.ts\` runs offline. Next, wire a Gradio app (\`GradioNode\`) or a model
(\`InferenceNode\`) into it: see daggr's README. \`npm run typecheck\` checks the types;
\`npx tsx run.ts\` runs a script of yours that imports \`./app.js\`.
`;
  const files: Record<string, string> = {
    "package.json": `${JSON.stringify(pkg, null, 2)}\n`,
    "tsconfig.json": `${JSON.stringify(TSCONFIG, null, 2)}\n`,
    "app.ts": STARTER_APP,
    "README.md": readme,
    ".gitignore": "node_modules/\n",
  };
  for (const [file, text] of Object.entries(files)) writeFileSync(join(target, file), text);
  const rel = relative(process.cwd(), target) || ".";
  return [
    `Created ${rel}/ with ${Object.keys(files).join(", ")} (daggr: ${pkg.dependencies.daggr}).`,
    "",
    "Next:",
    ...(rel === "." ? [] : [`  cd ${rel.includes(" ") ? JSON.stringify(rel) : rel}`]),
    "  npm install",
    "  npx daggr dev app.ts",
  ].join("\n");
}

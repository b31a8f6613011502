/**
 * The README's truth test: what the README tells a new user to do works, as written, on
 * the package as it is published. It packs daggr (`npm pack`), makes the Quickstart's
 * project with `daggr init`, installs the tarball there (its dependencies from the npm
 * cache, else the registry: the only network it uses), serves it with `daggr dev`, runs
 * the programmatic example, type-checks both files against the shipped declarations and
 * imports every `exports` subpath. If the README changes, this test changes with it.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import t from "tap";
import { rebuildNotice } from "../lib/cli/build-state.mjs";
import { STARTER_APP } from "../lib/cli/init.js";

const run = promisify(execFile);
// Packing, installing and serving a project: more than the default per-file budget on a busy 2-core machine.
t.setTimeout(480_000);
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const README = readFileSync(join(ROOT, "README.md"), "utf8");
const PKG = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string; bin: { daggr: string }; exports: Record<string, unknown>; dependencies: Record<string, string> };
const NPM = ["--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"];

/** A `## Title` section of the README, up to the next one. */
function section(title: string): string {
  const at = README.indexOf(`\n## ${title}\n`);
  if (at < 0) throw new Error(`README has no '## ${title}' section`);
  const end = README.indexOf("\n## ", at + 1);
  return README.slice(at, end < 0 ? undefined : end);
}

/** The fenced code blocks of `lang` in a piece of the README. */
function blocks(text: string, lang: string): string[] {
  return [...text.matchAll(new RegExp("```" + lang + "\\n([\\s\\S]*?)```", "g"))].map((m) => m[1]!);
}

/** Output from a process, line by line, and a way to wait for a line. */
function watch(proc: ChildProcess) {
  let out = "";
  const waiters = new Set<() => void>();
  const poke = () => waiters.forEach((w) => w());
  proc.stdout!.on("data", (d) => ((out += d), poke()));
  proc.stderr!.on("data", (d) => ((out += d), poke()));
  const exited = new Promise<number>((r) => proc.on("exit", (code) => (poke(), r(code ?? -1))));
  return {
    exited,
    get out() {
      return out;
    },
    waitFor(re: RegExp): Promise<RegExpMatchArray> {
      return new Promise((ok, fail) => {
        const check = () => {
          const m = out.match(re);
          if (m) return (waiters.delete(check), ok(m));
          if (proc.exitCode !== null) return (waiters.delete(check), fail(new Error(`exited (${proc.exitCode}) without ${re}:\n${out}`)));
        };
        waiters.add(check);
        check();
      });
    },
  };
}

const quick = section("Quickstart");
const [commands] = blocks(quick, "sh");
const [starter] = blocks(quick, "ts");
const [program] = blocks(section("Programmatic use"), "ts");

t.test("the Quickstart's commands and app are the ones daggr init writes", async (t) => {
  const lines = commands!.split("\n").map((l) => l.replace(/#.*/, "").trim()).filter(Boolean);
  t.same(lines, ["npx daggr init my-app", "cd my-app", "npm install", "npx daggr dev app.ts"], "the commands this test runs");
  t.equal(starter!.replace(/^\/\/ app\.ts\n/, ""), STARTER_APP, "the README shows the app.ts that daggr init writes");
  t.match(program!, /^\/\/ run\.ts/, "the programmatic example is a file beside app.ts");
  const notice = rebuildNotice(ROOT, { built: true, file: "lib/cli/index.ts" }).replace(/ \(\d+ s\)/, "");
  t.ok(quick.replace(/\n/g, " ").replace(/ \(15 s\)/, "").includes(notice), `a clone's rebuild notice is quoted as daggr prints it: ${notice}`);
});

t.test("packed, installed in a new project, the Quickstart and the programmatic example work", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "daggr-readme-"));
  const home = join(dir, "home");
  const env = { ...process.env, DAGGR_HOME: home, npm_config_update_notifier: "false" };

  // npm pack: what publishing would upload. The prepare script builds dist/ first when it is
  // stale (npm test's pretest already did, so other test files never see dist/ rebuilt under them).
  let t0 = performance.now();
  await run(process.execPath, [join(ROOT, "scripts/prepare.mjs")], { cwd: ROOT, env });
  const packed = await run("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", dir, ...NPM.slice(2)], { cwd: ROOT, env, maxBuffer: 1 << 26 });
  const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf("["))) as Array<{ filename: string; size: number; unpackedSize: number; files: Array<{ path: string }> }>;
  const tarball = join(dir, info!.filename);
  const shipped = info!.files.map((f) => f.path);
  t.comment(`npm pack: ${Math.round(performance.now() - t0)} ms, ${(info!.size / 1e6).toFixed(2)} MB (${(info!.unpackedSize / 1e6).toFixed(2)} MB unpacked, ${shipped.length} files)`);
  for (const f of ["dist/index.js", "dist/index.d.ts", "dist/cli/index.js", "dist/elements/daggr-canvas.js", "dist/THIRD-PARTY-NOTICES.md", "bin/daggr.js", "types/elements.d.ts", "LICENSE", "README.md"]) t.ok(shipped.includes(f), `ships ${f}`);
  t.notOk(shipped.some((f) => /^(lib|elements|test)\//.test(f)), "ships no sources or tests");
  t.ok(shipped.includes(PKG.bin.daggr.replace(/^\.\//, "")), `ships the command, ${PKG.bin.daggr}`);

  // npx daggr init my-app (the command from this clone; the installed one is tried below).
  await run(process.execPath, ["--import", import.meta.resolve("tsx"), join(ROOT, "lib/cli/index.ts"), "init", "my-app"], { cwd: dir, env });
  const app = join(dir, "my-app");
  t.same(readdirSync(app).sort(), [".gitignore", "README.md", "app.ts", "package.json", "tsconfig.json"]);
  t.match(readFileSync(join(app, "README.md"), "utf8"), /npm install\nnpx daggr dev app\.ts/, "its README has the two commands");
  const pkgFile = join(app, "package.json");
  const pkg = JSON.parse(readFileSync(pkgFile, "utf8")) as { dependencies: Record<string, string> };
  t.equal(pkg.dependencies.daggr, `file:${ROOT.replace(/\/$/, "")}`, "from a clone, the project depends on the clone");
  // The offline variant: the project depends on the packed tarball instead of the clone.
  pkg.dependencies.daggr = `file:${tarball}`;
  writeFileSync(pkgFile, JSON.stringify(pkg, null, 2));

  // npm install
  t0 = performance.now();
  await run("npm", ["install", ...NPM], { cwd: app, env, maxBuffer: 1 << 26 });
  const nm = join(app, "node_modules");
  t.comment(`npm install of the tarball: ${Math.round(performance.now() - t0)} ms, ${readdirSync(nm).length} top-level packages`);
  t.notOk(lstatSync(join(nm, "daggr")).isSymbolicLink(), "daggr is installed from the tarball, not linked");
  for (const browserOnly of ["lit", "three", "@google/model-viewer", "elkjs", "marked", "dompurify"]) t.notOk(existsSync(join(nm, browserOnly)), `${browserOnly} is not installed (it is in the prebuilt canvas)`);
  t.ok(existsSync(join(nm, "rxjs")), "rxjs, a peer dependency, is installed with it");

  // The installed command scaffolds projects on the published version.
  const nested = await run(join(nm, ".bin", "daggr"), ["init", "next-app"], { cwd: app, env });
  t.match(nested.stdout, /npx daggr dev app\.ts/);
  const nestedPkg = JSON.parse(readFileSync(join(app, "next-app", "package.json"), "utf8")) as { dependencies: Record<string, string> };
  t.equal(nestedPkg.dependencies.daggr, `^${PKG.version}`, "an installed daggr makes projects depend on its own version");

  // The programmatic example, and a file that imports every exports subpath.
  writeFileSync(join(app, "run.ts"), program!);
  const subpaths = Object.keys(PKG.exports);
  const runtime = subpaths.filter((s) => s !== "./elements");
  writeFileSync(
    join(app, "exports.ts"),
    `${runtime.map((s, i) => `import * as m${i} from ${JSON.stringify(`daggr${s.slice(1)}`)}${s.endsWith(".json") ? ' with { type: "json" }' : ""};`).join("\n")}
const loaded: Record<string, string[]> = { ${runtime.map((s, i) => `${JSON.stringify(s)}: Object.keys(m${i})`).join(", ")} };
console.log(JSON.stringify({ loaded, elements: import.meta.resolve("daggr/elements") }));
`,
  );
  // daggr/elements is a browser bundle: its types are checked (tsc below), not run in node.
  writeFileSync(
    join(app, "element.ts"),
    `import type { DaggrCanvas } from "daggr/elements";
export function point(canvas: HTMLElementTagNameMap["daggr-canvas"], server: string): DaggrCanvas {
  canvas.server = server;
  canvas.addEventListener("daggr-ready", (e) => console.log(e.detail.nodes));
  return canvas;
}
`,
  );

  // npx daggr dev app.ts: the server answers; the page, the prebuilt canvas and the API are served.
  const devProc = spawn(join(nm, ".bin", "daggr"), ["dev", "app.ts", "--port", "0"], { cwd: app, env, stdio: ["ignore", "pipe", "pipe"] });
  const dev = watch(devProc);
  t.teardown(() => void (devProc.exitCode === null && devProc.kill("SIGINT")));
  t0 = performance.now();
  const [, url] = await dev.waitFor(/serving app\.ts at (http:\/\/[^\s"]+)/); // a JSON log line: stderr is a pipe
  t.comment(`daggr dev, start to serving: ${Math.round(performance.now() - t0)} ms`);
  const page = await fetch(url!);
  t.equal(page.status, 200);
  t.match(await page.text(), /<daggr-canvas server=/);
  const canvas = await fetch(`${url}/assets/daggr-canvas.js`);
  t.equal(canvas.status, 200);
  const canvasBody = Buffer.from(await canvas.arrayBuffer());
  const exports = (await run(join(nm, ".bin", "tsx"), ["exports.ts"], { cwd: app, env })).stdout;
  const { loaded, elements } = JSON.parse(exports) as { loaded: Record<string, string[]>; elements: string };
  t.same(canvasBody, readFileSync(fileURLToPath(elements)), "the canvas served is the prebuilt daggr/elements file");
  t.same(Object.keys(loaded).sort(), runtime.sort(), "every exports subpath but the browser bundle imports in node");
  t.ok(loaded["."]!.includes("Graph") && loaded["./server"]!.includes("launch") && loaded["./protocol"]!.length > 0, "each with its exports");
  t.match(await (await fetch(`${url}/api/schema`)).text(), /"shout__text"/, "the API lists the app's input");

  // The programmatic example prints what the README says it prints.
  const printed = (await run(join(nm, ".bin", "tsx"), ["run.ts"], { cwd: app, env: { ...env, DAGGR_HOME: join(dir, "home-run") } })).stdout;
  for (const [, code, comment] of program!.matchAll(/^console\.log\((.*)\);\s*\/\/ (.*)$/gm)) {
    t.ok(printed.includes(comment!.trim()), `${code} prints ${comment}`);
  }
  t.match(printed, /^words: 2$/m, "the Observable emitted the new count");

  // app.ts, run.ts, exports.ts and element.ts type-check against the shipped declarations (npm run typecheck).
  const tsc = await run("npm", ["run", "typecheck", "--silent"], { cwd: app, env }).catch((e: { stdout: string }) => e);
  t.equal((tsc as { stdout: string }).stdout.trim(), "", "no type errors");

  devProc.kill("SIGINT");
  t.equal(await dev.exited, 0, "Ctrl+C stops daggr dev");
});

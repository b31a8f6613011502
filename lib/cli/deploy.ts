import { accessSync, constants, existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { DaggrError, ErrorCode, unknownName } from "../graph/index.js";
import { processHfToken } from "../nodes/hf-token.js";
import { log as logger } from "../server/log.js";
import { hubEndpoint } from "../server/users.js";
import { localImports } from "./deps.js";

/** Hardware a Space may ask for (`SpaceHardwareFlavor` of `@huggingface/hub`). */
export const SPACE_HARDWARE = [
  "cpu-basic", "cpu-upgrade", "cpu-performance", "cpu-xl", "sprx8", "zero-a10g", "inf2x6", "t4-small", "t4-medium", "l4x1", "l4x4",
  "l40sx1", "l40sx4", "l40sx8", "a10g-small", "a10g-large", "a10g-largex2", "a10g-largex4", "a100-large", "a100x4", "a100x8",
] as const;

/** The port a Docker Space's app listens on (`app_port` in its README). */
export const SPACE_PORT = 7860;
const LOCKFILES = ["package-lock.json", "npm-shrinkwrap.json"];

export interface DeployOptions {
  /** The app file (`app.ts`). */
  app: string;
  /** `owner/name` of the Space. */
  space: string;
  private?: boolean;
  hardware?: string;
  /** Names of environment variables to upload as Space secrets. */
  secrets?: string[];
  dryRun?: boolean;
}

export interface DeployPlan {
  space: string;
  /** Paths in the Space, with their bytes. */
  files: Array<{ path: string; bytes: Buffer }>;
  frontMatter: string;
  secrets: string[];
  hardware?: string;
  private: boolean;
}

function deployError(message: string, details: Record<string, unknown> = {}): DaggrError {
  return new DaggrError(ErrorCode.DEPLOY_FAILED, message, details);
}

/** The project root: the nearest folder above the app holding a package.json. */
function projectRoot(app: string): string | undefined {
  for (let dir = dirname(app); ; dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json"))) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * What a Space needs to run the app: the app and its local imports, package.json and
 * the lockfile (and tsconfig.json if any), a Dockerfile and a README whose front matter
 * makes it a Docker Space with Hugging Face sign-in. Nothing else of the project is
 * uploaded (no `.env`, no secrets: those go to the Space's settings).
 */
export function planDeploy(o: DeployOptions, env: NodeJS.ProcessEnv = process.env): DeployPlan {
  const app = resolve(o.app);
  if (!existsSync(app) || !statSync(app).isFile()) throw deployError(`No such app file: ${o.app}.`, { got: o.app });
  if (!/^[\w.-]+\/[\w.-]+$/.test(o.space)) throw deployError(`--space must be owner/name (e.g. julien-c/my-workflow), got '${o.space}'.`, { got: o.space });
  if (o.hardware !== undefined && !(SPACE_HARDWARE as readonly string[]).includes(o.hardware)) throw unknownName(ErrorCode.BAD_OPTION, "Space hardware", o.hardware, SPACE_HARDWARE);
  const secrets = o.secrets ?? [];
  const unset = secrets.filter((n) => !env[n]);
  if (unset.length) throw deployError(`--secret ${unset.join(", ")}: not set in the environment (the value is read from it; nothing is written to a file).`, { missing: unset });
  const root = projectRoot(app);
  if (!root) throw deployError(`No package.json above ${o.app}: deploy runs the app in a Node project (make one with daggr init).`, { got: o.app });
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { dependencies?: Record<string, string>; devDependencies?: Record<string, string>; name?: string };
  if (!pkg.dependencies?.daggr && pkg.name !== "daggr") throw deployError(`${join(root, "package.json")} does not list daggr in its dependencies: the Space installs from it (npm install daggr).`);
  // The image installs from the registry: a dependency on a path of this machine cannot be installed there.
  const local = Object.entries({ ...pkg.devDependencies, ...pkg.dependencies }).filter(([, v]) => /^(file|link|portal):/.test(v));
  if (local.length) {
    throw deployError(`${local.map(([n, v]) => `${n} (${v})`).join(", ")}: a dependency on a local path cannot be installed on the Space; depend on a published version (e.g. npm install ${local[0]![0]}@latest).`, { got: local.map(([n]) => n) });
  }
  const paths = new Set<string>();
  for (const f of localImports(app)) {
    if (!existsSync(f)) continue;
    if (!f.startsWith(root + sep)) throw deployError(`${f} is imported by the app but lies outside the project (${root}); move it inside, or publish it as a package.`, { got: f });
    paths.add(relative(root, f).split(sep).join("/"));
  }
  for (const f of ["package.json", ...LOCKFILES, "tsconfig.json"]) if (existsSync(join(root, f))) paths.add(f);
  const lockfile = LOCKFILES.find((f) => paths.has(f));
  const entry = relative(root, app).split(sep).join("/");
  const title = o.space.split("/")[1]!;
  const frontMatter = [
    "---",
    `title: ${title}`,
    "emoji: 🔀",
    "colorFrom: indigo",
    "colorTo: green",
    "sdk: docker",
    `app_port: ${SPACE_PORT}`,
    "hf_oauth: true",
    // Visitors' own tokens call Inference Providers for them.
    "hf_oauth_scopes:",
    "  - inference-api",
    "---",
  ].join("\n");
  const readme = `${frontMatter}\n\nA [daggr](https://www.npmjs.com/package/daggr) workflow (\`${entry}\`). Sign in with Hugging Face to keep your sheets; remote calls use your own token.\n`;
  const files = [...paths].sort().map((p) => ({ path: p, bytes: readFileSync(join(root, p)) }));
  files.push({ path: "Dockerfile", bytes: Buffer.from(dockerfile(entry, !!lockfile)) });
  files.push({ path: "README.md", bytes: Buffer.from(readme) });
  return { space: o.space, files, frontMatter, secrets, ...(o.hardware ? { hardware: o.hardware } : {}), private: !!o.private };
}

/**
 * The image: Node 20, run as uid 1000 (Spaces run containers as that user; the node image
 * names it `node`), dependencies from the lockfile, and `daggr run` as the entry point,
 * which on a Space binds 0.0.0.0:7860 and keeps its state in /data when the Space has
 * persistent storage. The entry point is the daggr binary itself (not `npx`), so the
 * container's stop signal reaches it and it closes its database cleanly.
 */
export function dockerfile(entry: string, lockfile: boolean): string {
  return `FROM node:20-slim
USER node
ENV HOME=/home/node NODE_ENV=production
WORKDIR /home/node/app
COPY --chown=node package*.json ./
RUN ${lockfile ? "npm ci" : "npm install"} --include=dev --no-audit --no-fund
COPY --chown=node . .
ENV GRADIO_SERVER_NAME=0.0.0.0 GRADIO_SERVER_PORT=${SPACE_PORT}
EXPOSE ${SPACE_PORT}
CMD ["./node_modules/.bin/daggr", "run", ${JSON.stringify(entry)}]
`;
}

/** A step the Hub refused, with its status and message. */
async function hubStep<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const status = (e as { statusCode?: number }).statusCode;
    throw deployError(`${what} failed${status ? ` (HTTP ${status})` : ""}: ${(e as Error).message}`, { step: what, ...(status ? { status } : {}) });
  }
}

async function post(url: string, token: string, body: unknown, what: string): Promise<void> {
  await hubStep(what, async () => {
    const res = await fetch(url, { method: "POST", headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" }, body: JSON.stringify(body), signal: AbortSignal.timeout(60_000) });
    if (!res.ok) {
      const text = await res.text();
      let msg = text.slice(0, 300);
      try {
        msg = (JSON.parse(text) as { error?: string }).error ?? msg;
      } catch {
        // not JSON: the text as is
      }
      throw Object.assign(new Error(msg), { statusCode: res.status });
    }
  });
}

/**
 * `daggr deploy app.ts --space owner/name`: creates the Docker Space (or updates it),
 * commits the files of {@link planDeploy}, uploads each `--secret` from the environment
 * as a Space secret, and asks for `--hardware`. Every step can be repeated. With
 * `dryRun` it only returns the plan.
 */
export async function deploy(o: DeployOptions, env: NodeJS.ProcessEnv = process.env, say: (line: string) => void = (l) => logger.info(l)): Promise<DeployPlan & { url?: string }> {
  const log = say;
  const plan = planDeploy(o, env);
  if (o.dryRun) return plan;
  const token = processHfToken(env);
  if (!token) throw deployError("No Hugging Face token: set HF_TOKEN or run `hf auth login` (it needs write access to the Space).");
  const hubUrl = hubEndpoint(env);
  const accessToken = token as `hf_${string}`;
  const repo = { type: "space" as const, name: plan.space };
  const { commit, createRepo } = await import("@huggingface/hub");
  let created = true;
  await hubStep(`Creating Space ${plan.space}`, async () => {
    try {
      await createRepo({ repo, accessToken, hubUrl, sdk: "docker", private: plan.private });
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode !== 409) throw e;
      created = false; // it exists: this deploy updates it
    }
  });
  log(created ? `daggr deploy: created Space ${plan.space}${plan.private ? " (private)" : ""}` : `daggr deploy: updating Space ${plan.space}${o.private ? " (its visibility is unchanged: set it in the Space's settings)" : ""}`);
  await hubStep("Committing the files", () =>
    commit({
      repo, accessToken, hubUrl, title: "daggr deploy",
      operations: plan.files.map((f) => ({ operation: "addOrUpdate" as const, path: f.path, content: new Blob([new Uint8Array(f.bytes)]) })),
    }),
  );
  log(`daggr deploy: committed ${plan.files.length} files: ${plan.files.map((f) => f.path).join(", ")}`);
  for (const name of plan.secrets) {
    await post(`${hubUrl}/api/spaces/${plan.space}/secrets`, token, { key: name, value: env[name] }, `Setting secret ${name}`);
    log(`daggr deploy: secret ${name} set`);
  }
  if (plan.hardware) {
    await post(`${hubUrl}/api/spaces/${plan.space}/hardware`, token, { flavor: plan.hardware }, `Requesting hardware ${plan.hardware}`);
    log(`daggr deploy: hardware ${plan.hardware} requested`);
  }
  const url = `${hubUrl}/spaces/${plan.space}`;
  log(`daggr deploy: ${url}`);
  return { ...plan, url };
}

/** The plan as `--dry-run` prints it. */
export function describePlan(plan: DeployPlan): string {
  return [
    `Space ${plan.space}${plan.private ? " (private)" : ""}${plan.hardware ? ` on ${plan.hardware}` : ""}`,
    "Files:",
    ...plan.files.map((f) => `  ${f.path} (${f.bytes.length} bytes)`),
    "README front matter:",
    ...plan.frontMatter.split("\n").map((l) => `  ${l}`),
    ...(plan.secrets.length ? [`Secrets (from the environment, set in the Space's settings, never uploaded as files): ${plan.secrets.join(", ")}`] : []),
  ].join("\n");
}

/**
 * On a Space (`SPACE_ID` set), where state goes: `<data>/daggr` when the Space has
 * persistent storage (`/data`, writable), unless `DAGGR_HOME` says otherwise; else the
 * container's disk, which a restart wipes. Sets `DAGGR_HOME` and says which.
 */
export function spaceHome(env: NodeJS.ProcessEnv = process.env, data = env.DAGGR_SPACE_DATA || "/data"): string | undefined {
  if (!env.SPACE_ID || env.DAGGR_HOME) return undefined;
  let writable = false;
  try {
    writable = statSync(data).isDirectory();
    if (writable) accessSync(data, constants.W_OK);
  } catch {
    writable = false;
  }
  if (writable) {
    env.DAGGR_HOME = join(data, "daggr");
    return `daggr: keeping sheets and results in ${env.DAGGR_HOME} (the Space's persistent storage)`;
  }
  return "daggr: this Space has no persistent storage (/data): sheets and results are lost when it restarts. Add persistent storage in the Space's settings to keep them.";
}

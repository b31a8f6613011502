/**
 * Upstream dependency tracking. Every result of a GradioNode (a Hub Space) or an
 * InferenceNode records the revision (commit sha) of the Space or model that made it
 * (`origin` on the result record). At start-up daggr asks the Hub, in parallel and in
 * the background, for each remote's current revision and compares it with the one the
 * stored results were made with: a change marks those results as made by an older
 * upstream (the card shows it) and is said in the terminal; nothing is discarded.
 * `DAGGR_DEPENDENCY_CHECK`: `warn` (default), `update` (accept silently), `skip` (no
 * check), `error` (refuse to start, E_UPSTREAM_CHANGED).
 */
import { DaggrError, ErrorCode, type Graph, NodeKind, type Node, nearestChoice } from "../graph/index.js";
import type { MetaCache, Origin } from "../engine/index.js";
import { hfToken } from "./hf-token.js";
import { log } from "../log.js";
import { hubUrl } from "./local-space/fetch-space.js";

export type RemoteKind = "space" | "model";
export const DEPENDENCY_CHECK_MODES = ["warn", "update", "skip", "error"] as const;
export type DependencyCheckMode = (typeof DEPENDENCY_CHECK_MODES)[number];

/** A remote whose current revision differs from the one its results were made with. */
export interface UpstreamChange {
  kind: RemoteKind;
  id: string;
  was: string;
  now: string;
}

const SHA = /^[0-9a-f]{40}$/;
const SPACE_ID = /^[A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*$/;
/** How long a head revision asked of the Hub is taken as current without asking again. */
const HEAD_TTL_MS = 10 * 60_000;
const heads = new Map<string, { at: number; sha: Promise<string | undefined> }>();
/** The newest revision seen of each remote (`kind:id`): results made at another are older. */
const current = new Map<string, string>();
/** The revision last noted per cache and remote, so a result writes only on a change. */
const notedIn = new WeakMap<MetaCache, Map<string, string>>();
function notedOf(cache: MetaCache): Map<string, string> {
  let m = notedIn.get(cache);
  if (!m) notedIn.set(cache, (m = new Map()));
  return m;
}

/** `DAGGR_DEPENDENCY_CHECK`, checked: a typo is refused with the nearest mode. */
export function dependencyCheckMode(env: NodeJS.ProcessEnv = process.env): DependencyCheckMode {
  const v = env.DAGGR_DEPENDENCY_CHECK?.trim().toLowerCase() || "warn";
  if ((DEPENDENCY_CHECK_MODES as readonly string[]).includes(v)) return v as DependencyCheckMode;
  const near = nearestChoice(v, DEPENDENCY_CHECK_MODES);
  throw new DaggrError(ErrorCode.BAD_OPTION, `DAGGR_DEPENDENCY_CHECK must be one of ${DEPENDENCY_CHECK_MODES.join(", ")}, got ${JSON.stringify(env.DAGGR_DEPENDENCY_CHECK)}${near ? ` (did you mean '${near}'?)` : ""}.`, {
    got: String(env.DAGGR_DEPENDENCY_CHECK),
    choices: [...DEPENDENCY_CHECK_MODES],
    ...(near ? { nearest: near } : {}),
  });
}

/** The Hub remote a node calls: a Space (not an app URL) or a model; none for other kinds. */
export function remoteOf(node: Node): { kind: RemoteKind; id: string } | undefined {
  if (node.kind === NodeKind.GRADIO) {
    const space = (node as unknown as { space: string }).space;
    return SPACE_ID.test(space) ? { kind: "space", id: space } : undefined;
  }
  if (node.kind === NodeKind.INFERENCE) return { kind: "model", id: (node as unknown as { model: string }).model };
  return undefined;
}

/**
 * The current revision of a Space or model on the Hub (`HF_ENDPOINT`), or undefined when
 * the Hub does not answer with one. Asked once per {@link HEAD_TTL_MS} (unless `fresh`);
 * the calls for one remote share one request.
 */
export function headRevision(kind: RemoteKind, id: string, o: { fresh?: boolean } = {}): Promise<string | undefined> {
  const k = `${kind}:${id}`;
  const known = heads.get(k);
  if (known && !o.fresh && Date.now() - known.at < HEAD_TTL_MS) return known.sha;
  const token = hfToken();
  const args = { name: id, additionalFields: ["sha"] as ["sha"], hubUrl: hubUrl(), ...(token?.startsWith("hf_") ? { accessToken: token as `hf_${string}` } : {}) };
  // `@huggingface/hub` loads at the first question (an app without remote nodes never asks).
  const sha = import("@huggingface/hub").then(({ modelInfo, spaceInfo }) => (kind === "space" ? spaceInfo<"sha">(args) : modelInfo<"sha">(args))).then(
    (info) => {
      const s = (info as { sha?: string }).sha;
      if (!s || !SHA.test(s)) return undefined;
      current.set(k, s);
      return s;
    },
    () => undefined,
  );
  heads.set(k, { at: Date.now(), sha });
  return sha;
}

/**
 * The value of `p` if it settles within `ms` (a revision asked of the Hub while the job
 * ran: a slow or unreachable Hub never holds a result back), else undefined.
 */
export function settledSoon<T>(p: Promise<T> | undefined, ms = 2000): Promise<T | undefined> {
  if (!p) return Promise.resolve(undefined);
  let stop = () => {};
  const late = new Promise<undefined>((r) => {
    const timer = setTimeout(r, ms);
    stop = () => clearTimeout(timer);
  });
  return Promise.race([p, late]).finally(() => stop());
}

/** Takes a revision the Hub named in another answer (a model's metadata) as its current head: no second request. */
export function rememberHead(kind: RemoteKind, id: string, sha: unknown): void {
  const s = typeof sha === "string" && SHA.test(sha) ? sha : undefined;
  heads.set(`${kind}:${id}`, { at: Date.now(), sha: Promise.resolve(s) });
  if (s) current.set(`${kind}:${id}`, s);
}

/** The newest revision seen of a remote, if any. */
export function currentRevision(kind: RemoteKind, id: string): string | undefined {
  return current.get(`${kind}:${id}`);
}

/** Records the revision a new result was made with, for the next start-up to compare. */
export async function noteRevision(cache: MetaCache, kind: RemoteKind, id: string, revision: string | undefined): Promise<void> {
  if (!revision) return;
  const k = `${kind}:${id}`;
  if (!current.has(k)) current.set(k, revision);
  const noted = notedOf(cache);
  if (noted.get(k) === revision) return;
  noted.set(k, revision);
  await cache.set(`upstream-revision:${k}`, revision).catch(() => {});
}

/**
 * The origin as the canvas gets it: with `current`, the remote's newer revision, when the
 * result was made by an older one.
 */
export function originWire(o: Origin): Origin & { current?: string } {
  const kind = o.kind;
  const now = o.revision && kind ? currentRevision(kind, o.remote) : undefined;
  return now && now !== o.revision ? { ...o, current: now } : o;
}

/**
 * The start-up check: every remote of the graph, in parallel, against the revision its
 * results were made with. Resolves with the changes (logged as warnings under `warn`);
 * under `error` rejects with E_UPSTREAM_CHANGED; `skip` asks nothing. Call it without
 * waiting, except under `error`.
 */
export function checkUpstream(graph: Graph, cache: MetaCache, say: (text: string) => void = (t) => log.warn(t)): Promise<UpstreamChange[]> {
  const check = runCheck(graph, cache, say);
  lastCheck = check.catch(() => []);
  return check;
}

let lastCheck: Promise<unknown> = Promise.resolve();
/** Settles when the latest start-up check has (tests, status). */
export function upstreamChecked(): Promise<unknown> {
  return lastCheck;
}

async function runCheck(graph: Graph, cache: MetaCache, say: (text: string) => void): Promise<UpstreamChange[]> {
  const mode = dependencyCheckMode();
  if (mode === "skip") return [];
  const remotes = new Map<string, { kind: RemoteKind; id: string }>();
  for (const node of graph.nodes) {
    for (const n of [node, ...node.backups]) {
      const r = remoteOf(n);
      // A Space pinned to a revision runs that revision: it cannot change under its results.
      if (r && !(r.kind === "space" && (n as unknown as { gradioOptions?: { revision?: string } }).gradioOptions?.revision)) remotes.set(`${r.kind}:${r.id}`, r);
    }
  }
  const found = await Promise.all(
    [...remotes.entries()].map(async ([k, r]) => {
      const [was, now] = await Promise.all([cache.get<string>(`upstream-revision:${k}`).catch(() => undefined), headRevision(r.kind, r.id, { fresh: true })]);
      if (was) notedOf(cache).set(k, was);
      return { ...r, was, now };
    }),
  );
  const changes = found.filter((c): c is UpstreamChange => !!c.was && !!c.now && c.was !== c.now);
  if (!changes.length) return [];
  const list = changes.map((c) => `${c.kind === "space" ? "Space" : "model"} ${c.id} is now at ${c.now.slice(0, 8)} (results here were made at ${c.was.slice(0, 8)})`);
  if (mode === "error") {
    throw new DaggrError(ErrorCode.UPSTREAM_CHANGED, `Upstream changed since the stored results were made: ${list.join("; ")}. DAGGR_DEPENDENCY_CHECK=warn starts anyway and marks those results; =update accepts the new revisions.`, {
      changes: changes.map((c) => `${c.id}@${c.now}`).join(", "),
    });
  }
  if (mode === "update") {
    await Promise.all(changes.map((c) => noteRevision(cache, c.kind, c.id, c.now)));
    return changes;
  }
  for (const l of list) say(`upstream changed: ${l}; those results are kept and marked on their cards (DAGGR_DEPENDENCY_CHECK=update accepts it, =error refuses to start).`);
  return changes;
}

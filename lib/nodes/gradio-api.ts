import { DaggrError, ErrorCode, unknownName, type GradioNode } from "../graph/index.js";
import type { MetaCache } from "../engine/executor.js";
import { type GradioConfig, type RawApiInfo, appLabel } from "./gradio-client.js";
import { containsFile } from "./gradio-schema.js";

/**
 * Gradio components whose values are files (FileData on the wire), lower-cased: `/info`
 * names components `props.name.capitalize()` ("Model3d", "Imageeditor").
 */
const FILE_COMPONENTS = new Set([
  "image", "audio", "video", "file", "files", "model3d", "gallery", "uploadbutton", "imageeditor", "imageslider",
  "simpleimage", "annotatedimage", "pdf", "multimodaltextbox",
]);

export interface ParamSummary {
  /** `null` for hidden state parameters (the client fills them). */
  name: string | null;
  /** Other names accepted for it (positions, `param_0`…, on apps that do not name parameters). */
  aliases?: string[];
  hasDefault: boolean;
  /** The value sent when the node gives none. */
  default?: unknown;
  component: string;
  label?: string;
  /** Whether a value holds files (FileData on the wire), anywhere inside. */
  file: boolean;
  /** The JSON schema of its value (`type` in `/info`), when the app gives one. */
  schema?: unknown;
}
export interface ReturnSummary {
  label?: string;
  component: string;
  file: boolean;
  schema?: unknown;
}
export interface EndpointSummary {
  parameters: ParamSummary[];
  returns: ReturnSummary[];
  /** The app is older than Gradio 4.23: its API does not name parameters. */
  unnamed?: boolean;
  /**
   * How many values a result carries (every output of the dependency: the client is
   * asked for the raw payload, `with_null_state`), and which of them are not part of
   * the API (State, and Button, HTML… `skip_api` outputs).
   */
  outputCount?: number;
  hiddenOutputs?: number[];
}
/** What daggr keeps of an app's `/gradio_api/info`, cached across restarts. */
export interface ApiSummary {
  /** Bumped when the summary's shape changes, so older cached copies are refetched. */
  version?: number;
  endpoints: Record<string, EndpointSummary>;
  fetchedAt: number;
}
const SUMMARY_VERSION = 3;

/** How long a cached API description is trusted before validation refetches it. */
export const API_INFO_TTL_MS = 24 * 60 * 60_000;

export function apiCacheKey(space: string): string {
  return `gradio:api:${space}`;
}

interface RawParam {
  parameter_name?: string | null;
  parameter_has_default?: boolean;
  parameter_default?: unknown;
  component?: string;
  label?: string;
  type?: unknown;
  python_type?: { type?: string };
}
type RawEndpoints = Record<string, { parameters: RawParam[]; returns: RawParam[] }>;

function isFileParam(p: RawParam, schema: unknown): boolean {
  if (p.component && FILE_COMPONENTS.has(p.component.toLowerCase())) return true;
  if (schema && containsFile(schema)) return true;
  const py = p.python_type?.type ?? "";
  if (/filepath|Dict\(path: str/i.test(py)) return true;
  return typeof p.type === "string" && /Blob \| File \| Buffer/.test(p.type);
}

const isState = (p: RawParam) => p.component === "state";

/**
 * Summarises an app's API: the client's (transformed) API info for names and State
 * slots, the raw `/info` for each value's JSON schema (the client replaces it by a
 * string), and the config for the outputs a result carries.
 */
export function summariseApi(apiInfo: { named_endpoints: RawEndpoints; unnamed_endpoints?: RawEndpoints }, raw?: RawApiInfo, config?: GradioConfig): ApiSummary {
  const endpoints: Record<string, EndpointSummary> = {};
  const add = (name: string, e: { parameters: RawParam[]; returns: RawParam[] }, rawE: { parameters?: Array<{ type?: unknown }>; returns?: Array<{ type?: unknown }> } | undefined) => {
    const params = e.parameters ?? [];
    const visible = params.filter((p) => !isState(p));
    // Before Gradio 4.23 `/info` has no parameter_name: labels (when unique), then positions.
    const unnamed = visible.length > 0 && visible.every((p) => !p.parameter_name);
    const labels = visible.map((p) => p.label ?? "");
    const nameOf = (p: RawParam, i: number) => {
      if (p.parameter_name) return p.parameter_name;
      const label = p.label ?? "";
      return label && labels.indexOf(label) === labels.lastIndexOf(label) ? label : `param_${i}`;
    };
    let v = 0;
    const parameters = params.map((p): ParamSummary => {
      if (isState(p)) return { name: null, hasDefault: true, default: null, component: "state", file: false };
      const i = v++;
      const schema = rawE?.parameters?.[i]?.type;
      const name = nameOf(p, i);
      return {
        name,
        ...(unnamed && name !== `param_${i}` ? { aliases: [`param_${i}`] } : {}),
        hasDefault: !!p.parameter_has_default,
        ...(p.parameter_has_default ? { default: p.parameter_default ?? null } : {}),
        component: p.component ?? "",
        ...(p.label ? { label: p.label } : {}),
        file: isFileParam(p, schema),
        ...(schema && typeof schema === "object" ? { schema } : {}),
      };
    });
    const returns = (e.returns ?? []).map((r, i): ReturnSummary => {
      const schema = rawE?.returns?.[i]?.type;
      return { ...(r.label ? { label: r.label } : {}), component: r.component ?? "", file: isFileParam(r, schema), ...(schema && typeof schema === "object" ? { schema } : {}) };
    });
    endpoints[name] = { parameters, returns, ...(unnamed ? { unnamed } : {}), ...outputShape(name, config) };
  };
  for (const [name, e] of Object.entries(apiInfo.named_endpoints ?? {})) add(name, e, raw?.named_endpoints?.[name]);
  for (const [index, e] of Object.entries(apiInfo.unnamed_endpoints ?? {})) if (!endpoints[`/${index}`]) add(`/${index}`, e, raw?.unnamed_endpoints?.[index]);
  return { version: SUMMARY_VERSION, endpoints, fetchedAt: Date.now() };
}

/** The values a result of the endpoint carries, from the config's dependency. */
function outputShape(name: string, config: GradioConfig | undefined): Pick<EndpointSummary, "outputCount" | "hiddenOutputs"> {
  if (!config?.dependencies || !config.components) return {};
  const bare = name.replace(/^\//, "");
  const dep = config.dependencies.find((d) => d.api_name === bare) ?? (/^\d+$/.test(bare) ? config.dependencies.find((d) => d.id === Number(bare)) : undefined);
  if (!dep) return {};
  const byId = new Map(config.components.map((c) => [c.id, c]));
  const outputs = dep.outputs.map((id) => byId.get(id));
  const hiddenOutputs = outputs.flatMap((c, i) => (c?.type === "state" || c?.skip_api ? [i] : []));
  return { outputCount: outputs.length, ...(hiddenOutputs.length ? { hiddenOutputs } : {}) };
}

/** All names an input may use for the parameter. */
export function paramNames(p: ParamSummary): string[] {
  return p.name === null ? [] : [p.name, ...(p.aliases ?? [])];
}

const UNNAMED_HINT =
  "This app runs a Gradio older than 4.23, whose API does not name its parameters: daggr names each by its label when the label is unique, else by its position (param_0, param_1, …).";

/** Named endpoints only (what users should write). */
function namedEndpoints(api: ApiSummary): string[] {
  return Object.keys(api.endpoints).filter((e) => !/^\/\d+$/.test(e));
}

/** The endpoint, or a coded error listing the valid ones nearest first. */
export function endpointOf(api: ApiSummary, node: GradioNode): EndpointSummary {
  const ep = api.endpoints[node.apiName];
  if (ep) return ep;
  throw unknownName(
    ErrorCode.UNKNOWN_ENDPOINT,
    `endpoint {} of ${appLabel(node.space)} (node '${node.id}')`,
    node.apiName,
    namedEndpoints(api),
    "Set `apiName` to one of them; the app's \"Use via API\" page lists them too.",
  );
}

/**
 * Checks input names against the endpoint's parameters: unknown names (did-you-mean)
 * and required parameters (no default) that are not given.
 */
export function checkParams(node: GradioNode, ep: EndpointSummary, names: string[]): void {
  const params = ep.parameters.filter((p) => p.name !== null).map((p) => p.name!) as string[];
  const accepted = new Set(ep.parameters.flatMap(paramNames));
  const where = `parameter {} of ${appLabel(node.space)} endpoint '${node.apiName}' (node '${node.id}')`;
  for (const name of names) {
    if (!accepted.has(name)) throw unknownName(ErrorCode.UNKNOWN_PARAM, where, name, params, ep.unnamed ? UNNAMED_HINT : undefined);
  }
  const missing = ep.parameters.filter((p) => p.name !== null && !p.hasDefault && !paramNames(p).some((n) => names.includes(n))).map((p) => p.name!);
  if (missing.length) {
    throw new DaggrError(
      ErrorCode.MISSING_PARAM,
      `Node '${node.id}': ${appLabel(node.space)} endpoint '${node.apiName}' requires ${missing.map((m) => `'${m}'`).join(", ")}, which ${missing.length === 1 ? "has" : "have"} no default. Add ${missing.length === 1 ? "it" : "them"} to \`inputs\`.${ep.unnamed ? ` ${UNNAMED_HINT}` : ""}`,
      { choices: params, missing },
    );
  }
}

/** More outputs declared than the endpoint returns is an error (fewer is fine). */
export function checkOutputs(node: GradioNode, ep: EndpointSummary): void {
  const declared = Object.keys(node.outputs);
  if (declared.length <= ep.returns.length) return;
  const returns = ep.returns.map((r, i) => r.label || `#${i + 1} (${r.component})`);
  throw new DaggrError(
    ErrorCode.OUTPUT_COUNT,
    `Node '${node.id}' declares ${declared.length} outputs (${declared.join(", ")}) but ${appLabel(node.space)} endpoint '${node.apiName}' returns ${ep.returns.length}${returns.length ? ` (${returns.join(", ")})` : ""}. Remove the extra outputs, or reshape the result with \`postprocess\`.`,
    { declared, returns },
  );
}

/**
 * Static checks of a node against an API description. With `preprocess` the call's
 * parameter names are only known at run time, and with `postprocess` so is the output
 * shape, so those checks are left to the run.
 */
export function checkNode(node: GradioNode, api: ApiSummary): void {
  const ep = endpointOf(api, node);
  if (!node.options.preprocess) checkParams(node, ep, Object.keys(node.inputs));
  if (!node.options.postprocess) checkOutputs(node, ep);
}

/** Reads a cached summary that is still fresh. */
export async function cachedApi(cache: MetaCache, space: string, now = Date.now()): Promise<ApiSummary | undefined> {
  const hit = await cache.get<ApiSummary>(apiCacheKey(space)).catch(() => undefined);
  return hit && typeof hit === "object" && hit.endpoints && hit.version === SUMMARY_VERSION && now - hit.fetchedAt < API_INFO_TTL_MS ? hit : undefined;
}

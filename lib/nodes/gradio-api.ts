import { DaggrError, ErrorCode, unknownName, type GradioNode } from "../graph/index.js";
import type { MetaCache } from "../engine/executor.js";
import { appLabel } from "./gradio-client.js";

/** Gradio components whose values are files (FileData on the wire). */
const FILE_COMPONENTS = new Set([
  "Image", "Audio", "Video", "File", "Files", "Model3D", "Gallery", "Uploadbutton", "UploadButton",
  "Imageeditor", "ImageEditor", "Imageslider", "ImageSlider", "Simpleimage", "SimpleImage", "Annotatedimage",
  "AnnotatedImage", "Pdf", "PDF",
]);

export interface ParamSummary {
  /** `null` for hidden state parameters (the client fills them). */
  name: string | null;
  hasDefault: boolean;
  component: string;
  label?: string;
  /** Whether values travel as FileData (upload with handle_file). */
  file: boolean;
}
export interface ReturnSummary {
  label?: string;
  component: string;
  file: boolean;
}
export interface EndpointSummary {
  parameters: ParamSummary[];
  returns: ReturnSummary[];
}
/** What daggr keeps of an app's `/gradio_api/info`, cached across restarts. */
export interface ApiSummary {
  endpoints: Record<string, EndpointSummary>;
  fetchedAt: number;
}

/** How long a cached API description is trusted before validation refetches it. */
export const API_INFO_TTL_MS = 24 * 60 * 60_000;

export function apiCacheKey(space: string): string {
  return `gradio:api:${space}`;
}

interface RawParam {
  parameter_name?: string | null;
  parameter_has_default?: boolean;
  component?: string;
  label?: string;
  type?: unknown;
  python_type?: { type?: string };
}

function isFileParam(p: RawParam): boolean {
  if (p.component && FILE_COMPONENTS.has(p.component)) return true;
  const py = p.python_type?.type ?? "";
  if (/filepath|Dict\(path: str/i.test(py)) return true;
  return typeof p.type === "string" && /Blob \| File \| Buffer/.test(p.type);
}

/** Summarises the client's (transformed) API info. */
export function summariseApi(apiInfo: { named_endpoints: Record<string, { parameters: RawParam[]; returns: RawParam[] }>; unnamed_endpoints?: Record<string, { parameters: RawParam[]; returns: RawParam[] }> }): ApiSummary {
  const endpoints: Record<string, EndpointSummary> = {};
  const add = (name: string, e: { parameters: RawParam[]; returns: RawParam[] }) => {
    endpoints[name] = {
      parameters: (e.parameters ?? []).map((p) => ({
        name: p.parameter_name ?? null,
        hasDefault: !!p.parameter_has_default || p.component === "state",
        component: p.component ?? "",
        ...(p.label ? { label: p.label } : {}),
        file: isFileParam(p),
      })),
      returns: (e.returns ?? []).map((r) => ({ ...(r.label ? { label: r.label } : {}), component: r.component ?? "", file: isFileParam(r) })),
    };
  };
  for (const [name, e] of Object.entries(apiInfo.named_endpoints ?? {})) add(name, e);
  for (const [index, e] of Object.entries(apiInfo.unnamed_endpoints ?? {})) if (!endpoints[`/${index}`]) add(`/${index}`, e);
  return { endpoints, fetchedAt: Date.now() };
}

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
    `endpoint of ${appLabel(node.space)} (node '${node.id}')`,
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
  const where = `parameter of ${appLabel(node.space)} endpoint '${node.apiName}' (node '${node.id}')`;
  for (const name of names) {
    if (!params.includes(name)) throw unknownName(ErrorCode.UNKNOWN_PARAM, where, name, params);
  }
  const missing = ep.parameters.filter((p) => p.name !== null && !p.hasDefault && !names.includes(p.name)).map((p) => p.name!);
  if (missing.length) {
    throw new DaggrError(
      ErrorCode.MISSING_PARAM,
      `Node '${node.id}': ${appLabel(node.space)} endpoint '${node.apiName}' requires ${missing.map((m) => `'${m}'`).join(", ")}, which ${missing.length === 1 ? "has" : "have"} no default. Add ${missing.length === 1 ? "it" : "them"} to \`inputs\`.`,
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
  return hit && typeof hit === "object" && hit.endpoints && now - hit.fetchedAt < API_INFO_TTL_MS ? hit : undefined;
}

/**
 * The graph as a Gradio app's API: one endpoint per output node (a node nothing reads
 * from), named after it (`/cut`), that runs the node and everything upstream of it.
 * Its parameters are the free inputs of that closure (the `gr.*` inputs of its nodes,
 * in the graph's order), named by port when the port name is unique in the endpoint,
 * else `node__port` (the id `/api/call` uses); its returns are the output node's ports.
 *
 * From these, `config()` and `info()` build what Gradio 6.25 serves at `/config` and
 * `/gradio_api/info` (routes.py `get_config`, blocks.py `get_api_info`), with component
 * ids shared across endpoints as Gradio's are (an input read by two endpoints is one
 * component).
 */
import { createHash } from "node:crypto";
import { type Component, type Graph, initialValue, isFileComponent } from "../../graph/index.js";
import { componentSchema, gradioType, infoComponent, pythonType } from "./schemas.js";

/** Names a Gradio client reserves (blocks.py get_api_info falls back to `param_<i>` for them). */
const RESERVED = new Set(["api_name", "fn_index", "result_callbacks"]);

export const API_PREFIX = "/gradio_api";
/** The Gradio version whose protocol this emulates (sse_v3, `/gradio_api` prefix). */
export const GRADIO_VERSION = "6.25.0";

export interface Param {
  /** Component id in the config. */
  id: number;
  nodeId: string;
  port: string;
  name: string;
  component: Component | null;
  file: boolean;
}
export interface Return {
  id: number;
  port: string;
  component: Component | null;
  file: boolean;
}
export interface Endpoint {
  /** The dependency id (`fn_index`). */
  index: number;
  /** The output node; also the endpoint's name (`/<leaf>`). */
  leaf: string;
  /** The output node and everything upstream of it, in the graph's order. */
  nodes: string[];
  parameters: Param[];
  returns: Return[];
}

/** The endpoints of a graph, in the graph's order of their output nodes. */
export function endpointsOf(graph: Graph): Endpoint[] {
  let nextId = 1;
  const inputIds = new Map<string, number>();
  const leaves = graph.nodes.filter((n) => graph.children(n.id).length === 0);
  return leaves.map((leaf, index) => {
    const closure = upstream(graph, leaf.id);
    const nodes = graph.nodes.filter((n) => closure.has(n.id)).map((n) => n.id);
    const free = nodes.flatMap((id) => {
      const node = graph.node(id);
      return node.editablePorts().map((port) => ({ nodeId: id, port, component: node.editableComponent(port) ?? null }));
    });
    const count = new Map<string, number>();
    for (const f of free) count.set(f.port, (count.get(f.port) ?? 0) + 1);
    const parameters = free.map((f): Param => {
      const key = `${f.nodeId}__${f.port}`;
      if (!inputIds.has(key)) inputIds.set(key, nextId++);
      const name = count.get(f.port) === 1 && !RESERVED.has(f.port) ? f.port : key;
      return { id: inputIds.get(key)!, ...f, name, file: isFileComponent(f.component) };
    });
    const returns = Object.entries(leaf.outputs).map(([port, component]): Return => ({ id: nextId++, port, component, file: isFileComponent(component) }));
    return { index, leaf: leaf.id, nodes, parameters, returns };
  });
}

/** A node and its ancestors, by a worklist (a chain may be very deep). */
function upstream(graph: Graph, id: string): Set<string> {
  const seen = new Set([id]);
  const work = [id];
  while (work.length) {
    for (const p of graph.parents(work.pop()!)) {
      if (!seen.has(p)) {
        seen.add(p);
        work.push(p);
      }
    }
  }
  return seen;
}

/** The default a parameter takes when the caller leaves it out: the component's value (files have none). */
export function parameterDefault(p: Param): { has: boolean; value: unknown } {
  if (!p.component || p.file) return { has: false, value: null };
  const v = initialValue(p.component);
  return v === null || v === undefined ? { has: false, value: null } : { has: true, value: v };
}

function configComponent(id: number, c: Component | null, label: string, input: boolean, value: unknown) {
  const type = gradioType(c);
  const schema = componentSchema(c);
  const { value: _v, ...props } = c?.props ?? {};
  return {
    id,
    type,
    props: {
      ...props,
      label: (c?.props.label as string | undefined) ?? label,
      show_label: c?.props.show_label ?? true,
      visible: c?.props.visible ?? true,
      interactive: input,
      name: type,
      ...(value !== undefined && value !== null ? { value } : {}),
      _selectable: false,
    },
    skip_api: false,
    component_class_id: createHash("md5").update(type).digest("hex"),
    key: null,
    api_info: schema,
    api_info_as_input: schema,
    api_info_as_output: schema,
    example_inputs: null,
  };
}

/** What `GET /config` answers (blocks.py get_config_file + routes.py get_config). */
export function config(graph: Graph, endpoints: Endpoint[], root: string): Record<string, unknown> {
  const components = new Map<number, ReturnType<typeof configComponent>>();
  for (const ep of endpoints) {
    for (const p of ep.parameters) if (!components.has(p.id)) components.set(p.id, configComponent(p.id, p.component, p.port, true, parameterDefault(p).value));
    for (const r of ep.returns) components.set(r.id, configComponent(r.id, r.component, r.port, false, undefined));
  }
  const dependencies = endpoints.map((ep) => ({
    id: ep.index,
    targets: [[ep.parameters[0]?.id ?? ep.returns[0]?.id ?? 0, "submit"]],
    inputs: ep.parameters.map((p) => p.id),
    outputs: ep.returns.map((r) => r.id),
    backend_fn: true,
    js: null,
    queue: null,
    api_name: ep.leaf,
    api_description: null,
    scroll_to_output: false,
    show_progress: "full",
    show_progress_on: null,
    batch: false,
    max_batch_size: 4,
    cancels: [],
    types: { generator: false, cancel: false },
    collects_event_data: false,
    trigger_after: null,
    trigger_only_on_success: false,
    trigger_only_on_failure: false,
    trigger_mode: "once",
    api_visibility: "public",
    rendered_in: null,
    render_id: null,
    connection: "sse",
    time_limit: null,
    stream_every: 0.5,
    event_specific_args: [],
    component_prop_inputs: [],
    js_implementation: null,
  }));
  const ids = [...components.keys()];
  const layout = { id: 0, children: ids.map((id) => ({ id })) };
  return {
    version: GRADIO_VERSION,
    api_prefix: API_PREFIX,
    mode: "blocks",
    app_id: appId(graph.name),
    dev_mode: false,
    vibe_mode: false,
    analytics_enabled: false,
    components: [...components.values()],
    css: null,
    connect_heartbeat: false,
    js: null,
    head: null,
    title: graph.name,
    space_id: null,
    enable_queue: true,
    show_error: true,
    footer_links: ["api"],
    run_history: false,
    is_colab: false,
    max_file_size: null,
    stylesheets: [],
    theme: "default",
    protocol: "sse_v3",
    body_css: null,
    fill_height: false,
    fill_width: false,
    theme_hash: null,
    pwa: false,
    pages: [["", "Home", true]],
    page: { "": { layout, components: ids, dependencies: dependencies.map((d) => d.id) } },
    mcp_server: false,
    i18n_translations: null,
    layout,
    dependencies,
    root,
    username: null,
  };
}

/** What `GET /gradio_api/info` answers (blocks.py get_api_info). */
export function info(endpoints: Endpoint[], root: string): Record<string, unknown> {
  const named: Record<string, unknown> = {};
  for (const ep of endpoints) {
    named[`/${ep.leaf}`] = {
      parameters: ep.parameters.map((p) => {
        const schema = componentSchema(p.component);
        const d = parameterDefault(p);
        return {
          label: (p.component?.props.label as string | undefined) ?? p.port,
          parameter_name: p.name,
          parameter_has_default: d.has,
          parameter_default: d.value,
          type: schema,
          python_type: { type: pythonType(schema), description: (schema.additional_description as string | null | undefined) ?? "" },
          component: infoComponent(p.component),
          example_input: d.has ? d.value : null,
        };
      }),
      returns: ep.returns.map((r) => {
        const schema = componentSchema(r.component);
        return {
          label: (r.component?.props.label as string | undefined) ?? r.port,
          type: schema,
          python_type: { type: pythonType(schema), description: (schema.description as string | undefined) ?? "" },
          component: infoComponent(r.component),
        };
      }),
      api_visibility: "public",
      description: `Runs '${ep.leaf}' and what it reads from (${ep.nodes.length} node${ep.nodes.length === 1 ? "" : "s"}).`,
      code_snippets: snippets(ep, root),
    };
  }
  return { named_endpoints: named, unnamed_endpoints: {} };
}

function snippets(ep: Endpoint, root: string): Record<string, string> {
  const args = ep.parameters.map((p) => `${p.name}=${p.file ? `handle_file(...)` : JSON.stringify(parameterDefault(p).value)}`).join(", ");
  const jsArgs = ep.parameters.map((p) => `${p.name}: ${p.file ? "handle_file(...)" : JSON.stringify(parameterDefault(p).value)}`).join(", ");
  return {
    bash: bashSnippet(ep, root),
    python: `from gradio_client import Client, handle_file\n\nclient = Client(${JSON.stringify(`${root}/`)})\nresult = client.predict(${args}${args ? ", " : ""}api_name=${JSON.stringify(`/${ep.leaf}`)})\nprint(result)`,
    javascript: `import { Client, handle_file } from "@gradio/client";\n\nconst client = await Client.connect(${JSON.stringify(`${root}/`)});\nconst result = await client.predict(${JSON.stringify(`/${ep.leaf}`)}, { ${jsArgs} });\nconsole.log(result.data);`,
  };
}

/**
 * The curl lines for an endpoint (gradio_client snippet.py's `bash`, in a form that also
 * runs in bash: the event id taken with `$(…)` rather than piped into `read`): upload
 * the file if it takes one, join through `call/v2` with each parameter's default by
 * name, then read the result stream.
 */
function bashSnippet(ep: Endpoint, root: string): string {
  const fileValue = '{"path": "\'"$FILE_PATH"\'", "meta": {"_type": "gradio.FileData"}}';
  const entries = ep.parameters.map((p) => {
    const value = p.file ? fileValue : (JSON.stringify(parameterDefault(p).value) ?? "null").replaceAll("'", "'\\''");
    return `${JSON.stringify(p.name)}: ${value}`;
  });
  const lines = ep.parameters.some((p) => p.file) ? [`FILE_PATH=$(curl -s -X POST ${root}${API_PREFIX}/upload -F 'files=@/path/to/your/file' | tr -d '[]" ')`] : [];
  lines.push(
    `EVENT_ID=$(curl -s -X POST ${root}${API_PREFIX}/call/v2/${ep.leaf} -H "Content-Type: application/json" \\`,
    `  -d '{${entries.join(", ")}}' | cut -d '"' -f 4)`,
    `curl -sN ${root}${API_PREFIX}/call/${ep.leaf}/$EVENT_ID`,
  );
  return lines.join("\n");
}

/** A stable numeric id from the app's name (Gradio's is random per launch; the client only echoes it). */
function appId(name: string): number {
  return parseInt(createHash("sha256").update(name).digest("hex").slice(0, 12), 16);
}

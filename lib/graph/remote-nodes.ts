import { DaggrError, ErrorCode } from "./errors.js";
import { checkLocalEnv, checkRevision, checkSpaceId } from "./space-id.js";
import { slug } from "./ids.js";
import { Node, NodeKind, type InputSources, type NodeOptions, type OutputSpecs } from "./node.js";

/** Retry and wait policy of a remote node. */
export interface RemoteOptions {
  /** Attempts after the first on 429 and transient network errors (default 3). */
  retries?: number;
  /** How long to wait for a sleeping or building Space / a loading model (default 5 min). */
  wakeTimeoutMs?: number;
  /** Largest file output downloaded into the files store (default 512 MiB). */
  maxFileBytes?: number;
}

export interface GradioNodeOptions<I extends InputSources, O extends OutputSpecs> extends NodeOptions<I, O>, RemoteOptions {
  /** The endpoint, e.g. "/predict" (default) or "/generate_image". */
  apiName?: string;
  /** Check the endpoint, parameters and outputs against the app's API info at start-up (default true). */
  validate?: boolean;
  /**
   * Run the Space on this machine: fetch its files (at `revision`), make a Python
   * environment, launch it on 127.0.0.1 and call it there; fall back to the remote Space
   * if that fails (unless DAGGR_LOCAL_NO_FALLBACK=1). Space ids only.
   */
  runLocally?: boolean;
  /**
   * Environment variables the local app gets from daggr's environment, by name
   * (`"HF_TOKEN"`), or set (`"CUDA_VISIBLE_DEVICES="`). By default it gets none of the
   * secrets: only PATH, HOME, locale and temp-dir variables.
   */
  localEnv?: string[];
  /** With `runLocally`: the Space commit (sha) or branch to run, instead of its current head. */
  revision?: string;
}

const REMOTE_OPTIONS = ["retries", "wakeTimeoutMs", "maxFileBytes"] as const;
const SPACE_ID = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;

/**
 * Calls an endpoint of a Gradio app: a Space id (`owner/name`) or any Gradio URL.
 * Inputs map to the endpoint's parameter names, outputs to its return values in order.
 *
 * - Files: a file parameter (Image, Audio, File…) is uploaded only when its value is a
 *   file daggr holds (produced by a node or uploaded); an http(s) URL is passed for the
 *   app to fetch; any other string is refused, never read from disk. File outputs are
 *   downloaded into the files store (up to `maxFileBytes`) and become local paths; a
 *   Gallery becomes a list of paths.
 * - The HF token (HF_TOKEN, else `$HF_HOME/token`) is sent only to huggingface.co, its
 *   router and the app's own origin (a Space's own host), never past a redirect to
 *   another origin. File URLs off that origin must be https to public addresses.
 * - A sleeping or building Space is waited for (up to `wakeTimeoutMs`); a paused or
 *   broken one fails at once with its status. 429s (after Retry-After), a full queue and
 *   dropped connections are retried `retries` times; app errors and ZeroGPU quota errors
 *   are not (the error says when the quota frees up).
 * - Name: without `name`, the Space's name (`owner/en2fr` → `en2fr`); for a URL, the
 *   `*.hf.space` label, else the app's path segment, else `local_<port>` on this machine,
 *   else the host's first label (see {@link defaultGradioName}). Two nodes on one app need
 *   a `name` each.
 *
 * @example
 * const gen = new GradioNode("hf-applications/Z-Image-Turbo", {
 *   apiName: "/generate_image",
 *   inputs: { prompt: gr.Textbox({ label: "Prompt" }), height: 1024 },
 *   outputs: { image: gr.Image() },
 * });
 */
export class GradioNode<I extends InputSources = InputSources, O extends OutputSpecs = OutputSpecs> extends Node<I, O> {
  get kind(): typeof NodeKind.GRADIO {
    return NodeKind.GRADIO;
  }
  readonly space: string;
  readonly apiName: string;

  constructor(spaceOrUrl: string, options: GradioNodeOptions<I, O> = {}) {
    if (typeof spaceOrUrl !== "string" || !(SPACE_ID.test(spaceOrUrl.trim()) || /^https?:\/\//.test(spaceOrUrl.trim()))) {
      throw new DaggrError(
        ErrorCode.BAD_OPTION,
        `GradioNode needs a Space id like 'owner/name' or an app URL like 'http://127.0.0.1:7861/', got ${JSON.stringify(spaceOrUrl)}.`,
      );
    }
    const space = spaceOrUrl.trim();
    super(defaultGradioName(space), options, ["apiName", "validate", "runLocally", "localEnv", "revision", ...REMOTE_OPTIONS]);
    if (options.runLocally) {
      checkSpaceId(space);
      if (options.revision !== undefined) checkRevision(options.revision);
      checkLocalEnv(options.localEnv);
    }
    this.space = space;
    const api = options.apiName ?? "/predict";
    this.apiName = api.startsWith("/") ? api : `/${api}`;
  }

  /** The options as given, less `name`, `inputs` and `outputs` (see `Node.options`). */
  get gradioOptions(): Omit<GradioNodeOptions<I, O>, "name" | "inputs" | "outputs"> {
    return this.options as GradioNodeOptions<I, O>;
  }

  /** Whether `space` is a Space id rather than a URL. */
  get isSpaceId(): boolean {
    return SPACE_ID.test(this.space);
  }

  protected override kindConfig(): Record<string, unknown> {
    return { space: this.space, apiName: this.apiName };
  }

  override link(): string | undefined {
    return this.isSpaceId ? `https://huggingface.co/spaces/${this.space}` : this.space;
  }
}

/**
 * The name a GradioNode gets without `name`: what a user would call the app, stable
 * across runs (results are stored under it), never the noise of a URL.
 *
 * - a Space id `owner/name` → `name`;
 * - a Space's own host `https://abidlabs-en2fr.hf.space` → `abidlabs-en2fr` (id
 *   `abidlabs_en2fr`): the Hub joins owner and name with "-" and either may hold "-"
 *   itself, so the name alone cannot be told from the host: the whole label it is;
 * - an app under a path (`https://my-server.example.org:7860/en2fr/`, a Hub page
 *   `https://huggingface.co/spaces/owner/en2fr`) → its last path segment that says more
 *   than "this is an app" (not `app`, `gradio`, `gradio_api`, `api`, `ui`): `en2fr`;
 * - this machine (`localhost`, `127.x.x.x`, `[::1]`, `0.0.0.0`) → `local_<port>`
 *   (`http://127.0.0.1:7860/` → `local_7860`; `local` on the scheme's default port): the
 *   port is the one thing that tells local apps apart;
 * - another IP address → `gradio_<address>` (`http://10.0.0.5:7860/` → `gradio_10_0_0_5`);
 * - a host name → its first label, `www.` skipped, port left out
 *   (`https://my-server.example.org:7860/` → `my-server`, id `my_server`).
 *
 * Two nodes on one app get the same name: unless one is given a `name`, the graph refuses
 * them (E_DUPLICATE_NODE); nothing is suffixed behind the user's back. (The Python daggr
 * names a node `space_or_url.split("/")[-1]`, which is "" for a URL ending in "/" and
 * `127.0.0.1:7860` without it, and appends `_1`, `_2` in construction order, so a node's
 * history moves to another node when the file's order changes.)
 */
function defaultGradioName(space: string): string {
  if (SPACE_ID.test(space)) return space.split("/")[1]!;
  let u: URL;
  try {
    u = new URL(space);
  } catch {
    return "gradio";
  }
  const host = u.hostname.toLowerCase().replace(/^\[|\]$/g, "");
  const spaceHost = /^([a-z0-9-]+)\.hf\.space$/.exec(host);
  if (spaceHost) return spaceHost[1]!;
  const segments = u.pathname.split("/");
  for (let i = segments.length - 1; i >= 0; i--) {
    let seg = segments[i]!;
    try {
      seg = decodeURIComponent(seg);
    } catch {
      /* kept as written */
    }
    if (/[A-Za-z0-9]/.test(seg) && !GENERIC_SEGMENTS.has(seg.toLowerCase())) return seg;
  }
  if (host === "localhost" || host.endsWith(".localhost") || host === "::1" || host === "0.0.0.0" || /^127\.\d+\.\d+\.\d+$/.test(host)) {
    return u.port ? `local_${u.port}` : "local";
  }
  if (/^[\d.]+$/.test(host) || host.includes(":")) return `gradio_${slug(host)}`;
  const labels = host.split(".");
  return labels[0] === "www" && labels.length > 2 ? labels[1]! : labels[0]!;
}

/** Path segments that name no app: where Gradio is mounted by habit, or its own routes. */
const GENERIC_SEGMENTS = new Set(["app", "gradio", "gradio_api", "api", "ui", "index.html"]);

export interface InferenceNodeOptions<I extends InputSources, O extends OutputSpecs> extends NodeOptions<I, O>, RemoteOptions {
  /**
   * The task, e.g. "text-to-image"; by default the task the provider serves the model
   * for (the Hub's inference provider mapping), else the model's pipeline tag.
   */
  task?: string;
  /** Check the model and task at start-up (default true). */
  validate?: boolean;
}

/**
 * Calls a model through Hugging Face Inference Providers: `"org/model"` or
 * `"org/model:provider"`. Every task the installed `@huggingface/inference` can call is
 * supported. The task is `task` if given, else the one the provider is mapped to on the
 * Hub (for no provider, the first mapped provider, as the client's "auto" picks), else
 * the model's pipeline tag; the mapping and the tag can differ (FLUX.2-klein is
 * `image-text-to-image` on fal-ai). A provider the model is not mapped to is an error
 * naming the ones it is.
 *
 * Every input reaches the call: the task's main input by name (`prompt`/`text`/`inputs`,
 * `image`, `audio`, `messages`, `question`/`context`, `table`…) and all the others as
 * generation parameters (`max_tokens`, `temperature`, `width`, `seed`…). File inputs
 * must be files daggr holds; they travel as bytes (or `data:` URLs inside parameters),
 * never as local paths. A node with one output gets the main result (chat text, an
 * image/audio/video path, a `gr.Label` value, an embedding…); a node with several
 * outputs, or with `postprocess`, gets an object to name them after:
 *
 * | task | object keys |
 * |---|---|
 * | chat-completion (also conversational, image-text-to-text) | `text`, `messages`, `finish_reason`, `usage` (tokens stream as partials) |
 * | text-generation (streams), summarization, translation, image-to-text | `text` |
 * | text-to-image, image-to-image, image-text-to-image | `image` |
 * | text-to-video, image-to-video, image-text-to-video | `video` |
 * | text-to-speech, text-to-audio | `audio` |
 * | audio-to-audio | `audio`, `audios` |
 * | automatic-speech-recognition | `text`, `chunks` |
 * | image/text/audio/zero-shot classification | `label`, `scores` |
 * | question-answering, visual/document-question-answering | `answer`, `score`… |
 * | table-question-answering | `answer`, `cells`, `coordinates`, `aggregator` |
 * | token-classification, fill-mask, object-detection, image-segmentation | `entities`, `candidates`, `objects`, `segments` |
 * | feature-extraction, sentence-similarity, tabular-* | `embedding`, `scores`, `predictions` |
 *
 * A loading model is waited for (up to `wakeTimeoutMs`), never retried endlessly.
 *
 * @example
 * const chat = new InferenceNode("meta-llama/Llama-3.1-8B-Instruct:novita", {
 *   task: "chat-completion",
 *   inputs: { prompt: gr.Textbox(), max_tokens: 256 },
 *   outputs: { text: gr.Markdown() },
 * });
 */
export class InferenceNode<I extends InputSources = InputSources, O extends OutputSpecs = OutputSpecs> extends Node<I, O> {
  get kind(): typeof NodeKind.INFERENCE {
    return NodeKind.INFERENCE;
  }
  readonly model: string;
  readonly provider: string | undefined;

  constructor(model: string, options: InferenceNodeOptions<I, O> = {}) {
    const [id, provider, ...rest] = typeof model === "string" ? model.trim().split(":") : [];
    if (!id || !SPACE_ID.test(id) || rest.length) {
      throw new DaggrError(
        ErrorCode.BAD_OPTION,
        `InferenceNode needs a model id like 'org/model' or 'org/model:provider', got ${JSON.stringify(model)}.`,
      );
    }
    super(id.split("/")[1]!, options, ["task", "validate", ...REMOTE_OPTIONS]);
    this.model = id;
    this.provider = provider || undefined;
  }

  /** The options as given, less `name`, `inputs` and `outputs` (see `Node.options`). */
  get inferenceOptions(): Omit<InferenceNodeOptions<I, O>, "name" | "inputs" | "outputs"> {
    return this.options as InferenceNodeOptions<I, O>;
  }

  protected override kindConfig(): Record<string, unknown> {
    return { model: this.model, provider: this.provider, task: this.inferenceOptions.task };
  }

  override link(): string {
    return `https://huggingface.co/${this.model}`;
  }
}

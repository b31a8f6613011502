import { readFile } from "node:fs/promises";
import type { InferenceClient, Options } from "@huggingface/inference";
import mime from "mime";
import { DaggrError, ErrorCode, type InferenceNode } from "../graph/index.js";
import type { ExecContext } from "../engine/executor.js";

/**
 * One task call: how an InferenceNode's inputs become the client's arguments, and how
 * the answer becomes a result. Every input reaches the call: the task's main inputs by
 * name (aliases below, else the first input of the right kind), everything else as
 * generation parameters.
 */
export interface TaskCall {
  client: InferenceClient;
  node: InferenceNode;
  inputs: Record<string, unknown>;
  ctx: ExecContext;
  options: Options;
  maxBytes: number;
  label: string;
  /** Reports a partial result (streamed tokens). */
  emit(result: TaskResult): void;
}

/**
 * `primary` is what a node with one output (and no postprocess) gets; `full` is what a
 * node with several outputs, or a postprocess, gets: name outputs after its keys.
 */
export interface TaskResult {
  primary: unknown;
  full: Record<string, unknown>;
}

export interface TaskSpec {
  run(c: TaskCall): Promise<TaskResult>;
}

const PROMPT = ["prompt", "inputs", "text", "input", "message", "question"];
const IMAGE = ["image", "inputs", "input", "img", "image_url"];
const AUDIO = ["audio", "inputs", "input"];

type Picked = { key: string; value: unknown } | undefined;

function pick(inputs: Record<string, unknown>, names: string[], accept: (v: unknown) => boolean): Picked {
  for (const key of names) if (inputs[key] !== undefined && inputs[key] !== null && accept(inputs[key])) return { key, value: inputs[key] };
  for (const [key, value] of Object.entries(inputs)) if (value !== undefined && value !== null && accept(value)) return { key, value };
  return undefined;
}

/** Inputs other than `used`, without undefined values: the generation parameters. */
function rest(inputs: Record<string, unknown>, ...used: Array<string | undefined>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(inputs).filter(([k, v]) => v !== undefined && !used.includes(k)));
}

function text(c: TaskCall): { key: string; value: string } {
  const p = pick(c.inputs, PROMPT, (v) => typeof v === "string");
  if (!p) throw missing(c, "a text input (e.g. `prompt`)");
  return p as { key: string; value: string };
}

function missing(c: TaskCall, what: string): DaggrError {
  const have = Object.keys(c.inputs);
  return new DaggrError(ErrorCode.BAD_INPUT, `${c.label} needs ${what}; its inputs are ${have.length ? have.map((k) => `'${k}'`).join(", ") : "empty"}.`, { choices: have });
}

function isFileLike(v: unknown): boolean {
  return typeof v === "string" || v instanceof Blob || v instanceof Uint8Array;
}

/**
 * A file input as a Blob. Strings must be files of the files store (produced or
 * uploaded): an arbitrary local path is never read and sent to a provider.
 */
async function fileBlob(c: TaskCall, names: string[], kind: string): Promise<{ key: string; blob: Blob }> {
  const p = pick(c.inputs, names, isFileLike);
  if (!p) throw missing(c, `an ${kind} input (e.g. \`${names[0]}\`)`);
  const v = p.value;
  if (v instanceof Blob) return { key: p.key, blob: v };
  if (v instanceof Uint8Array) return { key: p.key, blob: new Blob([v as Uint8Array<ArrayBuffer>]) };
  const meta = await c.ctx.files.lookup(v as string);
  if (!meta) {
    throw new DaggrError(
      ErrorCode.BAD_INPUT,
      `Input '${p.key}' of ${c.label} should be an ${kind} file produced by a node or uploaded; '${String(v).slice(0, 120)}' is not one. daggr never reads arbitrary local paths to send them to a provider.`,
      { port: p.key },
    );
  }
  const bytes = await readFile(meta.path);
  return { key: p.key, blob: new Blob([bytes], { type: meta.mime || mime.getType(meta.name) || "application/octet-stream" }) };
}

async function saveBlob(c: TaskCall, blob: Blob, base: string): Promise<string> {
  if (blob.size > c.maxBytes) {
    throw new DaggrError(ErrorCode.FILE_TOO_LARGE, `${c.label} returned a file of ${blob.size} bytes, over the limit of ${c.maxBytes}. Raise the node's \`maxFileBytes\` to accept it.`, {
      size: blob.size,
      maxBytes: c.maxBytes,
    });
  }
  const type = blob.type || "application/octet-stream";
  const ext = mime.getExtension(type);
  const meta = await c.ctx.files.put({ bytes: new Uint8Array(await blob.arrayBuffer()), name: ext ? `${base}.${ext}` : base, mime: type });
  return meta.path;
}

/** `model` and `provider` for the client. */
function target(c: TaskCall): { model: string; provider?: never } {
  return { model: c.node.model, ...(c.node.provider ? { provider: c.node.provider as never } : {}) };
}

type ChatContent = string | Array<{ type: "text"; text: string } | { type: "image_url"; image_url: { url: string } }>;
type ChatMessage = { role: string; content: ChatContent };

async function chatMessages(c: TaskCall, withImages: boolean): Promise<{ messages: ChatMessage[]; used: string[] }> {
  const used: string[] = [];
  const messages: ChatMessage[] = [];
  const system = c.inputs.system ?? c.inputs.system_prompt;
  if (typeof system === "string" && system) messages.push({ role: "system", content: system });
  used.push("system", "system_prompt");
  for (const key of ["history", "messages"]) {
    const v = c.inputs[key];
    if (Array.isArray(v)) messages.push(...(v as ChatMessage[]));
    used.push(key);
  }
  const prompt = ["prompt", "message", "text", "inputs", "input", "question"].find((k) => typeof c.inputs[k] === "string");
  let images: string[] = [];
  if (withImages) {
    for (const key of ["image", "images", "image_url"]) {
      const v = c.inputs[key];
      if (v === undefined || v === null || v === "") continue;
      used.push(key);
      for (const one of Array.isArray(v) ? v : [v]) images.push(await imageUrl(c, key, one));
    }
  }
  if (prompt) {
    used.push(prompt);
    const t = c.inputs[prompt] as string;
    messages.push({ role: "user", content: images.length ? [{ type: "text", text: t }, ...images.map((url) => ({ type: "image_url" as const, image_url: { url } }))] : t });
    images = [];
  }
  if (images.length) messages.push({ role: "user", content: images.map((url) => ({ type: "image_url" as const, image_url: { url } })) });
  if (!messages.some((m) => m.role === "user")) throw missing(c, "`messages` or a `prompt`");
  return { messages, used };
}

/** An image for a chat message: an http(s) URL as is, a stored file as a data URL. */
async function imageUrl(c: TaskCall, key: string, v: unknown): Promise<string> {
  if (typeof v === "string" && /^(https?:|data:)/i.test(v)) return v;
  const { blob } = await fileBlob({ ...c, inputs: { [key]: v } }, [key], "image");
  return `data:${blob.type};base64,${Buffer.from(await blob.arrayBuffer()).toString("base64")}`;
}

function chat(withImages: boolean): TaskSpec {
  return {
    async run(c) {
      const { messages, used } = await chatMessages(c, withImages);
      const params = rest(c.inputs, ...used);
      const stream = params.stream !== false;
      delete params.stream;
      const args = { ...target(c), messages, ...params } as never;
      const shape = (content: string, finish: unknown, usage: unknown): TaskResult => ({
        primary: content,
        full: { text: content, messages: [...messages, { role: "assistant", content }], finish_reason: finish ?? null, usage: usage ?? null },
      });
      if (!stream) {
        const out = await c.client.chatCompletion(args, c.options);
        const choice = out.choices?.[0];
        return shape(String(choice?.message?.content ?? ""), choice?.finish_reason, out.usage);
      }
      let content = "";
      let finish: unknown;
      let usage: unknown;
      for await (const chunk of c.client.chatCompletionStream(args, c.options)) {
        const choice = chunk.choices?.[0];
        const delta = choice?.delta?.content;
        if (choice?.finish_reason) finish = choice.finish_reason;
        if (chunk.usage) usage = chunk.usage;
        if (delta) {
          content += delta;
          c.emit(shape(content, null, null));
        }
      }
      return shape(content, finish, usage);
    },
  };
}

function textTask(call: (c: TaskCall, args: { inputs: string; parameters: Record<string, unknown> }) => Promise<string>, key: string): TaskSpec {
  return {
    async run(c) {
      const t = text(c);
      const out = await call(c, { inputs: t.value, parameters: rest(c.inputs, t.key) });
      return { primary: out, full: { [key]: out } };
    },
  };
}

/** Tasks by name. Pipeline tags map here directly; see `TASK_ALIASES` for other names. */
export const TASKS: Record<string, TaskSpec> = {
  "chat-completion": chat(false),
  "image-text-to-text": chat(true),
  "text-generation": textTask(async (c, a) => (await c.client.textGeneration({ ...target(c), ...a }, c.options)).generated_text, "text"),
  summarization: textTask(async (c, a) => (await c.client.summarization({ ...target(c), ...a }, c.options)).summary_text, "text"),
  translation: textTask(async (c, a) => {
    const out = (await c.client.translation({ ...target(c), ...a }, c.options)) as { translation_text: string } | Array<{ translation_text: string }>;
    return Array.isArray(out) ? out.map((o) => o.translation_text).join("\n") : out.translation_text;
  }, "text"),
  "feature-extraction": {
    async run(c) {
      const t = text(c);
      const out = await c.client.featureExtraction({ ...target(c), inputs: t.value, ...rest(c.inputs, t.key) } as never, c.options);
      return { primary: out, full: { embedding: out } };
    },
  },
  "text-to-image": {
    async run(c) {
      const t = text(c);
      const blob = await c.client.textToImage({ ...target(c), inputs: t.value, parameters: rest(c.inputs, t.key) }, { ...c.options, outputType: "blob" });
      const path = await saveBlob(c, blob, "image");
      return { primary: path, full: { image: path } };
    },
  },
  "image-to-image": {
    async run(c) {
      const img = await fileBlob(c, IMAGE, "image");
      const parameters = rest(c.inputs, img.key);
      const blob = await c.client.imageToImage({ ...target(c), inputs: img.blob, ...(Object.keys(parameters).length ? { parameters } : {}) }, c.options);
      const path = await saveBlob(c, blob, "image");
      return { primary: path, full: { image: path } };
    },
  },
  "automatic-speech-recognition": {
    async run(c) {
      const a = await fileBlob(c, AUDIO, "audio");
      const parameters = rest(c.inputs, a.key);
      const out = await c.client.automaticSpeechRecognition({ ...target(c), inputs: a.blob, ...(Object.keys(parameters).length ? { parameters } : {}) } as never, c.options);
      return { primary: out.text, full: { text: out.text, chunks: (out as { chunks?: unknown }).chunks ?? null } };
    },
  },
  "text-to-speech": {
    async run(c) {
      const t = text(c);
      const parameters = rest(c.inputs, t.key);
      const blob = await c.client.textToSpeech({ ...target(c), inputs: t.value, ...(Object.keys(parameters).length ? { parameters } : {}) } as never, c.options);
      const path = await saveBlob(c, blob, "speech");
      return { primary: path, full: { audio: path } };
    },
  },
  "image-classification": {
    async run(c) {
      const img = await fileBlob(c, IMAGE, "image");
      const parameters = rest(c.inputs, img.key);
      const out = await c.client.imageClassification({ ...target(c), inputs: img.blob, ...(Object.keys(parameters).length ? { parameters } : {}) } as never, c.options);
      const sorted = [...out].sort((a, b) => b.score - a.score);
      // The value gr.Label shows: the top label and the confidences.
      const label = { label: sorted[0]?.label ?? "", confidences: sorted.map((x) => ({ label: x.label, confidence: x.score })) };
      return { primary: label, full: { label, scores: sorted } };
    },
  },
};

/** Other names users and the Hub use for the same tasks. */
export const TASK_ALIASES: Record<string, string> = {
  conversational: "chat-completion",
  chat: "chat-completion",
  "chat-completions": "chat-completion",
  "text2text-generation": "text-generation",
  asr: "automatic-speech-recognition",
  "speech-recognition": "automatic-speech-recognition",
  tts: "text-to-speech",
  summarisation: "summarization",
  embeddings: "feature-extraction",
  "sentence-similarity": "feature-extraction",
};

/** The canonical task name, or undefined when daggr has no call for it. */
export function canonicalTask(task: string): string | undefined {
  const t = task.trim().toLowerCase();
  if (TASKS[t]) return t;
  const alias = TASK_ALIASES[t];
  return alias && TASKS[alias] ? alias : undefined;
}

import {
  type TaskCall, type TaskResult, columns, dataUrl, fileBlob, isText, labelValue, list, missing, pick, portableParams, refuseStoredPath, rest, saveBlob, target, text,
} from "./inference-io.js";

import { downloadToStore } from "./hf-download.js";

export type { TaskCall, TaskResult } from "./inference-io.js";

/** Providers whose text-to-image answer is a media URL the client can hand back undownloaded. */
const URL_OUTPUT_PROVIDERS = new Set(["fal-ai", "replicate"]);

/**
 * How each task turns an InferenceNode's inputs into the client's arguments, and its
 * answer into a result. Every input reaches the call: the task's main inputs by name
 * (the aliases below, else the first input of the right kind), everything else as
 * generation parameters, with files made portable (bytes or `data:` URLs, never paths).
 */
export interface TaskSpec {
  run(c: TaskCall): Promise<TaskResult>;
}

const PROMPT = ["prompt", "inputs", "text", "input", "message", "question"];
const IMAGE = ["image", "inputs", "input", "img", "image_url"];
const AUDIO = ["audio", "inputs", "input"];

const one = (key: string, v: unknown): TaskResult => ({ primary: v, full: { [key]: v } });
const params = (c: TaskCall, ...used: Array<string | undefined>) => portableParams(c, rest(c.inputs, ...used));
const withParams = (p: Record<string, unknown>) => (Object.keys(p).length ? { parameters: p } : {});

// ---------------------------------------------------------------- chat and text generation

type ChatContent = string | Array<{ type: "text"; text: string } | { type: "image_url"; image_url: { url: string } }>;
type ChatMessage = { role: string; content: ChatContent };

/** The chat: `system`, then `messages`/`history`, then the prompt with any wired images. */
async function chatMessages(c: TaskCall): Promise<{ messages: ChatMessage[]; used: string[] }> {
  const used: string[] = ["system", "system_prompt"];
  const messages: ChatMessage[] = [];
  const system = c.inputs.system ?? c.inputs.system_prompt;
  if (typeof system === "string" && system) messages.push({ role: "system", content: system });
  for (const key of ["history", "messages"]) {
    const v = c.inputs[key];
    if (Array.isArray(v)) messages.push(...(v as ChatMessage[]));
    used.push(key);
  }
  const prompt = ["prompt", "message", "text", "inputs", "input", "question"].find((k) => typeof c.inputs[k] === "string");
  let images: string[] = [];
  for (const key of ["image", "images", "image_url"]) {
    const v = c.inputs[key];
    if (v === undefined || v === null || v === "") continue;
    used.push(key);
    for (const item of Array.isArray(v) ? v : [v]) {
      // An http(s) image the provider fetches itself; anything else travels as bytes.
      images.push(typeof item === "string" && /^https?:\/\//i.test(item) ? item : await dataUrl((await fileBlob({ ...c, inputs: { [key]: item } }, [key], "image")).blob));
    }
  }
  if (prompt) {
    used.push(prompt);
    const t = c.inputs[prompt] as string;
    refuseStoredPath(c, prompt, t);
    messages.push({ role: "user", content: images.length ? [{ type: "text", text: t }, ...images.map((url) => ({ type: "image_url" as const, image_url: { url } }))] : t });
    images = [];
  }
  if (images.length) messages.push({ role: "user", content: images.map((url) => ({ type: "image_url" as const, image_url: { url } })) });
  if (!messages.some((m) => m.role === "user")) throw missing(c, "`messages` or a `prompt`");
  return { messages, used };
}

/** Tokens stream unless the node sets `stream: false`; extra inputs (max_tokens, temperature…) go through. */
const chat: TaskSpec = {
  async run(c) {
    const { messages, used } = await chatMessages(c);
    const extra = await params(c, ...used);
    const stream = extra.stream !== false;
    delete extra.stream;
    const args = { ...target(c), messages, ...extra } as never;
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

/**
 * Text generation streams too. hf-inference takes TGI-style `parameters` (it renames
 * `max_new_tokens`); the OpenAI-compatible providers take them at the top level, as
 * `/v1/completions` does, so `max_new_tokens` becomes `max_tokens` there.
 */
const textGeneration: TaskSpec = {
  async run(c) {
    const t = text(c, PROMPT);
    const extra = await params(c, t.key);
    const stream = extra.stream !== false;
    delete extra.stream;
    let args: Record<string, unknown>;
    if (!c.provider || c.provider === "hf-inference") args = { ...target(c), inputs: t.value, ...withParams(extra) };
    else {
      const { max_new_tokens, ...others } = extra;
      args = { ...target(c), inputs: t.value, ...others, ...(max_new_tokens !== undefined && others.max_tokens === undefined ? { max_tokens: max_new_tokens } : {}) };
    }
    if (!stream) return one("text", (await c.client.textGeneration(args as never, c.options)).generated_text);
    let out = "";
    for await (const chunk of c.client.textGenerationStream(args as never, c.options)) {
      // TGI chunks carry `token.text`; OpenAI-style completions `choices[0].text` (or a chat delta).
      const ch = chunk as unknown as { token?: { text?: string; special?: boolean }; choices?: Array<{ text?: string; delta?: { content?: string } }> };
      const piece = ch.token ? (ch.token.special ? "" : ch.token.text) : (ch.choices?.[0]?.text ?? ch.choices?.[0]?.delta?.content);
      if (piece) {
        out += piece;
        c.emit(one("text", out));
      }
    }
    return one("text", out);
  },
};

/** A text in, `inputs` + `parameters` to the client, one value out. */
function textIn(call: (c: TaskCall, args: { inputs: string; parameters?: Record<string, unknown> }) => Promise<unknown>, shape: (out: never) => TaskResult): TaskSpec {
  return {
    async run(c) {
      const t = text(c, PROMPT);
      return shape((await call(c, { inputs: t.value, ...withParams(await params(c, t.key)) })) as never);
    },
  };
}

/** A text in, a file out (images, speech, audio, video). */
function textToFile(call: (c: TaskCall, args: Record<string, unknown>) => Promise<Blob>, key: string): TaskSpec {
  return {
    async run(c) {
      const t = text(c, PROMPT);
      const blob = await call(c, { ...target(c), inputs: t.value, ...withParams(await params(c, t.key)) });
      return one(key, await saveBlob(c, blob, key));
    },
  };
}

// ---------------------------------------------------------------- files in

/** A file in (image or audio) as a Blob, `parameters` from the other inputs. */
function fileIn<T>(names: readonly string[], kind: string, call: (c: TaskCall, args: Record<string, unknown>) => Promise<T>, shape: (out: T, c: TaskCall) => TaskResult | Promise<TaskResult>): TaskSpec {
  return {
    async run(c) {
      const f = await fileBlob(c, names, kind);
      const out = await call(c, { ...target(c), inputs: f.blob, ...withParams(await params(c, f.key)) });
      return shape(out, c);
    },
  };
}

/**
 * Image and prompt in, a file out (`image-text-to-image`, `image-text-to-video`): the image
 * is optional for these tasks; the prompt and every other input go in `parameters`, where
 * the providers read them.
 */
function imageTextToFile(call: (c: TaskCall, args: Record<string, unknown>) => Promise<Blob>, key: string): TaskSpec {
  return {
    async run(c) {
      const promptKey = ["prompt", "text", "message", "instruction", "inputs", "input"].find((k) => typeof c.inputs[k] === "string");
      const imageKey = IMAGE.find((k) => k !== promptKey && c.inputs[k] !== undefined && c.inputs[k] !== null && c.inputs[k] !== "");
      if (!promptKey) throw missing(c, "a `prompt`");
      refuseStoredPath(c, promptKey, c.inputs[promptKey] as string);
      const blob = imageKey ? (await fileBlob(c, [imageKey], "image")).blob : undefined;
      const p = await params(c, imageKey, promptKey);
      p.prompt = c.inputs[promptKey];
      const out = await call(c, { ...target(c), ...(blob ? { inputs: blob } : {}), parameters: p });
      return one(key, await saveBlob(c, out, key));
    },
  };
}

/** An image and a question (visual and document question answering). */
function imageQuestion(call: (c: TaskCall, args: Record<string, unknown>) => Promise<{ answer?: string; score?: number }>): TaskSpec {
  return {
    async run(c) {
      const img = await fileBlob(c, IMAGE, "image", ["question", "prompt", "text"]);
      const q = text(c, ["question", "prompt", "text"], "a `question`", [img.key]);
      const out = await call(c, { ...target(c), inputs: { image: img.blob, question: q.value }, ...withParams(await params(c, img.key, q.key)) });
      return { primary: out.answer ?? "", full: { answer: out.answer ?? "", score: out.score ?? null, ...out } };
    },
  };
}

const saved = (key: string) => async (blob: Blob, c: TaskCall) => one(key, await saveBlob(c, blob, key));
const labels = (out: Array<{ label: string; score: number }>) => {
  const label = labelValue(out);
  return { primary: label, full: { label, scores: [...out].sort((a, b) => b.score - a.score) } };
};

/** `candidate_labels` as a list, whichever way it was wired (list, lines, or comma-separated). */
async function zeroShotParams(c: TaskCall, used: string): Promise<Record<string, unknown>> {
  const p = await params(c, used);
  const key = ["candidate_labels", "labels", "choices"].find((k) => p[k] !== undefined);
  if (!key) throw missing(c, "`candidate_labels`");
  const labelList = list(p[key]);
  delete p[key];
  return { ...p, candidate_labels: labelList };
}

/**
 * Tasks by name: every task the installed `@huggingface/inference` can call on some
 * provider. Chat models (mapping task `conversational`) are `chat-completion`.
 */
export const TASKS: Record<string, TaskSpec> = {
  "chat-completion": chat,
  "text-generation": textGeneration,
  summarization: textIn((c, a) => c.client.summarization({ ...target(c), ...a }, c.options), (o: { summary_text: string }) => one("text", o.summary_text)),
  translation: textIn(
    (c, a) => c.client.translation({ ...target(c), ...a } as never, c.options),
    (o: { translation_text: string } | Array<{ translation_text: string }>) => one("text", Array.isArray(o) ? o.map((x) => x.translation_text).join("\n") : o.translation_text),
  ),
  "text-classification": textIn((c, a) => c.client.textClassification({ ...target(c), ...a }, c.options), labels),
  "token-classification": textIn((c, a) => c.client.tokenClassification({ ...target(c), ...a }, c.options), (o: unknown[]) => one("entities", o)),
  "fill-mask": textIn((c, a) => c.client.fillMask({ ...target(c), ...a }, c.options), (o: unknown[]) => one("candidates", o)),
  "zero-shot-classification": {
    async run(c) {
      const t = text(c, PROMPT);
      const out = await c.client.zeroShotClassification({ ...target(c), inputs: t.value, parameters: (await zeroShotParams(c, t.key)) as never }, c.options);
      return labels(out as Array<{ label: string; score: number }>);
    },
  },
  "feature-extraction": {
    async run(c) {
      const t = text(c, PROMPT);
      const out = await c.client.featureExtraction({ ...target(c), inputs: t.value, ...(await params(c, t.key)) } as never, c.options);
      return one("embedding", out);
    },
  },
  "sentence-similarity": {
    async run(c) {
      const src = text(c, ["source_sentence", "sentence", ...PROMPT], "a `source_sentence`", ["sentences"]);
      const sentences = list(c.inputs.sentences);
      if (!sentences) throw missing(c, "`sentences` (a list, or one per line)");
      const out = await c.client.sentenceSimilarity({ ...target(c), inputs: { source_sentence: src.value, sentences }, ...withParams(await params(c, src.key, "sentences")) }, c.options);
      return one("scores", out);
    },
  },
  "question-answering": {
    async run(c) {
      const q = text(c, ["question", "prompt", "query"], "a `question`", ["context"]);
      const context = text(c, ["context", "text"], "a `context`", [q.key]);
      const out = await c.client.questionAnswering({ ...target(c), inputs: { question: q.value, context: context.value }, ...withParams(await params(c, q.key, context.key)) }, c.options);
      return { primary: out.answer, full: { answer: out.answer, score: out.score, start: out.start, end: out.end } };
    },
  },
  "table-question-answering": {
    async run(c) {
      const q = text(c, ["question", "query", "prompt"], "a `question`");
      const tableKey = ["table", "data", "dataframe"].find((k) => columns(c.inputs[k]));
      if (!tableKey) throw missing(c, "a `table` (columns, or a gr.Dataframe value)");
      const out = await c.client.tableQuestionAnswering(
        { ...target(c), inputs: { question: q.value, table: columns(c.inputs[tableKey])! }, ...withParams(await params(c, q.key, tableKey)) },
        c.options,
      );
      return { primary: out.answer, full: { answer: out.answer, cells: out.cells, coordinates: out.coordinates, aggregator: out.aggregator ?? null } };
    },
  },
  "text-to-image": {
    async run(c) {
      const t = text(c, PROMPT);
      const args = { ...target(c), inputs: t.value, ...withParams(await params(c, t.key)) } as never;
      if (!URL_OUTPUT_PROVIDERS.has(c.provider ?? "")) return one("image", await saveBlob(c, await c.client.textToImage(args, { ...c.options, outputType: "blob" }), "image"));
      // These providers answer with a media URL: fetch it ourselves, through the guarded,
      // streamed download (https, public addresses, maxFileBytes), without the token.
      const url = await c.client.textToImage(args, { ...c.options, outputType: "url" });
      const meta = await downloadToStore(url, { files: c.ctx.files, maxBytes: c.maxBytes, label: c.label, signal: c.ctx.signal, onBytes: () => c.ctx.alive?.() });
      return one("image", meta.path);
    },
  },
  "text-to-video": textToFile((c, a) => c.client.textToVideo(a as never, c.options), "video"),
  "text-to-speech": textToFile((c, a) => c.client.textToSpeech(a as never, c.options), "audio"),
  "text-to-audio": textToFile((c, a) => c.client.textToAudio(a as never, c.options), "audio"),

  "image-classification": fileIn(IMAGE, "image", (c, a) => c.client.imageClassification(a as never, c.options), labels),
  "zero-shot-image-classification": {
    async run(c) {
      const img = await fileBlob(c, IMAGE, "image");
      const out = await c.client.zeroShotImageClassification({ ...target(c), inputs: img.blob, parameters: (await zeroShotParams(c, img.key)) as never }, c.options);
      return labels(out);
    },
  },
  "object-detection": fileIn(IMAGE, "image", (c, a) => c.client.objectDetection(a as never, c.options), (o) => one("objects", o)),
  "image-segmentation": fileIn(IMAGE, "image", (c, a) => c.client.imageSegmentation(a as never, c.options), async (out, c) => {
    // Masks come back as base64 PNGs: store them, so they show and flow as files.
    const segments = [];
    for (const s of out) {
      segments.push({ label: s.label, score: s.score ?? null, mask: await saveBlob(c, new Blob([Buffer.from(s.mask, "base64")], { type: "image/png" }), `mask-${s.label}`) });
    }
    return one("segments", segments);
  }),
  "image-to-text": fileIn(IMAGE, "image", (c, a) => c.client.imageToText(a as never, c.options), (o) => one("text", o.generated_text)),
  "image-to-image": fileIn(IMAGE, "image", (c, a) => c.client.imageToImage(a as never, c.options), saved("image")),
  "image-to-video": fileIn(IMAGE, "image", (c, a) => c.client.imageToVideo(a as never, c.options), saved("video")),
  "image-text-to-image": imageTextToFile((c, a) => c.client.imageTextToImage(a as never, c.options), "image"),
  "image-text-to-video": imageTextToFile((c, a) => c.client.imageTextToVideo(a as never, c.options), "video"),
  "visual-question-answering": imageQuestion((c, a) => c.client.visualQuestionAnswering(a as never, c.options)),
  "document-question-answering": imageQuestion((c, a) => c.client.documentQuestionAnswering(a as never, c.options)),

  "automatic-speech-recognition": fileIn(AUDIO, "audio", (c, a) => c.client.automaticSpeechRecognition(a as never, c.options), (o) => ({
    primary: o.text,
    full: { text: o.text, chunks: (o as { chunks?: unknown }).chunks ?? null },
  })),
  "audio-classification": fileIn(AUDIO, "audio", (c, a) => c.client.audioClassification(a as never, c.options), labels),
  "audio-to-audio": fileIn(AUDIO, "audio", (c, a) => c.client.audioToAudio(a as never, c.options), async (out, c) => {
    const audios = [];
    for (const o of out) {
      const type = (o as unknown as Record<string, string>)["content-type"] ?? "audio/wav";
      audios.push({ label: o.label, audio: await saveBlob(c, new Blob([Buffer.from(o.blob, "base64")], { type }), o.label || "audio") });
    }
    return { primary: audios[0]?.audio ?? null, full: { audio: audios[0]?.audio ?? null, audios } };
  }),

  "tabular-classification": tabular((c, a) => c.client.tabularClassification(a as never, c.options)),
  "tabular-regression": tabular((c, a) => c.client.tabularRegression(a as never, c.options)),
};

function tabular(call: (c: TaskCall, args: Record<string, unknown>) => Promise<number[]>): TaskSpec {
  return {
    async run(c) {
      const key = ["data", "table", "inputs", "dataframe"].find((k) => columns(c.inputs[k]));
      if (!key) throw missing(c, "`data` (columns, or a gr.Dataframe value)");
      return one("predictions", await call(c, { ...target(c), inputs: { data: columns(c.inputs[key]) }, ...withParams(await params(c, key)) }));
    },
  };
}

/** Other names users, pipeline tags and provider mappings use for the same tasks. */
export const TASK_ALIASES: Record<string, string> = {
  conversational: "chat-completion",
  chat: "chat-completion",
  "chat-completions": "chat-completion",
  "image-text-to-text": "chat-completion",
  "text2text-generation": "text-generation",
  asr: "automatic-speech-recognition",
  "speech-recognition": "automatic-speech-recognition",
  tts: "text-to-speech",
  summarisation: "summarization",
  embeddings: "feature-extraction",
  "sentiment-analysis": "text-classification",
  ner: "token-classification",
  vqa: "visual-question-answering",
};

/** The canonical task name, or undefined when daggr has no call for it. */
export function canonicalTask(task: string): string | undefined {
  const t = task.trim().toLowerCase();
  if (TASKS[t]) return t;
  const alias = TASK_ALIASES[t];
  return alias && TASKS[alias] ? alias : undefined;
}

/**
 * How a `gr.*` component looks in a Gradio app's API: its config `type` and `props.name`
 * (the lower-cased class name), the `component` name `/info` shows
 * (`props.name.capitalize()`: "Model3d", "Json"), and the JSON schema of its value
 * (`api_info`, pydantic's schema of the component's data model), from which
 * `python_type` is derived as gradio's `json_schema_to_python_type` does.
 * Sources: gradio 6.25 `components/*.py` (`api_info`), `data_classes.py` (FileData,
 * ImageData), `client/python/gradio_client/utils.py` (python types).
 */
import type { Component } from "../../graph/index.js";

export type Schema = Record<string, unknown>;

const nullable = (s: Schema, extra: Schema = {}): Schema => ({ anyOf: [s, { type: "null" }], default: null, ...extra });

const FileDataMeta: Schema = {
  properties: { _type: { const: "gradio.FileData", title: "Type", type: "string" } },
  required: ["_type"],
  title: "FileDataMeta",
  type: "object",
};

const fileProps = (pathSchema: Schema, meta: Schema): Schema => ({
  path: pathSchema,
  url: nullable({ type: "string" }, { title: "Url" }),
  size: nullable({ type: "integer" }, { title: "Size" }),
  orig_name: nullable({ type: "string" }, { title: "Orig Name" }),
  mime_type: nullable({ type: "string" }, { title: "Mime Type" }),
  is_stream: { default: false, title: "Is Stream", type: "boolean" },
  meta,
});

const FileData: Schema = {
  properties: fileProps({ title: "Path", type: "string" }, { $ref: "#/$defs/FileDataMeta" }),
  required: ["path"],
  title: "FileData",
  type: "object",
};

const ImageData: Schema = {
  properties: fileProps(nullable({ type: "string" }, { title: "Path" }), { additionalProperties: true, default: { _type: "gradio.FileData" }, title: "Meta", type: "object" }),
  title: "ImageData",
  type: "object",
};

const ref = (name: string): Schema => ({ $ref: `#/$defs/${name}` });

/** The lower-cased class name: config `type` and `props.name`. A hidden port (no component) is a `gr.JSON`. */
export function gradioType(c: Component | null | undefined): string {
  return (c?.type ?? "JSON").toLowerCase();
}

/** The `component` field of `/info`: `props.name.capitalize()`. */
export function infoComponent(c: Component | null | undefined): string {
  const t = gradioType(c);
  return t.charAt(0).toUpperCase() + t.slice(1);
}

/** A choice's value (`[label, value]` pairs give their value). */
function choiceValues(c: Component): unknown[] {
  const choices = (c.props.choices as unknown[] | undefined) ?? [];
  return choices.map((x) => (Array.isArray(x) ? x[1] : x));
}

/** The component's `api_info`: the JSON schema of its value. */
export function componentSchema(c: Component | null | undefined): Schema {
  const top = (s: Schema, defs?: Record<string, Schema>, description: string | null = null): Schema => ({
    ...(defs ? { $defs: defs } : {}),
    ...s,
    additional_description: description,
  });
  switch (c?.type) {
    case undefined:
    case "JSON":
      return { type: {}, description: "any valid json" };
    case "Number":
      return c.props.precision === 0 ? { type: "integer" } : { type: "number" };
    case "Slider":
      return { type: "number", description: `numeric value between ${c.props.minimum ?? 0} and ${c.props.maximum ?? 100}` };
    case "Checkbox":
      return { type: "boolean" };
    case "Radio":
      return { enum: choiceValues(c), title: "Radio", type: "string" };
    case "Dropdown":
      return c.props.multiselect ? { type: "array", items: { type: "string", enum: choiceValues(c) } } : { type: "string", enum: choiceValues(c) };
    case "CheckboxGroup":
      return { items: { enum: choiceValues(c), type: "string" }, title: "Checkbox Group", type: "array" };
    case "Image":
      return top(ImageData, undefined, "A local filepath or publicly available URL.");
    case "Audio":
    case "Video":
    case "File":
    case "Model3D":
      return top(FileData, { FileDataMeta });
    case "Gallery":
      return top(
        { items: { anyOf: [ref("GalleryImage"), ref("GalleryVideo")] }, title: "GalleryData", type: "array" },
        {
          FileData,
          FileDataMeta,
          GalleryImage: { properties: { image: ref("ImageData"), caption: nullable({ type: "string" }, { title: "Caption" }) }, required: ["image"], title: "GalleryImage", type: "object" },
          GalleryVideo: { properties: { video: ref("FileData"), caption: nullable({ type: "string" }, { title: "Caption" }) }, required: ["video"], title: "GalleryVideo", type: "object" },
          ImageData,
        },
      );
    case "Dataframe":
      return top({
        properties: {
          headers: { items: { type: "string" }, title: "Headers", type: "array" },
          data: { items: { items: {}, type: "array" }, title: "Data", type: "array" },
          metadata: nullable({ additionalProperties: { anyOf: [{ items: {}, type: "array" }, { type: "null" }] }, type: "object" }, { title: "Metadata" }),
        },
        required: ["headers", "data"],
        title: "DataframeData",
        type: "object",
      });
    case "Label":
      return top(
        {
          properties: {
            label: nullable({ anyOf: [{ type: "string" }, { type: "integer" }, { type: "number" }] }, { title: "Label" }),
            confidences: nullable({ items: ref("LabelConfidence"), type: "array" }, { title: "Confidences" }),
          },
          title: "LabelData",
          type: "object",
        },
        {
          LabelConfidence: {
            properties: {
              label: nullable({ anyOf: [{ type: "string" }, { type: "integer" }, { type: "number" }] }, { title: "Label" }),
              confidence: nullable({ type: "number" }, { title: "Confidence" }),
            },
            title: "LabelConfidence",
            type: "object",
          },
        },
      );
    case "HighlightedText":
      return top(
        { items: ref("HighlightedToken"), title: "HighlightedTextData", type: "array" },
        {
          HighlightedToken: {
            properties: { token: { title: "Token", type: "string" }, class_or_confidence: nullable({ anyOf: [{ type: "string" }, { type: "number" }] }, { title: "Class Or Confidence" }) },
            required: ["token"],
            title: "HighlightedToken",
            type: "object",
          },
        },
      );
    case "Chatbot":
      return top({
        items: {
          properties: { role: { title: "Role", type: "string" }, content: { title: "Content", type: "string" } },
          required: ["role", "content"],
          title: "Message",
          type: "object",
        },
        title: "ChatbotDataMessages",
        type: "array",
      });
    default:
      return { type: "string" };
  }
}

/** gradio's `json_schema_to_python_type` (bounded: our schemas nest a few levels). */
export function pythonType(schema: Schema): string {
  return pyType(schema, (schema.$defs as Record<string, Schema>) ?? {}, 0);
}

function isFileSchema(s: Schema, defs: Record<string, Schema>): boolean {
  const props = s.properties as Record<string, Schema> | undefined;
  if (!props?.path || !props.meta) return false;
  const meta = resolve(props.meta, defs);
  const metaProps = meta.properties as Record<string, Schema> | undefined;
  if (metaProps?._type) return metaProps._type.const === "gradio.FileData";
  return (meta.default as { _type?: string } | undefined)?._type === "gradio.FileData";
}

function resolve(s: Schema, defs: Record<string, Schema>): Schema {
  return typeof s.$ref === "string" ? (defs[s.$ref.split("/").at(-1)!] ?? {}) : s;
}

function pyType(s: Schema, defs: Record<string, Schema>, depth: number): string {
  if (depth > 16 || Object.keys(s).length === 0) return "Any";
  const next = (x: Schema) => pyType(x, defs, depth + 1);
  if ("const" in s) return `Literal[${s.const}]`;
  if ("enum" in s) return `Literal[${(s.enum as unknown[]).map((v) => `'${v}'`).join(", ")}]`;
  if (s.$ref) return next(resolve(s, defs));
  const options = (s.anyOf ?? s.oneOf) as Schema[] | undefined;
  if (!("type" in s) && options) return options.map(next).join(" | ");
  switch (s.type) {
    case "null":
      return "None";
    case "integer":
      return "int";
    case "string":
      return "str";
    case "boolean":
      return "bool";
    case "number":
      return "float";
    case "array":
      return `list[${next((s.items ?? {}) as Schema)}]`;
    case "object": {
      if (isFileSchema(s, defs)) return "filepath";
      const props = Object.entries((s.properties ?? {}) as Record<string, Schema>).map(([n, v]) => `${n}: ${next(v)}${v.description ? ` (${v.description})` : ""}`);
      if ("additionalProperties" in s) props.push(s.additionalProperties === true ? "str, Any" : `str, ${next(s.additionalProperties as Schema)}`);
      return `dict(${props.join(", ")})`;
    }
    default:
      return "Any";
  }
}

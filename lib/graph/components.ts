/**
 * `gr.*` component descriptors. They mirror Gradio's component names and prop names, and
 * are plain serialisable objects: the graph holds them, the wire protocol sends them to the
 * canvas, and the canvas picks a view by `type`.
 *
 * @example
 * const prompt = gr.Textbox({ label: "Prompt", lines: 3, value: "A cheetah" });
 */

import { DaggrError, ErrorCode, unknownName } from "./errors.js";

/** Props shared by every component (Gradio's names). */
export interface BaseProps<T = unknown> {
  label?: string;
  value?: T;
  info?: string;
  visible?: boolean;
  placeholder?: string;
  interactive?: boolean;
  show_label?: boolean;
  elem_id?: string;
  [prop: string]: unknown;
}

export interface Component<T = unknown> {
  readonly $kind: "component";
  readonly type: ComponentType;
  readonly props: BaseProps<T>;
  /** Phantom field carrying the value type for inference; never set. */
  readonly __value?: T;
}

export const COMPONENT_TYPES = [
  "Textbox", "Number", "Slider", "Checkbox", "Dropdown", "Radio", "CheckboxGroup", "ColorPicker",
  "Image", "Audio", "Video", "File", "Gallery", "JSON", "Markdown", "HTML", "Code", "Dataframe",
  "Label", "HighlightedText", "Model3D", "Chatbot", "LinePlot", "ScatterPlot", "BarPlot", "Plot",
] as const;
export type ComponentType = (typeof COMPONENT_TYPES)[number];

/** Components whose values are files (local path strings on the server side). */
export const FILE_COMPONENTS: ReadonlySet<ComponentType> = new Set(["Image", "Audio", "Video", "File", "Model3D", "Gallery"]);

export function isComponent(x: unknown): x is Component {
  return typeof x === "object" && x !== null && (x as Component).$kind === "component";
}

export function isFileComponent(c: Component | null | undefined): boolean {
  return !!c && FILE_COMPONENTS.has(c.type);
}

type Choice = string | number | readonly [string, string | number];

export interface TextboxProps extends BaseProps<string> { lines?: number; max_lines?: number; type?: "text" | "password" | "email" }
export interface NumberProps extends BaseProps<number> { minimum?: number; maximum?: number; step?: number; precision?: number }
export interface SliderProps extends BaseProps<number> { minimum?: number; maximum?: number; step?: number }
export interface ChoiceProps<T> extends BaseProps<T> { choices?: readonly Choice[]; multiselect?: boolean; allow_custom_value?: boolean }
export interface CodeProps extends BaseProps<string> { language?: string; lines?: number }
export interface DataframeValue { headers: string[]; data: unknown[][] }
export interface DataframeProps extends BaseProps<DataframeValue> { headers?: string[]; col_count?: number; row_count?: number }
/**
 * What a `LinePlot`, `ScatterPlot` or `BarPlot` draws: rows, as Gradio's DataFrame-like
 * value. Any of: an array of row objects (`[{ x: 1, y: 2 }]`), a `Dataframe` value
 * (`{ headers, data }`), or the value a Gradio app sends for a native plot
 * (`{ columns, data, datatypes }`).
 */
export type PlotRows = Array<Record<string, unknown>> | DataframeValue | { columns: string[]; data: unknown[][]; datatypes?: Record<string, "quantitative" | "nominal" | "temporal">; mark?: string };
/** Gradio's native-plot props (`gr.LinePlot`, `gr.ScatterPlot`, `gr.BarPlot`). */
export interface NativePlotProps extends BaseProps<PlotRows> {
  /** The column on the x axis (numbers, dates or categories). */
  x?: string;
  /** The column on the y axis (numbers). */
  y?: string;
  /** A column whose values split the rows into coloured series. */
  color?: string;
  title?: string;
  x_title?: string;
  y_title?: string;
  color_title?: string;
  /** Bin width for a numeric x, or a duration such as "1h", "15m", "10s" for dates. */
  x_bin?: string | number;
  y_aggregate?: "sum" | "mean" | "median" | "min" | "max" | "count";
  color_map?: Record<string, string>;
  colors_in_legend?: string[];
  x_lim?: Array<number | null>;
  y_lim?: Array<number | null>;
  x_label_angle?: number;
  y_label_angle?: number;
  x_axis_format?: string;
  y_axis_format?: string;
  x_axis_labels_visible?: boolean | "hidden";
  caption?: string;
  sort?: "x" | "y" | "-x" | "-y" | string[] | null;
  tooltip?: "axis" | "none" | "all" | string[];
  height?: number;
}
/**
 * What `gr.Plot` draws: a figure. Either daggr's own, an Observable Plot description in
 * plain data (`{ marks: [{ mark: "barY", data: rows, x: "a", y: "b" }], x: { label: "…" } }`;
 * mark names are Observable Plot's), or what a Gradio app sends for its `gr.Plot`
 * (`{ type: "matplotlib", plot: "data:image/png;base64,…" }` shows as an image).
 */
export type PlotFigure =
  | { marks: Array<{ mark: string; data?: unknown[]; [option: string]: unknown }>; [option: string]: unknown }
  | { type: "matplotlib" | "plotly" | "altair" | "bokeh"; plot: string };
export interface FileProps<T = string> extends BaseProps<T> { type?: string; file_types?: string[]; sources?: string[] }

/** Props every Gradio component takes (daggr shows some; the rest are accepted for copied code). */
const COMMON_PROPS = [
  "value", "label", "info", "visible", "placeholder", "interactive", "show_label", "elem_id", "elem_classes",
  "container", "scale", "min_width", "render", "key", "every", "inputs", "height", "max_height", "min_height",
] as const;
/** Gradio's `NativePlot` props (gradio/components/native_plot.py), shared by its three plots. */
const NATIVE_PLOT_PROPS = [
  "x", "y", "color", "title", "x_title", "y_title", "color_title", "x_bin", "y_aggregate", "color_map", "colors_in_legend",
  "x_lim", "y_lim", "x_label_angle", "y_label_angle", "x_axis_format", "y_axis_format", "x_axis_labels_visible", "caption",
  "sort", "tooltip", "buttons", "preserved_by_key",
];
const FILE_PROPS = ["type", "file_types", "file_count", "sources", "format", "show_download_button", "show_share_button", "show_fullscreen_button"];

/** Each component's own props, by Gradio's names. */
const PROPS: Record<ComponentType, readonly string[]> = {
  Textbox: ["lines", "max_lines", "type", "autofocus", "autoscroll", "text_align", "rtl", "show_copy_button", "max_length", "submit_btn", "stop_btn"],
  Number: ["minimum", "maximum", "step", "precision"],
  Slider: ["minimum", "maximum", "step", "show_reset_button", "randomize"],
  Checkbox: [],
  Dropdown: ["choices", "multiselect", "allow_custom_value", "max_choices", "filterable", "type"],
  Radio: ["choices", "type", "rtl"],
  CheckboxGroup: ["choices", "type"],
  ColorPicker: [],
  Image: [...FILE_PROPS, "width", "image_mode", "webcam_options", "streaming", "mirror_webcam"],
  Audio: [...FILE_PROPS, "streaming", "autoplay", "waveform_options", "editable", "min_length", "max_length", "loop", "recording"],
  Video: [...FILE_PROPS, "width", "autoplay", "include_audio", "loop", "streaming", "mirror_webcam"],
  File: [...FILE_PROPS, "allow_reordering"],
  Gallery: [...FILE_PROPS, "columns", "rows", "object_fit", "allow_preview", "preview", "selected_index"],
  JSON: ["open", "show_indices"],
  Markdown: ["rtl", "sanitize_html", "line_breaks", "header_links", "show_copy_button", "latex_delimiters"],
  HTML: ["padding"],
  Code: ["language", "lines", "max_lines", "wrap_lines", "show_line_numbers"],
  Dataframe: ["headers", "col_count", "row_count", "datatype", "type", "wrap", "column_widths", "show_search", "pinned_columns", "show_row_numbers", "line_breaks"],
  Label: ["num_top_classes", "color", "show_heading"],
  HighlightedText: ["color_map", "show_legend", "combine_adjacent", "adjacent_separator", "show_inline_category"],
  Model3D: [...FILE_PROPS, "clear_color", "camera_position", "zoom_speed", "pan_speed", "display_mode"],
  Chatbot: ["type", "avatar_images", "render_markdown", "show_copy_button", "layout", "examples", "sanitize_html", "latex_delimiters", "autoscroll"],
  LinePlot: NATIVE_PLOT_PROPS,
  ScatterPlot: NATIVE_PLOT_PROPS,
  BarPlot: NATIVE_PLOT_PROPS,
  Plot: ["format", "buttons"],
};

function make<T, P extends BaseProps<T>>(type: ComponentType) {
  const known = [...COMMON_PROPS, ...PROPS[type]];
  return (props: P = {} as P): Component<T> => {
    if (typeof props !== "object" || props === null || Array.isArray(props)) {
      throw new DaggrError(ErrorCode.BAD_OPTION, `gr.${type}() takes an object of props, e.g. gr.${type}({ label: "…" }); got ${Array.isArray(props) ? "an array" : typeof props}.`);
    }
    for (const key of Object.keys(props)) if (!known.includes(key)) throw unknownName(ErrorCode.UNKNOWN_OPTION, `prop {} of gr.${type}`, key, known);
    return Object.freeze({ $kind: "component", type, props: Object.freeze({ ...props }) }) as Component<T>;
  };
}

export type ChatMessage = { role: "user" | "assistant" | "system"; content: string };
export type LabelValue = { label: string; confidences?: { label: string; confidence: number }[] } | string;
export type HighlightedTextValue = Array<[string, string | number | null]> | { text: string; entities: unknown[] };

/** Gradio-style component descriptors. */
export const gr = {
  Textbox: make<string, TextboxProps>("Textbox"),
  Number: make<number, NumberProps>("Number"),
  Slider: make<number, SliderProps>("Slider"),
  Checkbox: make<boolean, BaseProps<boolean>>("Checkbox"),
  Dropdown: make<any, ChoiceProps<any>>("Dropdown"),
  Radio: make<string | number, ChoiceProps<string | number>>("Radio"),
  CheckboxGroup: make<Array<string | number>, ChoiceProps<Array<string | number>>>("CheckboxGroup"),
  ColorPicker: make<string, BaseProps<string>>("ColorPicker"),
  Image: make<string, FileProps>("Image"),
  Audio: make<string, FileProps>("Audio"),
  Video: make<string, FileProps>("Video"),
  File: make<string, FileProps>("File"),
  Gallery: make<string[], FileProps<string[]> & { columns?: number }>("Gallery"),
  JSON: make<unknown, BaseProps<unknown>>("JSON"),
  Markdown: make<string, BaseProps<string>>("Markdown"),
  HTML: make<string, BaseProps<string>>("HTML"),
  Code: make<string, CodeProps>("Code"),
  Dataframe: make<DataframeValue, DataframeProps>("Dataframe"),
  Label: make<LabelValue, BaseProps<LabelValue> & { num_top_classes?: number }>("Label"),
  HighlightedText: make<HighlightedTextValue, BaseProps<HighlightedTextValue>>("HighlightedText"),
  Model3D: make<string, FileProps>("Model3D"),
  Chatbot: make<ChatMessage[], BaseProps<ChatMessage[]>>("Chatbot"),
  /** A line chart of rows: `gr.LinePlot({ x: "step", y: "loss", color: "run" })`. */
  LinePlot: make<PlotRows, NativePlotProps>("LinePlot"),
  /** A scatter chart of rows: `gr.ScatterPlot({ x: "height", y: "weight", color: "species" })`. */
  ScatterPlot: make<PlotRows, NativePlotProps>("ScatterPlot"),
  /** A bar chart of rows: `gr.BarPlot({ x: "bin", y: "count" })`; a category x sums its rows (`y_aggregate`). */
  BarPlot: make<PlotRows, NativePlotProps>("BarPlot"),
  /** A figure: an Observable Plot description in plain data, or a Gradio app's `gr.Plot` value. */
  Plot: make<PlotFigure, BaseProps<PlotFigure>>("Plot"),
} as const;

/** The value a component starts with: its `value` prop, else an empty value of its type. */
export function initialValue(c: Component): unknown {
  if (c.props.value !== undefined) return c.props.value;
  switch (c.type) {
    case "Textbox": case "Code": case "Markdown": case "HTML": case "ColorPicker":
      return c.type === "ColorPicker" ? "#000000" : "";
    case "Number": return 0;
    case "Slider": return typeof c.props.minimum === "number" ? c.props.minimum : 0;
    case "Checkbox": return false;
    case "CheckboxGroup": case "Gallery": case "Chatbot": return [];
    case "Dropdown": case "Radio": {
      const first = (c.props.choices as Choice[] | undefined)?.[0];
      if (first === undefined) return null;
      return Array.isArray(first) ? first[1] : first;
    }
    case "Dataframe": return { headers: (c.props.headers as string[]) ?? [], data: [] };
    default: return null;
  }
}

/**
 * A plausible value for trying a node without typing anything (`node.test()`): the
 * component's own value if set, else a small example of its type. File components have
 * no built-in example (there is no file to point at); the caller provides one.
 */
export function exampleValue(c: Component): unknown {
  if (c.props.value !== undefined && c.props.value !== null) return c.props.value;
  switch (c.type) {
    case "Textbox": return "Hello!!";
    case "Code": return "print('hello')";
    case "Markdown": return "# Hello";
    case "HTML": return "<p>Hello</p>";
    case "Number": return 3;
    case "Slider": {
      const lo = typeof c.props.minimum === "number" ? c.props.minimum : 0;
      const hi = typeof c.props.maximum === "number" ? c.props.maximum : 100;
      return (lo + hi) / 2;
    }
    case "Checkbox": return true;
    case "ColorPicker": return "#ff7f0e";
    case "JSON": return { hello: "world" };
    case "Chatbot": return [{ role: "user", content: "Hello!!" }];
    case "Dataframe": return { headers: ["a", "b"], data: [[1, 2]] };
    case "Label": return "hello";
    default: return initialValue(c);
  }
}

import { html, nothing, type TemplateResult } from "lit";
import type { ComponentWire } from "../wire.js";
import { codeInput, dataframeInput, jsonInput } from "./code-inputs.js";
import {
  checkboxGroupInput, checkboxInput, colorInput, dropdownInput, numberInput, radioInput, sliderInput, textboxInput,
} from "./form-inputs.js";
import "./json-view.js";
import { audioInput, fileInput, imageInput, model3dInput, videoInput } from "./media-inputs.js";
import { audioOutput, fileOutput, galleryOutput, imageOutput, model3dOutput, videoOutput } from "./media-outputs.js";
import { plotOutput } from "./plot-view.js";
import "./sanitize.js";
import {
  chatbotOutput, codeOutput, dataframeOutput, highlightedOutput, htmlOutput, jsonOutput, labelOutput, markdownOutput, textOutput,
} from "./text-outputs.js";
import type { InputArgs, InputView, OutputView, ViewContext } from "./types.js";

export type { InputArgs, ViewContext } from "./types.js";
export { componentStyles } from "./styles.js";

/** Editable views by `gr` component type. */
const INPUTS: Record<string, InputView> = {
  Textbox: textboxInput,
  Number: numberInput,
  Slider: sliderInput,
  Checkbox: checkboxInput,
  Dropdown: dropdownInput,
  Radio: radioInput,
  CheckboxGroup: checkboxGroupInput,
  ColorPicker: colorInput,
  Image: imageInput,
  Audio: audioInput,
  Video: videoInput,
  File: fileInput,
  Model3D: model3dInput,
  JSON: jsonInput,
  Code: codeInput,
  Dataframe: dataframeInput,
};

/** Read-only views by `gr` component type. */
const OUTPUTS: Record<string, OutputView> = {
  Textbox: textOutput,
  Number: textOutput,
  Slider: textOutput,
  Checkbox: textOutput,
  Dropdown: textOutput,
  Radio: textOutput,
  CheckboxGroup: textOutput,
  ColorPicker: textOutput,
  Image: imageOutput,
  Audio: audioOutput,
  Video: videoOutput,
  File: fileOutput,
  Gallery: galleryOutput,
  Model3D: model3dOutput,
  JSON: jsonOutput,
  Markdown: markdownOutput,
  HTML: htmlOutput,
  Code: codeOutput,
  Label: labelOutput,
  HighlightedText: highlightedOutput,
  Chatbot: chatbotOutput,
  Dataframe: dataframeOutput,
  LinePlot: plotOutput,
  ScatterPlot: plotOutput,
  BarPlot: plotOutput,
  Plot: plotOutput,
};

const label = (c: ComponentWire, fallback: string) => {
  if (c.props.show_label === false) return nothing;
  const text = typeof c.props.label === "string" && c.props.label ? c.props.label : fallback;
  const info = typeof c.props.info === "string" ? c.props.info : "";
  return html`<div class="comp-label">${text}${info ? html`<span class="info">${info}</span>` : nothing}</div>`;
};

/**
 * An editable component with its label (the component's, else `name`: the port, or what
 * the card calls it, e.g. a choice variant's own port name); types with no editor show
 * their value read-only.
 */
export function renderInput(port: string, a: InputArgs, name = port): TemplateResult {
  const c = a.component;
  if (c.props.visible === false) return html``;
  const view = INPUTS[c.type];
  const body = view ? view(a) : renderValue(c, a.value, a.ctx);
  return html`<div class="comp in" data-port=${port} data-type=${c.type}>${c.type === "Checkbox" ? nothing : label(c, name)}${body}</div>`;
}

/** An output with its label; an unknown component type shows its value as JSON. */
export function renderOutput(port: string, c: ComponentWire, value: unknown, ctx: ViewContext): TemplateResult {
  if (c.props.visible === false) return html``;
  return html`<div class="comp out" data-port=${port} data-type=${c.type}>${label(c, port)}${renderValue(c, value, ctx)}</div>`;
}

function renderValue(c: ComponentWire, value: unknown, ctx: ViewContext): TemplateResult {
  const view = OUTPUTS[c.type] ?? jsonOutput;
  return view(c, value, ctx);
}

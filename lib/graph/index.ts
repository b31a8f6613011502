import type { Graph } from "./graph.js";
import type { Node } from "./node.js";
import { type RuntimeOf, getRuntime as installedRuntime, setRuntime as installRuntime } from "./runtime.js";

export { gr, isComponent, isFileComponent, exampleValue, initialValue, COMPONENT_TYPES, FILE_COMPONENTS } from "./components.js";
export type { Component, ComponentType, BaseProps, DataframeValue, ChatMessage, PlotRows, PlotFigure, NativePlotProps } from "./components.js";
export { DaggrError, ErrorCode, nearestChoice, unknownName } from "./errors.js";
export type { DaggrErrorDetails } from "./errors.js";
export { slug, inputId } from "./ids.js";
export { OutPort, InPort, ScatterRef, GatherRef, FirstOfRef, firstOf, isOutPort, isInPort } from "./ports.js";
export { Node, NodeKind } from "./node.js";
export type { Guard, InputSpec, NodeOptions, NodeDescription, InputValues, InputSources, OutputSpecs } from "./node.js";
export { FnNode } from "./fn-node.js";
export { ChoiceNode, choose, VARIANT_PORT } from "./choice-node.js";
export { branch } from "./branch.js";
export type { FnContext } from "./fn-node.js";
export { InputNode } from "./input-node.js";
export { GradioNode, InferenceNode } from "./remote-nodes.js";
export type { GradioNodeOptions, InferenceNodeOptions, RemoteOptions } from "./remote-nodes.js";
export { Graph } from "./graph.js";
export type { GraphOptions, Edge, Subgraph } from "./graph.js";
export type { SessionOptions, CallOptions, LaunchOptions } from "./runtime.js";

/** What `Graph` and `Node` delegate to; installed by the package root. */
export interface Runtime extends RuntimeOf<Graph, Node> {}
/** Installs the runtime `graph.session()`, `graph.call()`, `node.test()` and `graph.launch()` delegate to. */
export const setRuntime: (r: Runtime) => void = installRuntime;
/** The installed runtime; a `NO_RUNTIME` error when none is (an internal module imported instead of the package root). */
export const getRuntime: () => Runtime = installedRuntime;

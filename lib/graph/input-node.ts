import { type Component, isComponent } from "./components.js";
import { DaggrError, ErrorCode, checkOptions } from "./errors.js";
import { Node, NodeKind, type NodeOptions } from "./node.js";

export interface InputNodeOptions<P extends Record<string, Component>> {
  /** Display name (default "Inputs"). */
  name?: string;
  /** The components this node groups; each is an editable value and an output port. */
  ports: P;
  autorun?: boolean;
}

/**
 * Groups editable components into one card. Each port is both an editable input
 * (`node.in.x`) and a wireable output (`node.out.x`) carrying the value the sheet holds.
 *
 * @example
 * const settings = new InputNode({ name: "Settings", ports: { prompt: gr.Textbox(), steps: gr.Slider({ minimum: 1, maximum: 50 }) } });
 * const gen = new FnNode(f, { inputs: { prompt: settings.out.prompt } });
 */
export class InputNode<P extends Record<string, Component> = Record<string, Component>> extends Node<P, P> {
  get kind(): typeof NodeKind.INPUT {
    return NodeKind.INPUT;
  }

  constructor(options: InputNodeOptions<P>) {
    checkOptions("InputNode", options, ["name", "ports", "autorun"]);
    if (!options.ports || typeof options.ports !== "object") {
      throw new DaggrError(ErrorCode.BAD_OPTION, "InputNode needs `ports`: an object of gr components, e.g. { prompt: gr.Textbox() }.");
    }
    for (const [port, c] of Object.entries(options.ports)) {
      if (!isComponent(c)) {
        throw new DaggrError(ErrorCode.BAD_OPTION, `InputNode port '${port}' must be a gr component, got ${typeof c}.`);
      }
    }
    super("Inputs", { name: options.name, autorun: options.autorun, outputs: options.ports } as NodeOptions<P, P>);
  }

  override editablePorts(): string[] {
    return Object.keys(this.outputs);
  }

  override editableComponent(port: string): Component | undefined {
    return this.outputs[port] ?? undefined;
  }
}

import { gr } from "./components.js";
import { DaggrError, ErrorCode } from "./errors.js";
import { Node, NodeKind, type InputSpec, type NodeOptions, setChoose } from "./node.js";
import { sharedPorts } from "./node-memos.js";

/** The editable port holding a choice node's selected variant id. */
export const VARIANT_PORT = "variant";

/**
 * A node with interchangeable variants: same outputs, possibly different inputs (say,
 * two image models). The selected variant is an editable input of the sheet, so it is
 * persisted per sheet, enters the recipe key (switching makes downstream stale) and is
 * recorded in every result's provenance. Every variant's own inputs stay editable, as
 * `<variant id>.<port>`, and are used when that variant runs.
 *
 * @example
 * const image = choose(fluxNode, sdxlNode, { name: "Image model" });
 */
export class ChoiceNode extends Node {
  get kind(): typeof NodeKind.CHOICE {
    return NodeKind.CHOICE;
  }
  readonly variants: readonly Node[];

  constructor(variants: Node[], options: { name?: string; autorun?: boolean } = {}) {
    if (variants.length < 2 || !variants.every((v) => v instanceof Node)) {
      throw new DaggrError(ErrorCode.BAD_OPTION, "choose(a, b, …) needs at least two nodes.");
    }
    const outs = (n: Node) => Object.keys(n.outputs).sort().join(",");
    const odd = variants.find((v) => outs(v) !== outs(variants[0]!));
    if (odd) {
      throw new DaggrError(
        ErrorCode.BAD_OPTION,
        `Variants of a choice must have the same outputs: '${variants[0]!.id}' has (${outs(variants[0]!)}) but '${odd.id}' has (${outs(odd)}).`,
      );
    }
    const ids = variants.map((v) => v.id);
    const dup = ids.find((id, i) => ids.indexOf(id) !== i);
    if (dup) throw new DaggrError(ErrorCode.DUPLICATE_NODE, `Two variants of a choice have the id '${dup}'. Give them distinct names.`, { got: dup });
    super(options.name ?? ids.join("_or_"), { name: options.name ?? ids.join("_or_"), autorun: options.autorun, outputs: variants[0]!.outputs } as NodeOptions<any, any>);
    this.variants = variants;
    // Built after super(): the port specs are copied, not re-normalised.
    const specs: Record<string, InputSpec> = { [VARIANT_PORT]: { kind: "component", component: gr.Radio({ label: "Variant", choices: ids, value: ids[0] }) } };
    for (const v of variants) for (const [port, spec] of Object.entries(v.inputs)) specs[`${v.id}.${port}`] = spec;
    (this as { inputs: Record<string, InputSpec> }).inputs = specs;
    this.editableCache = undefined;
  }

  /** The selected variant, by the value of the variant port. */
  variant(id: unknown): Node {
    return this.variants.find((v) => v.id === id) ?? this.variants[0]!;
  }

  override get defaultAutorun(): boolean {
    return this.variants.every((v) => v.defaultAutorun);
  }

  /** Only the selected variant's ports (and the variant port) are read when the node runs. */
  override activePorts(own: Record<string, unknown>): string[] {
    const v = this.variant(own[VARIANT_PORT]);
    // Shared per port list, as every node's are: readers may keep things by the list.
    return sharedPorts(Object.keys(this.inputs).filter((p) => p === VARIANT_PORT || p.startsWith(`${v.id}.`)));
  }

  protected override kindConfig(): Record<string, unknown> {
    return { variants: this.variants.map((v) => v.describe(false)) };
  }

  protected override codeSources(): string[] {
    return this.variants.map((v) => v.fingerprint());
  }

  protected override codeText(): string {
    return this.codeSources().map((f) => JSON.stringify(f)).join(",");
  }

  override link(): string | undefined {
    return undefined;
  }
}

/**
 * A choice between nodes with the same outputs; the canvas lets the user pick one.
 *
 * @example
 * const upscaler = choose(fastUpscaler, slowUpscaler);
 */
export function choose(...args: Array<Node | { name?: string; autorun?: boolean }>): ChoiceNode {
  const last = args.at(-1);
  const options = last && !(last instanceof Node) ? (args.pop() as { name?: string }) : {};
  return new ChoiceNode(args as Node[], options);
}

setChoose(choose);

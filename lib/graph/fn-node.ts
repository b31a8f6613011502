import { gr } from "./components.js";
import { DaggrError, ErrorCode } from "./errors.js";
import { quoteCode } from "./node-memos.js";
import { Node, NodeKind, type InputSources, type InputValues, type NodeOptions, type OutputSpecs } from "./node.js";

/** What an FnNode's function receives besides its inputs. */
export interface FnContext {
  /** Aborted when the run is cancelled or superseded by a newer edit. */
  signal: AbortSignal;
  /** Reports progress: `fraction` in [0, 1], with optional text. */
  progress(fraction: number | undefined, text?: string): void;
  /** A directory for files this function writes; return their paths as outputs. */
  filesDir: string;
}

export type FnResult = unknown | Promise<unknown> | AsyncGenerator<unknown, unknown, unknown>;

/**
 * A node that runs a TypeScript function. It gets one object of inputs and a context;
 * it may be sync, async, or an async generator (each `yield` is a partial output shown
 * live). With one output the return value is that output; with several it returns an
 * object keyed by output name.
 *
 * @example
 * const upper = new FnNode(({ text }) => text.toUpperCase(), {
 *   inputs: { text: gr.Textbox({ label: "Text" }) },
 *   outputs: { upper: gr.Textbox() },
 * });
 */
export class FnNode<I extends InputSources = InputSources, O extends OutputSpecs = OutputSpecs> extends Node<I, O> {
  get kind(): typeof NodeKind.FN {
    return NodeKind.FN;
  }
  readonly fn: (inputs: InputValues<I>, ctx: FnContext) => FnResult;

  constructor(fn: (inputs: InputValues<I>, ctx: FnContext) => FnResult, options: NodeOptions<I, O> = {}) {
    if (typeof fn !== "function") {
      throw new DaggrError(ErrorCode.BAD_OPTION, `FnNode needs a function as its first argument, got ${typeof fn}.`);
    }
    // The function's name is the default name: read only when no name is given.
    super(options.name != null ? "fn" : fn.name && fn.name !== "anonymous" ? fn.name : "fn", options);
    this.fn = fn;
  }

  protected override defaultOutputs(): OutputSpecs {
    return { output: gr.JSON() };
  }

  protected override codeSources(): string[] {
    return [`fn:${this.fn}`, ...super.codeSources()];
  }

  protected override codeText(): string {
    return `${quoteCode("fn:", this.fn)},${super.codeText()}`;
  }

  protected override kindConfig(): Record<string, unknown> {
    const { concurrent, concurrencyGroup, maxConcurrent } = this.options;
    return { concurrent: !!concurrent, concurrencyGroup, maxConcurrent };
  }

  protected override kindConfigText(): string {
    // The common case without building the object; JSON leaves out undefined fields.
    const { concurrent, concurrencyGroup, maxConcurrent } = this.options;
    if (concurrencyGroup === undefined && maxConcurrent === undefined) return concurrent ? '{"concurrent":true}' : '{"concurrent":false}';
    return super.kindConfigText();
  }
}

declare module "@observablehq/runtime" {
  export class Runtime {
    module(): { variable(observer?: unknown): { define(name: string, inputs: string[], definition: (...args: any[]) => unknown): unknown } };
    dispose(): void;
  }
}

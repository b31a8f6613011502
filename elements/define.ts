/** Defines a custom element once (the bundle may be loaded twice on one page). */
export function define(name: string, ctor: CustomElementConstructor): void {
  if (!customElements.get(name)) customElements.define(name, ctor);
}

import { noChange } from "lit";
import { Directive, type ElementPart, type PartInfo, PartType, directive } from "lit/directive.js";
import { setCommittedValue } from "lit/directive-helpers.js";

/** Whether `el` holds the focus of its document or shadow root. */
function focused(el: Element): boolean {
  const root = el.getRootNode() as Document | ShadowRoot;
  return root.activeElement === el;
}

/**
 * `live()` for fields the user types into: the property is written when it differs from
 * the element's current one, except while the element has focus. A field being edited
 * keeps the user's keystrokes through any re-render (a run's progress, another tab's
 * edit, an echo of an earlier value); what the server holds shows once focus leaves.
 *
 * @example
 * html`<input .value=${editing(String(value))} @change=${commit}>`
 */
class EditingDirective extends Directive {
  constructor(part: PartInfo) {
    super(part);
    if (part.type !== PartType.PROPERTY) throw new Error("editing() can only be used in a property binding");
  }

  render(value: unknown): unknown {
    return value;
  }

  override update(part: ElementPart, [value]: [unknown]): unknown {
    const el = part.element as Element & Record<string, unknown>;
    const name = (part as unknown as { name: string }).name;
    if (focused(el) || el[name] === value) return noChange;
    // Lit skips a value equal to the last one it wrote; the field may hold other text since.
    setCommittedValue(part);
    return value;
  }
}

export const editing = directive(EditingDirective);

/** The canvas's keyboard shortcuts, listed in its help panel. */
export const SHORTCUTS: Array<{ keys: string; does: string }> = [
  { keys: "F", does: "Fit the graph into view" },
  { keys: "+ / −", does: "Zoom in / out" },
  { keys: "Shift + Enter", does: "Run all stale nodes" },
  { keys: "Ctrl/⌘ + Enter", does: "In a node: run to here (elsewhere: run all)" },
  { keys: "L", does: "Tidy: lay the graph out again" },
  { keys: "T", does: "Toggle light / dark" },
  { keys: "?", does: "Show or hide this help" },
];

export interface ShortcutActions {
  fit(): void;
  zoom(factor: number): void;
  runAll(): void;
  relayout(): void;
  toggleTheme(): void;
  toggleHelp(): void;
  escape(): void;
}

/**
 * Keyboard shortcuts, listened for on the window but only taken when they are meant for
 * this canvas: focus is inside it, or nowhere in particular (the page body), and the
 * key was not typed into a field. So an embedding page keeps its own keys.
 */
export class Shortcuts {
  private readonly onKey = (e: KeyboardEvent) => this.handle(e);

  constructor(
    private readonly host: HTMLElement,
    private readonly actions: ShortcutActions,
  ) {
    addEventListener("keydown", this.onKey);
  }

  destroy(): void {
    removeEventListener("keydown", this.onKey);
  }

  private handle(e: KeyboardEvent): void {
    if (e.defaultPrevented || e.altKey) return;
    const active = document.activeElement;
    const mine = active === this.host || active === document.body || active === null || active === document.documentElement;
    if (!mine) return;
    const target = e.composedPath()[0];
    if (target instanceof HTMLElement && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) {
      if (!((e.ctrlKey || e.metaKey) && e.key === "Enter")) return;
    }
    const a = this.actions;
    const mod = e.ctrlKey || e.metaKey;
    let done = true;
    if (e.key === "Enter" && (e.shiftKey || mod)) a.runAll();
    else if (mod) done = false;
    else if (e.key === "f" || e.key === "F") a.fit();
    else if (e.key === "+" || e.key === "=") a.zoom(1.2);
    else if (e.key === "-" || e.key === "_") a.zoom(1 / 1.2);
    else if (e.key === "l" || e.key === "L") a.relayout();
    else if (e.key === "t" || e.key === "T") a.toggleTheme();
    else if (e.key === "?") a.toggleHelp();
    else if (e.key === "Escape") a.escape();
    else done = false;
    if (done) e.preventDefault();
  }
}

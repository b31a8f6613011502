/** `auto` follows the system's colour scheme; the toggle picks light or dark explicitly. */
export type ThemeChoice = "auto" | "light" | "dark";

const KEY = "daggr:theme";

/**
 * The light/dark theme: the `theme` attribute wins, else the user's last toggle (kept in
 * localStorage), else the system preference, which is followed live.
 */
export class ThemeController {
  private readonly media = matchMedia("(prefers-color-scheme: dark)");
  private readonly onMedia = () => this.onChange(this.resolved);
  choice: ThemeChoice;

  constructor(private readonly onChange: (t: "light" | "dark") => void, attr?: string | null) {
    this.choice = parse(attr) ?? parse(safeGet(KEY)) ?? "auto";
    this.media.addEventListener("change", this.onMedia);
  }

  get resolved(): "light" | "dark" {
    return this.choice === "auto" ? (this.media.matches ? "dark" : "light") : this.choice;
  }

  set(choice: ThemeChoice, remember = true): void {
    this.choice = choice;
    if (remember) safeSet(KEY, choice);
    this.onChange(this.resolved);
  }

  toggle(): void {
    this.set(this.resolved === "dark" ? "light" : "dark");
  }

  destroy(): void {
    this.media.removeEventListener("change", this.onMedia);
  }
}

function parse(v: string | null | undefined): ThemeChoice | undefined {
  return v === "auto" || v === "light" || v === "dark" ? v : undefined;
}

/** localStorage may be blocked (sandboxed iframes, privacy modes): never let that break the canvas. */
export function safeGet(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

export function safeSet(key: string, value: string): void {
  try {
    localStorage.setItem(key, value);
  } catch {
    // ignore
  }
}

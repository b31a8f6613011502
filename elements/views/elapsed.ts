import { define } from "../define.js";

/** `<1ms`, `850ms`, `1.2s`, `12s`, `3m 05s`. */
export function formatMs(ms: number): string {
  if (ms < 1) return "<1ms";
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 10) return `${s.toFixed(1)}s`;
  if (s < 60) return `${Math.round(s)}s`;
  const m = Math.floor(s / 60);
  return `${m}m ${String(Math.round(s % 60)).padStart(2, "0")}s`;
}

/**
 * A running clock: it rewrites its own text ten times a second, so a running node's
 * card does not re-render just to tick.
 */
export class Elapsed extends HTMLElement {
  start = 0;
  private timer: ReturnType<typeof setInterval> | undefined;

  connectedCallback(): void {
    this.tick();
    this.timer = setInterval(() => this.tick(), 100);
  }

  disconnectedCallback(): void {
    clearInterval(this.timer);
  }

  private tick(): void {
    this.textContent = formatMs(Math.max(0, Date.now() - this.start));
  }
}

define("daggr-elapsed", Elapsed);

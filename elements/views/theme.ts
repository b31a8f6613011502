import { css } from "lit";

/**
 * Theme tokens. Every colour, radius and font the canvas uses is a CSS custom property
 * set on `<daggr-canvas>`, so a page restyles the element from outside:
 *
 *     daggr-canvas { --daggr-accent: #7c3aed; --daggr-font: "Inter", sans-serif; }
 *
 * Custom properties inherit through shadow roots, so nested views see the same tokens.
 */
export const themeTokens = css`
  :host {
    --daggr-font: ui-sans-serif, system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", sans-serif;
    --daggr-mono: ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, monospace;
    --daggr-accent: #f97316;
    --daggr-accent-strong: #ea580c;
    --daggr-accent-soft: color-mix(in srgb, var(--daggr-accent) 14%, transparent);
    --daggr-on-accent: #ffffff;
    --daggr-bg: #f6f6f7;
    --daggr-grid: #d4d4d8;
    --daggr-surface: #ffffff;
    --daggr-surface-2: #f4f4f5;
    --daggr-surface-3: #e9e9ec;
    --daggr-border: #e4e4e7;
    --daggr-border-strong: #d4d4d8;
    --daggr-text: #18181b;
    --daggr-muted: #71717a;
    --daggr-stale: #b4b4bc;
    --daggr-error: #dc2626;
    --daggr-error-soft: #fef2f2;
    --daggr-success: #16a34a;
    --daggr-radius: 12px;
    --daggr-radius-sm: 7px;
    --daggr-shadow: 0 1px 2px rgb(0 0 0 / 0.05), 0 6px 20px -6px rgb(0 0 0 / 0.12);
    --daggr-shadow-lg: 0 12px 40px -8px rgb(0 0 0 / 0.25);
    --daggr-badge-fn: #7c3aed;
    --daggr-badge-gradio: #f97316;
    --daggr-badge-model: #2563eb;
    --daggr-badge-input: #059669;
    --daggr-badge-choice: #db2777;
    --daggr-badge-map: #0891b2;
    color-scheme: light;
  }
  :host([data-theme="dark"]) {
    --daggr-bg: #0f0f12;
    --daggr-grid: #2a2a31;
    --daggr-surface: #1b1b20;
    --daggr-surface-2: #24242a;
    --daggr-surface-3: #2e2e36;
    --daggr-border: #303038;
    --daggr-border-strong: #3f3f48;
    --daggr-text: #f4f4f5;
    --daggr-muted: #a1a1aa;
    --daggr-stale: #55555f;
    --daggr-error: #f87171;
    --daggr-error-soft: color-mix(in srgb, #f87171 12%, transparent);
    --daggr-shadow: 0 1px 2px rgb(0 0 0 / 0.4), 0 8px 24px -8px rgb(0 0 0 / 0.6);
    --daggr-shadow-lg: 0 16px 48px -8px rgb(0 0 0 / 0.7);
    color-scheme: dark;
  }
`;

/** Buttons, fields and small bits shared by the canvas chrome and the cards. */
export const controls = css`
  button {
    font: inherit;
    color: inherit;
    background: none;
    border: 0;
    padding: 0;
    cursor: pointer;
  }
  button:focus-visible,
  a:focus-visible,
  input:focus-visible,
  select:focus-visible,
  textarea:focus-visible {
    outline: 2px solid var(--daggr-accent);
    outline-offset: 1px;
  }
  .icon-btn {
    display: inline-grid;
    place-items: center;
    width: 28px;
    height: 28px;
    border-radius: var(--daggr-radius-sm);
    color: var(--daggr-muted);
    transition: background 0.12s, color 0.12s;
  }
  .icon-btn:hover:not(:disabled) {
    background: var(--daggr-surface-2);
    color: var(--daggr-text);
  }
  .icon-btn:disabled {
    opacity: 0.35;
    cursor: default;
  }
  svg.i {
    width: 16px;
    height: 16px;
    fill: none;
    stroke: currentColor;
    stroke-width: 2;
    stroke-linecap: round;
    stroke-linejoin: round;
  }
`;

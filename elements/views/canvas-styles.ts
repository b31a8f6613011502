import { css, unsafeCSS } from "lit";
import { CARD_WIDTH } from "../layout/geometry.js";
import { edgeStyles } from "./edges.js";
import { controls, themeTokens } from "./theme.js";

const chrome = css`
  :host {
    position: relative;
    display: block;
    width: 100%;
    height: 100%;
    min-height: 320px;
    overflow: hidden;
    font: 13px/1.4 var(--daggr-font);
    color: var(--daggr-text);
    background: var(--daggr-bg);
    isolation: isolate;
  }
  .daggr-viewport {
    position: absolute;
    inset: 0;
    overflow: hidden;
    cursor: grab;
    touch-action: none;
    outline: none;
    background-color: var(--daggr-bg);
    background-image: radial-gradient(circle, var(--daggr-grid) 1px, transparent 1.2px);
  }
  .daggr-viewport.panning {
    cursor: grabbing;
  }
  .world {
    position: absolute;
    left: 0;
    top: 0;
    transform-origin: 0 0;
    /* No will-change: a composited world makes every card painted over an edge that
       changes a layer of its own (hundreds on a big graph). Cards and edges paint into
       one layer; pan and zoom repaint only what is in view. */
  }
  .world.measuring {
    visibility: hidden;
  }
  /* Disconnected: what is shown may be out of date, and edits cannot be sent. */
  :host([status="reconnecting"]) .world,
  :host([status="closed"]) .world {
    opacity: 0.55;
    filter: grayscale(0.5);
    pointer-events: none;
    transition: opacity 0.3s, filter 0.3s;
  }
  .cards {
    position: absolute;
    left: 0;
    top: 0;
    cursor: default;
  }
  /* One slot per node, moved by the layout; it holds the card or its placeholder. */
  .slot {
    position: absolute;
    left: 0;
    top: 0;
    width: ${unsafeCSS(CARD_WIDTH)}px;
  }
  .slot > daggr-node {
    position: relative;
  }
  .slot.dragging {
    z-index: 2;
    cursor: grabbing;
  }
  .placeholder {
    cursor: grab;
  }
  /* Off screen, or zoomed out too far to read: the frame, badge and name only. */
  .placeholder {
    box-sizing: border-box;
    display: flex;
    align-items: flex-start;
    gap: 10px;
    padding: 12px 14px;
    background: var(--daggr-surface);
    border: 1px solid var(--daggr-border);
    border-top: 3px solid transparent;
    border-radius: var(--daggr-radius);
    overflow: hidden;
  }
  .placeholder.fresh {
    border-top-color: var(--daggr-accent);
  }
  .placeholder.stale {
    border-top-color: var(--daggr-stale);
  }
  .placeholder.failed {
    border-color: var(--daggr-error);
  }
  .placeholder.running,
  .placeholder.queued,
  .placeholder.waiting {
    border-color: var(--daggr-accent);
  }
  .placeholder.skipped {
    opacity: 0.62;
    border-style: dashed;
  }
  .placeholder .badge {
    flex: none;
    font-size: 15px;
    font-weight: 800;
    padding: 3px 8px;
    border-radius: 6px;
    color: var(--b);
    background: color-mix(in srgb, var(--b) 13%, transparent);
    --b: var(--daggr-badge-fn);
  }
  .placeholder .badge.gradio {
    --b: var(--daggr-badge-gradio);
  }
  .placeholder .badge.model {
    --b: var(--daggr-badge-model);
  }
  .placeholder .badge.input {
    --b: var(--daggr-badge-input);
  }
  .placeholder .badge.choice {
    --b: var(--daggr-badge-choice);
  }
  .placeholder .badge.map {
    --b: var(--daggr-badge-map);
  }
  .placeholder .name {
    font-size: 24px;
    font-weight: 650;
    line-height: 1.1;
    overflow-wrap: anywhere;
  }
  .title-bar,
  .toolbar,
  .pill,
  .help,
  .toast {
    position: absolute;
    z-index: 5;
    display: flex;
    align-items: center;
    gap: 4px;
    /* Opaque, no backdrop blur: a blur recomputes what is under it whenever the view moves. */
    background: var(--daggr-surface);
    border: 1px solid var(--daggr-border);
    border-radius: 12px;
    box-shadow: var(--daggr-shadow);
  }
  .title-bar {
    top: 12px;
    left: 50%;
    transform: translateX(-50%);
    padding: 4px 6px 4px 12px;
    max-width: calc(100% - 260px);
  }
  .logo {
    width: 14px;
    height: 14px;
    flex: none;
    border-radius: 4px;
    background: conic-gradient(from 200deg, var(--daggr-accent), #facc15, var(--daggr-accent));
    margin-right: 4px;
  }
  .graph-name {
    font-weight: 700;
    white-space: nowrap;
    overflow: hidden;
    text-overflow: ellipsis;
  }
  .divider {
    width: 1px;
    height: 18px;
    background: var(--daggr-border);
    margin: 0 4px;
  }
  .top-right {
    top: 12px;
    right: 12px;
    padding: 4px;
  }
  .primary {
    display: inline-flex;
    align-items: center;
    gap: 6px;
    height: 28px;
    padding: 0 12px 0 10px;
    border-radius: 8px;
    font-weight: 600;
    color: var(--daggr-on-accent);
    background: var(--daggr-accent);
  }
  .primary:hover {
    background: var(--daggr-accent-strong);
  }
  .primary svg.i {
    width: 12px;
    height: 12px;
    fill: currentColor;
  }
  .bottom-left {
    left: 12px;
    bottom: 12px;
    padding: 4px;
  }
  .zoom-pct {
    min-width: 46px;
    height: 28px;
    font-size: 12px;
    font-variant-numeric: tabular-nums;
    color: var(--daggr-muted);
    border-radius: 7px;
  }
  .zoom-pct:hover {
    background: var(--daggr-surface-2);
    color: var(--daggr-text);
  }
  .sep {
    width: 1px;
    height: 18px;
    background: var(--daggr-border);
    margin: 0 2px;
  }
  .pill {
    top: 60px;
    left: 50%;
    transform: translateX(-50%);
    padding: 6px 14px 6px 10px;
    border-radius: 999px;
    font-size: 12px;
    font-weight: 600;
    gap: 8px;
  }
  .pill.warn {
    color: var(--daggr-accent-strong);
    border-color: color-mix(in srgb, var(--daggr-accent) 45%, var(--daggr-border));
  }
  .spinner {
    width: 12px;
    height: 12px;
    border-radius: 50%;
    border: 2px solid var(--daggr-accent-soft);
    border-top-color: var(--daggr-accent);
    animation: spin 0.8s linear infinite;
  }
  @keyframes spin {
    to {
      transform: rotate(360deg);
    }
  }
  .help {
    left: 12px;
    bottom: 56px;
    flex-direction: column;
    align-items: stretch;
    gap: 2px;
    padding: 8px 10px 10px;
    min-width: 300px;
  }
  .help-head {
    display: flex;
    align-items: center;
    justify-content: space-between;
    font-weight: 700;
    margin-bottom: 4px;
  }
  .help-row {
    display: grid;
    grid-template-columns: 110px 1fr;
    gap: 8px;
    align-items: center;
    font-size: 12px;
    padding: 2px 0;
  }
  kbd {
    font: 11px var(--daggr-mono);
    background: var(--daggr-surface-2);
    border: 1px solid var(--daggr-border);
    border-bottom-width: 2px;
    border-radius: 5px;
    padding: 1px 5px;
    justify-self: start;
  }
  .toast {
    bottom: 16px;
    left: 50%;
    transform: translateX(-50%);
    padding: 8px 6px 8px 14px;
    max-width: min(560px, calc(100% - 40px));
    gap: 10px;
  }
  .app-failure {
    position: absolute;
    inset: 0;
    z-index: 20;
    display: flex;
    align-items: center;
    justify-content: center;
    background: color-mix(in srgb, var(--daggr-bg, #000) 55%, transparent);
    backdrop-filter: blur(2px);
  }
  .app-failure-box {
    max-width: min(760px, calc(100% - 40px));
    max-height: calc(100% - 80px);
    overflow: auto;
    background: var(--daggr-surface);
    border: 1px solid color-mix(in srgb, var(--daggr-error) 60%, var(--daggr-border));
    border-radius: 12px;
    box-shadow: var(--daggr-shadow);
    padding: 16px 18px;
  }
  .app-failure-title {
    display: flex;
    align-items: center;
    gap: 8px;
    font-weight: 650;
    color: var(--daggr-error);
  }
  .app-failure-code {
    margin-left: auto;
    font-size: 12px;
  }
  .app-failure-msg {
    white-space: pre-wrap;
    font-size: 13px;
    margin: 12px 0;
  }
  .app-failure-more {
    margin: 8px 0 0;
    padding-left: 18px;
    font-size: 12px;
  }
  .app-failure-types {
    margin-top: 14px;
    padding-top: 10px;
    border-top: 1px solid var(--daggr-border);
  }
  .app-failure-subtitle {
    font-size: 12px;
    font-weight: 650;
    color: var(--daggr-error);
  }
  .app-failure-dismiss {
    margin-top: 12px;
    font: inherit;
    font-size: 12px;
  }
  .app-failure-where,
  .app-failure-hint {
    font-size: 12px;
    color: var(--daggr-muted);
    margin-top: 6px;
  }
  .toast.error {
    border-color: color-mix(in srgb, var(--daggr-error) 50%, var(--daggr-border));
    color: var(--daggr-error);
  }
  .minimap {
    position: absolute;
    right: 12px;
    bottom: 12px;
    z-index: 5;
    background: color-mix(in srgb, var(--daggr-surface) 92%, transparent);
    border: 1px solid var(--daggr-border);
    border-radius: var(--daggr-radius-sm);
    box-shadow: var(--daggr-shadow);
    cursor: pointer;
    touch-action: none;
  }
  @media (max-width: 640px) {
    .minimap {
      display: none;
    }
    .title-bar {
      max-width: calc(100% - 150px);
      left: 12px;
      transform: none;
    }
    .primary span {
      display: none;
    }
  }
`;

export const canvasStyles = [themeTokens, controls, chrome, edgeStyles];

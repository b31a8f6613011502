import { css, unsafeCSS } from "lit";
import { HEADER_HEIGHT, PORT_ROW } from "../layout/geometry.js";

export const cardStyles = css`
  :host {
    position: absolute;
    left: 0;
    top: 0;
    display: block;
    font: 13px/1.4 var(--daggr-font);
    color: var(--daggr-text);
    contain: layout style;
  }
  .card {
    position: relative;
    box-sizing: border-box;
    background: var(--daggr-surface);
    border: 1px solid var(--daggr-border);
    border-radius: var(--daggr-radius);
    box-shadow: var(--daggr-shadow);
    transition: box-shadow 0.15s, border-color 0.15s, opacity 0.15s;
  }
  .card::before {
    content: "";
    position: absolute;
    left: -1px;
    right: -1px;
    top: -1px;
    height: 3px;
    border-radius: var(--daggr-radius) var(--daggr-radius) 0 0;
    background: transparent;
  }
  .card.fresh::before {
    background: var(--daggr-accent);
  }
  .card.stale::before {
    background: var(--daggr-stale);
  }
  .card.failed {
    border-color: color-mix(in srgb, var(--daggr-error) 55%, var(--daggr-border));
  }
  .card.failed::before {
    background: var(--daggr-error);
  }
  .card.running,
  .card.queued {
    border-color: var(--daggr-accent);
    box-shadow: 0 0 0 3px var(--daggr-accent-soft), var(--daggr-shadow);
  }
  .card.waiting {
    border-style: dashed;
    border-color: var(--daggr-accent);
  }
  :host([will-run]) .card {
    border-color: var(--daggr-accent);
    box-shadow: 0 0 0 4px color-mix(in srgb, var(--daggr-accent) 35%, transparent), var(--daggr-shadow-lg);
  }
  :host([dimmed]) .card {
    opacity: 0.55;
  }
  /* A branch routed around the node: dimmed, dashed, with the reason. */
  .card.skipped {
    opacity: 0.62;
    border-style: dashed;
    border-color: var(--daggr-border-strong);
    box-shadow: none;
    background: color-mix(in srgb, var(--daggr-surface) 70%, transparent);
  }
  .card.skipped::before {
    background: repeating-linear-gradient(90deg, var(--daggr-stale) 0 6px, transparent 6px 10px);
  }
  .card.skipped .dot {
    border-color: var(--daggr-stale);
  }
  .card.skipped .port.out .dot {
    background: var(--daggr-stale);
  }
  .card.skipped:hover,
  :host([will-run]) .card.skipped {
    opacity: 0.9;
  }
  /* A note under the header: why a card was skipped, or why it is stale. */
  .skip-note,
  .stale-note {
    display: flex;
    align-items: flex-start;
    gap: 7px;
    font-size: 12px;
    line-height: 1.45;
    border-radius: var(--daggr-radius-sm);
    background: var(--daggr-surface-2);
    overflow-wrap: anywhere;
  }
  .skip-note {
    color: var(--daggr-muted);
    padding: 7px 9px;
  }
  .skip-note b {
    color: var(--daggr-text);
    font-weight: 650;
  }
  .skip-note svg.i {
    flex: none;
    width: 13px;
    height: 13px;
    margin-top: 2px;
  }
  /* A stale result: the grey bar in words, with why and a run button. */
  .stale-note {
    /* The muted grey on this background is below 4.5:1 in the light theme. */
    color: var(--daggr-text);
    padding: 6px 6px 6px 9px;
    border-left: 3px solid var(--daggr-stale);
  }
  .stale-note b {
    font-weight: 650;
  }
  .stale-note > svg.i {
    color: var(--daggr-muted);
    flex: none;
    width: 13px;
    height: 13px;
    margin-top: 2px;
  }
  .stale-why {
    flex: 1;
    min-width: 0;
  }
  .stale-run {
    flex: none;
    display: inline-flex;
    align-items: center;
    gap: 4px;
    padding: 2px 8px;
    border-radius: 6px;
    font-size: 11.5px;
    font-weight: 600;
    color: var(--daggr-accent-strong);
    background: var(--daggr-surface);
    border: 1px solid var(--daggr-border);
  }
  .stale-run:hover {
    background: var(--daggr-accent-soft);
  }
  .stale-run svg.i {
    width: 11px;
    height: 11px;
    fill: currentColor;
  }
  .timing {
    position: absolute;
    right: 8px;
    bottom: calc(100% + 4px);
    font-size: 11px;
    font-variant-numeric: tabular-nums;
    color: var(--daggr-muted);
    white-space: nowrap;
  }
  .timing.live {
    color: var(--daggr-accent-strong);
    font-weight: 600;
  }
  .timing.error {
    color: var(--daggr-error);
    font-weight: 600;
  }
  .timing .of {
    color: var(--daggr-muted);
    font-weight: 400;
  }
  /* Cards are dragged by their header. */
  header {
    cursor: grab;
    height: ${unsafeCSS(HEADER_HEIGHT)}px;
    box-sizing: border-box;
    display: flex;
    align-items: center;
    gap: 8px;
    padding: 0 8px 0 12px;
    border-bottom: 1px solid var(--daggr-border);
  }
  .badge {
    flex: none;
    font-size: 9.5px;
    font-weight: 800;
    letter-spacing: 0.06em;
    padding: 3px 6px;
    border-radius: 5px;
    color: var(--b);
    background: color-mix(in srgb, var(--b) 13%, transparent);
    --b: var(--daggr-badge-fn);
  }
  .badge.gradio {
    --b: var(--daggr-badge-gradio);
  }
  .badge.model {
    --b: var(--daggr-badge-model);
  }
  .badge.input {
    --b: var(--daggr-badge-input);
  }
  .badge.choice {
    --b: var(--daggr-badge-choice);
  }
  .badge.map {
    --b: var(--daggr-badge-map);
  }
  .origin-line {
    display: flex;
    flex-wrap: wrap;
    gap: 6px;
    padding: 3px 12px;
    font-size: 10.5px;
    color: var(--daggr-muted);
    border-bottom: 1px solid var(--daggr-border);
  }
  .origin-via,
  .origin-older {
    overflow: hidden;
    text-overflow: ellipsis;
    white-space: nowrap;
    max-width: 100%;
  }
  .origin-via.local {
    font-weight: 700;
    color: var(--daggr-badge-gradio);
  }
  .origin-older {
    color: var(--daggr-stale);
  }
  .name {
    font-weight: 650;
    font-size: 13.5px;
    color: var(--daggr-text);
    text-decoration: none;
    overflow: hidden;
    text-overflow: ellipsis;
    white-space: nowrap;
    min-width: 0;
  }
  a.name:hover {
    color: var(--daggr-accent-strong);
    text-decoration: underline;
    text-underline-offset: 2px;
  }
  .spacer {
    flex: 1;
  }
  .run {
    display: flex;
    gap: 1px;
    background: var(--daggr-surface-2);
    border-radius: 8px;
    padding: 2px;
  }
  .run .icon-btn {
    width: 26px;
    height: 24px;
    border-radius: 6px;
  }
  .run .icon-btn:hover {
    background: var(--daggr-surface);
    color: var(--daggr-accent-strong);
    box-shadow: 0 1px 2px rgb(0 0 0 / 0.08);
  }
  .run svg.i {
    width: 13px;
    height: 13px;
    fill: currentColor;
    stroke-width: 1.5;
  }
  .stop {
    display: inline-flex;
    align-items: center;
    gap: 4px;
    padding: 4px 9px;
    border-radius: 7px;
    font-size: 12px;
    font-weight: 600;
    color: var(--daggr-error);
    background: var(--daggr-error-soft);
  }
  .stop:hover {
    background: var(--daggr-error);
    color: #fff;
  }
  .stop svg.i {
    width: 12px;
    height: 12px;
    fill: currentColor;
  }
  .progress {
    position: absolute;
    left: 0;
    right: 0;
    top: ${unsafeCSS(HEADER_HEIGHT - 2)}px;
    height: 3px;
    overflow: hidden;
    background: var(--daggr-accent-soft);
  }
  .progress .bar {
    height: 100%;
    background: var(--daggr-accent);
    transition: width 0.25s ease-out;
  }
  /* A painted sweep, not a transform: an animated transform gets a composited layer of
     its own, and every card painted after it then needs one too. */
  .progress.indeterminate .bar {
    width: 100%;
    background: linear-gradient(90deg, transparent 0 30%, var(--daggr-accent) 30% 60%, transparent 60% 100%) no-repeat;
    background-size: 200% 100%;
    animation: slide 1.1s ease-in-out infinite;
  }
  @keyframes slide {
    from {
      background-position: 150% 0;
    }
    to {
      background-position: -50% 0;
    }
  }
  .ports {
    position: relative;
    border-bottom: 1px solid var(--daggr-border);
  }
  .port {
    position: absolute;
    height: ${unsafeCSS(PORT_ROW)}px;
    display: flex;
    align-items: center;
    gap: 6px;
    font: 11px var(--daggr-mono);
    color: var(--daggr-muted);
    max-width: 48%;
  }
  .port.in {
    left: -5px;
  }
  .port.out {
    right: -5px;
    justify-content: flex-end;
  }
  .pname {
    overflow: hidden;
    text-overflow: ellipsis;
    white-space: nowrap;
  }
  .variant-of {
    opacity: 0.7;
  }
  .port.inactive {
    opacity: 0.45;
  }
  .port.when .pname {
    font-style: italic;
  }
  .port.when .dot {
    border-radius: 2px;
    transform: rotate(45deg) scale(0.9);
  }
  .dot {
    flex: none;
    width: 8px;
    height: 8px;
    border-radius: 50%;
    background: var(--daggr-surface);
    border: 1.5px solid var(--daggr-stale);
  }
  .fresh .dot {
    border-color: var(--daggr-accent);
  }
  .port.out .dot {
    background: var(--daggr-stale);
  }
  .fresh .port.out .dot {
    background: var(--daggr-accent);
  }
  .body {
    padding: 10px 12px 12px;
    display: flex;
    flex-direction: column;
    gap: 10px;
  }
  .body:empty {
    display: none;
  }
  .section {
    display: flex;
    flex-direction: column;
    gap: 10px;
  }
  .inputs + .outputs {
    border-top: 1px dashed var(--daggr-border);
    padding-top: 10px;
  }
  .outputs.streaming {
    opacity: 0.85;
  }
  .status-line {
    font-size: 11.5px;
    color: var(--daggr-accent-strong);
    font-weight: 500;
  }
  .error-panel {
    border-radius: var(--daggr-radius-sm);
    background: var(--daggr-error-soft);
    border: 1px solid color-mix(in srgb, var(--daggr-error) 35%, transparent);
    padding: 8px 10px;
    color: var(--daggr-error);
  }
  .error-title {
    display: flex;
    align-items: center;
    gap: 6px;
    font-weight: 700;
    font-size: 12px;
  }
  .error-title svg.i {
    width: 14px;
    height: 14px;
  }
  .error-at {
    margin-top: 4px;
    font: 11px/1.4 var(--daggr-mono);
    color: var(--daggr-muted);
    overflow-wrap: anywhere;
  }
  .error-msg {
    margin-top: 4px;
    font: 12px/1.45 var(--daggr-mono);
    white-space: pre-wrap;
    overflow-wrap: anywhere;
    max-height: 120px;
    overflow: auto;
    color: var(--daggr-text);
  }
  .run-hint {
    font-size: 12px;
    color: var(--daggr-muted);
  }
  .notice {
    font-size: 12px;
    color: var(--daggr-muted);
    font-style: italic;
  }
  .prov-toggle {
    width: 26px;
    height: 26px;
    border-radius: 7px;
    color: var(--daggr-muted);
  }
  .prov-toggle.on {
    color: var(--daggr-accent-strong);
    background: var(--daggr-accent-soft);
  }
  .prov-toggle svg.i {
    width: 15px;
    height: 15px;
  }
  .provenance {
    border-top: 1px dashed var(--daggr-border);
    padding-top: 8px;
    font-size: 12px;
    display: flex;
    flex-direction: column;
    gap: 6px;
  }
  .prov-grid {
    display: grid;
    grid-template-columns: auto 1fr;
    gap: 2px 10px;
  }
  .provenance .k {
    color: var(--daggr-muted);
    font-family: var(--daggr-mono);
    font-size: 11px;
  }
  .provenance .v {
    overflow-wrap: anywhere;
  }
  .prov-status.success {
    color: var(--daggr-accent-strong);
    font-weight: 600;
  }
  .prov-status.failed {
    color: var(--daggr-error);
    font-weight: 600;
  }
  .prov-head {
    font-weight: 650;
    font-size: 11px;
    text-transform: uppercase;
    letter-spacing: 0.05em;
    color: var(--daggr-muted);
  }
  .provenance ul {
    list-style: none;
    margin: 0;
    padding: 0;
    display: flex;
    flex-direction: column;
    gap: 2px;
  }
  .prov-inputs li {
    display: flex;
    gap: 8px;
  }
  .prov-up {
    width: 100%;
    text-align: left;
    padding: 4px 6px;
    border-radius: var(--daggr-radius-sm);
    background: var(--daggr-surface-2);
    font-size: 12px;
  }
  .prov-up:hover {
    background: var(--daggr-accent-soft);
  }
  .prov-up .which {
    color: var(--daggr-muted);
    font-size: 11px;
  }
  :host([jumped]) .card {
    border-color: var(--daggr-accent);
    box-shadow: 0 0 0 4px color-mix(in srgb, var(--daggr-accent) 45%, transparent), var(--daggr-shadow-lg);
  }
  .history {
    display: flex;
    align-items: center;
    gap: 2px;
    padding: 4px 8px;
    border-top: 1px solid var(--daggr-border);
    font-size: 12px;
    color: var(--daggr-muted);
  }
  .history .icon-btn {
    width: 24px;
    height: 24px;
  }
  .history .pos {
    font-variant-numeric: tabular-nums;
    min-width: 36px;
    text-align: center;
    color: var(--daggr-text);
    font-weight: 600;
  }
  .history .when {
    margin-left: auto;
    font-size: 11px;
  }
`;

import { css } from "lit";

/** Styles of the component views, which render inside a node card's shadow root. */
export const componentStyles = css`
  .comp {
    display: flex;
    flex-direction: column;
    gap: 4px;
    min-width: 0;
  }
  .comp-label {
    font-size: 11px;
    font-weight: 600;
    color: var(--daggr-muted);
    letter-spacing: 0.01em;
    display: flex;
    flex-direction: column;
  }
  .comp-label .info {
    font-weight: 400;
    opacity: 0.85;
  }
  .field {
    box-sizing: border-box;
    width: 100%;
    font: 13px/1.45 var(--daggr-font);
    color: var(--daggr-text);
    background: var(--daggr-surface-2);
    border: 1px solid var(--daggr-border);
    border-radius: var(--daggr-radius-sm);
    padding: 6px 8px;
    transition: border-color 0.12s, box-shadow 0.12s;
  }
  textarea.field {
    resize: vertical;
    min-height: 34px;
  }
  .field:hover {
    border-color: var(--daggr-border-strong);
  }
  .field:focus {
    outline: none;
    border-color: var(--daggr-accent);
    box-shadow: 0 0 0 3px var(--daggr-accent-soft);
    background: var(--daggr-surface);
  }
  .mono {
    font-family: var(--daggr-mono);
    font-size: 12px;
  }
  select.field {
    appearance: none;
    background-image: linear-gradient(45deg, transparent 50%, var(--daggr-muted) 50%), linear-gradient(135deg, var(--daggr-muted) 50%, transparent 50%);
    background-position: calc(100% - 14px) 50%, calc(100% - 9px) 50%;
    background-size: 5px 5px;
    background-repeat: no-repeat;
    padding-right: 26px;
  }
  .slider {
    display: flex;
    align-items: center;
    gap: 8px;
  }
  .slider input[type="range"] {
    flex: 1;
    accent-color: var(--daggr-accent);
    min-width: 0;
  }
  .slider-num {
    width: 68px;
    flex: none;
    padding: 4px 6px;
  }
  .check {
    display: flex;
    align-items: center;
    gap: 8px;
    font-size: 13px;
    cursor: pointer;
  }
  .check input {
    accent-color: var(--daggr-accent);
    width: 16px;
    height: 16px;
    margin: 0;
  }
  .pills {
    display: flex;
    flex-wrap: wrap;
    gap: 4px;
  }
  .pill {
    font-size: 12px;
    padding: 3px 10px;
    border-radius: 999px;
    border: 1px solid var(--daggr-border);
    background: var(--daggr-surface-2);
    color: var(--daggr-text);
  }
  .pill:hover {
    border-color: var(--daggr-border-strong);
  }
  .pill.on {
    border-color: var(--daggr-accent);
    background: var(--daggr-accent-soft);
    color: var(--daggr-accent-strong);
    font-weight: 600;
  }
  .color {
    display: flex;
    gap: 8px;
    align-items: center;
  }
  .color input[type="color"] {
    width: 34px;
    height: 30px;
    padding: 0;
    border: 1px solid var(--daggr-border);
    border-radius: 6px;
    background: none;
  }
  .code-wrap {
    position: relative;
  }
  .lang {
    position: absolute;
    right: 6px;
    top: 4px;
    font-size: 10px;
    text-transform: uppercase;
    color: var(--daggr-muted);
    letter-spacing: 0.05em;
    pointer-events: none;
  }
  .code-out {
    margin: 0;
    font: 12px/1.5 var(--daggr-mono);
    background: var(--daggr-surface-2);
    border-radius: var(--daggr-radius-sm);
    padding: 8px;
    max-height: 200px;
    overflow: auto;
    white-space: pre;
  }
  .text-empty,
  .media-empty {
    color: var(--daggr-muted);
    font-size: 12px;
    font-style: italic;
    background: var(--daggr-surface-2);
    border-radius: var(--daggr-radius-sm);
    padding: 7px 9px;
    opacity: 0.8;
  }
  .media-empty {
    height: 200px;
    box-sizing: border-box;
    display: flex;
    flex-direction: column;
    align-items: center;
    justify-content: center;
    gap: 6px;
    font-style: normal;
    border: 1px dashed var(--daggr-border);
  }
  .media-empty.short {
    height: 44px;
    flex-direction: row;
  }
  .media-empty svg.i {
    width: 22px;
    height: 22px;
    opacity: 0.6;
  }
  .text-out {
    font-size: 13px;
    line-height: 1.5;
    background: var(--daggr-surface-2);
    border-radius: var(--daggr-radius-sm);
    padding: 6px 9px;
    white-space: pre-wrap;
    overflow-wrap: anywhere;
    max-height: 160px;
    overflow: auto;
  }
  .swatch {
    display: inline-block;
    width: 14px;
    height: 14px;
    border-radius: 4px;
    vertical-align: -2px;
    margin-right: 6px;
    border: 1px solid var(--daggr-border);
  }
  .scroll-box {
    max-height: 240px;
    overflow: auto;
    background: var(--daggr-surface-2);
    border-radius: var(--daggr-radius-sm);
    padding: 8px 10px;
  }
  .media {
    position: relative;
    border-radius: var(--daggr-radius-sm);
    overflow: hidden;
    background: repeating-conic-gradient(var(--daggr-surface-2) 0 25%, var(--daggr-surface) 0 50%) 0 0 / 16px 16px;
    border: 1px solid var(--daggr-border);
  }
  .media img,
  .media video {
    display: block;
    width: 100%;
    height: 200px;
    object-fit: contain;
    cursor: zoom-in;
  }
  .media video {
    cursor: default;
    background: #000;
  }
  .media.audio {
    display: flex;
    align-items: center;
    gap: 4px;
    padding: 4px;
    background: var(--daggr-surface-2);
  }
  .media.audio audio {
    flex: 1;
    height: 36px;
    min-width: 0;
  }
  .media-tools {
    position: absolute;
    top: 6px;
    right: 6px;
    background: var(--daggr-surface);
    border-radius: 8px;
    box-shadow: var(--daggr-shadow);
    opacity: 0;
    transition: opacity 0.12s;
  }
  .media:hover .media-tools,
  .media:focus-within .media-tools {
    opacity: 1;
  }
  .files {
    display: flex;
    flex-direction: column;
    gap: 4px;
  }
  .file-chip {
    display: flex;
    align-items: center;
    gap: 8px;
    padding: 8px 10px;
    border-radius: var(--daggr-radius-sm);
    background: var(--daggr-surface-2);
    border: 1px solid var(--daggr-border);
    color: var(--daggr-text);
    text-decoration: none;
    font-size: 12px;
  }
  .file-chip:hover {
    border-color: var(--daggr-accent);
  }
  .file-chip .name {
    flex: 1;
    overflow: hidden;
    text-overflow: ellipsis;
    white-space: nowrap;
  }
  .file-chip small {
    color: var(--daggr-muted);
  }
  .model3d {
    display: flex;
    flex-direction: column;
    gap: 6px;
  }
  .gallery {
    display: grid;
    grid-template-columns: repeat(3, 1fr);
    gap: 4px;
  }
  .thumb {
    aspect-ratio: 1;
    border-radius: 6px;
    overflow: hidden;
    border: 1px solid var(--daggr-border);
    cursor: zoom-in;
  }
  .thumb img {
    width: 100%;
    height: 100%;
    object-fit: cover;
    display: block;
  }
  .label-top {
    font-size: 18px;
    font-weight: 700;
    margin-bottom: 4px;
  }
  .conf {
    display: grid;
    grid-template-columns: 84px 1fr 38px;
    gap: 6px;
    align-items: center;
    font-size: 12px;
    margin: 2px 0;
  }
  .conf-name {
    overflow: hidden;
    text-overflow: ellipsis;
    white-space: nowrap;
  }
  .conf-bar {
    height: 8px;
    border-radius: 4px;
    background: var(--daggr-surface-3);
    overflow: hidden;
  }
  .conf-bar span {
    display: block;
    height: 100%;
    background: var(--daggr-accent);
    border-radius: 4px;
  }
  .conf-pct {
    text-align: right;
    color: var(--daggr-muted);
    font-variant-numeric: tabular-nums;
  }
  .hl {
    font-size: 13px;
    line-height: 1.9;
  }
  .hl mark {
    background: color-mix(in srgb, var(--hl) 20%, transparent);
    color: inherit;
    border-radius: 4px;
    padding: 1px 3px;
  }
  .hl-tag {
    font-size: 9px;
    font-weight: 700;
    text-transform: uppercase;
    color: var(--hl);
    margin-left: 4px;
  }
  .chat {
    display: flex;
    flex-direction: column;
    gap: 6px;
  }
  .bubble {
    max-width: 85%;
    padding: 6px 10px;
    border-radius: 12px;
    font-size: 13px;
  }
  .bubble.user {
    align-self: flex-end;
    background: var(--daggr-accent);
    color: var(--daggr-on-accent);
    border-bottom-right-radius: 4px;
    --daggr-text: var(--daggr-on-accent);
  }
  .bubble.bot {
    align-self: flex-start;
    background: var(--daggr-surface);
    border: 1px solid var(--daggr-border);
    border-bottom-left-radius: 4px;
  }
  .bubble.system {
    align-self: center;
    font-style: italic;
    color: var(--daggr-muted);
  }
  .bubble img {
    max-width: 100%;
    border-radius: 6px;
  }
  .table {
    padding: 0;
  }
  .table table {
    border-collapse: collapse;
    font-size: 12px;
    min-width: 100%;
  }
  .table th,
  .table td {
    padding: 4px 8px;
    border-bottom: 1px solid var(--daggr-border);
    text-align: left;
    white-space: nowrap;
  }
  .table th {
    position: sticky;
    top: 0;
    background: var(--daggr-surface-3);
    font-weight: 600;
  }
  .more {
    color: var(--daggr-muted);
    font-size: 11px;
    padding: 4px 8px;
  }
`;

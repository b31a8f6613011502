import DOMPurify from "dompurify";
import { LitElement, css, html } from "lit";
import { marked } from "marked";
import { define } from "../define.js";

let hooked = false;

/**
 * Sanitises HTML from a node's output with DOMPurify: scripts, event handler
 * attributes, `javascript:` URLs and the like are removed; links open in a new tab.
 */
export function sanitize(dirty: string): string {
  if (!hooked) {
    DOMPurify.addHook("afterSanitizeAttributes", (node) => {
      if (node.tagName === "A" && node.getAttribute("href")) {
        node.setAttribute("target", "_blank");
        node.setAttribute("rel", "noopener noreferrer");
      }
    });
    hooked = true;
  }
  return DOMPurify.sanitize(dirty, { USE_PROFILES: { html: true, svg: true }, FORBID_TAGS: ["style", "form"], FORBID_ATTR: ["style"] });
}

export function markdownToHtml(md: string): string {
  return sanitize(marked.parse(md, { async: false, gfm: true, breaks: true }) as string);
}

/**
 * Renders sanitised HTML inside its own shadow root, so an output's markup can neither
 * restyle the card around it nor be reached by the card's styles.
 */
export class SafeHtml extends LitElement {
  static override properties = { source: { attribute: false }, markdown: { type: Boolean } };
  static override styles = css`
    :host {
      display: block;
      font: 13px/1.55 var(--daggr-font);
      color: var(--daggr-text);
      overflow-wrap: anywhere;
    }
    .root > :first-child {
      margin-top: 0;
    }
    .root > :last-child {
      margin-bottom: 0;
    }
    h1,
    h2,
    h3,
    h4 {
      line-height: 1.25;
      margin: 0.8em 0 0.4em;
    }
    h1 {
      font-size: 1.35em;
    }
    h2 {
      font-size: 1.2em;
    }
    h3 {
      font-size: 1.05em;
    }
    p,
    ul,
    ol,
    pre,
    blockquote,
    table {
      margin: 0.5em 0;
    }
    ul,
    ol {
      padding-left: 1.3em;
    }
    a {
      color: var(--daggr-accent-strong);
    }
    code {
      font: 0.92em var(--daggr-mono);
      background: var(--daggr-surface-2);
      border-radius: 4px;
      padding: 0.1em 0.3em;
    }
    pre {
      background: var(--daggr-surface-2);
      border-radius: 6px;
      padding: 8px;
      overflow: auto;
    }
    pre code {
      background: none;
      padding: 0;
    }
    blockquote {
      border-left: 3px solid var(--daggr-border-strong);
      padding-left: 10px;
      color: var(--daggr-muted);
    }
    img {
      max-width: 100%;
    }
    table {
      border-collapse: collapse;
    }
    th,
    td {
      border: 1px solid var(--daggr-border);
      padding: 3px 6px;
    }
  `;
  declare source: string;
  declare markdown: boolean;

  override render() {
    return html`<div class="root"></div>`;
  }

  override updated() {
    const root = this.renderRoot.querySelector(".root")!;
    const src = this.source ?? "";
    root.innerHTML = this.markdown ? markdownToHtml(src) : sanitize(src);
  }
}

define("daggr-safe-html", SafeHtml);

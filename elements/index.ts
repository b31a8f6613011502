/**
 * The daggr canvas as web components. Importing this module defines `<daggr-canvas>`
 * (and the elements it uses); the server serves it as `/assets/daggr-canvas.js`.
 *
 * @example
 * <script type="module" src="http://127.0.0.1:7860/assets/daggr-canvas.js"></script>
 * <daggr-canvas server="http://127.0.0.1:7860"></daggr-canvas>
 */
export { DaggrCanvas } from "./views/canvas.js";
export { NodeCard } from "./views/node-card.js";
export { SheetsMenu } from "./views/sheets-menu.js";
export { CanvasStore } from "./controllers/canvas-store.js";
export { Connection, ConnStatus } from "./controllers/connection.js";
export { PanZoom } from "./controllers/pan-zoom.js";
export { LayoutController } from "./controllers/layout.js";
export { HistoryController } from "./controllers/history.js";

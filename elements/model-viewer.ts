/**
 * The 3D viewer as a bundle of its own: `@google/model-viewer` with three.js is about
 * 1 MB, so the canvas bundle leaves it out and the Model3D view loads it from the daggr
 * server (`/assets/model-viewer.js`) the first time a model is shown.
 */
import "@google/model-viewer";

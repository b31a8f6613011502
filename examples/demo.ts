/**
 * The demo `npm start` opens: a generative-art workflow that needs no network. Edit the
 * settings and watch the fractal, its thumbnail, its colour histogram and its caption
 * recompute; step through each node's history with ‹ ›.
 */
import { readFileSync } from "node:fs";
import { FnNode, Graph, InputNode, gr } from "daggr";
import { decodePng, savePng } from "./lib/png.js";

const PALETTES: Record<string, Array<[number, number, number]>> = {
  sunset: [[20, 10, 40], [120, 30, 90], [230, 90, 60], [250, 200, 90], [255, 250, 220]],
  ocean: [[5, 10, 30], [10, 60, 120], [30, 140, 190], [140, 220, 230], [240, 255, 255]],
  forest: [[10, 20, 10], [30, 70, 30], [80, 140, 60], [190, 210, 120], [250, 250, 210]],
};

const settings = new InputNode({
  name: "Settings",
  ports: {
    palette: gr.Dropdown({ label: "Palette", choices: Object.keys(PALETTES), value: "sunset" }),
    zoom: gr.Slider({ label: "Zoom", minimum: 1, maximum: 200, step: 1, value: 1 }),
    size: gr.Slider({ label: "Size (px)", minimum: 64, maximum: 512, step: 32, value: 256 }),
    title: gr.Textbox({ label: "Title", value: "Seahorse valley" }),
  },
});

/** Renders the Mandelbrot set around seahorse valley, reporting progress row by row. */
const render = new FnNode(
  async ({ palette, zoom, size }, ctx) => {
    const colors = PALETTES[palette] ?? PALETTES.sunset!;
    const rgb = new Uint8Array(size * size * 3);
    const [cx, cy, span] = [-0.743643887, 0.131825904, 3 / zoom];
    const maxIter = 80 + Math.round(40 * Math.log2(zoom + 1));
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const c0 = cx + (x / size - 0.5) * span;
        const c1 = cy + (y / size - 0.5) * span;
        let [zr, zi, i] = [0, 0, 0];
        while (zr * zr + zi * zi < 4 && i < maxIter) [zr, zi, i] = [zr * zr - zi * zi + c0, 2 * zr * zi + c1, i + 1];
        const t = i === maxIter ? 0 : Math.sqrt(i / maxIter) * (colors.length - 1);
        const lo = colors[Math.floor(t)]!;
        const hi = colors[Math.min(colors.length - 1, Math.ceil(t))]!;
        const f = t - Math.floor(t);
        for (let k = 0; k < 3; k++) rgb[(y * size + x) * 3 + k] = lo[k]! + (hi[k]! - lo[k]!) * f;
      }
      if (y % 32 === 0) {
        ctx.progress(y / size, `row ${y}/${size}`);
        await new Promise((r) => setImmediate(r)); // let progress reach the canvas
        ctx.signal.throwIfAborted();
      }
    }
    return savePng(ctx.filesDir, "fractal", size, size, rgb);
  },
  { name: "Render", inputs: { palette: settings.out.palette, zoom: settings.out.zoom, size: settings.out.size }, outputs: { image: gr.Image({ label: "Fractal" }) } },
);

/** A 64×64 thumbnail by box sampling. */
const thumbnail = new FnNode(
  ({ image }, ctx) => {
    const { width, height, rgb } = decodePng(readFileSync(image));
    const n = 64;
    const out = new Uint8Array(n * n * 3);
    for (let y = 0; y < n; y++) {
      for (let x = 0; x < n; x++) {
        const sx = Math.floor((x * width) / n);
        const sy = Math.floor((y * height) / n);
        for (let k = 0; k < 3; k++) out[(y * n + x) * 3 + k] = rgb[(sy * width + sx) * 3 + k]!;
      }
    }
    return savePng(ctx.filesDir, "thumb", n, n, out);
  },
  { name: "Thumbnail", inputs: { image: render.out.image }, outputs: { thumb: gr.Image({ label: "64×64" }) } },
);

/** Brightness histogram: a bar chart of the 16 bins (rows, drawn on the canvas) and the same bins as a table. */
const histogram = new FnNode(
  ({ image }) => {
    const { width, height, rgb } = decodePng(readFileSync(image));
    const bins = new Array(16).fill(0) as number[];
    for (let i = 0; i < width * height; i++) {
      const lum = 0.2126 * rgb[i * 3]! + 0.7152 * rgb[i * 3 + 1]! + 0.0722 * rgb[i * 3 + 2]!;
      bins[Math.min(15, Math.floor(lum / 16))]++;
    }
    return {
      chart: bins.map((pixels, b) => ({ brightness: b * 16, pixels })),
      table: { headers: ["brightness", "pixels"], data: bins.map((c, b) => [`${b * 16}–${b * 16 + 15}`, c]) },
    };
  },
  {
    name: "Histogram",
    inputs: { image: render.out.image },
    outputs: {
      chart: gr.BarPlot({ label: "Brightness", x: "brightness", y: "pixels", x_title: "brightness (bin start, 0–255)", y_title: "pixels" }),
      table: gr.Dataframe({ label: "Bins" }),
    },
  },
);

/** Writes a caption word by word (an async generator streams partial text). */
const caption = new FnNode(
  async function* ({ title, palette, zoom, table }) {
    const bright = (table.data as Array<[string, number]>).slice(8).reduce((a, [, c]) => a + c, 0);
    const total = (table.data as Array<[string, number]>).reduce((a, [, c]) => a + c, 0);
    const words = `## ${title}\n\nA ${palette} rendering of the Mandelbrot set at ${zoom}× zoom; ${Math.round((100 * bright) / total)}% of its pixels are bright.`.split(" ");
    let text = "";
    for (const w of words) {
      text += (text ? " " : "") + w;
      yield text;
      await new Promise((r) => setTimeout(r, 15));
    }
  },
  { name: "Caption", inputs: { title: settings.out.title, palette: settings.out.palette, zoom: settings.out.zoom, table: histogram.out.table }, outputs: { text: gr.Markdown({ label: "Caption" }) } },
);

export default new Graph({ name: "Fractal studio", nodes: [thumbnail, caption] });

/**
 * The plots, as a bundle of their own: Observable Plot with d3 is ~300 kB, so the canvas
 * bundle leaves it out and the plot views load it from the daggr server
 * (`/assets/plot.js`) the first time a plot is shown.
 *
 * `drawNativePlot` follows Gradio's native plots (gradio/components/native_plot.py and its
 * Vega-Lite frontend): the same props, the same rules for when rows are aggregated (a
 * bar or line plot sums rows that share a category x or an `x_bin`; a scatter plot only
 * with `x_bin`), categories in data order unless `sort` says otherwise.
 */
import * as Plot from "@observablehq/plot";
import { PlotDataError, column, nearest, plotTable, type PlotTable } from "./components/plot-data.js";

export { PlotDataError } from "./components/plot-data.js";

export interface DrawOptions {
  width: number;
}

type Props = Record<string, unknown>;
const MARKS: Record<string, "line" | "point" | "bar"> = { LinePlot: "line", ScatterPlot: "point", BarPlot: "bar" };
const REDUCERS = ["sum", "mean", "median", "min", "max", "count"] as const;
type Reduce = (typeof REDUCERS)[number];
const DURATION_UNITS: Record<string, string> = { s: "second", m: "minute", h: "hour", d: "day" };
/** Plot's styles ride on the card's theme: text in the card's colour, marks in its accent. */
const STYLE = { background: "transparent", color: "var(--daggr-text, currentColor)", fontSize: "10px", fontFamily: "var(--daggr-font, sans-serif)", overflow: "visible" };
/** Plot's class prefix on what it draws (`daggr-plot-swatch`…), stable for styles and tests. */
const CLASS = "daggr-plot";
const ACCENT = "var(--daggr-accent, #f97316)";

/**
 * A `gr.LinePlot`, `gr.ScatterPlot` or `gr.BarPlot` of `value` (rows), or `undefined` when
 * there are no rows yet. A prop naming a missing column throws a `PlotDataError`.
 */
export function drawNativePlot(type: string, value: unknown, props: Props, o: DrawOptions): Element | undefined {
  const mark = MARKS[type];
  if (!mark) throw new PlotDataError(`${type} is not a native plot; choose LinePlot, ScatterPlot or BarPlot.`);
  const table = plotTable(value);
  if (!table) return undefined;
  const x = column(table, "x", props.x, 0)!;
  const y = column(table, "y", props.y, 1);
  if (!y) throw new PlotDataError(`y: the rows have one column (${x}); a plot needs an x and a y column.`);
  const color = column(table, "color", props.color);
  const xType = table.types[x]!;
  const interval = binInterval(props.x_bin, xType);
  const aggregating = mark === "point" ? interval !== undefined : interval !== undefined || xType === "nominal";
  const reduce = reducer(props.y_aggregate);
  const colorKey = color ? (mark === "bar" || mark === "point" ? "fill" : "stroke") : undefined;
  const channels: Props = { x, y, ...(colorKey ? { [colorKey]: color } : { [mark === "line" ? "stroke" : "fill"]: ACCENT }) };
  const tip = tooltip(props.tooltip, table, aggregating);
  const options: Props = { ...channels, ...(tip ? { tip: true, channels: tip } : {}), ...sortOption(props.sort, xType) };

  let marks: Plot.Markish[];
  if (mark === "bar") {
    marks = interval !== undefined
      ? [Plot.rectY(table.rows, Plot.binX({ y: reduce }, { ...options, interval } as Plot.BinXInputs<Plot.RectYOptions>))]
      : aggregating
        ? [Plot.barY(table.rows, Plot.groupX({ y: reduce }, options as Plot.BarYOptions))]
        : [Plot.barY(table.rows, options as Plot.BarYOptions)];
  } else if (mark === "line") {
    const line = interval !== undefined
      ? Plot.binX({ y: reduce }, { ...options, interval } as Plot.BinXInputs<Plot.LineYOptions>)
      : aggregating ? Plot.groupX({ y: reduce }, options as Plot.LineYOptions) : options;
    marks = [Plot.lineY(table.rows, { ...(line as Plot.LineYOptions), ...(xType === "nominal" ? {} : { sort: x }) }), Plot.dotY(table.rows, { ...(line as Plot.DotOptions), r: 2, tip: false })];
  } else {
    marks = [Plot.dot(table.rows, (interval !== undefined ? Plot.binX({ y: reduce }, { ...options, interval } as Plot.BinXInputs<Plot.DotOptions>) : { ...options, r: 3 }) as Plot.DotOptions)];
  }

  const hidden = props.x_axis_labels_visible === false || props.x_axis_labels_visible === "hidden";
  return Plot.plot({
    width: o.width,
    height: typeof props.height === "number" ? props.height : 200,
    title: typeof props.title === "string" ? props.title : undefined,
    caption: typeof props.caption === "string" ? props.caption : undefined,
    style: STYLE,
    className: CLASS,
    // A band or point x axis centres its title under the ticks: room for both.
    marginBottom: angle(props.x_label_angle) ? 48 : xType === "nominal" || mark === "bar" ? 40 : undefined,
    x: {
      label: String(props.x_title ?? x),
      ...xDomain(props, table, x, xType, mark, o.width),
      ...(angle(props.x_label_angle) ? { tickRotate: angle(props.x_label_angle) } : {}),
      ...(typeof props.x_axis_format === "string" ? { tickFormat: props.x_axis_format } : {}),
      ...(hidden ? { tickFormat: () => "", tickSize: 0 } : {}),
    },
    y: {
      label: String(props.y_title ?? (aggregating && reduce !== "sum" ? `${reduce}(${y})` : y)),
      grid: true,
      ...limits(props.y_lim, table, y),
      ...(angle(props.y_label_angle) ? { tickRotate: angle(props.y_label_angle) } : {}),
      ...(typeof props.y_axis_format === "string" ? { tickFormat: props.y_axis_format } : {}),
    },
    color: color ? colorScale(props, table, color) : undefined,
    marks,
  });
}

const angle = (v: unknown) => (typeof v === "number" && v !== 0 ? v : undefined);

/** `x_bin`: a number bins a numeric x; "15m", "1h", "10s", "1d" bins dates (Gradio's suffixes). */
function binInterval(bin: unknown, xType: string): number | string | undefined {
  if (bin === undefined || bin === null) return undefined;
  if (typeof bin === "number" && bin > 0) return bin;
  const m = typeof bin === "string" ? /^(\d+)\s*([smhd])$/.exec(bin.trim()) : null;
  if (m && xType === "temporal") return `${m[1]} ${DURATION_UNITS[m[2]!]}`;
  throw new PlotDataError(`x_bin: ${JSON.stringify(bin)} is not a bin: a positive number for a numeric x, or a duration such as "15m", "1h", "10s", "1d" for dates.`);
}

function reducer(r: unknown): Reduce {
  if (r === undefined || r === null) return "sum";
  if (typeof r === "string" && (REDUCERS as readonly string[]).includes(r)) return r as Reduce;
  const near = nearest(String(r), REDUCERS);
  throw new PlotDataError(`y_aggregate: ${JSON.stringify(r)} is not one of ${REDUCERS.join(", ")}.${near ? ` Did you mean "${near}"?` : ""}`);
}

/** Gradio's `tooltip`: "axis" (the plotted channels), "all" (every column), "none", or extra columns. */
function tooltip(t: unknown, table: PlotTable, aggregating: boolean): Props | undefined {
  if (t === "none") return undefined;
  // Aggregated marks have one datum per group: only the plotted channels are known there.
  if (aggregating) return {};
  const extra = t === "all" ? table.columns : Array.isArray(t) ? t.map((c) => column(table, "tooltip", c)!) : [];
  return Object.fromEntries(extra.map((c) => [c, c]));
}

/** `sort: "y"` / `"-y"` orders the categories by their (aggregated) y. */
function sortOption(sort: unknown, xType: string): Props {
  if (xType !== "nominal") return {};
  if (sort === "y") return { sort: { x: "y" } };
  if (sort === "-y") return { sort: { x: "-y" } };
  return {};
}

/** Categories in data order (Gradio's default `sort=None`), "x"/"-x" by name, or the listed order; numbers and dates by `x_lim`. */
function xDomain(props: Props, table: PlotTable, x: string, xType: string, mark: string, width: number): Props {
  if (xType !== "nominal") {
    if (mark !== "bar" || props.x_bin != null) return limits(props.x_lim, table, x);
    // Bars need a band scale: each number or date is a category, in order.
    const values = [...new Set(table.rows.map((r) => r[x]))].sort((a, b) => Number(a) - Number(b));
    return { type: "band", domain: values, ...thinned(values, width) };
  }
  if (props.sort === "y" || props.sort === "-y") return {};
  const seen = [...new Set(table.rows.map((r) => r[x]))];
  const domain = Array.isArray(props.sort)
    ? [...props.sort, ...seen.filter((v) => !(props.sort as unknown[]).includes(v))]
    : props.sort === "x" ? seen.sort(ascending) : props.sort === "-x" ? seen.sort(ascending).reverse() : seen;
  return { domain, ...thinned(domain, width) };
}

/** Every k-th category's tick when all of them would not fit (~36 px each), so labels never overlap. */
function thinned(domain: unknown[], width: number): Props {
  const fit = Math.max(2, Math.floor(width / 36));
  if (domain.length <= fit) return {};
  const k = Math.ceil(domain.length / fit);
  return { ticks: domain.filter((_, i) => i % k === 0) };
}

const ascending = (a: unknown, b: unknown) => (a === b ? 0 : String(a).localeCompare(String(b), undefined, { numeric: true }));

/** `[min, max]` with either end `null` (taken from the data). */
function limits(lim: unknown, table: PlotTable, col: string): Props {
  if (!Array.isArray(lim) || lim.length !== 2) return {};
  const values = table.rows.map((r) => Number(r[col])).filter((v) => Number.isFinite(v));
  const lo = typeof lim[0] === "number" ? lim[0] : Math.min(...values);
  const hi = typeof lim[1] === "number" ? lim[1] : Math.max(...values);
  return { domain: [lo, hi], clamp: false };
}

function colorScale(props: Props, table: PlotTable, color: string): Plot.ScaleOptions {
  const nominal = table.types[color] === "nominal";
  const shown = Array.isArray(props.colors_in_legend) ? props.colors_in_legend : undefined;
  const base: Plot.ScaleOptions = { label: String(props.color_title ?? color), legend: shown?.length === 0 ? false : true };
  if (!nominal) return { ...base, type: "linear", scheme: "oranges" };
  const domain = [...new Set(table.rows.map((r) => r[color]))];
  const map = props.color_map && typeof props.color_map === "object" ? (props.color_map as Record<string, string>) : undefined;
  if (!map) return { ...base, type: "categorical", domain };
  const fallback = ["#f97316", "#2563eb", "#059669", "#db2777", "#7c3aed", "#ca8a04", "#0891b2", "#dc2626"];
  return { ...base, type: "categorical", domain, range: domain.map((d, i) => map[String(d)] ?? fallback[i % fallback.length]!) };
}

/** Observable Plot's marks a figure may name (none that loads a URL or makes links). */
const FIGURE_MARKS = [
  "area", "areaX", "areaY", "arrow", "axisX", "axisY", "barX", "barY", "boxX", "boxY", "cell", "cellX", "cellY", "contour", "density",
  "differenceY", "dot", "dotX", "dotY", "frame", "gridX", "gridY", "hexagon", "line", "lineX", "lineY", "link", "rect", "rectX", "rectY",
  "ruleX", "ruleY", "text", "textX", "textY", "tickX", "tickY", "tip", "vector", "vectorX", "vectorY", "waffleX", "waffleY",
] as const;
/** Transforms a figure's mark may apply: `transform: { binX: { y: "count" } }` is `Plot.binX({ y: "count" }, options)`. */
const FIGURE_TRANSFORMS = [
  "bin", "binX", "binY", "group", "groupX", "groupY", "groupZ", "hexbin", "map", "mapX", "mapY", "normalize", "normalizeX", "normalizeY",
  "stackX", "stackY", "window", "windowX", "windowY", "dodgeX", "dodgeY",
] as const;
/** Options that would let data make links or load resources. */
const UNSAFE_OPTIONS = new Set(["href", "target", "src", "document", "render"]);

/**
 * A `gr.Plot` figure: an Observable Plot description in plain data
 * (`{ marks: [{ mark: "barY", data, x: "a", y: "b" }], ...plot options }`), or a Gradio
 * app's `{ type: "matplotlib", plot: "data:image/png;base64,…" }`. Other libraries'
 * figures (plotly, altair, bokeh) are named, not drawn.
 */
export function drawFigure(value: unknown, o: DrawOptions): Element | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value !== "object" || Array.isArray(value)) throw new PlotDataError("A gr.Plot value is a figure: { marks: [{ mark: \"dot\", data, x, y }] }, or a Gradio app's { type, plot }.");
  const v = value as Props;
  if (typeof v.type === "string" && typeof v.plot === "string") {
    if (v.type === "matplotlib" && /^data:image\/(png|jpeg|webp|svg\+xml);base64,/.test(v.plot)) {
      const img = document.createElement("img");
      img.src = v.plot;
      img.alt = "plot";
      return img;
    }
    throw new PlotDataError(`A ${v.type} figure is not drawn on the canvas: daggr draws Observable Plot descriptions ({ marks: [...] }) and matplotlib images.`);
  }
  if (!Array.isArray(v.marks)) throw new PlotDataError("A gr.Plot figure lists its marks: { marks: [{ mark: \"lineY\", data, x, y }] }.");
  const marks = v.marks.map((m, i) => figureMark(m, i));
  const options = Object.fromEntries(Object.entries(v).filter(([k]) => k !== "marks" && !UNSAFE_OPTIONS.has(k)));
  return Plot.plot({ width: o.width, height: 200, style: STYLE, ...options, className: CLASS, marks });
}

function figureMark(m: unknown, i: number): Plot.Markish {
  if (typeof m !== "object" || m === null) throw new PlotDataError(`marks[${i}] is not a mark: { mark: "dot", data, x, y }.`);
  const { mark, data, transform, ...rest } = m as Props;
  if (typeof mark !== "string" || !(FIGURE_MARKS as readonly string[]).includes(mark)) {
    const near = nearest(String(mark), FIGURE_MARKS);
    throw new PlotDataError(`marks[${i}].mark: ${JSON.stringify(mark)} is not an Observable Plot mark daggr draws. Marks: ${FIGURE_MARKS.join(", ")}.${near ? ` Did you mean "${near}"?` : ""}`);
  }
  let options: Props = Object.fromEntries(Object.entries(rest).filter(([k]) => !UNSAFE_OPTIONS.has(k)));
  if (options.fill === undefined && options.stroke === undefined && /^(bar|rect|area|cell|dot|waffle)/.test(mark)) options.fill = ACCENT;
  if (transform !== undefined) {
    const entries = typeof transform === "object" && transform !== null ? Object.entries(transform) : [];
    for (const [name, arg] of entries) {
      if (!(FIGURE_TRANSFORMS as readonly string[]).includes(name)) {
        const near = nearest(name, FIGURE_TRANSFORMS);
        throw new PlotDataError(`marks[${i}].transform: "${name}" is not a transform daggr applies. Transforms: ${FIGURE_TRANSFORMS.join(", ")}.${near ? ` Did you mean "${near}"?` : ""}`);
      }
      options = (Plot as unknown as Record<string, (a: unknown, o: Props) => Props>)[name]!(arg ?? {}, options);
    }
  }
  const make = (Plot as unknown as Record<string, (d: unknown, o: Props) => Plot.Markish>)[mark]!;
  return make(Array.isArray(data) ? data : data === undefined ? undefined : [], options);
}

/**
 * The rows a native plot (`gr.LinePlot`, `gr.ScatterPlot`, `gr.BarPlot`) draws, read from
 * any of the values Gradio's DataFrame-like plots take: an array of row objects, a
 * Dataframe value `{ headers, data }`, or what a Gradio app sends for a native plot
 * (`{ columns, data, datatypes }`, gradio/components/native_plot.py `PlotData`). Pure
 * data work, no drawing: the canvas bundle and the plot bundle both use it.
 */

export type ColumnType = "quantitative" | "nominal" | "temporal";

export interface PlotTable {
  columns: string[];
  rows: Array<Record<string, unknown>>;
  /** Each column's kind: Gradio's names (numbers, categories, dates). */
  types: Record<string, ColumnType>;
}

/** A value a plot cannot draw, or a prop naming a column the rows lack; the card shows its message. */
export class PlotDataError extends Error {
  override name = "PlotDataError";
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** The rows of `value`, or `undefined` when there is nothing to draw yet (null, no rows). */
export function plotTable(value: unknown): PlotTable | undefined {
  if (value === null || value === undefined) return undefined;
  let columns: string[];
  let rows: Array<Record<string, unknown>>;
  let given: Record<string, unknown> = {};
  if (Array.isArray(value)) {
    if (!value.every(isRecord)) throw new PlotDataError("A plot's value is rows: an array of objects such as [{ x: 1, y: 2 }], or { headers, data }.");
    rows = value;
    const seen = new Set<string>();
    for (const r of rows) for (const k of Object.keys(r)) seen.add(k);
    columns = [...seen];
  } else if (isRecord(value) && Array.isArray(value.data) && (Array.isArray(value.headers) || Array.isArray(value.columns))) {
    columns = ((value.headers ?? value.columns) as unknown[]).map(String);
    if (isRecord(value.datatypes)) given = value.datatypes;
    rows = (value.data as unknown[]).map((row, i) => {
      if (!Array.isArray(row)) throw new PlotDataError(`Row ${i} of the plot's data is not an array of cells (columns: ${columns.join(", ")}).`);
      return Object.fromEntries(columns.map((c, j) => [c, row[j]]));
    });
  } else {
    throw new PlotDataError("A plot's value is rows: an array of objects such as [{ x: 1, y: 2 }], or { headers, data }, or a Gradio app's { columns, data }.");
  }
  if (!rows.length) return undefined;
  const types: Record<string, ColumnType> = {};
  for (const c of columns) {
    const g = given[c];
    types[c] = g === "quantitative" || g === "nominal" || g === "temporal" ? g : inferType(rows, c);
  }
  // Dates arrive as epoch milliseconds (Gradio's `date_unit="ms"`) or ISO strings.
  for (const c of columns) {
    if (types[c] !== "temporal") continue;
    rows = rows.map((r) => ({ ...r, [c]: toDate(r[c]) }));
  }
  return { columns, rows, types };
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ][\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?$/;

function inferType(rows: Array<Record<string, unknown>>, column: string): ColumnType {
  let numbers = 0;
  let dates = 0;
  let present = 0;
  for (const r of rows) {
    const v = r[column];
    if (v === null || v === undefined) continue;
    present++;
    if (typeof v === "number") numbers++;
    else if (v instanceof Date || (typeof v === "string" && ISO_DATE.test(v))) dates++;
  }
  if (present && numbers === present) return "quantitative";
  if (present && dates === present) return "temporal";
  return "nominal";
}

function toDate(v: unknown): unknown {
  if (typeof v === "number" || typeof v === "string") return new Date(v);
  return v;
}

/**
 * The column a prop names; a name the rows lack is an error listing the columns and the
 * nearest one. An absent prop falls back to the column at `fallback` (x: the first, y: the second).
 */
export function column(table: PlotTable, prop: string, name: unknown, fallback?: number): string | undefined {
  if (name === undefined || name === null) return fallback === undefined ? undefined : table.columns[fallback];
  const s = String(name);
  if (table.columns.includes(s)) return s;
  const near = nearest(s, table.columns);
  throw new PlotDataError(`${prop}: "${s}" is not a column of the plot's rows. Columns: ${table.columns.join(", ")}.${near ? ` Did you mean "${near}"?` : ""}`);
}

/** The closest name within a third of its length in edits, if any. */
export function nearest(name: string, choices: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Math.max(2, Math.ceil(name.length / 3)) + 1;
  for (const c of choices) {
    const d = distance(name.toLowerCase(), c.toLowerCase());
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best;
}

function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

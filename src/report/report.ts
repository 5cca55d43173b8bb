/**
 * The run's visual report: one self-contained HTML page (inline CSS and inline SVG, no scripts, no
 * network) with the run's settings, its final metrics, the training loss, the test metrics over
 * training and a 2-D map of the test embeddings with the cluster centres.
 *
 * Everything is drawn here by hand so that the page opens offline, years later, exactly as it was
 * written, and so that the same run always gives byte-identical HTML.
 */
import { MagnetInputError } from "../errors.ts";
import { Random } from "../util/random.ts";
import type { EvalMetrics } from "../eval/evaluate.ts";
import type { HistoryPoint } from "../train/trainer.ts";

/** The test embeddings to map, with their classes and optionally the cluster centres. */
export interface EmbeddingData {
  /** Row-major n x dim embeddings. */
  points: Float32Array;
  /** Width of an embedding row. */
  dim: number;
  /** Class of each row: an index into `classNames`. */
  labels: Int32Array;
  /** Name of each class. */
  classNames: string[];
  /** Cluster centres in the same space (n_centres x dim), optional. */
  centres?: Float32Array;
  /** Class of each centre. */
  centreClasses?: Int32Array;
}

/** Everything the report shows. */
export interface ReportData {
  /** The page's heading, e.g. "magnet on MNIST (webgpu)". */
  title: string;
  /** Settings to list in a table; nested plain objects are listed with dotted keys. */
  config: Record<string, unknown>;
  /**
   * Final metrics and timings. Keys ending in "Error" are fractions shown as percentages; keys
   * ending in "Seconds" (or "Ms") are durations shown with units.
   */
  summary: Record<string, number | string | null>;
  /** The training log, in any order (it is sorted by iteration). */
  history: HistoryPoint[];
  /** The test embeddings to map. */
  embedding: EmbeddingData;
}

/** How {@link renderReport} draws the embedding map. */
export interface ReportOptions {
  /**
   * The 2-D projection of the embedding map. "umap" needs {@link loadUmap} to have been awaited
   * first and takes some seconds for a few thousand points. Default "pca".
   */
  projection?: "pca" | "umap";
  /** Seed of UMAP's random choices; the same seed gives the same map. Default 1. */
  seed?: number;
  /** Most embedding points drawn (a deterministic subsample beyond it). Default 3000. */
  maxPoints?: number;
}

/** A fitted 2-D principal component analysis. */
interface Pca {
  mean: Float64Array;
  /** The two unit components, dim values each (a zero vector where the data has no variance). */
  components: [Float64Array, Float64Array];
  /** Variance along each component. */
  variances: [number, number];
  /** Total variance (the trace of the covariance). */
  totalVariance: number;
}

/**
 * Projects row-major `points` (n x dim) onto their top two principal components, and `extra` rows
 * (cluster centres, say) with the same mean and components, so both land in one coordinate system.
 *
 * The components come from a power iteration with deflation on the float64 covariance, started from
 * a fixed vector, so the result depends only on the input. Each component's sign is fixed by making
 * its largest-magnitude entry positive. Where the data has fewer than two directions of variance
 * (dim 1, or all points on a line), the missing coordinate is 0.
 *
 * @returns `points`: n x 2 coordinates; `extra`: m x 2 coordinates, or null without `extra`
 * @throws {MagnetInputError} when `dim` is not a positive integer or a length is not a multiple of it
 *
 * @example
 * ```ts
 * const { points } = projectTo2d(new Float32Array([0, 0, 0, 2, 0, 0, 4, 0, 1]), 3);
 * // points ~ [-2, -0.33, 0, 0.67, 2, -0.33] (up to the sign convention)
 * ```
 */
export function projectTo2d(
  points: Float32Array,
  dim: number,
  extra?: Float32Array,
): { points: Float32Array; extra: Float32Array | null } {
  checkRows("projectTo2d: points", points, dim);
  if (extra) checkRows("projectTo2d: extra", extra, dim);
  const pca = fitPca(points, dim);
  return {
    points: applyPca(pca, points, dim),
    extra: extra ? applyPca(pca, extra, dim) : null,
  };
}

/**
 * Renders the run's report as a complete, self-contained HTML document: a header with the title, a
 * summary table and a configuration table, then three inline SVG figures: the training loss, the
 * test error (magnet rule and k-NN, with retrieval and clustering scores in a second panel and a
 * table), and a PCA map of the test embeddings coloured by class with the cluster centres.
 *
 * The page has no scripts and no external references; hovering a point shows its values through SVG
 * `<title>` elements. Every interpolated string is escaped.
 *
 * @throws {MagnetInputError} when the embedding arrays disagree in size
 *
 * @example
 * ```ts
 * await Deno.writeTextFile("runs/x/report.html", renderReport(data));
 * ```
 */
export function renderReport(data: ReportData, options: ReportOptions = {}): string {
  const projection = options.projection ?? "pca";
  if (projection !== "pca" && projection !== "umap") {
    throw new MagnetInputError(
      `renderReport: unknown projection "${projection}"; use "pca" or "umap"`,
    );
  }
  if (projection === "umap" && umapModule === null) {
    throw new MagnetInputError(
      'renderReport: projection "umap" needs `await loadUmap()` before rendering',
    );
  }
  const maxPoints = options.maxPoints ?? 3000;
  if (!Number.isInteger(maxPoints) || maxPoints < 1) {
    throw new MagnetInputError(
      `renderReport: maxPoints must be a positive integer, got ${maxPoints}`,
    );
  }
  checkEmbedding(data.embedding);
  const history = [...data.history].sort((a, b) => a.iteration - b.iteration);
  const title = esc(data.title);
  return [
    "<!DOCTYPE html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${title}</title>`,
    `<style>${STYLE}</style>`,
    "</head>",
    "<body>",
    "<main>",
    `<header><h1>${title}</h1>`,
    `<p class="sub">Deep metric learning run report${describeRun(history)}</p></header>`,
    '<section class="tables">',
    `<div><h2>Summary</h2>${summaryTable(data.summary)}</div>`,
    `<div><h2>Configuration</h2>${configTable(data.config)}</div>`,
    "</section>",
    lossFigure(history),
    errorFigure(history),
    embeddingFigure(data.embedding, maxPoints, projection, options.seed ?? 1),
    "</main>",
    "</body>",
    "</html>",
    "",
  ].join("\n");
}

/**
 * Loads umap-js (an npm package) so that `renderReport(data, { projection: "umap", seed })` can
 * draw a UMAP map. The import is dynamic so that the default PCA report never needs the package.
 *
 * @example
 * ```ts
 * await loadUmap();
 * const html = renderReport(data, { projection: "umap", seed: 1 });
 * ```
 */
export async function loadUmap(): Promise<void> {
  umapModule ??= await import("umap-js");
}

let umapModule: typeof import("umap-js") | null = null;

// ---------------------------------------------------------------------------------------------
// PCA

function checkRows(what: string, rows: Float32Array, dim: number): void {
  if (!Number.isInteger(dim) || dim < 1) {
    throw new MagnetInputError(`${what}: dim must be a positive integer, got ${dim}`);
  }
  if (rows.length % dim !== 0) {
    throw new MagnetInputError(`${what}: length ${rows.length} is not a multiple of dim ${dim}`);
  }
}

function fitPca(points: Float32Array, dim: number): Pca {
  const n = points.length / dim;
  const mean = new Float64Array(dim);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < dim; j++) mean[j] += points[r * dim + j];
  }
  if (n > 0) { for (let j = 0; j < dim; j++) mean[j] /= n; }
  // Forming the dim x dim covariance once makes each power step cost dim^2 instead of n * dim; the
  // embeddings are far narrower than the test set is long.
  const cov = new Float64Array(dim * dim);
  const centred = new Float64Array(dim);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < dim; j++) centred[j] = points[r * dim + j] - mean[j];
    for (let i = 0; i < dim; i++) {
      const ci = centred[i];
      if (ci === 0) continue;
      const row = i * dim;
      for (let j = i; j < dim; j++) cov[row + j] += ci * centred[j];
    }
  }
  const scale = n > 0 ? 1 / n : 0;
  for (let i = 0; i < dim; i++) {
    for (let j = i; j < dim; j++) {
      const v = cov[i * dim + j] * scale;
      cov[i * dim + j] = v;
      cov[j * dim + i] = v;
    }
  }
  let totalVariance = 0;
  for (let i = 0; i < dim; i++) totalVariance += cov[i * dim + i];
  const first = powerIteration(cov, dim, []);
  const second = powerIteration(cov, dim, [first.vector]);
  return {
    mean,
    components: [first.vector, second.vector],
    variances: [first.value, second.value],
    totalVariance,
  };
}

/**
 * The dominant eigenvector of the symmetric PSD matrix `cov` within the orthogonal complement of
 * `previous`. Re-orthogonalising every step (rather than subtracting lambda v v^T from the matrix
 * once) keeps rounding from leaking the earlier components back in.
 */
function powerIteration(
  cov: Float64Array,
  dim: number,
  previous: Float64Array[],
): { vector: Float64Array; value: number } {
  let v = new Float64Array(dim);
  // A fixed start vector with no symmetry (fractional parts of multiples of the golden ratio), so
  // it is never exactly orthogonal to an axis-aligned or evenly spread eigenvector.
  for (let i = 0; i < dim; i++) v[i] = 0.5 + ((i + 1) * 0.6180339887498949) % 1;
  if (!orthonormalise(v, previous)) return { vector: new Float64Array(dim), value: 0 };
  let w = new Float64Array(dim);
  let value = 0;
  let scale = 0;
  for (let i = 0; i < dim; i++) scale = Math.max(scale, cov[i * dim + i]);
  for (let iter = 0; iter < 5000; iter++) {
    for (let i = 0; i < dim; i++) {
      let s = 0;
      const row = i * dim;
      for (let j = 0; j < dim; j++) s += cov[row + j] * v[j];
      w[i] = s;
    }
    let rayleigh = 0;
    for (let i = 0; i < dim; i++) rayleigh += v[i] * w[i];
    value = rayleigh;
    // The residual |C v - lambda v| bounds the distance to an eigenpair, so it is the stopping rule
    // that does not depend on the (unknown) gap between eigenvalues.
    let residual = 0;
    for (let i = 0; i < dim; i++) residual += (w[i] - rayleigh * v[i]) ** 2;
    if (!orthonormalise(w, previous)) {
      // Nothing of C v is left outside the earlier components: no variance in this direction.
      return { vector: new Float64Array(dim), value: 0 };
    }
    [v, w] = [w, v];
    if (Math.sqrt(residual) <= 1e-12 * Math.max(scale, 1e-300)) break;
  }
  // The sign of an eigenvector is arbitrary; fixing it keeps the map's orientation stable.
  let big = 0;
  for (let i = 1; i < dim; i++) if (Math.abs(v[i]) > Math.abs(v[big]) + 1e-12) big = i;
  if (v[big] < 0) { for (let i = 0; i < dim; i++) v[i] = -v[i]; }
  return { vector: v, value: Math.max(value, 0) };
}

/** Removes the `basis` directions from `v` and normalises it; false when nothing is left. */
function orthonormalise(v: Float64Array, basis: Float64Array[]): boolean {
  let before = 0;
  for (let i = 0; i < v.length; i++) before += v[i] * v[i];
  // Twice, because one Gram-Schmidt pass leaves rounding-sized components behind.
  for (let pass = 0; pass < 2; pass++) {
    for (const b of basis) {
      let dot = 0;
      for (let i = 0; i < v.length; i++) dot += v[i] * b[i];
      for (let i = 0; i < v.length; i++) v[i] -= dot * b[i];
    }
  }
  let norm = 0;
  for (let i = 0; i < v.length; i++) norm += v[i] * v[i];
  if (!(norm > 1e-24 * before) || !(norm > 0) || !Number.isFinite(norm)) return false;
  const inv = 1 / Math.sqrt(norm);
  for (let i = 0; i < v.length; i++) v[i] *= inv;
  return true;
}

function applyPca(pca: Pca, rows: Float32Array, dim: number): Float32Array {
  const n = rows.length / dim;
  const out = new Float32Array(n * 2);
  const [a, b] = pca.components;
  for (let r = 0; r < n; r++) {
    let x = 0, y = 0;
    for (let j = 0; j < dim; j++) {
      const c = rows[r * dim + j] - pca.mean[j];
      x += c * a[j];
      y += c * b[j];
    }
    out[2 * r] = x;
    out[2 * r + 1] = y;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Text and numbers

/** Escapes text for HTML element content and double- or single-quoted attribute values. */
function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** An SVG coordinate to 0.1 px: finer is invisible and only makes the file bigger. */
function px(v: number): string {
  return String(Math.round(v * 10) / 10);
}

/** A plain number for people: integers whole, others to four significant digits. */
function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  if (Math.abs(v) >= 1000) return v.toFixed(1);
  if (Math.abs(v) < 1e-4) return v.toExponential(3);
  return String(Number(v.toPrecision(4)));
}

function formatPercent(fraction: number, digits = 2): string {
  if (!Number.isFinite(fraction)) return String(fraction);
  return `${(fraction * 100).toFixed(digits)}%`;
}

/** A duration in seconds with the unit that keeps it short. */
function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return String(s);
  if (s < 0) return `-${formatSeconds(-s)}`;
  if (s === 0) return "0 s";
  if (s < 1e-3) return `${Number((s * 1e6).toPrecision(3))} µs`;
  if (s < 1) return `${Number((s * 1e3).toPrecision(3))} ms`;
  if (s < 60) return `${Number(s.toPrecision(3))} s`;
  if (s < 3600) {
    const m = Math.floor(s / 60);
    return `${m} min ${Math.round(s - 60 * m)} s`;
  }
  const h = Math.floor(s / 3600);
  return `${h} h ${Math.round((s - 3600 * h) / 60)} min`;
}

/** Formats a summary value by what its key says it is. */
function formatSummary(key: string, value: number | string | null): string {
  if (value === null) return "—";
  if (typeof value === "string") return value;
  if (/error$/i.test(key)) return formatPercent(value);
  if (/seconds$/i.test(key)) return formatSeconds(value);
  if (/[a-z]Ms$/.test(key) || key === "ms") return formatSeconds(value / 1000);
  return formatNumber(value);
}

function formatConfigValue(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "—";
  if (typeof value === "number") return formatNumber(value);
  if (typeof value === "string") return value;
  if (typeof value === "boolean" || typeof value === "bigint") return String(value);
  if (typeof value === "function" || typeof value === "symbol") return String(value);
  try {
    const json = JSON.stringify(value, (_k, v) => typeof v === "bigint" ? String(v) : v);
    return json === undefined ? String(value) : json;
  } catch {
    // Cyclic objects cannot be shown as JSON; the table must still render.
    return String(value);
  }
}

/** Lists nested plain objects with dotted keys, so a table row never holds a wall of JSON. */
function flattenConfig(
  config: Record<string, unknown>,
  prefix = "",
  out: [string, string][] = [],
  depth = 0,
): [string, string][] {
  for (const [key, value] of Object.entries(config)) {
    const name = prefix + key;
    if (
      depth < 4 && value !== null && typeof value === "object" && !Array.isArray(value) &&
      !ArrayBuffer.isView(value) && Object.getPrototypeOf(value) === Object.prototype
    ) {
      flattenConfig(value as Record<string, unknown>, `${name}.`, out, depth + 1);
    } else {
      out.push([name, formatConfigValue(value)]);
    }
  }
  return out;
}

/** Cuts a long value for the table; the full text stays in the cell's hover title. */
function cell(text: string, limit = 80): string {
  if (text.length <= limit) return `<td>${esc(text)}</td>`;
  return `<td title="${esc(text)}">${esc(text.slice(0, limit - 1))}…</td>`;
}

/** A key/value table split into two column pairs, so a long list stays short on the page. */
function pairsTable(rows: [string, string][], empty: string, pairs: number): string {
  if (rows.length === 0) return `<p class="empty">${esc(empty)}</p>`;
  const perColumn = Math.ceil(rows.length / pairs);
  const body: string[] = [];
  for (let r = 0; r < perColumn; r++) {
    let tr = "<tr>";
    for (let p = 0; p < pairs; p++) {
      const row = rows[p * perColumn + r];
      tr += row ? `<th scope="row">${esc(row[0])}</th>${cell(row[1])}` : "<th></th><td></td>";
    }
    body.push(`${tr}</tr>`);
  }
  return `<table class="kv">${body.join("")}</table>`;
}

function summaryTable(summary: Record<string, number | string | null>): string {
  const rows = Object.entries(summary).map(([k, v]): [string, string] => [k, formatSummary(k, v)]);
  return pairsTable(rows, "No summary recorded.", 1);
}

function configTable(config: Record<string, unknown>): string {
  const rows = flattenConfig(config);
  return pairsTable(rows, "No settings recorded.", rows.length > 8 ? 2 : 1);
}

function describeRun(history: HistoryPoint[]): string {
  if (history.length === 0) return "";
  const last = history[history.length - 1];
  const parts = [`${last.iteration} iterations`];
  if (Number.isFinite(last.seconds) && last.seconds > 0) parts.push(formatSeconds(last.seconds));
  return ` · ${esc(parts.join(" in "))}`;
}

// ---------------------------------------------------------------------------------------------
// Axes

interface Frame {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** One axis: its domain in plotted units, ticks, and how data values map into those units. */
interface Axis {
  lo: number;
  hi: number;
  ticks: number[];
  /** Minor grid lines without labels (the 2s and 5s of a log axis). */
  minor: number[];
  label(t: number): string;
  /** Data value to plotted units (log10 on a log axis). */
  unit(v: number): number;
}

function niceStep(span: number, target: number): number {
  const raw = span / target;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const f = raw / magnitude;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * magnitude;
}

/** A linear axis over [lo, hi] widened to whole ticks. */
function linearAxis(lo: number, hi: number, target: number, suffix = ""): Axis {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) [lo, hi] = [0, 1];
  if (!(hi > lo)) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    [lo, hi] = [lo - pad, hi + pad];
  }
  const step = niceStep(hi - lo, target);
  const first = Math.floor(lo / step + 1e-9), last = Math.ceil(hi / step - 1e-9);
  const ticks: number[] = [];
  // Multiplying integer tick indices avoids the drift of repeated addition (0.30000000000000004).
  for (let i = first; i <= last; i++) ticks.push(Number((i * step).toPrecision(12)));
  // Enough decimals to tell ticks apart: from the step's magnitude, or its own digits (2.5).
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9), countDecimals(step));
  return {
    lo: first * step,
    hi: last * step,
    ticks,
    minor: [],
    label: (t) => {
      if (Math.abs(t) >= 10000 && step >= 1000 && t % 1000 === 0) return `${t / 1000}k${suffix}`;
      return `${t.toFixed(decimals)}${suffix}`;
    },
    unit: (v) => v,
  };
}

function countDecimals(v: number): number {
  const s = String(v);
  const dot = s.indexOf(".");
  return dot < 0 || s.includes("e") ? 0 : s.length - dot - 1;
}

/** A log10 axis over whole decades, for losses that fall by orders of magnitude. */
function logAxis(lo: number, hi: number): Axis {
  const first = Math.floor(Math.log10(lo)), last = Math.ceil(Math.log10(hi));
  const ticks: number[] = [];
  const minor: number[] = [];
  for (let e = first; e <= last; e++) {
    ticks.push(e);
    if (e < last && last - first <= 4) minor.push(e + Math.log10(2), e + Math.log10(5));
  }
  return {
    lo: first,
    hi: Math.max(last, first + 1),
    ticks,
    minor,
    label: (t) => {
      const e = Math.round(t);
      return e >= -3 && e <= 4 ? String(Number((10 ** e).toPrecision(1))) : `1e${e}`;
    },
    unit: (v) => Math.log10(v),
  };
}

function xPos(f: Frame, a: Axis, v: number): number {
  return f.left + ((a.unit(v) - a.lo) / (a.hi - a.lo)) * f.width;
}

function yPos(f: Frame, a: Axis, v: number): number {
  return f.top + f.height - ((a.unit(v) - a.lo) / (a.hi - a.lo)) * f.height;
}

/** Grid, frame, ticks, tick labels and axis titles of one panel. */
function drawAxes(f: Frame, x: Axis, y: Axis, xTitle: string, yTitle: string): string {
  const out: string[] = [];
  const right = f.left + f.width, bottom = f.top + f.height;
  const toX = (t: number) => f.left + ((t - x.lo) / (x.hi - x.lo)) * f.width;
  const toY = (t: number) => bottom - ((t - y.lo) / (y.hi - y.lo)) * f.height;
  let grid = "";
  for (const t of y.minor) grid += `M${px(f.left)} ${px(toY(t))}H${px(right)}`;
  if (grid) out.push(`<path class="grid minor" d="${grid}"/>`);
  grid = "";
  for (const t of y.ticks) grid += `M${px(f.left)} ${px(toY(t))}H${px(right)}`;
  for (const t of x.ticks) grid += `M${px(toX(t))} ${px(f.top)}V${px(bottom)}`;
  out.push(`<path class="grid" d="${grid}"/>`);
  out.push(
    `<rect class="frame" x="${px(f.left)}" y="${px(f.top)}" width="${px(f.width)}" height="${
      px(f.height)
    }"/>`,
  );
  let marks = "";
  for (const t of x.ticks) marks += `M${px(toX(t))} ${px(bottom)}v5`;
  for (const t of y.ticks) marks += `M${px(f.left)} ${px(toY(t))}h-5`;
  out.push(`<path class="tick" d="${marks}"/>`);
  for (const t of x.ticks) {
    out.push(
      `<text class="tl" x="${px(toX(t))}" y="${px(bottom + 18)}" text-anchor="middle">${
        esc(x.label(t))
      }</text>`,
    );
  }
  for (const t of y.ticks) {
    out.push(
      `<text class="tl" x="${px(f.left - 8)}" y="${px(toY(t) + 4)}" text-anchor="end">${
        esc(y.label(t))
      }</text>`,
    );
  }
  out.push(
    `<text class="at" x="${px(f.left + f.width / 2)}" y="${px(bottom + 38)}" text-anchor="middle">${
      esc(xTitle)
    }</text>`,
  );
  const cy = f.top + f.height / 2;
  out.push(
    `<text class="at" x="${px(f.left - 48)}" y="${
      px(cy)
    }" text-anchor="middle" transform="rotate(-90 ${px(f.left - 48)} ${px(cy)})">${
      esc(yTitle)
    }</text>`,
  );
  return out.join("");
}

/** A row of legend entries (line swatches or markers) starting at (x, y). */
function drawLegend(
  x: number,
  y: number,
  entries: { label: string; colour: string; dashed?: boolean; faint?: boolean }[],
): string {
  let out = "";
  for (const e of entries) {
    const style = `stroke="${e.colour}"${e.dashed ? ' stroke-dasharray="5 3"' : ""}${
      e.faint ? ' stroke-opacity="0.45"' : ""
    }`;
    out += `<path class="ln" d="M${px(x)} ${px(y)}h22" ${style}/>`;
    if (!e.faint) out += `<circle cx="${px(x + 11)}" cy="${px(y)}" r="3" fill="${e.colour}"/>`;
    out += `<text class="lg" x="${px(x + 28)}" y="${px(y + 4)}">${esc(e.label)}</text>`;
    x += 40 + approxTextWidth(e.label, 12);
  }
  return out;
}

/** A rough width of sans-serif text, enough to space legend entries without measuring. */
function approxTextWidth(text: string, size: number): number {
  let em = 0;
  for (const ch of text) {
    em += /[A-Z@%&MW]/.test(ch) ? 0.72 : /[ilj.,:;!|()' ]/.test(ch) ? 0.3 : 0.56;
  }
  return em * size;
}

function placeholder(f: Frame, message: string): string {
  return `<rect class="frame" x="${px(f.left)}" y="${px(f.top)}" width="${px(f.width)}" height="${
    px(f.height)
  }"/><text class="empty" x="${px(f.left + f.width / 2)}" y="${
    px(f.top + f.height / 2)
  }" text-anchor="middle">${esc(message)}</text>`;
}

function svgOpen(id: string, width: number, height: number, label: string): string {
  return `<svg id="${id}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${
    esc(label)
  }">`;
}

/**
 * Keeps the first, lowest, highest and last point of every pixel column, so a long series draws
 * the same envelope with a few thousand vertices instead of one per logged step.
 */
function decimate(xs: number[], ys: number[], toPx: (x: number) => number): number[] {
  if (xs.length <= 2000) return xs.map((_, i) => i);
  const keep: number[] = [];
  let column = NaN, lo = -1, hi = -1, first = -1, last = -1;
  const flush = () => {
    if (first < 0) return;
    for (const i of [...new Set([first, lo, hi, last])].sort((a, b) => a - b)) keep.push(i);
  };
  for (let i = 0; i < xs.length; i++) {
    const c = Math.floor(toPx(xs[i]));
    if (c !== column) {
      flush();
      column = c;
      first =
        lo =
        hi =
        last =
          i;
    } else {
      last = i;
      if (ys[i] < ys[lo]) lo = i;
      if (ys[i] > ys[hi]) hi = i;
    }
  }
  flush();
  return keep;
}

function polyline(xs: number[], ys: number[], keep: number[], f: Frame, x: Axis, y: Axis): string {
  let d = "";
  for (const i of keep) d += `${d ? "L" : "M"}${px(xPos(f, x, xs[i]))} ${px(yPos(f, y, ys[i]))}`;
  return d;
}

// ---------------------------------------------------------------------------------------------
// Figure 1: training loss

const LOSS_COLOUR = "#1f4e8c";
const SVG_WIDTH = 1080;

function lossFigure(history: HistoryPoint[]): string {
  const xs: number[] = [], ys: number[] = [], secs: number[] = [];
  let skipped = 0;
  for (const h of history) {
    if (h.loss === null) continue;
    if (!Number.isFinite(h.loss) || !Number.isFinite(h.iteration)) {
      skipped++;
      continue;
    }
    xs.push(h.iteration);
    ys.push(h.loss);
    secs.push(h.seconds);
  }
  const height = 330;
  const f: Frame = { left: 80, top: 44, width: SVG_WIDTH - 120, height: 220 };
  const parts = [svgOpen("fig-loss", SVG_WIDTH, height, "Training loss against iteration")];
  let caption = "Training loss at every logged step.";
  if (xs.length === 0) {
    parts.push(placeholder(f, "No training loss was recorded."));
    caption = "No training loss was recorded.";
  } else {
    let lo = Infinity, hi = -Infinity;
    for (const v of ys) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
    // Losses that fall by orders of magnitude flatten into the x axis on a linear scale.
    const useLog = lo > 0 && hi / lo >= 50;
    const y = useLog ? logAxis(lo, hi) : linearAxis(lo, hi, 5);
    const x = linearAxis(xs[0], xs[xs.length - 1], 10);
    parts.push(drawAxes(f, x, y, "iteration", useLog ? "loss (log scale)" : "loss"));
    const toPx = (v: number) => xPos(f, x, v);
    const smooth = xs.length >= 60;
    const legend: { label: string; colour: string; faint?: boolean }[] = [];
    parts.push(`<g clip-path="url(#clip-loss)">`);
    parts.push(
      `<clipPath id="clip-loss"><rect x="${f.left}" y="${f.top}" width="${f.width}" height="${f.height}"/></clipPath>`,
    );
    parts.push(
      `<path class="ln" stroke="${LOSS_COLOUR}"${smooth ? ' stroke-opacity="0.35"' : ""} d="${
        polyline(xs, ys, decimate(xs, ys, toPx), f, x, y)
      }"/>`,
    );
    if (smooth) {
      const window = Math.max(5, Math.round(xs.length / 40)) | 1;
      const avg = movingAverage(ys, window, useLog);
      parts.push(
        `<path class="ln thick" stroke="${LOSS_COLOUR}" d="${
          polyline(xs, avg, decimate(xs, avg, toPx), f, x, y)
        }"/>`,
      );
      legend.push({ label: "loss", colour: LOSS_COLOUR, faint: true });
      legend.push({ label: `moving average of ${window} logged steps`, colour: LOSS_COLOUR });
    } else {
      legend.push({ label: "loss", colour: LOSS_COLOUR });
    }
    parts.push("</g>");
    if (xs.length <= 300) {
      // Markers with hover titles only while they stay few enough to be told apart.
      for (let i = 0; i < xs.length; i++) {
        parts.push(
          `<circle cx="${px(toPx(xs[i]))}" cy="${px(yPos(f, y, ys[i]))}" r="${
            smooth ? 1.5 : 2.5
          }" fill="${LOSS_COLOUR}"><title>${
            esc(
              `iteration ${xs[i]}: loss ${formatNumber(ys[i])}` +
                (Number.isFinite(secs[i]) ? ` (${formatSeconds(secs[i])})` : ""),
            )
          }</title></circle>`,
        );
      }
    }
    parts.push(drawLegend(f.left, 22, legend));
    const final = ys[ys.length - 1];
    caption = `Training loss at ${xs.length} logged steps; last ${
      formatNumber(final)
    } at iteration ${xs[xs.length - 1]}${useLog ? " (log scale)" : ""}.`;
    if (skipped > 0) caption += ` ${skipped} non-finite values are left out.`;
  }
  parts.push("</svg>");
  return figure("loss", "1. Training loss", caption, parts.join(""));
}

/** A centred moving average; on a log axis it averages log values so spikes do not dominate. */
function movingAverage(ys: number[], window: number, geometric: boolean): number[] {
  const vals = geometric ? ys.map(Math.log) : ys;
  const prefix = new Float64Array(vals.length + 1);
  for (let i = 0; i < vals.length; i++) prefix[i + 1] = prefix[i] + vals[i];
  const half = window >> 1;
  return vals.map((_, i) => {
    const a = Math.max(0, i - half), b = Math.min(vals.length, i + half + 1);
    const m = (prefix[b] - prefix[a]) / (b - a);
    return geometric ? Math.exp(m) : m;
  });
}

function figure(id: string, heading: string, caption: string, body: string): string {
  return `<figure class="fig" id="figure-${id}"><h2>${esc(heading)}</h2>${body}<figcaption>${
    esc(caption)
  }</figcaption></figure>`;
}

// ---------------------------------------------------------------------------------------------
// Figure 2: test metrics

interface Series {
  label: string;
  colour: string;
  dashed?: boolean;
  xs: number[];
  ys: number[];
}

const MAGNET_COLOUR = "#d1495b";
const KNN_COLOUR = "#2e6fba";
const SCORE_SERIES: { key: keyof EvalMetrics; label: string; colour: string; dashed?: boolean }[] =
  [
    { key: "precisionAt1", label: "precision@1", colour: "#2a9d8f" },
    { key: "rPrecision", label: "R-precision", colour: "#e9a23b" },
    { key: "mapAtR", label: "MAP@R", colour: "#7b4fa0" },
    { key: "nmi", label: "NMI", colour: "#555555", dashed: true },
  ];

function errorFigure(history: HistoryPoint[]): string {
  const tests = history.filter((h) =>
    h.test !== undefined && Number.isFinite(h.iteration)
  ) as (HistoryPoint & { test: EvalMetrics })[];
  const height = 336;
  const left: Frame = { left: 80, top: 52, width: 400, height: 230 };
  const right: Frame = { left: 630, top: 52, width: 400, height: 230 };
  const parts = [svgOpen("fig-error", SVG_WIDTH, height, "Test metrics against iteration")];
  parts.push(`<text class="pt" x="${left.left}" y="18">Classification error</text>`);
  parts.push(`<text class="pt" x="${right.left}" y="18">Retrieval and clustering</text>`);
  if (tests.length === 0) {
    parts.push(placeholder(left, "No test evaluations were recorded."));
    parts.push(placeholder(right, "No test evaluations were recorded."));
    parts.push("</svg>");
    return figure(
      "error",
      "2. Test metrics",
      "The run recorded no test evaluations.",
      parts.join(""),
    );
  }
  const iterations = tests.map((t) => t.iteration);
  const x = linearAxis(iterations[0], iterations[iterations.length - 1], 6);

  const errors: Series[] = [];
  const magnet = pick(tests, (t) => t.magnetError);
  if (magnet.xs.length > 0) {
    errors.push({ label: "magnet-rule error", colour: MAGNET_COLOUR, ...magnet });
  }
  errors.push({ label: "k-NN error", colour: KNN_COLOUR, ...pick(tests, (t) => t.knnError) });
  let maxError = 0;
  for (const s of errors) for (const v of s.ys) maxError = Math.max(maxError, v * 100);
  // Errors start at zero so their size reads off the axis, not only their trend.
  const yErr = linearAxis(0, maxError > 0 ? maxError * 1.08 : 1, 5, "%");
  parts.push(drawAxes(left, x, yErr, "iteration", "test error"));
  parts.push(drawSeries(errors, left, x, yErr, 100, formatPercentOf100));
  parts.push(drawLegend(left.left, 38, errors));

  const scores: Series[] = SCORE_SERIES.map((s) => ({
    label: s.key === "nmi" ? "NMI (×100)" : s.label,
    colour: s.colour,
    dashed: s.dashed,
    ...pick(tests, (t) => t[s.key]),
  }));
  let lo = 100, hi = 0;
  for (const s of scores) {
    for (const v of s.ys) [lo, hi] = [Math.min(lo, v * 100), Math.max(hi, v * 100)];
  }
  if (lo > hi) [lo, hi] = [0, 100];
  const pad = Math.max((hi - lo) * 0.08, 0.5);
  const yScore = linearAxis(Math.max(0, lo - pad), Math.min(100, hi + pad), 5, "%");
  parts.push(drawAxes(right, x, yScore, "iteration", "score"));
  parts.push(drawSeries(scores, right, x, yScore, 100, formatPercentOf100));
  parts.push(drawLegend(right.left - 10, 38, scores));
  parts.push("</svg>");

  const last = tests[tests.length - 1].test;
  const caption = `Test metrics at ${tests.length} evaluation${tests.length === 1 ? "" : "s"}; ` +
    `final k-NN error ${formatPercent(last.knnError)}` +
    (last.magnetError !== null && Number.isFinite(last.magnetError)
      ? `, magnet-rule error ${formatPercent(last.magnetError)}`
      : "") +
    ".";
  return figure("error", "2. Test metrics", caption, parts.join("") + metricsTable(tests));
}

function formatPercentOf100(v: number): string {
  return `${v.toFixed(2)}%`;
}

function pick(
  tests: (HistoryPoint & { test: EvalMetrics })[],
  value: (t: EvalMetrics) => number | null,
): { xs: number[]; ys: number[] } {
  const xs: number[] = [], ys: number[] = [];
  for (const t of tests) {
    const v = value(t.test);
    if (v === null || !Number.isFinite(v)) continue;
    xs.push(t.iteration);
    ys.push(v);
  }
  return { xs, ys };
}

function drawSeries(
  series: Series[],
  f: Frame,
  x: Axis,
  y: Axis,
  factor: number,
  format: (v: number) => string,
): string {
  let out = "";
  for (const s of series) {
    const scaled = s.ys.map((v) => v * factor);
    const keep = scaled.map((_, i) => i);
    const dash = s.dashed ? ' stroke-dasharray="5 3"' : "";
    out += `<path class="ln thick" stroke="${s.colour}"${dash} d="${
      polyline(s.xs, scaled, keep, f, x, y)
    }"/>`;
    if (s.xs.length <= 200) {
      for (let i = 0; i < s.xs.length; i++) {
        out += `<circle cx="${px(xPos(f, x, s.xs[i]))}" cy="${
          px(yPos(f, y, scaled[i]))
        }" r="3.2" fill="${s.colour}"><title>${
          esc(`iteration ${s.xs[i]}: ${s.label} ${format(scaled[i])}`)
        }</title></circle>`;
      }
    }
  }
  return out;
}

/** The numbers behind figure 2, thinned to at most 10 evaluations (always with the last). */
function metricsTable(tests: (HistoryPoint & { test: EvalMetrics })[]): string {
  const limit = 10;
  let rows = tests.map((_, i) => i);
  if (tests.length > limit) {
    rows = [
      ...new Set(
        Array.from({ length: limit }, (_, i) => Math.round((i * (tests.length - 1)) / (limit - 1))),
      ),
    ];
  }
  const pct = (v: number | null) => v === null || !Number.isFinite(v) ? "—" : formatPercent(v);
  const head = "<tr><th>iteration</th><th>time</th><th>magnet-rule error</th><th>k-NN error</th>" +
    "<th>precision@1</th><th>R-precision</th><th>MAP@R</th><th>NMI</th></tr>";
  const body = rows.map((i) => {
    const h = tests[i], t = h.test;
    return `<tr><td>${h.iteration}</td><td>${esc(formatSeconds(h.seconds))}</td><td>${
      pct(t.magnetError)
    }</td><td>${pct(t.knnError)}</td><td>${pct(t.precisionAt1)}</td><td>${
      pct(t.rPrecision)
    }</td><td>${pct(t.mapAtR)}</td><td>${
      Number.isFinite(t.nmi) ? t.nmi.toFixed(4) : "—"
    }</td></tr>`;
  }).join("");
  const note = rows.length < tests.length
    ? `<caption>${rows.length} of ${tests.length} evaluations, evenly spaced</caption>`
    : "";
  return `<table class="metrics">${note}<thead>${head}</thead><tbody>${body}</tbody></table>`;
}

// ---------------------------------------------------------------------------------------------
// Figure 3: embedding map

/**
 * A categorical palette: Tableau's ten (distinct for the common 10-class case), then ten further
 * hues and lightnesses chosen to stay apart from them. Beyond 20 classes colours repeat.
 */
const PALETTE = [
  "#4e79a7",
  "#f28e2b",
  "#e15759",
  "#76b7b2",
  "#59a14f",
  "#edc948",
  "#b07aa1",
  "#ff9da7",
  "#9c755f",
  "#bab0ac",
  "#17becf",
  "#6a3d9a",
  "#8c2d04",
  "#b2df8a",
  "#e7298a",
  "#bcbd22",
  "#1f2f6b",
  "#cab2d6",
  "#4d4d4d",
  "#00735c",
];

function colourIndex(label: number): number {
  return ((label % PALETTE.length) + PALETTE.length) % PALETTE.length;
}

function checkEmbedding(e: EmbeddingData): void {
  checkRows("renderReport: embedding.points", e.points, e.dim);
  const n = e.points.length / e.dim;
  if (e.labels.length !== n) {
    throw new MagnetInputError(
      `renderReport: embedding has ${n} points but ${e.labels.length} labels`,
    );
  }
  if (e.centres) {
    checkRows("renderReport: embedding.centres", e.centres, e.dim);
    const m = e.centres.length / e.dim;
    if (e.centreClasses && e.centreClasses.length !== m) {
      throw new MagnetInputError(
        `renderReport: embedding has ${m} centres but ${e.centreClasses.length} centre classes`,
      );
    }
  }
}

/** Rows whose every coordinate is finite, gathered into a new array (the input if all are). */
function finiteRows(rows: Float32Array, dim: number): { rows: Float32Array; index: number[] } {
  const n = rows.length / dim;
  const index: number[] = [];
  outer: for (let r = 0; r < n; r++) {
    for (let j = 0; j < dim; j++) if (!Number.isFinite(rows[r * dim + j])) continue outer;
    index.push(r);
  }
  if (index.length === n) return { rows, index };
  const out = new Float32Array(index.length * dim);
  index.forEach((r, i) => out.set(rows.subarray(r * dim, (r + 1) * dim), i * dim));
  return { rows: out, index };
}

function className(e: EmbeddingData, label: number): string {
  return e.classNames[label] ?? `class ${label}`;
}

/** A 2-D map of the drawn points and the centres, with its axis titles. */
interface Map2d {
  /** x, y of each drawn point, in the order of `chosen`. */
  xy: Float32Array;
  /** x, y of each centre. */
  cxy: Float32Array;
  xTitle: string;
  yTitle: string;
  /** How the map was made, for the caption ("projected onto ..."). */
  description: string;
}

/** Below this UMAP's neighbour graph is meaningless; such tiny sets are shown with PCA. */
const UMAP_MIN_POINTS = 10;

function gatherRows(rows: Float32Array, dim: number, chosen: Int32Array): Float32Array {
  const out = new Float32Array(chosen.length * dim);
  chosen.forEach((r, i) => out.set(rows.subarray(r * dim, (r + 1) * dim), i * dim));
  return out;
}

function pcaMap(
  rows: Float32Array,
  dim: number,
  chosen: Int32Array,
  centres: Float32Array | null,
  note = "",
): Map2d {
  // Fitted on every point, not the drawn subsample: the subsample is only for the file's size.
  const pca = fitPca(rows, dim);
  const share = (v: number) =>
    pca.totalVariance > 0 ? ` (${(100 * v / pca.totalVariance).toFixed(1)}% of variance)` : "";
  return {
    xy: applyPca(pca, gatherRows(rows, dim, chosen), dim),
    cxy: centres ? applyPca(pca, centres, dim) : new Float32Array(0),
    xTitle: `PC 1${share(pca.variances[0])}`,
    yTitle: `PC 2${share(pca.variances[1])}`,
    description: `projected onto their top two principal components${note}`,
  };
}

function umapMap(
  rows: Float32Array,
  dim: number,
  chosen: Int32Array,
  centres: Float32Array | null,
  seed: number,
): Map2d {
  const toArrays = (flat: Float32Array) =>
    Array.from(
      { length: flat.length / dim },
      (_, r) => Array.from(flat.subarray(r * dim, (r + 1) * dim)),
    );
  const rng = new Random(seed);
  const neighbours = Math.min(15, chosen.length - 1);
  try {
    const umap = new umapModule!.UMAP({
      nComponents: 2,
      nNeighbors: neighbours,
      random: () => rng.next(),
    });
    const fitted = umap.fit(toArrays(gatherRows(rows, dim, chosen)));
    // Centres are placed by UMAP's out-of-sample transform: they are not part of the graph that
    // shapes the map, so they cannot pull it around.
    const placed = centres && centres.length > 0 ? umap.transform(toArrays(centres)) : [];
    const xy = Float32Array.from(fitted.flat());
    const cxy = Float32Array.from(placed.flat());
    if (xy.every(Number.isFinite) && cxy.every(Number.isFinite)) {
      return {
        xy,
        cxy,
        xTitle: "UMAP 1",
        yTitle: "UMAP 2",
        description: `mapped to 2-D by UMAP (${neighbours} neighbours, seed ${seed}; distances ` +
          "between clusters are not to scale)",
      };
    }
  } catch {
    // A degenerate set (all points equal, say) can defeat UMAP; the report still needs a map.
  }
  return pcaMap(rows, dim, chosen, centres, " (UMAP failed on this set)");
}

function embeddingFigure(
  e: EmbeddingData,
  maxPoints: number,
  projection: "pca" | "umap",
  seed: number,
): string {
  const heading = "3. Test embeddings";
  const width = SVG_WIDTH, height = 700;
  const f: Frame = { left: 80, top: 30, width: 620, height: 620 };
  const parts = [svgOpen("fig-embedding", width, height, "Test embeddings projected to 2-D")];
  const points = finiteRows(e.points, e.dim);
  const centres = e.centres ? finiteRows(e.centres, e.dim) : null;
  if (points.index.length === 0) {
    parts.push(placeholder(f, "No test embeddings were recorded."));
    parts.push("</svg>");
    return figure("embedding", heading, "No test embeddings were recorded.", parts.join(""));
  }
  // A strided subsample keeps every part of the set in proportion.
  const n = points.index.length;
  const take = Math.min(n, maxPoints);
  const chosen = new Int32Array(take);
  for (let i = 0; i < take; i++) chosen[i] = Math.floor((i * n) / take);
  const map = projection === "umap" && take >= UMAP_MIN_POINTS
    ? umapMap(points.rows, e.dim, chosen, centres?.rows ?? null, seed)
    : pcaMap(
      points.rows,
      e.dim,
      chosen,
      centres?.rows ?? null,
      projection === "umap" ? " (too few points for UMAP)" : "",
    );
  const { xy, cxy } = map;
  // Shuffled drawing order keeps one class from being painted over the others just because its
  // examples come last in the test set.
  const order = new Random(0x5eed).shuffle(Array.from({ length: take }, (_, i) => i));

  let xlo = Infinity, xhi = -Infinity, ylo = Infinity, yhi = -Infinity;
  for (let i = 0; i < xy.length / 2 + cxy.length / 2; i++) {
    const [x, y] = i < take
      ? [xy[2 * i], xy[2 * i + 1]]
      : [cxy[2 * (i - take)], cxy[2 * (i - take) + 1]];
    xlo = Math.min(xlo, x), xhi = Math.max(xhi, x), ylo = Math.min(ylo, y), yhi = Math.max(yhi, y);
  }
  // One scale for both axes: distances are the point of the map, so it must not be stretched.
  const span = Math.max(xhi - xlo, yhi - ylo, 1e-12) * 1.06;
  const xMid = (xlo + xhi) / 2, yMid = (ylo + yhi) / 2;
  const x = linearAxis(xMid - span / 2, xMid + span / 2, 8);
  const y = linearAxis(yMid - span / 2, yMid + span / 2, 8);
  const common = Math.max(x.hi - x.lo, y.hi - y.lo);
  // Widen the shorter axis to the same span so a unit is as long across as up.
  for (const a of [x, y]) {
    const extra = common - (a.hi - a.lo);
    if (extra > 0) {
      const step = a.ticks.length > 1 ? a.ticks[1] - a.ticks[0] : common;
      const below = Math.floor(extra / step / 2) * step;
      a.lo -= below;
      a.hi = a.lo + common;
      const first = Math.ceil(a.lo / step - 1e-9), last = Math.floor(a.hi / step + 1e-9);
      a.ticks = [];
      for (let i = first; i <= last; i++) a.ticks.push(Number((i * step).toPrecision(12)));
    }
  }
  parts.push(drawAxes(f, x, y, map.xTitle, map.yTitle));

  const counts = new Map<number, number>();
  let dots = "";
  for (const i of order) {
    const label = e.labels[points.index[chosen[i]]];
    counts.set(label, (counts.get(label) ?? 0) + 1);
    dots += `<circle class="k${colourIndex(label)}" cx="${px(xPos(f, x, xy[2 * i]))}" cy="${
      px(yPos(f, y, xy[2 * i + 1]))
    }" r="2.4"><title>${esc(className(e, label))}</title></circle>`;
  }
  parts.push(`<g class="dots">${dots}</g>`);

  let marks = "";
  const centreCount = cxy.length / 2;
  for (let c = 0; c < centreCount; c++) {
    const cls = e.centreClasses && centres ? e.centreClasses[centres.index[c]] : null;
    const cx = xPos(f, x, cxy[2 * c]), cy = yPos(f, y, cxy[2 * c + 1]);
    const fill = cls === null ? ' class="ctr nocls"' : ` class="ctr k${colourIndex(cls)}"`;
    marks += `<path${fill} d="M${px(cx)} ${px(cy - 7)}l7 7-7 7-7-7z"><title>${
      esc(cls === null ? "cluster centre" : `cluster centre of ${className(e, cls)}`)
    }</title></path>`;
  }
  if (marks) parts.push(`<g class="centres">${marks}</g>`);

  parts.push(classLegend(e, counts, f.left + f.width + 40, f.top, centreCount > 0));
  parts.push("</svg>");

  const classes = counts.size;
  let caption = `${take} of ${e.labels.length} test embeddings ${map.description}, coloured by ` +
    `class (${classes} class${classes === 1 ? "" : "es"})`;
  caption += centreCount > 0
    ? `; diamonds with a black outline are the ${centreCount} cluster centres, in their class colour.`
    : ".";
  if (n < e.labels.length) {
    caption += ` ${e.labels.length - n} embeddings with non-finite values are left out.`;
  }
  if (classes > PALETTE.length) caption += " With more than 20 classes, colours repeat.";
  return figure("embedding", heading, caption, parts.join(""));
}

/** The marker key shows shapes, not classes, so it is drawn in a colour no class uses. */
const KEY_GREY = "#8a94a3";

function classLegend(
  e: EmbeddingData,
  counts: Map<number, number>,
  left: number,
  top: number,
  withCentres: boolean,
): string {
  const out: string[] = [];
  let y = top + 10;
  out.push(`<circle fill="${KEY_GREY}" cx="${px(left + 6)}" cy="${px(y)}" r="4"/>`);
  out.push(`<text class="lg" x="${px(left + 18)}" y="${px(y + 4)}">test embedding</text>`);
  if (withCentres) {
    y += 22;
    out.push(
      `<path class="ctr" fill="${KEY_GREY}" d="M${px(left + 6)} ${px(y - 7)}l7 7-7 7-7-7z"/>`,
    );
    out.push(`<text class="lg" x="${px(left + 18)}" y="${px(y + 4)}">cluster centre</text>`);
  }
  y += 36;
  out.push(`<text class="pt" x="${px(left)}" y="${px(y)}">Classes</text>`);
  y += 8;
  const labels = [...counts.keys()].sort((a, b) => a - b);
  const shown = labels.length > 24 ? 22 : labels.length;
  for (const label of labels.slice(0, shown)) {
    y += 22;
    const name = className(e, label);
    const short = name.length > 26 ? `${name.slice(0, 25)}…` : name;
    out.push(
      `<g><title>${esc(`${name}: ${counts.get(label)} points`)}</title><rect class="k${
        colourIndex(label)
      }" x="${px(left)}" y="${px(y - 7)}" width="13" height="13" rx="2"/><text class="lg" x="${
        px(left + 20)
      }" y="${px(y + 4)}">${esc(short)}</text></g>`,
    );
  }
  if (shown < labels.length) {
    y += 22;
    out.push(
      `<text class="lg muted" x="${px(left)}" y="${px(y + 4)}">… and ${
        labels.length - shown
      } more classes</text>`,
    );
  }
  return out.join("");
}

// ---------------------------------------------------------------------------------------------
// Page style

const STYLE = [
  ":root{color-scheme:light}",
  "body{margin:0;background:#f6f7f9;color:#1d2430;" +
  "font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif}",
  "main{max-width:1120px;margin:0 auto;padding:18px 20px 40px}",
  "header h1{font-size:24px;margin:0 0 2px}",
  ".sub{margin:0 0 14px;color:#5b6473}",
  "h2{font-size:16px;margin:0 0 8px}",
  ".tables{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,2fr);gap:16px}",
  ".tables>div,.fig{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:12px 14px}",
  ".fig{margin:16px 0 0}",
  "figcaption{color:#5b6473;margin-top:4px}",
  "table{border-collapse:collapse;font-variant-numeric:tabular-nums}",
  ".kv{width:100%}",
  ".kv th{text-align:left;font-weight:600;color:#3a4352;padding:3px 10px 3px 0;white-space:nowrap}",
  ".kv td{padding:3px 18px 3px 0;word-break:break-word}",
  ".kv tr+tr th,.kv tr+tr td{border-top:1px solid #eef0f3}",
  ".metrics{margin-top:10px;width:100%}",
  ".metrics caption{caption-side:bottom;text-align:left;color:#5b6473;padding-top:4px}",
  ".metrics th,.metrics td{padding:3px 8px;text-align:right;border-bottom:1px solid #eef0f3}",
  ".metrics th{font-weight:600;color:#3a4352;border-bottom:1px solid #c9ced6}",
  ".empty{color:#5b6473}",
  "svg{display:block;width:100%;height:auto;max-width:1080px;font-family:inherit}",
  "svg .grid{stroke:#e6e9ee;stroke-width:1;fill:none}",
  "svg .grid.minor{stroke:#f1f3f6}",
  "svg .frame{fill:none;stroke:#9aa3b0;stroke-width:1}",
  "svg .tick{stroke:#9aa3b0;stroke-width:1}",
  "svg .tl{font-size:12px;fill:#4a5262}",
  "svg .at{font-size:13px;fill:#1d2430}",
  "svg .pt{font-size:14px;font-weight:600;fill:#1d2430}",
  "svg .lg{font-size:12px;fill:#1d2430}",
  "svg .muted{fill:#5b6473}",
  "svg text.empty{font-size:14px;fill:#5b6473}",
  "svg .ln{fill:none;stroke-width:1.3;stroke-linejoin:round;stroke-linecap:round}",
  "svg .ln.thick{stroke-width:2}",
  "svg .dots circle{fill-opacity:.72}",
  "svg .ctr{stroke:#000;stroke-width:1.4;fill-opacity:1}",
  "svg .ctr.nocls{fill:#fff}",
  ...PALETTE.map((c, i) => `.k${i}{fill:${c}}`),
].join("");

/**
 * A small SVG chart library: axes (linear, log, and equal-unit pairs for maps), line series with
 * markers and hover titles, labelled single points, legends, placeholders and a categorical
 * palette. Every function returns SVG markup as a string and depends only on its arguments, so
 * pages built from them are byte-identical for the same data. Used by the run report's figures and
 * meant for any other page of results.
 */
import { approxTextWidth, esc, px } from "./format.ts";

/** The plotting area of one panel, in SVG user units. */
export interface Frame {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** One axis: its domain in plotted units, ticks, and how data values map into those units. */
export interface Axis {
  /** Lower end of the domain, in plotted units. */
  lo: number;
  /** Upper end of the domain, in plotted units. */
  hi: number;
  /** Labelled ticks, in plotted units. */
  ticks: number[];
  /** Minor grid lines without labels (the 2s and 5s of a log axis). */
  minor: number[];
  /** A tick's label. */
  label(t: number): string;
  /** Data value to plotted units (log10 on a log axis). */
  unit(v: number): number;
}

/** A step of 1, 2, 2.5 or 5 times a power of ten giving about `target` intervals over `span`. */
export function niceStep(span: number, target: number): number {
  const raw = span / target;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const f = raw / magnitude;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * magnitude;
}

/**
 * A linear axis over [lo, hi] widened to whole ticks, about `target` of them; `suffix` follows
 * each tick label ("%"). An empty or non-finite range is widened around its value.
 */
export function linearAxis(lo: number, hi: number, target: number, suffix = ""): Axis {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) [lo, hi] = [0, 1];
  if (!(hi > lo)) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    [lo, hi] = [lo - pad, hi + pad];
  }
  const step = niceStep(hi - lo, target);
  return stepAxis(
    Math.floor(lo / step + 1e-9) * step,
    Math.ceil(hi / step - 1e-9) * step,
    step,
    suffix,
  );
}

/** A linear axis over [lo, hi] (multiples of `step`, or not) with a tick at each multiple. */
function stepAxis(lo: number, hi: number, step: number, suffix: string): Axis {
  const first = Math.ceil(lo / step - 1e-9), last = Math.floor(hi / step + 1e-9);
  const ticks: number[] = [];
  // Multiplying integer tick indices avoids the drift of repeated addition (0.30000000000000004).
  for (let i = first; i <= last; i++) ticks.push(Number((i * step).toPrecision(12)));
  // Enough decimals to tell ticks apart: from the step's magnitude, or its own digits (2.5).
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9), countDecimals(step));
  return {
    lo,
    hi,
    ticks,
    minor: [],
    label: (t) => {
      if (Math.abs(t) >= 10000 && step >= 1000 && t % 1000 === 0) return `${t / 1000}k${suffix}`;
      // Never "-0": a tick at zero computed from a negative index is still zero.
      return `${(t === 0 ? 0 : t).toFixed(decimals)}${suffix}`;
    },
    unit: (v) => v,
  };
}

function countDecimals(v: number): number {
  const s = String(v);
  const dot = s.indexOf(".");
  return dot < 0 || s.includes("e") ? 0 : s.length - dot - 1;
}

/** A log10 axis over whole decades, for values that fall by orders of magnitude (lo > 0). */
export function logAxis(lo: number, hi: number): Axis {
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

/**
 * Two linear axes with the same length per unit over [xlo, xhi] x [ylo, yhi], for a square frame:
 * a map whose distances matter must not be stretched along one axis. Both span the larger range
 * plus 3% each side, centred on the data (so the ends need not be ticks), with about `target`
 * ticks at the same step.
 */
export function equalAxes(
  xlo: number,
  xhi: number,
  ylo: number,
  yhi: number,
  target: number,
): [Axis, Axis] {
  if (!(xhi >= xlo)) [xlo, xhi] = [0, 0];
  if (!(yhi >= ylo)) [ylo, yhi] = [0, 0];
  const span = Math.max(xhi - xlo, yhi - ylo, 1e-12) * 1.06;
  const step = niceStep(span, target);
  const axis = (lo: number, hi: number) => {
    const mid = (lo + hi) / 2;
    return stepAxis(mid - span / 2, mid + span / 2, step, "");
  };
  return [axis(xlo, xhi), axis(ylo, yhi)];
}

/** Where data value `v` falls horizontally in `f` on axis `a`. */
export function xPos(f: Frame, a: Axis, v: number): number {
  return f.left + ((a.unit(v) - a.lo) / (a.hi - a.lo)) * f.width;
}

/** Where data value `v` falls vertically in `f` on axis `a`. */
export function yPos(f: Frame, a: Axis, v: number): number {
  return f.top + f.height - ((a.unit(v) - a.lo) / (a.hi - a.lo)) * f.height;
}

/** Grid, frame, ticks, tick labels and axis titles of one panel. */
export function drawAxes(f: Frame, x: Axis, y: Axis, xTitle: string, yTitle: string): string {
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
  if (grid) out.push(`<path class="grid" d="${grid}"/>`);
  out.push(
    `<rect class="frame" x="${px(f.left)}" y="${px(f.top)}" width="${px(f.width)}" height="${
      px(f.height)
    }"/>`,
  );
  let marks = "";
  for (const t of x.ticks) marks += `M${px(toX(t))} ${px(bottom)}v5`;
  for (const t of y.ticks) marks += `M${px(f.left)} ${px(toY(t))}h-5`;
  if (marks) out.push(`<path class="tick" d="${marks}"/>`);
  for (const t of x.ticks) {
    out.push(
      `<text class="tl" x="${px(toX(t))}" y="${px(bottom + 18)}" text-anchor="middle">${
        esc(x.label(t))
      }</text>`,
    );
  }
  let widest = 0;
  for (const t of y.ticks) {
    const label = y.label(t);
    widest = Math.max(widest, approxTextWidth(label, 12));
    out.push(
      `<text class="tl" x="${px(f.left - 8)}" y="${px(toY(t) + 4)}" text-anchor="end">${
        esc(label)
      }</text>`,
    );
  }
  out.push(
    `<text class="at" x="${px(f.left + f.width / 2)}" y="${px(bottom + 38)}" text-anchor="middle">${
      esc(xTitle)
    }</text>`,
  );
  // The y title sits clear of the widest tick label.
  const ty = f.left - Math.max(48, widest + 24), cy = f.top + f.height / 2;
  out.push(
    `<text class="at" x="${px(ty)}" y="${px(cy)}" text-anchor="middle" transform="rotate(-90 ${
      px(ty)
    } ${px(cy)})">${esc(yTitle)}</text>`,
  );
  return out.join("");
}

/** One legend entry: a line swatch (with a marker unless faint) and its label. */
export interface LegendEntry {
  label: string;
  colour: string;
  dashed?: boolean;
  /** A thin, half-transparent line without a marker (raw values behind a smoothed line). */
  faint?: boolean;
}

/**
 * Legend entries in rows starting at (x, y), wrapping to a new row 20 units lower before a row
 * would pass `maxWidth`.
 */
export function drawLegend(
  x: number,
  y: number,
  entries: LegendEntry[],
  maxWidth = Infinity,
): string {
  let out = "";
  let at = x;
  for (const e of entries) {
    const width = 40 + approxTextWidth(e.label, 12);
    if (at > x && at - x + width - 12 > maxWidth) [at, y] = [x, y + 20];
    const style = `stroke="${e.colour}"${e.dashed ? ' stroke-dasharray="5 3"' : ""}${
      e.faint ? ' stroke-opacity="0.45"' : ""
    }`;
    out += `<path class="ln" d="M${px(at)} ${px(y)}h22" ${style}/>`;
    if (!e.faint) out += `<circle cx="${px(at + 11)}" cy="${px(y)}" r="3" fill="${e.colour}"/>`;
    out += `<text class="lg" x="${px(at + 28)}" y="${px(y + 4)}">${esc(e.label)}</text>`;
    at += width;
  }
  return out;
}

/** An empty frame with a message in its middle, for a chart with nothing to draw. */
export function placeholder(f: Frame, message: string): string {
  return `<rect class="frame" x="${px(f.left)}" y="${px(f.top)}" width="${px(f.width)}" height="${
    px(f.height)
  }"/><text class="empty" x="${px(f.left + f.width / 2)}" y="${
    px(f.top + f.height / 2)
  }" text-anchor="middle">${esc(message)}</text>`;
}

/** The opening tag of an inline SVG of the given size, labelled for screen readers. */
export function svgOpen(id: string, width: number, height: number, label: string): string {
  return `<svg id="${id}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${
    esc(label)
  }">`;
}

/** A clip path named `id` to the frame `f` (reference it as `clip-path="url(#id)"`). */
export function clipPath(id: string, f: Frame): string {
  return `<clipPath id="${id}"><rect x="${px(f.left)}" y="${px(f.top)}" width="${
    px(f.width)
  }" height="${px(f.height)}"/></clipPath>`;
}

/**
 * Keeps the first, lowest, highest and last point of every pixel column, so a long series draws
 * the same envelope with a few thousand vertices instead of one per logged step.
 */
export function decimate(xs: number[], ys: number[], toPx: (x: number) => number): number[] {
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

/** The path data of the points `keep` of a series. */
export function polyline(
  xs: number[],
  ys: number[],
  keep: number[],
  f: Frame,
  x: Axis,
  y: Axis,
): string {
  let d = "";
  for (const i of keep) d += `${d ? "L" : "M"}${px(xPos(f, x, xs[i]))} ${px(yPos(f, y, ys[i]))}`;
  return d;
}

/** A line series: its points in data units, its legend entry and how its values read. */
export interface Series extends LegendEntry {
  xs: number[];
  ys: number[];
  /** Its values as text, when not the options' `format` (a score drawn on a percent axis). */
  format?(v: number): string;
}

/** How {@link drawSeries} labels values. */
export interface SeriesOptions {
  /** What the x values are, for hover titles ("iteration"). */
  xName: string;
  /** A y value as text ("4.00%"). */
  format(v: number): string;
  /** Most points that get markers with hover titles. Default 200. */
  maxMarkers?: number;
}

/**
 * Lines with markers (and hover titles) for each series. A series of one point has no line to
 * draw, so it gets a larger marker and its value written beside it; the labels of several such
 * points are spaced so they do not overlap, with a leader line where one had to move.
 */
export function drawSeries(series: Series[], f: Frame, x: Axis, y: Axis, o: SeriesOptions): string {
  let out = "";
  const labels: ValueLabel[] = [];
  for (const s of series) {
    if (s.xs.length === 0) continue;
    const dash = s.dashed ? ' stroke-dasharray="5 3"' : "";
    if (s.xs.length > 1) {
      const keep = s.xs.map((_, i) => i);
      out += `<path class="ln thick" stroke="${s.colour}"${dash} d="${
        polyline(s.xs, s.ys, keep, f, x, y)
      }"/>`;
    }
    const single = s.xs.length === 1;
    if (s.xs.length <= (o.maxMarkers ?? 200)) {
      for (let i = 0; i < s.xs.length; i++) {
        out += `<circle cx="${px(xPos(f, x, s.xs[i]))}" cy="${px(yPos(f, y, s.ys[i]))}" r="${
          single ? 4.5 : 3.2
        }" fill="${s.colour}"><title>${
          esc(`${o.xName} ${s.xs[i]}: ${s.label} ${(s.format ?? o.format)(s.ys[i])}`)
        }</title></circle>`;
      }
    }
    if (single) {
      labels.push({
        x: xPos(f, x, s.xs[0]),
        y: yPos(f, y, s.ys[0]),
        text: `${s.label} ${(s.format ?? o.format)(s.ys[0])}`,
        colour: s.colour,
      });
    }
  }
  return out + drawValueLabels(labels, f);
}

/** A value written next to its point. */
export interface ValueLabel {
  /** The point, in SVG units. */
  x: number;
  y: number;
  text: string;
  /** The series colour, for the leader line. */
  colour: string;
}

/**
 * Writes each label beside its point: to the right of points in the left 60% of the frame, else
 * to the left; labels that would overlap are pushed apart vertically (14 units apart) and kept in
 * the frame, with a leader line from the point when a label moved.
 */
export function drawValueLabels(labels: ValueLabel[], f: Frame): string {
  if (labels.length === 0) return "";
  const gap = 14;
  const placed = labels.map((l) => ({ ...l, ty: l.y })).sort((a, b) => a.y - b.y);
  // Push down past the previous label, then back up from the frame's bottom.
  for (let i = 1; i < placed.length; i++) {
    placed[i].ty = Math.max(placed[i].ty, placed[i - 1].ty + gap);
  }
  const bottom = f.top + f.height - 6;
  for (let i = placed.length - 1; i >= 0; i--) {
    const limit = i === placed.length - 1 ? bottom : placed[i + 1].ty - gap;
    placed[i].ty = Math.max(Math.min(placed[i].ty, limit), f.top + 10);
  }
  let out = "";
  for (const l of placed) {
    const right = l.x < f.left + 0.6 * f.width;
    const tx = right ? l.x + 12 : l.x - 12;
    if (Math.abs(l.ty - l.y) > 3) {
      out += `<path class="leader" stroke="${l.colour}" d="M${px(l.x)} ${px(l.y)}L${
        px(right ? tx - 3 : tx + 3)
      } ${px(l.ty)}"/>`;
    }
    out += `<text class="val" x="${px(tx)}" y="${px(l.ty + 4)}" text-anchor="${
      right ? "start" : "end"
    }">${esc(l.text)}</text>`;
  }
  return out;
}

/**
 * A categorical palette: Tableau's ten (distinct for the common 10-class case), then ten further
 * hues and lightnesses chosen to stay apart from them. Beyond 20 categories colours repeat. The
 * page's style gives class `k<i>` the fill of colour i.
 */
export const PALETTE: readonly string[] = [
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

/** The palette index of category `label` (any integer, negative ones included). */
export function colourIndex(label: number): number {
  return ((label % PALETTE.length) + PALETTE.length) % PALETTE.length;
}

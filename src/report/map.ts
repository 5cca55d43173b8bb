/**
 * The report's figure 3: a 2-D map of the test embeddings (PCA or UMAP, see projection.ts), one dot
 * per embedding in its class colour, the cluster centres as outlined diamonds, each class's name at
 * the median of its dots (up to 24 classes), a class legend, and a caption that names the
 * projection and, for PCA, the variance it keeps.
 */
import { MagnetInputError } from "../errors.ts";
import { Random } from "../util/random.ts";
import {
  colourIndex,
  drawAxes,
  equalAxes,
  type Frame,
  PALETTE,
  placeholder,
  svgOpen,
  xPos,
  yPos,
} from "./chart.ts";
import type { EmbeddingData } from "./data.ts";
import { figure, SVG_WIDTH } from "./figures.ts";
import { esc, formatCount, px } from "./format.ts";
import { checkRows } from "./pca.ts";
import { type Map2d, pcaMap, umapMap } from "./projection.ts";
import { choosePictured, drawThumbnails, MAX_THUMBNAILS, THUMBNAIL_SIDE } from "./thumbnails.ts";

/**
 * Checks that the embedding's arrays agree in size.
 *
 * @throws {MagnetInputError} naming the array that does not fit
 */
export function checkEmbedding(e: EmbeddingData): void {
  checkRows("renderReport: embedding.points", e.points, e.dim);
  const n = e.points.length / e.dim;
  if (e.labels.length !== n) {
    throw new MagnetInputError(
      `renderReport: embedding has ${n} points but ${e.labels.length} labels`,
    );
  }
  if (e.images) {
    const [h, w, c] = e.images.shape;
    if (![h, w].every((v) => Number.isInteger(v) && v > 0) || (c !== 1 && c !== 3)) {
      throw new MagnetInputError(
        `renderReport: embedding.images.shape must be [height, width, 1 or 3], got [${e.images.shape}]`,
      );
    }
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

/**
 * Figure 3. At most `maxPoints` embeddings are drawn (an even stride through the set); the
 * projection is fitted as projection.ts says. With the test images (`e.images`), figure 4 follows:
 * pictures of some of them on the same map.
 */
export function embeddingFigure(
  e: EmbeddingData,
  maxPoints: number,
  projection: "pca" | "umap",
  seed: number,
): string {
  const width = SVG_WIDTH, height = 700;
  const f: Frame = { left: 80, top: 30, width: 620, height: 620 };
  const parts = [svgOpen("fig-embedding", width, height, "Test embeddings projected to 2-D")];
  const points = finiteRows(e.points, e.dim);
  const centres = e.centres ? finiteRows(e.centres, e.dim) : null;
  if (points.index.length === 0) {
    parts.push(placeholder(f, "No test embeddings were recorded."));
    parts.push("</svg>");
    return figure(
      "embedding",
      "3. Test embeddings",
      "A map of the test embeddings would be here; none were recorded.",
      parts.join(""),
    );
  }
  // A strided subsample keeps every part of the set in proportion.
  const n = points.index.length;
  const take = Math.min(n, maxPoints);
  const chosen = new Int32Array(take);
  for (let i = 0; i < take; i++) chosen[i] = Math.floor((i * n) / take);
  const map: Map2d = projection === "umap"
    ? umapMap(points.rows, e.dim, chosen, centres?.rows ?? null, seed)
    : pcaMap(points.rows, e.dim, chosen, centres?.rows ?? null);
  const { xy, cxy } = map;
  // Shuffled drawing order keeps one class from being painted over the others just because its
  // examples come last in the test set.
  const order = new Random(0x5eed).shuffle(Array.from({ length: take }, (_, i) => i));

  let xlo = Infinity, xhi = -Infinity, ylo = Infinity, yhi = -Infinity;
  for (const c of [xy, cxy]) {
    for (let i = 0; i < c.length; i += 2) {
      [xlo, xhi] = [Math.min(xlo, c[i]), Math.max(xhi, c[i])];
      [ylo, yhi] = [Math.min(ylo, c[i + 1]), Math.max(yhi, c[i + 1])];
    }
  }
  // One scale for both axes: distances are the point of the map, so it must not be stretched.
  const [x, y] = equalAxes(xlo, xhi, ylo, yhi, 8);
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
  const named = counts.size <= NAMED_CLASSES;
  if (named) {
    const at = new Map<number, { xs: number[]; ys: number[] }>();
    for (let i = 0; i < take; i++) {
      const label = e.labels[points.index[chosen[i]]];
      if (!at.has(label)) at.set(label, { xs: [], ys: [] });
      at.get(label)!.xs.push(xPos(f, x, xy[2 * i]));
      at.get(label)!.ys.push(yPos(f, y, xy[2 * i + 1]));
    }
    let names = "";
    for (const [label, { xs, ys }] of [...at].sort((a, b) => a[0] - b[0])) {
      names += `<text class="cls" x="${px(median(xs))}" y="${px(median(ys) + 5)}" ` +
        `text-anchor="middle">${esc(className(e, label))}</text>`;
    }
    parts.push(`<g class="names">${names}</g>`);
  }

  parts.push(classLegend(e, counts, f.left + f.width + 40, f.top, centreCount > 0));
  parts.push("</svg>");

  const classes = counts.size;
  let caption = `${map.description} Each dot is one test embedding (${
    take === e.labels.length
      ? `all ${formatCount(take)}`
      : `${formatCount(take)} of ${formatCount(e.labels.length)}, evenly spaced`
  }), coloured by its class (${classes} class${classes === 1 ? "" : "es"})`;
  caption += centreCount > 0
    ? `; the ${centreCount} diamonds with a black outline are the cluster centres the magnet ` +
      "rule votes with, in their class colour. Dots of a class gathered around its own " +
      "centres, apart from other classes, mean the embedding separates the classes."
    : "; classes that form separate groups are told apart by the embedding.";
  if (named) caption += " Each class's name stands at the median of its dots.";
  if (n < e.labels.length) {
    caption += ` ${e.labels.length - n} embeddings with non-finite values are left out.`;
  }
  if (classes > PALETTE.length) caption += " With more than 20 classes, colours repeat.";
  const name = map.projection === "umap" ? "UMAP" : "PCA";
  const main = figure("embedding", `3. Test embeddings (${name})`, caption, parts.join(""));
  if (e.images === undefined) return main;
  const at = (i: number): [number, number] => [
    xPos(f, x, xy[2 * i]),
    yPos(f, y, xy[2 * i + 1]),
  ];
  const picks = choosePictured(take, at, f).map((i) => {
    const row = points.index[chosen[i]];
    const [cx, cy] = at(i);
    return { row, x: cx, y: cy, label: e.labels[row], name: className(e, e.labels[row]) };
  });
  const pictures = [
    svgOpen("fig-images", width, height, "Test images on the map of their embeddings"),
    drawAxes(f, x, y, map.xTitle, map.yTitle),
    `<g class="dots faint">${
      Array.from({ length: take }, (_, i) => {
        const [cx, cy] = at(i);
        return `<circle class="k${colourIndex(e.labels[points.index[chosen[i]]])}" cx="${
          px(cx)
        }" cy="${px(cy)}" r="1.6"/>`;
      }).join("")
    }</g>`,
    `<g class="thumbs">${drawThumbnails(e.images, picks, f)}</g>`,
    "</svg>",
  ].join("");
  const pictureCaption =
    `The map of figure 3 with ${picks.length} of the test images drawn where ` +
    `their embeddings fall (the one nearest the centre of each cell of a grid, at most ` +
    `${MAX_THUMBNAILS}, shrunk to at most ${THUMBNAIL_SIDE} pixels a side), framed in their ` +
    "class colour; hovering one names its class and file. Similar pictures close together mean " +
    "the embedding groups what looks alike.";
  return main + figure("images", `4. Test images on the map (${name})`, pictureCaption, pictures);
}

/** Up to this many classes, each class's name is written on the map (beyond, only the legend). */
const NAMED_CLASSES = 24;

function median(values: number[]): number {
  const sorted = values.slice().sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
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

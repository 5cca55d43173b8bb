/**
 * The run's visual report: one self-contained HTML page (inline CSS and inline SVG, no scripts, no
 * network) with the run's summary and settings, the training loss, the test metrics over training
 * and a 2-D map of the test embeddings with the cluster centres (and, for image data, pictures of
 * test images on that map). This module assembles the page; the parts live beside it: format.ts
 * (text and numbers), chart.ts (SVG chart primitives), figures.ts, map.ts and thumbnails.ts (the
 * figures), tables.ts, pca.ts, projection.ts and style.ts.
 *
 * Everything is drawn by hand so that the page opens offline, years later, exactly as it was
 * written, and so that the same run always gives byte-identical HTML.
 */
import { MagnetInputError } from "../errors.ts";
import type { ReportData, ReportOptions } from "./data.ts";
import { lossFigure, metricsFigure } from "./figures.ts";
import { esc, formatCount, formatSeconds } from "./format.ts";
import { checkEmbedding, embeddingFigure } from "./map.ts";
import { DEFAULT_KNN_K } from "./metrics.ts";
import { umapLoaded } from "./projection.ts";
import { STYLE } from "./style.ts";
import { configTable, summaryTable } from "./tables.ts";

export type {
  EmbeddingData,
  EmbeddingImages,
  ReportData,
  ReportOptions,
  RunSummary,
} from "./data.ts";
export { projectTo2d } from "./pca.ts";

/**
 * Renders the run's report as a complete, self-contained HTML document: a header with the title
 * and the run's length and duration, a summary table and a settings table, then three inline SVG
 * figures, each with a caption saying what it shows: the training loss, the test metrics over
 * training (errors, then retrieval and clustering scores, all in percent, with a table), and a map
 * of the test embeddings (PCA by default, or UMAP) coloured by class with the cluster centres; with
 * the test images (`embedding.images`), a fourth figure shows some of them on that map.
 *
 * The page has no scripts and no external references; hovering a point shows its values through SVG
 * `<title>` elements. Every interpolated string is escaped. The same data and options always give
 * the same bytes.
 *
 * @throws {MagnetInputError} when the embedding arrays disagree in size, the projection is unknown,
 *   or "umap" is asked for before `loadUmap` (umap.ts) was awaited
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
  if (projection === "umap" && !umapLoaded()) {
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
  const { summary } = data;
  // The charts' iteration axis runs to the run's end, even past the last logged point.
  const lastIteration = Math.max(
    Number.isFinite(summary.iterations) ? summary.iterations : 0,
    ...history.map((h) => Number.isFinite(h.iteration) ? h.iteration : 0),
  );
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
    `<p class="sub">Deep metric learning run report${describeRun(data)}</p></header>`,
    '<section class="tables">',
    `<div><h2>Summary</h2>${summaryTable(summary)}</div>`,
    `<div><h2>Settings</h2>${configTable(data.config)}</div>`,
    "</section>",
    lossFigure(history, lastIteration),
    metricsFigure(history, lastIteration, summary.knnK ?? DEFAULT_KNN_K),
    embeddingFigure(data.embedding, maxPoints, projection, options.seed ?? 1),
    "</main>",
    "</body>",
    "</html>",
    "",
  ].join("\n");
}

/** " · 600 iterations in 12.3 s": from the summary, the figures its table gives too. */
function describeRun(data: ReportData): string {
  const { iterations, time } = data.summary;
  const parts: string[] = [];
  if (Number.isFinite(iterations)) {
    parts.push(`${formatCount(iterations)} iteration${iterations === 1 ? "" : "s"}`);
  }
  if (Number.isFinite(time.seconds) && time.seconds > 0) parts.push(formatSeconds(time.seconds));
  return parts.length > 0 ? ` · ${esc(parts.join(" in "))}` : "";
}

/**
 * experiment.html: a self-contained page of an experiment's results (the claim, how it was run,
 * its tables and its curves), drawn with the run report's chart library and stylesheet. No
 * scripts, no external references; the same results always give the same bytes.
 */
import {
  drawAxes,
  drawLegend,
  drawSeries,
  type Frame,
  linearAxis,
  PALETTE,
  placeholder,
  svgOpen,
} from "../report/chart.ts";
import { esc, formatSeconds } from "../report/format.ts";
import { STYLE } from "../report/style.ts";
import type { ExperimentResults, ResultFigure, ResultTable } from "./types.ts";

const WIDTH = 1080, HEIGHT = 380;

function tableHtml(t: ResultTable): string {
  const head = `<tr>${t.columns.map((c) => `<th>${esc(c)}</th>`).join("")}</tr>`;
  const body = t.rows.map((row) =>
    `<tr>${
      row.map((cell, i) => (i === 0 ? `<th>${esc(cell)}</th>` : `<td>${esc(cell)}</td>`)).join("")
    }</tr>`
  ).join("");
  return `<figure class="fig"><h2>${
    esc(t.title)
  }</h2><div class="scroll"><table class="metrics results">${head}${body}</table></div>` +
    `<figcaption>${esc(t.caption)}</figcaption></figure>`;
}

function figureHtml(f: ResultFigure, id: string): string {
  const frame: Frame = { left: 80, top: 20, width: WIDTH - 110, height: HEIGHT - 110 };
  const xs = f.series.flatMap((s) => s.xs), ys = f.series.flatMap((s) => s.ys.map((y) => 100 * y));
  let body: string;
  if (xs.length === 0) {
    body = placeholder(frame, "no runs have finished yet");
  } else {
    const x = linearAxis(0, Math.max(...xs), 8);
    const y = linearAxis(Math.min(...ys), Math.max(...ys), 6, "%");
    const series = f.series.map((s, i) => ({
      label: s.label,
      colour: PALETTE[i % PALETTE.length],
      xs: s.xs,
      ys: s.ys.map((v) => 100 * v),
    }));
    body = drawAxes(frame, x, y, f.xTitle, f.yTitle) +
      drawSeries(series, frame, x, y, {
        xName: f.xTitle,
        format: (v) => `${v.toFixed(2)} %`,
      }) +
      drawLegend(frame.left, HEIGHT - 28, series, frame.width);
  }
  return `<figure class="fig"><h2>${esc(f.title)}</h2>${
    svgOpen(id, WIDTH, HEIGHT, f.title)
  }${body}</svg><figcaption>${esc(f.caption)}</figcaption></figure>`;
}

/** The page of `results`. */
export function renderExperimentPage(results: ExperimentResults): string {
  const r = results;
  const seeds = r.options.seeds.join(", ");
  const facts = [
    `${r.data.name}: ${r.data.train} training / ${r.data.test} test rows`,
    `${r.options.model.toUpperCase()}, ${r.options.iterations} steps per run`,
    `seed${r.options.seeds.length > 1 ? "s" : ""} ${seeds}`,
    `${r.runs.length} runs in ${formatSeconds(r.seconds)}`,
    r.backend,
  ];
  const title = esc(`${r.title}${r.options.quick ? " (quick)" : ""}`);
  return [
    "<!DOCTYPE html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${title}</title>`,
    `<style>${STYLE}.results th,.results td{padding:3px 12px 3px 0;text-align:right}` +
    ".results th:first-child{text-align:left}" +
    // A median and its range stay on one line; a table wider than the page scrolls.
    ".results td{white-space:nowrap}.scroll{overflow-x:auto}</style>",
    "</head>",
    "<body>",
    "<main>",
    `<header><h1>${title}</h1>`,
    `<p class="sub">${esc(facts.join(" · "))}</p>`,
    `<p><strong>The claim.</strong> ${esc(r.claim)}</p>`,
    r.complete ? "" : "<p><strong>Incomplete:</strong> the experiment was stopped before every " +
      "run finished; the tables cover the runs that did.</p>",
    `<p class="sub">Command: <code>${esc(r.command)}</code></p></header>`,
    ...r.tables.map(tableHtml),
    ...r.figures.map((f, i) => figureHtml(f, `curve-${i}`)),
    "</main>",
    "</body>",
    "</html>",
    "",
  ].join("\n");
}

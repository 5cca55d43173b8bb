/**
 * The report's two charts over training: the training loss (figure 1) and the test metrics at
 * each evaluation with their table (figure 2), each a `<figure>` with a caption that says what it
 * shows. Both share one iteration axis, from 0 to the run's last step.
 */
import type { EvalMetrics } from "../eval/evaluate.ts";
import type { HistoryPoint } from "../train/types.ts";
import {
  clipPath,
  decimate,
  drawAxes,
  drawLegend,
  drawSeries,
  type Frame,
  type LegendEntry,
  linearAxis,
  logAxis,
  placeholder,
  polyline,
  type Series,
  svgOpen,
  xPos,
  yPos,
} from "./chart.ts";
import { esc, formatCount, formatNmi, formatNumber, formatSeconds, px } from "./format.ts";
import { METRICS, metricValue } from "./metrics.ts";

/** Width of every figure's SVG, in user units. */
export const SVG_WIDTH = 1080;

const LOSS_COLOUR = "#1f4e8c";

/** A `<figure>` with a heading, its drawing and a caption. */
export function figure(id: string, heading: string, caption: string, body: string): string {
  return `<figure class="fig" id="figure-${id}"><h2>${esc(heading)}</h2>${body}<figcaption>${
    esc(caption)
  }</figcaption></figure>`;
}

/** The iteration axis of both charts: 0 to `last`, the run's last step. */
function iterationAxis(last: number, target: number) {
  return linearAxis(0, Number.isFinite(last) && last > 0 ? last : 1, target);
}

/**
 * Figure 1: the training loss of each logged interval against the iteration, with a moving
 * average once there are many points, on a log scale when it falls by orders of magnitude.
 */
export function lossFigure(history: HistoryPoint[], lastIteration: number): string {
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
  const height = 312;
  const f: Frame = { left: 80, top: 44, width: SVG_WIDTH - 120, height: 220 };
  const parts = [svgOpen("fig-loss", SVG_WIDTH, height, "Training loss against iteration")];
  const what = "The training loss against the training step (iteration): each point is the mean " +
    "loss of the batches since the previous point; lower is better.";
  let caption = `${what} No training loss was recorded.`;
  if (xs.length === 0) {
    parts.push(placeholder(f, "No training loss was recorded."));
  } else {
    let lo = Infinity, hi = -Infinity;
    for (const v of ys) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
    // Losses that fall by orders of magnitude flatten into the x axis on a linear scale.
    const useLog = lo > 0 && hi / lo >= 50;
    const y = useLog ? logAxis(lo, hi) : linearAxis(lo, hi, 5);
    const x = iterationAxis(Math.max(lastIteration, xs[xs.length - 1]), 10);
    parts.push(drawAxes(f, x, y, "iteration", useLog ? "loss (log scale)" : "loss"));
    const toPx = (v: number) => xPos(f, x, v);
    const smooth = xs.length >= 60;
    const legend: LegendEntry[] = [];
    let window = 0;
    parts.push(clipPath("clip-loss", f), `<g clip-path="url(#clip-loss)">`);
    if (xs.length > 1) {
      parts.push(
        `<path class="ln" stroke="${LOSS_COLOUR}"${smooth ? ' stroke-opacity="0.35"' : ""} d="${
          polyline(xs, ys, decimate(xs, ys, toPx), f, x, y)
        }"/>`,
      );
    }
    if (smooth) {
      window = Math.max(5, Math.round(xs.length / 40)) | 1;
      const avg = movingAverage(ys, window, useLog);
      parts.push(
        `<path class="ln thick" stroke="${LOSS_COLOUR}" d="${
          polyline(xs, avg, decimate(xs, avg, toPx), f, x, y)
        }"/>`,
      );
      legend.push({ label: "loss", colour: LOSS_COLOUR, faint: true });
      legend.push({ label: `moving average of ${window} points`, colour: LOSS_COLOUR });
    } else {
      legend.push({ label: "loss", colour: LOSS_COLOUR });
    }
    parts.push("</g>");
    if (xs.length === 1) {
      // One point has no line: drawSeries gives it a large marker and its value.
      parts.push(drawSeries([{ label: "loss", colour: LOSS_COLOUR, xs, ys }], f, x, y, {
        xName: "iteration",
        format: formatNumber,
      }));
    } else if (xs.length <= 300) {
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
    parts.push(drawLegend(f.left, 22, legend, f.width));
    caption = what +
      (smooth ? ` The thick line is a centred moving average of ${window} points.` : "") +
      (useLog ? " The loss axis is logarithmic." : "") +
      ` ${formatCount(xs.length)} point${xs.length === 1 ? "" : "s"}; the last is ${
        formatNumber(ys[ys.length - 1])
      } at iteration ${formatCount(xs[xs.length - 1])}.`;
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

/** An evaluation point: its step and time, and the metrics of the rows it measured. */
type Evaluated = { iteration: number; seconds: number; test: EvalMetrics };

/** A metric's values over the evaluations, in percent, skipping those not measured. */
function percentSeries(tests: Evaluated[], key: keyof EvalMetrics): { xs: number[]; ys: number[] } {
  const xs: number[] = [], ys: number[] = [];
  for (const t of tests) {
    const v = metricValue(t.test, key);
    if (v === null) continue;
    xs.push(t.iteration);
    ys.push(100 * v);
  }
  return { xs, ys };
}

function percentOf100(v: number): string {
  return `${v.toFixed(2)}%`;
}

/**
 * Figure 2: the metrics at each evaluation against the iteration, errors on the left (from zero)
 * and retrieval and clustering scores on the right, in percent (NMI times 100), with their table.
 * A run with validation rows draws its validation evaluations (its test rows are measured once, at
 * the end, in the summary); others draw their test evaluations.
 */
export function metricsFigure(history: HistoryPoint[], lastIteration: number, k: number): string {
  const split = history.some((h) => h.validation !== undefined) ? "validation" : "test";
  const tests: Evaluated[] = history
    .filter((h) => h[split] !== undefined && Number.isFinite(h.iteration))
    .map((h) => ({ iteration: h.iteration, seconds: h.seconds, test: h[split]! }));
  const Split = split === "test" ? "Test" : "Validation";
  const height = 350;
  const left: Frame = { left: 80, top: 66, width: 400, height: 230 };
  const right: Frame = { left: 630, top: 66, width: 400, height: 230 };
  const parts = [svgOpen("fig-error", SVG_WIDTH, height, `${Split} metrics against iteration`)];
  parts.push(
    `<text class="pt" x="${left.left}" y="18">Classification error (lower is better)</text>`,
  );
  parts.push(
    `<text class="pt" x="${right.left}" y="18">Retrieval and clustering (higher is better)</text>`,
  );
  const heading = `2. ${Split} metrics`;
  if (tests.length === 0) {
    parts.push(placeholder(left, `No ${split} evaluations were recorded.`));
    parts.push(placeholder(right, `No ${split} evaluations were recorded.`));
    parts.push("</svg>");
    return figure("error", heading, `The run recorded no ${split} evaluations.`, parts.join(""));
  }
  const x = iterationAxis(Math.max(lastIteration, tests[tests.length - 1].iteration), 6);
  const panel = (kind: "error" | "score"): Series[] =>
    METRICS.filter((m) => m.kind === kind)
      .map((m) => ({
        label: m.name(k),
        // NMI is drawn on the percent axis (times 100) but written as the score it is.
        ...(m.unit === "%" ? {} : { format: (v: number) => formatNmi(v / 100) }),
        colour: m.colour,
        dashed: m.dashed,
        ...percentSeries(tests, m.key),
      }))
      .filter((s) => s.xs.length > 0);
  const options = { xName: "iteration", format: percentOf100 };

  const errors = panel("error");
  let maxError = 0;
  for (const s of errors) for (const v of s.ys) maxError = Math.max(maxError, v);
  // Errors start at zero so their size reads off the axis, not only their trend.
  const yErr = linearAxis(0, maxError > 0 ? maxError * 1.08 : 1, 5, "%");
  parts.push(drawAxes(left, x, yErr, "iteration", `${split} error`));
  parts.push(drawSeries(errors, left, x, yErr, options));
  parts.push(drawLegend(left.left, 40, errors, left.width));

  const scores = panel("score");
  let lo = 100, hi = 0;
  for (const s of scores) for (const v of s.ys) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  if (lo > hi) [lo, hi] = [0, 100];
  const pad = Math.max((hi - lo) * 0.08, 0.5);
  const yScore = linearAxis(Math.max(0, lo - pad), Math.min(100, hi + pad), 5, "%");
  parts.push(drawAxes(right, x, yScore, "iteration", `${split} score`));
  parts.push(drawSeries(scores, right, x, yScore, options));
  parts.push(drawLegend(right.left, 40, scores, right.width));
  parts.push("</svg>");

  const withMagnet = tests.some((t) => metricValue(t.test, "magnetError") !== null);
  const caption =
    `The ${split} set's scores at ${tests.length} evaluation${
      tests.length === 1 ? "" : "s"
    }, against the training step, in percent (NMI times 100). Left: classification error${
      withMagnet
        ? " of the magnet rule (the class with the largest soft vote of the nearest cluster " +
          "centres) and"
        : ""
    } of ${k}-NN (the majority class of the ${k} nearest training embeddings). Right: ` +
    "precision@1 (the nearest training embedding has the same class), R-precision and MAP@R " +
    "(how many of the R nearest, R being the class's size in the training set, share the class, " +
    `and how early), and NMI (how well k-means clusters of the ${split} embeddings match the ` +
    "classes)." +
    (split === "validation"
      ? " The validation rows choose the model kept; the test rows are measured only once, at " +
        "the end (the summary)."
      : "") +
    (tests.length === 1
      ? " With one evaluation each metric is a single point with its value."
      : "");
  return figure("error", heading, caption, parts.join("") + metricsTable(tests, k));
}

/** The numbers behind figure 2, thinned to at most 10 evaluations (always with the last). */
function metricsTable(tests: Evaluated[], k: number): string {
  const limit = 10;
  let rows = tests.map((_, i) => i);
  if (tests.length > limit) {
    rows = [
      ...new Set(
        Array.from({ length: limit }, (_, i) => Math.round((i * (tests.length - 1)) / (limit - 1))),
      ),
    ];
  }
  // A metric never measured (the magnet rule of a baseline) gets no column.
  const columns = METRICS.filter((m) => tests.some((t) => metricValue(t.test, m.key) !== null));
  // One unit per column, named in the second header row; seconds to a precision the run needs.
  const longest = Math.max(...tests.map((t) => Number.isFinite(t.seconds) ? t.seconds : 0));
  const decimals = longest < 10 ? 2 : longest < 1000 ? 1 : 0;
  const names = ["iteration", "elapsed", ...columns.map((m) => m.name(k))];
  const units = ["", "s", ...columns.map((m) => m.unit)];
  const head = `<tr>${names.map((n) => `<th>${esc(n)}</th>`).join("")}</tr>` +
    `<tr class="units">${units.map((u) => `<th>${u}</th>`).join("")}</tr>`;
  const body = rows.map((i) => {
    const h = tests[i];
    const cells = [
      formatCount(h.iteration),
      Number.isFinite(h.seconds) ? h.seconds.toFixed(decimals) : "—",
      ...columns.map((m) => {
        const v = metricValue(h.test, m.key);
        return v === null ? "—" : m.unit === "%" ? (100 * v).toFixed(2) : formatNmi(v);
      }),
    ];
    return `<tr>${cells.map((c) => `<td>${c}</td>`).join("")}</tr>`;
  }).join("");
  const note = rows.length < tests.length
    ? `<caption>${rows.length} of ${tests.length} evaluations, evenly spaced</caption>`
    : "";
  return `<table class="metrics">${note}<thead>${head}</thead><tbody>${body}</tbody></table>`;
}

/**
 * The run report: a self-contained, deterministic page with three captioned figures, metrics named
 * in words and in percent, one duration, escaped text and a faithful PCA.
 */
import assert from "node:assert/strict";
import { MagnetInputError } from "../../src/errors.ts";
import { projectTo2d, renderReport, type ReportData } from "../../src/report/report.ts";
import { loadUmap } from "../../src/report/umap.ts";
import type { HistoryPoint } from "../../src/train/types.ts";
import { Random } from "../../src/util/random.ts";

/** A small run: `classes` Gaussian blobs in `dim` dimensions, a decaying loss, a few evaluations. */
function sampleData(
  options: { n?: number; classes?: number; dim?: number; centresPerClass?: number } = {},
): ReportData {
  const { n = 300, classes = 4, dim = 8, centresPerClass = 3 } = options;
  const rng = new Random(11);
  const means = Array.from(
    { length: classes },
    () => Array.from({ length: dim }, () => 4 * rng.normal()),
  );
  const points = new Float32Array(n * dim), labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % classes;
    for (let j = 0; j < dim; j++) points[i * dim + j] = means[i % classes][j] + rng.normal();
  }
  const m = classes * centresPerClass;
  const centres = new Float32Array(m * dim), centreClasses = new Int32Array(m);
  for (let c = 0; c < m; c++) {
    centreClasses[c] = c % classes;
    for (let j = 0; j < dim; j++) centres[c * dim + j] = means[c % classes][j] + 0.5 * rng.normal();
  }
  const history: HistoryPoint[] = [];
  for (let it = 0; it <= 1000; it += 50) {
    const evaluate = it > 0 && it % 250 === 0;
    history.push({
      iteration: it,
      loss: it === 500 ? null : 2 * Math.exp(-it / 300) + 0.1,
      seconds: it * 0.02,
      test: evaluate
        ? {
          magnetError: it === 250 ? null : 0.05,
          knnError: 0.04,
          precisionAt1: 0.96,
          rPrecision: 0.8,
          mapAtR: 0.7,
          nmi: 0.85,
        }
        : undefined,
    });
  }
  return {
    title: "magnet on synthetic (cpu)",
    config: { loss: "magnet", hidden: [32, 16], lr: 0.001, data: { name: "blobs", n } },
    summary: {
      metrics: {
        magnetError: 0.0517,
        knnError: 0.0283,
        precisionAt1: 0.9561,
        rPrecision: 0.8012,
        mapAtR: 0.7,
        nmi: 0.8504,
      },
      iterations: 1000,
      // Not the last history point's 20 s: the run's wall time includes the final evaluation.
      time: {
        seconds: 186.2,
        secondsPer1000Steps: 186.2,
        msPerStep: 12.5,
        refreshes: { count: 4, secondsEach: 0.25 },
        evaluations: { count: 4, secondsEach: 1.5 },
      },
      knnK: 5,
    },
    history,
    embedding: {
      points,
      dim,
      labels,
      classNames: Array.from({ length: classes }, (_, c) => `class-${c}`),
      centres,
      centreClasses,
    },
  };
}

function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

function assertWellFormed(html: string): void {
  assert.ok(html.startsWith("<!DOCTYPE html>"));
  assert.ok(html.trimEnd().endsWith("</html>"));
  assert.equal(count(html, "<svg"), 3);
  assert.equal(count(html, "</svg>"), 3);
  for (const id of ["fig-loss", "fig-error", "fig-embedding"]) {
    assert.ok(html.includes(`id="${id}"`));
  }
  // A non-finite number in an attribute makes the browser drop the element silently.
  assert.doesNotMatch(html, /NaN|Infinity|undefined/);
}

/** The text of the first element matching `pattern` (a regex with one group), or null. */
function first(html: string, pattern: RegExp): string | null {
  return html.match(pattern)?.[1] ?? null;
}

/** The figure's caption, unescaped enough to read. */
function caption(html: string, id: string): string {
  const text = first(html, new RegExp(`id="figure-${id}".*?<figcaption>(.*?)</figcaption>`, "s"));
  assert.ok(text !== null, `caption of figure ${id}`);
  return text;
}

/** A history whose only evaluation is at the end (`--eval-every 0`). */
function singleEvaluation(data: ReportData): ReportData {
  const last = data.history.length - 1;
  return {
    ...data,
    history: data.history.map((h, i) => {
      const { test: _test, ...rest } = h;
      return i === last ? { ...rest, test: data.summary.metrics! } : rest;
    }),
  };
}

Deno.test("renderReport", async (t) => {
  await t.step("is self-contained", () => {
    const html = renderReport(sampleData());
    assertWellFormed(html);
    const withoutNamespaces = html.replaceAll(/xmlns(:\w+)?="[^"]*"/g, "");
    assert.doesNotMatch(withoutNamespaces, /https?:\/\//);
    assert.doesNotMatch(html, /<script/i);
    assert.doesNotMatch(html, /<link/i);
    assert.doesNotMatch(html, /<img|@import|@font-face/i);
    // No event handlers either: the page is inert.
    assert.doesNotMatch(html, /\son[a-z]+=/i);
    // The only url() references are to fragments in the page itself (clip paths).
    for (const m of html.matchAll(/url\(([^)]*)\)/g)) assert.match(m[1], /^#/);
  });

  await t.step("is deterministic: the same data gives the same bytes", () => {
    const a = renderReport(sampleData());
    const b = renderReport(sampleData());
    assert.equal(a, b);
    // The input is not changed by rendering (the history is sorted in a copy).
    const data = sampleData();
    data.history.reverse();
    const before = JSON.stringify(data.history);
    assert.equal(renderReport(data), a);
    assert.equal(JSON.stringify(data.history), before);
  });

  await t.step("draws the three figures with their content", () => {
    const data = sampleData();
    const html = renderReport(data);
    assert.match(html, /<h1>magnet on synthetic \(cpu\)<\/h1>/);
    // One dot per test embedding (all drawn: fewer than the subsample limit) and one diamond per
    // centre, each in its class colour.
    assert.equal(count(html, '<circle class="k'), 300);
    assert.equal(count(html, 'class="ctr k'), 12);
    for (let c = 0; c < 4; c++) assert.ok(html.includes(`>class-${c}</text>`));
    // Each class's name on the map, among its dots: at the median of their coordinates.
    const map = first(html, /id="fig-embedding"(.*?)<\/svg>/s)!;
    for (let c = 0; c < 4; c++) {
      const name = new RegExp(`<text class="cls" x="([\\d.]+)" y="([\\d.]+)"[^>]*>class-${c}<`);
      const at = map.match(name);
      assert.ok(at !== null, `class-${c} is named on the map`);
      const dots = [...map.matchAll(/<circle class="k(\d+)" cx="([\d.]+)" cy="([\d.]+)"/g)]
        .filter((m) => Number(m[1]) === c).map((m) => [Number(m[2]), Number(m[3])]);
      const mid = (v: number[]) => {
        const s = v.sort((a, b) => a - b), h = s.length >> 1;
        return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
      };
      assert.ok(Math.abs(Number(at[1]) - mid(dots.map((d) => d[0]))) < 1, `x of class-${c}`);
      assert.ok(Math.abs(Number(at[2]) - 5 - mid(dots.map((d) => d[1]))) < 1, `y of class-${c}`);
    }
    // The null loss at iteration 500 is skipped, not drawn as 0.
    assert.ok(!html.includes("iteration 500: loss"));
    assert.ok(html.includes("iteration 450: loss"));
    // The null magnet error at iteration 250 is left out of its line; k-NN error is there.
    assert.ok(!html.includes("iteration 250: magnet-rule error"));
    assert.ok(html.includes("iteration 250: 5-NN error 4.00%"));
    // Both charts run from iteration 0 to the run's end.
    for (const id of ["fig-loss", "fig-error"]) {
      const svg = first(html, new RegExp(`id="${id}"(.*?)</svg>`, "s"))!;
      assert.match(svg, /text-anchor="middle">0<\/text>/);
      assert.match(svg, /text-anchor="middle">1000<\/text>/);
    }
  });

  await t.step("names the metrics in words, the same everywhere", () => {
    const html = renderReport(sampleData());
    const words = ["magnet-rule error", "5-NN error", "precision@1", "R-precision", "MAP@R", "NMI"];
    const summary = first(html, /<h2>Summary<\/h2>(.*?)<\/table>/s)!;
    const legend = first(html, /id="fig-error"(.*?)<\/svg>/s)!;
    const table = first(html, /<table class="metrics">(.*?)<\/table>/s)!;
    for (const word of words) {
      assert.ok(summary.includes(`<th scope="row">${word}</th>`), `summary: ${word}`);
      assert.ok(legend.includes(`>${word}</text>`), `legend: ${word}`);
      assert.ok(table.includes(`<th>${word}</th>`), `table: ${word}`);
    }
    // No field names of the code leak into the page.
    for (const key of ["knnError", "magnetError", "precisionAt1", "rPrecision", "mapAtR"]) {
      assert.ok(!html.includes(key), key);
    }
    // k-NN is named by the k it was measured with.
    const data = sampleData();
    data.summary.knnK = 7;
    const seven = renderReport(data);
    assert.ok(seven.includes("7-NN error") && !seven.includes("5-NN error"));
  });

  await t.step("gives every metric in percent but NMI, a score; one unit per column", () => {
    const html = renderReport(sampleData());
    const row = (name: string) =>
      first(html, new RegExp(`<th scope="row">${name}</th><td>([^<]*)</td>`));
    assert.equal(row("magnet-rule error"), "5.17%");
    assert.equal(row("5-NN error"), "2.83%");
    assert.equal(row("precision@1"), "95.61%");
    assert.equal(row("R-precision"), "80.12%");
    assert.equal(row("MAP@R"), "70.00%");
    assert.equal(row("NMI"), "0.850");
    // The metrics table names each column's unit once, in its second header row, and its cells
    // are bare numbers in that unit.
    const table = first(html, /<table class="metrics">(.*?)<\/table>/s)!;
    assert.match(
      table,
      /<tr class="units"><th><\/th><th>s<\/th><th>%<\/th><th>%<\/th><th>%<\/th><th>%<\/th><th>%<\/th><th><\/th><\/tr>/,
    );
    const body = first(table, /<tbody>(.*)<\/tbody>/s)!;
    assert.match(body, /<td>0\.850<\/td><\/tr>/);
    assert.doesNotMatch(body, /%|ms|min/);
    assert.match(
      body,
      /<tr><td>1,000<\/td><td>20\.0<\/td><td>5\.00<\/td><td>4\.00<\/td><td>96\.00<\/td>/,
    );
  });

  await t.step("gives the run's duration once, the same in the subtitle and the summary", () => {
    const html = renderReport(sampleData());
    const subtitle = first(html, /<p class="sub">([^<]*)<\/p>/)!;
    assert.equal(subtitle, "Deep metric learning run report · 1,000 iterations in 3 min 6 s");
    // Both read summary.time.seconds (186.2 s), not the last history point's 20 s.
    const wall = first(html, /<th scope="row">wall time<\/th><td>([^<]*)</);
    assert.equal(wall, "3 min 6 s");
    assert.equal(first(subtitle, / in (.*)$/), wall);
    assert.equal(first(html, /<th scope="row">iterations<\/th><td>([^<]*)</), "1,000");
    assert.equal(first(html, /<th scope="row">one step<\/th><td>([^<]*)</), "12.5 ms");
    assert.equal(first(html, /<th scope="row">evaluations<\/th><td>([^<]*)</), "4 × 1.5 s");
    // Nested settings are listed with dotted keys.
    assert.match(html, /data\.name<\/th><td>blobs<\/td>/);
    assert.match(html, /hidden<\/th><td>\[32,16\]<\/td>/);
  });

  await t.step("summarises a run without a final evaluation or magnet rule", () => {
    const data = sampleData();
    data.summary.metrics = null;
    data.summary.time = { ...data.summary.time, refreshes: { count: 0, secondsEach: null } };
    let html = renderReport(data);
    assertWellFormed(html);
    assert.match(html, /test metrics<\/th><td>none: the run ended without a final evaluation/);
    assert.ok(!html.includes("index builds"));
    // A baseline: no magnet rule anywhere, not even an empty column or a dash.
    const baseline = sampleData();
    baseline.summary.metrics!.magnetError = null;
    for (const h of baseline.history) if (h.test) h.test.magnetError = null;
    // Baselines keep no cluster index either.
    delete baseline.embedding.centres;
    delete baseline.embedding.centreClasses;
    html = renderReport(baseline);
    assertWellFormed(html);
    assert.ok(!html.includes("magnet-rule error"));
    assert.ok(!html.includes("magnet rule"));
  });

  await t.step("says which model was kept, an early stop, and an index never refreshed", () => {
    const data = sampleData();
    data.summary.kept = { rule: "best", iteration: 600, metric: "magnetError", value: 0.042 };
    data.summary.stoppedEarly = true;
    data.summary.usesIndex = true;
    data.summary.time = { ...data.summary.time, refreshes: { count: 1, secondsEach: 0.25 } };
    const html = renderReport(data);
    const row = (name: string) =>
      first(html, new RegExp(`<th scope="row">${name}</th><td[^>]*>([^<]*)</td>`));
    assert.equal(row("iterations"), "1,000 (stopped early)");
    assert.match(
      html,
      /title="the best on the validation rows, from step 600 \(validation magnet-rule error 4\.20%\)"/,
    );
    assert.equal(row("index builds"), "1 × 250 ms (the first build: never refreshed)");
    // Refreshed: the count alone; a loss without an index has no such row.
    data.summary.time = { ...data.summary.time, refreshes: { count: 4, secondsEach: 0.25 } };
    assert.equal(
      first(renderReport(data), /<th scope="row">index builds<\/th><td>([^<]*)</),
      "4 × 250 ms",
    );
    // Validation evaluations are what figure 2 draws, named as such.
    const validated = sampleData();
    for (const h of validated.history) [h.validation, h.test] = [h.test, undefined];
    const page = renderReport(validated);
    assert.match(page, /<h2>2\. Validation metrics<\/h2>/);
    assert.match(
      caption(page, "error"),
      /The validation set&#39;s scores.*the test rows are measured only once/,
    );
  });

  await t.step("draws a single evaluation as points with their values", () => {
    const html = renderReport(singleEvaluation(sampleData()));
    assertWellFormed(html);
    const svg = first(html, /id="fig-error"(.*?)<\/svg>/s)!;
    // No line to draw from one point; each metric is a large marker with its value beside it.
    assert.ok(!svg.includes('class="ln thick"'));
    assert.equal(count(svg, 'r="4.5"'), 6);
    for (
      const label of [
        "magnet-rule error 5.17%",
        "5-NN error 2.83%",
        "precision@1 95.61%",
        "R-precision 80.12%",
        "MAP@R 70.00%",
        "NMI 0.850",
      ]
    ) {
      assert.match(svg, new RegExp(`<text class="val"[^>]*>${label}</text>`), label);
    }
    // The labels of one panel do not overlap: at least 14 units apart vertically.
    const ys = [...svg.matchAll(/<text class="val" x="([\d.]+)" y="([\d.]+)"/g)]
      .map((m) => [Number(m[1]), Number(m[2])]);
    for (let i = 0; i < ys.length; i++) {
      for (let j = i + 1; j < ys.length; j++) {
        if (Math.abs(ys[i][0] - ys[j][0]) < 1) {
          assert.ok(Math.abs(ys[i][1] - ys[j][1]) >= 13.9, `${ys[i]} and ${ys[j]}`);
        }
      }
    }
    assert.match(caption(html, "error"), /1 evaluation,.*a single point with its value/);
    // A single logged loss is a point with its value too.
    const data = sampleData();
    data.history = [{ iteration: 0, loss: null, seconds: 0 }, {
      iteration: 50,
      loss: 0.25,
      seconds: 1,
    }];
    const loss = first(renderReport(data), /id="fig-loss"(.*?)<\/svg>/s)!;
    assert.match(loss, /<circle[^>]*r="4\.5"/);
    assert.match(loss, /<text class="val"[^>]*>loss 0\.25<\/text>/);
  });

  await t.step("captions every figure with what it shows", () => {
    const html = renderReport(sampleData());
    assert.equal(count(html, "<figcaption>"), 3);
    assert.match(caption(html, "loss"), /^The training loss against the training step/);
    assert.match(caption(html, "error"), /^The test set&#39;s scores at 4 evaluations/);
    assert.match(caption(html, "error"), /magnet rule.*5-NN.*precision@1.*R-precision.*NMI/);
    assert.match(caption(html, "embedding"), /^Projection: PCA/);
    assert.match(html, /<h2>3\. Test embeddings \(PCA\)<\/h2>/);
  });

  await t.step("states the share of variance PCA's two components explain", () => {
    const data = sampleData();
    const html = renderReport(data);
    const m = caption(html, "embedding").match(
      /The two components explain (\d+\.\d)% of the variance \(PC 1 (\d+\.\d)%, PC 2 (\d+\.\d)%\)/,
    );
    assert.ok(m, "variance shares in the caption");
    // The shares are the variances of the projected coordinates over the data's total variance.
    const { points, dim } = data.embedding;
    const n = points.length / dim;
    const variance = (get: (i: number) => number) => {
      let mean = 0, sq = 0;
      for (let i = 0; i < n; i++) mean += get(i) / n;
      for (let i = 0; i < n; i++) sq += (get(i) - mean) ** 2 / n;
      return sq;
    };
    let total = 0;
    for (let j = 0; j < dim; j++) total += variance((i) => points[i * dim + j]);
    const xy = projectTo2d(points, dim).points;
    const pc1 = variance((i) => xy[2 * i]) / total, pc2 = variance((i) => xy[2 * i + 1]) / total;
    assert.equal(m[2], (100 * pc1).toFixed(1));
    assert.equal(m[3], (100 * pc2).toFixed(1));
    assert.ok(Math.abs(Number(m[1]) - 100 * (pc1 + pc2)) < 0.051);
    assert.ok(html.includes(`PC 1 (${(100 * pc1).toFixed(1)}% of variance)`));
  });

  await t.step("escapes every interpolated string", () => {
    const data = sampleData();
    const nasty = '<b>&"';
    data.title = `<script>alert(1)</script> ${nasty}`;
    data.embedding.classNames[1] = nasty;
    data.config = { [nasty]: nasty };
    const html = renderReport(data);
    assertWellFormed(html);
    assert.ok(!html.includes(nasty));
    assert.ok(!html.includes("<script"));
    assert.ok(!html.includes("<b>"));
    assert.ok(html.includes("&lt;b&gt;&amp;&quot;"));
    assert.ok(html.includes("&lt;script&gt;alert(1)&lt;/script&gt;"));
  });

  await t.step("handles an empty history", () => {
    const data = sampleData();
    data.history = [];
    const html = renderReport(data);
    assertWellFormed(html);
    assert.ok(html.includes("No training loss was recorded."));
    assert.ok(html.includes("No test evaluations were recorded."));
  });

  await t.step("handles a history with no test points", () => {
    const data = sampleData();
    data.history = data.history.map(({ test: _test, ...rest }) => rest);
    const html = renderReport(data);
    assertWellFormed(html);
    assert.ok(!html.includes("No training loss was recorded."));
    assert.ok(html.includes("No test evaluations were recorded."));
    assert.ok(!html.includes('<table class="metrics"'));
  });

  await t.step("handles an empty embedding and non-finite values", () => {
    const data = sampleData();
    data.embedding = {
      points: new Float32Array(0),
      dim: 8,
      labels: new Int32Array(0),
      classNames: [],
    };
    assertWellFormed(renderReport(data));
    const broken = sampleData();
    broken.embedding.points[5] = NaN;
    broken.history[3].loss = Infinity;
    broken.history[5].test = { ...broken.history[5].test!, nmi: NaN };
    broken.summary.time = { ...broken.summary.time, seconds: NaN, msPerStep: Infinity };
    broken.summary.metrics!.rPrecision = NaN;
    const html = renderReport(broken);
    assertWellFormed(html);
    assert.equal(count(html, '<circle class="k'), 299);
    assert.equal(first(html, /<th scope="row">R-precision<\/th><td>([^<]*)</), "—");
    assert.equal(
      first(html, /<p class="sub">([^<]*)<\/p>/),
      "Deep metric learning run report · 1,000 iterations",
    );
  });

  await t.step("subsamples large sets deterministically and stays small", () => {
    const data = sampleData({ n: 5000, classes: 20, dim: 16 });
    const html = renderReport(data, { maxPoints: 2000 });
    assert.equal(count(html, '<circle class="k'), 2000);
    assert.equal(renderReport(data, { maxPoints: 2000 }), html);
    assert.ok(html.length < 1.5e6, `${html.length} bytes`);
    assert.match(
      caption(html, "embedding"),
      /one test embedding \(2,000 of 5,000, evenly spaced\)/,
    );
  });

  await t.step("rejects inconsistent embeddings and unknown options", () => {
    const data = sampleData();
    data.embedding.labels = new Int32Array(3);
    assert.throws(() => renderReport(data), MagnetInputError);
    assert.throws(
      () => renderReport(sampleData(), { projection: "tsne" as "pca" }),
      MagnetInputError,
    );
    assert.throws(() => renderReport(sampleData(), { maxPoints: 0 }), MagnetInputError);
  });
});

/** Orthonormal vectors built by Gram-Schmidt from fixed, unrelated starting vectors. */
function orthonormalBasis(dim: number, count: number, rng: Random): Float64Array[] {
  const basis: Float64Array[] = [];
  while (basis.length < count) {
    const v = Float64Array.from({ length: dim }, () => rng.normal());
    for (const b of basis) {
      const dot = v.reduce((s, x, i) => s + x * b[i], 0);
      for (let i = 0; i < dim; i++) v[i] -= dot * b[i];
    }
    const norm = Math.hypot(...v);
    basis.push(v.map((x) => x / norm));
  }
  return basis;
}

Deno.test("projectTo2d", async (t) => {
  await t.step("recovers the dominant directions of an elongated cloud", () => {
    const dim = 6, n = 4000;
    const rng = new Random(5);
    const [u1, u2] = orthonormalBasis(dim, 2, rng);
    const offset = Float64Array.from({ length: dim }, (_, j) => 10 + j);
    const points = new Float32Array(n * dim);
    for (let i = 0; i < n; i++) {
      // Standard deviations 8 and 3 along u1 and u2, 0.3 in every direction.
      const a = 8 * rng.normal(), b = 3 * rng.normal();
      for (let j = 0; j < dim; j++) {
        points[i * dim + j] = offset[j] + a * u1[j] + b * u2[j] + 0.3 * rng.normal();
      }
    }
    // The projection is affine, so projecting o, o + u1 and o + u2 and taking differences gives
    // u1 and u2 in component coordinates: (+-1, 0) and (0, +-1) when the components are right.
    const probes = new Float32Array(3 * dim);
    for (let j = 0; j < dim; j++) {
      probes[j] = offset[j];
      probes[dim + j] = offset[j] + u1[j];
      probes[2 * dim + j] = offset[j] + u2[j];
    }
    const { points: xy, extra } = projectTo2d(points, dim, probes);
    assert.ok(extra);
    const e1 = [extra[2] - extra[0], extra[3] - extra[1]];
    const e2 = [extra[4] - extra[0], extra[5] - extra[1]];
    assert.ok(Math.abs(Math.abs(e1[0]) - 1) < 1e-3, `u1 -> ${e1}`);
    assert.ok(Math.abs(e1[1]) < 1e-2, `u1 -> ${e1}`);
    assert.ok(Math.abs(e2[0]) < 1e-2, `u2 -> ${e2}`);
    assert.ok(Math.abs(Math.abs(e2[1]) - 1) < 1e-3, `u2 -> ${e2}`);
    // The coordinates are centred and carry the two variances, largest first.
    let mx = 0, my = 0, vx = 0, vy = 0;
    for (let i = 0; i < n; i++) [mx, my] = [mx + xy[2 * i] / n, my + xy[2 * i + 1] / n];
    for (let i = 0; i < n; i++) {
      vx += (xy[2 * i] - mx) ** 2 / n;
      vy += (xy[2 * i + 1] - my) ** 2 / n;
    }
    assert.ok(Math.abs(mx) < 1e-3 && Math.abs(my) < 1e-3);
    assert.ok(Math.abs(Math.sqrt(vx) - 8) < 0.5, `sd ${Math.sqrt(vx)}`);
    assert.ok(Math.abs(Math.sqrt(vy) - 3) < 0.2, `sd ${Math.sqrt(vy)}`);
  });

  await t.step("projects extra rows with the same transform as the points", () => {
    const dim = 5, n = 200;
    const rng = new Random(9);
    const points = Float32Array.from({ length: n * dim }, (_, i) => rng.normal() * (1 + (i % dim)));
    // Extra rows that are copies of points 3 and 77 must land exactly where those points do.
    const extra = new Float32Array(2 * dim);
    extra.set(points.subarray(3 * dim, 4 * dim), 0);
    extra.set(points.subarray(77 * dim, 78 * dim), dim);
    const out = projectTo2d(points, dim, extra);
    assert.deepEqual([...out.extra!], [
      ...out.points.subarray(6, 8),
      ...out.points.subarray(154, 156),
    ]);
    // Extra rows do not influence the fit.
    assert.deepEqual(out.points, projectTo2d(points, dim).points);
    assert.equal(projectTo2d(points, dim).extra, null);
  });

  await t.step("places the report's centres with the points' transform", () => {
    // A class with one point and one centre at the same place: the diamond must be centred on the
    // dot (its path starts 7 px above the centre).
    const data = sampleData();
    const dim = data.embedding.dim;
    const centres = new Float32Array(dim);
    const lonely = 10;
    centres.set(data.embedding.points.subarray(lonely * dim, (lonely + 1) * dim));
    data.embedding.labels = data.embedding.labels.map((l, i) => i === lonely ? 7 : l);
    data.embedding.centres = centres;
    data.embedding.centreClasses = Int32Array.of(7);
    data.embedding.classNames[7] = "lonely";
    const html = renderReport(data);
    const dot = html.match(/<circle class="k7" cx="([\d.]+)" cy="([\d.]+)"/);
    const diamond = html.match(/<path class="ctr k7" d="M([\d.]+) ([\d.]+)l7 7/);
    assert.ok(dot && diamond, "dot and diamond of the lonely class");
    assert.equal(Number(diamond[1]), Number(dot[1]));
    assert.ok(Math.abs(Number(diamond[2]) + 7 - Number(dot[2])) < 0.11);
  });

  await t.step("is deterministic and handles degenerate input", () => {
    const rng = new Random(2);
    const points = Float32Array.from({ length: 300 }, () => rng.normal());
    assert.deepEqual(projectTo2d(points, 3), projectTo2d(points, 3));
    // One dimension: the second coordinate is 0.
    const line = projectTo2d(Float32Array.of(1, 2, 3, 4), 1).points;
    assert.deepEqual([...line], [-1.5, 0, -0.5, 0, 0.5, 0, 1.5, 0]);
    // Identical points and no points give zeros and empty output, not NaN.
    assert.deepEqual([...projectTo2d(new Float32Array(6).fill(2), 3).points], [0, 0, 0, 0]);
    assert.equal(projectTo2d(new Float32Array(0), 4).points.length, 0);
    assert.throws(() => projectTo2d(new Float32Array(5), 2), MagnetInputError);
    assert.throws(() => projectTo2d(new Float32Array(4), 0), MagnetInputError);
  });
});

Deno.test("renderReport with UMAP is opt-in and deterministic", async () => {
  await loadUmap();
  const data = sampleData({ n: 200 });
  const html = renderReport(data, { projection: "umap", seed: 3 });
  assertWellFormed(html);
  assert.ok(html.includes("UMAP 1") && html.includes("seed 3"));
  assert.match(html, /<h2>3\. Test embeddings \(UMAP\)<\/h2>/);
  assert.match(caption(html, "embedding"), /^Projection: UMAP \(15 neighbours, seed 3\)/);
  assert.ok(!caption(html, "embedding").includes("variance"));
  assert.equal(count(html, '<circle class="k'), 200);
  assert.equal(count(html, 'class="ctr k'), 12);
  assert.equal(renderReport(data, { projection: "umap", seed: 3 }), html);
  // PCA stays the default after UMAP was loaded.
  assert.match(renderReport(data), /<h2>3\. Test embeddings \(PCA\)<\/h2>/);
  // Too few points for a neighbour graph: the map falls back to PCA and says so.
  const tiny = renderReport(sampleData({ n: 6 }), { projection: "umap", seed: 3 });
  assertWellFormed(tiny);
  assert.match(caption(tiny, "embedding"), /^Projection: PCA \(too few points for UMAP\)/);
  assert.match(caption(tiny, "embedding"), /The two components explain/);
});

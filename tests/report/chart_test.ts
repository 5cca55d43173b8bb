/**
 * The report's building blocks: the SVG chart primitives (axes, series, value labels, legends) and
 * the number formats, each checked on the property the page relies on.
 */
import assert from "node:assert/strict";
import {
  drawLegend,
  drawSeries,
  drawValueLabels,
  equalAxes,
  type Frame,
  linearAxis,
  xPos,
  yPos,
} from "../../src/report/chart.ts";
import {
  formatCount,
  formatNumber,
  formatPercent,
  formatSeconds,
} from "../../src/report/format.ts";

const FRAME: Frame = { left: 50, top: 20, width: 400, height: 200 };

Deno.test("chart axes", async (t) => {
  await t.step("linear ticks are exact and never read -0", () => {
    const a = linearAxis(-0.35, 0.62, 5);
    assert.deepEqual(a.ticks, [-0.4, -0.2, 0, 0.2, 0.4, 0.6, 0.8]);
    assert.deepEqual(a.ticks.map(a.label), ["-0.4", "-0.2", "0.0", "0.2", "0.4", "0.6", "0.8"]);
    assert.ok(a.lo <= -0.35 && a.hi >= 0.62);
    // An empty range is widened, not a division by zero.
    const flat = linearAxis(300, 300, 6);
    assert.ok(flat.hi > flat.lo && flat.lo <= 300 && flat.hi >= 300);
    assert.equal(linearAxis(0, 25000, 5).label(20000), "20k");
  });

  await t.step("equal axes have one length per unit and hold the data", () => {
    const [x, y] = equalAxes(-8.2, 10.5, -2, 3, 8);
    assert.ok(Math.abs((x.hi - x.lo) - (y.hi - y.lo)) < 1e-9, "same span");
    assert.ok(x.lo < -8.2 && x.hi > 10.5 && y.lo < -2 && y.hi > 3);
    // Centred on the data in both directions.
    assert.ok(Math.abs((x.lo + x.hi) / 2 - 1.15) < 1e-9);
    assert.ok(Math.abs((y.lo + y.hi) / 2 - 0.5) < 1e-9);
    // The same tick step on both axes, ticks inside the domain.
    const step = (a: typeof x) => a.ticks[1] - a.ticks[0];
    assert.ok(Math.abs(step(x) - step(y)) < 1e-9);
    for (const a of [x, y]) for (const t of a.ticks) assert.ok(t >= a.lo && t <= a.hi);
    // A square frame then maps a unit to the same number of pixels across and up.
    const f = { left: 0, top: 0, width: 600, height: 600 };
    assert.ok(Math.abs((xPos(f, x, 1) - xPos(f, x, 0)) - (yPos(f, y, 0) - yPos(f, y, 1))) < 1e-9);
    // A single point still gets a domain.
    const [px, py] = equalAxes(2, 2, 2, 2, 8);
    assert.ok(px.hi > px.lo && py.hi > py.lo);
  });
});

Deno.test("chart series and labels", async (t) => {
  const x = linearAxis(0, 100, 5), y = linearAxis(0, 10, 5);
  const options = { xName: "step", format: (v: number) => v.toFixed(1) };

  await t.step("a line of several points has a path and markers with titles", () => {
    const svg = drawSeries(
      [{ label: "a", colour: "#123456", xs: [0, 50, 100], ys: [1, 2, 3] }],
      FRAME,
      x,
      y,
      options,
    );
    assert.equal((svg.match(/<path class="ln thick"/g) ?? []).length, 1);
    assert.equal((svg.match(/<circle /g) ?? []).length, 3);
    assert.ok(svg.includes("<title>step 50: a 2.0</title>"));
    assert.ok(!svg.includes('class="val"'));
  });

  await t.step("a one-point series is a marker with its value, not an empty path", () => {
    const svg = drawSeries(
      [{ label: "a", colour: "#123456", xs: [100], ys: [4] }],
      FRAME,
      x,
      y,
      options,
    );
    assert.ok(!svg.includes("<path"), svg);
    assert.match(svg, /<circle cx="450" cy="140" r="4\.5" fill="#123456">/);
    // At the right edge the value is written to the left of the point.
    assert.match(svg, /<text class="val" x="438" y="144" text-anchor="end">a 4\.0<\/text>/);
  });

  await t.step("labels of coinciding points are spread apart inside the frame", () => {
    const labels = [0, 1, 2, 3].map((i) => ({
      x: 100,
      y: FRAME.top + FRAME.height - 1 - i, // all at the very bottom
      text: `v${i}`,
      colour: "#000",
    }));
    const svg = drawValueLabels(labels, FRAME);
    const ys = [...svg.matchAll(/<text class="val" x="[\d.]+" y="([\d.]+)"/g)].map((m) =>
      Number(m[1]) - 4
    ).sort((a, b) => a - b);
    assert.equal(ys.length, 4);
    for (let i = 1; i < ys.length; i++) assert.ok(ys[i] - ys[i - 1] >= 14 - 1e-9, `${ys}`);
    for (const v of ys) assert.ok(v >= FRAME.top && v <= FRAME.top + FRAME.height, `${v}`);
    // Labels that had to move are tied to their points.
    assert.ok(svg.includes('class="leader"'));
    assert.equal(drawValueLabels([], FRAME), "");
  });

  await t.step("legends wrap before passing their width", () => {
    const entries = ["first entry", "second entry", "third entry"].map((label) => ({
      label,
      colour: "#000",
    }));
    const oneRow = drawLegend(0, 10, entries);
    const rows = (svg: string) =>
      new Set([...svg.matchAll(/<text class="lg" x="[\d.]+" y="([\d.]+)"/g)].map((m) => m[1]));
    assert.equal(rows(oneRow).size, 1);
    const wrapped = drawLegend(0, 10, entries, 240);
    assert.deepEqual([...rows(wrapped)], ["14", "34"]);
    for (const m of wrapped.matchAll(/<text class="lg" x="([\d.]+)"/g)) {
      assert.ok(Number(m[1]) < 240);
    }
  });
});

Deno.test("report number formats", () => {
  assert.equal(formatSeconds(0.0125), "12.5 ms");
  assert.equal(formatSeconds(2.944), "2.94 s");
  assert.equal(formatSeconds(186.2), "3 min 6 s");
  // Rounding carries into the next unit instead of writing "1 min 60 s" or "0 h 60 min".
  assert.equal(formatSeconds(119.7), "2 min 0 s");
  assert.equal(formatSeconds(3599.7), "1 h 0 min");
  assert.equal(formatSeconds(7199), "2 h 0 min");
  assert.equal(formatSeconds(NaN), "—");
  assert.equal(formatPercent(0.0283), "2.83%");
  assert.equal(formatPercent(null), "—");
  assert.equal(formatPercent(Infinity), "—");
  assert.equal(formatCount(1234567), "1,234,567");
  assert.equal(formatCount(600), "600");
  assert.equal(formatNumber(0.016781), "0.01678");
});

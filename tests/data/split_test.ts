import assert from "node:assert/strict";
import fc from "fast-check";
import { MagnetInputError } from "../../src/errors.ts";
import { stratifiedSplit } from "../../src/data/split.ts";

function labelsOf(counts: number[]): Int32Array {
  const labels: number[] = [];
  counts.forEach((count, k) => {
    for (let i = 0; i < count; i++) labels.push(k);
  });
  // Interleave classes so sortedness of the result is not an accident of the input order.
  return Int32Array.from(
    labels.map((l, i) => [l, (i * 7919) % labels.length]).sort((a, b) => a[1] - b[1]).map(([l]) =>
      l
    ),
  );
}

function checkSplit(labels: Int32Array, fraction: number, seed: number): void {
  const { train, test } = stratifiedSplit(labels, fraction, seed);
  // Disjoint, covering and sorted.
  assert.equal(train.length + test.length, labels.length);
  const all = [...train, ...test].sort((a, b) => a - b);
  assert.deepEqual(all, Array.from({ length: labels.length }, (_, i) => i));
  for (const part of [train, test]) {
    for (let i = 1; i < part.length; i++) assert.ok(part[i - 1] < part[i]);
  }
  // Each class's test share is within one row of the fraction, and both parts see the class.
  const total = new Map<number, number>();
  const inTest = new Map<number, number>();
  for (const l of labels) total.set(l, (total.get(l) ?? 0) + 1);
  for (const i of test) inTest.set(labels[i], (inTest.get(labels[i]) ?? 0) + 1);
  for (const [label, count] of total) {
    const k = inTest.get(label) ?? 0;
    if (count === 1) {
      assert.equal(k, 0, `a singleton class goes to train`);
      continue;
    }
    assert.ok(Math.abs(k - fraction * count) <= 1, `class ${label}: ${k} of ${count} in test`);
    assert.ok(k >= 1 && k <= count - 1, `class ${label}: ${k} of ${count} in test`);
  }
}

Deno.test("stratifiedSplit", async (t) => {
  await t.step("stratifies, is disjoint and covers every row", () => {
    const labels = labelsOf([100, 37, 2, 3, 1, 10]);
    for (const fraction of [0.01, 0.2, 0.5, 0.75, 0.99]) {
      for (const seed of [0, 1, 12345]) checkSplit(labels, fraction, seed);
    }
  });

  await t.step("takes round(fraction * count) per class", () => {
    const labels = labelsOf([100, 10, 5]);
    const { test } = stratifiedSplit(labels, 0.25, 7);
    const counts = [0, 0, 0];
    for (const i of test) counts[labels[i]]++;
    assert.deepEqual(counts, [25, 3, 1]); // 2.5 rounds up, 1.25 rounds down
  });

  await t.step("holds for random class sizes, fractions and seeds", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 8 }),
        fc.double({ min: 0.001, max: 0.999, noNaN: true }),
        fc.integer(),
        (counts, fraction, seed) => checkSplit(labelsOf(counts), fraction, seed),
      ),
      { numRuns: 300, seed: 42 },
    );
  });

  await t.step("same seed same split, different seed different split", () => {
    const labels = labelsOf([50, 50, 50]);
    const a = stratifiedSplit(labels, 0.3, 99);
    const b = stratifiedSplit(labels, 0.3, 99);
    assert.deepEqual(a, b);
    const c = stratifiedSplit(labels, 0.3, 100);
    assert.notDeepEqual(a.test, c.test);
  });

  await t.step("does not depend on label values, only on grouping", () => {
    const labels = labelsOf([20, 20]);
    const shifted = labels.map((l) => l * 5 - 3);
    assert.deepEqual(stratifiedSplit(labels, 0.5, 3), stratifiedSplit(shifted, 0.5, 3));
  });

  await t.step("handles empty input and singleton classes", () => {
    const empty = stratifiedSplit(new Int32Array(), 0.5, 1);
    assert.equal(empty.train.length + empty.test.length, 0);
    const singles = stratifiedSplit(Int32Array.from([0, 1, 2]), 0.9, 1);
    assert.deepEqual([...singles.train], [0, 1, 2]);
    assert.equal(singles.test.length, 0);
  });

  await t.step("rejects fractions outside (0, 1)", () => {
    for (const bad of [0, 1, -0.1, 1.5, NaN, Infinity]) {
      assert.throws(
        () => stratifiedSplit(Int32Array.from([0, 0, 1, 1]), bad, 1),
        (e: unknown) =>
          e instanceof MagnetInputError && e.message.includes("between 0 and 1") &&
          e.message.includes(String(bad)),
      );
    }
  });
});

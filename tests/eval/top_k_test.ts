import assert from "node:assert/strict";
import { RADIX_MIN_K, TopK } from "../../src/eval/top_k.ts";
import { Random } from "../../src/util/random.ts";

/** The k smallest by a full sort on (distance, column), NaN as +Infinity. */
function bySorting(row: Float32Array, skip: number, k: number): number[] {
  const key = (d: number) => (Number.isNaN(d) ? Infinity : d);
  return Array.from(row.keys())
    .filter((j) => j !== skip)
    .sort((a, b) => key(row[a]) - key(row[b]) || a - b)
    .slice(0, k);
}

/** Rows that stress the order: ties, signed zeros, negatives, infinities and NaN. */
function awkwardRow(random: Random, n: number): Float32Array {
  const specials = [0, -0, Infinity, NaN, -1.5, 3e38, 1e-45, -Infinity];
  return Float32Array.from({ length: n }, () => {
    const u = random.int(10);
    if (u === 0) return specials[random.int(specials.length)];
    if (u < 5) return random.int(7); // exact ties
    return random.normal() * 10 ** (random.int(9) - 4);
  });
}

Deno.test("TopK: heap and radix select agree with sorting", async (t) => {
  const random = new Random(3);
  for (const n of [1, 2, 70, 1000, 5000]) {
    for (const k of [1, 3, RADIX_MIN_K + 1, Math.floor(n / 2), n - 1, n]) {
      if (k < 1 || k > n) continue;
      await t.step(`n = ${n}, k = ${k}`, () => {
        for (let trial = 0; trial < 3; trial++) {
          // The row sits inside a larger block, as a chunk's rows do.
          const block = awkwardRow(random, n + 5);
          const offset = 5;
          const row = block.subarray(offset);
          const skip = trial === 1 && k < n ? random.int(n) : -1;
          const expected = bySorting(row, skip, k);
          for (const strategy of ["heap", "radix"] as const) {
            const indices = new Int32Array(k + 2).fill(-7);
            const distances = new Float32Array(k + 2);
            new TopK(k, strategy).select(block, offset, n, skip, indices, distances, 1);
            assert.deepEqual([...indices.subarray(1, k + 1)], expected, strategy);
            assert.equal(indices[0], -7, `${strategy} wrote before its place`);
            assert.equal(indices[k + 1], -7, `${strategy} wrote past its place`);
            expected.forEach((j, i) => {
              const d = Number.isNaN(row[j]) ? Infinity : row[j];
              assert.ok(Object.is(distances[1 + i], d) || distances[1 + i] === d, strategy);
            });
          }
        }
      });
    }
  }
});

Deno.test("TopK: one instance serves rows of different widths", () => {
  const random = new Random(4);
  const selector = new TopK(100, "radix");
  for (const n of [5000, 200, 3000]) {
    const row = awkwardRow(random, n);
    const indices = new Int32Array(100);
    selector.select(row, 0, n, -1, indices, new Float32Array(100), 0);
    assert.deepEqual([...indices], bySorting(row, -1, 100));
  }
});

import assert from "node:assert/strict";
import { MagnetInputError } from "../../src/errors.ts";
import { kmeans, kmeansNmi, normalizedMutualInformation } from "../../src/eval/nmi.ts";
import { Random } from "../../src/util/random.ts";

const nmi = (a: number[], b: number[]) =>
  normalizedMutualInformation(Int32Array.from(a), Int32Array.from(b));

function assertNear(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: got ${actual}, expected ${expected}`);
}

Deno.test("normalizedMutualInformation on labelings worked by hand", async (t) => {
  await t.step("identical labelings -> 1", () => {
    assertNear(nmi([0, 0, 1, 1, 2, 2], [0, 0, 1, 1, 2, 2]), 1, "identical");
    assertNear(nmi([0, 1, 2, 3], [0, 1, 2, 3]), 1, "all singletons");
  });

  await t.step("renamed cluster ids -> 1", () => {
    assertNear(nmi([0, 0, 1, 1, 2, 2], [2, 2, 0, 0, 1, 1]), 1, "permutation");
    assertNear(nmi([0, 0, 1, 1, 2, 2], [-7, -7, 40, 40, 3, 3]), 1, "arbitrary values");
  });

  await t.step("independent labelings -> 0", () => {
    // Every cell of the 2 x 2 contingency table holds 1 = (2 * 2) / 4: p_ij = p_i p_j, MI = 0.
    assert.equal(nmi([0, 0, 1, 1], [0, 1, 0, 1]), 0);
    // 3 x 2 with every cell 2: again a product of the marginals.
    assert.equal(
      nmi([0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 2, 2], [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]),
      0,
    );
  });

  await t.step("an asymmetric example", () => {
    // A = 0 0 0 1 1 1, B = 0 0 1 1 2 2 (n = 6). Contingency:
    //          B=0  B=1  B=2
    //   A=0     2    1    0
    //   A=1     0    1    2
    // MI = 2 * (2/6) ln((2/6) / ((1/2)(1/3))) + 2 * (1/6) ln((1/6) / ((1/2)(1/3))) = (2/3) ln 2.
    // H(A) = ln 2, H(B) = ln 3, so NMI = (2/3) ln 2 / ((ln 2 + ln 3) / 2) = (4/3) ln 2 / ln 6
    // = 0.51580374...
    const expected = (4 / 3) * Math.LN2 / Math.log(6);
    assertNear(nmi([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 2, 2]), expected, "A vs B");
    assertNear(nmi([0, 0, 1, 1, 2, 2], [0, 0, 0, 1, 1, 1]), expected, "symmetric");
    assert.ok(Math.abs(expected - 0.5158037429793889) < 1e-12);
  });

  await t.step("single-cluster conventions (as scikit-learn)", () => {
    assert.equal(nmi([3, 3, 3], [1, 1, 1]), 1, "both one cluster: they agree");
    assert.equal(nmi([], []), 1, "no items");
    assert.equal(nmi([3, 3, 3], [0, 1, 2]), 0, "one side carries no information");
    assert.equal(nmi([0, 1, 1], [5, 5, 5]), 0, "the other side");
  });

  await t.step("different lengths are a MagnetInputError", () => {
    assert.throws(() => nmi([0, 1], [0]), MagnetInputError);
  });
});

/** Well separated blobs: class c is centred at 50 * e_c (plus a shared offset) with noise 0.5. */
function blobs(random: Random, classes: number, perClass: number, dim: number) {
  const rows = new Float32Array(classes * perClass * dim);
  const labels = new Int32Array(classes * perClass);
  for (let i = 0; i < classes * perClass; i++) {
    // Interleaved, and labelled with arbitrary values, so nothing depends on row order or ids.
    const c = i % classes;
    labels[i] = 100 - 3 * c;
    for (let d = 0; d < dim; d++) {
      rows[i * dim + d] = (d === c ? 50 : 0) + 7 + 0.5 * random.normal();
    }
  }
  return { rows, labels };
}

Deno.test("kmeans finds obvious clusters", () => {
  // 1-d: {0, 0.5} and {10, 10.5}; whichever centre comes first, the means are 0.25 and 10.25.
  const rows = Float32Array.of(0, 10, 0.5, 10.5);
  const result = kmeans(rows, 1, 2, new Random(1));
  assert.equal(result.assignments[0], result.assignments[2]);
  assert.equal(result.assignments[1], result.assignments[3]);
  assert.notEqual(result.assignments[0], result.assignments[1]);
  assert.deepEqual(Array.from(result.centres).sort((a, b) => a - b), [0.25, 10.25]);
  assertNear(result.inertia, 4 * 0.0625, "inertia");
  assert.throws(() => kmeans(rows, 1, 5, new Random(1)), MagnetInputError);
  assert.throws(() => kmeans(Float32Array.of(0, NaN), 1, 1, new Random(1)), MagnetInputError);
  // Fewer distinct rows than clusters still gives k valid assignments.
  const dup = kmeans(Float32Array.of(1, 1, 1, 2), 1, 3, new Random(2));
  assert.ok(dup.assignments.every((a) => a >= 0 && a < 3));
});

Deno.test("kmeansNmi of well separated blobs is 1", () => {
  const random = new Random(21);
  const { rows, labels } = blobs(random, 10, 40, 16);
  for (const seed of [1, 2, 3]) {
    assertNear(kmeansNmi(rows, 16, labels, seed), 1, `seed ${seed}`);
  }
});

Deno.test("kmeansNmi is reproducible and below 1 for overlapping classes", () => {
  const random = new Random(22);
  const dim = 8, n = 300;
  const rows = Float32Array.from({ length: n * dim }, () => random.normal());
  const labels = Int32Array.from({ length: n }, () => random.int(4));
  const first = kmeansNmi(rows, dim, labels, 5);
  assert.equal(kmeansNmi(rows, dim, labels, 5), first);
  // Labels drawn independently of the rows: the clusters say almost nothing about them.
  assert.ok(first >= 0 && first < 0.1, `NMI ${first}`);
  assert.throws(() => kmeansNmi(rows, dim, labels.subarray(1), 5), MagnetInputError);
});

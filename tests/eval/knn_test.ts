import assert from "node:assert/strict";
import { MagnetInputError } from "../../src/errors.ts";
import { errorRate, knnClassify } from "../../src/eval/knn.ts";
import { nearestNeighbours, type Neighbours } from "../../src/eval/neighbours.ts";
import { Random } from "../../src/util/random.ts";
import { gpuTestOptions, openBackends } from "../helpers/backends.ts";

/** Neighbours written by hand: one row of reference indices per query, nearest first. */
function ranking(rows: number[][]): Neighbours {
  const k = rows[0].length;
  return {
    k,
    indices: Int32Array.from(rows.flat()),
    distances: Float32Array.from(rows.flat().map((_, i) => i % k)),
  };
}

Deno.test("knnClassify votes among the k nearest", async (t) => {
  // Reference labels: 0 1 2 3 4 5 6
  //                   a a b b c c a   (a = 10, b = 20, c = 30)
  const labels = Int32Array.of(10, 10, 20, 20, 30, 30, 10);

  await t.step("plain majority", () => {
    // Query 0: a b b -> b (2 votes). Query 1: c a a c a -> a (3 votes) with k = 5.
    const nn = ranking([[0, 2, 3, 4, 5], [4, 0, 1, 5, 6]]);
    assert.deepEqual(knnClassify(nn, labels, 3), Int32Array.of(20, 10));
    assert.deepEqual(knnClassify(nn, labels, 5), Int32Array.of(20, 10));
  });

  await t.step("k = 1 is the nearest reference's label", () => {
    const nn = ranking([[4, 0, 1], [2, 0, 1]]);
    assert.deepEqual(knnClassify(nn, labels, 1), Int32Array.of(30, 20));
  });

  await t.step("only the first k of a longer ranking vote", () => {
    // c c a a a: with k = 2 the vote is c; with k = 5 it is a.
    const nn = ranking([[4, 5, 0, 1, 6]]);
    assert.deepEqual(knnClassify(nn, labels, 2), Int32Array.of(30));
    assert.deepEqual(knnClassify(nn, labels, 5), Int32Array.of(10));
  });

  await t.step("ties go to the class with the nearest member", () => {
    // a b b a: a and b both have 2 votes; a's nearest member is rank 0, b's is rank 1 -> a, even
    // though b took the lead first at rank 2.
    // b a a b: the mirror image -> b. c b a a: a has 2 votes -> a; with k = 3, c b a is a
    // three-way tie -> c (rank 0).
    const nn = ranking([[0, 2, 3, 1], [2, 0, 1, 3], [4, 2, 0, 6]]);
    assert.deepEqual(knnClassify(nn, labels, 4), Int32Array.of(10, 20, 10));
    assert.deepEqual(knnClassify(nn, labels, 3), Int32Array.of(20, 10, 30));
  });

  await t.step("label values are only names", () => {
    const nn = ranking([[0, 2, 3, 1]]);
    const negative = Int32Array.of(-5, -5, 7, 7, 0, 0, -5);
    assert.deepEqual(knnClassify(nn, negative, 4), Int32Array.of(-5));
  });

  await t.step("bad k or a neighbour without a label is a MagnetInputError", () => {
    const nn = ranking([[0, 1, 2]]);
    assert.throws(() => knnClassify(nn, labels, 0), MagnetInputError);
    assert.throws(() => knnClassify(nn, labels, 4), MagnetInputError);
    assert.throws(() => knnClassify(nn, labels, 2.5), MagnetInputError);
    assert.throws(() => knnClassify(ranking([[0, 9]]), labels, 2), MagnetInputError);
  });
});

Deno.test("errorRate counts the wrong predictions", () => {
  assert.equal(errorRate(Int32Array.of(1, 2, 3, 4), Int32Array.of(1, 2, 3, 4)), 0);
  assert.equal(errorRate(Int32Array.of(1, 2, 3, 4), Int32Array.of(1, 0, 3, 0)), 0.5);
  assert.equal(errorRate(Int32Array.of(0, 0, 0), Int32Array.of(1, 2, 3)), 1);
  assert.throws(() => errorRate(Int32Array.of(1), Int32Array.of(1, 2)), MagnetInputError);
  assert.throws(() => errorRate(new Int32Array(0), new Int32Array(0)), MagnetInputError);
});

Deno.test("kNN classification of searched neighbours", gpuTestOptions, async (t) => {
  // Three tight blobs far apart: leave-one-out kNN is perfect, and a point placed in a blob takes
  // that blob's label.
  const random = new Random(7);
  const dim = 6, perClass = 20, classes = 3;
  const centres = Array.from({ length: classes }, () => Array.from({ length: dim }, () => 0));
  centres.forEach((c, i) => (c[i] = 10));
  const rows = new Float32Array(classes * perClass * dim);
  const labels = new Int32Array(classes * perClass);
  for (let i = 0; i < classes * perClass; i++) {
    labels[i] = i % classes;
    for (let d = 0; d < dim; d++) {
      rows[i * dim + d] = centres[i % classes][d] + 0.3 * random.normal();
    }
  }
  const queries = Float32Array.from(centres.toReversed().flat());
  const backends = await openBackends();
  try {
    for (const backend of backends) {
      await t.step(`${backend.kind}: leave-one-out and new points`, async () => {
        const own = await nearestNeighbours(backend, rows, rows, dim, 5, { excludeSelf: true });
        assert.equal(errorRate(knnClassify(own, labels, 5), labels), 0);
        assert.equal(errorRate(knnClassify(own, labels, 1), labels), 0);
        const fresh = await nearestNeighbours(backend, queries, rows, dim, 7);
        assert.deepEqual(knnClassify(fresh, labels, 7), Int32Array.of(2, 1, 0));
      });
    }
  } finally {
    for (const backend of backends) backend.dispose();
  }
});
